package ops

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/rpc"
)

// While the new replica is caught up by a streamed snapshot, the
// operation's step and progress follow the snapshot's bytes.
func TestCatchUpShowsSnapshotProgress(t *testing.T) {
	f := newFake()
	f.live[3] = membership.Dead
	const total = 4 << 20
	f.onStatus = func(g *rpc.ShardReply) {
		if !slices.Contains(g.Learners, 4) || g.Match[4] == g.Commit {
			return
		}
		if len(g.Snapshots) == 0 {
			g.Snapshots = []rpc.SnapshotProgress{{To: 4, Total: total}}
			return
		}
		if sp := &g.Snapshots[0]; sp.Sent < total {
			sp.Sent += total / 4
			return
		}
		g.Snapshots, g.Match[4] = nil, g.Commit
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tm := fastTiming()
	tm.ProgressEvery = time.Nanosecond
	e := New(ctx, Config{Cluster: f, Timing: tm, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	defer e.Wait()
	e.Round()
	var op *catalog.Operation
	for _, o := range f.Catalog().SortedOps() {
		op = o
	}
	if done := waitDone(t, e, f, op.ID); done.Status != catalog.OpDone {
		t.Fatalf("operation ended %s: %s", done.Status, done.Error)
	}
	steps := f.stepLog()
	for _, want := range []string{`catching up node "n4": snapshot 1.0 MB of 4.0 MB`, `catching up node "n4": snapshot 3.0 MB of 4.0 MB`} {
		if !slices.Contains(steps, want) {
			t.Fatalf("steps %q lack %q", steps, want)
		}
	}
}
