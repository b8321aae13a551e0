package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/errkind"
	"github.com/cairndb/cairn/internal/pgerr"
)

// Cluster operations. The scheduler (on the meta leader) turns desired
// state into operations: a replica on a dead or evacuated node is replaced,
// an under-replicated shard gets a replica, uneven nodes are rebalanced.
// Operators add their own (ALTER NODE/SHARD/SYSTEM). Every operation is a
// catalog row; the executor on the meta leader runs the active ones, and a
// new meta leader resumes them: each step checks the state it wants before
// acting, so running it twice is harmless.

// rpcShardAdmin asks a replica for its group's raft state, or its leader
// to change membership or leadership.
const rpcShardAdmin = "shard_admin"

type shardAdminRequest struct {
	Group  uint64      `json:"group"`
	Action shardAction `json:"action"`
	Node   uint64      `json:"node,omitempty"`
}

// shardAction is what a shard_admin request asks of a replica; its value
// is the wire form. handleShardAdmin handles every one.
type shardAction string

// The shard actions. Status, force and destroy act on the replica asked;
// the others on the group's leader, for the replica on Node.
const (
	shardStatus     shardAction = "status"      // report the raft state and what the replica holds
	shardForce      shardAction = "force"       // unsafe recovery: this replica becomes the only voter
	shardDestroy    shardAction = "destroy"     // delete a replica left out by a forced recovery
	shardTransfer   shardAction = "transfer"    // move leadership to Node
	shardAddLearner shardAction = "add_learner" // add Node as a learner
	shardPromote    shardAction = "promote"     // make learner Node a voter
	shardRemove     shardAction = "remove"      // remove Node from the group
)

type shardAdminReply struct {
	Leader    uint64            `json:"leader"`
	Term      uint64            `json:"term"`
	Commit    uint64            `json:"commit"`
	Applied   uint64            `json:"applied"`
	Voters    []uint64          `json:"voters"`
	Learners  []uint64          `json:"learners"`
	Match     map[uint64]uint64 `json:"match,omitempty"`
	NotLeader bool              `json:"not_leader,omitempty"`
	Holds     string            `json:"holds,omitempty"` // status and force: what the replica's state machine holds
}

func (r *shardAdminReply) isVoter(id uint64) bool   { return slices.Contains(r.Voters, id) }
func (r *shardAdminReply) isLearner(id uint64) bool { return slices.Contains(r.Learners, id) }
func (r *shardAdminReply) isMember(id uint64) bool  { return r.isVoter(id) || r.isLearner(id) }

