package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/rpc"
)

// Cluster operations. The scheduler (on the meta leader) turns desired
// state into operations: a replica on a dead or evacuated node is replaced,
// an under-replicated shard gets a replica, uneven nodes are rebalanced.
// Operators add their own (ALTER NODE/SHARD/SYSTEM). Every operation is a
// catalog row; the executor on the meta leader runs the active ones, and a
// new meta leader resumes them: each step checks the state it wants before
// acting, so running it twice is harmless.

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

func (n *Node) shardAdminAt(ctx context.Context, id uint64, req rpc.ShardRequest) (*rpc.ShardReply, error) {
	cctx, cancel := context.WithTimeout(ctx, 12*time.Second)
	defer cancel()
	out, err := n.callNode(cctx, id, rpc.ShardAdmin, req)
	if err != nil {
		return nil, err
	}
	var rep rpc.ShardReply
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, pgerr.New(pgerr.InternalError, "shard_admin reply: %v", err)
	}
	return &rep, nil
}

// shardAdmin runs a shard action at the group's leader, finding it through
// the replicas the catalog places (and this node's own view), retrying
// for up to 15 s while the group elects a leader.
func (n *Node) shardAdmin(ctx context.Context, gid uint64, action rpc.ShardAction, node uint64) (*rpc.ShardReply, error) {
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
			rep, err := n.shardAdminAt(ctx, leader, rpc.ShardRequest{Group: gid, Action: action, Node: node})
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
	return nil, pgerr.New(pgerr.SerializationFailure, "shard %d: %v", gid, lastErr)
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
		rep, err := n.shardAdminAt(cctx, id, rpc.ShardRequest{Group: gid, Action: rpc.ShardStatus})
		cancel()
		if err == nil && rep.Leader != 0 {
			return rep.Leader
		}
	}
	return 0
}

// bareName is a node's name, or #id for one the catalog lacks.
func (n *Node) bareName(id uint64) string { return n.meta.Catalog().BareName(id) }

// nodeName names a raft id for messages.
func (n *Node) nodeName(id uint64) string { return n.meta.Catalog().NodeLabel(id) }

// ---- the executor ----

// nodeNames lists the nodes' names, sorted.
func (n *Node) nodeNames(ids []uint64) string { return n.meta.Catalog().NodeNames(ids) }

// leadersOn counts the groups (meta included) node id leads, asking it.
func (b opsCluster) LeadersOn(ctx context.Context, id uint64) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := b.n.callNode(cctx, id, rpc.NodeGroups, nil)
	if err != nil {
		return 0, err
	}
	var m map[uint64]rpc.ReplicaStatus
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

// opsCluster is the node as the operations executor sees it (ops.Cluster).
type opsCluster struct{ n *Node }

func (b opsCluster) Catalog() *catalog.Catalog { return b.n.meta.Catalog() }

func (b opsCluster) Live(cat *catalog.Catalog) membership.Snapshot { return b.n.liveSnapshot(cat) }

func (b opsCluster) Propose(ctx context.Context, c catalog.Command) (*catalog.Result, error) {
	return b.n.proposeMeta(ctx, c)
}

func (b opsCluster) IsMetaLeader() bool {
	st, ok := b.n.store.Status(catalog.MetaGroupID)
	return ok && st.IsLeader
}

func (b opsCluster) MetaVoters() []uint64 {
	if st, ok := b.n.store.Status(catalog.MetaGroupID); ok {
		return st.Voters
	}
	return nil
}

func (b opsCluster) ShardAdmin(ctx context.Context, gid uint64, action rpc.ShardAction, node uint64) (*rpc.ShardReply, error) {
	return b.n.shardAdmin(ctx, gid, action, node)
}

func (b opsCluster) GroupStatus(ctx context.Context) map[uint64]map[uint64]rpc.ReplicaStatus {
	return b.n.clusterGroupStatus(ctx)
}
