package node_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/testutil"
	"github.com/cairndb/cairn/internal/testutil/testcluster"
)

// viewRows reads "k n total" lines of a query on node i.
func viewRows(c *testcluster.Cluster, i int, sql string) (string, error) {
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
		var k string
		var n, total int64
		if err := rows.Scan(&k, &n, &total); err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s %d %d\n", k, n, total)
	}
	return b.String(), rows.Err()
}

// TestScheduledViewInProcess: a scheduled view (created and assigned by
// catalog commands, as the scheduler would) folds on its owner and is
// read from every node (locally on the owner, by RPC elsewhere);
// reassigned, the new owner resumes from the committed checkpoint and
// the view equals its recomputation; with the owner stopped a read fails
// with 40001, or with skip_unavailable = on returns the last checkpoint
// with a NOTICE saying how old it is.
func TestScheduledViewInProcess(t *testing.T) {
	c := testcluster.Start(t, 2)
	ctx := context.Background()
	if err := c.Exec(0, `CREATE STREAM s (k text, x int8) WITH (shards = 2, replicas = 2)`); err != nil {
		t.Fatal(err)
	}
	n0 := c.Node(0)
	if _, err := n0.ProposeMeta(ctx, &catalog.CreateDisk{Disk: &catalog.Disk{Name: "d", Type: catalog.DiskFile, Path: t.TempDir()}}); err != nil {
		t.Fatal(err)
	}
	insert := func(from, n int) {
		t.Helper()
		var vals []string
		for i := from; i < from+n; i++ {
			vals = append(vals, fmt.Sprintf("('k%d', %d)", i%7, i))
		}
		if err := c.Exec(0, "INSERT INTO s VALUES "+strings.Join(vals, ", ")); err != nil {
			t.Fatal(err)
		}
	}
	insert(0, 200)
	res, err := n0.ProposeMeta(ctx, &catalog.CreateView{View: &catalog.View{Name: "v", Kind: "materialized", Stream: "s",
		Query: "SELECT k, count(*) AS n, sum(x) AS total FROM s GROUP BY k", Sched: &catalog.Scheduled{Disk: "d", IntervalMS: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	vid := res.View.ID
	if _, err := n0.ProposeMeta(ctx, &catalog.AssignView{View: "v", ViewID: vid, Node: c.ID(1), Epoch: 0}); err != nil {
		t.Fatal(err)
	}
	const viewQ = `SELECT k, n, total::int8 FROM v ORDER BY k`
	const recompute = `SELECT k, count(*), sum(x)::int8 FROM s GROUP BY k ORDER BY k`
	equal := func(i int) (bool, string) {
		got, err := viewRows(c, i, viewQ)
		want, err2 := viewRows(c, i, recompute)
		return err == nil && err2 == nil && got == want && want != "", fmt.Sprintf("n%d: view %q (%v), recomputed %q (%v)", i+1, got, err, want, err2)
	}
	c.WaitFor(20*time.Second, func() (bool, string) { return equal(1) }) // the owner, locally
	c.WaitFor(20*time.Second, func() (bool, string) { return equal(0) }) // another node, by RPC
	insert(200, 50)
	c.WaitFor(20*time.Second, func() (bool, string) {
		st := c.Node(1).SchedStatus()
		return len(st) == 1 && st[0].CheckpointSeq > 0 && st[0].Offsets != nil && st[0].Offsets[0]+st[0].Offsets[1] == 250 && st[0].Running,
			fmt.Sprintf("owner status %+v", st)
	})
	if st := n0.SchedStatus(); len(st) != 0 {
		t.Fatalf("n1 runs views it does not own: %+v", st)
	}

	// Reassigned to n1: it loads the checkpoint and folds on.
	if _, err := n0.ProposeMeta(ctx, &catalog.AssignView{View: "v", ViewID: vid, Node: c.ID(0), Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	insert(250, 30)
	c.WaitFor(20*time.Second, func() (bool, string) { return equal(0) })
	c.WaitFor(20*time.Second, func() (bool, string) {
		st := c.Node(1).SchedStatus()
		return len(st) == 0, fmt.Sprintf("old owner still runs %+v", st)
	})
	c.WaitFor(20*time.Second, func() (bool, string) {
		st := n0.SchedStatus()
		return len(st) == 1 && st[0].Epoch == 2 && len(st[0].CheckpointOffsets) == 2 && st[0].CheckpointOffsets[0]+st[0].CheckpointOffsets[1] == 280,
			fmt.Sprintf("new owner status %+v", st)
	})
	want, err := viewRows(c, 1, viewQ)
	if err != nil {
		t.Fatal(err)
	}

	// The owner stops: reads from n2 fail with 40001 and a hint, or serve
	// the last checkpoint with skip_unavailable = on.
	c.Stop(0)
	_, err = viewRows(c, 1, viewQ)
	var pe *pgconn.PgError
	if !errorsAs(err, &pe) || pe.Code != "40001" || !strings.Contains(pe.Hint, "skip_unavailable") {
		t.Fatalf("read with the owner down: %v (want 40001 with a hint naming skip_unavailable)", err)
	}
	cfg, err := pgx.ParseConfig(c.URL(1))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var notices []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
		mu.Lock()
		defer mu.Unlock()
		notices = append(notices, n.Message)
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(cctx, "SET skip_unavailable = on"); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(cctx, viewQ, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for rows.Next() {
		var k string
		var n, total int64
		if err := rows.Scan(&k, &n, &total); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %d %d\n", k, n, total)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if b.String() != want {
		t.Fatalf("stale read %q, want the last checkpoint %q", b.String(), want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(notices) != 1 || !strings.Contains(notices[0], "last checkpoint, taken") || !strings.Contains(notices[0], "n1") {
		t.Fatalf("notices %q", notices)
	}
}

func errorsAs(err error, pe **pgconn.PgError) bool {
	if err == nil {
		return false
	}
	p, ok := err.(*pgconn.PgError)
	if ok {
		*pe = p
	}
	return ok
}

// TestScheduledViewSQL: with CREATE DISK and CREATE VIEW … WITH (ha =
// 'scheduled') the scheduler assigns an owner, CREATE VIEW waits for
// its back-fill, and sync_commit inserts are visible to the next read.
func TestScheduledViewSQL(t *testing.T) {
	c := testcluster.Start(t, 2)
	conn := connect(t, c, 0)
	mustExec(t, conn, `CREATE STREAM s (k text, x int8) WITH (shards = 2, replicas = 2)`)
	mustExec(t, conn, `INSERT INTO s VALUES ('a', 1), ('b', 2), ('a', 3)`)
	// The disk by command: CREATE DISK's statement is another helper's.
	if _, err := c.Node(0).ProposeMeta(context.Background(), &catalog.CreateDisk{Disk: &catalog.Disk{Name: "d", Type: catalog.DiskFile, Path: t.TempDir()}}); err != nil {
		t.Fatal(err)
	}
	mustExec(t, conn, `CREATE MATERIALIZED VIEW v WITH (ha = 'scheduled', disk = 'd', checkpoint_interval = '1s') AS SELECT k, count(*) AS n, sum(x) AS total FROM s GROUP BY k`)
	// The back-fill is done when CREATE returns.
	got, err := viewRows(c, 1, `SELECT k, n, total::int8 FROM v ORDER BY k`)
	if err != nil || got != "a 2 4\nb 1 2\n" {
		t.Fatalf("after CREATE: %q, %v", got, err)
	}
	mustExec(t, conn, `SET stream_insert_level = sync_commit`)
	mustExec(t, conn, `INSERT INTO s VALUES ('b', 10), ('c', 5)`)
	got, err = viewRows(c, 0, `SELECT k, n, total::int8 FROM v ORDER BY k`)
	if err != nil || got != "a 2 4\nb 2 12\nc 1 5\n" {
		t.Fatalf("after a sync_commit insert: %q, %v", got, err)
	}
	// A point lookup reads the owner too.
	for i := range 2 {
		got, err = viewRows(c, i, `SELECT k, n, total::int8 FROM v WHERE k IN ('b', 'zz')`)
		if err != nil || got != "b 2 12\n" {
			t.Fatalf("point lookup on n%d: %q, %v", i+1, got, err)
		}
	}
	// The owner counts the view in cairn_scheduled_views, the other
	// node does not, and its checkpoints are counted.
	owners := 0
	for i := range 2 {
		c.WaitFor(10*time.Second, func() (bool, string) {
			m := scrape(t, c.Node(i).HTTPAddr())
			return strings.Contains(m, "cairn_scheduled_views "), m
		})
		m := scrape(t, c.Node(i).HTTPAddr())
		if strings.Contains(m, "cairn_scheduled_views 1") {
			owners++
			c.WaitFor(10*time.Second, func() (bool, string) {
				m := scrape(t, c.Node(i).HTTPAddr())
				return strings.Contains(m, `cairn_checkpoints_total{outcome="committed"}`) && !strings.Contains(m, `cairn_checkpoints_total{outcome="committed"} 0`) &&
					strings.Contains(m, `cairn_scheduled_view_lag_seconds{view="v"}`), m
			})
		}
	}
	if owners != 1 {
		t.Fatalf("%d nodes report owning the view", owners)
	}
}

// scrape returns a node's /metrics.
func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestScheduledViewS3Down: a scheduled view checkpointing to a real S3
// server (versitygw) keeps folding while the server is paused and then
// stopped; its checkpoints fail and are retried, and once the server is
// back one commits every event: nothing lost.
func TestScheduledViewS3Down(t *testing.T) {
	s3 := testutil.StartS3(t)
	c := testcluster.Start(t, 1)
	ctx := context.Background()
	n := c.Node(0)
	if err := c.Exec(0, `CREATE STREAM s (k text, x int8) WITH (shards = 2)`); err != nil {
		t.Fatal(err)
	}
	if _, err := n.ProposeMeta(ctx, &catalog.CreateDisk{Disk: &catalog.Disk{Name: "d", Type: catalog.DiskS3, Endpoint: s3.Endpoint, Bucket: s3.Bucket,
		Region: s3.Region, AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey, Prefix: "cairn"}}); err != nil {
		t.Fatal(err)
	}
	conn := connect(t, c, 0)
	mustExec(t, conn, `CREATE MATERIALIZED VIEW v WITH (ha = 'scheduled', disk = 'd', checkpoint_interval = '200ms') AS SELECT k, count(*) AS n, sum(x) AS total FROM s GROUP BY k`)
	insert := func(from, count int) {
		t.Helper()
		var vals []string
		for i := from; i < from+count; i++ {
			vals = append(vals, fmt.Sprintf("('k%d', %d)", i%5, i))
		}
		mustExec(t, conn, "INSERT INTO s VALUES "+strings.Join(vals, ", "))
	}
	covered := func(want uint64) func() (bool, string) {
		return func() (bool, string) {
			st := n.SchedStatus()
			ok := len(st) == 1 && len(st[0].CheckpointOffsets) == 2 && st[0].CheckpointOffsets[0]+st[0].CheckpointOffsets[1] == want
			return ok, fmt.Sprintf("status %+v", st)
		}
	}
	insert(0, 100)
	c.WaitFor(20*time.Second, covered(100))
	failed := func() string {
		for _, l := range strings.Split(scrape(t, n.HTTPAddr()), "\n") {
			if strings.HasPrefix(l, `cairn_checkpoints_total{outcome="failed"}`) {
				return l
			}
		}
		return ""
	}
	before := failed()

	if err := s3.Pause(); err != nil {
		t.Fatal(err)
	}
	insert(100, 50)
	folded := func(want uint64) func() (bool, string) {
		return func() (bool, string) {
			st := n.SchedStatus()
			ok := len(st) == 1 && len(st[0].Offsets) == 2 && st[0].Offsets[0]+st[0].Offsets[1] == want
			return ok, fmt.Sprintf("status %+v", st)
		}
	}
	c.WaitFor(20*time.Second, folded(150)) // folding goes on
	time.Sleep(300 * time.Millisecond)
	if ok, msg := covered(100)(); !ok {
		t.Fatalf("a checkpoint committed while the object store was paused: %s", msg)
	}
	if err := s3.Resume(); err != nil {
		t.Fatal(err)
	}
	s3.Stop()
	insert(150, 50)
	c.WaitFor(20*time.Second, folded(200))
	c.WaitFor(20*time.Second, func() (bool, string) { return failed() != before, "no failed checkpoint counted: " + failed() })
	if ok, _ := covered(200)(); ok {
		t.Fatal("a checkpoint committed while the object store was stopped")
	}
	if err := s3.Start(); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(30*time.Second, covered(200))
	got, err := viewRows(c, 0, `SELECT k, n, total::int8 FROM v ORDER BY k`)
	want, err2 := viewRows(c, 0, `SELECT k, count(*), sum(x)::int8 FROM s GROUP BY k ORDER BY k`)
	if err != nil || err2 != nil || got != want {
		t.Fatalf("view %q (%v), recomputed %q (%v)", got, err, want, err2)
	}
}
