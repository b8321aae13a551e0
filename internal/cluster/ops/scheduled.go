package ops

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/cluster/placement"
	"github.com/cairndb/cairn/internal/cluster/scheduler"
	"github.com/cairndb/cairn/internal/pgerr"
)

// ViewProbe is optional: a Cluster that implements it lets a move ask
// the new owner whether it runs the view at the epoch it was given (the
// owner's status RPC). Without it a move waits for the new owner's
// first checkpoint at that epoch.
type ViewProbe interface {
	ViewRunning(ctx context.Context, node uint64, view string, epoch uint64) (bool, error)
}

// moveViewAttempts bounds how often a move starts over because the
// view's epoch changed under it (another decision won).
const moveViewAttempts = 4

// execMoveView runs a move_scheduled_view operation. Every step reads
// the catalog first, so a new meta leader resumes it from the top:
//  1. the view is gone: done; it already belongs to To: go to 4;
//  2. To can no longer own views: pick another (placement.ViewOwner);
//  3. the owner at epoch E is live: ask it to hand off (SetViewHandoff
//     at E) and wait, at most Timing.ViewHandoffTimeout, for its final
//     checkpoint at E (nothing is replayed); an owner that is not live,
//     or does not answer in time, is simply replaced (the new owner
//     replays from the last committed checkpoint). Then AssignView(To,
//     E): epoch E+1, which fences the old owner;
//  4. wait, at most Timing.ViewStartTimeout, until the new owner runs
//     the view (ViewProbe) or committed a checkpoint at its epoch.
func (e *Executor) execMoveView(ctx context.Context, o *catalog.Operation) error {
	var epoch uint64 // the new owner's epoch
	how := ""        // how it takes over, for the last step
	for attempt := 0; epoch == 0; attempt++ {
		if attempt == moveViewAttempts {
			return pgerr.ViewMoveRaced.New(o.View, moveViewAttempts)
		}
		cat := e.c.Catalog()
		v := cat.Views[o.View]
		if v == nil || v.Sched == nil {
			return e.step(ctx, o, 1, "view %q was dropped; nothing to move", o.View)
		}
		s := v.Sched
		if s.Node != 0 && s.Node == o.To {
			epoch = s.Epoch // assigned already (this run or the one before a leader change)
			break
		}
		live := e.c.Live(cat)
		if nd := cat.NodeByID(o.To); nd == nil || !nd.CanOwnViews() || !live.IsLive(o.To) || o.To == s.Node {
			to := placement.ViewOwner(cat, live, s.Node, nil)
			if to == 0 {
				return pgerr.NoViewOwner.New(o.View)
			}
			o.To = to
			if err := e.updateOp(ctx, o); err != nil {
				return err
			}
		}
		to := cat.NodeLabel(o.To)
		e0 := s.Epoch
		how = "replaying from the last checkpoint"
		if s.Checkpoint == nil {
			how = "starting from the view's start (it has no checkpoint yet)"
		}
		if from := cat.NodeByID(s.Node); from != nil && live.IsLive(from.ID) {
			final, err := e.handOff(ctx, o, v, e0)
			if errors.Is(err, errEpochMoved) {
				continue
			}
			if err != nil {
				return err
			}
			if final {
				how = "after the final checkpoint of " + from.Name
			}
		}
		if err := e.step(ctx, o, 0.6, "assigning to %s at epoch %d, %s", to, e0+1, how); err != nil {
			return err
		}
		_, err := e.c.Propose(ctx, &catalog.AssignView{View: v.Name, ViewID: v.ID, Node: o.To, Epoch: e0, At: e.clock.Now().UnixMicro()})
		var pe *pgerr.Error
		if errors.As(err, &pe) && pe.Code == pgerr.CheckpointFenced.Code {
			continue // another assignment won: look again
		}
		if err != nil {
			return err
		}
		epoch = e0 + 1
	}
	return e.waitViewRunning(ctx, o, epoch, how)
}

// errEpochMoved: the view's epoch changed while a move waited.
var errEpochMoved = errors.New("the view's epoch moved on")

