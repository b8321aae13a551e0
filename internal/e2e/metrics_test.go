package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestMetricsLeaderKilled kills (SIGKILL) the node leading a stream
// shard of a three-node cluster and watches the survivors' /metrics: they
// count the election and the leader change of a stream group, see one
// peer dead (cairn_peers), and end with no stream group leaderless.
func TestMetricsLeaderKilled(t *testing.T) {
	start := time.Now()
	c := startOpsCluster(t, 3)
	t.Logf("cluster up in %v", time.Since(start).Round(time.Millisecond))
	c.must("ALTER SYSTEM SET dead_after = '2s'")
	c.must("CREATE STREAM mk (x int8) WITH (shards = 1, replicas = 3)")
	c.must("INSERT INTO mk (x) VALUES (1), (2)")
	leader := c.must("SELECT node_id FROM cairn_cluster.shards WHERE object = 'mk' AND shard = 0 AND role = 'leader'")
	var survivors []string
	for _, n := range []string{"n1", "n2", "n3"} {
		if n != leader {
			survivors = append(survivors, n)
		}
	}
	if len(survivors) != 2 {
		t.Fatalf("leader %q is none of n1..n3", leader)
	}
	sum := func(series string) float64 {
		var s float64
		for _, n := range survivors {
			s += scrapeMetrics(t, c.p(n))[series]
		}
		return s
	}
	for _, n := range survivors {
		m := scrapeMetrics(t, c.p(n))
		if m[`cairn_peers{state="live"}`] != 2 || m[`cairn_peers{state="dead"}`] != 0 {
			t.Fatalf("%s before the kill: peers live %v dead %v", n, m[`cairn_peers{state="live"}`], m[`cairn_peers{state="dead"}`])
		}
	}
	elections := sum(`cairn_raft_elections_total{group_kind="stream"}`)
	changes := sum(`cairn_raft_leader_changes_total{group_kind="stream"}`)

	c.kill(leader)
	killed := time.Now()
	waitUntil(t, 30*time.Second, func() (bool, string) {
		var msg string
		ok := true
		for _, n := range survivors {
			m := scrapeMetrics(t, c.p(n))
			dead, leaderless := m[`cairn_peers{state="dead"}`], m[`cairn_raft_leaderless_groups{group_kind="stream"}`]
			ok = ok && dead == 1 && leaderless == 0
			msg += fmt.Sprintf("%s: peers dead %v, leaderless stream groups %v; ", n, dead, leaderless)
		}
		e, l := sum(`cairn_raft_elections_total{group_kind="stream"}`), sum(`cairn_raft_leader_changes_total{group_kind="stream"}`)
		msg += fmt.Sprintf("stream elections %v→%v, leader changes %v→%v", elections, e, changes, l)
		return ok && e > elections && l >= changes+2, msg
	})
	t.Logf("survivors' metrics settled %v after the kill", time.Since(killed).Round(time.Millisecond))
	c.must("INSERT INTO mk (x) VALUES (3)")
}
