package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/testutil"
)

// queryText runs a query on a fresh connection and returns the rows as
// "a|b" lines, or the error.
func queryText(p *Proc, sql string) (string, error) {
	return testutil.QueryText(p.URL(), sql)
}

// TestClusterMembership starts three real nodes (two join through the
// first), checks that every node sees every other live and that the meta
// group has three voters, runs DDL through a follower, writes through
// every node into a stream and view replicated three times, kills the
// first node (the meta leader) with SIGKILL and checks writes, reads and
// DDL keep working with every event counted once, then restarts it and
// checks it catches up.
func TestClusterMembership(t *testing.T) {
	p1 := NewProc(t)
	p1.Start()
	p2, p3 := NewProc(t), NewProc(t)
	p2.Start("--node-id", "n2", "--join", p1.Cluster)
	p3.Start("--node-id", "n3", "--join", p1.Cluster, "--zone", "z3")
	procs := []*Proc{p1, p2, p3}
	byName := map[string]*Proc{"n1": p1, "n2": p2, "n3": p3}
	var pe *pgconn.PgError
	extra := 0
	names := []string{"n1", "n2", "n3"}

	for i, p := range procs {
		waitUntil(t, 30*time.Second, func() (bool, string) {
			out, err := queryText(p, "SELECT node_id, state FROM cairn_cluster.nodes ORDER BY node_id")
			return err == nil && out == "n1|live\nn2|live\nn3|live", names[i] + " sees: " + out + errString(err)
		})
		waitUntil(t, 30*time.Second, func() (bool, string) {
			out, err := queryText(p, "SELECT role FROM cairn_cluster.shards WHERE object = 'meta' AND node_id = '"+names[i]+"'")
			return err == nil && (out == "leader" || out == "follower"), names[i] + " meta role: " + out + errString(err)
		})
	}
	if out, err := queryText(p3, "SELECT zone FROM cairn_cluster.nodes WHERE node_id = 'n3'"); err != nil || out != "z3" {
		t.Fatalf("zone of n3: %q %v", out, err)
	}

	// DDL through a follower of the meta group: a stream and a view with
	// three replicas of each shard, one on every node.
	if _, err := queryText(p2, `CREATE STREAM s (k int8, v float8) WITH (shards = 2, shard_key = 'k');
		CREATE MATERIALIZED VIEW sv WITH (shards = 2) AS SELECT k, count(*) AS n, sum(v) AS total FROM s GROUP BY k`); err != nil {
		t.Fatal(err)
	}
	if out, err := queryText(p3, "SELECT count(*) FROM cairn_cluster.shards WHERE object IN ('s', 'sv')"); err != nil || out != "12" {
		t.Fatalf("replicas of s and sv: %q %v, want 12 (4 shards x 3)", out, err)
	}
	// Writes through every node, each acknowledged once every view has it.
	want := map[int64]int64{}
	insert := func(p *Proc, k int64) error {
		_, err := queryText(p, fmt.Sprintf("SET stream_insert_level = sync_commit; INSERT INTO s VALUES (%d, 1.5), (%d, 2)", k, k+1))
		if err == nil {
			want[k]++
			want[k+1]++
		} else {
			t.Logf("insert %d through %s failed: %v", k, p.PGAddr, err)
		}
		return err
	}
	for i, p := range procs {
		for k := int64(0); k < 6; k++ {
			if err := insert(p, k*10+int64(i)); err != nil {
				t.Fatalf("insert through %s: %v", names[i], err)
			}
		}
	}
	checkView := func(p *Proc, who string) {
		t.Helper()
		var b strings.Builder
		keys := make([]int64, 0, len(want))
		for k := range want {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%d|%d\n", k, want[k])
		}
		exp := strings.TrimSuffix(b.String(), "\n")
		waitUntil(t, 15*time.Second, func() (bool, string) {
			out, err := queryText(p, "SELECT k, n FROM sv ORDER BY k")
			return err == nil && out == exp, who + " view:\n" + out + errString(err)
		})
		out, err := queryText(p, "SET read_from = leader; SELECT count(*) FROM s")
		if err != nil || out != fmt.Sprint(2*6*len(procs)+extra) {
			t.Fatalf("%s: stream holds %s events (%v)", who, out, err)
		}
	}
	for i, p := range procs {
		checkView(p, names[i])
	}
	// Leaders of the four data shards spread: every node leads one or two.
	for i, p := range procs {
		waitUntil(t, 20*time.Second, func() (bool, string) {
			out, err := queryText(p, "SELECT count(*) FROM cairn_cluster.shards WHERE role = 'leader' AND object <> 'meta' AND node_id = '"+names[i]+"'")
			return err == nil && (out == "1" || out == "2"), names[i] + " leads " + out + " data shards" + errString(err)
		})
	}

	// Kill n1 (the meta leader, and a replica of every shard): the other
	// two elect leaders where needed, and writes and DDL keep working.
	p1.Kill()
	for k := int64(100); k < 110; k++ {
		waitUntil(t, 15*time.Second, func() (bool, string) {
			err := insert(p2, k*10)
			return err == nil, "insert after the kill: " + errString(err)
		})
	}
	waitUntil(t, 20*time.Second, func() (bool, string) {
		out, err := queryText(p3, "SELECT state FROM cairn_cluster.nodes WHERE node_id = 'n1'")
		return err == nil && out == "suspect", "n1 as seen by n3: " + out + errString(err)
	})
	// Placement skips the suspect node: both replicas land on n2 and n3.
	waitUntil(t, 20*time.Second, func() (bool, string) {
		_, err := queryText(p3, "CREATE STREAM IF NOT EXISTS after_kill (k int8) WITH (replicas = 2)")
		return err == nil, "DDL after the kill: " + errString(err)
	})
	extra = 20
	checkView(p2, "n2 after the kill")
	checkView(p3, "n3 after the kill")

	// The killed node comes back with its raft id, catches up, and serves.
	p1.Start()
	waitUntil(t, 30*time.Second, func() (bool, string) {
		out, err := queryText(p1, "SELECT name FROM cairn_cluster.streams ORDER BY name")
		return err == nil && out == "after_kill\ns", "n1 streams after restart: " + out + errString(err)
	})
	waitUntil(t, 30*time.Second, func() (bool, string) {
		out, err := queryText(p2, "SELECT state FROM cairn_cluster.nodes WHERE node_id = 'n1'")
		return err == nil && out == "live", "n1 as seen by n2 after restart: " + out + errString(err)
	})
	checkView(p1, "n1 after restart")
	// Pause the leader of stream shard s/0 (SIGSTOP) for 5 s: the other
	// two keep a quorum of every shard, elect a new leader and keep taking
	// writes; once resumed, the paused node steps down and catches up.
	var pausedName string
	waitUntil(t, 15*time.Second, func() (bool, string) {
		for name, p := range byName {
			if out, err := queryText(p, "SELECT node_id FROM cairn_cluster.shards WHERE object = 's' AND shard = 0 AND role = 'leader'"); err == nil && out == name {
				pausedName = name
				return true, ""
			}
		}
		return false, "no leader of s/0"
	})
	paused := byName[pausedName]
	var writer *Proc
	for name, p := range byName {
		if name != pausedName {
			writer = p
		}
	}
	if err := paused.Pause(); err != nil {
		t.Fatal(err)
	}
	pausedAt := time.Now()
	for k := int64(200); k < 210; k++ {
		waitUntil(t, 15*time.Second, func() (bool, string) {
			err := insert(writer, k*10)
			return err == nil, "insert while " + pausedName + " is paused: " + errString(err)
		})
	}
	time.Sleep(time.Until(pausedAt.Add(5 * time.Second)))
	if err := paused.Resume(); err != nil {
		t.Fatal(err)
	}
	extra = 40
	for name, p := range byName {
		checkView(p, name+" after the pause of "+pausedName)
	}
	// primary_only = on makes reads linearizable unless a session says otherwise.
	if _, err := queryText(p2, "ALTER SYSTEM SET primary_only = on"); err != nil {
		t.Fatal(err)
	}
	checkView(p3, "n3 with primary_only")
	if _, err := queryText(p2, "ALTER SYSTEM RESET primary_only"); err != nil {
		t.Fatal(err)
	}
	if _, err := queryText(p1, "CREATE STREAM r (k int8) WITH (replicas = 4)"); !errors.As(err, &pe) || pe.Code != "22023" {
		t.Fatalf("replicas = 4 on 3 nodes: %v", err)
	}

	// A view with one replica per shard loses a shard with its node:
	// reads fail with 40001 naming it, or with skip_unavailable on return
	// the rest with a NOTICE.
	if _, err := queryText(p1, `SET stream_insert_level = sync_commit;
		CREATE STREAM q (k int8) WITH (shards = 1, replicas = 3);
		CREATE MATERIALIZED VIEW qv WITH (shards = 3, replicas = 1) AS SELECT k, count(*) AS n FROM q GROUP BY k`); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for k := 0; k < 30; k++ {
		rows = append(rows, fmt.Sprintf("(%d)", k))
	}
	if _, err := queryText(p1, "SET stream_insert_level = sync_commit; INSERT INTO q VALUES "+strings.Join(rows, ", ")); err != nil {
		t.Fatal(err)
	}
	owner, err := queryText(p1, "SELECT node_id FROM cairn_cluster.shards WHERE object = 'qv' AND shard = 0")
	if err != nil {
		t.Fatal(err)
	}
	victim := byName[owner]
	if victim == nil {
		t.Fatalf("qv shard 0 is on %q", owner)
	}
	var reader *Proc
	for name, p := range byName {
		if name != owner {
			reader = p
		}
	}
	if out, err := queryText(reader, "SELECT count(*) FROM qv"); err != nil || out != "30" {
		t.Fatalf("qv before the kill: %q %v", out, err)
	}
	victim.Kill()
	waitUntil(t, 20*time.Second, func() (bool, string) {
		_, err := queryText(reader, "SELECT count(*) FROM qv")
		ok := errors.As(err, &pe) && pe.Code == "40001" && strings.Contains(pe.Detail, `view "qv" shard 0`)
		return ok, "read of qv without its shard 0: " + errString(err)
	})
	notices, out, err := queryNotices(reader, "SET skip_unavailable = on; SELECT count(*) FROM qv")
	if err != nil || out == "30" || out == "0" || len(notices) != 1 || !strings.Contains(notices[0], `view "qv" shard 0`) {
		t.Fatalf("skip_unavailable read: %q %v, notices %q", out, err, notices)
	}
	checkOneLeaderPerTerm(t, byName)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}

// queryNotices is queryText that also returns the NOTICEs received.
func queryNotices(p *Proc, sql string) ([]string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cfg, err := pgconn.ParseConfig(p.URL())
	if err != nil {
		return nil, "", err
	}
	var notices []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	c, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	defer c.Close(context.Background())
	res, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		return notices, "", err
	}
	var lines []string
	for _, r := range res {
		for _, row := range r.Rows {
			vals := make([]string, len(row))
			for i, v := range row {
				vals[i] = string(v)
			}
			lines = append(lines, strings.Join(vals, "|"))
		}
	}
	return notices, strings.Join(lines, "\n"), nil
}
