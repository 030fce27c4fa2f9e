package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/xtmsyncd/xtmsyncd/directory"
)

// The mass-change guards (limits.max_changes and limits.max_change_percent), modelled on Azure
// AD Connect's accidental-delete threshold: a plan above either is refused as ErrUnsafePlan
// unless the operator says it is intended (--allow-large-plan).
//
// max_changes bounds the objects a plan writes (creates, updates and deletes), whatever the
// scope.
//
// max_change_percent bounds the existing objects a plan changes (updates and deletes) as a
// percentage of the objects in scope (every source the plan judged: to create, update, leave
// unchanged, or reported as a conflict or invalid). Creates are not counted: a first sync
// creates 100% of its scope, and each new wave added to the scope group is a burst of creates,
// both intended; a create alters no existing object and is undone by rolling the run back, and
// max_changes already bounds how many there are. What the percentage catches is the accident
// that rewrites the objects already prepared, whose moves may be queued or running: a mapping
// or domain typo, a source-wide bulk edit, an upgrade that stamps a new attribute everywhere.
// Those touch most of the scope at once, where a routine sync touches a few objects.
//
// A percentage of a handful is noise: a pilot of 2 mailboxes with one renamed is 50%. So the
// percentage refuses a plan only when it also changes more than PercentFloor existing objects;
// below that the operator can read every change, and max_changes still applies.
//
// The percentage applies to plans that list their whole scope (sync). A cutover plan lists
// only the moves reported completed, each one checked, and a rollback plan only the objects of
// the run it undoes: both would always be at 100% of what they list, so only max_changes
// bounds them.

// PercentFloor is the number of changed existing objects up to which max_change_percent never
// refuses a plan (see above).
const PercentFloor = 10

// ChangeCounts are the numbers the guards compare with the limits.
type ChangeCounts struct {
	Writes  int  // creates, updates and deletes: against MaxChanges
	Changed int  // updates and deletes of existing objects: against MaxChangePercent
	InScope int  // every source in the plan
	Percent bool // the plan lists its whole scope, so MaxChangePercent applies
}

// Counts returns what the guards measure on p.
func (p *Plan) Counts() ChangeCounts {
	s := p.Summary
	return ChangeCounts{
		Writes:  s.Writes(),
		Changed: s.Update + s.Delete,
		InScope: s.Create + s.Update + s.Unchanged + s.Conflict + s.Invalid + s.Delete,
		Percent: p.Kind != "cutover" && p.Kind != "rollback",
	}
}

// overPercent reports whether changed is strictly more than pct percent of scope (exactly)
// and more than PercentFloor.
func overPercent(changed, scope, pct int) bool {
	return pct > 0 && scope > 0 && changed > PercentFloor && changed*100 > pct*scope
}

// checkLimits is (*Plan).Check: it refuses a plan above max_changes or max_change_percent, and
// the refusal states both measures with their numbers.
func checkLimits(p *Plan, l Limits) error {
	n := p.Counts()
	overCount := l.MaxChanges > 0 && n.Writes > l.MaxChanges
	overPct := n.Percent && overPercent(n.Changed, n.InScope, l.MaxChangePercent)
	if !overCount && !overPct {
		return nil
	}
	var parts []string
	if l.MaxChanges > 0 {
		parts = append(parts, fmt.Sprintf("the plan writes %s objects, %s limits.max_changes %s",
			thousands(n.Writes), aboveOrWithin(overCount), thousands(l.MaxChanges)))
	}
	if n.Percent && l.MaxChangePercent > 0 && n.InScope > 0 {
		parts = append(parts, fmt.Sprintf("it changes %s of %s objects in scope (%s; updates and deletes of existing objects, creates not counted), %s limits.max_change_percent %d%%",
			thousands(n.Changed), thousands(n.InScope), percent(n.Changed, n.InScope, l.MaxChangePercent), aboveOrWithin(overPct), l.MaxChangePercent))
	}
	return fmt.Errorf("%w: %s; review it and re-run with --allow-large-plan if this is intended, or raise the limit",
		directory.ErrUnsafePlan, strings.Join(parts, "; "))
}

func aboveOrWithin(over bool) string {
	if over {
		return "above"
	}
	return "within"
}

// percent formats changed/scope as a percentage with as few decimals as it takes (up to 3) to
// tell it apart from the limit it is compared with: 81.2% above 30%, 30.01% above 30%, never
// "30% above 30%".
func percent(changed, scope, limit int) string {
	v := float64(changed) * 100 / float64(scope)
	for d := 0; d <= 3; d++ {
		s := strconv.FormatFloat(v, 'f', d, 64)
		f, _ := strconv.ParseFloat(s, 64)
		if f == v || (f != float64(limit) && (f > float64(limit)) == (v > float64(limit))) {
			return trimZeros(s) + "%"
		}
	}
	return trimZeros(strconv.FormatFloat(v, 'f', 3, 64)) + "%"
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// thousands writes n with comma separators: 1,000.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
