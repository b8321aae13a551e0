package e2e

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Issue 14, bounded memory: --max-memory is checked at start, and a node
// whose view task stalls pushes back on writers (slower acks, then a
// retryable 53200) instead of growing until it is killed.

func TestMaxMemoryBadValues(t *testing.T) {
	p := NewProc(t)
	cfg := filepath.Join(t.TempDir(), "cairn.toml")
	if err := os.WriteFile(cfg, []byte("max_memory = \"3MB\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, []string{"--max-memory", "lots"}, `invalid argument "lots" for "--max-memory" flag: "lots" is not a size`},
		{nil, []string{"--max-memory", "10MB"}, "below the minimum of 64 MiB"},
		{nil, []string{"--max-memory", "0%"}, "a percentage must be a number above 0 and at most 100"},
		{nil, []string{"--max-memory", "101%"}, "a percentage must be a number above 0 and at most 100"},
		{[]string{"CAIRN_MAX_MEMORY=12 parsecs"}, nil, `CAIRN_MAX_MEMORY: invalid argument "12 parsecs"`},
		{nil, []string{"--config", cfg}, `max_memory: invalid argument "3MB" for "--max-memory" flag: 3MB (2.9 MiB) is below the minimum of 64 MiB`},
	} {
		args := append([]string{"start", "--data-dir", p.DataDir, "--pg-addr", p.PGAddr, "--http-addr", p.HTTP, "--cluster-addr", p.Cluster}, tc.args...)
		code, out := runCairn(t, tc.env, args...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("%v %v: exit %d, want 2 and %q in:\n%s", tc.env, tc.args, code, tc.want, out)
		}
	}
}

func postViews(t *testing.T, p *Proc, body string) {
	t.Helper()
	resp, err := http.Post("http://"+p.HTTP+"/debug/views", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /debug/views %s: %d", body, resp.StatusCode)
	}
}

func TestBackpressureInsteadOfOOM(t *testing.T) {
	const (
		limit   = 128 << 20
		margin  = 64 << 20 // the binary's pages, C allocator slack, thread stacks
		writers = 4
		rows    = 4096 // one COPY: less than a chunk (16384), so all or nothing
		keys    = 1000
	)
	p := NewProc(t)
	p.Start("--max-memory", "128MiB", "--unsafe-test-faults")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := p.Connect(t)
	for _, q := range []string{
		"CREATE STREAM ev (k int, v int8)",
		"CREATE VIEW agg AS SELECT k, count(*) AS n, sum(v) AS s FROM ev GROUP BY k",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	time.Sleep(1100 * time.Millisecond) // the memory metrics are set once a second
	m0 := scrapeMetrics(t, p)
	if m0["cairn_memory_limit_bytes"] != limit {
		t.Fatalf("cairn_memory_limit_bytes = %v, want %d", m0["cairn_memory_limit_bytes"], limit)
	}
	for _, c := range []string{"go_other", "block_cache", "memtables", "ingest", "view_cache"} {
		if _, ok := m0[`cairn_memory_bytes{component="`+c+`"}`]; !ok {
			t.Errorf("/metrics lacks cairn_memory_bytes{component=%q}", c)
		}
	}
	if g := m0["go_gc_gomemlimit_bytes"]; g <= 0 || g >= limit {
		t.Errorf("go_gc_gomemlimit_bytes = %v: the Go limit should be what the rest of the process leaves of %d", g, limit)
	}

	// RSS (the process collector's, from /proc) is watched throughout.
	var maxRSS atomic.Int64
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for watchCtx.Err() == nil {
			if rss := int64(scrapeMetrics(t, p)["process_resident_memory_bytes"]); rss > maxRSS.Load() {
				maxRSS.Store(rss)
			}
			select {
			case <-watchCtx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	var acked, refused atomic.Int64 // rows acknowledged; COPYs refused with 53200
	var firstRefusal atomic.Pointer[pgconn.PgError]
	batch := make([][]any, rows)
	for i := range batch {
		batch[i] = []any{int32(i % keys), int64(i % 7)}
	}
	var ackedSum atomic.Int64
	batchSum := int64(0)
	for i := range rows {
		batchSum += int64(i % 7)
	}
	// push has the writers copy batches until stop says so; a 53200 is
	// counted and retried after a short pause, anything else fails.
	push := func(stop func() bool) {
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				wc := p.Connect(t)
				for !stop() && ctx.Err() == nil {
					_, err := wc.CopyFrom(ctx, pgx.Identifier{"ev"}, []string{"k", "v"}, pgx.CopyFromRows(batch))
					var pe *pgconn.PgError
					switch {
					case err == nil:
						acked.Add(rows)
						ackedSum.Add(batchSum)
					case errors.As(err, &pe) && pe.Code == "53200":
						refused.Add(1)
						firstRefusal.CompareAndSwap(nil, pe)
						time.Sleep(50 * time.Millisecond)
					default:
						t.Errorf("writer: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
	}

	// The view task stalls; writers push until the node refuses them.
	postViews(t, p, `{"stall":true}`)
	start := time.Now()
	push(func() bool { return refused.Load() >= 20 || time.Since(start) > 90*time.Second })
	if t.Failed() {
		return
	}
	m := scrapeMetrics(t, p)
	delayed, nrefused := m[`cairn_backpressure_total{action="delayed"}`], m[`cairn_backpressure_total{action="refused"}`]
	t.Logf("stalled: %d rows acked, %d COPYs refused in %s; backpressure delayed %v refused %v; view lag %v events",
		acked.Load(), refused.Load(), time.Since(start).Round(time.Millisecond), delayed, nrefused, m[`cairn_view_lag_events{view="agg"}`])
	if refused.Load() < 20 {
		t.Fatalf("writers were never refused in 90 s (%d rows acked)", acked.Load())
	}
	if delayed < 1 || nrefused < float64(refused.Load()) {
		t.Errorf("backpressure_total: delayed %v (want > 0: slowed before refused), refused %v (want >= %d)", delayed, nrefused, refused.Load())
	}
	pe := firstRefusal.Load()
	if !strings.HasPrefix(pe.Message, "ingest is paused") || !strings.Contains(pe.Hint, "Retry in a moment") || !strings.Contains(pe.Hint, `View "agg" is`) {
		t.Errorf("refusal: %s (hint %q, detail %q)", pe.Message, pe.Hint, pe.Detail)
	}
	t.Logf("refusal: ERROR: %s (SQLSTATE %s)\nDETAIL: %s\nHINT: %s", pe.Message, pe.Code, pe.Detail, pe.Hint)
	if !p.Running() {
		t.Fatalf("the node died:\n%s", p.Log())
	}
	// HTTP ingest is refused alike: 503 with Retry-After and the SQLSTATE.
	resp, err := http.Post("http://"+p.HTTP+"/v1/streams/ev/events", "application/x-ndjson", strings.NewReader(`{"k":1,"v":1}`+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), `"code":"53200"`) {
		t.Errorf("HTTP ingest while paused: %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}

	// Un-stalled, the view catches up and ingest resumes.
	postViews(t, p, `{"stall":false}`)
	before := acked.Load()
	start = time.Now()
	push(func() bool { return acked.Load() >= before+20*rows || time.Since(start) > 60*time.Second })
	if acked.Load() < before+20*rows {
		t.Fatalf("ingest did not resume within 60 s after the view task ran again (%d rows acked since)", acked.Load()-before)
	}
	t.Logf("resumed: %d rows acked in %s", acked.Load()-before, time.Since(start).Round(time.Millisecond))

	// The view is exact: every acknowledged row once, no refused one.
	var n, s, groups int64
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := c.QueryRow(ctx, "SELECT coalesce(sum(n), 0)::int8, coalesce(sum(s), 0)::int8, count(*) FROM agg").Scan(&n, &s, &groups); err != nil {
			t.Fatal(err)
		}
		if n >= acked.Load() || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if n != acked.Load() || s != ackedSum.Load() || groups != keys {
		t.Errorf("view: %d events, sum %d, %d groups; want %d, %d, %d", n, s, groups, acked.Load(), ackedSum.Load(), keys)
	}
	var streamRows int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM ev").Scan(&streamRows); err != nil {
		t.Fatal(err)
	}
	if streamRows != acked.Load() {
		t.Errorf("stream holds %d rows, %d were acknowledged", streamRows, acked.Load())
	}
	stopWatch()
	<-watched
	t.Logf("peak RSS %d MiB (limit %d MiB + margin %d MiB)", maxRSS.Load()>>20, limit>>20, margin>>20)
	if maxRSS.Load() == 0 || maxRSS.Load() > limit+margin {
		t.Errorf("peak RSS %d MiB, over the limit %d MiB plus margin %d MiB", maxRSS.Load()>>20, limit>>20, margin>>20)
	}
	if !p.Running() {
		t.Fatalf("the node died:\n%s", p.Log())
	}
}
