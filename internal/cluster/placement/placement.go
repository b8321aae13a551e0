// Package placement decides where things go: the replicas of a new
// object's shards, the node that takes a replacement replica, the next
// rebalance move, which voter a leadership is handed to, and how the meta
// group's voters grow and shrink. Every decision is a pure function of the
// catalog and a liveness snapshot; nothing here calls a clock, a store or
// the network, so the decisions are tested by the scripts in testdata.
// All of them rank candidate nodes with one ranking (rank.go): the
// fewest of the shard's replicas in the node's region first (regions.go),
// then a zone the shard does not use yet, then the fewest replicas of
// this object, then the lightest load, then the lowest id.
package placement

import (
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
)

// ErrNoLiveNode is returned when no live data node can take a replica.
var ErrNoLiveNode = errors.New("no live data node to place shards on")

// TooFewNodesError is returned when more replicas are asked for than there
// are live data nodes.
type TooFewNodesError struct {
	Replicas  int // asked for
	Live      int // live data nodes
	DataNodes int // data nodes in the cluster
}

func (e *TooFewNodesError) Error() string {
	return fmt.Sprintf("replicas=%d needs %d live data nodes; %d of the cluster's %d data nodes are live", e.Replicas, e.Replicas, e.Live, e.DataNodes)
}

// Candidates are the nodes new replicas may go on: live data nodes that
// an operator has not taken out, by id.
func Candidates(cat *catalog.Catalog, live membership.Snapshot) []*catalog.Node {
	var out []*catalog.Node
	for _, nd := range cat.SortedNodes() {
		if nd.Placeable() && live.IsLive(nd.ID) {
			out = append(out, nd)
		}
	}
	return out
}

// Initial places a new object: for each of shards shards, replicas
// distinct candidate nodes. No node holds two replicas of a shard; a
// shard spreads across zones; the object's replicas spread over the nodes
// before the cluster's load decides, so the shards' first replicas
// rotate.
func Initial(cat *catalog.Catalog, live membership.Snapshot, shards, replicas int) ([][]uint64, error) {
	cands := Candidates(cat, live)
	if len(cands) == 0 {
		return nil, ErrNoLiveNode
	}
	if replicas > len(cands) {
		return nil, &TooFewNodesError{Replicas: replicas, Live: len(cands), DataNodes: cat.DataNodes()}
	}
	r := ranking{load: cat.ReplicaCounts(), mine: map[uint64]int{}}
	out := make([][]uint64, shards)
	for sh := range out {
		r.zones, r.regions = map[string]bool{}, map[string]int{}
		used := map[uint64]bool{}
		for range replicas {
			best := r.best(cands, func(nd *catalog.Node) bool { return !used[nd.ID] })
			used[best.ID] = true
			r.take(best)
			out[sh] = append(out[sh], best.ID)
		}
	}
	return out, nil
}

// Target picks the node for a new replica of a shard now on nodes: a
// candidate not holding it, ranked; 0 if there is none. Replacing a
// replica, TargetFor also keeps a regional shard in its primary region
// and does not count the region of the replica being replaced.
func Target(cat *catalog.Catalog, live membership.Snapshot, nodes []uint64) uint64 {
	r := ranking{load: cat.ReplicaCounts(), zones: zonesOf(cat, nodes), regions: regionsOf(cat, nodes)}
	best := r.best(Candidates(cat, live), func(nd *catalog.Node) bool { return !slices.Contains(nodes, nd.ID) })
	if best == nil {
		return 0
	}
	return best.ID
}

// Move is one replica to move from one node to another.
type Move struct {
	Group    uint64
	From, To uint64
}

// RebalanceMove picks one shard to move from the fullest candidate to the
// emptiest, when their replica counts differ by two or more, the shard
// has no operation running and the move keeps its region spread
// (regionsAllow); ok is false when the candidates are balanced
// (or nothing can move).
func RebalanceMove(cat *catalog.Catalog, live membership.Snapshot) (Move, bool) {
	cands := Candidates(cat, live)
	if len(cands) < 2 {
		return Move{}, false
	}
	r := ranking{load: cat.ReplicaCounts()}
	r.sort(cands)
	lo := cands[0]
	groups := cat.Groups()
	gids := make([]uint64, 0, len(groups))
	for g := range groups {
		gids = append(gids, g)
	}
	slices.Sort(gids)
	for hi := len(cands) - 1; hi > 0; hi-- {
		h := cands[hi]
		if r.load[h.ID]-r.load[lo.ID] < 2 {
			break
		}
		for _, g := range gids {
			nodes := groups[g].Nodes
			if slices.Contains(nodes, h.ID) && !groups[g].Holds(lo.ID) && cat.ActiveOpOn(g) == nil && regionsAllow(cat, groups[g], h, lo) {
				return Move{Group: g, From: h.ID, To: lo.ID}, true
			}
		}
	}
	return Move{}, false
}

// RebalanceEstimate is how many moves even out the candidates (at least
// one), for an operation's progress.
func RebalanceEstimate(cat *catalog.Catalog, live membership.Snapshot) int {
	cands := Candidates(cat, live)
	if len(cands) == 0 {
		return 1
	}
	counts := cat.ReplicaCounts()
	total := 0
	for _, nd := range cands {
		total += counts[nd.ID]
	}
	avg := (total + len(cands) - 1) / len(cands)
	moves := 0
	for _, nd := range cands {
		if c := counts[nd.ID]; c > avg {
			moves += c - avg
		}
	}
	return max(moves, 1)
}

// zonesOf returns the zones of nodes.
func zonesOf(cat *catalog.Catalog, nodes []uint64) map[string]bool {
	zones := map[string]bool{}
	for _, id := range nodes {
		if nd := cat.NodeByID(id); nd != nil && nd.Zone != "" {
			zones[nd.Zone] = true
		}
	}
	return zones
}

// sortIDs returns ids sorted, as a new slice.
func sortIDs(ids []uint64) []uint64 {
	out := slices.Clone(ids)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
