package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/transport"
)

// heartbeatInterval paces heartbeats; the cluster settings suspect_after
// and dead_after say when a silent node is suspect and dead.
const heartbeatInterval = 500 * time.Millisecond

// Internal RPC methods.
const (
	rpcJoin        = "join"
	rpcMetaPropose = "meta_propose"
	rpcHeartbeat   = "heartbeat"
	rpcStatus      = "group_status"
	rpcNodeGroups  = "node_groups"
)

type joinRequest struct {
	Node      catalog.Node `json:"node"`
	ClusterID string       `json:"cluster_id,omitempty"` // the joiner's, if its data dir already has one
}

type joinReply struct {
	Node      catalog.Node   `json:"node"`
	ClusterID string         `json:"cluster_id"`
	Members   []catalog.Node `json:"members"`
}

// liveness records when each node was last heard from, and how many
// data-shard leaders it said it holds.
type liveness struct {
	mu      sync.Mutex
	heard   map[uint64]time.Time
	leaders map[uint64]int
}

// heartbeat is the body of a heartbeat RPC.
type heartbeat struct {
	From    uint64 `json:"from"`
	Leaders int    `json:"leaders"`
}

func (l *liveness) setLeaders(id uint64, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leaders == nil {
		l.leaders = map[uint64]int{}
	}
	l.leaders[id] = n
}

func (l *liveness) leadersOf(id uint64) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.leaders[id]
	return n, ok
}

func (l *liveness) saw(id uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.heard == nil {
		l.heard = map[uint64]time.Time{}
	}
	l.heard[id] = time.Now()
}

func (l *liveness) last(id uint64) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.heard[id]
	return t, ok
}

// selfNode describes this node for the catalog.
func (n *Node) selfNode() catalog.Node {
	role := n.cfg.Role
	if role == "" {
		role = "data"
	}
	return catalog.Node{ID: n.id.RaftID, Name: n.cfg.NodeID, ClusterAddr: n.clusterLn.Addr().String(), PGAddr: n.pgLn.Addr().String(),
		HTTPAddr: n.httpLn.Addr().String(), Role: role, Zone: n.cfg.Zone, Region: n.cfg.Region, JoinedAt: time.Now().Unix()}
}

// joinCluster asks the seed nodes (any live member) to admit this node,
// and learns its raft id and the members' addresses.
func (n *Node) joinCluster() error {
	req, _ := json.Marshal(joinRequest{Node: n.selfNode()})
	var lastErr error
	deadline := time.Now().Add(30 * time.Second)
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		for _, seed := range n.cfg.Join {
			ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
			out, err := transport.CallAddr(ctx, seed, rpcJoin, req)
			cancel()
			if err != nil {
				lastErr = fmt.Errorf("join through %s: %w", seed, err)
				var pe *pgerr.Error
				if errors.As(err, &pe) && (pe.Code == pgerr.NodeIDTaken.Code || pe.Code == pgerr.WrongCluster.Code) {
					return lastErr // refused for good (name clash, other cluster)
				}
				continue
			}
			var rep joinReply
			if err := json.Unmarshal(out, &rep); err != nil {
				return fmt.Errorf("join through %s: bad reply: %v", seed, err)
			}
			n.id.RaftID, n.id.ClusterID = rep.Node.ID, rep.ClusterID
			for _, m := range rep.Members {
				n.seeds.Store(m.ID, m.ClusterAddr)
			}
			n.log.Info("joined the cluster", "cluster_id", rep.ClusterID, "raft_id", rep.Node.ID, "through", seed)
			return nil
		}
		select {
		case <-n.ctx.Done():
			return n.ctx.Err()
		case <-time.After(time.Duration(min(attempt+1, 5)) * 200 * time.Millisecond):
		}
	}
	return fmt.Errorf("could not join the cluster through %s within 30s: %w", strings.Join(n.cfg.Join, ","), lastErr)
}

