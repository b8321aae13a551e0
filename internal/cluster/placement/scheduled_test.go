package placement_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/placement"
	"github.com/cairndb/cairn/internal/cluster/scheduler"
)

// runScheduled runs the script commands about scheduled views; ok is
// false for another command.
func (h *harness) runScheduled(d *datadriven.TestData) (out string, ok bool, err error) {
	switch d.Cmd {
	case "scheduled":
		return "", true, h.scheduledView(d)
	case "view-owner":
		not, err := h.argNodes(d, "not")
		if err != nil {
			return "", true, err
		}
		var skip uint64
		if len(not) > 0 {
			skip = not[0]
		}
		if id := placement.ViewOwner(h.cat, h.snapshot(1), skip, nil); id != 0 {
			return h.name(id) + "\n", true, nil
		}
		return "none\n", true, nil
	case "view-rebalance":
		m, ok := placement.ViewRebalanceMove(h.cat, h.snapshot(1))
		if !ok {
			return "balanced\n", true, nil
		}
		return fmt.Sprintf("move view %s from %s to %s\n", m.View, h.name(m.From), h.name(m.To)), true, nil
	case "schedule-views":
		out, err := h.scheduleViews(d)
		return out, true, err
	case "assign":
		if len(d.CmdArgs) != 2 {
			return "", true, fmt.Errorf("assign VIEW NODE")
		}
		v := h.cat.Views[d.CmdArgs[0].Key]
		id, err := h.id(d.CmdArgs[1].Key)
		if err != nil {
			return "", true, err
		}
		if v == nil || v.Sched == nil {
			return "", true, fmt.Errorf("no scheduled view %q", d.CmdArgs[0].Key)
		}
		next, res := catalog.Apply(h.cat, &catalog.AssignView{View: v.Name, ViewID: v.ID, Node: id, Epoch: v.Sched.Epoch})
		if res.Err != nil {
			return "", true, res.Err
		}
		h.cat = next
		return "", true, nil
	case "handoff":
		v := h.cat.Views[d.CmdArgs[0].Key]
		if v == nil || v.Sched == nil {
			return "", true, fmt.Errorf("no scheduled view %q", d.CmdArgs[0].Key)
		}
		v.Sched.Handoff = true
		return "", true, nil
	case "show-views":
		return h.showViews(), true, nil
	}
	return "", false, nil
}

func (h *harness) scheduledView(d *datadriven.TestData) error {
	if len(d.CmdArgs) == 0 {
		return fmt.Errorf("scheduled needs a name")
	}
	name := d.CmdArgs[0].Key
	s := &catalog.Scheduled{Disk: "d", IntervalMS: 5000}
	owner, err := h.argNodes(d, "owner")
	if err != nil {
		return err
	}
	if len(owner) > 0 {
		s.Node = owner[0]
	}
	epoch, err := argInt(d, "epoch", 1)
	if err != nil {
		return err
	}
	if s.Node != 0 {
		s.Epoch = uint64(epoch)
	}
	h.cat.NextID++
	h.cat.Views[name] = &catalog.View{ID: h.cat.NextID, Name: name, Kind: "materialized", Shards: 1, Replicas: 1, Sched: s}
	return nil
}

func (h *harness) scheduleViews(d *datadriven.TestData) (string, error) {
	epoch := time.Unix(1_000_000, 0)
	now, err := argDur(d, "now", time.Hour)
	if err != nil {
		return "", err
	}
	started, err := argDur(d, "started", 0)
	if err != nil {
		return "", err
	}
	in := scheduler.Input{Cat: h.cat, Live: h.snapshot(1), Settings: h.settings, Now: epoch.Add(now), Started: epoch.Add(started)}
	p := scheduler.PlanScheduled(in)
	var b strings.Builder
	for _, a := range p.Assign {
		fmt.Fprintf(&b, "assign %s to %s (epoch %d)\n", a.View, h.name(a.Node), a.Epoch)
	}
	for _, o := range p.Ops {
		fmt.Fprintf(&b, "%s %s (%s)\n", o.Type, o.View, o.Step)
	}
	if b.Len() == 0 {
		return "nothing to do\n", nil
	}
	return b.String(), nil
}

func (h *harness) showViews() string {
	var b strings.Builder
	for _, v := range h.cat.ScheduledViews() {
		fmt.Fprintf(&b, "view %s: %s (epoch %d)\n", v.Name, h.name(v.Sched.Node), v.Sched.Epoch)
	}
	counts := h.cat.ScheduledCounts()
	for _, nd := range h.cat.SortedNodes() {
		fmt.Fprintf(&b, "%s (%s): %d views\n", nd.Name, nd.Role, counts[nd.ID])
	}
	return b.String()
}
