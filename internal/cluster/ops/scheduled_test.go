package ops

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/timing"
)

// viewFake is the fake cluster with a compute node (c5) and scheduled
// views, and a drain that waits for nothing but the views (no node leads
// a group).
type viewFake struct {
	*fakeCluster
}

func (f *viewFake) LeadersOn(context.Context, uint64) (int, error) { return 0, nil }

// probing is a viewFake that answers the executor's ViewProbe: a node
// runs a view when the catalog says it owns it at that epoch.
type probing struct{ *viewFake }

func (p probing) ViewRunning(_ context.Context, node uint64, view string, epoch uint64) (bool, error) {
	v := p.Catalog().Views[view]
	return v != nil && v.Sched != nil && v.Sched.Node == node && v.Sched.Epoch == epoch, nil
}

// newViewFake adds compute node c5 and scheduled views (name → owner
// raft id, 0: none) to newFake's cluster; each owned one is at epoch 1
// with a committed checkpoint.
func newViewFake(views map[string]uint64) *viewFake {
	f := newFake()
	f.cat.Nodes["c5"] = &catalog.Node{ID: 5, Name: "c5", Role: "compute"}
	f.live[5] = membership.Live
	f.cat.Disks = map[string]*catalog.Disk{"d": {Name: "d", Type: catalog.DiskFile, Path: "/x"}}
	id := uint64(10)
	for name, owner := range views {
		s := &catalog.Scheduled{Disk: "d", IntervalMS: 1000, Node: owner}
		if owner != 0 {
			s.Epoch = 1
			s.Checkpoint = &catalog.ViewCheckpoint{Epoch: 1, Seq: 3, Key: "k", Offsets: []uint64{7}}
		}
		f.cat.Views[name] = &catalog.View{ID: id, Name: name, Kind: "materialized", Stream: "s", Shards: 1, Replicas: 1, Sched: s}
		id++
	}
	return &viewFake{fakeCluster: f}
}

// fakeOwners plays the owner runtime of nodes: an owner asked to hand a
// view off records a Final checkpoint at its epoch (when final is set);
// a new owner records a checkpoint at its epoch. It stops with ctx.
func fakeOwners(ctx context.Context, f *fakeCluster, final bool, nodes ...uint64) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for deadline := time.Now().Add(10 * time.Second); ctx.Err() == nil && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			for _, v := range f.Catalog().ScheduledViews() {
				s := v.Sched
				mine := false
				for _, id := range nodes {
					mine = mine || s.Node == id
				}
				if !mine {
					continue
				}
				seq := uint64(1)
				if s.Checkpoint != nil {
					seq = s.Checkpoint.Seq + 1
				}
				ck := &catalog.ViewCheckpoint{Epoch: s.Epoch, Seq: seq, Key: "k2", Offsets: []uint64{9}}
				switch {
				case s.Handoff && final && (s.Checkpoint == nil || !s.Checkpoint.Final || s.Checkpoint.Epoch != s.Epoch):
					ck.Final = true
				case !s.Handoff && (s.Checkpoint == nil || s.Checkpoint.Epoch != s.Epoch):
				default:
					continue
				}
				_, _ = f.Propose(ctx, &catalog.RecordCheckpoint{View: v.Name, ViewID: v.ID, Node: s.Node, Checkpoint: ck})
			}
		}
	}()
	return &wg
}

func viewTiming() timing.Timing {
	t := fastTiming()
	t.ViewHandoffTimeout, t.ViewStartTimeout, t.DrainTimeout = 5*time.Second, 5*time.Second, 5*time.Second
	return t
}