// resolve maps a raft id to its cluster address: the catalog, else what
// the join reply said.
func (n *Node) resolve(id uint64) (string, bool) {
	if n.meta != nil {
		if nd := n.meta.Catalog().NodeByID(id); nd != nil {
			return nd.ClusterAddr, true
		}
	}
	if a, ok := n.seeds.Load(id); ok {
		return a.(string), true
	}
	return "", false
}

// HandleRaft implements transport.Handler.
func (n *Node) HandleRaft(msgs []raftstore.GroupMessage) {
	if !n.ready.Load() {
		return // still opening the store: raft resends
	}
	for _, m := range msgs {
		n.live.saw(m.Msg.GetFrom())
		_ = n.store.Step(m.GroupID, m.Msg) // unknown group or stopped store: a lost message raft resends
	}
}

// HandleRPC implements transport.Handler.
func (n *Node) HandleRPC(ctx context.Context, method string, req []byte) ([]byte, error) {
	if !n.ready.Load() {
		return nil, pgerr.NodeStarting.New(n.cfg.NodeID)
	}
	// The store must outlive every RPC that reads it: Close waits for
	// these, after cancelling them through n.ctx.
	if !n.rpcs.enter() {
		return nil, pgerr.NodeStopping.New(n.cfg.NodeID)
	}
	defer n.rpcs.leave()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(n.ctx, cancel)()
	if out, ok, err := n.handleDataRPC(ctx, method, req); ok {
		return out, err
	}
	switch method {
	case rpcHeartbeat:
		var hb heartbeat
		if err := json.Unmarshal(req, &hb); err != nil {
			return nil, err
		}
		n.live.saw(hb.From)
		n.live.setLeaders(hb.From, hb.Leaders)
		return nil, nil
	case rpcJoin:
		var r joinRequest
		if err := json.Unmarshal(req, &r); err != nil {
			return nil, err
		}
		rep, err := n.admit(ctx, &r)
		if err != nil {
			return nil, err
		}
		return json.Marshal(rep)
	case rpcMetaPropose:
		c, err := catalog.Decode(req)
		if err != nil {
			return nil, err
		}
		res, err := n.proposeMeta(ctx, c)
		if err != nil {
			return nil, err
		}
		return json.Marshal(res)
	case rpcNodeGroups:
		return json.Marshal(n.localGroupStatus())
	case rpcShardAdmin:
		var r shardAdminRequest
		if err := json.Unmarshal(req, &r); err != nil {
			return nil, err
		}
		rep, err := n.handleShardAdmin(ctx, &r)
		if err != nil {
			return nil, err
		}
		return json.Marshal(rep)
	case rpcStatus:
		var gid uint64
		if err := json.Unmarshal(req, &gid); err != nil {
			return nil, err
		}
		st, _ := n.store.Status(gid)
		return json.Marshal(st.Applied)
	}
	return nil, pgerr.UnknownRPC.New(method)
}

// inflight counts running RPC handlers so that Close can wait for them
// before it closes the store.
type inflight struct {
	mu     sync.Mutex
	n      int
	closed bool
	zero   chan struct{}
}

func (f *inflight) enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.n++
	return true
}

func (f *inflight) leave() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 && f.zero != nil {
		close(f.zero)
		f.zero = nil
	}
}

// closeAndWait refuses new handlers and waits (at most timeout) for the
// running ones.
func (f *inflight) closeAndWait(timeout time.Duration) {
	f.mu.Lock()
	f.closed = true
	if f.n == 0 {
		f.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	f.zero = ch
	f.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(timeout):
	}
}

