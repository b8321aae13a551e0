package placement

import (
	"sort"

	"github.com/cairndb/cairn/internal/catalog"
)

// ranking is the one order every placement decision uses to pick among
// candidate nodes. A node is better when, in turn:
//  0. its region holds fewer of the shard's replicas (regions.go; nodes
//     without a region count as holding none), so a shard's voters
//     spread over regions first and, with three regions, no region holds
//     a majority;
//  1. its zone is not yet used by the shard (nodes without a zone never
//     count as a used zone);
//  2. it holds fewer of this object's replicas (mine);
//  3. it carries less load (replicas, or leaders for leadership);
//  4. its id is lower (so decisions are deterministic).
//
// Nil maps count as empty.
type ranking struct {
	regions map[string]int    // replicas of the shard per region (nil: regions ignored)
	zones   map[string]bool   // zones the shard already uses
	mine    map[uint64]int    // replicas of the object being placed, per node
	load    map[uint64]int    // the load being evened out, per node
	skip    func(uint64) bool // nodes never chosen; nil skips none
}

// better reports whether a ranks before b.
func (r ranking) better(a, b *catalog.Node) bool {
	if ar, br := r.inRegion(a), r.inRegion(b); ar != br {
		return ar < br
	}
	az, bz := a.Zone != "" && r.zones[a.Zone], b.Zone != "" && r.zones[b.Zone]
	if az != bz {
		return !az
	}
	if r.mine[a.ID] != r.mine[b.ID] {
		return r.mine[a.ID] < r.mine[b.ID]
	}
	if r.load[a.ID] != r.load[b.ID] {
		return r.load[a.ID] < r.load[b.ID]
	}
	return a.ID < b.ID
}

// best returns the best of the nodes ok accepts, or nil.
func (r ranking) best(nodes []*catalog.Node, ok func(*catalog.Node) bool) *catalog.Node {
	var best *catalog.Node
	for _, nd := range nodes {
		if (ok != nil && !ok(nd)) || (r.skip != nil && r.skip(nd.ID)) {
			continue
		}
		if best == nil || r.better(nd, best) {
			best = nd
		}
	}
	return best
}

// sort orders nodes best first.
func (r ranking) sort(nodes []*catalog.Node) {
	sort.SliceStable(nodes, func(i, j int) bool { return r.better(nodes[i], nodes[j]) })
}

// take records that nd got a replica of the shard and object being placed.
func (r *ranking) take(nd *catalog.Node) {
	if r.regions != nil && nd.Region != "" {
		r.regions[nd.Region]++
	}
	if r.zones != nil {
		r.zones[nd.Zone] = true
	}
	if r.mine != nil {
		r.mine[nd.ID]++
	}
	if r.load != nil {
		r.load[nd.ID]++
	}
}
