package ops

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/clock"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/timing"
)

// fakeCluster is a cluster in memory: a catalog that commands apply to at
// once, and raft groups whose membership shard-admin actions change.
type fakeCluster struct {
	mu     sync.Mutex
	cat    *catalog.Catalog
	live   map[uint64]membership.State
	groups map[uint64]*rpc.ShardReply // by group id: the leader's view
	calls  []string                   // shard-admin actions, in order
	// failCreate: recording an operation on this group fails.
	failCreate uint64
	steps      []string // every step recorded by an operation update, in order
	// onStatus, if set, runs on every status of a group (with f.mu held)
	// and a learner added does not catch up by itself: the test moves it.
	onStatus func(g *rpc.ShardReply)
}

// stepLog returns the steps operations recorded, in order.
func (f *fakeCluster) stepLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.steps)
}

func (f *fakeCluster) Catalog() *catalog.Catalog {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cat
}

func (f *fakeCluster) Live(*catalog.Catalog) membership.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := membership.Snapshot{Self: 1, States: map[uint64]membership.State{}, Leaders: map[uint64]int{}}
	for id, st := range f.live {
		s.States[id] = st
	}
	return s
}

func (f *fakeCluster) Propose(_ context.Context, c catalog.Command) (*catalog.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if co, ok := c.(*catalog.CreateOperation); ok && co.Operation.Group != 0 && co.Operation.Group == f.failCreate {
		return nil, pgerr.New(pgerr.SerializationFailure, "no quorum for a moment")
	}
	if u, ok := c.(*catalog.UpdateOperation); ok {
		f.steps = append(f.steps, u.Operation.Step)
	}
	next, res := catalog.Apply(f.cat, c)
	if res.Err != nil {
		return nil, res.Err
	}
	f.cat = next
	return res, nil
}

func (f *fakeCluster) IsMetaLeader() bool   { return true }
func (f *fakeCluster) MetaVoters() []uint64 { return []uint64{1} }

func (f *fakeCluster) ShardAdmin(_ context.Context, gid uint64, action rpc.ShardAction, node uint64) (*rpc.ShardReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groups[gid]
	if g == nil {
		return nil, pgerr.New(pgerr.UndefinedObject, "no group %d", gid)
	}
	f.calls = append(f.calls, fmt.Sprintf("%s %d", action, node))
	switch action {
	case rpc.ShardStatus:
		if f.onStatus != nil {
			f.onStatus(g)
		}
	case rpc.ShardAddLearner:
		g.Learners = append(g.Learners, node)
		if f.onStatus == nil {
			g.Match[node] = g.Commit // catches up at once
		}
	case rpc.ShardPromote:
		g.Learners = slices.DeleteFunc(g.Learners, func(id uint64) bool { return id == node })
		g.Voters = append(g.Voters, node)
	case rpc.ShardTransfer:
		g.Leader = node
	case rpc.ShardRemove:
		g.Voters = slices.DeleteFunc(g.Voters, func(id uint64) bool { return id == node })
	default:
		return nil, fmt.Errorf("unexpected action %s", action)
	}
	cp := *g
	cp.Voters, cp.Learners = slices.Clone(g.Voters), slices.Clone(g.Learners)
	return &cp, nil
}

func (f *fakeCluster) ShardAdminAt(context.Context, uint64, rpc.ShardRequest) (*rpc.ShardReply, error) {
	return nil, fmt.Errorf("not used")
}
func (f *fakeCluster) WaitMetaLeader(time.Duration) error { return nil }

// LeadersOn says every node still leads a group: a drain never finishes.
func (f *fakeCluster) LeadersOn(context.Context, uint64) (int, error) {
	return 1, nil
}
func (f *fakeCluster) GroupStatus(context.Context) map[uint64]map[uint64]rpc.ReplicaStatus {
	return nil
}

