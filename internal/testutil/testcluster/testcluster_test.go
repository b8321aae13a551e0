package testcluster

import (
	"fmt"
	"testing"
	"time"
)

// TestIsolateLeaderInProcess isolates the leader of a stream shard with the
// shared Faults, checks the majority keeps taking writes and the cut-off
// node acknowledges none, heals, stops and restarts a node, and checks the
// stream and the view agree everywhere — all under the race detector.
func TestIsolateLeaderInProcess(t *testing.T) {
	c := Start(t, 3)
	if err := c.Exec(0, `CREATE STREAM s (id int8) WITH (shards = 1, replicas = 3);
		CREATE MATERIALIZED VIEW v AS SELECT count(*) AS n, sum(id) AS ids FROM s`); err != nil {
		t.Fatal(err)
	}
	leader := -1
	c.WaitFor(20*time.Second, func() (bool, string) {
		for i := 0; i < 3; i++ {
			var name string
			if err := c.QueryRow(i, "SELECT node_id FROM cairn_cluster.shards WHERE object = 's' AND role = 'leader'").Scan(&name); err == nil && name == c.Name(i) {
				leader = i
				return true, ""
			}
		}
		return false, "no leader of s"
	})
	other := (leader + 1) % 3
	next, acked := int64(1), int64(0)
	write := func(i int) error {
		id := next
		next++
		err := c.Exec(i, fmt.Sprintf("INSERT INTO s VALUES (%d)", id))
		if err == nil {
			acked++
		}
		return err
	}
	for k := 0; k < 10; k++ {
		if err := write(other); err != nil {
			t.Fatal(err)
		}
	}
	c.Faults.Isolate(c.ID(leader))
	c.WaitFor(20*time.Second, func() (bool, string) {
		err := write(other)
		return err == nil, fmt.Sprintf("write through the majority: %v", err)
	})
	if err := write(leader); err == nil {
		t.Fatal("the cut-off node acknowledged a write")
	}
	c.Faults.HealAll()
	// Stop and restart a follower, writing while it is down.
	follower := (leader + 2) % 3
	c.Stop(follower)
	for k := 0; k < 5; k++ {
		c.WaitFor(15*time.Second, func() (bool, string) {
			err := write(other)
			return err == nil, fmt.Sprintf("write with a follower down: %v", err)
		})
	}
	c.Restart(follower)
	for i := 0; i < 3; i++ {
		c.WaitFor(20*time.Second, func() (bool, string) {
			var n, ids int64
			if err := c.QueryRow(i, "SELECT n, ids FROM v").Scan(&n, &ids); err != nil {
				return false, err.Error()
			}
			// Failed writes may have landed (at most once): the view holds
			// every acknowledged id, and the stream agrees with it.
			var sn, sids int64
			if err := c.QueryRow(i, "SELECT count(*), coalesce(sum(id), 0) FROM s").Scan(&sn, &sids); err != nil {
				return false, err.Error()
			}
			return n == sn && ids == sids && n >= acked, fmt.Sprintf("n%d: view (%d, %d), stream (%d, %d), acked %d", i+1, n, ids, sn, sids, acked)
		})
	}
}
