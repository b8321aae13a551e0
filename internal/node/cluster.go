package node

import (
	"context"
	"encoding/json"
	"net"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/member"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/cluster/placement"
	"github.com/cairndb/cairn/internal/memory"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/rpc"
)

// selfNode describes this node for the catalog.
func (n *Node) selfNode() catalog.Node {
	role := n.cfg.Role
	if role == "" {
		role = "data"
	}
	sec, certExp := n.securityReport()
	return catalog.Node{ID: n.id.RaftID, Name: n.cfg.NodeID, ClusterAddr: advertised(n.cfg.AdvertiseHost, n.clusterLn.Addr()),
		PGAddr: advertised(n.cfg.AdvertiseHost, n.pgLn.Addr()), HTTPAddr: advertised(n.cfg.AdvertiseHost, n.httpLn.Addr()), Role: role, Zone: n.cfg.Zone, Region: n.cfg.Region, JoinedAt: time.Now().Unix(),
		Security: sec, CertExpiresAt: certExp}
}

// advertised is the address others reach a listener at: host (the
// --advertise-host) with the listener's port, or the listen address.
func advertised(host string, ln net.Addr) string {
	if host == "" {
		return ln.String()
	}
	_, port, err := net.SplitHostPort(ln.String())
	if err != nil {
		return ln.String()
	}
	return net.JoinHostPort(host, port)
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
	if !n.rpcs.Enter() {
		return nil, pgerr.NodeStopping.New(n.cfg.NodeID)
	}
	defer n.rpcs.Leave()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(n.ctx, cancel)()
	if method == rpc.Append {
		// Another node's append is held here until it commits (memory.go).
		n.mem.Reserve(memory.Ingest, int64(len(req)))
		defer n.mem.Release(memory.Ingest, int64(len(req)))
	}
	if out, ok, err := n.replicas.HandleData(ctx, method, req); ok {
		return out, err
	}
	if out, ok, err := n.handleSched(method, req); ok {
		return out, err
	}
	if out, ok, err := n.handleBackupRPC(ctx, method, req); ok { // backup.go
		return out, err
	}
	switch method {
	case rpc.Heartbeat:
		return nil, n.member.HandleHeartbeat(req)
	case rpc.Join:
		return n.member.Admit(ctx, req)
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

// liveness is a node's liveness as this node sees it.
func (n *Node) liveness(nd *catalog.Node) string { return n.member.Liveness(nd) }

// liveSnapshot is the liveness of every node in cat.
func (n *Node) liveSnapshot(cat *catalog.Catalog) membership.Snapshot { return n.member.Snapshot(cat) }

// raftStore is the store as a member sees it (member.Raft).
type raftStore struct{ n *Node }

func (r raftStore) Status(gid uint64) (member.GroupState, bool) {
	st, ok := r.n.store.Status(gid)
	return member.GroupState{Leader: st.Leader, IsLeader: st.IsLeader, Voters: st.Voters, Learners: st.Learners, Match: st.Match, Commit: st.Commit}, ok
}

func (r raftStore) Propose(ctx context.Context, gid uint64, cmd []byte) (any, error) {
	return r.n.store.Propose(ctx, gid, cmd)
}

func (r raftStore) ChangeMeta(ctx context.Context, ch placement.MetaChange) error {
	t := map[placement.MetaChangeType]pb.ConfChangeType{placement.MetaAddLearner: pb.ConfChangeAddLearnerNode, placement.MetaPromote: pb.ConfChangeAddNode, placement.MetaRemove: pb.ConfChangeRemoveNode}[ch.Type]
	cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: t.Enum(), NodeId: new(ch.Node)}}}
	return r.n.store.ProposeConfChange(ctx, catalog.MetaGroupID, cc)
}

func (r raftStore) TransferLeader(gid, to uint64) error { return r.n.store.TransferLeader(gid, to) }

func (r raftStore) ReadIndex(ctx context.Context, gid uint64) error {
	return r.n.replicas.ReadIndex(ctx, gid)
}
