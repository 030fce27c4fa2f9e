// Package plan is the pure data of a run: which target object each source maps to, and the
// attribute-level changes that would bring it there. It diffs, classifies, checks the safety
// rails and renders (text, JSON); it never talks to a directory.
package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/xtmsyncd/xtmsyncd/mapper"
)

// FormatVersion is the version of the JSON plan format (documented in the README).
const FormatVersion = "1"

// Action is the closed set of classes a source ends in.
type Action string

// Actions. Only Create and Update are written; the others are reported.
const (
	Create    Action = "create"
	Update    Action = "update"
	Unchanged Action = "unchanged"
	Conflict  Action = "conflict"
	Invalid   Action = "invalid"
	// Delete is used only by rollback, for objects a run created.
	Delete Action = "delete"
)

// Writes reports whether the action changes the directory.
func (a Action) Writes() bool { return a == Create || a == Update || a == Delete }

// Forests a change can write to.
const (
	ForestTarget = "target"
	ForestSource = "source"
)

var actionRank = map[Action]int{Create: 0, Update: 1, Delete: 2, Conflict: 3, Invalid: 4, Unchanged: 5}

// Plan is one run's intended changes.
type Plan struct {
	FormatVersion string    `json:"format_version"`
	Kind          string    `json:"kind"`
	GeneratedAt   time.Time `json:"generated_at"`
	DryRun        bool      `json:"dry_run"`
	Source        string    `json:"source"`
	Target        string    `json:"target"`
	Summary       Summary   `json:"summary"`
	Changes       []Change  `json:"changes"`
	Warnings      []Warning `json:"warnings,omitempty"`
}

// Change is what happens to one source mailbox's target object.
type Change struct {
	Action     Action           `json:"action"`
	Forest     string           `json:"forest,omitempty"` // "" or "target"; "source" for cutover
	Key        string           `json:"exchange_guid,omitempty"`
	Source     string           `json:"source_dn"`
	DN         string           `json:"dn,omitempty"`
	ObjectGUID string           `json:"object_guid,omitempty"`
	Reason     string           `json:"reason,omitempty"`
	Problems   []mapper.Problem `json:"problems,omitempty"`
	Attrs      []AttrChange     `json:"attrs,omitempty"`
}

// AttrChange changes one attribute. Single-valued attributes are replaced: After holds the new
// values (none = remove the attribute). Multi-valued attributes change by exact values: Add and
// Delete. Before holds the values read when the plan was made; apply refuses the change when
// the object no longer holds them (a stale plan).
type AttrChange struct {
	Name   string   `json:"name"`
	Before []string `json:"before,omitempty"`
	After  []string `json:"after,omitempty"`
	Add    []string `json:"add,omitempty"`
	Delete []string `json:"delete,omitempty"`
}

// Incremental reports whether the change adds and deletes values rather than replacing.
func (a AttrChange) Incremental() bool { return len(a.Add) > 0 || len(a.Delete) > 0 }

// Warning is a finding that does not stop the run (nested groups, skipped members, a source
// value left out of the target, ...). Attribute, Found and Fix are set when the finding is
// about one value.
type Warning struct {
	Code      string `json:"code"`
	Object    string `json:"object"`
	Attribute string `json:"attribute,omitempty"`
	Found     string `json:"found,omitempty"`
	Message   string `json:"message"`
	Fix       string `json:"fix,omitempty"`
}

// leftOut is the warning for a source value the mapper left out of the target object.
func leftOut(p mapper.Problem) Warning {
	return Warning{Code: p.Code, Object: p.Object, Attribute: p.Attribute, Found: p.Found, Fix: p.Fix,
		Message: p.Attribute + " " + p.Found + "; left out of the target object: " + p.Fix}
}

// Summary counts changes by action.
type Summary struct {
	Create    int `json:"create"`
	Update    int `json:"update"`
	Unchanged int `json:"unchanged"`
	Conflict  int `json:"conflict"`
	Invalid   int `json:"invalid"`
	Delete    int `json:"delete,omitempty"`
}

// Writes is the number of objects the plan would write.
func (s Summary) Writes() int { return s.Create + s.Update + s.Delete }

// Add counts one change of action a.
func (s *Summary) Add(a Action) { s.add(a) }

func (s *Summary) add(a Action) {
	switch a {
	case Create:
		s.Create++
	case Update:
		s.Update++
	case Unchanged:
		s.Unchanged++
	case Conflict:
		s.Conflict++
	case Invalid:
		s.Invalid++
	case Delete:
		s.Delete++
	}
}

// Writable returns the changes that write, in plan order.
func (p *Plan) Writable() []Change {
	var out []Change
	for _, c := range p.Changes {
		if c.Action.Writes() {
			out = append(out, c)
		}
	}
	return out
}

// Hash is the SHA-256 of the plan's changes (not its timestamps), to tie a journal run to it.
func (p *Plan) Hash() string {
	b, _ := json.Marshal(p.Changes)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// Limits are the safety rails.
type Limits struct {
	MaxChanges       int
	MaxChangePercent int // updates and deletes of existing objects, % of the objects in scope (limits.go)
}

// Check applies the safety rails: more writes than MaxChanges is ErrUnsafePlan.
func (p *Plan) Check(l Limits) error {
	return checkLimits(p, l)
}
