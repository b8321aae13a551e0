package transport

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/raftstore"
)

// snapshotCatchUp stops a follower, writes n commands of about size bytes
// on the leader (the log is truncated past the follower), restarts the
// follower and waits until it converged: it caught up by a snapshot. It
// returns the leader, the follower and how long the catch-up took.
func snapshotCatchUp(t *testing.T, c *tcluster, n, size int) (leader, down uint64, took time.Duration) {
	t.Helper()
	leader = c.waitLeader(c.peers, 10*time.Second)
	acked := c.propose(leader, "a", 10, 1)
	down = leader%3 + 1
	c.waitConverged(leader, c.peers)
	c.stop(down)
	for k, v := range c.propose(leader, "big"+strings.Repeat("x", size), n, 8) {
		acked[k] = v
	}
	start := time.Now()
	c.start(down)
	state := c.waitConverged(leader, c.peers)
	took = time.Since(start)
	checkAcked(t, state, acked)
	if _, _, loads := c.nodes[down].sm.state(); loads < 2 {
		t.Fatalf("restarted node caught up without a snapshot (%d loads)", loads)
	}
	return leader, down, took
}

// A snapshot far larger than the (lowered) frame limit travels in chunks;
// a stream cut in the middle resumes from the chunk the receiver staged;
// the window bounds what is buffered on both ends; the data is exact.
func TestSnapshotStreamLargerThanFrameLimitResumes(t *testing.T) {
	const (
		frameLimit = 64 << 10
		chunk      = 16 << 10
		cutAt      = 10
	)
	var (
		mu      sync.Mutex
		cut     bool
		resumes []int // where each attempt started
	)
	knobs := TestingKnobs{
		MaxSnapshotFrameSize: frameLimit,
		BeforeSnapshotChunk: func(gid, to uint64, index int) error {
			mu.Lock()
			defer mu.Unlock()
			if index == cutAt && !cut {
				cut = true
				return errors.New("injected: stream cut")
			}
			return nil
		},
		OnSnapshotResume: func(gid, to uint64, attempt, next int) {
			mu.Lock()
			defer mu.Unlock()
			resumes = append(resumes, next)
		},
	}
	c := newTClusterKnobs(t, 3, raftstore.Config{NoSync: true, MaxLogEntries: 20, MaxRetainEntries: 1, SnapshotChunkBytes: chunk}, knobs)
	leader, down, _ := snapshotCatchUp(t, c, 2000, 500) // ~1 MB: 16x the frame limit

	mu.Lock()
	defer mu.Unlock()
	if !cut {
		t.Fatal("the snapshot stream was never cut")
	}
	// The second attempt starts from what the receiver had staged when
	// the stream broke: chunk cutAt, or a little before it when the last
	// chunks sent (at most the window) were still in flight or unstaged.
	if len(resumes) < 2 || resumes[0] != 0 || resumes[1] > cutAt || resumes[1] < max(1, cutAt-snapshotWindow) {
		t.Fatalf("attempts started at chunks %v, want [0 %d-%d ...] (resumed, not restarted)", resumes, max(1, cutAt-snapshotWindow), cutAt)
	}
	ls, ds := c.nodes[leader].tr.Stats(), c.nodes[down].tr.Stats()
	if ds.SnapshotBytesRecv < 1<<20 || ls.SnapshotBytesSent < 1<<20 {
		t.Fatalf("snapshot bytes sent %d, received %d: want over 1 MiB", ls.SnapshotBytesSent, ds.SnapshotBytesRecv)
	}
	// Memory per snapshot in flight: the sender never had more than the
	// window of chunks unacked, the receiver one frame unstaged.
	maxChunk := int64(chunk + 3*600) // a chunk may go one pair over, plus its two bound keys
	if ls.SnapshotMaxUnacked > snapshotWindow*maxChunk || ls.SnapshotMaxUnacked == 0 {
		t.Fatalf("sender had %d bytes unacked, bound %d", ls.SnapshotMaxUnacked, snapshotWindow*maxChunk)
	}
	if ds.SnapshotMaxBuffered > maxChunk+16 || ds.SnapshotMaxBuffered == 0 {
		t.Fatalf("receiver buffered %d bytes, bound %d", ds.SnapshotMaxBuffered, maxChunk+16)
	}
	if d, _ := c.nodes[down].store.StagedSnapshotDirs(); len(d) != 0 {
		t.Fatalf("staged snapshot dirs left: %v", d)
	}
	if ls.SnapshotsInFlight != 0 || len(c.nodes[leader].tr.SnapshotProgress()) != 0 {
		t.Fatalf("snapshots still in flight after catch-up: %d %v", ls.SnapshotsInFlight, c.nodes[leader].tr.SnapshotProgress())
	}
}