func newExec(ctx context.Context, c Cluster, t timing.Timing) *Executor {
	return New(ctx, Config{Cluster: c, Timing: t, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// onlyOp returns the one operation of type typ recorded, failing otherwise.
func onlyOp(t *testing.T, f *fakeCluster, typ string) *catalog.Operation {
	t.Helper()
	var found []*catalog.Operation
	for _, o := range f.Catalog().SortedOps() {
		if o.Type == typ {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s operations recorded, want 1: %+v", len(found), typ, found)
	}
	return found[0]
}

// An unowned scheduled view is assigned directly (no operation) to the
// compute node; the round records nothing else.
func TestAssignUnownedView(t *testing.T) {
	f := newViewFake(map[string]uint64{"v": 0})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newExec(ctx, f, viewTiming())
	defer e.Wait()
	e.Round()
	v := f.Catalog().Views["v"]
	if v.Sched.Node != 5 || v.Sched.Epoch != 1 || v.Sched.AssignedAt == 0 {
		t.Fatalf("view v: owner %d epoch %d assigned at %d, want c5 (5) at epoch 1", v.Sched.Node, v.Sched.Epoch, v.Sched.AssignedAt)
	}
	if n := len(f.Catalog().Ops); n != 0 {
		t.Fatalf("an assignment of an unowned view recorded %d operations", n)
	}
}

// A dead owner's view moves at once (no hand-off: nothing to ask), as a
// move_scheduled_view operation from the dead node; the new owner's epoch
// fences the old one; a view on another node does not move.
func TestMoveViewFromDeadOwner(t *testing.T) {
	f := newViewFake(map[string]uint64{"v": 5, "w": 2})
	f.live[5] = membership.Dead
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newExec(ctx, probing{f}, viewTiming())
	defer e.Wait()
	e.Round()
	o := onlyOp(t, f.fakeCluster, catalog.OpMoveScheduledView)
	if o.View != "v" || o.From != 5 || o.To != 1 || !o.Auto || o.Target != "view v" {
		t.Fatalf("recorded %+v, want an automatic move of view v from 5 to 1", o)
	}
	done := waitDone(t, e, f.fakeCluster, o.ID)
	if done.Status != catalog.OpDone || !strings.Contains(done.Step, "runs the view (epoch 2), replaying from the last checkpoint") {
		t.Fatalf("move ended %s at step %q (error %q)", done.Status, done.Step, done.Error)
	}
	v := f.Catalog().Views["v"]
	if v.Sched.Node != 1 || v.Sched.Epoch != 2 || v.Sched.Handoff {
		t.Fatalf("view v: owner %d epoch %d handoff %v, want node 1 at epoch 2", v.Sched.Node, v.Sched.Epoch, v.Sched.Handoff)
	}
	if w := f.Catalog().Views["w"]; w.Sched.Node != 2 || w.Sched.Epoch != 1 {
		t.Fatalf("view w moved too: owner %d epoch %d", w.Sched.Node, w.Sched.Epoch)
	}
	// The old owner is fenced: its checkpoint at epoch 1 is refused.
	_, err := f.Propose(ctx, &catalog.RecordCheckpoint{View: "v", ViewID: v.ID, Node: 5, Checkpoint: &catalog.ViewCheckpoint{Epoch: 1, Seq: 99}})
	if err == nil || !strings.Contains(err.Error(), "no longer current") {
		t.Fatalf("a stale owner's checkpoint: %v, want it fenced", err)
	}
}

// Draining a live owner hands its view off: the move asks for a final
// checkpoint, the owner records it, and only then is the view assigned
// (nothing replayed); the new owner's first checkpoint ends the move;
// the drain ends once the node owns no view.
func TestDrainHandsViewsOff(t *testing.T) {
	f := newViewFake(map[string]uint64{"v": 5})
	f.cat.Nodes["c6"] = &catalog.Node{ID: 6, Name: "c6", Role: "compute"}
	f.live[6] = membership.Live
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	owners := fakeOwners(ctx, f.fakeCluster, true, 5, 6)
	defer owners.Wait()
	defer cancel()
	e := newExec(ctx, f, viewTiming())
	defer e.Wait()
	if _, err := f.Propose(ctx, &catalog.SetNodeState{Node: "c5", State: catalog.NodeDraining}); err != nil {
		t.Fatal(err)
	}
	drain, err := e.Create(ctx, &catalog.Operation{Type: catalog.OpDrain, Target: "node c5", Node: "c5", To: 5})
	if err != nil {
		t.Fatal(err)
	}
	e.Round()
	mv := onlyOp(t, f.fakeCluster, catalog.OpMoveScheduledView)
	if mv.From != 5 || mv.To != 6 {
		t.Fatalf("move %+v, want from c5 to c6 (compute first)", mv)
	}
	done := waitDone(t, e, f.fakeCluster, mv.ID)
	if done.Status != catalog.OpDone || !strings.Contains(done.Step, `after the final checkpoint of c5`) {
		t.Fatalf("move ended %s at %q: %q", done.Status, done.Step, done.Error)
	}
	v := f.Catalog().Views["v"]
	if v.Sched.Node != 6 || v.Sched.Epoch != 2 || v.Sched.Handoff {
		t.Fatalf("view v: owner %d epoch %d handoff %v, want c6 at epoch 2", v.Sched.Node, v.Sched.Epoch, v.Sched.Handoff)
	}
	if ck := v.Sched.Checkpoint; ck == nil || ck.Epoch != 2 {
		t.Fatalf("checkpoint %+v, want the new owner's at epoch 2", ck)
	}
	d := waitDone(t, e, f.fakeCluster, drain.ID)
	if d.Status != catalog.OpDone {
		t.Fatalf("drain ended %s: %q", d.Status, d.Error)
	}
	if d.End < v.Sched.AssignedAt {
		t.Fatalf("the drain ended (%d) before the view was handed off (%d)", d.End, v.Sched.AssignedAt)
	}
}

// Taking a live owner offline hands its view off too; the assignment
// step says it came after the owner's final checkpoint.
func TestHandoffAssignsAfterFinal(t *testing.T) {
	f := newViewFake(map[string]uint64{"v": 5})
	f.cat.Nodes["c5"].State = catalog.NodeOffline
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	owners := fakeOwners(ctx, f.fakeCluster, true, 5, 1)
	defer owners.Wait()
	defer cancel()
	e := newExec(ctx, f, viewTiming())
	defer e.Wait()
	e.Round()
	mv := onlyOp(t, f.fakeCluster, catalog.OpMoveScheduledView)
	done := waitDone(t, e, f.fakeCluster, mv.ID)
	if done.Status != catalog.OpDone {
		t.Fatalf("move ended %s: %q", done.Status, done.Error)
	}
	assigned := false
	for _, st := range f.stepLog() {
		if strings.Contains(st, "assigning to") {
			if !strings.Contains(st, "after the final checkpoint of c5") {
				t.Fatalf("assignment step %q, want it after c5's final checkpoint", st)
			}
			assigned = true
		}
	}
	if !assigned {
		t.Fatalf("no assignment step among %q", f.stepLog())
	}
}

// An owner that never writes its final checkpoint is replaced after
// ViewHandoffTimeout anyway: the new owner replays from the last
// committed checkpoint.
func TestHandoffTimesOut(t *testing.T) {
	f := newViewFake(map[string]uint64{"v": 5})
	f.cat.Nodes["c5"].State = catalog.NodeOffline
	tm := viewTiming()
	tm.ViewHandoffTimeout = 30 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newExec(ctx, probing{f}, tm)
	defer e.Wait()
	start := time.Now()
	e.Round()
	mv := onlyOp(t, f.fakeCluster, catalog.OpMoveScheduledView)
	done := waitDone(t, e, f.fakeCluster, mv.ID)
	if done.Status != catalog.OpDone {
		t.Fatalf("move ended %s: %q", done.Status, done.Error)
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Fatalf("assigned before the hand-off timeout")
	}
	var assign string
	for _, st := range f.stepLog() {
		if strings.Contains(st, "assigning to") {
			assign = st
		}
	}
	if !strings.Contains(assign, "replaying from the last checkpoint") {
		t.Fatalf("assignment step %q, want a replay (steps %q)", assign, f.stepLog())
	}
	if v := f.Catalog().Views["v"]; v.Sched.Node != 1 || v.Sched.Epoch != 2 {
		t.Fatalf("view v: owner %d epoch %d, want node 1 at epoch 2", v.Sched.Node, v.Sched.Epoch)
	}
}

// A new owner that never runs the view fails the move after
// ViewStartTimeout, with a message naming the view, the node and the
// epoch.
func TestMoveFailsWhenNewOwnerNeverRuns(t *testing.T) {
	f := newViewFake(map[string]uint64{"v": 5})
	f.live[5] = membership.Dead
	tm := viewTiming()
	tm.ViewStartTimeout = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newExec(ctx, f, tm)
	defer e.Wait()
	e.Round()
	mv := onlyOp(t, f.fakeCluster, catalog.OpMoveScheduledView)
	done := waitDone(t, e, f.fakeCluster, mv.ID)
	if done.Status != catalog.OpFailed || !strings.Contains(done.Error, `view "v" was assigned to node "n1" at epoch 2`) {
		t.Fatalf("move ended %s: %q", done.Status, done.Error)
	}
}

// A move resumed after the view was dropped finishes with nothing to do;
// a second move of the same view is refused while one is active.
func TestMoveViewDroppedAndBusy(t *testing.T) {
	f := newViewFake(map[string]uint64{"v": 5})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newExec(ctx, f, viewTiming())
	defer e.Wait()
	o, err := e.Create(ctx, &catalog.Operation{Type: catalog.OpMoveScheduledView, Target: "view v", View: "v", From: 5, To: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Create(ctx, &catalog.Operation{Type: catalog.OpMoveScheduledView, Target: "view v", View: "v", From: 5, To: 2}); err == nil || !strings.Contains(err.Error(), "is being moved by operation") {
		t.Fatalf("a second move of view v: %v, want it refused", err)
	}
	if _, err := f.Propose(ctx, &catalog.DropViews{Names: []string{"v"}}); err != nil {
		t.Fatal(err)
	}
	done := waitDone(t, e, f.fakeCluster, o.ID)
	if done.Status != catalog.OpDone || !strings.Contains(done.Step, "was dropped") {
		t.Fatalf("move of a dropped view ended %s at %q", done.Status, done.Step)
	}
}

// A move resumed by a new meta leader picks up where the old one
// stopped: the hand-off was already asked for and the final checkpoint
// is there, so it assigns at once without asking again; a move whose
// view already belongs to To only waits for it to run.
func TestMoveViewResumes(t *testing.T) {
	f := newViewFake(map[string]uint64{"v": 5, "w": 5})
	f.cat.Nodes["c5"].State = catalog.NodeDraining
	v := f.cat.Views["v"]
	v.Sched.Handoff = true
	v.Sched.Checkpoint = &catalog.ViewCheckpoint{Epoch: 1, Seq: 4, Key: "k", Offsets: []uint64{8}, Final: true}
	w := f.cat.Views["w"]
	w.Sched.Node, w.Sched.Epoch = 1, 2 // the old leader assigned w to n1 already
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newExec(ctx, probing{f}, viewTiming())
	defer e.Wait()
	mv, err := e.Create(ctx, &catalog.Operation{Type: catalog.OpMoveScheduledView, Target: "view v", View: "v", From: 5, To: 1, Status: catalog.OpRunning})
	if err != nil {
		t.Fatal(err)
	}
	mw, err := e.Create(ctx, &catalog.Operation{Type: catalog.OpMoveScheduledView, Target: "view w", View: "w", From: 5, To: 1, Status: catalog.OpRunning})
	if err != nil {
		t.Fatal(err)
	}
	if d := waitDone(t, e, f.fakeCluster, mv.ID); d.Status != catalog.OpDone || !strings.Contains(d.Step, "after the final checkpoint of c5") {
		t.Fatalf("move of v ended %s at %q: %q", d.Status, d.Step, d.Error)
	}
	if d := waitDone(t, e, f.fakeCluster, mw.ID); d.Status != catalog.OpDone {
		t.Fatalf("move of w ended %s: %q", d.Status, d.Error)
	}
	for _, st := range f.stepLog() {
		if strings.Contains(st, "asking") {
			t.Fatalf("a resumed move asked for the hand-off again: %q", f.stepLog())
		}
	}
	cat := f.Catalog()
	if cat.Views["v"].Sched.Node != 1 || cat.Views["v"].Sched.Epoch != 2 || cat.Views["w"].Sched.Epoch != 2 {
		t.Fatalf("v at %d epoch %d, w epoch %d; want v on n1 at epoch 2 and w untouched at 2",
			cat.Views["v"].Sched.Node, cat.Views["v"].Sched.Epoch, cat.Views["w"].Sched.Epoch)
	}
}

// Decommissioning a compute node that owns a view: the view is handed
// off, and only then is the node marked decommissioned.
func TestDecommissionHandsViewsOff(t *testing.T) {
	f := newViewFake(map[string]uint64{"v": 5})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	owners := fakeOwners(ctx, f.fakeCluster, true, 5, 1)
	defer owners.Wait()
	defer cancel()
	e := newExec(ctx, f, viewTiming())
	defer e.Wait()
	if _, err := f.Propose(ctx, &catalog.SetNodeState{Node: "c5", State: catalog.NodeDecommissioning}); err != nil {
		t.Fatal(err)
	}
	o, err := e.Create(ctx, &catalog.Operation{Type: catalog.OpDecommission, Target: "node c5", Node: "c5", To: 5})
	if err != nil {
		t.Fatal(err)
	}
	d := waitDone(t, e, f.fakeCluster, o.ID)
	cat := f.Catalog()
	if d.Status != catalog.OpDone || cat.Nodes["c5"].State != catalog.NodeDecommissioned {
		t.Fatalf("decommission ended %s (%q), node state %q", d.Status, d.Error, cat.Nodes["c5"].State)
	}
	if v := cat.Views["v"]; v.Sched.Node != 1 || d.End < v.Sched.AssignedAt {
		t.Fatalf("view v on %d (assigned %d, decommission ended %d), want moved to n1 first", v.Sched.Node, v.Sched.AssignedAt, d.End)
	}
}
