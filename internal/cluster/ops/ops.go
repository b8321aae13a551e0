// Package ops executes cluster operations (cairn_cluster.operations):
// replacing a replica, moving a leader, draining, taking a node offline or
// decommissioning it, failing over to a node, rebalancing. It runs on the
// meta leader. Each round it asks the scheduler for new operations and
// starts the recorded ones (scheduler.Runnable); each operation is a
// catalog row moved forward in steps that check before they act, so a new
// meta leader simply runs every active operation again from the top. It
// acts on the cluster only through the Cluster interface it declares.
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/clock"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/cluster/placement"
	"github.com/cairndb/cairn/internal/cluster/scheduler"
	"github.com/cairndb/cairn/internal/errkind"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/timing"
)

// Meta is the meta group and liveness, as the executor needs them (the
// node's member implements it).
type Meta interface {
	// Catalog is the current catalog (read-only); Live the liveness of its
	// nodes as this node sees them.
	Catalog() *catalog.Catalog
	Live(cat *catalog.Catalog) membership.Snapshot
	// Propose applies a catalog change through the meta group.
	Propose(ctx context.Context, c catalog.Command) (*catalog.Result, error)
	// IsMetaLeader reports whether this node leads the meta group;
	// MetaVoters are the meta group's voters.
	IsMetaLeader() bool
	MetaVoters() []uint64
	// WaitMetaLeader waits up to timeout until the meta group has a leader.
	WaitMetaLeader(timeout time.Duration) error
}

// Shards reaches the replicas of data groups on any node (the node's
// router implements it).
type Shards interface {
	// ShardAdmin runs a shard action at group gid's leader.
	ShardAdmin(ctx context.Context, gid uint64, action rpc.ShardAction, node uint64) (*rpc.ShardReply, error)
	// ShardAdminAt runs a shard action on node id's replica of the group.
	ShardAdminAt(ctx context.Context, id uint64, req rpc.ShardRequest) (*rpc.ShardReply, error)
	// LeadersOn counts the groups node id leads, asking it.
	LeadersOn(ctx context.Context, id uint64) (int, error)
	// GroupStatus asks every live node for its replicas' raft state:
	// node id -> group id -> status.
	GroupStatus(ctx context.Context) map[uint64]map[uint64]rpc.ReplicaStatus
}

// Cluster is everything the executor acts through.
type Cluster interface {
	Meta
	Shards
}

// Parts joins a Meta and a Shards into a Cluster.
type Parts struct {
	Meta
	Shards
}

// Config configures an Executor.
type Config struct {
	Cluster Cluster
	Clock   clock.Clock
	Timing  timing.Timing
	Logger  *slog.Logger
	// Started is when this process started (no automatic rebalance
	// within Timing.StartupGrace of it).
	Started time.Time
}

// Executor runs the operations of the cluster while this node leads the
// meta group.
type Executor struct {
	c       Cluster
	clock   clock.Clock
	t       timing.Timing
	log     *slog.Logger
	started time.Time
	ctx     context.Context // ends when the node stops
	wg      sync.WaitGroup  // running operations
	wake    chan struct{}

	mu struct {
		sync.Mutex
		running map[uint64]context.CancelFunc // operations running here
		// lastRebalance is when this node last started an automatic
		// rebalance, so an imbalance it cannot fix is not retried in a loop.
		lastRebalance time.Time
		attempts      map[uint64]int // retryable failures per operation
	}
}