// snapshot_rate really limits: a rate-limited catch-up takes at least
// bytes/rate, and progress is visible while it runs.
func TestSnapshotRateLimited(t *testing.T) {
	const rate = 1 << 20 // 1 MiB/s
	c := newTClusterKnobs(t, 3, raftstore.Config{NoSync: true, MaxLogEntries: 20, MaxRetainEntries: 1, SnapshotChunkBytes: 64 << 10}, TestingKnobs{})
	for _, nd := range c.nodes {
		nd.tr.SetSnapshotRate(rate)
	}
	var (
		mu   sync.Mutex
		seen []SnapshotProgress
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	// The transports as started: the sender (the leader) keeps its own;
	// the node that restarts gets a new one, which sends nothing.
	var trs []*Transport
	for _, nd := range c.nodes {
		trs = append(trs, nd.tr)
	}
	go func() {
		defer close(done)
		for {
			for _, tr := range trs {
				if p := tr.SnapshotProgress(); len(p) > 0 {
					mu.Lock()
					seen = append(seen, p...)
					mu.Unlock()
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	leader, _, took := snapshotCatchUp(t, c, 3000, 500) // ~1.5 MB
	close(stop)
	<-done
	sent := c.nodes[leader].tr.Stats().SnapshotBytesSent
	// Every chunk waits for its bytes at the rate before it goes.
	if want := time.Duration(float64(sent) / rate * float64(time.Second)); took < want {
		t.Fatalf("snapshot of %d bytes at %d B/s took %v, want at least %v", sent, rate, took, want)
	}
	mu.Lock()
	defer mu.Unlock()
	mid := false
	for _, p := range seen {
		if p.Sent > 0 && p.Sent < p.Total && p.Total > 1<<20 {
			mid = true
		}
	}
	if !mid {
		t.Fatalf("no progress seen mid-snapshot (%d samples)", len(seen))
	}
}

// A snapshot that makes no progress is abandoned after the give-up time;
// raft hears SnapshotFailure and sends a fresh one later, which succeeds.
func TestSnapshotAbandonedThenRetried(t *testing.T) {
	var (
		mu      sync.Mutex
		broken  = true
		started time.Time
	)
	knobs := TestingKnobs{
		SnapshotGiveUp: 300 * time.Millisecond,
		BeforeSnapshotChunk: func(gid, to uint64, index int) error {
			mu.Lock()
			defer mu.Unlock()
			if started.IsZero() {
				started = time.Now()
			}
			if broken && time.Since(started) > 2*time.Second {
				broken = false // the network heals
			}
			if broken {
				return errors.New("injected: no progress")
			}
			return nil
		},
	}
	c := newTClusterKnobs(t, 3, raftstore.Config{NoSync: true, MaxLogEntries: 20, MaxRetainEntries: 1, SnapshotChunkBytes: 16 << 10}, knobs)
	leader, _, _ := snapshotCatchUp(t, c, 200, 100)
	st := c.nodes[leader].tr.Stats()
	if st.SnapshotsFailed == 0 {
		t.Fatal("no snapshot was abandoned while the stream made no progress")
	}
	if st.SnapshotsSent == 0 {
		t.Fatal("no snapshot was delivered after the network healed")
	}
	t.Logf("%d snapshots abandoned, %d delivered", st.SnapshotsFailed, st.SnapshotsSent)
}

func TestLimiterPaces(t *testing.T) {
	var l limiter
	l.setRate(10 << 20) // 10 MiB/s
	start := time.Now()
	for range 11 {
		if err := l.wait(context.Background(), 100<<10); err != nil {
			t.Fatal(err)
		}
	}
	// 11 reservations of 100 KiB: ~107 ms.
	if took := time.Since(start); took < 105*time.Millisecond {
		t.Fatalf("1.1 MiB at 10 MiB/s took %v", took)
	}
	l.setRate(0)
	start = time.Now()
	for range 100 {
		_ = l.wait(context.Background(), 1<<20)
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Fatalf("unlimited waits took %v", took)
	}
	l.setRate(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.wait(ctx, 1); err == nil {
		t.Fatal("wait on a cancelled context returned nil")
	}
}
