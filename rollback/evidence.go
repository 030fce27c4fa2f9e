package rollback

import (
	"fmt"
	"strings"
	"time"

	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// What the directory shows of a journaled write whose outcome was not known (the journal's
// statuses of the same names).
const (
	Happened    = "applied"     // the directory proves the write happened
	NotHappened = "not_applied" // the directory proves it did not
	Unproven    = "unknown"     // the directory cannot tell: never undone
)

// Verdict is what recovery learned of one write: its status, the objectGUID of the object it
// wrote (when proven), and why, in words for the journal.
type Verdict struct {
	Status     string
	ObjectGUID string
	Why        string
}

// Window bounds when a journaled create can have reached the directory: not before its
// intent was journaled, not later than the longest a sent write can take after it, each
// widened by the clock skew allowed between this host and the DC.
type Window struct {
	Skew    time.Duration // AD's Kerberos refuses more than 5 minutes
	Longest time.Duration // a write's bound: the request timeout times the attempts
}

// AttrWhenCreated is read to date a create whose objectGUID was never read back.
const AttrWhenCreated = "whenCreated"

// Settle decides, from the object now at the change's DN (nil: none), whether a write with no
// known outcome happened. others are the objectGUIDs that other runs of the journal created
// at the same DN: an object with one of them is theirs. A create is proven by the objectGUID
// it recorded, or, when it never learned it, by an object that carries the ownership marker
// and every value the create wrote and that the DC dates within the write's window. An update
// is proven on the object it recorded (same objectGUID) by its after-values, disproven by its
// before-values. A delete is proven by the object's absence.
func Settle(c Change, cur *directory.Entry, others []string, o Options, w Window) Verdict {
	forest := c.Forest
	if forest == "" {
		forest = plan.ForestTarget
	}
	guid := ""
	if cur != nil && !cur.ObjectGUID.IsZero() {
		guid = cur.ObjectGUID.String()
	}
	switch plan.Action(c.Action) {
	case plan.Create:
		if cur == nil {
			return Verdict{Status: NotHappened, Why: "no object at " + c.DN}
		}
		if c.ObjectGUID != "" {
			if strings.EqualFold(c.ObjectGUID, guid) {
				return Verdict{Status: Happened, ObjectGUID: guid, Why: "the object at the DN has the objectGUID the create recorded"}
			}
			return Verdict{Status: Unproven, Why: fmt.Sprintf("the object at the DN is another one (objectGUID %s, the create recorded %s)", guid, c.ObjectGUID)}
		}
		for _, g := range others {
			if strings.EqualFold(g, guid) {
				return Verdict{Status: NotHappened, Why: fmt.Sprintf("the object at the DN (objectGUID %s) is one another run created", guid)}
			}
		}
		if forest == plan.ForestTarget && !strings.EqualFold(cur.First(o.OwnerAttr), o.OwnerValue) {
			return Verdict{Status: Unproven, Why: "the object at the DN lacks the ownership marker " + o.OwnerAttr}
		}
		if a, ok := differs(c.Attrs, cur, true); !ok {
			return Verdict{Status: Unproven, Why: fmt.Sprintf("the object at the DN differs from what the create wrote (%s is %q)", a.Name, cur.Get(a.Name))}
		}
		created, err := GeneralizedTime(cur.First(AttrWhenCreated))
		if err != nil {
			return Verdict{Status: Unproven, Why: "the object at the DN has no readable whenCreated: " + err.Error()}
		}
		from, to := c.IntentAt.Add(-w.Skew), c.IntentAt.Add(w.Longest+w.Skew)
		if c.IntentAt.IsZero() || created.Before(from) || created.After(to) {
			return Verdict{Status: Unproven, Why: fmt.Sprintf("the object at the DN was created at %s, outside the write's window %s to %s",
				created.Format(time.RFC3339), from.Format(time.RFC3339), to.Format(time.RFC3339))}
		}
		return Verdict{Status: Happened, ObjectGUID: guid, Why: fmt.Sprintf("the object at the DN holds every value the create wrote and was created at %s, %s after its intent",
			created.Format(time.RFC3339), created.Sub(c.IntentAt).Round(time.Second))}
	case plan.Update:
		if cur == nil {
			return Verdict{Status: Unproven, Why: "no object at " + c.DN + " any more"}
		}
		if c.ObjectGUID == "" || !strings.EqualFold(c.ObjectGUID, guid) {
			return Verdict{Status: Unproven, Why: fmt.Sprintf("the object at the DN (objectGUID %s) is not the one the update was planned on (%s)", guid, orNone(c.ObjectGUID))}
		}
		if _, ok := differs(c.Attrs, cur, true); ok {
			return Verdict{Status: Happened, ObjectGUID: guid, Why: "the object holds every value the update wrote"}
		}
		if _, ok := differs(c.Attrs, cur, false); ok {
			return Verdict{Status: NotHappened, ObjectGUID: guid, Why: "the object still holds every value from before the update"}
		}
		return Verdict{Status: Unproven, Why: "the object holds neither the values from before the update nor those it wrote: changed since"}
	case plan.Delete:
		if cur == nil {
			return Verdict{Status: Happened, Why: "no object at " + c.DN}
		}
		if c.ObjectGUID != "" && strings.EqualFold(c.ObjectGUID, guid) {
			return Verdict{Status: NotHappened, ObjectGUID: guid, Why: "the object is still there"}
		}
		return Verdict{Status: Happened, Why: fmt.Sprintf("the object at the DN is another one (objectGUID %s)", guid)}
	}
	return Verdict{Status: Unproven, Why: "a " + c.Action + " cannot be settled"}
}

// differs checks cur against the change's after-values (after true) or before-values; it
// returns the first attribute that does not match, and true when all match. objectClass is
// skipped (AD adds the superclasses).
func differs(attrs []plan.AttrChange, cur *directory.Entry, after bool) (plan.AttrChange, bool) {
	for _, a := range attrs {
		if strings.EqualFold(a.Name, directory.AttrObjectClass) {
			continue
		}
		have := cur.Get(a.Name)
		if a.Incremental() {
			present, absent := a.Add, a.Delete
			if !after {
				present, absent = a.Delete, a.Add
			}
			added := map[string]bool{}
			for _, v := range present {
				added[strings.ToLower(v)] = true
				if !containsFold(have, v) {
					return a, false
				}
			}
			for _, v := range absent {
				if !added[strings.ToLower(v)] && containsFold(have, v) {
					return a, false
				}
			}
			continue
		}
		want := a.After
		if !after {
			want = a.Before
		}
		if !sameSet(a.Name, have, want) {
			return a, false
		}
	}
	return plan.AttrChange{}, true
}

// GeneralizedTime parses AD's GeneralizedTime ("20261203143000.0Z"), to the second, in UTC.
func GeneralizedTime(s string) (time.Time, error) {
	if len(s) < 14 {
		return time.Time{}, fmt.Errorf("GeneralizedTime %q is too short", s)
	}
	t, err := time.Parse("20060102150405", s[:14])
	if err != nil {
		return time.Time{}, fmt.Errorf("GeneralizedTime %q: %w", s, err)
	}
	if rest := s[14:]; rest != "" && !strings.HasSuffix(rest, "Z") {
		return time.Time{}, fmt.Errorf("GeneralizedTime %q is not in UTC", s)
	}
	return t.UTC(), nil
}

func orNone(s string) string {
	if s == "" {
		return "none recorded"
	}
	return s
}
