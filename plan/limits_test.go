package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/directory"
)

// Issue 16 rule 8: limits.max_change_percent refuses a sync plan that updates or deletes more
// than that percentage of the objects in scope, and more than PercentFloor of them (creates
// are not counted), beside
// limits.max_changes; the refusal is ErrUnsafePlan and states both measures with the numbers.
func TestLimits_MaxChangePercent(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind string
		sum  Summary
		lim  Limits
		want []string // substrings of the refusal; nil: accepted
	}{
		// The demo (configs/demo.yaml, config defaults 500 and 30%): its first sync creates 23,
		// updates 1 (Maria Lopez) of 31 in scope; the second plan is clean.
		{name: "demo first sync passes the defaults", kind: "sync", sum: Summary{Create: 23, Update: 1, Conflict: 3, Invalid: 4}, lim: Limits{MaxChanges: 500, MaxChangePercent: 30}},
		{name: "demo second plan", kind: "sync", sum: Summary{Unchanged: 24, Conflict: 3, Invalid: 4}, lim: Limits{MaxChanges: 500, MaxChangePercent: 30}},
		{name: "first sync creates 100% of the scope", kind: "sync", sum: Summary{Create: 1000}, lim: Limits{MaxChangePercent: 30}},
		{name: "a new wave of creates is not counted", kind: "sync", sum: Summary{Create: 900, Update: 10, Unchanged: 90}, lim: Limits{MaxChangePercent: 30}},
		{name: "at the limit", kind: "sync", sum: Summary{Update: 300, Unchanged: 700}, lim: Limits{MaxChangePercent: 30}},
		{name: "one over the limit", kind: "sync", sum: Summary{Update: 301, Unchanged: 699}, lim: Limits{MaxChangePercent: 30},
			want: []string{"changes 301 of 1,000 objects in scope (30.1%", "above limits.max_change_percent 30%", "--allow-large-plan"}},
		{name: "812 of 1,000, the issue's example", kind: "sync", sum: Summary{Update: 800, Delete: 12, Unchanged: 150, Conflict: 30, Invalid: 8}, lim: Limits{MaxChanges: 1000, MaxChangePercent: 30},
			want: []string{"the plan writes 812 objects, within limits.max_changes 1,000", "it changes 812 of 1,000 objects in scope (81%", "above limits.max_change_percent 30%", "creates not counted", "re-run with --allow-large-plan if this is intended"}},
		{name: "deletes count", kind: "sync", sum: Summary{Delete: 40, Unchanged: 60}, lim: Limits{MaxChangePercent: 30},
			want: []string{"changes 40 of 100 objects in scope (40%", "above limits.max_change_percent 30%"}},
		{name: "floor: a pilot of 2 with one renamed", kind: "sync", sum: Summary{Update: 1, Unchanged: 1}, lim: Limits{MaxChangePercent: 30}},
		{name: "floor: 10 of 10 is not refused", kind: "sync", sum: Summary{Update: PercentFloor}, lim: Limits{MaxChangePercent: 30}},
		{name: "floor: 11 of 11 is refused", kind: "sync", sum: Summary{Update: PercentFloor + 1}, lim: Limits{MaxChangePercent: 30},
			want: []string{"changes 11 of 11 objects in scope (100%", "above limits.max_change_percent 30%"}},
		{name: "conflicts and invalid sources are in scope, not changes", kind: "sync", sum: Summary{Update: 20, Conflict: 50, Invalid: 30}, lim: Limits{MaxChangePercent: 30}},
		{name: "both over, both stated", kind: "sync", sum: Summary{Create: 100, Update: 600, Unchanged: 300}, lim: Limits{MaxChanges: 500, MaxChangePercent: 30},
			want: []string{"the plan writes 700 objects, above limits.max_changes 500", "it changes 600 of 1,000 objects in scope (60%", "above limits.max_change_percent 30%"}},
		{name: "count over, percent within, both stated", kind: "sync", sum: Summary{Create: 600, Update: 10, Unchanged: 390}, lim: Limits{MaxChanges: 500, MaxChangePercent: 30},
			want: []string{"the plan writes 610 objects, above limits.max_changes 500", "it changes 10 of 1,000 objects in scope (1%", "within limits.max_change_percent 30%"}},
		{name: "0 is off", kind: "sync", sum: Summary{Update: 1000}, lim: Limits{MaxChangePercent: 0}},
		{name: "100 refuses nothing", kind: "sync", sum: Summary{Update: 1000}, lim: Limits{MaxChangePercent: 100}},
		{name: "a plan without kind is checked", sum: Summary{Update: 50, Unchanged: 50}, lim: Limits{MaxChangePercent: 30},
			want: []string{"changes 50 of 100 objects in scope (50%"}},
		{name: "empty scope", kind: "sync", lim: Limits{MaxChangePercent: 30}},
		{name: "cutover lists only completed moves: percent not applied", kind: "cutover", sum: Summary{Update: 40}, lim: Limits{MaxChanges: 500, MaxChangePercent: 30}},
		{name: "rollback lists only its run: percent not applied", kind: "rollback", sum: Summary{Delete: 40, Update: 2}, lim: Limits{MaxChanges: 500, MaxChangePercent: 30}},
		{name: "cutover still bounded by max_changes", kind: "cutover", sum: Summary{Update: 501}, lim: Limits{MaxChanges: 500, MaxChangePercent: 30},
			want: []string{"the plan writes 501 objects, above limits.max_changes 500"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Plan{Kind: tc.kind, Summary: tc.sum}
			err := p.Check(tc.lim)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Check = %v, want accepted", err)
				}
				return
			}
			if !errors.Is(err, directory.ErrUnsafePlan) {
				t.Fatalf("Check = %v, want ErrUnsafePlan", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal %q\n does not say %q", err, w)
				}
			}
			if tc.kind == "cutover" && strings.Contains(err.Error(), "max_change_percent") {
				t.Errorf("cutover refusal names the percent guard: %q", err)
			}
		})
	}
}

// The percentage shown is never rounded onto the limit it is compared with.
func TestLimits_PercentShownApartFromTheLimit(t *testing.T) {
	for _, tc := range []struct {
		changed, scope, limit int
		want                  string
	}{
		{812, 1000, 30, "81%"},
		{301, 1000, 30, "30.1%"},
		{3001, 10000, 30, "30.01%"},
		{2999, 10000, 30, "29.99%"},
		{1, 31, 30, "3%"},
		{1, 3, 30, "33%"},
		{300, 1000, 30, "30%"},
	} {
		if got := percent(tc.changed, tc.scope, tc.limit); got != tc.want {
			t.Errorf("percent(%d, %d, %d) = %s, want %s", tc.changed, tc.scope, tc.limit, got, tc.want)
		}
	}
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %s, want %s", n, got, want)
		}
	}
}
