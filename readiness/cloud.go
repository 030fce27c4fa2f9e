package readiness

import (
	"fmt"
	"strings"

	"github.com/xtmsyncd/xtmsyncd/directory"
)

// CloudUser is what a tenant said about one user (read through Microsoft Graph by the caller).
type CloudUser struct {
	Asked        bool   // the tenant was asked about this user
	Found        bool   // the user exists there
	Err          string // asking failed (throttled, forbidden, ...): the checks say so
	Synced       bool   // onPremisesSyncEnabled
	Proxies      []string
	ExchangePlan string // an Exchange Online plan assigned or provisioned ("" none)
	HasMailbox   bool
	T2TPlan      string // the Cross Tenant User Data Migration service plan found ("" none)
}

// Cloud is what the tenants said, keyed by the lower-case source DN.
type Cloud struct {
	Target map[string]CloudUser
	Source map[string]CloudUser
	// TargetProxies are the proxyAddresses the target AD object holds (what AADC should carry).
	TargetProxies map[string][]string
	// Scope are findings on the scope group (cloud membership versus on-premises).
	Scope []Finding
}

// ApplyCloud adds the tenant findings to the report and recomputes verdicts and the table.
func ApplyCloud(r *Report, c *Cloud) {
	r.Scope = append(r.Scope, c.Scope...)
	for i := range r.Mailboxes {
		m := &r.Mailboxes[i]
		if m.Verdict == Migrated {
			continue // it has moved: the target having a mailbox is the point, not a finding
		}
		k := strings.ToLower(m.Source)
		add := func(id string, sev Severity, attr, expected, actual, fix string) {
			m.Findings = append(m.Findings, Finding{Check: id, Severity: sev, Object: m.Source, Attribute: attr,
				Expected: expected, Actual: actual, Fix: fix})
		}
		if t, ok := c.Target[k]; ok && t.Asked && m.TargetDN != "" {
			cloudTarget(m, t, c.TargetProxies[k], add)
		}
		if s, ok := c.Source[k]; ok && s.Asked && m.Kind == string(directory.KindUser) {
			t := c.Target[k]
			switch {
			case s.Err != "" || t.Err != "":
				add(CloudT2T, Warning, "licenseDetails", "a service plan containing T2TMBXMOVE", "not checked: "+s.Err+t.Err,
					"the tenant could not be asked; check the app's permissions and re-run")
			case s.T2TPlan == "" && t.T2TPlan == "":
				add(CloudT2T, Error, "licenseDetails", "Cross Tenant User Data Migration on the source or the target user", "on neither",
					"assign the Cross Tenant User Data Migration licence to the source or the target user (one per migration); without it the move stalls")
			}
		}
	}
	viaGraph := map[string]bool{CloudSynced: true, CloudEXOLicense: true, CloudT2T: true}
	if len(c.Scope) > 0 || c.Source != nil {
		viaGraph[CloudScope] = true
	}
	r.summarize(viaGraph)
}

func cloudTarget(m *Result, t CloudUser, adProxies []string, add func(id string, sev Severity, attr, expected, actual, fix string)) {
	switch {
	case t.Err != "":
		add(CloudSynced, Warning, "", "the target tenant's user", "not checked: "+t.Err, "the tenant could not be asked; check the app's permissions and re-run")
		return
	case !t.Found:
		add(CloudSynced, Error, "userPrincipalName", "a synced MailUser in the target tenant", "not found",
			"Azure AD Connect has not exported the MailUser yet: check that target.ou is in its sync scope and run a delta sync")
		return
	case !t.Synced:
		add(CloudSynced, Error, "onPremisesSyncEnabled", "true", "false (a cloud-only object)",
			"the target user is cloud-only: the move needs the MailUser synced from the target AD; soft-match or remove the cloud object")
		return
	}
	cloud := map[string]bool{}
	for _, p := range t.Proxies {
		cloud[directory.Proxy(p).Key()] = true
	}
	var missing []string
	for _, p := range adProxies {
		if !cloud[directory.Proxy(p).Key()] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		add(CloudSynced, Error, "proxyAddresses", "what the target AD holds", "missing in the tenant: "+strings.Join(missing, "; "),
			"the tenant does not hold the addresses yet: run an Azure AD Connect delta sync, then check the export errors")
	}
	if t.ExchangePlan != "" && !t.HasMailbox {
		add(CloudEXOLicense, Error, "assignedPlans", "no Exchange Online plan before the move", t.ExchangePlan,
			"a new mailbox will be provisioned: remove the Exchange Online licence from the target user until the move completes")
	}
	if t.HasMailbox {
		add(CloudEXOLicense, Error, "mailbox", "a MailUser", fmt.Sprintf("a mailbox exists (%s)", orAbsent(t.ExchangePlan)),
			"the target user already has a mailbox: the move cannot create it; remove it (and its licence) first")
	}
}