// handleShardAdmin serves rpcShardAdmin on this node.
func (n *Node) handleShardAdmin(ctx context.Context, req *shardAdminRequest) (*shardAdminReply, error) {
	st, ok := n.store.Status(req.Group)
	if !ok {
		return nil, pgerr.NoReplicaOnNode.New(n.cfg.NodeID, req.Group)
	}
	rep := &shardAdminReply{Leader: st.Leader, Term: st.Term, Commit: st.Commit, Applied: st.Applied, Voters: st.Voters, Learners: st.Learners, Match: st.Match}
	switch req.Action {
	case shardStatus:
		rep.Holds = n.holds(req.Group)
		return rep, nil
	case shardForce:
		// Unsafe recovery (FORCE RECOVER … CONFIRM DATA LOSS): this replica
		// becomes the group's only voter.
		rep.Holds = n.holds(req.Group)
		fr, err := n.store.ForceSoleVoter(req.Group)
		if err != nil {
			return nil, storeErr(err)
		}
		n.log.Warn("FORCED RECOVERY: this replica is now the only voter of its group; entries the lost replicas alone had are gone",
			"group", req.Group, "applied", fr.Applied, "commit", fr.Commit, "last_index", fr.LastIndex, "old_voters", fr.OldVoters)
		rep.Applied, rep.Commit, rep.Voters = fr.Applied, fr.Commit, fr.OldVoters
		return rep, nil
	case shardDestroy:
		// A replica left out by a forced recovery: its log may disagree with
		// the survivor's, so it is deleted (re-added later from a snapshot).
		if req.Group == catalog.MetaGroupID {
			return nil, n.resetMeta()
		}
		if st.IsLeader {
			return nil, pgerr.DestroyLeader.New(req.Group, n.cfg.NodeID)
		}
		n.mu.Lock()
		g := n.mu.groups[req.Group]
		delete(n.mu.groups, req.Group)
		n.mu.Unlock()
		if g != nil && g.stop != nil {
			g.stop()
			<-g.done
		}
		if err := n.store.DestroyGroup(req.Group); err != nil {
			return nil, storeErr(err)
		}
		n.log.Warn("destroyed a replica left out by a forced recovery", "group", req.Group)
		return rep, nil
	}
	if !st.IsLeader {
		rep.NotLeader = true
		return rep, nil
	}
	var change *pb.ConfChangeSingle
	switch req.Action {
	case shardTransfer:
		if st.Leader == req.Node {
			return rep, nil
		}
		if !rep.isVoter(req.Node) {
			return nil, pgerr.NotAVoter.New(n.nodeName(req.Node), req.Group)
		}
		if err := n.store.TransferLeader(req.Group, req.Node); err != nil {
			return nil, storeErr(err)
		}
		return rep, nil
	case shardAddLearner:
		if rep.isMember(req.Node) {
			return rep, nil
		}
		change = &pb.ConfChangeSingle{Type: pb.ConfChangeAddLearnerNode.Enum(), NodeId: new(req.Node)}
	case shardPromote:
		if rep.isVoter(req.Node) {
			return rep, nil
		}
		if !rep.isLearner(req.Node) {
			return nil, pgerr.NotALearner.New(n.nodeName(req.Node), req.Group)
		}
		change = &pb.ConfChangeSingle{Type: pb.ConfChangeAddNode.Enum(), NodeId: new(req.Node)}
	case shardRemove:
		if !rep.isMember(req.Node) {
			return rep, nil
		}
		if req.Node == n.id.RaftID {
			// Leadership came back here (an election, say) after the caller
			// moved it off: hand it on and let the caller retry.
			if to := n.leastLoadedVoter(n.meta.Catalog(), st.Voters); to != 0 {
				_ = n.store.TransferLeader(req.Group, to)
			}
			return nil, pgerr.RemoveLeaderRetry.New(req.Group)
		}
		change = &pb.ConfChangeSingle{Type: pb.ConfChangeRemoveNode.Enum(), NodeId: new(req.Node)}
	default:
		return nil, pgerr.UnknownShardAction.New(req.Action)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := n.store.ProposeConfChange(cctx, req.Group, &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{change}}); err != nil {
		return nil, storeErr(err)
	}
	st, _ = n.store.Status(req.Group)
	rep.Voters, rep.Learners, rep.Commit = st.Voters, st.Learners, st.Commit
	return rep, nil
}

// callNode calls an internal method on node id, or on this node directly.
func (n *Node) callNode(ctx context.Context, id uint64, method string, req any) ([]byte, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if id == n.id.RaftID {
		return n.HandleRPC(ctx, method, body)
	}
	return n.tr.Call(ctx, id, method, body)
}

func (n *Node) shardAdminAt(ctx context.Context, id uint64, req shardAdminRequest) (*shardAdminReply, error) {
	cctx, cancel := context.WithTimeout(ctx, 12*time.Second)
	defer cancel()
	out, err := n.callNode(cctx, id, rpcShardAdmin, req)
	if err != nil {
		return nil, err
	}
	var rep shardAdminReply
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, pgerr.BadReply.New("shard_admin", err)
	}
	return &rep, nil
}

