package graph

import (
	"context"
	"fmt"
	"strings"
)

// Member is a direct member of a group.
type Member struct {
	// Type is the lower-cased type from "@odata.type"
	// ("#microsoft.graph.user" → "user", "group", "orgcontact",
	// "serviceprincipal", "device", ...); empty if Graph sent none.
	Type              string
	ID                string
	UserPrincipalName string
	Mail              string
	DisplayName       string
}

// memberJSON is the wire form of a member directoryObject.
type memberJSON struct {
	ODataType         string `json:"@odata.type"`
	ID                string `json:"id"`
	UserPrincipalName string `json:"userPrincipalName"`
	Mail              string `json:"mail"`
	DisplayName       string `json:"displayName"`
}

// MemberType maps an "@odata.type" value to Member.Type.
func MemberType(odataType string) string {
	t := strings.TrimPrefix(odataType, "#")
	if i := strings.LastIndexByte(t, '.'); i >= 0 {
		t = t[i+1:]
	}
	return strings.ToLower(t)
}

// GroupByMail returns the id of the group whose mail is mail
// (GET /groups?$filter=mail eq '...'&$select=id). No group yields an error
// matching ErrNotFound, several one matching ErrAmbiguous.
func (c *Client) GroupByMail(ctx context.Context, mail string) (string, error) {
	if err := checkID("group mail", mail); err != nil {
		return "", err
	}
	var ids []string
	err := walk(ctx, c, c.endpoint([]string{"groups"},
		param{"$filter", "mail eq " + QuoteOData(mail)}, param{"$select", "id"}),
		func(g struct {
			ID string `json:"id"`
		}) error {
			ids = append(ids, g.ID)
			return nil
		})
	if err != nil {
		return "", err
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("graph: group with mail %s: %w", mail, ErrNotFound)
	case 1:
		return ids[0], nil
	default:
		return "", fmt.Errorf("graph: %d groups with mail %s: %w", len(ids), mail, ErrAmbiguous)
	}
}

// GroupMembers returns the direct members of a group (GET
// /groups/{id}/members, all pages). Nested groups appear with Type "group";
// they are not expanded.
func (c *Client) GroupMembers(ctx context.Context, groupID string) ([]Member, error) {
	if err := checkID("group id", groupID); err != nil {
		return nil, err
	}
	var out []Member
	err := walk(ctx, c, c.endpoint([]string{"groups", groupID, "members"},
		param{"$select", "id,userPrincipalName,mail,displayName"}, param{"$top", maxTop}),
		func(m memberJSON) error {
			out = append(out, Member{
				Type: MemberType(m.ODataType), ID: m.ID, UserPrincipalName: m.UserPrincipalName,
				Mail: m.Mail, DisplayName: m.DisplayName,
			})
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}
