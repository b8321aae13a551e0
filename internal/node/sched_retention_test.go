package node_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/testutil/testcluster"
)

// TestRetentionKeepsScheduledViewEvents: a stream's retention never
// trims events a scheduled view's committed checkpoint does not cover:
// its next owner replays the stream from that checkpoint (or from the
// view's start), so trimming them would lose them from the view. Here the
// owner cannot reach its disk, so nothing is ever checkpointed, and every
// event must stay however old it gets.
func TestRetentionKeepsScheduledViewEvents(t *testing.T) {
	c := testcluster.Start(t, 1)
	ctx := context.Background()
	if err := c.Exec(0, `CREATE STREAM s (k text, x int8) WITH (retention = '1 second')`); err != nil {
		t.Fatal(err)
	}
	n0 := c.Node(0)
	dir := t.TempDir()
	if _, err := n0.ProposeMeta(ctx, &catalog.CreateDisk{Disk: &catalog.Disk{Name: "d", Type: catalog.DiskFile, Path: dir}}); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil { // the disk is gone: no checkpoint can be written
		t.Fatal(err)
	}
	res, err := n0.ProposeMeta(ctx, &catalog.CreateView{View: &catalog.View{Name: "v", Kind: "materialized", Stream: "s",
		Query: "SELECT k, count(*) AS n, sum(x) AS total FROM s GROUP BY k", Sched: &catalog.Scheduled{Disk: "d", IntervalMS: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n0.ProposeMeta(ctx, &catalog.AssignView{View: "v", ViewID: res.View.ID, Node: c.ID(0), Epoch: 0}); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(0, "INSERT INTO s VALUES ('a', 1), ('b', 2), ('c', 3)"); err != nil {
		t.Fatal(err)
	}
	// Retention runs every second; events are past it after one.
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		var n int64
		if err := c.QueryRow(0, "SELECT count(*) FROM s").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 3 {
			t.Fatalf("retention trimmed events no checkpoint of the scheduled view covers: %d of 3 left", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st := n0.SchedStatus(); len(st) != 1 || st[0].CheckpointSeq != 0 {
		t.Fatalf("want the view owned here and never checkpointed, got %+v", st)
	}
}

// TestRetentionTrimsCheckpointedEvents: once a scheduled view's committed
// checkpoint covers them, expired events are trimmed as usual.
func TestRetentionTrimsCheckpointedEvents(t *testing.T) {
	c := testcluster.Start(t, 1)
	ctx := context.Background()
	if err := c.Exec(0, `CREATE STREAM s (k text, x int8) WITH (retention = '1 second')`); err != nil {
		t.Fatal(err)
	}
	n0 := c.Node(0)
	if _, err := n0.ProposeMeta(ctx, &catalog.CreateDisk{Disk: &catalog.Disk{Name: "d", Type: catalog.DiskFile, Path: t.TempDir()}}); err != nil {
		t.Fatal(err)
	}
	res, err := n0.ProposeMeta(ctx, &catalog.CreateView{View: &catalog.View{Name: "v", Kind: "materialized", Stream: "s",
		Query: "SELECT k, count(*) AS n, sum(x) AS total FROM s GROUP BY k", Sched: &catalog.Scheduled{Disk: "d", IntervalMS: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n0.ProposeMeta(ctx, &catalog.AssignView{View: "v", ViewID: res.View.ID, Node: c.ID(0), Epoch: 0}); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(0, "INSERT INTO s VALUES ('a', 1), ('b', 2), ('c', 3)"); err != nil {
		t.Fatal(err)
	}
	c.WaitFor(20*time.Second, func() (bool, string) {
		var n int64
		err := c.QueryRow(0, "SELECT count(*) FROM s").Scan(&n)
		return err == nil && n == 0, fmt.Sprintf("s holds %d events (%v); owner %+v", n, err, n0.SchedStatus())
	})
}
