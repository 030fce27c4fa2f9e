package readiness

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/ldapsrc"
	"github.com/xtmsyncd/xtmsyncd/mapper"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// FormatVersion of the JSON report.
const FormatVersion = "1"

// Finding is one failed check on one object.
type Finding struct {
	Check     string   `json:"check"`
	Severity  Severity `json:"severity"`
	Object    string   `json:"object"`
	Attribute string   `json:"attribute,omitempty"`
	Expected  string   `json:"expected,omitempty"`
	Actual    string   `json:"actual,omitempty"`
	Fix       string   `json:"fix"`
}

// Link is a delegation from or to another source mailbox.
type Link struct {
	DN   string `json:"dn"`
	Kind string `json:"kind"` // publicDelegates or msExchDelegateListLink
}

// Result is the verdict on one source mailbox.
type Result struct {
	Source        string    `json:"source_dn"`
	Alias         string    `json:"alias"`
	ExchangeGUID  string    `json:"exchange_guid,omitempty"`
	Kind          string    `json:"kind"`
	TargetDN      string    `json:"target_dn,omitempty"`
	TargetAddress string    `json:"target_address,omitempty"`
	Verdict       Verdict   `json:"verdict"`
	Findings      []Finding `json:"findings,omitempty"`
	Links         []Link    `json:"links,omitempty"`
}

// CheckSummary counts the mailboxes that failed one check.
type CheckSummary struct {
	Check
	Failed int    `json:"failed"`
	Status string `json:"status"` // "checked" or "not checked from on-premises"
}

// Summary counts verdicts.
type Summary struct {
	Total   int `json:"total"`
	Ready   int `json:"ready"`
	Warning int `json:"warning"`
	Blocked int `json:"blocked"`
	// Migrated mailboxes have already moved; Total = Ready + Warning + Blocked + Migrated.
	Migrated int `json:"migrated"`
}

// Report is the whole validation.
type Report struct {
	FormatVersion string         `json:"format_version"`
	GeneratedAt   time.Time      `json:"generated_at"`
	Summary       Summary        `json:"summary"`
	Checks        []CheckSummary `json:"checks"`
	Scope         []Finding      `json:"scope_findings,omitempty"`
	Mailboxes     []Result       `json:"mailboxes"`
}

// Input is what Evaluate judges.
type Input struct {
	Scope  *directory.Scope // from ldapsrc.Reader.Candidates
	Group  string           // the configured scope group DN ("" if none)
	Rules  mapper.Rules
	Plan   *plan.Plan                  // plan.Build over Scope.Mailboxes and Target
	Target map[string]*directory.Entry // target objects by lower-case DN
	Now    time.Time
}

// Evaluate judges every candidate mailbox.
func Evaluate(in Input) *Report {
	r := &Report{FormatVersion: FormatVersion, GeneratedAt: in.Now.UTC()}
	changes := make(map[string]*plan.Change, len(in.Plan.Changes))
	for i := range in.Plan.Changes {
		changes[strings.ToLower(in.Plan.Changes[i].Source)] = &in.Plan.Changes[i]
	}
	leftOut := map[string][]plan.Warning{} // source values the plan leaves out, by source DN
	for _, w := range in.Plan.Warnings {
		if w.Code == "proxy_left_out" {
			leftOut[strings.ToLower(w.Object)] = append(leftOut[strings.ToLower(w.Object)], w)
		}
	}
	for _, g := range in.Scope.NestedGroups {
		r.Scope = append(r.Scope, Finding{Check: ScopeNestedGroup, Severity: Warning, Object: g.DN, Attribute: directory.AttrMember,
			Actual: fmt.Sprintf("nested in %s with %d members", in.Group, len(g.Members)),
			Fix:    "the move service does not expand nested groups: add the mailboxes to the scope group directly and remove the nested group"})
	}
	for _, ref := range in.Scope.Referrals {
		r.Scope = append(r.Scope, Finding{Check: ScopeReferral, Severity: Warning, Object: ref, Attribute: "",
			Actual: "continuation reference not followed",
			Fix:    "mailboxes in that domain are not read: give that domain a configuration of its own (its DCs, its base_dn), or narrow source.base_dn"})
	}
	for _, dn := range in.Scope.Elsewhere {
		r.Scope = append(r.Scope, Finding{Check: ScopeReferral, Severity: Warning, Object: dn, Attribute: directory.AttrMember,
			Actual: "a direct member of " + in.Group + " outside source.base_dn (another domain): not read",
			Fix:    "the move service will see it in scope, xtmsyncd cannot prepare it: give that domain a configuration of its own (its DCs, its base_dn)"})
	}
	for i := range in.Scope.Mailboxes {
		m := &in.Scope.Mailboxes[i]
		res := evaluateOne(m, changes[strings.ToLower(m.DN)], leftOut[strings.ToLower(m.DN)], in)
		r.Mailboxes = append(r.Mailboxes, res)
	}
	slices.SortFunc(r.Mailboxes, func(a, b Result) int {
		return strings.Compare(strings.ToLower(a.Source), strings.ToLower(b.Source))
	})
	r.summarize(nil)
	return r
}

