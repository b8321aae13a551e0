package e2e

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPausedLeaderWriteGap freezes (SIGSTOP) the leader of a one-shard
// stream while two writers insert through the other two nodes, and
// measures the longest time between acknowledgements around the pause.
//
// The bound is 1.5 s. A frozen leader sends no heartbeats; the followers
// elect after the election timeout (500 ms, randomized up to 1 s), and the
// router, which hedged the write to the followers after 200 ms, learns the
// new leader from their answers within a poll (≤ 100 ms): about 1.1 s at
// worst on a quiet machine. The rest is headroom for a 2-core machine shared
// with other test processes. Before hedging the gap was the 1 s attempt
// timeout on top of the election (2 s and more).
//
// Then, with the node resumed: every acknowledged batch is in the stream
// and none twice (hedged copies of a batch are applied once). Last, the
// shard's leader is stopped gracefully (SIGTERM): it hands leadership off
// before it goes, and writes go on.
func TestPausedLeaderWriteGap(t *testing.T) {
	// Info logs: the graceful stop says it handed off leadership.
	p1 := NewProc(t)
	p1.Start("--log-level", "info")
	p2, p3 := NewProc(t), NewProc(t)
	p2.Start("--node-id", "n2", "--join", p1.Cluster, "--log-level", "info")
	p3.Start("--node-id", "n3", "--join", p1.Cluster, "--log-level", "info")
	byName := map[string]*Proc{"n1": p1, "n2": p2, "n3": p3}
	for name, p := range byName {
		waitUntil(t, 30*time.Second, func() (bool, string) {
			out, err := queryText(p, "SELECT role FROM cairn_cluster.shards WHERE object = 'meta' AND node_id = '"+name+"'")
			return err == nil && (out == "leader" || out == "follower"), name + " meta role: " + out + errString(err)
		})
	}
	if _, err := queryText(p1, "CREATE STREAM av (id int8) WITH (shards = 1, replicas = 3)"); err != nil {
		t.Fatal(err)
	}
	var leaderName string
	waitUntil(t, 15*time.Second, func() (bool, string) {
		out, err := queryText(p1, "SELECT node_id FROM cairn_cluster.shards WHERE object = 'av' AND shard = 0 AND role = 'leader'")
		leaderName = out
		return err == nil && byName[out] != nil, "leader of av/0: " + out + errString(err)
	})
	leader := byName[leaderName]
	var writers []*Proc
	for name, p := range byName {
		if name != leaderName {
			writers = append(writers, p)
		}
	}

	w := startAvailWriters(t, writers)
	time.Sleep(time.Second)
	if err := leader.Pause(); err != nil {
		w.stop()
		t.Fatal(err)
	}
	pausedAt := time.Now()
	time.Sleep(4 * time.Second)
	if err := leader.Resume(); err != nil {
		t.Fatal(err)
	}
	resumedAt := time.Now()
	time.Sleep(time.Second)
	w.stop()
	gap, gapAt, during := w.longestGap(pausedAt, resumedAt)
	t.Logf("leader %s paused for %v: longest gap between acks %v (from %v after the pause), %d batches acked during the pause, %d acked and %d failed in all",
		leaderName, resumedAt.Sub(pausedAt).Round(time.Millisecond), gap.Round(time.Millisecond), gapAt.Sub(pausedAt).Round(time.Millisecond), during, w.acked, w.failed)
	if during == 0 {
		t.Fatalf("no write was acknowledged while %s was paused", leaderName)
	}
	if gap > 1500*time.Millisecond {
		t.Fatalf("writes stopped for %v when the leader %s was frozen; want at most 1.5s", gap, leaderName)
	}
	acked, failed := w.acked, w.failed

	// Exactly once: every acknowledged event is there, and no more than
	// the acknowledged ones plus those of batches with an unknown outcome.
	waitUntil(t, 20*time.Second, func() (bool, string) {
		out, err := queryText(writers[0], "SET read_from = leader; SELECT count(*) FROM av")
		if err != nil {
			return false, errString(err)
		}
		n, _ := strconv.Atoi(out)
		if n < acked*availBatch || n > (acked+failed)*availBatch {
			t.Fatalf("stream holds %d events; %d batches of %d acked, %d failed", n, acked, availBatch, failed)
		}
		return true, ""
	})
	out, err := queryText(writers[0], "SET read_from = leader; SELECT count(*) FROM (SELECT id FROM av GROUP BY id HAVING count(*) > 1) d")
	if err != nil || out != "0" {
		t.Fatalf("ids stored twice: %s%s", out, errString(err))
	}

	// A graceful stop (SIGTERM) of the leader hands leadership off first:
	// the node logs that it did, and writes through the other two nodes go
	// on (the same 1.5 s bound; a transfer takes a round trip, not an
	// election timeout).
	waitUntil(t, 15*time.Second, func() (bool, string) {
		out, err := queryText(writers[0], "SELECT node_id FROM cairn_cluster.shards WHERE object = 'av' AND shard = 0 AND role = 'leader'")
		leaderName = out
		return err == nil && byName[out] != nil, "leader of av/0: " + out + errString(err)
	})
	leader = byName[leaderName]
	writers = writers[:0]
	for name, p := range byName {
		if name != leaderName {
			writers = append(writers, p)
		}
	}
	w = startAvailWriters(t, writers)
	time.Sleep(time.Second)
	stoppedAt := time.Now()
	if err := leader.Stop(); err != nil {
		t.Logf("stop %s: %v", leaderName, err)
	}
	time.Sleep(2 * time.Second)
	endAt := time.Now()
	w.stop()
	gap, gapAt, during = w.longestGap(stoppedAt, endAt)
	t.Logf("leader %s stopped (SIGTERM): longest gap between acks %v (from %v after the signal), %d batches acked after it",
		leaderName, gap.Round(time.Millisecond), gapAt.Sub(stoppedAt).Round(time.Millisecond), during)
	if !strings.Contains(leader.Log(), "handed off leadership before stopping") {
		log := leader.Log()
		t.Fatalf("%s stopped without handing off its leadership; the end of its log:\n%s", leaderName, log[max(0, len(log)-3000):])
	}
	if during == 0 || gap > 1500*time.Millisecond {
		t.Fatalf("writes stopped for %v (%d acked after the stop) when the leader %s stopped", gap, during, leaderName)
	}
}

