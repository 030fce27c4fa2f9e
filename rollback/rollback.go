// Package rollback plans the inverse of a journaled run, by identity: a change is undone only
// on the object the run wrote (the objectGUID the journal recorded) and only while that object
// still holds the run's after-values; objects changed since, objects that are another's, and
// writes whose outcome was never proven are refused and reported. Objects the run created are
// deleted only when owned and unchanged since. Settle (evidence.go) is how recovery proves,
// from the directory, whether a write with no known outcome happened. It is pure: the caller
// reads the journal and the objects as they are now.
package rollback

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/mapper"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// Change is one journaled change of the run being rolled back (as the journal stores it).
type Change struct {
	ID         int64
	Key        string
	DN         string
	Forest     string
	Action     string
	Status     string // the journal's: only "applied" is undone
	ObjectGUID string // the object the run wrote, as the journal recorded it
	IntentAt   time.Time
	Attrs      []plan.AttrChange
}

// Options: how owned objects are recognised.
type Options struct {
	OwnerAttr  string
	OwnerValue string
}

// Now returns the object at dn in forest as it is now, or nil when it is gone.
type Now func(forest, dn string) *directory.Entry

// Plan inverts the applied changes of run, newest first. A change whose outcome is still not
// known (pending or unknown: recovery could not reach the directory, or the directory could
// not prove the write) is never undone: it is listed as a conflict saying so. Failed and
// not-applied changes wrote nothing and are left out.
func Plan(run int64, changes []Change, now Now, o Options) *plan.Plan {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Kind: "rollback", Source: fmt.Sprintf("journal run %d", run)}
	for i := len(changes) - 1; i >= 0; i-- {
		c := changes[i]
		forest := c.Forest
		if forest == "" {
			forest = plan.ForestTarget
		}
		switch c.Status {
		case Happened:
			p.Changes = append(p.Changes, invert(c, forest, now(forest, c.DN), o))
		case "pending", Unproven:
			p.Changes = append(p.Changes, plan.Change{Key: c.Key, Source: fmt.Sprintf("journal change %d", c.ID), DN: c.DN, Forest: forest,
				Action: plan.Conflict, Reason: "outcome_not_known", Problems: []mapper.Problem{{Code: "outcome_not_known", Object: c.DN,
					Found: "the journal has no proven outcome for this " + c.Action + " (status " + c.Status + ")",
					Fix:   "it is not undone; check the object by hand (xtmsyncd journal show " + fmt.Sprint(run) + " shows what the run meant to write)"}}})
		}
	}
	for _, c := range p.Changes {
		p.Summary.Add(c.Action)
	}
	return p
}