// newFake is four live data nodes and one stream shard (group 2) on
// n1, n2 and n3, led by n3.
func newFake() *fakeCluster {
	cat := catalog.New()
	for i := uint64(1); i <= 4; i++ {
		cat.Nodes[fmt.Sprintf("n%d", i)] = &catalog.Node{ID: i, Name: fmt.Sprintf("n%d", i), Role: "data"}
	}
	cat.Streams["s"] = &catalog.Stream{ID: 1, Name: "s", Shards: 1, Replicas: 3, Nodes: [][]uint64{{1, 2, 3}}, Groups: []uint64{2}}
	cat.NextGroupID = 3
	return &fakeCluster{
		cat:    cat,
		live:   map[uint64]membership.State{1: membership.Live, 2: membership.Live, 3: membership.Live, 4: membership.Live},
		groups: map[uint64]*rpc.ShardReply{2: {Leader: 3, Commit: 100, Voters: []uint64{1, 2, 3}, Match: map[uint64]uint64{}}},
	}
}

func fastTiming() timing.Timing {
	return timing.Timing{CatchUpPoll: time.Millisecond, TransferPoll: time.Millisecond, OpPoll: time.Millisecond, StartupGrace: time.Hour}
}

// waitDone runs rounds until operation id is finished (at most 5 s).
func waitDone(t *testing.T, e *Executor, f *fakeCluster, id uint64) *catalog.Operation {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		e.Round()
		if o := f.Catalog().Ops[id]; o != nil && !o.Active() {
			return o
		}
	}
	t.Fatalf("operation %d did not finish: %+v", id, f.Catalog().Ops[id])
	return nil
}

