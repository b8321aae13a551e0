package placement

import (
	"fmt"
	"slices"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
)

// Regions. Every ranking counts a shard's replicas per region first
// (rank.go), so with three regions a shard's three voters take one
// region each and the loss of a whole region leaves a majority. A
// regional object (catalog.Regional) keeps its voters in its primary
// region and permanent learners in its other regions: InitialRegional
// places both, TargetFor keeps a replacement voter in the primary region,
// and RebalanceMove never moves a replica out of it.

// regionsOf counts the replicas of nodes per region (nodes without a
// region are not counted).
func regionsOf(cat *catalog.Catalog, nodes []uint64) map[string]int {
	out := map[string]int{}
	for _, id := range nodes {
		if nd := cat.NodeByID(id); nd != nil && nd.Region != "" {
			out[nd.Region]++
		}
	}
	return out
}

// inRegion is how many replicas of the shard nd's region holds already.
func (r ranking) inRegion(nd *catalog.Node) int {
	if nd.Region == "" {
		return 0
	}
	return r.regions[nd.Region]
}

// maxRegion is the largest count in regions.
func maxRegion(regions map[string]int) int {
	m := 0
	for _, n := range regions {
		m = max(m, n)
	}
	return m
}

// regionsAllow says whether moving ref's replica from one node to another
// keeps its region spread: a regional shard's voter stays in the primary
// region, and no region ends up with more of the shard's replicas than
// the fullest one has now.
func regionsAllow(cat *catalog.Catalog, ref catalog.GroupRef, from, to *catalog.Node) bool {
	if ref.Primary != "" && to.Region != ref.Primary {
		return false
	}
	if from.Region == to.Region {
		return true
	}
	before := regionsOf(cat, ref.Nodes)
	after := regionsOf(cat, slices.DeleteFunc(slices.Clone(ref.Nodes), func(id uint64) bool { return id == from.ID }))
	if to.Region != "" {
		after[to.Region]++
	}
	return maxRegion(after) <= maxRegion(before)
}

// TargetFor picks the node for a replica of group gid (now on nodes)
// that replaces the one on from (0: none, the shard is short of
// replicas): like Target, but the region of the replica replaced does
// not count as used, a regional shard's voter stays in its primary
// region, and a node holding one of its permanent learners is not
// chosen. 0 if no candidate fits.
func TargetFor(cat *catalog.Catalog, live membership.Snapshot, gid uint64, nodes []uint64, from uint64) uint64 {
	ref := cat.Groups()[gid]
	staying := slices.DeleteFunc(slices.Clone(nodes), func(id uint64) bool { return id == from })
	r := ranking{load: cat.ReplicaCounts(), zones: zonesOf(cat, nodes), regions: regionsOf(cat, staying)}
	best := r.best(Candidates(cat, live), func(nd *catalog.Node) bool {
		return !slices.Contains(nodes, nd.ID) && !slices.Contains(ref.Learners, nd.ID) && (ref.Primary == "" || nd.Region == ref.Primary)
	})
	if best == nil {
		return 0
	}
	return best.ID
}

// RegionError says why a regional object cannot be placed: a region
// without a live data node that can take a replica, or too few of them.
type RegionError struct {
	Region string
	Need   int // replicas asked for in the region
	Live   int // live data nodes there
}

func (e *RegionError) Error() string {
	return fmt.Sprintf("region %q needs %d live data nodes; it has %d", e.Region, e.Need, e.Live)
}

// InitialRegional places a new regional object: each shard's replicas
// voters in the primary region (ranked as Initial ranks), and perRegion
// learners in each other region of regions, spread over that region's
// nodes. Learners never share a node with a voter of their shard.
func InitialRegional(cat *catalog.Catalog, live membership.Snapshot, shards, replicas int, primary string, regions []string, perRegion int) (voters, learners [][]uint64, err error) {
	byRegion := map[string][]*catalog.Node{}
	for _, nd := range Candidates(cat, live) {
		byRegion[nd.Region] = append(byRegion[nd.Region], nd)
	}
	if n := len(byRegion[primary]); n < replicas {
		return nil, nil, &RegionError{Region: primary, Need: replicas, Live: n}
	}
	for _, reg := range regions {
		if n := len(byRegion[reg]); reg != primary && n < perRegion {
			return nil, nil, &RegionError{Region: reg, Need: perRegion, Live: n}
		}
	}
	load := cat.ReplicaCounts()
	mine := map[uint64]int{}
	voters = make([][]uint64, shards)
	learners = make([][]uint64, shards)
	for sh := range shards {
		r := ranking{load: load, mine: mine, zones: map[string]bool{}}
		used := map[uint64]bool{}
		for range replicas {
			best := r.best(byRegion[primary], func(nd *catalog.Node) bool { return !used[nd.ID] })
			used[best.ID] = true
			r.take(best)
			voters[sh] = append(voters[sh], best.ID)
		}
		for _, reg := range regions {
			if reg == primary {
				continue
			}
			for range perRegion {
				best := r.best(byRegion[reg], func(nd *catalog.Node) bool { return !used[nd.ID] })
				used[best.ID] = true
				r.take(best)
				learners[sh] = append(learners[sh], best.ID)
			}
		}
	}
	return voters, learners, nil
}
