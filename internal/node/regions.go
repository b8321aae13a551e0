package node

import (
	"errors"

	"github.com/cairndb/cairn/internal/cluster/placement"
	"github.com/cairndb/cairn/internal/pgerr"
)

// PlaceRegional places a regional object (session.RegionPlacer): each
// shard's voters in the primary region, perRegion permanent learners in
// each other region (placement.InitialRegional).
func (b sessionBackend) PlaceRegional(shards, replicas int, primary string, regions []string, perRegion int) ([][]uint64, [][]uint64, error) {
	cat := b.n.meta.Catalog()
	voters, learners, err := placement.InitialRegional(cat, b.n.liveSnapshot(cat), shards, replicas, primary, regions, perRegion)
	var re *placement.RegionError
	if errors.As(err, &re) {
		return nil, nil, pgerr.RegionTooFewNodes.New(re.Region, re.Need, re.Live)
	}
	return voters, learners, err
}
