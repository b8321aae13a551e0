package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/testutil"
)

// TestBackupRestore backs up a loaded 3-node cluster (a stream, a Raft
// view, a scheduled view, a table) to an S3 disk (a real versitygw), takes an incremental
// backup after more events, and restores into a fresh 2-node cluster:
// first AS OF a time between the two backups, then, after dropping
// everything, the newest (the full backup and its incremental). Each
// time the view equals its stream recomputed, no event is there twice,
// and the table is back. It also checks the refusals: a non-empty
// cluster, a missing disk, an unknown backup id and a damaged object,
// none of which creates anything.
func TestBackupRestore(t *testing.T) {
	t0 := time.Now()
	step := func(what string) { t.Logf("%5.1fs %s", time.Since(t0).Seconds(), what) }
	s3 := testutil.StartS3(t)
	diskSQL := s3.CreateDiskSQL("bk", "dr")

	// The source cluster.
	p1 := NewProc(t)
	p1.Start()
	p2, p3 := NewProc(t), NewProc(t)
	p2.Start("--node-id", "n2", "--join", p1.Cluster)
	p3.Start("--node-id", "n3", "--join", p1.Cluster)
	waitMeta(t, map[string]*Proc{"n1": p1, "n2": p2, "n3": p3})
	mustQuery(t, p1, diskSQL)
	mustQuery(t, p1, `CREATE STREAM ev (id int8, device int, value int8) WITH (shards = 2, replicas = 3, shard_key = 'id')`)
	mustQuery(t, p1, `CREATE VIEW per_dev WITH (shards = 2) AS SELECT device, count(*) AS n, sum(value) AS total FROM ev GROUP BY device`)
	mustQuery(t, p1, `CREATE VIEW sched_dev WITH (ha = 'scheduled', disk = 'bk', checkpoint_interval = '1s') AS SELECT device, count(*) AS n, sum(value) AS total FROM ev GROUP BY device`)
	mustQuery(t, p1, `CREATE TABLE devices (id int PRIMARY KEY, name text) WITH (shards = 2)`)
	mustQuery(t, p1, `INSERT INTO devices VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four'), (5, NULL)`)
	// A stream that retention trims: its restored shards must keep their
	// offsets (they start past 0), or its view would fold wrongly.
	mustQuery(t, p1, `CREATE STREAM old (id int8, device int) WITH (shards = 2, shard_key = 'id', retention = '2 seconds')`)
	mustQuery(t, p1, `CREATE VIEW old_n WITH (shards = 1) AS SELECT device, count(*) AS n FROM old GROUP BY device`)
	var oldRows []string
	for i := 0; i < 100; i++ {
		oldRows = append(oldRows, fmt.Sprintf("(%d, %d)", i, i%3))
	}
	mustQuery(t, p1, "SET stream_insert_level = sync_commit; INSERT INTO old VALUES "+strings.Join(oldRows, ", "))
	// A schedule backing the stream up to a second disk every 10 s.
	mustQuery(t, p1, s3.CreateDiskSQL("sch", "sched"))
	expectCode(t, p1, "CREATE SCHEDULE often FOR BACKUP STREAM ev TO DISK sch EVERY '1 second'", "22023")
	expectCode(t, p1, "CREATE SCHEDULE often FOR BACKUP STREAM nope TO DISK sch EVERY '10 seconds'", "42P01")
	expectCode(t, p1, "BACKUP ALL TO DISK sch WITH (compression = 'zstd')", "0A000")
	mustQuery(t, p1, "CREATE SCHEDULE often FOR BACKUP STREAM ev TO DISK sch EVERY '10 seconds'")

	step("cluster up")
	// Load: one writer through each node until told to stop.
	var next atomic.Int64
	var acked atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range []*Proc{p1, p2, p3} {
		wg.Add(1)
		go func(p *Proc) {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var rows []string
				for j := 0; j < 50; j++ {
					id := next.Add(1)
					rows = append(rows, fmt.Sprintf("(%d, %d, %d)", id, id%7, id%100))
				}
				if _, err := queryText(p, "INSERT INTO ev VALUES "+strings.Join(rows, ", ")); err == nil {
					acked.Add(int64(len(rows)))
				}
			}
		}(p)
	}
	waitUntil(t, 20*time.Second, func() (bool, string) {
		return acked.Load() >= 1000, fmt.Sprintf("acked %d", acked.Load())
	})

	step("loaded")
	waitUntil(t, 20*time.Second, func() (bool, string) {
		out, err := queryText(p1, "SET read_from = leader; SELECT count(*) FROM old")
		return err == nil && out == "0", "old still holds " + out + " events" + errString(err)
	})
	mustQuery(t, p1, "SET stream_insert_level = sync_commit; INSERT INTO old VALUES (1000, 0), (1001, 1), (1002, 2), (1003, 0)")
	oldView := mustQuery(t, p1, "SET read_from = leader; SELECT device, n FROM old_n ORDER BY device")
	if oldView != "0|36\n1|34\n2|34" {
		t.Fatalf("old_n before the backup: %q", oldView)
	}
	// A full backup under load.
	out := mustQuery(t, p2, "BACKUP ALL TO DISK bk")
	f := strings.Split(out, "|")
	if len(f) != 6 || f[1] != "backup" || f[2] != "done" || f[4] != "9" { // the scheduled view has no group
		t.Fatalf("BACKUP: %q (want op_id|backup|done|id|9 groups|bytes)", out)
	}
	fullID := f[3]
	if op := mustQuery(t, p1, "SELECT status, progress FROM cairn_cluster.operations WHERE op_type = 'backup' AND target = 'ALL to disk bk'"); op != "done|1" {
		t.Fatalf("backup operation: %q", op)
	}
	time.Sleep(50 * time.Millisecond)
	between := time.Now().UTC()
	time.Sleep(50 * time.Millisecond)
	waitUntil(t, 20*time.Second, func() (bool, string) {
		return acked.Load() >= 3000, fmt.Sprintf("acked %d", acked.Load())
	})
	close(stop)
	wg.Wait()
	step("load stopped")
	out = mustQuery(t, p1, "BACKUP ALL TO DISK bk WITH (incremental = true)")
	if f := strings.Split(out, "|"); len(f) != 6 || f[2] != "done" {
		t.Fatalf("incremental BACKUP: %q", out)
	}
	incID := strings.Split(out, "|")[3]
	// Read at the leaders: every event appended before the backup.
	total := mustQuery(t, p1, "SET read_from = leader; SELECT count(*) FROM ev")
	if n, _ := strconv.ParseInt(total, 10, 64); n < acked.Load() {
		t.Fatalf("the stream holds %d events, %d were acknowledged", n, acked.Load())
	}
	srcTable := mustQuery(t, p1, "SELECT id, name FROM devices ORDER BY id")

	step("backups taken")
	// A fresh 2-node cluster with only the disk.
	q1 := NewProc(t)
	q1.Start()
	q2 := NewProc(t)
	q2.Start("--node-id", "m2", "--join", q1.Cluster)
	waitMeta(t, map[string]*Proc{"n1": q1, "m2": q2})
	expectCode(t, q1, "RESTORE ALL FROM DISK bk", "42704") // no disk yet
	mustQuery(t, q1, diskSQL)
	var shown []string
	waitUntil(t, 10*time.Second, func() (bool, string) { // q2 learns of the disk
		out, err := queryText(q2, "SHOW BACKUPS FROM DISK bk")
		shown = strings.Split(out, "\n")
		return err == nil, errString(err)
	})
	if len(shown) != 2 {
		t.Fatalf("SHOW BACKUPS: %q, want two backups", shown)
	}
	// disk|backup_id|started|finished|scope|incremental|base|groups|bytes
	b0, b1 := strings.Split(shown[0], "|"), strings.Split(shown[1], "|")
	if b0[1] != fullID || b0[4] != "ALL" || b0[5] != "f" || b1[1] != incID || b1[5] != "t" || b1[6] != fullID || b1[7] != "9" {
		t.Fatalf("SHOW BACKUPS: %q", shown)
	}
	expectCode(t, q1, "RESTORE ALL FROM DISK bk BACKUP 'nope'", "42704")
	expectCode(t, q1, "RESTORE ALL FROM DISK bk AS OF '2001-01-01 00:00:00+00'", "42704")

	step("fresh cluster up")
	// AS OF between the two backups: the full one alone.
	out = mustQuery(t, q1, "RESTORE ALL FROM DISK bk AS OF '"+between.Format("2006-01-02 15:04:05.999999")+"+00'")
	if f := strings.Split(out, "|"); len(f) != 6 || f[1] != "restore" || f[2] != "done" || f[3] != fullID {
		t.Fatalf("RESTORE AS OF: %q (want the full backup %s)", out, fullID)
	}
	step("restored as of")
	checkRestored(t, q1, q2, srcTable, oldView)
	n, _ := strconv.Atoi(mustQuery(t, q2, "SELECT count(*) FROM ev"))
	if n < 1000 || int64(n) > acked.Load() {
		t.Fatalf("restored stream as of the full backup holds %d events; at least 1000 were acked before it, %d in all", n, acked.Load())
	}
	expectCode(t, q2, "RESTORE ALL FROM DISK bk", "55000") // not empty

	step("checked")
	// The newest: the full backup and its incremental.
	mustQuery(t, q1, "DROP VIEW sched_dev")
	mustQuery(t, q1, "DROP VIEW per_dev")
	mustQuery(t, q1, "DROP VIEW old_n")
	mustQuery(t, q1, "DROP STREAM old")
	mustQuery(t, q1, "DROP STREAM ev")
	mustQuery(t, q1, "DROP TABLE devices")
	// A damaged object: refused with XX001, nothing created.
	damaged := damageOne(t, s3.Dir, incID)
	expectCode(t, q1, "RESTORE ALL FROM DISK bk", "XX001")
	if got := mustQuery(t, q1, "SELECT count(*) FROM cairn_cluster.shards WHERE object <> 'meta'"); got != "0" {
		t.Fatalf("a refused restore created shards: %s", got)
	}
	damaged()
	step("refusals checked")
	out = mustQuery(t, q2, "RESTORE ALL FROM DISK bk")
	if f := strings.Split(out, "|"); len(f) != 6 || f[2] != "done" || f[3] != incID {
		t.Fatalf("RESTORE: %q (want the incremental backup %s)", out, incID)
	}
	checkRestored(t, q1, q2, srcTable, oldView)
	if got := mustQuery(t, q1, "SELECT count(*) FROM ev"); got != total {
		t.Fatalf("restored stream holds %s events, the source %s", got, total)
	}

	step("restored newest, checked")
	// The schedule ran (the source cluster), wrote backups of the stream,
	// and holds its disk until dropped.
	waitUntil(t, 30*time.Second, func() (bool, string) {
		out, err := queryText(p1, "SELECT statement, last_status, last_run IS NOT NULL FROM cairn_cluster.schedules")
		return err == nil && out == "BACKUP STREAM ev TO DISK sch|done|t", out + errString(err)
	})
	if out := mustQuery(t, p3, "SHOW SCHEDULES"); !strings.HasPrefix(out, "often|BACKUP STREAM ev TO DISK sch|sch|00:00:10|") {
		t.Fatalf("SHOW SCHEDULES: %q", out)
	}
	for _, line := range strings.Split(mustQuery(t, p1, "SHOW BACKUPS FROM DISK sch"), "\n") {
		if f := strings.Split(line, "|"); len(f) != 9 || f[4] != "STREAM ev" || f[7] != "2" {
			t.Fatalf("SHOW BACKUPS FROM DISK sch: %q", line)
		}
	}
	expectCode(t, p1, "DROP DISK sch", "55006")
	mustQuery(t, p1, "DROP SCHEDULE often")
	if out := mustQuery(t, p1, "SHOW SCHEDULES"); out != "" {
		t.Fatalf("SHOW SCHEDULES after DROP: %q", out)
	}
	mustQuery(t, p1, "DROP DISK sch")
}