const availBatch = 10

// availWriters insert batches of availBatch new ids into stream av, one
// writer per node given, each statement bounded by 5 s, and record when
// each batch was acknowledged.
type availWriters struct {
	stopCh        chan struct{}
	wg            sync.WaitGroup
	mu            sync.Mutex
	acks          []time.Time
	acked, failed int
}

var availWriterSeq atomic.Int64

func startAvailWriters(t *testing.T, nodes []*Proc) *availWriters {
	w := &availWriters{stopCh: make(chan struct{})}
	for _, p := range nodes {
		base := availWriterSeq.Add(1) * 10_000_000
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, p.URL())
			if err != nil {
				t.Error(err)
				return
			}
			defer func() { conn.Close(ctx) }()
			var firstErr error
			for i := 0; i < 100_000; i++ {
				select {
				case <-w.stopCh:
					if firstErr != nil {
						t.Logf("writer through %s: first error: %v", p.Name, firstErr)
					}
					return
				default:
				}
				first := base + int64(i)*availBatch
				var sb strings.Builder
				sb.WriteString("INSERT INTO av VALUES ")
				for k := range int64(availBatch) {
					if k > 0 {
						sb.WriteByte(',')
					}
					sb.WriteString("(" + strconv.FormatInt(first+k, 10) + ")")
				}
				cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_, err := conn.Exec(cctx, sb.String())
				cancel()
				w.mu.Lock()
				if err != nil {
					w.failed++
				} else {
					w.acked++
					w.acks = append(w.acks, time.Now())
				}
				w.mu.Unlock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					if conn.IsClosed() {
						if conn, err = pgx.Connect(ctx, p.URL()); err != nil {
							t.Error(err)
							return
						}
					}
				}
			}
		}()
	}
	return w
}

func (w *availWriters) stop() {
	close(w.stopCh)
	w.wg.Wait()
}

// longestGap is the longest time between acknowledgements from 200 ms
// before from until the first one after to, where it started, and the
// acknowledgements in [from, to].
func (w *availWriters) longestGap(from, to time.Time) (gap time.Duration, at time.Time, during int) {
	w.mu.Lock()
	acks := slices.Clone(w.acks)
	w.mu.Unlock()
	slices.SortFunc(acks, func(a, b time.Time) int { return a.Compare(b) })
	last := from.Add(-200 * time.Millisecond)
	at = last
	for _, a := range acks {
		if a.Before(last) {
			continue
		}
		if a.After(from) && a.Before(to) {
			during++
		}
		if g := a.Sub(last); g > gap {
			gap, at = g, last
		}
		last = a
		if a.After(to) {
			break
		}
	}
	if last.Before(to) {
		if g := to.Sub(last); g > gap {
			gap, at = g, last
		}
	}
	return gap, at, during
}
