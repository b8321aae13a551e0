package node

import (
	"fmt"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
)

func obsOf(nodes map[string]string, groups map[uint64]groupSeen, ops map[uint64]opSeen) *observation {
	return &observation{Nodes: nodes, Groups: groups, Ops: ops}
}

// TestTimelineDiff: each change between two observations is one event of
// the right kind; the first observation and unchanged state yield none.
func TestTimelineDiff(t *testing.T) {
	g := func(leader string, term uint64) groupSeen {
		return groupSeen{Leader: leader, Term: term, Label: "shard 7 (stream s/0)"}
	}
	base := obsOf(map[string]string{"n1": "live", "n2": "live", "n3": "live"},
		map[uint64]groupSeen{7: g("n3", 2), 8: g("n1", 2)},
		map[uint64]opSeen{1: {Type: catalog.OpRebalance, Target: "cluster", Status: catalog.OpDone}})
	if ev := diffObservations(nil, base); len(ev) != 0 {
		t.Fatalf("first observation: %v", ev)
	}
	if ev := diffObservations(base, base); len(ev) != 0 {
		t.Fatalf("no change: %v", ev)
	}
	cur := obsOf(map[string]string{"n1": "live", "n2": "live", "n3": "dead", "n4": "live"},
		map[uint64]groupSeen{7: g("n1", 3), 8: g("n2", 2), 9: g("n1", 1)},
		map[uint64]opSeen{
			1: {Type: catalog.OpRebalance, Target: "cluster", Status: catalog.OpDone},
			2: {Type: catalog.OpReplaceReplica, Target: "shard 7", Status: catalog.OpRunning},
		})
	got := fmt.Sprint(diffObservations(base, cur))
	want := "[{node n3 live → dead} {node n4 joined the cluster (live)} " +
		"{failover shard 7 (stream s/0) n1 elected leader in term 3, was n3 (dead)} " +
		"{leader shard 7 (stream s/0) n2 leads, was n1} " +
		"{repair operation 2 replace_replica shard 7: running}]"
	if got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
	next := obsOf(map[string]string{"n1": "live", "n2": "live", "n4": "live"}, cur.Groups,
		map[uint64]opSeen{2: {Type: catalog.OpReplaceReplica, Target: "shard 7", Status: catalog.OpFailed, Error: "boom"}})
	got = fmt.Sprint(diffObservations(cur, next))
	want = "[{node n3 removed from the cluster} {repair operation 2 replace_replica shard 7: failed (boom)}]"
	if got != want {
		t.Fatalf("events:\n got %s\nwant %s", got, want)
	}
}

// TestTimelineRing: events are numbered in order and the ring keeps the
// newest timelineCap.
func TestTimelineRing(t *testing.T) {
	var tl timeline
	now := time.Unix(1000, 0)
	tl.observe(now, obsOf(map[string]string{"n1": "live"}, nil, nil))
	for i := range timelineCap + 10 {
		st := "live"
		if i%2 == 0 {
			st = "suspect"
		}
		tl.observe(now, obsOf(map[string]string{"n1": st}, nil, nil))
	}
	ev := tl.events()
	if len(ev) != timelineCap || ev[0].Seq != 11 || ev[len(ev)-1].Seq != timelineCap+10 {
		t.Fatalf("%d events, seq %d…%d", len(ev), ev[0].Seq, ev[len(ev)-1].Seq)
	}
}