// New returns an executor whose operations stop when ctx ends.
func New(ctx context.Context, cfg Config) *Executor {
	e := &Executor{c: cfg.Cluster, clock: cfg.Clock, t: cfg.Timing.WithDefaults(), log: cfg.Logger, started: cfg.Started, ctx: ctx, wake: make(chan struct{}, 1)}
	if e.clock == nil {
		e.clock = clock.Real{}
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.mu.running = map[uint64]context.CancelFunc{}
	e.mu.attempts = map[uint64]int{}
	return e
}

// Poke asks for a round soon (an operation was recorded or changed).
func (e *Executor) Poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Wake fires when a round is asked for.
func (e *Executor) Wake() <-chan struct{} { return e.wake }

// Wait waits for the running operations to end (after ctx ended).
func (e *Executor) Wait() { e.wg.Wait() }

// Create records a new operation and returns it (with its id).
func (e *Executor) Create(ctx context.Context, o *catalog.Operation) (*catalog.Operation, error) {
	return e.createOp(ctx, o)
}

// retry counts an attempt of operation id and reports whether another is allowed.
func (e *Executor) retry(id uint64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mu.attempts[id]++
	return e.mu.attempts[id] < e.t.OpAttempts
}

// liveness is node nd's liveness as this node sees it.
func (e *Executor) liveness(nd *catalog.Node) string {
	return string(e.c.Live(e.c.Catalog()).Of(nd.ID))
}

// state is the operator's state of nd if one is set, else its liveness.
func (e *Executor) state(nd *catalog.Node) string {
	if nd.State != "" {
		return nd.State
	}
	return e.liveness(nd)
}

// errOpCancelled is returned by steps of an operation an operator cancelled.
var errOpCancelled = errors.New("operation cancelled")

// runOps starts the active operations not yet running here, when this
// node leads the meta group, and stops them all when it does not.
func (e *Executor) runOps() {
	r := &e.mu
	r.Lock()
	defer r.Unlock()
	if r.running == nil {
		r.running = map[uint64]context.CancelFunc{}
	}
	if !e.c.IsMetaLeader() {
		for id, cancel := range r.running {
			cancel()
			delete(r.running, id)
		}
		return
	}
	running := map[uint64]bool{}
	for id := range r.running {
		running[id] = true
	}
	for _, o := range scheduler.Runnable(e.c.Catalog(), running, e.t.MaxMoves) {
		ctx, cancel := context.WithCancel(e.ctx)
		r.running[o.ID] = cancel
		op := *o
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			e.execOp(ctx, &op)
			r.Lock()
			if r.running[op.ID] != nil {
				r.running[op.ID]()
				delete(r.running, op.ID)
			}
			r.Unlock()
		}()
	}
}

// execOp runs one operation to its end and records the outcome.
func (e *Executor) execOp(ctx context.Context, o *catalog.Operation) {
	if o.Status == catalog.OpPending {
		o.Status = catalog.OpRunning
		if err := e.updateOp(ctx, o); err != nil {
			return
		}
	}
	e.log.Info("operation running", "op", o.String(), "step", o.Step)

	var err error
	switch o.Type {
	case catalog.OpReplaceReplica:
		err = e.execReplace(ctx, o)
	case catalog.OpTransferLeader:
		err = e.execTransfer(ctx, o)
	case catalog.OpNodeOffline, catalog.OpDecommission:
		err = e.execEvacuate(ctx, o)
	case catalog.OpDrain:
		err = e.execDrain(ctx, o)
	case catalog.OpNodeRecover:
		err = e.execRecoverNode(ctx, o)
	case catalog.OpFailover:
		err = e.execFailover(ctx, o)
	case catalog.OpRebalance:
		err = e.execRebalance(ctx, o)
	case catalog.OpMoveScheduledView:
		err = e.execMoveView(ctx, o) // scheduled.go
	default:
		err = fmt.Errorf("unknown operation type %q", o.Type)
	}
	if ctx.Err() != nil || errors.Is(err, errOpCancelled) {
		// Leadership lost or node stopping: the next meta leader resumes
		// it. Cancelled: the cancel already recorded the outcome.
		return
	}
	if err != nil && pgerr.IsKind(err, errkind.Retryable) && e.retry(o.ID) {
		// Retryable (a leader change, no quorum for a moment): the
		// operation stays active and the next scheduler round runs it
		// again from the top, up to opAttempts times.
		e.log.Info("operation hit a retryable error; will run it again", "op", o.String(), "err", err)
		return
	}
	o.End = e.clock.Now().UnixMicro()
	if err != nil {
		o.Status, o.Error = catalog.OpFailed, pgerr.From(err).Message
		e.log.Warn("operation failed", "op", o.String(), "err", err)
	} else {
		if o.Progress < 1 {
			o.Step = "done"
		}
		o.Status, o.Progress = catalog.OpDone, 1
		e.log.Info("operation done", "op", o.String())
	}
	_ = e.updateOp(ctx, o)
}

// updateOp records o's status, progress and step. It returns
// errOpCancelled when an operator cancelled the operation meanwhile.
func (e *Executor) updateOp(ctx context.Context, o *catalog.Operation) error {
	cp := *o
	_, err := e.c.Propose(ctx, &catalog.UpdateOperation{Operation: &cp})
	var pe *pgerr.Error
	if errors.As(err, &pe) && (pe.Code == pgerr.OperationFinished.Code || pe.Code == pgerr.OperationNotFound.Code) {
		return errOpCancelled
	}
	return err
}

