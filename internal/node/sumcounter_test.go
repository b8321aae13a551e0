package node

import (
	"testing"

	"github.com/cairndb/cairn/internal/metrics"
)

// TestSumCounter: the health report's election and leader-change counts
// are the metrics' totals over every kind of group.
func TestSumCounter(t *testing.T) {
	m := metrics.New()
	m.Elected(metrics.GroupMeta)
	m.Elected(metrics.GroupStream)
	m.LeaderChanged(metrics.GroupStream)
	if e, l := sumCounter(m.RaftElections), sumCounter(m.RaftLeaderChanges); e != 2 || l != 1 {
		t.Fatalf("elections %d, leader changes %d; want 2 and 1", e, l)
	}
}
