package node

import (
	"context"
	"errors"

	"github.com/cairndb/cairn/internal/cluster/placement"
	"github.com/cairndb/cairn/internal/pgerr"
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

// waitGroups waits until every group of a new object that has a replica
// here runs and has a leader (replica.WaitReady).
func (n *Node) waitGroups(ctx context.Context, groups []uint64) error {
	n.poke()
	return n.replicas.WaitReady(ctx, groups)
}
