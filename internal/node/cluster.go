package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/cluster/placement"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/transport"
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

// heartbeat is the body of a heartbeat RPC.
type heartbeat struct {
	From    uint64 `json:"from"`
	Leaders int    `json:"leaders"`
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
	deadline := time.Now().Add(n.timing.JoinDeadline)
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		for _, seed := range n.cfg.Join {
			ctx, cancel := context.WithTimeout(n.ctx, n.timing.JoinAttempt)
			out, err := transport.CallAddr(ctx, seed, rpc.Join, req)
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
		n.live.Saw(m.Msg.GetFrom())
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
	if out, ok, err := n.replicas.HandleData(ctx, method, req); ok {
		return out, err
	}
	switch method {
	case rpc.Heartbeat:
		var hb heartbeat
		if err := json.Unmarshal(req, &hb); err != nil {
			return nil, err
		}
		n.live.Saw(hb.From)
		n.live.SetLeaders(hb.From, hb.Leaders)
		return nil, nil
	case rpc.Join:
		var r joinRequest
		if err := json.Unmarshal(req, &r); err != nil {
			return nil, err
		}
		rep, err := n.admit(ctx, &r)
		if err != nil {
			return nil, err
		}
		return json.Marshal(rep)
	case rpc.MetaPropose:
		c, err := catalog.Decode(req)
		if err != nil {
			return nil, err
		}
		res, err := n.proposeMeta(ctx, c)
		if err != nil {
			return nil, err
		}
		return json.Marshal(res)
	case rpc.NodeGroups:
		return json.Marshal(n.replicas.LocalStatus())
	case rpc.ShardAdmin:
		var r rpc.ShardRequest
		if err := json.Unmarshal(req, &r); err != nil {
			return nil, err
		}
		rep, err := n.replicas.HandleShardAdmin(ctx, &r)
		if err != nil {
			return nil, err
		}
		return json.Marshal(rep)
	case rpc.GroupStatus:
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
		out, err := n.tr.Call(ctx, st.Leader, rpc.Join, req)
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
	return string(n.live.State(n.id.RaftID, nd.ID, n.settingDuration("suspect_after"), n.settingDuration("dead_after")))
}

// liveSnapshot is the liveness of every node in cat, for placement and
// scheduling decisions.
func (n *Node) liveSnapshot(cat *catalog.Catalog) membership.Snapshot {
	nodes := cat.SortedNodes()
	ids := make([]uint64, len(nodes))
	for i, nd := range nodes {
		ids[i] = nd.ID
	}
	return n.live.Snapshot(n.id.RaftID, ids, n.settingDuration("suspect_after"), n.settingDuration("dead_after"))
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
	body, _ := json.Marshal(heartbeat{From: n.id.RaftID, Leaders: len(n.replicas.Led())})
	for _, nd := range n.meta.Catalog().SortedNodes() {
		if nd.ID == n.id.RaftID {
			continue
		}
		go func(id uint64) {
			ctx, cancel := context.WithTimeout(n.ctx, n.timing.Heartbeat)
			defer cancel()
			if _, err := n.tr.Call(ctx, id, rpc.Heartbeat, body); err == nil {
				n.live.Saw(id)
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
	ch, ok := placement.NextMetaChange(cat, n.liveSnapshot(cat), n.id.RaftID, placement.MetaStatus{Voters: st.Voters, Learners: st.Learners, Match: st.Match, Commit: st.Commit})
	if !ok {
		return nil
	}
	t := map[placement.MetaChangeType]pb.ConfChangeType{placement.MetaAddLearner: pb.ConfChangeAddLearnerNode, placement.MetaPromote: pb.ConfChangeAddNode, placement.MetaRemove: pb.ConfChangeRemoveNode}[ch.Type]
	ctx, cancel := context.WithTimeout(n.ctx, n.timing.MetaChangeTimeout)
	defer cancel()
	cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: t.Enum(), NodeId: new(ch.Node)}}}
	if err := n.store.ProposeConfChange(ctx, catalog.MetaGroupID, cc); err != nil {
		return err
	}
	n.log.Info("meta group: "+ch.Why, "raft_id", ch.Node)
	return nil
}

// balanceLeaders moves leadership off this node when it should not lead
// (draining, offline, decommissioning), to the preferred leader when one
// is set (ALTER SYSTEM FAILOVER TO), and otherwise spreads data-shard
// leaders evenly; placement.LeaderTransfers decides which.
func (n *Node) balanceLeaders() {
	cat := n.meta.Catalog()
	in := placement.LeaderInput{Cat: cat, Live: n.liveSnapshot(cat), Self: n.id.RaftID}
	in.Preferred, _ = n.clusterSetting("preferred_leader")
	for _, gid := range n.replicas.Led() {
		if st, ok := n.store.Status(gid); ok {
			in.Led = append(in.Led, placement.Led{Group: gid, Voters: st.Voters})
		}
	}
	if st, ok := n.store.Status(catalog.MetaGroupID); ok && st.IsLeader {
		in.Meta = &placement.Led{Group: catalog.MetaGroupID, Voters: st.Voters}
	}
	for _, t := range placement.LeaderTransfers(in) {
		if err := n.store.TransferLeader(t.Group, t.To); err == nil {
			n.log.Debug("leader transfer", "group", t.Group, "to", t.To)
			if t.Even {
				n.live.SetLeaders(t.To, t.Theirs+1)
			}
		}
	}
}