// admit registers a joining node (forwarding to the meta leader when
// this node is not it). The membership loop then adds it to the meta group.
func (n *Node) admit(ctx context.Context, r *joinRequest) (*joinReply, error) {
	if st, ok := n.store.Status(catalog.MetaGroupID); !ok || !st.IsLeader {
		if !ok || st.Leader == 0 {
			return nil, pgerr.MetaNoLeader.New()
		}
		req, _ := json.Marshal(r)
		out, err := n.tr.Call(ctx, st.Leader, rpcJoin, req)
		if err != nil {
			return nil, err
		}
		var rep joinReply
		return &rep, json.Unmarshal(out, &rep)
	}
	cat := n.meta.Catalog()
	if r.ClusterID != "" && r.ClusterID != cat.ClusterID {
		return nil, pgerr.WrongCluster.New(r.Node.Name, r.ClusterID, cat.ClusterID)
	}
	if old := cat.Nodes[r.Node.Name]; old != nil && old.ClusterAddr != r.Node.ClusterAddr && n.liveness(old) == "live" {
		return nil, pgerr.NodeIDTaken.New(r.Node.Name, old.ClusterAddr)
	}
	nd := r.Node
	res, err := n.proposeMeta(ctx, &catalog.AddNode{Node: &nd})
	if err != nil {
		return nil, err
	}
	rep := &joinReply{Node: *res.Node, ClusterID: cat.ClusterID}
	for _, m := range n.meta.Catalog().SortedNodes() {
		rep.Members = append(rep.Members, *m)
	}
	n.pokeMembership()
	return rep, nil
}

// liveness is a node's liveness as this node sees it: live, suspect,
// dead, or unknown (not heard from since this node started, for less
// than dead_after).
func (n *Node) liveness(nd *catalog.Node) string {
	if nd.ID == n.id.RaftID {
		return "live"
	}
	dead := n.settingDuration("dead_after")
	t, ok := n.live.last(nd.ID)
	switch {
	case !ok && time.Since(n.started) < dead:
		return "unknown"
	case !ok:
		return "dead"
	case time.Since(t) < n.settingDuration("suspect_after"):
		return "live"
	case time.Since(t) < dead:
		return "suspect"
	}
	return "dead"
}

// state is what cairn_cluster.nodes shows: the operator's state if one is
// set, else liveness.
func (n *Node) state(nd *catalog.Node) string {
	if nd.State != "" {
		return nd.State
	}
	return n.liveness(nd)
}

// sendHeartbeats tells every other member this node is alive and how
// many data-shard leaders it holds.
func (n *Node) sendHeartbeats() {
	body, _ := json.Marshal(heartbeat{From: n.id.RaftID, Leaders: len(n.ledGroups())})
	for _, nd := range n.meta.Catalog().SortedNodes() {
		if nd.ID == n.id.RaftID {
			continue
		}
		go func(id uint64) {
			ctx, cancel := context.WithTimeout(n.ctx, heartbeatInterval)
			defer cancel()
			if _, err := n.tr.Call(ctx, id, rpcHeartbeat, body); err == nil {
				n.live.saw(id)
			}
		}(nd.ID)
	}
}

func (n *Node) pokeMembership() {
	select {
	case n.membershipCh <- struct{}{}:
	default:
	}
}

// metaVoterTarget is how many voters the meta group should have.
func metaVoterTarget(dataNodes int) int {
	switch {
	case dataNodes >= 5:
		return 5
	case dataNodes >= 3:
		return 3
	}
	return 1
}

// growMetaLogged runs growMeta on the meta leader: live nodes join the
// meta group as learners and data nodes are promoted to voters once
// caught up, up to 3 voters (5 with five or more data nodes).
func (n *Node) growMetaLogged() {
	if err := n.growMeta(); err != nil && n.ctx.Err() == nil {
		n.log.Debug("meta membership", "err", err)
	}
}

