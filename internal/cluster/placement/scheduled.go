package placement

import (
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
)

// Scheduled views (issue 13) have one owner node and no replicas, so they
// are placed by their own small ranking: a node may own one when it is
// live and no operator is draining or taking it out (catalog
// Node.CanOwnViews); compute nodes come before data nodes (that is what
// they are for, and data nodes keep their CPU for Raft); then the node
// owning the fewest scheduled views (counting views an unfinished
// operation is moving onto it); then the lowest id.

// ViewOwners are the nodes a scheduled view may be assigned to, by id.
func ViewOwners(cat *catalog.Catalog, live membership.Snapshot) []*catalog.Node {
	var out []*catalog.Node
	for _, nd := range cat.SortedNodes() {
		if nd.CanOwnViews() && live.IsLive(nd.ID) {
			out = append(out, nd)
		}
	}
	return out
}

// ViewLoad is, per node id, the scheduled views it owns plus those an
// unfinished move_scheduled_view is bringing to it (and minus those it
// is taking away), so that decisions made before a move ends do not pile
// onto one node.
func ViewLoad(cat *catalog.Catalog) map[uint64]int {
	load := cat.ScheduledCounts()
	for _, o := range cat.Ops {
		if !o.Active() || o.Type != catalog.OpMoveScheduledView {
			continue
		}
		v := cat.Views[o.View]
		if v == nil || v.Sched == nil || v.Sched.Node == o.To {
			continue // dropped, or already assigned: counted as owned
		}
		if o.To != 0 {
			load[o.To]++
		}
		if v.Sched.Node != 0 && load[v.Sched.Node] > 0 {
			load[v.Sched.Node]--
		}
	}
	return load
}

// viewBetter reports whether node a ranks before b as the owner of a
// scheduled view, with load the views per node.
func viewBetter(a, b *catalog.Node, load map[uint64]int) bool {
	ac, bc := a.Role == "compute", b.Role == "compute"
	if ac != bc {
		return ac
	}
	if load[a.ID] != load[b.ID] {
		return load[a.ID] < load[b.ID]
	}
	return a.ID < b.ID
}

// ViewOwner picks the node for a scheduled view: the best of ViewOwners
// other than not (the owner it is moving off; 0: none), ranked with
// load (nil: ViewLoad). It returns 0 when no node can take it.
func ViewOwner(cat *catalog.Catalog, live membership.Snapshot, not uint64, load map[uint64]int) uint64 {
	if load == nil {
		load = ViewLoad(cat)
	}
	var best *catalog.Node
	for _, nd := range ViewOwners(cat, live) {
		if nd.ID == not {
			continue
		}
		if best == nil || viewBetter(nd, best, load) {
			best = nd
		}
	}
	if best == nil {
		return 0
	}
	return best.ID
}

// ViewMove is one scheduled view to hand off from one node to another.
type ViewMove struct {
	View     string
	From, To uint64
}

// ViewRebalanceMove picks one scheduled view to move (auto_rebalance):
//  1. a view owned by a data node, when a compute node can own it (to
//     the best compute node: compute nodes are where scheduled views
//     belong, so adding one pulls them off the data nodes);
//  2. else, from the compute node owning the most to the one owning the
//     fewest, when they differ by two or more.
//
// Only views whose owner is live and whose move is not already under
// way count, so a failover is never mistaken for a rebalance. Views are
// taken by name. ok is false when nothing should move.
func ViewRebalanceMove(cat *catalog.Catalog, live membership.Snapshot) (ViewMove, bool) {
	owners := ViewOwners(cat, live)
	var computes []*catalog.Node
	for _, nd := range owners {
		if nd.Role == "compute" {
			computes = append(computes, nd)
		}
	}
	if len(computes) == 0 {
		return ViewMove{}, false
	}
	load := ViewLoad(cat)
	best, worst := computes[0], computes[0]
	for _, nd := range computes[1:] {
		if viewBetter(nd, best, load) {
			best = nd
		}
		if viewBetter(worst, nd, load) {
			worst = nd
		}
	}
	movable := func(v *catalog.View, from uint64) bool {
		return v.Sched != nil && v.Sched.Node == from && cat.ActiveOpOnView(v.Name) == nil
	}
	// 1. Off the data nodes.
	for _, v := range cat.ScheduledViews() {
		nd := cat.NodeByID(v.Sched.Node)
		if nd != nil && nd.Role != "compute" && nd.CanOwnViews() && live.IsLive(nd.ID) && movable(v, nd.ID) {
			return ViewMove{View: v.Name, From: nd.ID, To: best.ID}, true
		}
	}
	// 2. Even out the compute nodes.
	if load[worst.ID]-load[best.ID] < 2 {
		return ViewMove{}, false
	}
	for _, v := range cat.ScheduledViews() {
		if movable(v, worst.ID) {
			return ViewMove{View: v.Name, From: worst.ID, To: best.ID}, true
		}
	}
	return ViewMove{}, false
}
