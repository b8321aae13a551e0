package node

import (
	"context"

	"github.com/cairndb/cairn/internal/cluster/ops"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/sql/systables"
)

var (
	_ ops.ViewProbe     = opsCluster{}
	_ systables.ViewLag = clusterStatus{}
)

// The deciding side of scheduled views (issue 13) asks owners how their
// views fare through the owner's status RPC (rpc.SchedStatus): the
// operations executor whether a new owner runs a view (ops.ViewProbe),
// cairn_cluster.compute_load how far behind each node's views are
// (systables.ViewLag).

// schedStatusOf asks node id which scheduled views it runs, within
// StatusCallTimeout (a dead node must not hold up a cluster table).
func (n *Node) schedStatusOf(ctx context.Context, id uint64) ([]rpc.SchedViewStatus, error) {
	cctx, cancel := context.WithTimeout(ctx, n.timing.StatusCallTimeout)
	defer cancel()
	return n.router.SchedStatus(cctx, id)
}

// opsCluster is the cluster as the operations executor sees it, with the
// owners' status (ops.ViewProbe).
type opsCluster struct {
	ops.Parts
	n *Node
}

// ViewRunning reports whether node runs view at epoch, loaded and folding.
func (c opsCluster) ViewRunning(ctx context.Context, node uint64, view string, epoch uint64) (bool, error) {
	st, err := c.n.schedStatusOf(ctx, node)
	if err != nil {
		return false, err
	}
	for _, v := range st {
		if v.View == view && v.Epoch == epoch && v.Running {
			return true, nil
		}
	}
	return false, nil
}

// ScheduledLag is the largest lag of node id's scheduled views and the
// events they have yet to fold (systables.ViewLag).
func (c clusterStatus) ScheduledLag(ctx context.Context, id uint64) (maxLag float64, behind int64, ok bool) {
	st, err := c.n.schedStatusOf(ctx, id)
	if err != nil {
		return 0, 0, false
	}
	for _, v := range st {
		maxLag = max(maxLag, v.LagSeconds)
		behind += v.EventsBehind
	}
	return maxLag, behind, true
}