// step records progress and the current step.
func (e *Executor) step(ctx context.Context, o *catalog.Operation, progress float64, format string, args ...any) error {
	o.Progress, o.Step = progress, fmt.Sprintf(format, args...)
	return e.updateOp(ctx, o)
}

// createOp records a new operation and returns it (with its id).
func (e *Executor) createOp(ctx context.Context, o *catalog.Operation) (*catalog.Operation, error) {
	o.Start = e.clock.Now().UnixMicro()
	if !o.Active() && o.End < o.Start {
		o.End = o.Start
	}
	res, err := e.c.Propose(ctx, &catalog.CreateOperation{Operation: o})
	if err != nil {
		return nil, err
	}
	e.Poke()
	return res.Operation, nil
}

// setPlacement proposes a new replica list for a group.
func (e *Executor) setPlacement(ctx context.Context, gid uint64, nodes []uint64, added uint64) error {
	_, err := e.c.Propose(ctx, &catalog.SetPlacement{Group: gid, Nodes: nodes, Added: added})
	return err
}

// sleep waits d on the executor's clock, or until ctx ends.
func (e *Executor) sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-e.clock.After(d):
		return nil
	}
}

// execReplace adds a replica on o.To (picking one if unset), catches it up
// as a learner, promotes it, then removes the replica on o.From (if any).
func (e *Executor) execReplace(ctx context.Context, o *catalog.Operation) error {
	nodes, ok := e.c.Catalog().ShardNodes(o.Group)
	if !ok {
		return e.step(ctx, o, 1, "the shard was dropped; nothing to do")
	}
	if o.To == 0 {
		cat := e.c.Catalog()
		o.To = placement.TargetFor(cat, e.c.Live(cat), o.Group, nodes, o.From)
		if o.To == 0 {
			return pgerr.NoReplacementNode.New(o.Group, e.c.Catalog().NodeNames(nodes))
		}
		if err := e.updateOp(ctx, o); err != nil {
			return err
		}
	}
	promoted := false
	err := e.replaceSteps(ctx, o, &promoted)
	if errors.Is(err, errOpCancelled) && !promoted {
		// Undo the half-added replica: it never voted.
		rctx, cancel := context.WithTimeout(e.ctx, e.t.UndoTimeout)
		defer cancel()
		if _, rerr := e.c.ShardAdmin(rctx, o.Group, rpc.ShardRemove, o.To); rerr == nil {
			if cur, ok := e.c.Catalog().ShardNodes(o.Group); ok && slices.Contains(cur, o.To) && o.From != 0 {
				_ = e.setPlacement(rctx, o.Group, slices.DeleteFunc(slices.Clone(cur), func(id uint64) bool { return id == o.To }), 0)
			}
		}
	}
	return err
}