func evaluateOne(m *directory.Mailbox, c *plan.Change, leftOut []plan.Warning, in Input) Result {
	res := Result{Source: m.DN, Alias: m.Alias, Kind: string(directory.KindOfRecipient(m.TypeDetails))}
	if g, err := directory.GUIDFromAD(m.MailboxGUID); err == nil && !g.IsZero() {
		res.ExchangeGUID = g.String()
	}
	for _, dn := range m.PublicDelegates {
		res.Links = append(res.Links, Link{DN: dn, Kind: directory.AttrPublicDelegates})
	}
	for _, dn := range m.DelegateListLink {
		res.Links = append(res.Links, Link{DN: dn, Kind: directory.AttrDelegateListLink})
	}
	if isMigrated(c) {
		return migrated(res, c, in)
	}
	add := func(id, attr, expected, actual, fix string) {
		res.Findings = append(res.Findings, Finding{Check: id, Severity: Lookup(id).Severity, Object: m.DN,
			Attribute: attr, Expected: expected, Actual: actual, Fix: fix})
	}
	scopeFindings(m, in.Group, add)
	holdFindings(m, add)
	cloudLegacyFindings(m, add)
	for _, w := range leftOut {
		add(SourceProxyLeftOut, w.Attribute, "a well-formed address", w.Found, w.Fix)
	}
	if c != nil {
		targetFindings(m, c, in, &res, add)
	}
	res.Verdict = verdictOf(res.Findings)
	return res
}

// isMigrated reports whether the plan found the mailbox already moved.
func isMigrated(c *plan.Change) bool {
	return c != nil && c.Action == plan.Unchanged && c.Reason == plan.ReasonMigrated
}

// migrated is the verdict on a mailbox that has already moved: no findings (the checks are
// about preparing a move that is done), the target object it became.
func migrated(res Result, c *plan.Change, in Input) Result {
	res.Verdict = Migrated
	res.TargetDN = c.DN
	if e := in.Target[strings.ToLower(c.DN)]; e != nil {
		res.TargetAddress = e.First(directory.AttrMail)
	}
	return res
}

// verdictOf is blocked with any error finding, warning with only warnings, else ready.
func verdictOf(fs []Finding) Verdict {
	v := Ready
	for _, f := range fs {
		if f.Severity == Error {
			return Blocked
		}
		v = Warn
	}
	return v
}

func scopeFindings(m *directory.Mailbox, group string, add func(id, attr, expected, actual, fix string)) {
	switch m.Scope {
	case ldapsrc.ScopeNone:
		add(ScopeNotMember, directory.AttrMemberOf, "direct member of "+group, "not a member",
			"add the mailbox to the scope group named in the source organization relationship (MailboxMovePublishedScopes), else the move fails with MailboxNotInCrossTenantMigrationScopeException")
	case ldapsrc.ScopeNested:
		add(ScopeNestedOnly, directory.AttrMemberOf, "direct member of "+group, "member only through a nested group",
			"add the mailbox to the scope group directly: the move service does not expand nested groups")
	}
}

// cloudLegacyPrefix starts the LegacyExchangeDN of a mailbox created in (or moved to)
// Exchange Online.
const cloudLegacyPrefix = "/o=ExchangeLabs/"

