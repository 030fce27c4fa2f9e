package graph

import "testing"

func TestMailboxPlan(t *testing.T) {
	lic := func(sku string, plans ...ServicePlan) []LicenseDetail {
		return []LicenseDetail{{SkuPartNumber: sku, ServicePlans: plans}}
	}
	for _, tc := range []struct {
		name    string
		details []LicenseDetail
		want    bool
	}{
		{"E3 mailbox plan", lic("SPE_E3", ServicePlan{ServicePlanName: "EXCHANGE_S_ENTERPRISE", ProvisioningStatus: "Success"}), true},
		{"kiosk plan", lic("DESKLESSPACK", ServicePlan{ServicePlanName: "EXCHANGE_S_DESKLESS", ProvisioningStatus: "PendingProvisioning"}), true},
		{"disabled plan", lic("SPE_E3", ServicePlan{ServicePlanName: "EXCHANGE_S_ENTERPRISE", ProvisioningStatus: "Disabled"}), false},
		{"foundation only", lic("POWER_BI", ServicePlan{ServicePlanName: "EXCHANGE_S_FOUNDATION", ProvisioningStatus: "Success"}), false},
		{"the cross-tenant move licence", lic("Cross_tenant_user_data_migration",
			ServicePlan{ServicePlanName: "EXCHANGEONLINE_T2TMBXMOVE", ProvisioningStatus: "Success"}), false},
		{"none", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := MailboxPlan(tc.details, []string{"T2TMBXMOVE"}); got != tc.want {
				t.Errorf("MailboxPlan = %v, want %v", got, tc.want)
			}
		})
	}
}
