package placement

import (
	"slices"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
)

// Led is a group whose leader is on the deciding node, with its voters.
type Led struct {
	Group  uint64
	Voters []uint64
}

// Transfer hands group Group's leadership to node To.
type Transfer struct {
	Group uint64
	To    uint64
	// Even marks a leader-balance transfer; Theirs is then To's reported
	// leader count before it, so the caller can count the one it hands over.
	Even   bool
	Theirs int
}

// LeaderInput is what the leader decision of one node sees.
type LeaderInput struct {
	Cat       *catalog.Catalog
	Live      membership.Snapshot
	Self      uint64
	Preferred string // the preferred_leader setting: a node name, or ""
	Led       []Led  // data groups Self leads
	Meta      *Led   // the meta group, if Self leads it
}

// LeaderTransfers decides which leaderships node Self hands away:
//   - a node that may not lead (draining, offline, decommissioning) hands
//     every leadership, the meta group's too, to the preferred leader when
//     it is a voter, else to the least loaded live voter;
//   - with a live preferred leader set, every other node hands it each
//     leadership where it is a voter;
//   - otherwise one data-shard leadership per round goes to a live voter
//     leading at least two fewer shards than Self (never to a replica an
//     operation is removing).
func LeaderTransfers(in LeaderInput) []Transfer {
	me := in.Cat.NodeByID(in.Self)
	if me == nil {
		return nil
	}
	var pref *catalog.Node
	if in.Preferred != "" {
		if p := in.Cat.Nodes[in.Preferred]; p != nil && p.Leadable() && in.Live.IsLive(p.ID) {
			pref = p
		}
	}
	led := slices.Clone(in.Led)
	slices.SortFunc(led, func(a, b Led) int { return int(a.Group) - int(b.Group) })
	if !me.Leadable() || (pref != nil && pref.ID != me.ID) {
		if in.Meta != nil {
			led = append(led, *in.Meta)
		}
		var out []Transfer
		for _, g := range led {
			to := uint64(0)
			if pref != nil && slices.Contains(g.Voters, pref.ID) {
				to = pref.ID
			} else if !me.Leadable() {
				to = leastLoadedVoter(in, g.Voters, 0)
			}
			if to != 0 && to != in.Self {
				out = append(out, Transfer{Group: g.Group, To: to})
			}
		}
		return out
	}
	if pref != nil {
		return nil // the preferred node keeps what it leads
	}
	mine := len(led)
	for _, g := range led {
		if len(g.Voters) < 2 {
			continue
		}
		leaving := uint64(0) // a replica an operation is removing gets no leadership
		if o := in.Cat.ActiveOpOn(g.Group); o != nil && o.Type == catalog.OpReplaceReplica {
			leaving = o.From
		}
		// Only voters whose leader count was heard compete here.
		r := ranking{load: in.Live.Leaders, skip: func(id uint64) bool {
			c, ok := in.Live.Leaders[id]
			return id == leaving || !ok || c >= mine-1
		}}
		if best := r.best(leadableVoters(in, g.Voters), nil); best != nil {
			return []Transfer{{Group: g.Group, To: best.ID, Even: true, Theirs: in.Live.Leaders[best.ID]}}
		}
	}
	return nil
}

// leadableVoters returns the voters, other than Self, that are live and
// may lead.
func leadableVoters(in LeaderInput, voters []uint64) []*catalog.Node {
	var out []*catalog.Node
	for _, v := range sortIDs(voters) {
		nd := in.Cat.NodeByID(v)
		if v == in.Self || nd == nil || !nd.Leadable() || !in.Live.IsLive(v) {
			continue
		}
		out = append(out, nd)
	}
	return out
}

// leastLoadedVoter picks the live voter (not Self, allowed to lead,
// not skip) that leads the fewest shards; 0 if none.
func leastLoadedVoter(in LeaderInput, voters []uint64, skip uint64) uint64 {
	r := ranking{load: in.Live.Leaders, skip: func(id uint64) bool { return id == skip }}
	if best := r.best(leadableVoters(in, voters), nil); best != nil {
		return best.ID
	}
	return 0
}

// HandOff picks the voter a leadership moves to when node self must give
// it up: the live voter allowed to lead that leads the fewest shards;
// 0 if none.
func HandOff(cat *catalog.Catalog, live membership.Snapshot, self uint64, voters []uint64) uint64 {
	return leastLoadedVoter(LeaderInput{Cat: cat, Live: live, Self: self}, voters, 0)
}
