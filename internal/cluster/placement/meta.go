package placement

import (
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
)

// MetaVoterTarget is how many voters the meta group should have with
// dataNodes healthy data nodes: 1, 3 from three, 5 from five.
func MetaVoterTarget(dataNodes int) int {
	switch {
	case dataNodes >= 5:
		return 5
	case dataNodes >= 3:
		return 3
	}
	return 1
}

// MetaStatus is the meta group's membership as its leader sees it.
type MetaStatus struct {
	Voters, Learners []uint64
	Match            map[uint64]uint64 // replicated index per replica
	Commit           uint64
}

// MetaChangeType says what a meta membership change does.
type MetaChangeType int

// Meta membership changes.
const (
	MetaAddLearner MetaChangeType = iota + 1
	MetaPromote
	MetaRemove
)

// MetaChange is one change to the meta group's membership.
type MetaChange struct {
	Type MetaChangeType
	Node uint64
	Why  string // for the log
}

// metaCaughtUp is how far behind the commit index a learner may be and
// still be promoted.
const metaCaughtUp = 16

// NextMetaChange decides the next change to the meta group, made by its
// leader (self), one at a time: promote a caught-up learner on a live
// healthy data node while there are fewer healthy voters than the target
// (zones the voters do not use first); then remove a voter on a dead or
// departing node once enough healthy voters vote without it (never self:
// it moves its leadership first); then remove the learners of removed
// nodes; then add every live node without a copy as a learner, so each
// node reads the catalog locally and is ready to be promoted.
func NextMetaChange(cat *catalog.Catalog, live membership.Snapshot, self uint64, st MetaStatus) (MetaChange, bool) {
	healthy := func(id uint64) bool {
		nd := cat.NodeByID(id)
		return nd != nil && nd.Role != "compute" && !nd.Evacuating() && live.Of(id) != membership.Dead
	}
	dataNodes := 0
	for _, nd := range cat.SortedNodes() {
		if healthy(nd.ID) {
			dataNodes++
		}
	}
	target := MetaVoterTarget(dataNodes)
	healthyVoters := 0
	inConf := map[uint64]bool{}
	for _, v := range st.Voters {
		inConf[v] = true
		if healthy(v) {
			healthyVoters++
		}
	}
	for _, l := range st.Learners {
		inConf[l] = true
	}
	if healthyVoters < target {
		var ready []*catalog.Node
		for _, l := range sortIDs(st.Learners) {
			if m, ok := st.Match[l]; healthy(l) && live.IsLive(l) && ok && m+metaCaughtUp >= st.Commit {
				ready = append(ready, cat.NodeByID(l))
			}
		}
		var kept []uint64
		for _, v := range st.Voters {
			if healthy(v) {
				kept = append(kept, v)
			}
		}
		r := ranking{regions: regionsOf(cat, kept), zones: zonesOf(cat, st.Voters)}
		if best := r.best(ready, nil); best != nil {
			return MetaChange{MetaPromote, best.ID, "promoted to voter"}, true
		}
	}
	if healthyVoters >= target {
		for _, v := range sortIDs(st.Voters) {
			if !healthy(v) && v != self {
				return MetaChange{MetaRemove, v, "removed a voter on a dead or departing node"}, true
			}
		}
	}
	// A decommissioned node keeps its learner copy until it is removed:
	// with a current catalog it knows it holds nothing (so it deletes its
	// replicas and serves no stale data) and refuses new sessions.
	for _, l := range sortIDs(st.Learners) {
		if cat.NodeByID(l) == nil {
			return MetaChange{MetaRemove, l, "removed the learner of a removed node"}, true
		}
	}
	for _, nd := range cat.SortedNodes() {
		if !inConf[nd.ID] && live.IsLive(nd.ID) {
			return MetaChange{MetaAddLearner, nd.ID, "added learner " + nd.Name}, true
		}
	}
	return MetaChange{}, false
}
