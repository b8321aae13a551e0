package node

import (
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/console"
)

// The web console's timeline: what this node saw happen, in a bounded
// ring. Every timelinePoll the node takes an observation (every node's
// state, the leader and term of every group it holds a replica of, every
// operation's status) and compares it with the last one; each difference
// is an event. Elections and failovers are seen by the nodes that hold
// replicas of the group, so each node's timeline is its own view (the
// console shows the one of the node it is served by). Nothing is stored:
// a restart starts an empty timeline.

// timelinePoll is how often the node looks; timelineCap bounds the ring.
const (
	timelinePoll = 500 * time.Millisecond
	timelineCap  = 256
)

// groupSeen is one group's leadership as this node's replica sees it.
type groupSeen struct {
	Leader string // node name; "" when the replica knows no leader
	Term   uint64
	Label  string // "shard 7 (stream events/2)"
}

// opSeen is one operation's state.
type opSeen struct {
	Type, Target, Status, Error string
}

// observation is one look at the cluster from this node.
type observation struct {
	Nodes  map[string]string    // name → state (operator state, else liveness)
	Groups map[uint64]groupSeen // groups with a replica here
	Ops    map[uint64]opSeen
}

// timelineEvent is an event before it is numbered and stamped.
type timelineEvent struct{ kind, subject, detail string }

// opKind is the timeline kind of an operation's type.
func opKind(typ string) string {
	switch typ {
	case catalog.OpReplaceReplica, catalog.OpForceRecover:
		return "repair"
	case catalog.OpFailover:
		return "failover"
	}
	return "operation"
}

// diffObservations lists what changed from prev to cur, in a stable
// order: nodes, then groups, then operations. The first observation
// (prev nil) is the starting point and yields nothing; groups and
// operations that appear for the first time yield only for operations.
func diffObservations(prev, cur *observation) []timelineEvent {
	if prev == nil {
		return nil
	}
	var out []timelineEvent
	names := make([]string, 0, len(cur.Nodes))
	for name := range cur.Nodes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		was, ok := prev.Nodes[name]
		now := cur.Nodes[name]
		switch {
		case !ok:
			out = append(out, timelineEvent{"node", name, "joined the cluster (" + now + ")"})
		case was != now:
			out = append(out, timelineEvent{"node", name, was + " → " + now})
		}
	}
	gone := []string{}
	for name := range prev.Nodes {
		if _, ok := cur.Nodes[name]; !ok {
			gone = append(gone, name)
		}
	}
	sort.Strings(gone)
	for _, name := range gone {
		out = append(out, timelineEvent{"node", name, "removed from the cluster"})
	}

	gids := make([]uint64, 0, len(cur.Groups))
	for gid := range cur.Groups {
		gids = append(gids, gid)
	}
	sort.Slice(gids, func(i, j int) bool { return gids[i] < gids[j] })
	for _, gid := range gids {
		g, p := cur.Groups[gid], prev.Groups[gid]
		if _, had := prev.Groups[gid]; !had || g.Leader == "" || g.Leader == p.Leader {
			continue
		}
		kind, detail := "leader", g.Leader+" leads"
		if g.Term > p.Term {
			kind, detail = "election", fmt.Sprintf("%s elected leader in term %d", g.Leader, g.Term)
		}
		if p.Leader != "" {
			detail += ", was " + p.Leader
			if st := cur.Nodes[p.Leader]; st == "dead" || st == "suspect" || st == "offline" {
				kind, detail = "failover", detail+" ("+st+")"
			}
		}
		out = append(out, timelineEvent{kind, g.Label, detail})
	}

	ids := make([]uint64, 0, len(cur.Ops))
	for id := range cur.Ops {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		o := cur.Ops[id]
		p, had := prev.Ops[id]
		if had && p.Status == o.Status {
			continue
		}
		subject := fmt.Sprintf("operation %d", id)
		detail := o.Type + " " + o.Target + ": " + o.Status
		if o.Status == catalog.OpFailed && o.Error != "" {
			detail += " (" + o.Error + ")"
		}
		out = append(out, timelineEvent{opKind(o.Type), subject, detail})
	}
	return out
}

// timeline is the ring of events and the last observation.
type timeline struct {
	mu struct {
		sync.Mutex
		last   *observation
		events []console.Event // oldest first, at most timelineCap
		seq    uint64
	}
}

// observe records the differences between the last observation and cur.
func (t *timeline) observe(now time.Time, cur *observation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range diffObservations(t.mu.last, cur) {
		t.mu.seq++
		t.mu.events = append(t.mu.events, console.Event{Seq: t.mu.seq, At: now.UTC(), Kind: e.kind, Subject: e.subject, Detail: e.detail})
	}
	if n := len(t.mu.events); n > timelineCap {
		t.mu.events = append(t.mu.events[:0:0], t.mu.events[n-timelineCap:]...)
	}
	t.mu.last = cur
}

// events returns a copy of the ring, oldest first.
func (t *timeline) events() []console.Event {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]console.Event(nil), t.mu.events...)
}

// observeTimeline takes one observation of the cluster (the console's
// background loop).
func (n *Node) observeTimeline() {
	cat := n.meta.Catalog()
	obs := &observation{Nodes: map[string]string{}, Groups: map[uint64]groupSeen{}, Ops: map[uint64]opSeen{}}
	for _, nd := range cat.SortedNodes() {
		st := nd.State
		if st == "" {
			st = n.liveness(nd)
		}
		obs.Nodes[nd.Name] = st
	}
	look := func(gid uint64) {
		st, ok := n.store.Status(gid)
		if !ok {
			return
		}
		g := groupSeen{Term: st.Term, Label: cat.GroupTarget(gid)}
		if st.Leader != 0 {
			g.Leader = cat.BareName(st.Leader)
		}
		obs.Groups[gid] = g
	}
	look(catalog.MetaGroupID)
	for gid := range cat.Groups() {
		look(gid)
	}
	for _, o := range cat.SortedOps() {
		obs.Ops[o.ID] = opSeen{Type: o.Type, Target: o.Target, Status: o.Status, Error: o.Error}
	}
	n.timeline.observe(time.Now(), obs)
}
