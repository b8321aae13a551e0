package node

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/types"
)

func txt(s string) types.Datum { return types.NewText(s) }

// clusterStatus is the node as the cluster tables see it (systables.Status).
type clusterStatus struct{ n *Node }

func (c clusterStatus) Catalog() *catalog.Catalog             { return c.n.meta.Catalog() }
func (c clusterStatus) Self() uint64                          { return c.n.id.RaftID }
func (c clusterStatus) Name() string                          { return c.n.cfg.NodeID }
func (c clusterStatus) Now() time.Time                        { return c.n.clock.Now() }
func (c clusterStatus) Liveness(nd *catalog.Node) string      { return c.n.liveness(nd) }
func (c clusterStatus) LastHeard(id uint64) (time.Time, bool) { return c.n.live.Last(id) }
func (c clusterStatus) LeadersOf(id uint64) (int, bool)       { return c.n.live.LeadersOf(id) }

func (c clusterStatus) MetaMembers() (voters, learners []uint64, ok bool) {
	st, ok := c.n.store.Status(catalog.MetaGroupID)
	return st.Voters, st.Learners, ok
}

func (c clusterStatus) Leads(gid uint64) bool {
	st, ok := c.n.store.Status(gid)
	return ok && st.IsLeader
}

func (c clusterStatus) GroupStatus(ctx context.Context) map[uint64]map[uint64]rpc.ReplicaStatus {
	return c.n.router.GroupStatus(ctx)
}

func (c clusterStatus) ViewOffsets(ctx context.Context, v *catalog.View) [][]uint64 {
	return viewOffsets(ctx, c.n, v)
}

func (c clusterStatus) LeaderTermsLog() ([]byte, error) {
	return os.ReadFile(filepath.Join(c.n.cfg.DataDir, "leader-terms.log"))
}
