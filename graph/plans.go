package graph

import (
	"fmt"
	"strings"
)

// HasServicePlan looks for a service plan, in any licence, whose
// ServicePlanName contains one of substrings (case-insensitive) and whose
// ProvisioningStatus is not "Disabled". It returns the first matching plan
// name. Empty substrings are ignored. For the Cross Tenant User Data
// Migration licence pass []string{"T2TMBXMOVE"}: its service plan is seen
// as EXCHANGEONLINE_T2TMBXMOVE, and matching the plan rather than one
// SkuPartNumber survives renamed SKUs.
func HasServicePlan(details []LicenseDetail, substrings []string) (string, bool) {
	for _, d := range details {
		for _, p := range d.ServicePlans {
			if strings.EqualFold(p.ProvisioningStatus, "Disabled") {
				continue
			}
			name := strings.ToUpper(p.ServicePlanName)
			for _, s := range substrings {
				if s != "" && strings.Contains(name, strings.ToUpper(s)) {
					return p.ServicePlanName, true
				}
			}
		}
	}
	return "", false
}

// ExchangePlan reports whether the user has an Exchange plan: an assigned
// plan with service "exchange" whose capabilityStatus is Enabled or Warning,
// or else a provisioned plan with service "exchange" whose
// provisioningStatus is Success, PendingActivation, PendingProvisioning or
// PendingInput (and whose capabilityStatus, if set, is Enabled or
// Warning). It returns a description such as
// "assigned exchange plan <servicePlanId> (Enabled)".
//
// This is a signal, not proof of a mailbox: plans such as
// EXCHANGE_S_FOUNDATION or the T2T move plan also carry service
// "exchange". Use HasMailbox for the mailbox itself.
func ExchangePlan(u User) (string, bool) {
	for _, p := range u.AssignedPlans {
		if strings.EqualFold(p.Service, "exchange") && activeCapability(p.CapabilityStatus) {
			return fmt.Sprintf("assigned exchange plan %s (%s)", p.ServicePlanID, p.CapabilityStatus), true
		}
	}
	for _, p := range u.ProvisionedPlans {
		if !strings.EqualFold(p.Service, "exchange") {
			continue
		}
		if p.CapabilityStatus != "" && !activeCapability(p.CapabilityStatus) {
			continue
		}
		switch strings.ToLower(p.ProvisioningStatus) {
		case "success", "pendingactivation", "pendingprovisioning", "pendinginput":
			return fmt.Sprintf("provisioned exchange plan (%s)", p.ProvisioningStatus), true
		}
	}
	return "", false
}

// activeCapability reports whether a capabilityStatus counts as active.
func activeCapability(s string) bool {
	return strings.EqualFold(s, "Enabled") || strings.EqualFold(s, "Warning")
}

// MailboxPlan finds, in a user's licences, an Exchange Online service plan that provisions a
// mailbox (EXCHANGE_S_*, EXCHANGEONLINE_*), leaving out the plans that do not: Exchange
// Foundation and the plans matching except (the cross-tenant move licence's T2TMBXMOVE). The
// assignedPlans service "exchange" alone cannot tell these apart.
func MailboxPlan(details []LicenseDetail, except []string) (string, bool) {
	for _, d := range details {
	plans:
		for _, p := range d.ServicePlans {
			name := strings.ToUpper(p.ServicePlanName)
			if strings.EqualFold(p.ProvisioningStatus, "Disabled") || strings.Contains(name, "FOUNDATION") {
				continue
			}
			for _, x := range except {
				if x != "" && strings.Contains(name, strings.ToUpper(x)) {
					continue plans
				}
			}
			if strings.HasPrefix(name, "EXCHANGE_S_") || strings.HasPrefix(name, "EXCHANGEONLINE") || strings.HasPrefix(name, "EXCHANGE_L_") {
				return p.ServicePlanName + " (" + d.SkuPartNumber + ")", true
			}
		}
	}
	return "", false
}
