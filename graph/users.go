package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AssignedPlan is an entry of user.assignedPlans.
type AssignedPlan struct {
	Service          string    `json:"service"`
	ServicePlanID    string    `json:"servicePlanId"`
	CapabilityStatus string    `json:"capabilityStatus"`
	AssignedDateTime time.Time `json:"assignedDateTime"`
}

// ProvisionedPlan is an entry of user.provisionedPlans.
type ProvisionedPlan struct {
	Service            string `json:"service"`
	CapabilityStatus   string `json:"capabilityStatus"`
	ProvisioningStatus string `json:"provisioningStatus"`
}

// User holds the properties of a Graph user that xtmsyncd reads (see
// UserSelect). Graph does not expose ExchangeGuid, ArchiveGuid,
// LegacyExchangeDN or targetAddress; those need Exchange Online.
type User struct {
	ID                          string            `json:"id"`
	UserPrincipalName           string            `json:"userPrincipalName"`
	Mail                        string            `json:"mail"`
	MailNickname                string            `json:"mailNickname"`
	ProxyAddresses              []string          `json:"proxyAddresses"`
	OnPremisesSyncEnabled       *bool             `json:"onPremisesSyncEnabled"`
	OnPremisesImmutableID       string            `json:"onPremisesImmutableId"`
	OnPremisesDistinguishedName string            `json:"onPremisesDistinguishedName"`
	AssignedPlans               []AssignedPlan    `json:"assignedPlans"`
	ProvisionedPlans            []ProvisionedPlan `json:"provisionedPlans"`
}

// ServicePlan is a service plan of a licenceDetails entry.
type ServicePlan struct {
	ServicePlanID      string `json:"servicePlanId,omitempty"`
	ServicePlanName    string `json:"servicePlanName"`
	ProvisioningStatus string `json:"provisioningStatus"`
	AppliesTo          string `json:"appliesTo,omitempty"`
}

// LicenseDetail is an entry of /users/{id}/licenseDetails.
type LicenseDetail struct {
	SkuID         string        `json:"skuId,omitempty"`
	SkuPartNumber string        `json:"skuPartNumber"`
	ServicePlans  []ServicePlan `json:"servicePlans"`
}

// UserSelect is the $select list used by User and Users.
var UserSelect = []string{
	"id", "userPrincipalName", "mail", "mailNickname", "proxyAddresses",
	"onPremisesSyncEnabled", "onPremisesImmutableId", "onPremisesDistinguishedName",
	"assignedPlans", "provisionedPlans",
}

// maxTop is the largest $top Graph accepts for users and members.
const maxTop = "999"

// MailboxNotEnabledCode is the Graph error code of a 404 on
// /users/{id}/mailboxSettings for a user without an Exchange Online
// mailbox (none, inactive, soft-deleted or hosted on-premises).
const MailboxNotEnabledCode = "MailboxNotEnabledForRESTAPI"

// checkID rejects an empty id or UPN.
func checkID(what, id string) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("graph: empty %s: %w", what, ErrInvalidArgument)
	}
	return nil
}

// User returns one user by object id or UPN (GET /users/{id}?$select=...).
// The id is path-escaped, so UPNs with #, ', / or % work. A 404 yields an
// *Error matching ErrNotFound.
func (c *Client) User(ctx context.Context, idOrUPN string) (User, error) {
	if err := checkID("user id or UPN", idOrUPN); err != nil {
		return User{}, err
	}
	var u User
	err := c.getJSON(ctx, c.endpoint([]string{"users", idOrUPN},
		param{"$select", strings.Join(UserSelect, ",")}), &u)
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// Users lists users matching the OData filter (empty: all users), 999 per
// page, following @odata.nextLink, and calls fn for each. It stops and
// returns fn's error unchanged if fn fails.
func (c *Client) Users(ctx context.Context, filter string, fn func(User) error) error {
	params := []param{{"$select", strings.Join(UserSelect, ",")}}
	if filter != "" {
		params = append(params, param{"$filter", filter})
	}
	params = append(params, param{"$top", maxTop})
	return walk(ctx, c, c.endpoint([]string{"users"}, params...), fn)
}

// LicenseDetails returns the licence details (SKUs and their service
// plans) of a user (GET /users/{id}/licenseDetails, all pages).
func (c *Client) LicenseDetails(ctx context.Context, userID string) ([]LicenseDetail, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	var out []LicenseDetail
	err := walk(ctx, c, c.endpoint([]string{"users", userID, "licenseDetails"}),
		func(d LicenseDetail) error { out = append(out, d); return nil })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HasMailbox reports whether the user has an Exchange Online mailbox, by
// GET /users/{id}/mailboxSettings: 200 means yes; 404 with code
// MailboxNotEnabledForRESTAPI means no (false, nil); any other 404 (such as
// Request_ResourceNotFound for an unknown user) is an error matching
// ErrNotFound. It needs the MailboxSettings.Read application permission.
func (c *Client) HasMailbox(ctx context.Context, userID string) (bool, error) {
	if err := checkID("user id", userID); err != nil {
		return false, err
	}
	_, _, err := c.get(ctx, c.endpoint([]string{"users", userID, "mailboxSettings"}))
	if err != nil {
		var ge *Error
		if errors.As(err, &ge) && ge.Status == 404 && strings.EqualFold(ge.Code, MailboxNotEnabledCode) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}
