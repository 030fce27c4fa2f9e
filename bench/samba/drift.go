//go:build linux

package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/ldapconn"
)

// drift changes displayName on every user in ou, so that the next sync has an update for each,
// and returns how long the modifies took. It is also a yardstick: the same attribute on the
// same objects, a real change each time (the run before restored the planned value), sent through
// the same go-ldap connections xtmsyncd writes with, over conns connections with no re-read and no
// journal. The ratio of a run to the drift just before it does not move when the directory
// gets slower or faster over minutes.
//
// Each object drifts to a value of its own, as real drift does. displayName is indexed
// (searchFlags 5), and when every object drifted to one value, the index record of that value
// held up to N objectGUIDs: each modify of the drift and of the run after it rewrote that
// record, which made every update cost Samba more, by an amount that moved from run to run.
func drift(ctx context.Context, cfg *config.Directory, c *ldap.Conn, ou string, conns int) time.Duration {
	drifts++
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(ou, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", []string{"1.1"}, nil), 1000)
	check(err)
	ws := make([]*ldap.Conn, conns)
	for i := range ws {
		ws[i], err = ldapconn.Dial(ctx, cfg)
		check(err)
		defer ws[i].Close()
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() {
			for j := i; j < len(res.Entries); j += conns {
				m := ldap.NewModifyRequest(res.Entries[j].DN, nil)
				m.Replace("displayName", []string{fmt.Sprintf("drifted %d %d", drifts, j)})
				check(w.Modify(m))
			}
		})
	}
	wg.Wait()
	return time.Since(t0)
}

// drifts counts the drifts of this process, so that each one writes new values.
var drifts int