// shardAdmin runs a shard action at the group's leader, finding it through
// the replicas the catalog places (and this node's own view), retrying
// for up to 15 s while the group elects a leader.
func (n *Node) shardAdmin(ctx context.Context, gid uint64, action shardAction, node uint64) (*shardAdminReply, error) {
	deadline := time.Now().Add(15 * time.Second)
	var lastErr error
	var leader uint64
	for attempt := 0; time.Now().Before(deadline) && attempt < 100; attempt++ {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if leader == 0 {
			leader = n.findLeader(ctx, gid)
		}
		if leader != 0 {
			rep, err := n.shardAdminAt(ctx, leader, shardAdminRequest{Group: gid, Action: action, Node: node})
			switch {
			case err == nil && !rep.NotLeader:
				return rep, nil
			case err == nil:
				leader, lastErr = rep.Leader, fmt.Errorf("%s no longer leads shard %d", n.nodeName(leader), gid)
				continue
			default:
				var pe *pgerr.Error
				if errors.As(err, &pe) && pe.Code == pgerr.ObjectNotInPrerequisiteState {
					return nil, err
				}
				leader, lastErr = 0, err
			}
		} else {
			lastErr = fmt.Errorf("shard %d has no leader (no quorum of its replicas is reachable)", gid)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil, pgerr.ShardAdminFailed.New(gid, lastErr)
}

// findLeader asks this node and the shard's replicas who leads group gid.
func (n *Node) findLeader(ctx context.Context, gid uint64) uint64 {
	if st, ok := n.store.Status(gid); ok && st.Leader != 0 {
		return st.Leader
	}
	nodes, _ := n.meta.Catalog().ShardNodes(gid)
	if gid == catalog.MetaGroupID {
		nodes = nil
		for _, nd := range n.meta.Catalog().SortedNodes() {
			nodes = append(nodes, nd.ID)
		}
	}
	for _, id := range nodes {
		if id == n.id.RaftID {
			continue
		}
		if nd := n.meta.Catalog().NodeByID(id); nd == nil || n.liveness(nd) == "dead" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		rep, err := n.shardAdminAt(cctx, id, shardAdminRequest{Group: gid, Action: shardStatus})
		cancel()
		if err == nil && rep.Leader != 0 {
			return rep.Leader
		}
	}
	return 0
}

// bareName is a node's name, or #id for one the catalog lacks.
func (n *Node) bareName(id uint64) string {
	if nd := n.meta.Catalog().NodeByID(id); nd != nil {
		return nd.Name
	}
	return fmt.Sprintf("#%d", id)
}

// nodeName names a raft id for messages.
func (n *Node) nodeName(id uint64) string {
	if nd := n.meta.Catalog().NodeByID(id); nd != nil {
		return fmt.Sprintf("node %q", nd.Name)
	}
	return fmt.Sprintf("node #%d", id)
}

// ---- the executor ----

// opRunner tracks the operations this node (as meta leader) is running.
type opRunner struct {
	mu      sync.Mutex
	running map[uint64]context.CancelFunc
	// lastRebalance is when the scheduler last started an automatic
	// rebalance, so an imbalance it cannot fix is not retried in a loop.
	lastRebalance time.Time
	attempts      map[uint64]int // retryable failures per operation
}

// opAttempts bounds how often this node runs one operation again after
// retryable errors before recording it failed.
const opAttempts = 5

// retry counts an attempt of operation id and reports whether another is allowed.
func (r *opRunner) retry(id uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.attempts == nil {
		r.attempts = map[uint64]int{}
	}
	r.attempts[id]++
	return r.attempts[id] < opAttempts
}

// maxConcurrentMoves bounds replica moves running at once, so that
// snapshots do not starve ingest.
const maxConcurrentMoves = 2

// errOpCancelled is returned by steps of an operation an operator cancelled.
var errOpCancelled = errors.New("operation cancelled")

func (n *Node) isMetaLeader() bool {
	st, ok := n.store.Status(catalog.MetaGroupID)
	return ok && st.IsLeader
}

// runOps starts the active operations not yet running here, when this
// node leads the meta group, and stops them all when it does not.
func (n *Node) runOps() {
	r := &n.ops
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == nil {
		r.running = map[uint64]context.CancelFunc{}
	}
	if !n.isMetaLeader() {
		for id, cancel := range r.running {
			cancel()
			delete(r.running, id)
		}
		return
	}
	cat := n.meta.Catalog()
	moves := 0
	for id := range r.running {
		if o := cat.Ops[id]; o != nil && o.Type == catalog.OpReplaceReplica {
			moves++
		}
	}
	for _, o := range cat.SortedOps() {
		if !o.Active() || r.running[o.ID] != nil {
			continue
		}
		if o.Type == catalog.OpReplaceReplica {
			if moves >= maxConcurrentMoves {
				continue
			}
			moves++
		}
		ctx, cancel := context.WithCancel(n.ctx)
		r.running[o.ID] = cancel
		op := *o
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.execOp(ctx, &op)
			r.mu.Lock()
			if r.running[op.ID] != nil {
				r.running[op.ID]()
				delete(r.running, op.ID)
			}
			r.mu.Unlock()
		}()
	}
}

// execOp runs one operation to its end and records the outcome.
func (n *Node) execOp(ctx context.Context, o *catalog.Operation) {
	if o.Status == catalog.OpPending {
		o.Status = catalog.OpRunning
		if err := n.updateOp(ctx, o); err != nil {
			return
		}
	}
	n.log.Info("operation running", "op", o.String(), "step", o.Step)
	var err error
	switch o.Type {
	case catalog.OpReplaceReplica:
		err = n.execReplace(ctx, o)
	case catalog.OpTransferLeader:
		err = n.execTransfer(ctx, o)
	case catalog.OpNodeOffline, catalog.OpDecommission:
		err = n.execEvacuate(ctx, o)
	case catalog.OpDrain:
		err = n.execDrain(ctx, o)
	case catalog.OpNodeRecover:
		err = n.execRecoverNode(ctx, o)
	case catalog.OpFailover:
		err = n.execFailover(ctx, o)
	case catalog.OpRebalance:
		err = n.execRebalance(ctx, o)
	default:
		err = fmt.Errorf("unknown operation type %q", o.Type)
	}
	if ctx.Err() != nil || errors.Is(err, errOpCancelled) {
		// Leadership lost or node stopping: the next meta leader resumes
		// it. Cancelled: the cancel already recorded the outcome.
		return
	}
	if err != nil && pgerr.IsKind(err, errkind.Retryable) && n.ops.retry(o.ID) {
		// Retryable (a leader change, no quorum for a moment): the
		// operation stays active and the next scheduler round runs it
		// again from the top, up to opAttempts times.
		n.log.Info("operation hit a retryable error; will run it again", "op", o.String(), "err", err)
		return
	}
	o.End = time.Now().UnixMicro()
	if err != nil {
		o.Status, o.Error = catalog.OpFailed, pgerr.From(err).Message
		n.log.Warn("operation failed", "op", o.String(), "err", err)
	} else {
		if o.Progress < 1 {
			o.Step = "done"
		}
		o.Status, o.Progress = catalog.OpDone, 1
		n.log.Info("operation done", "op", o.String())
	}
	_ = n.updateOp(ctx, o)
}

// updateOp records o's status, progress and step. It returns
// errOpCancelled when an operator cancelled the operation meanwhile.
func (n *Node) updateOp(ctx context.Context, o *catalog.Operation) error {
	cp := *o
	_, err := n.proposeMeta(ctx, &catalog.UpdateOperation{Operation: &cp})
	var pe *pgerr.Error
	if errors.As(err, &pe) && (pe.Code == pgerr.OperationFinished.Code || pe.Code == pgerr.OperationNotFound.Code) {
		return errOpCancelled
	}
	return err
}

// step records progress and the current step.
func (n *Node) step(ctx context.Context, o *catalog.Operation, progress float64, format string, args ...any) error {
	o.Progress, o.Step = progress, fmt.Sprintf(format, args...)
	return n.updateOp(ctx, o)
}

// createOp records a new operation and returns it (with its id).
func (n *Node) createOp(ctx context.Context, o *catalog.Operation) (*catalog.Operation, error) {
	o.Start = time.Now().UnixMicro()
	if !o.Active() && o.End < o.Start {
		o.End = o.Start
	}
	res, err := n.proposeMeta(ctx, &catalog.CreateOperation{Operation: o})
	if err != nil {
		return nil, err
	}
	n.pokeOps()
	return res.Operation, nil
}

func (n *Node) pokeOps() {
	select {
	case n.opsCh <- struct{}{}:
	default:
	}
}

// setPlacement proposes a new replica list for a group.
func (n *Node) setPlacement(ctx context.Context, gid uint64, nodes []uint64, added uint64) error {
	_, err := n.proposeMeta(ctx, &catalog.SetPlacement{Group: gid, Nodes: nodes, Added: added})
	return err
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// moveTimeout bounds one replica move (a snapshot of a large shard).
const moveTimeout = 30 * time.Minute

// execReplace adds a replica on o.To (picking one if unset), catches it up
// as a learner, promotes it, then removes the replica on o.From (if any).
func (n *Node) execReplace(ctx context.Context, o *catalog.Operation) error {
	nodes, ok := n.meta.Catalog().ShardNodes(o.Group)
	if !ok {
		return n.step(ctx, o, 1, "the shard was dropped; nothing to do")
	}
	if o.To == 0 {
		o.To = n.pickTarget(n.meta.Catalog(), nodes)
		if o.To == 0 {
			return pgerr.NoReplacementNode.New(o.Group, n.nodeNames(nodes))
		}
		if err := n.updateOp(ctx, o); err != nil {
			return err
		}
	}
	promoted := false
	err := n.replaceSteps(ctx, o, &promoted)
	if errors.Is(err, errOpCancelled) && !promoted {
		// Undo the half-added replica: it never voted.
		rctx, cancel := context.WithTimeout(n.ctx, 20*time.Second)
		defer cancel()
		if _, rerr := n.shardAdmin(rctx, o.Group, shardRemove, o.To); rerr == nil {
			if cur, ok := n.meta.Catalog().ShardNodes(o.Group); ok && slices.Contains(cur, o.To) && o.From != 0 {
				_ = n.setPlacement(rctx, o.Group, slices.DeleteFunc(slices.Clone(cur), func(id uint64) bool { return id == o.To }), 0)
			}
		}
	}
	return err
}

func (n *Node) replaceSteps(ctx context.Context, o *catalog.Operation, promoted *bool) error {
	to := n.nodeName(o.To)
	nodes, _ := n.meta.Catalog().ShardNodes(o.Group)
	if !slices.Contains(nodes, o.To) {
		if err := n.step(ctx, o, 0.05, "placing a replica on %s", to); err != nil {
			return err
		}
		if err := n.setPlacement(ctx, o.Group, append(slices.Clone(nodes), o.To), o.To); err != nil {
			return err
		}
	}
	rep, err := n.shardAdmin(ctx, o.Group, shardStatus, 0)
	if err != nil {
		return err
	}
	if !rep.isMember(o.To) {
		if err := n.step(ctx, o, 0.1, "adding a learner on %s", to); err != nil {
			return err
		}
		if rep, err = n.shardAdmin(ctx, o.Group, shardAddLearner, o.To); err != nil {
			return err
		}
	}
	if !rep.isVoter(o.To) {
		// Catch up: the learner is sent a snapshot, then the log.
		target := rep.Commit
		if err := n.step(ctx, o, 0.15, "catching up %s to index %d", to, target); err != nil {
			return err
		}
		deadline := time.Now().Add(moveTimeout)
		lastReport := time.Now()
		for {
			if time.Now().After(deadline) {
				return pgerr.CatchUpTimeout.New(to, moveTimeout)
			}
			if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
				return err
			}
			rep, err = n.shardAdmin(ctx, o.Group, shardStatus, 0)
			if err != nil {
				return err
			}
			m := rep.Match[o.To]
			if m >= target {
				break
			}
			if time.Since(lastReport) > time.Second {
				lastReport = time.Now()
				if err := n.step(ctx, o, 0.15+0.7*float64(m)/float64(max(target, 1)), "catching up %s: index %d of %d", to, m, target); err != nil {
					return err
				}
			}
		}
		if err := n.step(ctx, o, 0.85, "promoting %s to voter", to); err != nil {
			return err
		}
		if rep, err = n.shardAdmin(ctx, o.Group, shardPromote, o.To); err != nil {
			return err
		}
	}
	*promoted = true
	if o.From != 0 {
		from := n.nodeName(o.From)
		if err := n.step(ctx, o, 0.9, "removing the replica on %s", from); err != nil {
			return err
		}
		for i := 0; rep.Leader == o.From && i < 50; i++ {
			// The leader cannot remove itself: hand leadership to the new replica.
			if _, err := n.shardAdmin(ctx, o.Group, shardTransfer, o.To); err != nil {
				return err
			}
			if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
				return err
			}
			if rep, err = n.shardAdmin(ctx, o.Group, shardStatus, 0); err != nil {
				return err
			}
		}
		if rep.isMember(o.From) {
			if _, err := n.shardAdmin(ctx, o.Group, shardRemove, o.From); err != nil {
				return err
			}
		}
		cur, _ := n.meta.Catalog().ShardNodes(o.Group)
		if slices.Contains(cur, o.From) {
			if err := n.setPlacement(ctx, o.Group, slices.DeleteFunc(slices.Clone(cur), func(id uint64) bool { return id == o.From }), 0); err != nil {
				return err
			}
		}
	}
	return nil
}

