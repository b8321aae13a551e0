package node

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/cairndb/cairn/internal/cluster/placement"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/replica"
)

// place picks the replicas of each of shards shards (placement.Initial).
func (n *Node) place(shards, replicas int) ([][]uint64, error) {
	cat := n.meta.Catalog()
	out, err := placement.Initial(cat, n.liveSnapshot(cat), shards, replicas)
	var few *placement.TooFewNodesError
	switch {
	case errors.Is(err, placement.ErrNoLiveNode):
		return nil, pgerr.NoLiveDataNode.New()
	case errors.As(err, &few):
		return nil, pgerr.TooFewLiveNodes.New(few.Replicas, few.Replicas, few.Live, few.DataNodes)
	}
	return out, err
}

// waitGroups waits until every group runs here and has a leader, so a
// statement right after CREATE finds its shards ready.
func (n *Node) waitGroups(ctx context.Context, groups []uint64) error {
	n.poke()
	deadline := time.Now().Add(10 * time.Second)
	for _, gid := range groups {
		if ref, ok := n.meta.Catalog().Groups()[gid]; ok && !slices.Contains(ref.Nodes, n.id.RaftID) {
			continue // no replica here; appends find the leader wherever it is
		}
		for {
			if n.replicas.Has(gid) {
				if st, ok := n.store.Status(gid); ok && st.Leader != 0 {
					break
				}
			}
			if time.Now().After(deadline) {
				return pgerr.ShardNotReady.New(gid)
			}
			select {
			case <-ctx.Done():
				return replica.StoreErr(ctx.Err())
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	return nil
}
