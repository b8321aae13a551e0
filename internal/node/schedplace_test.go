package node_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/testutil/testcluster"
)

// placeRows reads a query's rows as text lines (columns separated by
// spaces) on node i.
func placeRows(c *testcluster.Cluster, i int, sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(i))
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return "", err
		}
		for j, v := range vals {
			if j > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprint(&b, v)
		}
		b.WriteByte('\n')
	}
	return b.String(), rows.Err()
}

// TestScheduledViewMoves: the scheduler places a new scheduled view and
// moves it through operations. Draining its owner hands it off with a
// final checkpoint (nothing replayed) and the drain ends only once the
// node owns no view; stopping the next owner past dead_after moves it
// at once to the last live node, which replays from the checkpoint. The
// view equals its recomputation after each move.
func TestScheduledViewMoves(t *testing.T) {
	c := testcluster.Start(t, 3)
	ctx := context.Background()
	conn := connect(t, c, 2)
	mustExec(t, conn, `ALTER SYSTEM SET suspect_after = '500ms'`)
	mustExec(t, conn, `ALTER SYSTEM SET dead_after = '2s'`)
	mustExec(t, conn, `CREATE STREAM s (k text, x int8) WITH (shards = 2, replicas = 3)`)
	if _, err := c.Node(2).ProposeMeta(ctx, &catalog.CreateDisk{Disk: &catalog.Disk{Name: "d", Type: catalog.DiskFile, Path: t.TempDir()}}); err != nil {
		t.Fatal(err)
	}
	insert := func(from, n int) {
		t.Helper()
		var vals []string
		for i := from; i < from+n; i++ {
			vals = append(vals, fmt.Sprintf("('k%d', %d)", i%5, i))
		}
		mustExec(t, conn, "INSERT INTO s VALUES "+strings.Join(vals, ", "))
	}
	insert(0, 100)
	mustExec(t, conn, `CREATE MATERIALIZED VIEW v WITH (ha = 'scheduled', disk = 'd', checkpoint_interval = '200ms') AS SELECT k, count(*) AS n, sum(x) AS total FROM s GROUP BY k`)
	owner := func() string {
		got, err := placeRows(c, 2, `SELECT owner_node FROM cairn_cluster.views WHERE name = 'v'`)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(got)
	}
	// No compute nodes, no other views: the lowest id.
	if o := owner(); o != "n1" {
		t.Fatalf("owner %q, want n1", o)
	}
	const viewQ = `SELECT k, n, total::int8 FROM v ORDER BY k`
	const recompute = `SELECT k, count(*), sum(x)::int8 FROM s GROUP BY k ORDER BY k`
	equal := func() (bool, string) {
		got, err := placeRows(c, 2, viewQ)
		want, err2 := placeRows(c, 2, recompute)
		return err == nil && err2 == nil && got == want && want != "", fmt.Sprintf("view %q (%v), recomputed %q (%v)", got, err, want, err2)
	}
	c.WaitFor(20*time.Second, equal)

	// Drain n1: a hand-off to n2 (n2 and n3 own nothing: the lowest id).
	mustExec(t, conn, `ALTER NODE n1 DRAIN`)
	moveDone := func(how string) (bool, string) {
		got, err := placeRows(c, 2, `SELECT status, current_step FROM cairn_cluster.operations WHERE op_type = 'move_scheduled_view' ORDER BY op_id DESC LIMIT 1`)
		return err == nil && strings.HasPrefix(got, "done ") && strings.Contains(got, how), fmt.Sprintf("last move: %q (%v), want done, %s", got, err, how)
	}
	c.WaitFor(30*time.Second, func() (bool, string) { return moveDone("after the final checkpoint of n1") })
	if o := owner(); o != "n2" {
		t.Fatalf("after the drain the owner is %q, want n2", o)
	}
	steps, err := placeRows(c, 2, `SELECT op_type, status FROM cairn_cluster.operations WHERE op_type IN ('drain', 'move_scheduled_view') ORDER BY op_id`)
	if err != nil {
		t.Fatal(err)
	}
	c.WaitFor(30*time.Second, func() (bool, string) {
		got, err := placeRows(c, 2, `SELECT status FROM cairn_cluster.operations WHERE op_type = 'drain'`)
		return err == nil && got == "done\n", fmt.Sprintf("drain %q (%v); operations %q", got, err, steps)
	})
	insert(100, 50)
	c.WaitFor(20*time.Second, equal)

	// n2 stops: past dead_after the view moves to n3 (n1 is draining).
	c.Stop(1)
	insert(150, 50)
	c.WaitFor(30*time.Second, func() (bool, string) {
		o := owner()
		return o == "n3", fmt.Sprintf("owner %q, want n3", o)
	})
	c.WaitFor(30*time.Second, func() (bool, string) { return moveDone("replaying from the last checkpoint") })
	got, err := placeRows(c, 2, `SELECT current_step FROM cairn_cluster.operations WHERE op_type = 'move_scheduled_view' ORDER BY op_id`)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(got), "\n"); len(lines) != 2 {
		t.Fatalf("move operations %q, want two", got)
	}
	c.WaitFor(30*time.Second, equal)
	got, err = placeRows(c, 2, `SELECT ha, epoch, checkpoint_disk, checkpoint_offsets IS NOT NULL FROM cairn_cluster.views WHERE name = 'v'`)
	if err != nil || got != "scheduled 3 d true\n" {
		t.Fatalf("cairn_cluster.views: %q (%v), want scheduled at epoch 3", got, err)
	}
	// compute_load asks the owner how far behind it is (the status RPC):
	// n3 owns the view and answers; no compute node, so: scale out.
	c.WaitFor(10*time.Second, func() (bool, string) {
		got, err := placeRows(c, 2, `SELECT node, scheduled_views, max_lag_seconds IS NOT NULL, events_behind IS NOT NULL, recommendation FROM cairn_cluster.compute_load ORDER BY node`)
		want := "n1 0 true true scale_out\nn2 0 true true scale_out\nn3 1 true true scale_out\n"
		return err == nil && got == want, fmt.Sprintf("compute_load %q (%v), want %q", got, err, want)
	})
}
