package alert

import (
	"slices"
	"strconv"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
)

// Inputs are what one node knows that the health table and the evaluator
// read: the catalog, each node's state and liveness as this node sees
// them, and the reports the nodes sent (this node's own included).
type Inputs struct {
	Now time.Time
	Cat *catalog.Catalog
	// State is a node's state for display: the operator's (draining…)
	// if set, else its liveness (live, suspect, dead, unknown).
	State func(nd *catalog.Node) string
	// Liveness is a node's liveness alone.
	Liveness func(nd *catalog.Node) string
	Reports  map[uint64]Report // by raft id
	// MetaVoters are the meta group's voters (nil: unknown here).
	MetaVoters []uint64
}

// NodeHealth is one node's row of cairn_cluster.health.
type NodeHealth struct {
	ID       uint64
	Name     string
	State    string
	Liveness string
	Score    int // -1: no report yet
	Report   Report
	Reported bool
	LagMs    int64 // the largest lag of its replicas, as leaders report it
	// Groups and NoQuorum count the groups it holds a replica of, and
	// those of them without a live majority of voters.
	Groups, NoQuorum int
}

// Health computes every node's health row, by name.
func Health(in Inputs) []NodeHealth {
	groups := Quorum(in)
	held := map[uint64][2]int{}
	for _, g := range groups {
		for _, id := range g.members {
			c := held[id]
			c[0]++
			if !g.HasQuorum {
				c[1]++
			}
			held[id] = c
		}
	}
	var out []NodeHealth
	for _, nd := range in.Cat.SortedNodes() {
		h := NodeHealth{ID: nd.ID, Name: nd.Name, State: in.State(nd), Liveness: in.Liveness(nd), Score: -1}
		h.Report, h.Reported = in.Reports[nd.ID]
		h.LagMs = LagOf(in.Reports, nd.ID)
		switch {
		case h.Liveness == StateDead:
			h.Score = 0
		case h.Reported:
			h.Score = Score(h.Liveness, h.Report, h.LagMs)
		}
		c := held[nd.ID]
		h.Groups, h.NoQuorum = c[0], c[1]
		out = append(out, h)
	}
	return out
}

// groupQuorum is a group's quorum facts and its voters.
type groupQuorum struct {
	GroupFacts
	members []uint64
}

// Quorum computes every group's quorum: the meta group (when its voters
// are known here) and every data group, by id.
func Quorum(in Inputs) []groupQuorum {
	live := map[uint64]bool{}
	for _, nd := range in.Cat.Nodes {
		live[nd.ID] = in.Liveness(nd) == "live"
	}
	var lagByGroup map[uint64]int64
	for _, r := range in.Reports {
		for gid, lag := range r.GroupLagMs {
			if lagByGroup == nil {
				lagByGroup = map[uint64]int64{}
			}
			lagByGroup[gid] = max(lagByGroup[gid], lag)
		}
	}
	mk := func(gid uint64, label string, voters []uint64) groupQuorum {
		g := groupQuorum{GroupFacts: GroupFacts{ID: gid, Label: label, Voters: len(voters), LagMs: lagByGroup[gid]}, members: voters}
		for _, id := range voters {
			if live[id] {
				g.Live++
			}
		}
		g.HasQuorum = g.Live > g.Voters/2
		return g
	}
	var out []groupQuorum
	if len(in.MetaVoters) > 0 {
		out = append(out, mk(catalog.MetaGroupID, "meta", in.MetaVoters))
	}
	refs := in.Cat.Groups()
	ids := make([]uint64, 0, len(refs))
	for gid := range refs {
		ids = append(ids, gid)
	}
	slices.Sort(ids)
	for _, gid := range ids {
		ref := refs[gid]
		kind := "stream"
		switch ref.Kind {
		case catalog.GroupView:
			kind = "view"
		case catalog.GroupTable:
			kind = "table"
		}
		out = append(out, mk(gid, kind+" "+ref.Object+"/"+strconv.Itoa(ref.Shard), ref.Nodes))
	}
	return out
}

// Gather builds the evaluator's facts from in.
func Gather(in Inputs) Facts {
	f := Facts{Now: in.Now}
	for _, h := range Health(in) {
		n := NodeFacts{Name: h.Name, State: h.State, Score: h.Score, DiskUsedPct: -1}
		if h.Liveness == StateDead || h.Liveness == StateSuspect || h.Liveness == "unknown" {
			n.State = h.Liveness // a dead node that was draining is dead
		}
		if h.Reported && h.Liveness == "live" {
			n.DiskUsedPct = h.Report.DiskUsedPct
		}
		if nd := in.Cat.Nodes[h.Name]; nd != nil {
			n.CertExpiresAt = nd.CertExpiresAt
		}
		f.Nodes = append(f.Nodes, n)
	}
	for _, g := range Quorum(in) {
		f.Groups = append(f.Groups, g.GroupFacts)
	}
	return f
}
