package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/mapper"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

var streamRules = mapper.Rules{
	SourceRoutingDomain: "contoso.mail.onmicrosoft.com", SourceDomains: []string{"contoso.com"},
	TargetPrimaryDomain: "northwind.com", TargetDeliveryDomain: "northwind.mail.onmicrosoft.com",
	TargetUPNSuffix: "northwind.com", AcceptedDomains: []string{"northwind.com", "northwind.mail.onmicrosoft.com"},
	DisplayType: -2147483642, OwnerAttr: "extensionAttribute15", OwnerValue: "xtmsyncd",
}

const streamOU = "OU=Cross-Tenant,DC=northwind,DC=test"

func streamMailbox(i int) directory.Mailbox {
	a := fmt.Sprintf("u%03d", i)
	var g directory.GUID
	g[0], g[15] = byte(i), 9
	return directory.Mailbox{DN: "CN=" + a + ",OU=Staff,DC=contoso,DC=test", Alias: a, CN: a, MailboxGUID: g.AD(),
		LegacyExchangeDN: "/o=Contoso/cn=Recipients/cn=" + a, TypeDetails: directory.TypeRemoteUserMailbox, HasTypeDetails: true,
		Proxies: []directory.Proxy{directory.SMTP(a+"@contoso.com", true), directory.SMTP(a+"@contoso.mail.onmicrosoft.com", false)}}
}

// streamMailUser is the MailUser an earlier sync made for mailbox i.
func streamMailUser(t *testing.T, i int) *directory.Entry {
	m := streamMailbox(i)
	d, p := mapper.One(&m, streamRules)
	if p != nil {
		t.Fatalf("fixture: %+v", p)
	}
	e := &directory.Entry{DN: "CN=" + d.CN + "," + streamOU, Attrs: map[string][]string{"sAMAccountName": {d.SAMBase}}}
	for k, v := range d.Attrs {
		if len(v) > 0 {
			e.Attrs[k] = v
		}
	}
	return e
}

// streamSource hands mailboxes over one at a time, after start is closed (or right away).
type streamSource struct {
	n     int
	start <-chan struct{}
	err   error
}

func (s streamSource) Scope(context.Context) (*directory.Scope, error) {
	return nil, errors.New("Scope called on a streaming source")
}

func (s streamSource) EachMailbox(ctx context.Context, fn func(*directory.Mailbox) error) (*directory.Scope, error) {
	if s.start != nil {
		select {
		case <-s.start:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if s.err != nil {
		return nil, s.err
	}
	for i := range s.n {
		m := streamMailbox(i)
		if err := fn(&m); err != nil {
			return nil, err
		}
	}
	return &directory.Scope{}, nil
}

// streamTarget hands its objects over one at a time and reports each one before it does.
type streamTarget struct {
	fakeTarget
	entries   []*directory.Entry
	delivered chan int
}

func (s *streamTarget) EachEntry(ctx context.Context, fn func(*directory.Entry) error) error {
	for i, e := range s.entries {
		select { // "about to hand over object i+1"
		case s.delivered <- i + 1:
		default:
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	close(s.delivered)
	return nil
}

// The target read runs alongside the source read until it holds HoldBudget bytes, then waits
// for the source; the plan is the same as if everything had been read first.
func TestPlan_TargetReadPausesAtTheHoldBudget(t *testing.T) {
	const n = 20
	tg := &streamTarget{delivered: make(chan int, 1)}
	for i := range n {
		tg.entries = append(tg.entries, streamMailUser(t, i))
	}
	start := make(chan struct{})
	e := &engine.Engine{Source: streamSource{n: n, start: start}, Target: tg, Rules: streamRules, HoldBudget: 1,
		Diff: plan.Options{OU: streamOU, Anchor: "mailNickname", OwnerAttr: streamRules.OwnerAttr, OwnerValue: streamRules.OwnerValue}}
	done := make(chan struct{})
	var p *plan.Plan
	var err error
	go func() { defer close(done); p, err = e.Plan(context.Background()) }()

	// The first object already exceeds a 1-byte budget: the read must stop after it.
	if got := <-tg.delivered; got != 1 {
		t.Fatalf("first delivery reported %d", got)
	}
	select {
	case got := <-tg.delivered:
		t.Fatalf("the target read went on to object %d while the source was not read", got)
	case <-time.After(100 * time.Millisecond):
	}
	close(start)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Plan did not finish once the source was read")
	}
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if p.Summary.Unchanged != n || len(p.Changes) != n {
		t.Errorf("summary %+v, want %d unchanged", p.Summary, n)
	}
}

// A source that fails while the target read waits for it releases the wait: no hang, the
// source's error.
func TestPlan_SourceErrorReleasesAWaitingTargetRead(t *testing.T) {
	tg := &streamTarget{delivered: make(chan int, 1)}
	for i := range 5 {
		tg.entries = append(tg.entries, streamMailUser(t, i))
	}
	start := make(chan struct{})
	boom := errors.New("source dropped the connection")
	e := &engine.Engine{Source: streamSource{start: start, err: boom}, Target: tg, Rules: streamRules, HoldBudget: 1,
		Diff: plan.Options{OU: streamOU}}
	done := make(chan error, 1)
	go func() { _, err := e.Plan(context.Background()); done <- err }()
	<-tg.delivered
	close(start)
	select {
	case err := <-done:
		if !errors.Is(err, boom) {
			t.Errorf("Plan error %v, want the source's", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Plan hung with the target read waiting")
	}
}

// Without the streaming interfaces (Scope and Entries lists) the plan is the same.
func TestPlan_ListSourcesAndTargetsStillWork(t *testing.T) {
	var ms []directory.Mailbox
	var es []*directory.Entry
	for i := range 3 {
		ms = append(ms, streamMailbox(i))
		es = append(es, streamMailUser(t, i))
	}
	es[1].Attrs["displayName"] = []string{"drifted"}
	e := &engine.Engine{Source: fakeSource{scope: &directory.Scope{Mailboxes: ms}}, Target: &listTarget{entries: es}, Rules: streamRules,
		Diff: plan.Options{OU: streamOU, Anchor: "mailNickname", OwnerAttr: streamRules.OwnerAttr, OwnerValue: streamRules.OwnerValue}}
	p, err := e.Plan(context.Background())
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	if p.Summary.Update != 1 || p.Summary.Unchanged != 2 {
		t.Errorf("summary %+v, want 1 update and 2 unchanged", p.Summary)
	}
}

type listTarget struct {
	fakeTarget
	entries []*directory.Entry
}

func (l *listTarget) Entries(context.Context) ([]*directory.Entry, error) { return l.entries, nil }