// A dead node's replica is replaced: the round records the operation the
// scheduler decides, and the executor adds a learner on the target, promotes
// it, moves leadership off the dead replica and removes it, then drops it
// from the placement.
func TestReplaceDeadReplica(t *testing.T) {
	f := newFake()
	f.live[3] = membership.Dead
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := New(ctx, Config{Cluster: f, Timing: fastTiming(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer e.Wait()
	e.Round()
	var op *catalog.Operation
	for _, o := range f.Catalog().SortedOps() {
		op = o
	}
	if op == nil || op.Type != catalog.OpReplaceReplica || op.From != 3 || !op.Auto {
		t.Fatalf("the round recorded %+v, want an automatic replace_replica from node 3", op)
	}
	done := waitDone(t, e, f, op.ID)
	if done.Status != catalog.OpDone || done.To != 4 {
		t.Fatalf("operation ended %s (to %d, error %q), want done to node 4", done.Status, done.To, done.Error)
	}
	if nodes, _ := f.Catalog().ShardNodes(2); !slices.Equal(nodes, []uint64{1, 2, 4}) {
		t.Fatalf("placement %v, want [1 2 4]", nodes)
	}
	f.mu.Lock()
	calls := slices.Clone(f.calls)
	g := *f.groups[2]
	f.mu.Unlock()
	if !slices.Equal(g.Voters, []uint64{1, 2, 4}) || g.Leader != 4 {
		t.Fatalf("group voters %v leader %d, want [1 2 4] led by 4 (the leader was on the removed replica)", g.Voters, g.Leader)
	}
	want := []string{"add_learner 4", "promote 4", "transfer 4", "remove 3"}
	for _, w := range want {
		if !slices.Contains(calls, w) {
			t.Fatalf("shard-admin calls %v lack %q", calls, w)
		}
	}
	if i, j := slices.Index(calls, "promote 4"), slices.Index(calls, "remove 3"); i > j {
		t.Fatalf("removed the old replica before promoting the new one: %v", calls)
	}
}

// With auto_failover off, a round records nothing for a dead node, and an
// operator's cancel of a running operation ends it as cancelled.
func TestAutoFailoverOffAndCancel(t *testing.T) {
	f := newFake()
	f.live[3] = membership.Dead
	off := "off"
	if _, err := f.Propose(context.Background(), &catalog.SetSetting{Key: "auto_failover", Value: &off}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := New(ctx, Config{Cluster: f, Timing: fastTiming(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer e.Wait()
	e.Round()
	if n := len(f.Catalog().Ops); n != 0 {
		t.Fatalf("with auto_failover off a round recorded %d operations", n)
	}
	// An operator's drain of n2 waits for n2 to lead nothing; cancel it.
	o, err := e.Create(context.Background(), &catalog.Operation{Type: catalog.OpDrain, Target: "node n2", Node: "n2", To: 2})
	if err != nil {
		t.Fatal(err)
	}
	v := catalog.NodeDraining
	if _, err := f.Propose(context.Background(), &catalog.SetNodeState{Node: "n2", State: v}); err != nil {
		t.Fatal(err)
	}
	e.Round()
	cp := *f.Catalog().Ops[o.ID]
	cp.Status, cp.End = catalog.OpCancelled, time.Now().UnixMicro()
	if _, err := f.Propose(context.Background(), &catalog.UpdateOperation{Cancel: true, Operation: &cp}); err != nil {
		t.Fatal(err)
	}
	if got := waitDone(t, e, f, o.ID); got.Status != catalog.OpCancelled {
		t.Fatalf("cancelled drain ended %s", got.Status)
	}
}

// A round records at most Timing.MaxNewOps replica operations, counting
// those recorded: one that fails to record lets the next shard have its
// turn in the same round.
func TestRoundLimitCountsRecorded(t *testing.T) {
	f := newFake()
	var groups []uint64
	var placed [][]uint64
	for g := uint64(2); g < 8; g++ {
		groups = append(groups, g)
		placed = append(placed, []uint64{1, 2, 3})
	}
	f.cat.Streams["s"] = &catalog.Stream{ID: 1, Name: "s", Shards: len(groups), Replicas: 3, Nodes: placed, Groups: groups}
	f.cat.NextGroupID = 8
	f.live[3] = membership.Dead
	f.failCreate = 2
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // record only: nothing runs
	e := New(ctx, Config{Cluster: f, Timing: fastTiming(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	e.Round()
	e.Wait()
	var got []uint64
	for _, o := range f.Catalog().SortedOps() {
		if o.Type == catalog.OpReplaceReplica {
			got = append(got, o.Group)
		}
	}
	if !slices.Equal(got, []uint64{3, 4, 5, 6}) {
		t.Fatalf("operations recorded on groups %v, want [3 4 5 6] (4 per round, group 2's failed)", got)
	}
}

// The executor waits on its clock: a drain whose node keeps leading fails
// once DrainTimeout has passed on a manual clock, with no real wait (the
// timeout is retryable, so it fails after OpAttempts runs).
func TestDrainTimesOutOnItsClock(t *testing.T) {
	f := newFake()
	clk := clock.NewManual(time.Unix(1_000_000, 0))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := New(ctx, Config{Cluster: f, Clock: clk, Timing: timing.Timing{OpPoll: time.Second, DrainTimeout: 5 * time.Second, OpAttempts: 2, StartupGrace: time.Hour},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer e.Wait()
	if _, err := f.Propose(context.Background(), &catalog.SetNodeState{Node: "n2", State: catalog.NodeDraining}); err != nil {
		t.Fatal(err)
	}
	o, err := e.Create(context.Background(), &catalog.Operation{Type: catalog.OpDrain, Target: "node n2", Node: "n2", To: 2})
	if err != nil {
		t.Fatal(err)
	}
	e.Round()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		if cur := f.Catalog().Ops[o.ID]; !cur.Active() {
			if cur.Status != catalog.OpFailed || !strings.Contains(cur.Error, "still leads shards after 5s") {
				t.Fatalf("drain ended %s: %q", cur.Status, cur.Error)
			}
			if passed := clk.Now().Sub(time.Unix(1_000_000, 0)); passed < 5*time.Second {
				t.Fatalf("the drain gave up after %s on its clock, want at least 5s", passed)
			}
			return
		}
		clk.Advance(500 * time.Millisecond)
		e.Round() // runs the drain again after a retryable failure
	}
	t.Fatalf("the drain did not time out: %+v", f.Catalog().Ops[o.ID])
}
