package scheduler

import (
	"fmt"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/cluster/placement"
)

// Assignment gives an unowned scheduled view its first (or next) owner
// directly, without an operation: catalog.AssignView{View, ViewID, Node,
// Epoch}. Epoch is the view's epoch the decision was made on, so two
// decisions on one epoch cannot both win.
type Assignment struct {
	View   string
	ViewID uint64
	Node   uint64
	Epoch  uint64
}

// ScheduledPlan is what one round decides for the scheduled views.
type ScheduledPlan struct {
	Assign []Assignment
	// Ops are move_scheduled_view operations to record (View, From, To
	// set; Step says why).
	Ops []*catalog.Operation
}

// Why a scheduled view moves (the Step its operation starts with).
const (
	WhyOwnerDead     = "owner dead"
	WhyOwnerLeaving  = "owner leaving"
	WhyViewRebalance = "rebalance"
	WhyHandoffLeft   = "finishing a hand-off"
)

// defaultViewMoves bounds a round's decisions on scheduled views when
// Settings.MaxViewMoves is not set.
const defaultViewMoves = 8

// PlanScheduled decides, for each scheduled view (by name) without an
// unfinished move, at most Settings.MaxViewMoves in all:
//   - no owner, or an owner no longer in the catalog: assign it directly
//     to the best node (placement.ViewOwner);
//   - an owner that is dead (with auto_failover): a move_scheduled_view
//     operation to another node, which replays from the last checkpoint;
//   - an owner an operator is draining, taking offline or
//     decommissioning: a move_scheduled_view operation that hands it off
//     with a final checkpoint;
//   - a hand-off asked for (Sched.Handoff) with no move under way (its
//     move was cancelled or failed; the owner stopped folding): a move
//     to another node, or, when none can take it, a direct assignment
//     back to the owner at a new epoch;
//   - an owner that is suspect, or unknown: nothing yet;
//
// then, with auto_rebalance, when no scheduled view is being moved and
// every node's fate is known, one rebalance move
// (placement.ViewRebalanceMove). Nothing is decided for a view no node
// can take.
func PlanScheduled(in Input) ScheduledPlan {
	cat, live := in.Cat, in.Live
	limit := in.Settings.MaxViewMoves
	if limit <= 0 {
		limit = defaultViewMoves
	}
	load := placement.ViewLoad(cat)
	var p ScheduledPlan
	n := 0
	moving := false
	for _, v := range cat.ScheduledViews() {
		if cat.ActiveOpOnView(v.Name) != nil {
			moving = true
			continue
		}
		if n >= limit {
			break
		}
		s := v.Sched
		owner := cat.NodeByID(s.Node)
		why := ""
		switch {
		case s.Node == 0 || owner == nil:
			to := placement.ViewOwner(cat, live, 0, load)
			if to == 0 {
				continue // no node can take it: wait for one
			}
			p.Assign = append(p.Assign, Assignment{View: v.Name, ViewID: v.ID, Node: to, Epoch: s.Epoch})
			load[to]++
			n++
			continue
		case in.Settings.AutoFailover && live.Of(s.Node) == membership.Dead:
			why = WhyOwnerDead
		case !owner.CanOwnViews():
			why = WhyOwnerLeaving
		case s.Handoff:
			// A hand-off whose move ended without assigning (cancelled,
			// failed): the owner has stopped folding, so finish it —
			// elsewhere, or back on the owner (a new epoch restarts its
			// task from the final checkpoint).
			why = WhyHandoffLeft
			if live.IsLive(s.Node) && placement.ViewOwner(cat, live, s.Node, load) == 0 {
				p.Assign = append(p.Assign, Assignment{View: v.Name, ViewID: v.ID, Node: s.Node, Epoch: s.Epoch})
				n++
				continue
			}
		default:
			continue
		}
		to := placement.ViewOwner(cat, live, s.Node, load)
		if to == 0 {
			continue
		}
		p.Ops = append(p.Ops, moveOp(cat, v.Name, s.Node, to, why))
		load[to]++
		load[s.Node]--
		n++
		moving = true
	}
	if n < limit && !moving && viewRebalanceDue(in) {
		if m, ok := placement.ViewRebalanceMove(cat, live); ok {
			p.Ops = append(p.Ops, moveOp(cat, m.View, m.From, m.To, WhyViewRebalance))
		}
	}
	return p
}

// moveOp is a move_scheduled_view operation; its first step says why
// and between which nodes.
func moveOp(cat *catalog.Catalog, view string, from, to uint64, why string) *catalog.Operation {
	step := fmt.Sprintf("%s: from %s to %s", why, cat.NodeLabel(from), cat.NodeLabel(to))
	return &catalog.Operation{Type: catalog.OpMoveScheduledView, Target: "view " + view, View: view, From: from, To: to, Step: step, Auto: true}
}

// viewRebalanceDue reports whether a rebalance of scheduled views may be
// decided: auto_rebalance on, past the startup grace, and every node's
// fate known (a suspect owner may be about to fail over).
func viewRebalanceDue(in Input) bool {
	if !in.Settings.AutoRebalance || in.Now.Sub(in.Started) < in.Settings.StartupGrace {
		return false
	}
	for _, nd := range in.Cat.SortedNodes() {
		if l := in.Live.Of(nd.ID); nd.CanOwnViews() && (l == membership.Suspect || l == membership.Unknown) {
			return false
		}
	}
	return true
}
