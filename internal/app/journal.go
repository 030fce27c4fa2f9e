package app

import (
	"context"
	"encoding/json"

	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/journal"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// Journal turns the engine's plan-shaped records into journal rows.
type Journal struct{ S *journal.Store }

var (
	_ engine.Journal      = Journal{}
	_ engine.GroupJournal = Journal{}
)

func (j Journal) StartRun(ctx context.Context, r engine.RunInfo, p *plan.Plan) (int64, error) {
	sum, _ := json.Marshal(p.Summary)
	return j.S.StartRun(ctx, journal.Run{Kind: r.Kind, Mode: r.Mode, Actor: r.Actor, ConfigHash: r.ConfigHash,
		PlanHash: p.Hash(), Summary: sum, ParentRunID: r.ParentRunID, SourceDC: r.DCs.Source, TargetDC: r.DCs.Target})
}

func (j Journal) RecordIntent(ctx context.Context, runID int64, c plan.Change) (int64, error) {
	return j.S.RecordIntent(ctx, change(runID, c))
}

func (j Journal) RecordOutcome(ctx context.Context, id int64, guid string, err error) error {
	return j.S.RecordOutcome(ctx, id, guid, journalErr(err))
}

// RecordGroup commits the outcomes of some changes and the intents of the next ones together.
func (j Journal) RecordGroup(ctx context.Context, outcomes []engine.Outcome, runID int64, next []plan.Change) ([]int64, error) {
	outs := make([]journal.Outcome, len(outcomes))
	for i, o := range outcomes {
		outs[i] = journal.Outcome{ChangeID: o.ChangeID, ObjectGUID: o.ObjectGUID, Err: journalErr(o.Err)}
	}
	cs := make([]journal.Change, len(next))
	for i, c := range next {
		cs[i] = change(runID, c)
	}
	return j.S.RecordGroup(ctx, outs, cs)
}

// SetObjectGUIDs records created objects' objectGUIDs learned after their outcomes.
func (j Journal) SetObjectGUIDs(ctx context.Context, guids map[int64]string) error {
	return j.S.SetObjectGUIDs(ctx, guids)
}

func change(runID int64, c plan.Change) journal.Change {
	attrs := make([]journal.AttrValues, len(c.Attrs))
	for i, a := range c.Attrs {
		attrs[i] = journal.AttrValues{Name: a.Name, Before: a.Before, After: a.After, Add: a.Add, Delete: a.Delete}
	}
	return journal.Change{RunID: runID, ObjectGUID: c.ObjectGUID, Key: c.Key, DN: c.DN,
		Forest: c.Forest, Action: string(c.Action), Attrs: attrs}
}

func (j Journal) FinishRun(ctx context.Context, runID int64, outcome string, r engine.Result, runErr error) error {
	sum, _ := json.Marshal(struct {
		plan.Summary
		Applied  int `json:"applied"`
		Failed   int `json:"failed"`
		Unknown  int `json:"unknown"`
		NotTried int `json:"not_tried"`
	}{r.Summary, r.Applied, r.Failed, r.Unknown, r.NotTried})
	return j.S.FinishRun(ctx, runID, outcome, sum, runErr)
}
