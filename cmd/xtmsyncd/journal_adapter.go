package main

import (
	"context"
	"encoding/json"

	"github.com/xtmsyncd/xtmsyncd/engine"
	"github.com/xtmsyncd/xtmsyncd/journal"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// journalAdapter turns the engine's plan-shaped records into journal rows.
type journalAdapter struct{ s *journal.Store }

var _ engine.Journal = journalAdapter{}

func (j journalAdapter) StartRun(ctx context.Context, r engine.RunInfo, p *plan.Plan) (int64, error) {
	sum, _ := json.Marshal(p.Summary)
	return j.s.StartRun(ctx, journal.Run{Kind: r.Kind, Mode: r.Mode, Actor: r.Actor, ConfigHash: r.ConfigHash,
		PlanHash: p.Hash(), Summary: sum})
}

func (j journalAdapter) RecordIntent(ctx context.Context, runID int64, c plan.Change) (int64, error) {
	attrs := make([]journal.AttrValues, len(c.Attrs))
	for i, a := range c.Attrs {
		attrs[i] = journal.AttrValues{Name: a.Name, Before: a.Before, After: a.After, Add: a.Add, Delete: a.Delete}
	}
	return j.s.RecordIntent(ctx, journal.Change{RunID: runID, ObjectGUID: c.ObjectGUID, Key: c.Key, DN: c.DN,
		Action: string(c.Action), Attrs: attrs})
}

func (j journalAdapter) RecordOutcome(ctx context.Context, id int64, guid string, err error) error {
	return j.s.RecordOutcome(ctx, id, guid, err)
}

func (j journalAdapter) FinishRun(ctx context.Context, runID int64, outcome string, r engine.Result, runErr error) error {
	sum, _ := json.Marshal(struct {
		plan.Summary
		Applied  int `json:"applied"`
		Failed   int `json:"failed"`
		NotTried int `json:"not_tried"`
	}{r.Summary, r.Applied, r.Failed, r.NotTried})
	return j.s.FinishRun(ctx, runID, outcome, sum, runErr)
}