func (n *Node) growMeta() error {
	st, ok := n.store.Status(catalog.MetaGroupID)
	if !ok || !st.IsLeader {
		return nil
	}
	cat := n.meta.Catalog()
	// healthy voters count toward the target; a voter on a dead node, or
	// one an operator is taking out, is replaced and then removed.
	healthy := func(id uint64) bool {
		nd := cat.NodeByID(id)
		return nd != nil && nd.Role != "compute" && !nd.Evacuating() && n.liveness(nd) != "dead"
	}
	dataNodes := 0
	for _, nd := range cat.SortedNodes() {
		if nd.Role != "compute" && !nd.Evacuating() && n.liveness(nd) != "dead" {
			dataNodes++
		}
	}
	target := metaVoterTarget(dataNodes)
	healthyVoters := 0
	inConf := map[uint64]bool{}
	for _, v := range st.Voters {
		inConf[v] = true
		if healthy(v) {
			healthyVoters++
		}
	}
	for _, l := range st.Learners {
		inConf[l] = true
	}
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	change := func(t pb.ConfChangeType, id uint64, what string) error {
		cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: t.Enum(), NodeId: new(id)}}}
		if err := n.store.ProposeConfChange(ctx, catalog.MetaGroupID, cc); err != nil {
			return err
		}
		n.log.Info("meta group: "+what, "raft_id", id)
		return nil
	}
	// Promote learners that caught up.
	for _, l := range st.Learners {
		if healthyVoters >= target || !healthy(l) || n.liveness(cat.NodeByID(l)) != "live" {
			continue
		}
		if m, ok := st.Match[l]; !ok || m+16 < st.Commit {
			continue
		}
		return change(pb.ConfChangeAddNode, l, "promoted to voter")
	}
	// Then remove voters that are not healthy, once enough healthy ones
	// vote without them (never this node: it moves its leadership first).
	for _, v := range st.Voters {
		if !healthy(v) && v != n.id.RaftID && healthyVoters >= target {
			return change(pb.ConfChangeRemoveNode, v, "removed a voter on a dead or departing node")
		}
	}
	// Learners of removed nodes go too. A decommissioned node keeps its
	// copy until it is removed: with a current catalog it knows it holds
	// nothing (so it deletes its replicas and serves no stale data) and
	// refuses new sessions.
	for _, l := range st.Learners {
		if nd := cat.NodeByID(l); nd == nil {
			return change(pb.ConfChangeRemoveNode, l, "removed the learner of a removed node")
		}
	}
	// Every live node holds the catalog: those beyond the voter target
	// stay learners (a copy that does not vote), so each node reads the
	// catalog locally and is ready to be promoted when a voter is lost.
	for _, nd := range cat.SortedNodes() {
		if inConf[nd.ID] || n.liveness(nd) != "live" {
			continue
		}
		return change(pb.ConfChangeAddLearnerNode, nd.ID, "added learner "+nd.Name)
	}
	return nil
}

// ledGroups returns the data groups whose leader is this node's replica.
func (n *Node) ledGroups() []uint64 {
	n.mu.Lock()
	ids := make([]uint64, 0, len(n.mu.groups))
	for id := range n.mu.groups {
		ids = append(ids, id)
	}
	n.mu.Unlock()
	var led []uint64
	for _, id := range ids {
		if st, ok := n.store.Status(id); ok && st.IsLeader {
			led = append(led, id)
		}
	}
	return led
}

// balanceInterval paces leadership transfers from one node.
const balanceInterval = time.Second

