package node_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/testutil/testcluster"
)

// connect opens a session on node i of c, closed at test end.
func connect(t *testing.T, c *testcluster.Cluster, i int) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(i))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// execIn runs sql in the session conn (simple protocol, 30 s bound).
func execIn(conn *pgx.Conn, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	return err
}

func mustExec(t *testing.T, conn *pgx.Conn, sql string) {
	t.Helper()
	if err := execIn(conn, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// copyIn runs COPY … FROM STDIN with text rows in the session conn.
func copyIn(t *testing.T, conn *pgx.Conn, sql, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := conn.PgConn().CopyFrom(ctx, strings.NewReader(data), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// countSum reads (n, total) from a view or the stream on node i.
func countSum(c *testcluster.Cluster, i int, sql string) (n, total int64, err error) {
	var tot *int64
	err = c.QueryRow(i, sql).Scan(&n, &tot)
	if tot != nil {
		total = *tot
	}
	return n, total, err
}

// TestStreamTargetsEndToEnd: pipelinedb.stream_targets aims INSERTs and
// COPYs at some views; the others skip those events, exactly once, on
// every replica, also after a node restarts and replays its logs. The
// stream itself keeps every event.
func TestStreamTargetsEndToEnd(t *testing.T) {
	c := testcluster.Start(t, 3)
	if err := c.Exec(0, `CREATE STREAM s (k text, x int8) WITH (shards = 3, replicas = 2);
		CREATE VIEW a AS SELECT count(*) AS n, sum(x) AS total FROM s;
		CREATE VIEW b WITH (shards = 2) AS SELECT count(*) AS n, sum(x) AS total FROM s;
		CREATE VIEW c WITH (replicas = 3) AS SELECT count(*) AS n, sum(x) AS total FROM s;
		CREATE STREAM other (x int8);
		CREATE VIEW o AS SELECT count(*) AS n FROM other`); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, c, 1)
	mustExec(t, conn, "SET stream_insert_level = sync_commit")
	mustExec(t, conn, "SET pipelinedb.stream_targets = 'a, b'")
	var rows []string
	for x := 1; x <= 10; x++ {
		rows = append(rows, fmt.Sprintf("('k%d', %d)", x%4, x))
	}
	mustExec(t, conn, "INSERT INTO s VALUES "+strings.Join(rows, ", ")) // 10 events, 55
	mustExec(t, conn, "SET pipelinedb.stream_targets = c")
	mustExec(t, conn, "INSERT INTO s VALUES ('k', 100)")
	mustExec(t, conn, "SET pipelinedb.stream_targets = 'b'")
	copyIn(t, conn, "COPY s FROM STDIN", "r\t1000\nr\t2000\n")
	mustExec(t, conn, "RESET pipelinedb.stream_targets")
	mustExec(t, conn, "INSERT INTO s VALUES ('k', 10000)")

	// Bad names fail the INSERT, which appends nothing.
	mustExec(t, conn, "SET pipelinedb.stream_targets = 'a, nope'")
	if err := execIn(conn, "INSERT INTO s VALUES ('k', 1)"); sqlState(err) != "42P01" {
		t.Fatalf("unknown target: %v", err)
	}
	mustExec(t, conn, "SET pipelinedb.stream_targets = o")
	if err := execIn(conn, "INSERT INTO s VALUES ('k', 1)"); sqlState(err) != "22023" || !strings.Contains(err.Error(), `"other"`) {
		t.Fatalf("target over another stream: %v", err)
	}
	mustExec(t, conn, "INSERT INTO other VALUES (1)") // o is over other: fine

	want := map[string][2]int64{
		"a": {11, 10055},
		"b": {13, 13055},
		"c": {2, 10100},
		"s": {14, 13155},
	}
	check := func(when string) {
		t.Helper()
		for i := 0; i < 3; i++ {
			for name, w := range want {
				c.WaitFor(20*time.Second, func() (bool, string) {
					sql := "SELECT n, total FROM " + name
					if name == "s" {
						sql = "SELECT count(*), sum(x) FROM s"
					}
					n, total, err := countSum(c, i, sql)
					return err == nil && n == w[0] && total == w[1], fmt.Sprintf("%s: n%d reads %s = (%d, %d), want %v (%v)", when, i+1, name, n, total, w, err)
				})
			}
		}
	}
	check("after the inserts")
	// A restarted node rebuilds streams and views from its logs and
	// engine; a restart must not refold (or newly fold) targeted events.
	c.Stop(2)
	c.Restart(2)
	check("after n3 restarted")
	var n int64
	if err := c.QueryRow(0, "SELECT n FROM o").Scan(&n); err != nil || n != 1 {
		t.Fatalf("view o: %d, %v", n, err)
	}
}

// TestCreateViewWaitsForBackfillEndToEnd: CREATE VIEW returns once the
// view folded what the stream held at creation, so a read right after it
// sees every event; cairn_cluster.views and SHOW VIEWS show the start
// choice and the back-fill. start = 'latest' skips the history.
func TestCreateViewWaitsForBackfillEndToEnd(t *testing.T) {
	c := testcluster.Start(t, 1)
	conn := connect(t, c, 0)
	mustExec(t, conn, "CREATE STREAM s (x int8) WITH (shards = 2)")
	const events = 50000
	var data strings.Builder
	for i := 0; i < events; i++ {
		fmt.Fprintf(&data, "%d\n", i)
	}
	copyIn(t, conn, "COPY s FROM STDIN", data.String())
	// One group per event makes the back-fill take a while.
	mustExec(t, conn, "CREATE VIEW v WITH (shards = 2) AS SELECT x, count(*) AS n FROM s GROUP BY x")
	var n, sum int64
	if err := conn.QueryRow(context.Background(), "SELECT count(*), sum(n) FROM v").Scan(&n, &sum); err != nil || n != events || sum != events {
		t.Fatalf("right after CREATE VIEW, v has %d groups of %d events (%v), want %d", n, sum, err, events)
	}
	var start string
	var target, done int64
	var backfilled bool
	if err := conn.QueryRow(context.Background(), "SELECT start, backfill_target, backfill_done, backfilled FROM cairn_cluster.views WHERE name = 'v'").
		Scan(&start, &target, &done, &backfilled); err != nil {
		t.Fatal(err)
	}
	if start != "earliest" || target != events || done != events || !backfilled {
		t.Fatalf("cairn_cluster.views: start %q, target %d, done %d, backfilled %v", start, target, done, backfilled)
	}

	mustExec(t, conn, "CREATE VIEW w WITH (start = 'latest') AS SELECT count(*) AS n FROM s")
	mustExec(t, conn, "SET stream_insert_level = sync_commit")
	mustExec(t, conn, "INSERT INTO s VALUES (1), (2), (3)")
	if err := conn.QueryRow(context.Background(), "SELECT n FROM w").Scan(&n); err != nil || n != 3 {
		t.Fatalf("start = 'latest': w = %d (%v), want 3", n, err)
	}
	rows, err := conn.Query(context.Background(), "SHOW VIEWS", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	starts := map[string]string{}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range rows.FieldDescriptions() {
			if f.Name == "start" {
				starts[fmt.Sprint(vals[0])] = fmt.Sprint(vals[i])
			}
		}
	}
	if rows.Err() != nil || starts["v"] != "earliest" || starts["w"] != "latest" {
		t.Fatalf("SHOW VIEWS start column: %v (%v)", starts, rows.Err())
	}

	// background_ddl = on: CREATE returns at once; the view still
	// catches up.
	mustExec(t, conn, "SET background_ddl = on")
	mustExec(t, conn, "CREATE VIEW bg AS SELECT count(*) AS n FROM s")
	c.WaitFor(20*time.Second, func() (bool, string) {
		var n int64
		var backfilled bool
		err := c.QueryRow(0, "SELECT n FROM bg").Scan(&n)
		if err == nil {
			err = c.QueryRow(0, "SELECT backfilled FROM cairn_cluster.views WHERE name = 'bg'").Scan(&backfilled)
		}
		return err == nil && n == events+3 && backfilled, fmt.Sprintf("bg = %d, backfilled %v (%v)", n, backfilled, err)
	})

	// Options that cannot apply are refused over the wire too: shared
	// checkpoints need a disk.
	err = execIn(conn, "CREATE VIEW sh AS SELECT count(*) FROM s SETTINGS checkpoint_settings = 'storage_type=shared'")
	if sqlState(err) != "22023" || !strings.Contains(err.Error(), "needs a disk") {
		t.Fatalf("shared checkpoints: %v", err)
	}
	mustExec(t, conn, "CREATE VIEW ck AS SELECT count(*) AS n FROM s SETTINGS checkpoint_interval = '200ms'")
	c.WaitFor(20*time.Second, func() (bool, string) {
		var n int64
		err := c.QueryRow(0, "SELECT n FROM ck").Scan(&n)
		return err == nil && n == events+3, fmt.Sprintf("ck = %d (%v)", n, err)
	})
}

// TestRetentionEndToEnd: WITH (retention = …) drops events older than it
// from the stream (no view reads it, so nothing holds them back).
func TestRetentionEndToEnd(t *testing.T) {
	c := testcluster.Start(t, 1)
	if err := c.Exec(0, "CREATE STREAM r (x int8) WITH (retention = '1 second'); INSERT INTO r VALUES (1), (2)"); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(30*time.Second, func() (bool, string) {
		var n int64
		err := c.QueryRow(0, "SELECT count(*) FROM r").Scan(&n)
		return err == nil && n == 0, fmt.Sprintf("r holds %d events (%v)", n, err)
	})
}
