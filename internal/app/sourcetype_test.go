package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/batch"
	"github.com/xtmsyncd/xtmsyncd/cutover"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/internal/app"
	"github.com/xtmsyncd/xtmsyncd/internal/synth"
	"github.com/xtmsyncd/xtmsyncd/mapper"
	"github.com/xtmsyncd/xtmsyncd/plan"
	"github.com/xtmsyncd/xtmsyncd/readiness"
)

// dropAttr removes one attribute from an add request.
func dropAttr(r *ldap.AddRequest, name string) {
	r.Attributes = slices.DeleteFunc(r.Attributes, func(a ldap.Attribute) bool { return strings.EqualFold(a.Type, name) })
}

// Issue 16, rule 1 "only Exchange Online mailboxes move", on the real forests: a scope group
// holding an on-premises mailbox, a MailUser and an object with no recipient type gives three
// invalid sources (each with its own reason), three blocked validate entries with their own
// check, no target object and no batch row; the remote mailbox beside them is prepared,
// ready and batched.
func TestSourceType_OnlyExchangeOnlineMailboxesMove(t *testing.T) {
	const (
		onPrem = iota
		mailUser
		noType
		remote
		n
	)
	w, o := hostileSource(t, n, func(o synth.Options, reqs []*ldap.AddRequest) {
		setAttr(reqs[onPrem], "msExchRecipientTypeDetails", "1")
		setAttr(reqs[onPrem], "msExchRecipientDisplayType", "0")
		dropAttr(reqs[onPrem], "msExchRemoteRecipientType")
		setAttr(reqs[mailUser], "msExchRecipientTypeDetails", "128")
		setAttr(reqs[mailUser], "msExchRecipientDisplayType", "6")
		dropAttr(reqs[mailUser], "msExchRemoteRecipientType")
		dropAttr(reqs[noType], "msExchRecipientTypeDetails")
	})
	want := map[int]struct{ reason, check string }{
		onPrem:   {mapper.CodeOnPremMailbox, readiness.SourceOnPremMbx},
		mailUser: {mapper.CodeMailUserSource, readiness.SourceNotMailbox},
		noType:   {mapper.CodeNoRecipientType, readiness.SourceTypeUnknown},
	}
	p, res := w.sync(t)
	if p.Summary.Invalid != 3 || p.Summary.Create != 1 || res.Applied != 1 {
		t.Fatalf("plan %+v, applied %d; want 3 invalid and 1 create applied", p.Summary, res.Applied)
	}
	for i, wnt := range want {
		var c *plan.Change
		for k := range p.Changes {
			if strings.EqualFold(p.Changes[k].Source, o.UserDN(i)) {
				c = &p.Changes[k]
			}
		}
		if c == nil || c.Action != plan.Invalid || c.Reason != wnt.reason || c.Problems[0].Attribute != directory.AttrRecipientTypeDetails || c.Problems[0].Fix == "" {
			t.Errorf("%s: %+v, want invalid %s naming msExchRecipientTypeDetails with a fix", o.Alias(i), c, wnt.reason)
		}
	}
	// Nothing in the target for the three: the OU holds the remote mailbox's MailUser alone.
	sr, err := w.tgt.Conn.Search(ldap.NewSearchRequest(w.cfg.Target.OU, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=user)", []string{"mailNickname"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(sr.Entries) != 1 || sr.Entries[0].GetAttributeValue("mailNickname") != o.Alias(remote) {
		t.Errorf("target OU holds %d objects, want only %s's MailUser", len(sr.Entries), o.Alias(remote))
	}

	rep := validate(t, w)
	if rep.Summary.Blocked != 3 || rep.Summary.Ready != 1 {
		t.Errorf("validate summary %+v, want 3 blocked and 1 ready", rep.Summary)
	}
	byDN := map[string]readiness.Result{}
	for _, m := range rep.Mailboxes {
		byDN[strings.ToLower(m.Source)] = m
	}
	for i, wnt := range want {
		m := byDN[strings.ToLower(o.UserDN(i))]
		if m.Verdict != readiness.Blocked || len(m.Findings) == 0 || m.Findings[0].Check != wnt.check {
			t.Errorf("%s: %s %+v, want blocked by %s", o.Alias(i), m.Verdict, m.Findings, wnt.check)
		}
	}
	b, err := app.Batches(rep, 100, true)
	if err != nil {
		t.Fatal(err)
	}
	var batched []string
	for _, bt := range b.Batches {
		for _, mb := range bt.Members {
			batched = append(batched, strings.ToLower(mb.ID))
		}
	}
	if !slices.Equal(batched, []string{strings.ToLower(o.UserDN(remote))}) {
		t.Errorf("batched %v, want only %s (warnings included)", batched, o.UserDN(remote))
	}
	for i := range want {
		if !slices.ContainsFunc(b.Excluded, func(x batch.Excluded) bool { return strings.EqualFold(x.ID, o.UserDN(i)) && x.Reason != "" }) {
			t.Errorf("%s is not listed as left out with a reason", o.Alias(i))
		}
	}
}