// balanceLeaders moves leadership off this node when it should not lead
// (draining, offline, decommissioning), to the preferred leader when one
// is set (ALTER SYSTEM FAILOVER TO), and otherwise spreads data-shard
// leaders evenly: a node leading at least two more shards than a live
// voter of one of them hands that shard's leadership to it, one transfer
// per round.
func (n *Node) balanceLeaders() {
	cat := n.meta.Catalog()
	me := cat.NodeByID(n.id.RaftID)
	if me == nil {
		return
	}
	var pref *catalog.Node
	if name, _ := n.clusterSetting("preferred_leader"); name != "" {
		if p := cat.Nodes[name]; p != nil && p.Leadable() && n.liveness(p) == "live" {
			pref = p
		}
	}
	led := n.ledGroups()
	if !me.Leadable() || (pref != nil && pref.ID != me.ID) {
		if st, ok := n.store.Status(catalog.MetaGroupID); ok && st.IsLeader {
			led = append(led, catalog.MetaGroupID)
		}
		for _, gid := range led {
			st, ok := n.store.Status(gid)
			if !ok {
				continue
			}
			to := uint64(0)
			if pref != nil && slices.Contains(st.Voters, pref.ID) {
				to = pref.ID
			} else if !me.Leadable() {
				to = n.leastLoadedVoter(cat, st.Voters)
			}
			if to != 0 && to != n.id.RaftID {
				if err := n.store.TransferLeader(gid, to); err == nil {
					n.log.Debug("leader moves off", "group", gid, "to", to)
				}
			}
		}
		return
	}
	if pref != nil {
		return // the preferred node keeps what it leads
	}
	mine := len(led)
	for _, gid := range led {
		st, ok := n.store.Status(gid)
		if !ok || len(st.Voters) < 2 {
			continue
		}
		best, bestN := uint64(0), mine-1
		leaving := uint64(0) // a replica an operation is removing gets no leadership
		if o := cat.ActiveOpOn(gid); o != nil && o.Type == catalog.OpReplaceReplica {
			leaving = o.From
		}
		for _, v := range st.Voters {
			nd := cat.NodeByID(v)
			if v == n.id.RaftID || v == leaving || nd == nil || !nd.Leadable() || n.liveness(nd) != "live" {
				continue
			}
			if c, ok := n.live.leadersOf(v); ok && c < bestN {
				best, bestN = v, c
			}
		}
		if best != 0 {
			if err := n.store.TransferLeader(gid, best); err == nil {
				n.log.Debug("leader balance: transfer", "group", gid, "to", best, "mine", mine, "theirs", bestN)
				n.live.setLeaders(best, bestN+1)
			}
			break
		}
	}
}

// leastLoadedVoter picks the live voter (not this node, allowed to lead)
// leading the fewest shards; 0 if none.
func (n *Node) leastLoadedVoter(cat *catalog.Catalog, voters []uint64) uint64 {
	best, bestN := uint64(0), int(^uint(0)>>1)
	for _, v := range voters {
		nd := cat.NodeByID(v)
		if v == n.id.RaftID || nd == nil || !nd.Leadable() || n.liveness(nd) != "live" {
			continue
		}
		c, _ := n.live.leadersOf(v)
		if c < bestN {
			best, bestN = v, c
		}
	}
	return best
}

// replicaStatus is one replica's raft state, as cairn_cluster.shards shows it.
type replicaStatus struct {
	Role    string `json:"role"`
	Applied uint64 `json:"applied"`
	Commit  uint64 `json:"commit"`
}

// localGroupStatus returns the state of every replica on this node, by group.
func (n *Node) localGroupStatus() map[uint64]replicaStatus {
	ids := []uint64{catalog.MetaGroupID}
	n.mu.Lock()
	for id := range n.mu.groups {
		ids = append(ids, id)
	}
	n.mu.Unlock()
	out := map[uint64]replicaStatus{}
	for _, id := range ids {
		st, ok := n.store.Status(id)
		if !ok {
			continue
		}
		role := "follower"
		switch {
		case st.IsLeader:
			role = "leader"
		case slices.Contains(st.Learners, n.id.RaftID):
			role = "learner"
		}
		out[id] = replicaStatus{Role: role, Applied: st.Applied, Commit: st.Commit}
	}
	return out
}

// clusterGroupStatus asks every live node for its replicas' state (1 s
// bound each, in parallel); a node that does not answer is left out.
func (n *Node) clusterGroupStatus(ctx context.Context) map[uint64]map[uint64]replicaStatus {
	out := map[uint64]map[uint64]replicaStatus{n.id.RaftID: n.localGroupStatus()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, nd := range n.meta.Catalog().SortedNodes() {
		if nd.ID == n.id.RaftID || n.liveness(nd) != "live" {
			continue
		}
		wg.Add(1)
		go func(id uint64) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			defer cancel()
			b, err := n.tr.Call(cctx, id, rpcNodeGroups, nil)
			if err != nil {
				return
			}
			var m map[uint64]replicaStatus
			if json.Unmarshal(b, &m) == nil {
				mu.Lock()
				out[id] = m
				mu.Unlock()
			}
		}(nd.ID)
	}
	wg.Wait()
	return out
}
