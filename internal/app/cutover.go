package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/xtmsyncd/xtmsyncd/cutover"
	"github.com/xtmsyncd/xtmsyncd/directory"
	"github.com/xtmsyncd/xtmsyncd/plan"
)

// sourceCutoverAttrs are read back from the source objects before planning their rewrite.
var sourceCutoverAttrs = []string{directory.AttrTargetAddress, directory.AttrRecipientTypeDetails,
	directory.AttrRecipientDisplayType, directory.AttrRemoteRecipientType}

// CutoverOptions maps the configuration onto the cutover rules.
func (r *Rig) CutoverOptions() cutover.Options {
	c := r.Config
	return cutover.Options{
		TargetDeliveryDomain: c.Mapping.TargetDeliveryDomain, OU: c.Target.OU,
		OwnerAttr: c.Mapping.Owner.Attribute, OwnerValue: c.Mapping.Owner.Value,
		ConvertSource: c.Cutover.ConvertSourceToMailUser, SourceDisplayType: c.Cutover.SourceDisplayType,
		SourceMarkAttr: c.Cutover.SourceMark.Attribute, SourceMarkValue: c.Cutover.SourceMark.Value,
	}
}

// PlanCutover reads both forests and plans the cutover of the moves src reports completed.
func (r *Rig) PlanCutover(ctx context.Context, src cutover.Source) (*plan.Plan, error) {
	done, err := src.Completions(ctx)
	if err != nil {
		return nil, err
	}
	scope, err := r.Source.Scope(ctx)
	if err != nil {
		return nil, fmt.Errorf("read source: %w", err)
	}
	entries, err := r.Target.Entries(ctx)
	if err != nil {
		return nil, fmt.Errorf("read target: %w", err)
	}
	in := cutover.Input{Sources: scope.Mailboxes, Target: entries, Completed: done, SourceNow: map[string]*directory.Entry{}}
	// A first pass tells which source objects the plan touches (without their current state
	// it plans them as "source_gone"); read exactly those back, then plan again.
	attrs := append([]string{}, sourceCutoverAttrs...)
	if a := r.Config.Cutover.SourceMark.Attribute; a != "" {
		attrs = append(attrs, a)
	}
	for _, c := range cutover.Plan(in, r.CutoverOptions()).Changes {
		if c.Forest != plan.ForestSource {
			continue
		}
		e, err := r.SourceWriter.Read(ctx, c.DN, attrs)
		if err != nil {
			return nil, err
		}
		if e != nil {
			in.SourceNow[strings.ToLower(c.DN)] = e
		}
	}
	p := cutover.Plan(in, r.CutoverOptions())
	p.Source = r.Engine.SourceName
	p.DryRun = true
	p.GeneratedAt = time.Now().UTC()
	return p, nil
}