// handOff asks the owner at epoch ep to hand view v off and waits for
// its final checkpoint. final is false when the wait ended without one
// (the owner stopped being live, or the timeout passed): the move then
// assigns anyway and the new owner replays.
func (e *Executor) handOff(ctx context.Context, o *catalog.Operation, v *catalog.View, ep uint64) (final bool, err error) {
	from := e.c.Catalog().NodeLabel(v.Sched.Node)
	if !v.Sched.Handoff {
		if err := e.step(ctx, o, 0.1, "asking %s for a final checkpoint (epoch %d)", from, ep); err != nil {
			return false, err
		}
		_, err := e.c.Propose(ctx, &catalog.SetViewHandoff{View: v.Name, ViewID: v.ID, Epoch: ep})
		var pe *pgerr.Error
		if errors.As(err, &pe) && pe.Code == pgerr.CheckpointFenced.Code {
			return false, errEpochMoved
		}
		if err != nil {
			return false, err
		}
	}
	if err := e.step(ctx, o, 0.2, "waiting for the final checkpoint of %s (epoch %d)", from, ep); err != nil {
		return false, err
	}
	deadline := e.clock.Now().Add(e.t.ViewHandoffTimeout)
	for {
		cat := e.c.Catalog()
		cur := cat.Views[o.View]
		switch {
		case cur == nil || cur.Sched == nil || cur.ID != v.ID:
			return false, errEpochMoved // dropped: the next look finishes the operation
		case cur.Sched.Epoch != ep:
			return false, errEpochMoved
		case cur.Sched.Checkpoint != nil && cur.Sched.Checkpoint.Epoch == ep && cur.Sched.Checkpoint.Final:
			return true, nil
		case e.c.Live(cat).Of(cur.Sched.Node) != membership.Live:
			e.log.Info("scheduled view: owner stopped being live during its hand-off; assigning anyway", "view", o.View, "owner", from)
			return false, nil
		case e.clock.Now().After(deadline):
			e.log.Warn("scheduled view: no final checkpoint in time; assigning anyway (the new owner replays)", "view", o.View, "owner", from, "waited", e.t.ViewHandoffTimeout)
			return false, nil
		}
		if err := e.sleep(ctx, e.t.OpPoll); err != nil {
			return false, err
		}
	}
}

// waitViewRunning waits until the owner of epoch runs the view; how
// (maybe "") says how it took over, for the last step.
func (e *Executor) waitViewRunning(ctx context.Context, o *catalog.Operation, epoch uint64, how string) error {
	to := e.c.Catalog().NodeLabel(o.To)
	if how != "" {
		how = ", " + how
	}
	if err := e.step(ctx, o, 0.8, "waiting for %s to run the view (epoch %d)", to, epoch); err != nil {
		return err
	}
	probe, _ := e.c.(ViewProbe)
	deadline := e.clock.Now().Add(e.t.ViewStartTimeout)
	for {
		v := e.c.Catalog().Views[o.View]
		switch {
		case v == nil || v.Sched == nil:
			return e.step(ctx, o, 1, "view %q was dropped", o.View)
		case v.Sched.Epoch != epoch:
			// Assigned again since (its new owner failed too): that is
			// another decision's to follow.
			return e.step(ctx, o, 1, "assigned to %s at epoch %d; reassigned since (epoch %d)", to, epoch, v.Sched.Epoch)
		case v.Sched.Checkpoint != nil && v.Sched.Checkpoint.Epoch == epoch:
			return e.step(ctx, o, 1, "%s runs the view (checkpoint %d at epoch %d)%s", to, v.Sched.Checkpoint.Seq, epoch, how)
		}
		if probe != nil {
			pctx, cancel := context.WithTimeout(ctx, e.t.StatusCallTimeout)
			ok, err := probe.ViewRunning(pctx, o.To, o.View, epoch)
			cancel()
			if err == nil && ok {
				return e.step(ctx, o, 1, "%s runs the view (epoch %d)%s", to, epoch, how)
			}
		}
		if e.clock.Now().After(deadline) {
			return pgerr.ViewNotStarted.New(o.View, to, epoch, e.t.ViewStartTimeout)
		}
		if err := e.sleep(ctx, e.t.OpPoll); err != nil {
			return err
		}
	}
}

// scheduledRound records what scheduler.PlanScheduled decides: direct
// assignments of unowned views, and move_scheduled_view operations.
func (e *Executor) scheduledRound(ctx context.Context, in scheduler.Input) {
	p := scheduler.PlanScheduled(in)
	for _, a := range p.Assign {
		_, err := e.c.Propose(ctx, &catalog.AssignView{View: a.View, ViewID: a.ViewID, Node: a.Node, Epoch: a.Epoch, At: in.Now.UnixMicro()})
		if err != nil {
			e.log.Debug("scheduler: assign scheduled view", "view", a.View, "err", err)
			continue
		}
		e.log.Info("scheduled view assigned", "view", a.View, "node", in.Cat.NodeLabel(a.Node), "epoch", a.Epoch+1)
	}
	for _, o := range p.Ops {
		if _, err := e.createOp(ctx, o); err != nil {
			e.log.Debug("scheduler: create operation", "op", o.Type, "view", o.View, "err", err)
		}
	}
}

// ownedViews is how many scheduled views node id owns.
func ownedViews(cat *catalog.Catalog, id uint64) int {
	return cat.ScheduledCounts()[id]
}

// viewsLeft describes the scheduled views a leaving node still owns, for
// an operation's step ("" when none).
func viewsLeft(cat *catalog.Catalog, id uint64) string {
	n := ownedViews(cat, id)
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; %d scheduled views to hand off", n)
}

// viewWait is the longest a node operation waits for a node's scheduled
// views to be handed off on top of its own bound.
func (e *Executor) viewWait() time.Duration {
	return e.t.ViewHandoffTimeout + e.t.ViewStartTimeout
}