// waitMeta waits until every node sees itself in the meta group.
func waitMeta(t *testing.T, byName map[string]*Proc) {
	t.Helper()
	for name, p := range byName {
		waitUntil(t, 30*time.Second, func() (bool, string) {
			out, err := queryText(p, "SELECT role FROM cairn_cluster.shards WHERE object = 'meta' AND node_id = '"+name+"'")
			return err == nil && (out == "leader" || out == "follower" || out == "learner"), name + " meta role: " + out + errString(err)
		})
	}
}

func mustQuery(t *testing.T, p *Proc, sql string) string {
	t.Helper()
	out, err := queryText(p, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// expectCode runs sql and checks that it fails with SQLSTATE code.
func expectCode(t *testing.T, p *Proc, sql, code string) {
	t.Helper()
	_, err := queryText(p, sql)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("%s: got %v, want SQLSTATE %s", sql, err, code)
	}
	t.Logf("%s: %s %s (hint: %s)", sql, pe.Code, pe.Message, pe.Hint)
}

// checkRestored checks a restored cluster: the view equals its stream
// recomputed (once the view task folded what the backup's view state
// did not cover), every event is there once, the table is back.
func checkRestored(t *testing.T, q1, q2 *Proc, table, oldView string) {
	t.Helper()
	// The scheduled view folded the restored stream again from its start
	// before RESTORE returned: it is readable and whole at once.
	{
		got, err1 := queryText(q2, "SELECT device, n, total FROM sched_dev ORDER BY device")
		want, err2 := queryText(q1, "SELECT device, count(*), sum(value) FROM ev GROUP BY device ORDER BY device")
		if err1 != nil || err2 != nil || got != want || got == "" {
			t.Fatalf("scheduled view right after RESTORE: %q, recomputed %q%s%s", got, want, errString(err1), errString(err2))
		}
	}
	waitUntil(t, 30*time.Second, func() (bool, string) {
		got, err1 := queryText(q1, "SELECT device, n, total FROM per_dev ORDER BY device")
		want, err2 := queryText(q2, "SELECT device, count(*), sum(value) FROM ev GROUP BY device ORDER BY device")
		return err1 == nil && err2 == nil && got == want && got != "", fmt.Sprintf("view %q, recomputed %q%s%s", got, want, errString(err1), errString(err2))
	})
	if got := mustQuery(t, q1, "SELECT count(*) - count(DISTINCT id) FROM ev"); got != "0" {
		t.Fatalf("%s events are in the restored stream twice", got)
	}
	// The trimmed stream's view: exactly what it was (its events are
	// gone, so it cannot be recomputed; refolding would change it).
	if got := mustQuery(t, q1, "SET read_from = leader; SELECT device, n FROM old_n ORDER BY device"); got != oldView {
		t.Fatalf("restored old_n: %q, want %q", got, oldView)
	}
	if got := mustQuery(t, q2, "SELECT id, name FROM devices ORDER BY id"); got != table {
		t.Fatalf("restored table: %q, want %q", got, table)
	}
}

// damageOne flips a byte of one SST of backup id in the S3 server's
// directory and returns the function that repairs it.
func damageOne(t *testing.T, dir, id string) func() {
	t.Helper()
	var path string
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.Contains(p, id) && strings.HasSuffix(p, ".sst") && path == "" {
			path = p
		}
		return nil
	})
	if path == "" {
		t.Fatalf("no SST of backup %s under %s", id, dir)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	orig := append([]byte(nil), b...)
	b[len(b)-1] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
