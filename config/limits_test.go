package config_test

import (
	"errors"
	"testing"

	"github.com/xtmsyncd/xtmsyncd/config"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// Issue 16 rule 8, the default: limits.max_change_percent is 30, and with the default limits
// the demo's first sync (configs/demo.yaml: 23 creates, 1 update, 3 conflicts, 4 invalid) and
// a first sync of max_changes creates pass, while a mapping typo that rewrites every prepared
// MailUser is refused.
func TestLimits_DefaultMaxChangePercent(t *testing.T) {
	d := config.Default()
	if d.Limits.MaxChangePercent != 30 {
		t.Fatalf("default limits.max_change_percent = %d, want 30", d.Limits.MaxChangePercent)
	}
	l := plan.Limits{MaxChanges: d.Limits.MaxChanges, MaxChangePercent: d.Limits.MaxChangePercent}
	for name, s := range map[string]plan.Summary{
		"demo first sync":   {Create: 23, Update: 1, Conflict: 3, Invalid: 4},
		"demo second plan":  {Unchanged: 24, Conflict: 3, Invalid: 4},
		"first sync of 500": {Create: 500},
		"routine sync":      {Update: 12, Unchanged: 988},
	} {
		if err := (&plan.Plan{Kind: "sync", Summary: s}).Check(l); err != nil {
			t.Errorf("%s refused by the defaults: %v", name, err)
		}
	}
	typo := &plan.Plan{Kind: "sync", Summary: plan.Summary{Update: 400}}
	if err := typo.Check(l); !errors.Is(err, directory.ErrUnsafePlan) {
		t.Errorf("a plan updating all 400 objects in scope: %v, want ErrUnsafePlan", err)
	}
}