// pickTarget chooses a live data node for a new replica of a shard now
// on nodes: one not holding it, in a zone the shard does not use yet if
// possible, with the fewest replicas. 0 if none.
func (n *Node) pickTarget(cat *catalog.Catalog, nodes []uint64) uint64 {
	counts := cat.ReplicaCounts()
	zones := map[string]bool{}
	for _, id := range nodes {
		if nd := cat.NodeByID(id); nd != nil && nd.Zone != "" {
			zones[nd.Zone] = true
		}
	}
	var best *catalog.Node
	for _, nd := range cat.SortedNodes() {
		if slices.Contains(nodes, nd.ID) || !nd.Placeable() || n.liveness(nd) != "live" {
			continue
		}
		if best == nil {
			best = nd
			continue
		}
		az, bz := nd.Zone != "" && zones[nd.Zone], best.Zone != "" && zones[best.Zone]
		if az != bz {
			if !az {
				best = nd
			}
			continue
		}
		if counts[nd.ID] < counts[best.ID] {
			best = nd
		}
	}
	if best == nil {
		return 0
	}
	return best.ID
}

func (n *Node) nodeNames(ids []uint64) string {
	var names []string
	for _, id := range ids {
		if nd := n.meta.Catalog().NodeByID(id); nd != nil {
			names = append(names, nd.Name)
		} else {
			names = append(names, fmt.Sprintf("#%d", id))
		}
	}
	sort.Strings(names)
	return fmt.Sprint(names)
}