func (e *Executor) replaceSteps(ctx context.Context, o *catalog.Operation, promoted *bool) error {
	to := e.c.Catalog().NodeLabel(o.To)
	nodes, _ := e.c.Catalog().ShardNodes(o.Group)
	if !slices.Contains(nodes, o.To) {
		if err := e.step(ctx, o, 0.05, "placing a replica on %s", to); err != nil {
			return err
		}
		if err := e.setPlacement(ctx, o.Group, append(slices.Clone(nodes), o.To), o.To); err != nil {
			return err
		}
	}
	rep, err := e.c.ShardAdmin(ctx, o.Group, rpc.ShardStatus, 0)
	if err != nil {
		return err
	}
	if !rep.IsMember(o.To) {
		if err := e.step(ctx, o, 0.1, "adding a learner on %s", to); err != nil {
			return err
		}
		if rep, err = e.c.ShardAdmin(ctx, o.Group, rpc.ShardAddLearner, o.To); err != nil {
			return err
		}
	}
	if !rep.IsVoter(o.To) {
		// Catch up: the learner is sent a snapshot, then the log.
		target := rep.Commit
		if err := e.step(ctx, o, 0.15, "catching up %s to index %d", to, target); err != nil {
			return err
		}
		deadline := e.clock.Now().Add(e.t.MoveTimeout)
		lastReport := e.clock.Now()
		for {
			if e.clock.Now().After(deadline) {
				return pgerr.CatchUpTimeout.New(to, e.t.MoveTimeout)
			}
			if err := e.sleep(ctx, e.t.CatchUpPoll); err != nil {
				return err
			}
			rep, err = e.c.ShardAdmin(ctx, o.Group, rpc.ShardStatus, 0)
			if err != nil {
				return err
			}
			m := rep.Match[o.To]
			if m >= target {
				break
			}
			if e.clock.Now().Sub(lastReport) > e.t.ProgressEvery {
				lastReport = e.clock.Now()
				frac, what := float64(m)/float64(max(target, 1)), fmt.Sprintf("index %d of %d", m, target)
				if sp, ok := snapshotTo(rep, o.To); ok {
					// A snapshot is streaming: its bytes are the progress.
					frac, what = float64(sp.Sent)/float64(max(sp.Total, 1)), fmt.Sprintf("snapshot %s of %s", byteSize(sp.Sent), byteSize(sp.Total))
				}
				if err := e.step(ctx, o, 0.15+0.7*min(frac, 1), "catching up %s: %s", to, what); err != nil {
					return err
				}
			}
		}
		if err := e.step(ctx, o, 0.85, "promoting %s to voter", to); err != nil {
			return err
		}
		if rep, err = e.c.ShardAdmin(ctx, o.Group, rpc.ShardPromote, o.To); err != nil {
			return err
		}
	}
	*promoted = true
	if o.From != 0 {
		from := e.c.Catalog().NodeLabel(o.From)
		if err := e.step(ctx, o, 0.9, "removing the replica on %s", from); err != nil {
			return err
		}
		for i := 0; rep.Leader == o.From && i < 50; i++ {
			// The leader cannot remove itself: hand leadership to the new replica.
			if _, err := e.c.ShardAdmin(ctx, o.Group, rpc.ShardTransfer, o.To); err != nil {
				return err
			}
			if err := e.sleep(ctx, e.t.TransferPoll); err != nil {
				return err
			}
			if rep, err = e.c.ShardAdmin(ctx, o.Group, rpc.ShardStatus, 0); err != nil {
				return err
			}
		}
		if rep.IsMember(o.From) {
			if _, err := e.c.ShardAdmin(ctx, o.Group, rpc.ShardRemove, o.From); err != nil {
				return err
			}
		}
		cur, _ := e.c.Catalog().ShardNodes(o.Group)
		if slices.Contains(cur, o.From) {
			if err := e.setPlacement(ctx, o.Group, slices.DeleteFunc(slices.Clone(cur), func(id uint64) bool { return id == o.From }), 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// execTransfer moves a shard's leadership to o.To.
func (e *Executor) execTransfer(ctx context.Context, o *catalog.Operation) error {
	for attempt := 1; attempt <= 5; attempt++ {
		if err := e.step(ctx, o, 0.5, "asking the leader to hand over (attempt %d)", attempt); err != nil {
			return err
		}
		rep, err := e.c.ShardAdmin(ctx, o.Group, rpc.ShardTransfer, o.To)
		if err != nil {
			return err
		}
		for i := 0; i < 30; i++ {
			if rep.Leader == o.To {
				return nil
			}
			if err := e.sleep(ctx, e.t.TransferPoll); err != nil {
				return err
			}
			if rep, err = e.c.ShardAdmin(ctx, o.Group, rpc.ShardStatus, 0); err != nil {
				return err
			}
		}
	}
	return pgerr.LeaderHandoffFailed.New(o.Group, e.c.Catalog().NodeLabel(o.To))
}

// execEvacuate waits until every replica on an offline or decommissioning
// node has been replaced (the scheduler makes one replace_replica
// operation per shard) and, for a decommission, until it left the meta
// group; then marks a decommissioned node so.
func (e *Executor) execEvacuate(ctx context.Context, o *catalog.Operation) error {
	for i := 0; ; i++ {
		cat := e.c.Catalog()
		nd := cat.Nodes[o.Node]
		if nd == nil {
			return nil // removed meanwhile
		}
		if !nd.Evacuating() {
			return pgerr.EvacuationStopped.New(o.Node, e.state(nd))
		}
		// Replicas to move and scheduled views to hand off (scheduled.go).
		left := cat.ReplicaCounts()[nd.ID] + ownedViews(cat, nd.ID)
		if o.Total == 0 && left > 0 {
			o.Total = left
		}
		inMeta := false // a decommissioned node stops voting (it keeps a learner copy until removed)
		if o.Type == catalog.OpDecommission {
			inMeta = slices.Contains(e.c.MetaVoters(), nd.ID)
		}
		if left == 0 && !inMeta {
			if o.Type == catalog.OpDecommission {
				v := catalog.NodeDecommissioned
				if _, err := e.c.Propose(ctx, &catalog.SetNodeState{Node: o.Node, State: v}); err != nil {
					return err
				}
			}
			return nil
		}
		if i%4 == 0 {
			p := 0.0
			if o.Total > 0 {
				p = float64(o.Total-left) / float64(o.Total) * 0.95
			}
			msg := fmt.Sprintf("%d of %d replicas and scheduled views moved off", o.Total-left, o.Total)
			if cat.ReplicaCounts()[nd.ID] > 0 && placement.Target(cat, e.c.Live(cat), nil) == 0 {
				msg += "; waiting: no other live data node can take them"
			} else if left == 0 {
				msg += "; leaving the meta group's voters"
			}
			if err := e.step(ctx, o, p, "%s", msg); err != nil {
				return err
			}
		}
		if err := e.sleep(ctx, e.t.OpPoll); err != nil {
			return err
		}
	}
}

// execDrain waits until the draining node leads nothing (it hands its
// leaders away itself, see balanceLeaders) and owns no scheduled view
// (the scheduler hands them off, scheduled.go), for at most
// DrainTimeout (plus a view hand-off's bounds when it owns views).
func (e *Executor) execDrain(ctx context.Context, o *catalog.Operation) error {
	nd := e.c.Catalog().Nodes[o.Node]
	if nd == nil {
		return pgerr.NodeNotFound.New(o.Node)
	}
	timeout := e.t.DrainTimeout
	if ownedViews(e.c.Catalog(), nd.ID) > 0 {
		timeout += e.viewWait()
	}
	deadline := e.clock.Now().Add(timeout)
	for i := 0; e.clock.Now().Before(deadline); i++ {
		cat := e.c.Catalog()
		if cur := cat.Nodes[o.Node]; cur == nil || cur.State != catalog.NodeDraining {
			return pgerr.NoLongerDraining.New(o.Node)
		}
		led, err := e.c.LeadersOn(ctx, nd.ID)
		if err == nil {
			views := ownedViews(cat, nd.ID)
			if o.Total == 0 {
				o.Total = max(led+views, 1)
			}
			if led == 0 && views == 0 {
				return nil
			}
			if i%4 == 0 {
				// Progress never goes back, though elections may hand the
				// node a leadership again before it passes it on.
				p := max(o.Progress, float64(o.Total-min(led+views, o.Total))/float64(o.Total)*0.95)
				if err := e.step(ctx, o, p, "%d leaders left to move%s", led, viewsLeft(cat, nd.ID)); err != nil {
					return err
				}
			}
		}
		if err := e.sleep(ctx, e.t.OpPoll); err != nil {
			return err
		}
	}
	if n := ownedViews(e.c.Catalog(), nd.ID); n > 0 {
		return pgerr.StillOwnsViews.New(o.Node, n, timeout)
	}
	return pgerr.StillLeading.New(o.Node, timeout)
}

// execRecoverNode waits until the recovered node is live again.
func (e *Executor) execRecoverNode(ctx context.Context, o *catalog.Operation) error {
	deadline := e.clock.Now().Add(e.t.RecoverTimeout)
	for i := 0; e.clock.Now().Before(deadline); i++ {
		nd := e.c.Catalog().Nodes[o.Node]
		if nd == nil {
			return pgerr.NodeNotFound.New(o.Node)
		}
		if e.liveness(nd) == "live" {
			return nil
		}
		if i == 0 {
			if err := e.step(ctx, o, 0.5, "waiting for node %q to heartbeat (it is %s)", o.Node, e.liveness(nd)); err != nil {
				return err
			}
		}
		if err := e.sleep(ctx, e.t.OpPoll); err != nil {
			return err
		}
	}
	return pgerr.NodeNotBack.New(o.Node, e.t.RecoverTimeout)
}

// execFailover waits until the preferred node leads every shard it holds
// a voting replica of (the nodes hand leadership to it, see
// balanceLeaders), for at most a minute.
func (e *Executor) execFailover(ctx context.Context, o *catalog.Operation) error {
	deadline := e.clock.Now().Add(e.t.FailoverTimeout)
	for i := 0; ; i++ {
		all := e.c.GroupStatus(ctx)
		theirs := all[o.To]
		total, led := 0, 0
		for _, r := range theirs {
			if r.Role == "learner" {
				continue
			}
			total++
			if r.Role == "leader" {
				led++
			}
		}
		if total > 0 && led == total {
			return nil
		}
		if e.clock.Now().After(deadline) {
			return pgerr.LeaderBalanceTimeout.New(e.c.Catalog().NodeLabel(o.To), led, total, e.t.FailoverTimeout)
		}
		if i%2 == 0 && total > 0 {
			if err := e.step(ctx, o, float64(led)/float64(total), "%s leads %d of %d shards", e.c.Catalog().NodeLabel(o.To), led, total); err != nil {
				return err
			}
		}
		if err := e.sleep(ctx, e.t.FailoverPoll); err != nil {
			return err
		}
	}
}

// rebalanceMoves bounds the moves of one rebalance.
const rebalanceMoves = 64

// execRebalance moves replicas from the fullest live data node to the
// emptiest, one shard at a time (each a replace_replica operation), until
// they differ by at most one.
func (e *Executor) execRebalance(ctx context.Context, o *catalog.Operation) error {
	for moves := 0; moves < rebalanceMoves; moves++ {
		cat := e.c.Catalog()
		live := e.c.Live(cat)
		m, ok := placement.RebalanceMove(cat, live)
		if !ok {
			return e.step(ctx, o, 1, "balanced after %d moves", moves)
		}
		from, to, gid := m.From, m.To, m.Group
		if o.Total == 0 {
			o.Total = placement.RebalanceEstimate(cat, live)
		}
		if err := e.step(ctx, o, float64(moves)/float64(max(o.Total, moves+1)), "move %d: shard %d from %s to %s", moves+1, gid, e.c.Catalog().NodeLabel(from), e.c.Catalog().NodeLabel(to)); err != nil {
			return err
		}
		child, err := e.createOp(ctx, &catalog.Operation{Type: catalog.OpReplaceReplica, Target: cat.GroupTarget(gid), Group: gid, From: from, To: to, Auto: true})
		if err != nil {
			return err
		}
		if err := e.waitOp(ctx, child.ID, e.t.MoveTimeout); err != nil {
			return err
		}
	}
	return nil
}

// waitOp waits until operation id finishes; an error if it did not succeed.
func (e *Executor) waitOp(ctx context.Context, id uint64, timeout time.Duration) error {
	deadline := e.clock.Now().Add(timeout)
	for e.clock.Now().Before(deadline) {
		o := e.c.Catalog().Ops[id]
		if o == nil {
			return pgerr.OperationVanished.New(id)
		}
		switch o.Status {
		case catalog.OpDone:
			return nil
		case catalog.OpFailed, catalog.OpCancelled:
			return pgerr.OperationEnded.New(id, o.Status, o.Error)
		}
		if err := e.sleep(ctx, e.t.CatchUpPoll); err != nil {
			return err
		}
	}
	return pgerr.OperationTimeout.New(id, timeout)
}

// ---- the scheduler ----

// schedule runs on the meta leader: it starts the recorded operations
// (scheduler.Runnable) and records the new ones a round decides
// (scheduler.Plan): replacing replicas on dead nodes and on nodes an
// operator took out, filling under-replicated shards, and rebalancing.
// Round runs one scheduler round: it starts (or, on a node that no longer
// leads the meta group, stops) the executors, then records the new
// operations scheduler.Plan decides.
func (e *Executor) Round() {
	e.runOps()
	if !e.c.IsMetaLeader() {
		return
	}
	cat := e.c.Catalog()
	e.mu.Lock()
	last := e.mu.lastRebalance
	e.mu.Unlock()
	in := scheduler.Input{
		Cat: cat, Live: e.c.Live(cat), Now: e.clock.Now(), Started: e.started, LastRebalance: last,
		Settings: scheduler.Settings{
			AutoFailover: cat.SettingOn("auto_failover"), AutoRebalance: cat.SettingOn("auto_rebalance"),
			RebalanceCooldown: e.t.RebalanceCooldown, StartupGrace: e.t.StartupGrace,
			// Every candidate: the limit counts operations recorded, so
			// one that fails to record lets the next shard have its turn.
			MaxNewOps: math.MaxInt,
		},
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.t.MetaProposeTimeout)
	defer cancel()
	created := 0
	for _, o := range scheduler.Plan(in) {
		replace := o.Type == catalog.OpReplaceReplica
		if replace && created >= e.t.MaxNewOps {
			continue
		}
		if o.Type == catalog.OpRebalance {
			e.mu.Lock()
			e.mu.lastRebalance = in.Now
			e.mu.Unlock()
		}
		if _, err := e.createOp(ctx, o); err != nil {
			e.log.Debug("scheduler: create operation", "op", o.Type, "err", err)
		} else if replace {
			created++
		}
	}
	e.scheduledRound(ctx, in) // scheduled.go
}
