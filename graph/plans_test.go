package graph_test

import (
	"testing"

	"github.com/xtmsyncd/xtmsyncd/graph"
)

// lic builds one licence detail from name/status pairs.
func lic(sku string, plans ...string) graph.LicenseDetail {
	d := graph.LicenseDetail{SkuPartNumber: sku}
	for i := 0; i+1 < len(plans); i += 2 {
		d.ServicePlans = append(d.ServicePlans, graph.ServicePlan{ServicePlanName: plans[i], ProvisioningStatus: plans[i+1]})
	}
	return d
}

func TestHasServicePlan(t *testing.T) {
	t2t := []string{"T2TMBXMOVE", "CROSSTENANTUSERDATAMIGRATION"}
	cases := []struct {
		name    string
		details []graph.LicenseDetail
		subs    []string
		want    string
		ok      bool
	}{
		{"t2t plan", []graph.LicenseDetail{lic("Cross_tenant_user_data_migration", "EXCHANGEONLINE_T2TMBXMOVE", "Success", "SHAREPOINTONLINE_T2TODMOVE", "Success")}, t2t, "EXCHANGEONLINE_T2TMBXMOVE", true},
		{"variant spelling", []graph.LicenseDetail{lic("X", "CrossTenantUserDataMigration", "PendingActivation")}, t2t, "CrossTenantUserDataMigration", true},
		{"lower-case plan", []graph.LicenseDetail{lic("X", "exchangeonline_t2tmbxmove", "Success")}, t2t, "exchangeonline_t2tmbxmove", true},
		{"disabled ignored", []graph.LicenseDetail{lic("X", "EXCHANGEONLINE_T2TMBXMOVE", "Disabled")}, t2t, "", false},
		{"disabled lower-case ignored", []graph.LicenseDetail{lic("X", "EXCHANGEONLINE_T2TMBXMOVE", "disabled")}, t2t, "", false},
		{"disabled then enabled", []graph.LicenseDetail{lic("A", "EXCHANGEONLINE_T2TMBXMOVE", "Disabled"), lic("B", "EXCHANGEONLINE_T2TMBXMOVE", "Success")}, t2t, "EXCHANGEONLINE_T2TMBXMOVE", true},
		{"only sharepoint move", []graph.LicenseDetail{lic("X", "SHAREPOINTONLINE_T2TODMOVE", "Success")}, t2t, "", false},
		{"exchange plan", []graph.LicenseDetail{lic("ENTERPRISEPACK", "EXCHANGE_S_ENTERPRISE", "Success", "SHAREPOINTENTERPRISE", "Success")}, []string{"EXCHANGE_S_"}, "EXCHANGE_S_ENTERPRISE", true},
		{"t2t not in E3", []graph.LicenseDetail{lic("ENTERPRISEPACK", "EXCHANGE_S_ENTERPRISE", "Success")}, t2t, "", false},
		{"empty substring ignored", []graph.LicenseDetail{lic("X", "ANYTHING", "Success")}, []string{""}, "", false},
		{"no licences", nil, t2t, "", false},
	}
	for _, c := range cases {
		got, ok := graph.HasServicePlan(c.details, c.subs)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: HasServicePlan = %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}

func TestExchangePlan(t *testing.T) {
	const id = "efb87545-963c-4e0d-99df-69c6916d9eb0"
	cases := []struct {
		name string
		u    graph.User
		want string
		ok   bool
	}{
		{"assigned enabled", graph.User{AssignedPlans: []graph.AssignedPlan{{Service: "exchange", ServicePlanID: id, CapabilityStatus: "Enabled"}}}, "assigned exchange plan " + id + " (Enabled)", true},
		{"assigned warning, service case", graph.User{AssignedPlans: []graph.AssignedPlan{{Service: "Exchange", ServicePlanID: id, CapabilityStatus: "Warning"}}}, "assigned exchange plan " + id + " (Warning)", true},
		{"assigned deleted", graph.User{AssignedPlans: []graph.AssignedPlan{{Service: "exchange", ServicePlanID: id, CapabilityStatus: "Deleted"}}}, "", false},
		{"assigned suspended", graph.User{AssignedPlans: []graph.AssignedPlan{{Service: "exchange", ServicePlanID: id, CapabilityStatus: "Suspended"}}}, "", false},
		{"other service", graph.User{AssignedPlans: []graph.AssignedPlan{{Service: "SharePoint", ServicePlanID: id, CapabilityStatus: "Enabled"}}}, "", false},
		{"provisioned success", graph.User{ProvisionedPlans: []graph.ProvisionedPlan{{Service: "exchange", CapabilityStatus: "Enabled", ProvisioningStatus: "Success"}}}, "provisioned exchange plan (Success)", true},
		{"provisioned pending", graph.User{ProvisionedPlans: []graph.ProvisionedPlan{{Service: "exchange", ProvisioningStatus: "PendingActivation"}}}, "provisioned exchange plan (PendingActivation)", true},
		{"provisioned error", graph.User{ProvisionedPlans: []graph.ProvisionedPlan{{Service: "exchange", CapabilityStatus: "Enabled", ProvisioningStatus: "Error"}}}, "", false},
		{"provisioned deleted capability", graph.User{ProvisionedPlans: []graph.ProvisionedPlan{{Service: "exchange", CapabilityStatus: "Deleted", ProvisioningStatus: "Success"}}}, "", false},
		{"assigned preferred", graph.User{
			AssignedPlans:    []graph.AssignedPlan{{Service: "exchange", ServicePlanID: id, CapabilityStatus: "Enabled"}},
			ProvisionedPlans: []graph.ProvisionedPlan{{Service: "exchange", ProvisioningStatus: "Success"}}}, "assigned exchange plan " + id + " (Enabled)", true},
		{"none", graph.User{}, "", false},
	}
	for _, c := range cases {
		got, ok := graph.ExchangePlan(c.u)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: ExchangePlan = %q, %v; want %q, %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