func invert(c Change, forest string, cur *directory.Entry, o Options) plan.Change {
	out := plan.Change{Key: c.Key, Source: fmt.Sprintf("journal change %d", c.ID), DN: c.DN, Forest: forest}
	refuse := func(attr, found, fix string) plan.Change {
		out.Action, out.Reason, out.Attrs = plan.Conflict, "changed_since", nil
		out.Problems = []mapper.Problem{{Code: out.Reason, Object: c.DN, Attribute: attr, Found: found, Fix: fix}}
		return out
	}
	if cur == nil {
		return refuse("", "the object no longer exists", "nothing to roll back for this object")
	}
	if !cur.ObjectGUID.IsZero() {
		out.ObjectGUID = cur.ObjectGUID.String()
	}
	if c.ObjectGUID == "" {
		out.Action, out.Reason = plan.Conflict, "identity_unknown"
		out.ObjectGUID = ""
		out.Problems = []mapper.Problem{{Code: out.Reason, Object: c.DN, Attribute: directory.AttrObjectGUID,
			Found: "the journal holds no objectGUID for this " + c.Action + ", so nothing proves the object now at the DN is the one the run wrote",
			Fix:   "it is not undone; compare the object with the journal (xtmsyncd journal show) and undo it by hand if it is the run's"}}
		return out
	}
	if !strings.EqualFold(out.ObjectGUID, c.ObjectGUID) {
		out.Action, out.Reason = plan.Conflict, "not_the_same_object"
		out.Problems = []mapper.Problem{{Code: out.Reason, Object: c.DN, Attribute: directory.AttrObjectGUID,
			Found: fmt.Sprintf("objectGUID %s; the run wrote %s", out.ObjectGUID, c.ObjectGUID),
			Fix:   "the object at the DN is another one (re-created since): it is not touched"}}
		return out
	}
	switch plan.Action(c.Action) {
	case plan.Create:
		if forest == plan.ForestTarget && !strings.EqualFold(cur.First(o.OwnerAttr), o.OwnerValue) {
			return refuse(o.OwnerAttr, fmt.Sprintf("%q", cur.First(o.OwnerAttr)), "the object is no longer marked as xtmsyncd's: it is not deleted")
		}
		for _, a := range c.Attrs {
			if strings.EqualFold(a.Name, directory.AttrObjectClass) {
				continue // AD adds the superclasses
			}
			if !sameSet(a.Name, cur.Get(a.Name), a.After) {
				return refuse(a.Name, fmt.Sprintf("%q, created as %q", cur.Get(a.Name), a.After),
					"the object changed after the run created it: it is not deleted; delete it by hand if that is right")
			}
			out.Attrs = append(out.Attrs, plan.AttrChange{Name: a.Name, Before: slices.Clone(cur.Get(a.Name))})
		}
		out.Action = plan.Delete
		return out
	case plan.Update:
		for _, a := range c.Attrs {
			have := cur.Get(a.Name)
			if a.Incremental() {
				// values compare case-insensitively, as AD does; but a primary flip deletes smtp:x and
				// adds SMTP:x, so a deleted value that the run also added (in another case) is not "back"
				added := map[string]bool{}
				for _, v := range a.Add {
					added[strings.ToLower(v)] = true
					if !containsFold(have, v) {
						return refuse(a.Name, fmt.Sprintf("%q is gone", v), "the object changed after the run: restore it by hand from the journal (xtmsyncd journal show)")
					}
				}
				for _, v := range a.Delete {
					if !added[strings.ToLower(v)] && containsFold(have, v) {
						return refuse(a.Name, fmt.Sprintf("%q is back", v), "the object changed after the run: restore it by hand from the journal (xtmsyncd journal show)")
					}
				}
				out.Attrs = append(out.Attrs, plan.AttrChange{Name: a.Name, Before: slices.Clone(have),
					Add: slices.Clone(a.Delete), Delete: slices.Clone(a.Add)})
				continue
			}
			if !sameSet(a.Name, have, a.After) {
				return refuse(a.Name, fmt.Sprintf("%q, the run wrote %q", have, a.After),
					"the object changed after the run: restore it by hand from the journal (xtmsyncd journal show)")
			}
			out.Attrs = append(out.Attrs, plan.AttrChange{Name: a.Name, Before: slices.Clone(have), After: slices.Clone(a.Before)})
		}
		slices.SortFunc(out.Attrs, func(x, y plan.AttrChange) int {
			return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name))
		})
		out.Action = plan.Update
		if len(out.Attrs) == 0 {
			out.Action = plan.Unchanged
		}
		return out
	}
	return refuse("", "a "+c.Action+" change", "xtmsyncd cannot undo a "+c.Action+"; restore the object from the journal by hand")
}

func containsFold(vs []string, v string) bool {
	return slices.ContainsFunc(vs, func(x string) bool { return strings.EqualFold(x, v) })
}

func sameSet(attr string, a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	binary := directory.KindOf(attr) == directory.KindBinary
	norm := func(v []string) []string {
		out := slices.Clone(v)
		if !binary {
			for i := range out {
				out[i] = strings.ToLower(out[i])
			}
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(norm(a), norm(b))
}
