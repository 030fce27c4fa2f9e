package main

import (
	"context"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/ldapwire"
)

// drift changes displayName on every user in ou, so that the next sync has an update for each,
// and returns how long the modifies took. It is also a yardstick: the same attribute on the
// same objects, a real change each time (the run before restored the planned value), sent by
// the fastest client this project has (ldapwire) over conns connections with no re-read and no
// journal. The ratio of a run to the drift just before it does not move when the directory
// gets slower or faster over minutes.
func drift(ctx context.Context, cfg *config.Directory, c *ldap.Conn, ou string, conns int) time.Duration {
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(ou, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=user)", []string{"1.1"}, nil), 1000)
	check(err)
	ws := make([]*ldapwire.Conn, conns)
	for i := range ws {
		ws[i], err = ldapwire.Dial(ctx, cfg)
		check(err)
		defer ws[i].Close()
	}
	t0 := time.Now()
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() {
			for j := i; j < len(res.Entries); j += conns {
				m := ldap.NewModifyRequest(res.Entries[j].DN, nil)
				m.Replace("displayName", []string{"drifted"})
				check(w.Modify(m))
			}
		})
	}
	wg.Wait()
	return time.Since(t0)
}