// execTransfer moves a shard's leadership to o.To.
func (n *Node) execTransfer(ctx context.Context, o *catalog.Operation) error {
	for attempt := 1; attempt <= 5; attempt++ {
		if err := n.step(ctx, o, 0.5, "asking the leader to hand over (attempt %d)", attempt); err != nil {
			return err
		}
		rep, err := n.shardAdmin(ctx, o.Group, shardTransfer, o.To)
		if err != nil {
			return err
		}
		for i := 0; i < 30; i++ {
			if rep.Leader == o.To {
				return nil
			}
			if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
				return err
			}
			if rep, err = n.shardAdmin(ctx, o.Group, shardStatus, 0); err != nil {
				return err
			}
		}
	}
	return pgerr.LeaderHandoffFailed.New(o.Group, n.nodeName(o.To))
}

// execEvacuate waits until every replica on an offline or decommissioning
// node has been replaced (the scheduler makes one replace_replica
// operation per shard) and, for a decommission, until it left the meta
// group; then marks a decommissioned node so.
func (n *Node) execEvacuate(ctx context.Context, o *catalog.Operation) error {
	for i := 0; ; i++ {
		cat := n.meta.Catalog()
		nd := cat.Nodes[o.Node]
		if nd == nil {
			return nil // removed meanwhile
		}
		if !nd.Evacuating() {
			return pgerr.EvacuationStopped.New(o.Node, n.state(nd))
		}
		left := cat.ReplicaCounts()[nd.ID]
		if o.Total == 0 && left > 0 {
			o.Total = left
		}
		inMeta := false // a decommissioned node stops voting (it keeps a learner copy until removed)
		if o.Type == catalog.OpDecommission {
			if st, ok := n.store.Status(catalog.MetaGroupID); ok {
				inMeta = slices.Contains(st.Voters, nd.ID)
			}
		}
		if left == 0 && !inMeta {
			if o.Type == catalog.OpDecommission {
				v := catalog.NodeDecommissioned
				if _, err := n.proposeMeta(ctx, &catalog.SetNodeState{Node: o.Node, State: v}); err != nil {
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
			msg := fmt.Sprintf("%d of %d replicas moved off", o.Total-left, o.Total)
			if left > 0 && n.pickTarget(cat, nil) == 0 {
				msg += "; waiting: no other live data node can take them"
			} else if left == 0 {
				msg += "; leaving the meta group's voters"
			}
			if err := n.step(ctx, o, p, "%s", msg); err != nil {
				return err
			}
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
}

// leadersOn counts the groups (meta included) node id leads, asking it.
func (n *Node) leadersOn(ctx context.Context, id uint64) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := n.callNode(cctx, id, rpcNodeGroups, nil)
	if err != nil {
		return 0, err
	}
	var m map[uint64]replicaStatus
	if err := json.Unmarshal(out, &m); err != nil {
		return 0, err
	}
	c := 0
	for _, r := range m {
		if r.Role == "leader" {
			c++
		}
	}
	return c, nil
}

// execDrain waits until the draining node leads nothing (it hands its
// leaders away itself, see balanceLeaders), for at most a minute.
func (n *Node) execDrain(ctx context.Context, o *catalog.Operation) error {
	nd := n.meta.Catalog().Nodes[o.Node]
	if nd == nil {
		return pgerr.NodeNotFound.New(o.Node)
	}
	deadline := time.Now().Add(time.Minute)
	for i := 0; time.Now().Before(deadline); i++ {
		if cur := n.meta.Catalog().Nodes[o.Node]; cur == nil || cur.State != catalog.NodeDraining {
			return pgerr.NoLongerDraining.New(o.Node)
		}
		led, err := n.leadersOn(ctx, nd.ID)
		if err == nil {
			if o.Total == 0 {
				o.Total = max(led, 1)
			}
			if led == 0 {
				return nil
			}
			if i%4 == 0 {
				// Progress never goes back, though elections may hand the
				// node a leadership again before it passes it on.
				p := max(o.Progress, float64(o.Total-min(led, o.Total))/float64(o.Total)*0.95)
				if err := n.step(ctx, o, p, "%d leaders left to move", led); err != nil {
					return err
				}
			}
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
	return pgerr.StillLeading.New(o.Node)
}

// execRecoverNode waits until the recovered node is live again.
func (n *Node) execRecoverNode(ctx context.Context, o *catalog.Operation) error {
	deadline := time.Now().Add(10 * time.Minute)
	for i := 0; time.Now().Before(deadline); i++ {
		nd := n.meta.Catalog().Nodes[o.Node]
		if nd == nil {
			return pgerr.NodeNotFound.New(o.Node)
		}
		if n.liveness(nd) == "live" {
			return nil
		}
		if i == 0 {
			if err := n.step(ctx, o, 0.5, "waiting for node %q to heartbeat (it is %s)", o.Node, n.liveness(nd)); err != nil {
				return err
			}
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
	return pgerr.NodeNotBack.New(o.Node)
}

// execFailover waits until the preferred node leads every shard it holds
// a voting replica of (the nodes hand leadership to it, see
// balanceLeaders), for at most a minute.
func (n *Node) execFailover(ctx context.Context, o *catalog.Operation) error {
	deadline := time.Now().Add(time.Minute)
	for i := 0; ; i++ {
		all := n.clusterGroupStatus(ctx)
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
		if time.Now().After(deadline) {
			return pgerr.LeaderBalanceTimeout.New(n.nodeName(o.To), led, total)
		}
		if i%2 == 0 && total > 0 {
			if err := n.step(ctx, o, float64(led)/float64(total), "%s leads %d of %d shards", n.nodeName(o.To), led, total); err != nil {
				return err
			}
		}
		if err := sleepCtx(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// rebalanceMoves bounds the moves of one rebalance.
const rebalanceMoves = 64

// execRebalance moves replicas from the fullest live data node to the
// emptiest, one shard at a time (each a replace_replica operation), until
// they differ by at most one.
func (n *Node) execRebalance(ctx context.Context, o *catalog.Operation) error {
	for moves := 0; moves < rebalanceMoves; moves++ {
		cat := n.meta.Catalog()
		from, to, gid := n.nextRebalanceMove(cat)
		if gid == 0 {
			return n.step(ctx, o, 1, "balanced after %d moves", moves)
		}
		if o.Total == 0 {
			o.Total = n.rebalanceEstimate(cat)
		}
		if err := n.step(ctx, o, float64(moves)/float64(max(o.Total, moves+1)), "move %d: shard %d from %s to %s", moves+1, gid, n.nodeName(from), n.nodeName(to)); err != nil {
			return err
		}
		child, err := n.createOp(ctx, &catalog.Operation{Type: catalog.OpReplaceReplica, Target: groupTarget(cat, gid), Group: gid, From: from, To: to, Auto: true})
		if err != nil {
			return err
		}
		if err := n.waitOp(ctx, child.ID, moveTimeout); err != nil {
			return err
		}
	}
	return nil
}

// waitOp waits until operation id finishes; an error if it did not succeed.
func (n *Node) waitOp(ctx context.Context, id uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		o := n.meta.Catalog().Ops[id]
		if o == nil {
			return pgerr.OperationVanished.New(id)
		}
		switch o.Status {
		case catalog.OpDone:
			return nil
		case catalog.OpFailed, catalog.OpCancelled:
			return pgerr.OperationEnded.New(id, o.Status, o.Error)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return pgerr.OperationTimeout.New(id, timeout)
}

// balanceCandidates are the nodes replicas are balanced across: live data
// nodes an operator has not taken out.
func (n *Node) balanceCandidates(cat *catalog.Catalog) []*catalog.Node {
	var out []*catalog.Node
	for _, nd := range cat.SortedNodes() {
		if nd.Placeable() && n.liveness(nd) == "live" {
			out = append(out, nd)
		}
	}
	return out
}

// nextRebalanceMove picks one shard to move from the fullest candidate to
// the emptiest, when they differ by two or more (0 when balanced).
func (n *Node) nextRebalanceMove(cat *catalog.Catalog) (from, to, gid uint64) {
	cands := n.balanceCandidates(cat)
	if len(cands) < 2 {
		return 0, 0, 0
	}
	counts := cat.ReplicaCounts()
	sort.SliceStable(cands, func(i, j int) bool { return counts[cands[i].ID] < counts[cands[j].ID] })
	lo := cands[0]
	groups := cat.Groups()
	gids := make([]uint64, 0, len(groups))
	for g := range groups {
		gids = append(gids, g)
	}
	slices.Sort(gids)
	for hi := len(cands) - 1; hi > 0; hi-- {
		h := cands[hi]
		if counts[h.ID]-counts[lo.ID] < 2 {
			break
		}
		for _, g := range gids {
			nodes := groups[g].Nodes
			if slices.Contains(nodes, h.ID) && !slices.Contains(nodes, lo.ID) && cat.ActiveOpOn(g) == nil {
				return h.ID, lo.ID, g
			}
		}
	}
	return 0, 0, 0
}

// rebalanceEstimate is how many moves even out the candidates.
func (n *Node) rebalanceEstimate(cat *catalog.Catalog) int {
	cands := n.balanceCandidates(cat)
	counts := cat.ReplicaCounts()
	total := 0
	for _, nd := range cands {
		total += counts[nd.ID]
	}
	if len(cands) == 0 {
		return 1
	}
	avg := (total + len(cands) - 1) / len(cands)
	moves := 0
	for _, nd := range cands {
		if c := counts[nd.ID]; c > avg {
			moves += c - avg
		}
	}
	return max(moves, 1)
}

// ---- the scheduler ----

// maxNewOpsPerRound bounds the operations one scheduler round creates.
const maxNewOpsPerRound = 4

// schedule runs on the meta leader: it replaces replicas on dead nodes
// (auto_failover) and on nodes an operator took out, adds replicas to
// under-replicated shards, and starts a rebalance when live data nodes
// hold uneven replica counts (auto_rebalance).
func (n *Node) schedule() {
	n.runOps() // starts, or on a deposed leader stops, the executors
	if !n.isMetaLeader() {
		return
	}
	cat := n.meta.Catalog()
	autoFail := n.settingOn("auto_failover")
	groups := cat.Groups()
	gids := make([]uint64, 0, len(groups))
	for g := range groups {
		gids = append(gids, g)
	}
	slices.Sort(gids)
	created := 0
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	for _, gid := range gids {
		if created >= maxNewOpsPerRound {
			break
		}
		ref := groups[gid]
		if cat.ActiveOpOn(gid) != nil {
			continue
		}
		var bad uint64
		healthy := 0
		for _, id := range ref.Nodes {
			nd := cat.NodeByID(id)
			switch {
			case nd == nil || nd.Evacuating() || (autoFail && n.liveness(nd) == "dead"):
				if bad == 0 {
					bad = id
				}
			case n.liveness(nd) == "live":
				healthy++
			}
		}
		short := autoFail && len(ref.Nodes) < ref.Replicas
		if bad == 0 && !short {
			continue
		}
		if healthy*2 <= len(ref.Nodes) {
			// No live majority: nothing can be added until it is back (or
			// an operator forces recovery).
			continue
		}
		if n.pickTarget(cat, ref.Nodes) == 0 {
			continue // nowhere to put it: wait for a node
		}
		o := &catalog.Operation{Type: catalog.OpReplaceReplica, Target: fmt.Sprintf("shard %d (%s %s/%d)", gid, kindName(ref.Kind), ref.Object, ref.Shard), Group: gid, From: bad, Auto: true}
		if bad == 0 {
			o.Step = "under-replicated"
		}
		if _, err := n.createOp(ctx, o); err != nil {
			n.log.Debug("scheduler: create operation", "err", err)
			continue
		}
		created++
	}
	n.maybeRebalance(ctx, cat)
}

func kindName(k catalog.GroupKind) string {
	if k == catalog.GroupView {
		return "view"
	}
	return "stream"
}

// rebalanceCooldown spaces automatic rebalances.
const rebalanceCooldown = 10 * time.Second

func (n *Node) maybeRebalance(ctx context.Context, cat *catalog.Catalog) {
	if !n.settingOn("auto_rebalance") || time.Since(n.ops.lastRebalance) < rebalanceCooldown || time.Since(n.started) < 5*time.Second {
		return
	}
	for _, o := range cat.Ops {
		if o.Active() && (o.Type == catalog.OpRebalance || o.Type == catalog.OpReplaceReplica || o.Type == catalog.OpNodeOffline || o.Type == catalog.OpDecommission) {
			return
		}
	}
	for _, nd := range cat.SortedNodes() {
		if l := n.liveness(nd); nd.Placeable() && (l == "suspect" || l == "unknown") {
			return // wait until every node's fate is known
		}
	}
	if _, _, gid := n.nextRebalanceMove(cat); gid == 0 {
		return
	}
	n.ops.lastRebalance = time.Now()
	if _, err := n.createOp(ctx, &catalog.Operation{Type: catalog.OpRebalance, Target: "cluster", Auto: true}); err != nil {
		n.log.Debug("scheduler: rebalance", "err", err)
	}
}