// Issue 16, rule 2: the target gets exactly the litigation hold (8) and single item recovery
// (16) bits of the source's msExchELCMailboxFlags: 18 on the source gives 16 on the target, and
// once the source has neither bit the target's value is cleared.
func TestSync_ELCFlagsStampOnlyLitigationHoldAndSingleItemRecovery(t *testing.T) {
	w, o := hostileSource(t, 1, func(o synth.Options, reqs []*ldap.AddRequest) {
		setAttr(reqs[0], "msExchELCMailboxFlags", "18")
	})
	elc := func() []string {
		t.Helper()
		sr, err := w.tgt.Conn.Search(ldap.NewSearchRequest(w.cfg.Target.OU, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(mailNickname="+ldap.EscapeFilter(o.Alias(0))+")", []string{"msExchELCMailboxFlags"}, nil))
		if err != nil || len(sr.Entries) != 1 {
			t.Fatalf("target MailUser of %s: %v (%d found)", o.Alias(0), err, len(sr.Entries))
		}
		return sr.Entries[0].GetAttributeValues("msExchELCMailboxFlags")
	}
	w.sync(t)
	if got := elc(); !slices.Equal(got, []string{"16"}) {
		t.Fatalf("target msExchELCMailboxFlags %v from the source's 18, want [16]", got)
	}
	for _, step := range []struct {
		name string
		edit func(*ldap.ModifyRequest)
		want []string
	}{
		{"source gains litigation hold (26)", func(r *ldap.ModifyRequest) { r.Replace("msExchELCMailboxFlags", []string{"26"}) }, []string{"24"}},
		{"source keeps only ElcV2 (2)", func(r *ldap.ModifyRequest) { r.Replace("msExchELCMailboxFlags", []string{"2"}) }, nil},
		{"source has SIR again (16)", func(r *ldap.ModifyRequest) { r.Replace("msExchELCMailboxFlags", []string{"16"}) }, []string{"16"}},
		{"source loses the attribute", func(r *ldap.ModifyRequest) { r.Delete("msExchELCMailboxFlags", nil) }, nil},
	} {
		modify(t, w.src, o.UserDN(0), step.edit)
		p, _ := w.sync(t)
		if got := elc(); !slices.Equal(got, step.want) {
			t.Errorf("%s: target msExchELCMailboxFlags %v, want %v (plan %+v)", step.name, got, step.want, p.Summary)
		}
		if _, p2 := w.plan(t); p2.Summary.Update != 0 {
			t.Errorf("%s: the next plan still updates %d objects", step.name, p2.Summary.Update)
		}
	}
}

// Rule 1 and a finished move: with cutover.convert_source_to_mailuser, cutover makes the source
// remote mailbox a MailUser. While its target is the remote mailbox the move made, that source
// MailUser is migrated (plan unchanged, validate migrated, in no batch), not an invalid source.
func TestSourceType_ConvertedSourceOfAFinishedMoveIsMigrated(t *testing.T) {
	w, o := synthetic(t, 2)
	w.cfg.Cutover.ConvertSourceToMailUser = true
	w.sync(t)
	csvPath := filepath.Join(t.TempDir(), "moves.csv")
	csv := "\"Identity\",\"Alias\",\"ExchangeGuid\",\"EmailAddress\",\"Status\"\r\n" +
		fmt.Sprintf("\"%s\",\"%s\",\"%s\",\"\",\"Completed\"\r\n", o.Alias(0), o.Alias(0), o.GUID("mbx", 0))
	if err := os.WriteFile(csvPath, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	cp, err := w.rig(t).PlanCutover(context.Background(), cutover.CSVFile(csvPath))
	if err != nil {
		t.Fatal(err)
	}
	if res := w.apply(t, "cutover", 0, cp); res.Failed != 0 || res.Applied != 2 {
		t.Fatalf("cutover applied %d, failed %d; want both forests written", res.Applied, res.Failed)
	}
	if typ := read(t, w.src, o.UserDN(0)).GetAttributeValue("msExchRecipientTypeDetails"); typ != "128" {
		t.Fatalf("the converted source has type %s, want 128 (the fixture of this test)", typ)
	}
	_, p := w.plan(t)
	for _, c := range p.Changes {
		moved := strings.EqualFold(c.Source, o.UserDN(0))
		if moved && (c.Action != plan.Unchanged || c.Reason != "migrated") || !moved && c.Action != plan.Unchanged {
			t.Errorf("%s: %s %s", c.Source, c.Action, c.Reason)
		}
	}
	rep := validate(t, w)
	if rep.Summary.Migrated != 1 || rep.Summary.Ready != 1 || rep.Summary.Blocked != 0 {
		t.Errorf("validate %+v, want 1 migrated and 1 ready", rep.Summary)
	}
}