// cloudLegacyFindings: a remote mailbox's own LegacyExchangeDN is the cloud one
// (/o=ExchangeLabs/...), which reaches the on-premises AD only as an x500 written back by Azure
// AD Connect's Exchange hybrid write-back. Without it the target misses the x500 that replies to
// mail sent before the move need (article: every source x500 on the target).
func cloudLegacyFindings(m *directory.Mailbox, add func(id, attr, expected, actual, fix string)) {
	if !directory.IsRemoteMailbox(m.TypeDetails) || hasPrefixFold(m.LegacyExchangeDN, cloudLegacyPrefix) {
		return
	}
	for _, p := range m.Proxies {
		if p.Type() == "x500" && hasPrefixFold(p.Address(), cloudLegacyPrefix) {
			return
		}
	}
	add(SourceCloudLegacy, directory.AttrProxyAddresses, "X500:"+cloudLegacyPrefix+"...", "no /o=ExchangeLabs x500 on the source object",
		"the target would lack the x500 of the mailbox's cloud LegacyExchangeDN, and replies to old mail would bounce (5.1.1 NDR): enable Exchange hybrid write-back in the source's Azure AD Connect (it writes that x500 back) and run a sync cycle, or read it in the source tenant (Get-Mailbox <alias> | select LegacyExchangeDN) and add x500:<value> to the source object (Set-RemoteMailbox -EmailAddresses @{add=...}); then sync again")
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func holdFindings(m *directory.Mailbox, add func(id, attr, expected, actual, fix string)) {
	if flags, _ := strconv.ParseInt(m.ELCMailboxFlags, 10, 64); flags&directory.ELCLitigationHold != 0 {
		actual := fmt.Sprintf("%d (litigation hold bit set)", flags)
		if m.LitigationHoldDate != "" {
			actual += ", held since " + m.LitigationHoldDate
		}
		add(SourceLitHold, directory.AttrELCMailboxFlags, "litigation hold bit (8) clear", actual,
			"mailboxes on any type of hold aren't migrated: release the hold in the source tenant (Set-Mailbox -LitigationHoldEnabled $false) once legal agrees, or leave this mailbox out")
	}
	if len(m.UserHoldPolicies) > 0 {
		add(SourceHoldPolicies, directory.AttrUserHoldPolicies, "none", strings.Join(m.UserHoldPolicies, "; "),
			"the source tenant holds this mailbox (retention or eDiscovery hold written back by Azure AD Connect): remove it from the hold's scope, or leave it out")
	}
}

func targetFindings(m *directory.Mailbox, c *plan.Change, in Input, res *Result, add func(id, attr, expected, actual, fix string)) {
	const runSync = "run xtmsyncd sync --confirm, then let Azure AD Connect export it"
	switch c.Action {
	case plan.Invalid:
		for _, p := range c.Problems {
			id := SourceInvalid
			switch p.Code {
			case "no_exchange_guid", "bad_exchange_guid":
				id = SourceNoGUID
			case "duplicate_exchange_guid":
				id = SourceDuplicate
			case mapper.CodeOnPremMailbox:
				id = SourceOnPremMbx
			case mapper.CodeMailUserSource, mapper.CodeNotAMailbox:
				id = SourceNotMailbox
			case mapper.CodeNoRecipientType, mapper.CodeUnknownType:
				id = SourceTypeUnknown
			}
			add(id, p.Attribute, "", p.Found, p.Fix)
		}
		return
	case plan.Conflict:
		res.TargetDN = c.DN
		for _, p := range c.Problems {
			id := TargetConflict
			switch p.Code {
			case "guid_mismatch":
				id = TargetExchangeGUID
			case "onprem_mailbox":
				id = TargetIsMailbox
			}
			add(id, p.Attribute, "", p.Code+": "+p.Found, p.Fix)
		}
		return
	case plan.Create:
		add(TargetNotCreated, "", "a MailUser in "+in.Plan.Target, "absent", runSync)
		return
	}
	res.TargetDN = c.DN
	e := in.Target[strings.ToLower(c.DN)]
	if e == nil {
		add(TargetNotCreated, "", c.DN, "not found", runSync)
		return
	}
	res.TargetAddress = e.First(directory.AttrMail)
	checkTarget(m, e, c, in.Rules, add)
}

// summarize recomputes the verdict counts and the table by check; checks named in viaGraph
// were answered by the tenants.
func (r *Report) summarize(viaGraph map[string]bool) {
	r.Summary = Summary{}
	r.Checks = r.Checks[:0]
	failed := map[string]int{}
	for i := range r.Mailboxes {
		res := &r.Mailboxes[i]
		if res.Verdict != Migrated {
			res.Verdict = verdictOf(res.Findings)
		}
		r.Summary.Total++
		switch res.Verdict {
		case Migrated:
			r.Summary.Migrated++
		case Ready:
			r.Summary.Ready++
		case Warn:
			r.Summary.Warning++
		case Blocked:
			r.Summary.Blocked++
		}
		seen := map[string]bool{}
		for _, f := range res.Findings {
			if !seen[f.Check] {
				seen[f.Check] = true
				failed[f.Check]++
			}
		}
	}
	for _, f := range r.Scope {
		failed[f.Check]++
	}
	for _, c := range Catalogue {
		s := CheckSummary{Check: c, Failed: failed[c.ID], Status: "checked"}
		switch {
		case viaGraph[c.ID]:
			s.Status = "checked (Microsoft Graph)"
		case !c.OnPrem:
			s.Status = "not checked from on-premises"
		}
		r.Checks = append(r.Checks, s)
	}
}
