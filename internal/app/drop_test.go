package app_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/internal/ldaptest"
	"github.com/xtmsyncd/xtmsyncd/journal"
)

// The target DC drops every connection mid-sync: every write that was started has its outcome
// in the journal (nothing left pending), the journal matches the directory, the error says what
// happened, and the next sync, with the DC back, finishes the job without writing anything twice.
func TestSync_ServerDropsMidRun(t *testing.T) {
	w, _ := synthetic(t, 40)
	proxy := ldaptest.NewProxy(t, w.tgt)
	w.cfg.Target.URL = proxy.Config(w.tgt).URL

	r, p := w.plan(t)
	var once sync.Once
	r.Engine.Progress = func(done, total int) {
		if done >= 8 {
			once.Do(proxy.Kill)
		}
	}
	res, err := r.Engine.Apply(context.Background(), engine.RunInfo{Kind: "sync"}, p, engine.Options{})
	if !errors.Is(err, directory.ErrConnection) || res.Applied+res.Failed+res.NotTried != 40 {
		t.Fatalf("apply with the DC gone: %+v, %v; want one run-level connection error", res, err)
	}
	changes, _ := w.j.Changes(context.Background(), res.RunID)
	applied, unknown := 0, 0
	for _, c := range changes {
		switch {
		case c.Status == journal.StatusPending:
			t.Errorf("change %d %s left pending", c.ID, c.DN)
		case c.Status == journal.StatusApplied:
			applied++
		case strings.Contains(c.Error, "outcome unknown"):
			unknown++ // in flight when the connection dropped: said so, not claimed failed
		default:
			t.Logf("failed: %s", c.Error)
		}
	}
	if applied != res.Applied || res.Applied+res.Failed+res.NotTried != 40 {
		t.Errorf("journal %d applied; result %+v", applied, res)
	}
	count := func() int {
		res, err := w.tgt.Conn.Search(ldap.NewSearchRequest(w.cfg.Target.OU, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=user)", []string{"1.1"}, nil))
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Entries)
	}
	written := count()
	if written < applied || written > applied+unknown || unknown > w.cfg.Target.Connections {
		t.Errorf("%d objects in the target OU: %d creates journaled as applied, %d of unknown outcome", written, applied, unknown)
	}

	proxy.Revive()
	_, res2 := w.sync(t)
	if res2.Applied != 40-written || count() != 40 {
		t.Errorf("second sync applied %d (want %d); %d objects", res2.Applied, 40-written, count())
	}
}
