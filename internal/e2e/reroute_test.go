package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// rerouteBatch is the events per INSERT: ids first..first+11, keys k0..k11,
// so every batch has a part for every shard of a 3-shard stream.
const rerouteBatch = 12

// TestRerouteAroundLostShard: three nodes, a stream of three shards
// (shard_key k, one replica each, so each shard lives on one node) with
// on_shard_unavailable = 'reroute' and a count/sum view by key (three
// replicas: it keeps its quorum). One node is frozen (SIGSTOP) for 5 s:
// the shard it holds loses its quorum. Writers through the other two
// nodes keep being acknowledged; the longest statement is logged and
// bounded (reroute_after is 1 s). The same INSERT into a 'wait' stream
// fails with 40001, as before. After the node resumes, the parked parts
// are settled (cairn_cluster.shards' rerouted column shows none
// pending), every acknowledged id is in the stream exactly once
// (read_from = leader), and the view equals its recomputation.
func TestRerouteAroundLostShard(t *testing.T) {
	p1 := NewProc(t)
	p1.Start()
	p2, p3 := NewProc(t), NewProc(t)
	p2.Start("--node-id", "n2", "--join", p1.Cluster)
	p3.Start("--node-id", "n3", "--join", p1.Cluster)
	byName := map[string]*Proc{"n1": p1, "n2": p2, "n3": p3}
	waitMeta(t, byName)
	mustQuery(t, p1, `CREATE STREAM rs (id int8, k text, v int8) WITH (shards = 3, replicas = 1, shard_key = 'k', on_shard_unavailable = 'reroute');
		CREATE STREAM ws (id int8, k text, v int8) WITH (shards = 3, replicas = 1, shard_key = 'k');
		CREATE VIEW rs_by_k WITH (shards = 2, replicas = 3) AS SELECT k, count(*) AS n, sum(v) AS s FROM rs GROUP BY k`)

	// The node holding exactly one shard of rs is frozen; the writers use
	// the other two.
	var victim string
	waitUntil(t, 20*time.Second, func() (bool, string) {
		out, err := queryText(p1, "SELECT node_id, count(*) FROM cairn_cluster.shards WHERE object = 'rs' AND role = 'leader' GROUP BY node_id ORDER BY node_id")
		if err != nil {
			return false, errString(err)
		}
		shards := 0
		victim = ""
		for _, line := range strings.Split(out, "\n") {
			node, n, _ := strings.Cut(line, "|")
			c, _ := strconv.Atoi(n)
			shards += c
			if c == 1 && victim == "" {
				victim = node
			}
		}
		return shards == 3 && victim != "", "leaders of rs: " + out
	})
	var writers []*Proc
	for name, p := range byName {
		if name != victim {
			writers = append(writers, p)
		}
	}
	lost := mustQuery(t, p1, "SELECT shard FROM cairn_cluster.shards WHERE object = 'rs' AND node_id = '"+victim+"'")
	t.Logf("freezing %s, which holds shard %s of rs", victim, lost)

	w := startRerouteWriters(t, writers)
	time.Sleep(time.Second)
	if err := byName[victim].Pause(); err != nil {
		w.stop()
		t.Fatal(err)
	}
	pausedAt := time.Now()

	// The default ('wait'): the same INSERT into ws fails with 40001.
	waitStart := time.Now()
	_, err := queryText(writers[0], "INSERT INTO ws (id, k, v) SELECT i, 'k' || (i % 12), i % 7 FROM generate_series(1, 12) AS i")
	waitTook := time.Since(waitStart)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "40001" {
		w.stop()
		_ = byName[victim].Resume()
		t.Fatalf("INSERT into a 'wait' stream with a shard frozen: %v after %v; want 40001", err, waitTook)
	}
	t.Logf("'wait' stream: %s %s after %v", pe.Code, pe.Message, waitTook.Round(time.Millisecond))

	time.Sleep(time.Until(pausedAt.Add(5 * time.Second)))
	if err := byName[victim].Resume(); err != nil {
		t.Fatal(err)
	}
	resumedAt := time.Now()
	time.Sleep(time.Second)
	w.stop()

	st := w.stats(pausedAt, resumedAt)
	t.Logf("%s frozen %v: %d statements acked (%d while frozen), %d failed; longest statement %v (while frozen %v)",
		victim, resumedAt.Sub(pausedAt).Round(time.Millisecond), st.acked, st.ackedDuring, st.failed, st.longest.Round(time.Millisecond), st.longestDuring.Round(time.Millisecond))
	if st.failed > 0 {
		t.Fatalf("%d INSERTs failed (first: %v); with reroute none should", st.failed, w.firstErr)
	}
	if st.ackedDuring < 3 {
		t.Fatalf("only %d INSERTs acknowledged while shard %s had no quorum", st.ackedDuring, lost)
	}
	// reroute_after (1 s) plus a parking round trip, with headroom for a
	// shared 2-core machine.
	if st.longest > 3500*time.Millisecond {
		t.Fatalf("an INSERT took %v; with reroute_after = 1s want at most 3.5s", st.longest)
	}

	// Settled: nothing pending once the shard is back, and some parts
	// were rerouted.
	var in, dropped int
	re := regexp.MustCompile(`^away (\d+)/(\d+), in (\d+)/(\d+), pending (\d+), dropped (\d+)$`)
	waitUntil(t, 30*time.Second, func() (bool, string) {
		out, err := queryText(writers[0], "SELECT shard, rerouted FROM cairn_cluster.shards WHERE object = 'rs' ORDER BY shard")
		if err != nil {
			return false, errString(err)
		}
		pending := 0
		in, dropped = 0, 0
		for _, line := range strings.Split(out, "\n") {
			_, col, _ := strings.Cut(line, "|")
			m := re.FindStringSubmatch(col)
			if m == nil {
				return false, "rerouted column: " + out
			}
			n, _ := strconv.Atoi(m[3])
			p, _ := strconv.Atoi(m[5])
			d, _ := strconv.Atoi(m[6])
			in, pending, dropped = in+n, pending+p, dropped+d
		}
		return in > 0 && pending == 0, "rerouted: " + out
	})
	t.Logf("settled %v after the resume: %s", time.Since(resumedAt).Round(time.Millisecond),
		strings.ReplaceAll(mustQuery(t, writers[0], "SELECT shard, rerouted FROM cairn_cluster.shards WHERE object = 'rs' ORDER BY shard"), "\n", "; "))
	var reroutes float64
	for _, p := range writers {
		reroutes += rerouteMetric(t, p, "cairn_stream_reroutes_total")
	}
	if reroutes == 0 || int(reroutes) < in {
		t.Fatalf("cairn_stream_reroutes_total = %v on the writers' nodes; %d parts were taken in", reroutes, in)
	}
	t.Logf("%d parts rerouted (metric %v), %d dropped because their shard had applied them", in, reroutes, dropped)

	// Exactly once: every acknowledged id, no id twice.
	var ids []int64
	waitUntil(t, 20*time.Second, func() (bool, string) {
		out, err := queryText(writers[0], "SET read_from = leader; SELECT id FROM rs ORDER BY id")
		if err != nil {
			return false, errString(err)
		}
		ids = ids[:0]
		for _, s := range strings.Fields(out) {
			id, _ := strconv.ParseInt(s, 10, 64)
			ids = append(ids, id)
		}
		return true, ""
	})
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			t.Fatalf("id %d is in the stream twice", ids[i])
		}
	}
	missing := 0
	for _, first := range w.ackedFirsts() {
		for k := range int64(rerouteBatch) {
			if _, found := slices.BinarySearch(ids, first+k); !found {
				missing++
				if missing < 5 {
					t.Errorf("acknowledged id %d is not in the stream", first+k)
				}
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d acknowledged ids missing", missing)
	}
	if len(ids) != st.acked*rerouteBatch {
		t.Fatalf("the stream holds %d ids; %d statements of %d were acknowledged and none failed", len(ids), st.acked, rerouteBatch)
	}

	// The view equals its recomputation from the stream.
	waitUntil(t, 30*time.Second, func() (bool, string) {
		view, err1 := queryText(writers[0], "SELECT k, n, s FROM rs_by_k ORDER BY k")
		rec, err2 := queryText(writers[0], "SET read_from = leader; SELECT k, count(*), sum(v) FROM rs GROUP BY k ORDER BY k")
		if err1 != nil || err2 != nil {
			return false, errString(err1) + errString(err2)
		}
		return view == rec, fmt.Sprintf("view:\n%s\nrecomputed:\n%s", view, rec)
	})
}

type rerouteWriters struct {
	stopCh chan struct{}
	wg     sync.WaitGroup
	mu     struct {
		sync.Mutex
		stmts []rerouteStmt
	}
	firstErr error
}

type rerouteStmt struct {
	first      int64
	start, end time.Time
	err        error
}

func startRerouteWriters(t *testing.T, nodes []*Proc) *rerouteWriters {
	w := &rerouteWriters{stopCh: make(chan struct{})}
	for n, p := range nodes {
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
			for i := range 100_000 {
				select {
				case <-w.stopCh:
					return
				default:
				}
				first := int64(n+1)*10_000_000 + int64(i)*rerouteBatch
				var sb strings.Builder
				sb.WriteString("INSERT INTO rs (id, k, v) VALUES ")
				for k := range int64(rerouteBatch) {
					if k > 0 {
						sb.WriteByte(',')
					}
					id := first + k
					fmt.Fprintf(&sb, "(%d, 'k%d', %d)", id, k, id%7)
				}
				start := time.Now()
				cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				_, err := conn.Exec(cctx, sb.String())
				cancel()
				w.mu.Lock()
				w.mu.stmts = append(w.mu.stmts, rerouteStmt{first: first, start: start, end: time.Now(), err: err})
				if err != nil && w.firstErr == nil {
					w.firstErr = err
				}
				w.mu.Unlock()
				if err != nil && conn.IsClosed() {
					if conn, err = pgx.Connect(ctx, p.URL()); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	return w
}

func (w *rerouteWriters) stop() {
	close(w.stopCh)
	w.wg.Wait()
}

type rerouteStats struct {
	acked, ackedDuring, failed int
	longest, longestDuring     time.Duration
}

// stats sums the statements up; "during" ones ended in [from, to].
func (w *rerouteWriters) stats(from, to time.Time) rerouteStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	var s rerouteStats
	for _, st := range w.mu.stmts {
		if st.err != nil {
			s.failed++
			continue
		}
		d := st.end.Sub(st.start)
		s.acked++
		s.longest = max(s.longest, d)
		if st.end.After(from) && st.end.Before(to) {
			s.ackedDuring++
			s.longestDuring = max(s.longestDuring, d)
		}
	}
	return s
}

func (w *rerouteWriters) ackedFirsts() []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int64
	for _, st := range w.mu.stmts {
		if st.err == nil {
			out = append(out, st.first)
		}
	}
	return out
}

// rerouteMetric sums a counter's series on p's /metrics.
func rerouteMetric(t *testing.T, p *Proc, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + p.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			_, val, _ := strings.Cut(line, " ")
			v, _ := strconv.ParseFloat(strings.TrimSpace(val), 64)
			sum += v
		}
	}
	return sum
}
