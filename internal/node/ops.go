package node

import (
	"context"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/rpc"
)

// Cluster operations. The scheduler (on the meta leader) turns desired
// state into operations: a replica on a dead or evacuated node is replaced,
// an under-replicated shard gets a replica, uneven nodes are rebalanced.
// Operators add their own (ALTER NODE/SHARD/SYSTEM). Every operation is a
// catalog row; the executor on the meta leader runs the active ones, and a
// new meta leader resumes them: each step checks the state it wants before
// acting, so running it twice is harmless.

// ---- the executor ----

func (b opsCluster) LeadersOn(ctx context.Context, id uint64) (int, error) {
	return b.n.router.LeadersOn(ctx, id)
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
	return b.n.router.ShardAdmin(ctx, gid, action, node)
}

func (b opsCluster) GroupStatus(ctx context.Context) map[uint64]map[uint64]rpc.ReplicaStatus {
	return b.n.router.GroupStatus(ctx)
}

func (b opsCluster) ShardAdminAt(ctx context.Context, id uint64, req rpc.ShardRequest) (*rpc.ShardReply, error) {
	return b.n.router.ShardAdminAt(ctx, id, req)
}

func (b opsCluster) WaitMetaLeader(timeout time.Duration) error {
	return b.n.waitLeader(catalog.MetaGroupID, timeout)
}
