package e2e

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// genEvent derives an event's columns from its id, so the test can
// recompute every aggregate from the ids alone.
func genEvent(id int64) (device int32, value float64) {
	return int32(id % 97), float64(id%1000) / 10
}

// TestKillDuringIngest SIGKILLs a real node in the middle of steady
// ingest from several writers, restarts it on the same data dir, and
// checks that every acknowledged event is in the stream exactly once,
// that unacknowledged batches are all-or-nothing, and that every view
// equals its aggregate recomputed from the stream.
func TestKillDuringIngest(t *testing.T) {
	p := NewProc(t)
	p.Start()
	ctx := context.Background()
	c := p.Connect(t)
	for _, q := range []string{
		`CREATE STREAM ev (id int8, device_id int, value float8) WITH (shards = 2, shard_key = 'id')`,
		`CREATE MATERIALIZED VIEW per_device WITH (shards = 2) AS SELECT device_id, count(*) AS n, sum(value) AS total, max(value) AS peak FROM ev GROUP BY device_id`,
		`CREATE MATERIALIZED VIEW big AS SELECT count(*) AS n, sum(id) AS ids FROM ev WHERE value >= 50`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	const writers, batch = 3, 500
	type batchRec struct {
		first, n int64
		acked    bool
	}
	var mu sync.Mutex
	var recs []batchRec
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			wc, err := pgx.Connect(ctx, p.URL())
			if err != nil {
				t.Errorf("writer %d: %v", w, err)
				return
			}
			defer wc.Close(context.Background())
			next := int64(w) * 1_000_000_000
			for i := 0; i < 100_000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				rows := make([][]any, batch)
				for j := range rows {
					id := next + int64(j)
					d, v := genEvent(id)
					rows[j] = []any{id, d, v}
				}
				cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := wc.CopyFrom(cctx, pgx.Identifier{"ev"}, []string{"id", "device_id", "value"}, pgx.CopyFromRows(rows))
				cancel()
				mu.Lock()
				recs = append(recs, batchRec{first: next, n: batch, acked: err == nil})
				mu.Unlock()
				next += batch
				if err != nil {
					return // the node is gone; this batch's fate is unknown
				}
			}
		}(w)
	}
	// Let ingest run, then kill the node while writers are mid-batch.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(recs)
		mu.Unlock()
		if n >= 60 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Kill()
	close(stop)
	wg.Wait()

	acked := 0
	for _, r := range recs {
		if r.acked {
			acked++
		}
	}
	if acked < 10 {
		t.Fatalf("only %d batches acknowledged before the kill; ingest too slow to test anything\n%s", acked, p.Log())
	}
	t.Logf("killed after %d acknowledged batches (%d events), %d in flight", acked, acked*batch, len(recs)-acked)

	p.Start()
	c2 := p.Connect(t)
	count := map[int64]int{}
	rows, err := c2.Query(ctx, `SELECT id FROM ev`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		count[id]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	inBatch := map[int64]bool{}
	for _, r := range recs {
		present := 0
		for id := r.first; id < r.first+r.n; id++ {
			inBatch[id] = true
			switch count[id] {
			case 0:
			case 1:
				present++
			default:
				t.Fatalf("event %d is in the stream %d times", id, count[id])
			}
		}
		if r.acked && present != int(r.n) {
			t.Fatalf("acknowledged batch at %d: only %d of %d events survived the kill", r.first, present, r.n)
		}
		if !r.acked && present != 0 && present != int(r.n) {
			t.Fatalf("unacknowledged batch at %d half applied: %d of %d events", r.first, present, r.n)
		}
	}
	for id := range count {
		if !inBatch[id] {
			t.Fatalf("event %d was never sent", id)
		}
	}

	// Recompute the views from the stream and compare once they caught up.
	type agg struct {
		n           int64
		total, peak float64
	}
	want := map[int32]*agg{}
	var bigN, bigIDs int64
	for id := range count {
		d, v := genEvent(id)
		a := want[d]
		if a == nil {
			a = &agg{peak: math.Inf(-1)}
			want[d] = a
		}
		a.n++
		a.total += v
		a.peak = math.Max(a.peak, v)
		if v >= 50 {
			bigN++
			bigIDs += id
		}
	}
	waitUntil(t, 30*time.Second, func() (bool, string) {
		var n int64
		if err := c2.QueryRow(ctx, `SELECT coalesce(sum(n), 0) FROM per_device`).Scan(&n); err != nil {
			return false, err.Error()
		}
		return n == int64(len(count)), fmt.Sprintf("per_device holds %d of %d events", n, len(count))
	})
	rows, err = c2.Query(ctx, `SELECT device_id, n, total, peak FROM per_device`)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for rows.Next() {
		var d int32
		var a agg
		if err := rows.Scan(&d, &a.n, &a.total, &a.peak); err != nil {
			t.Fatal(err)
		}
		w := want[d]
		if w == nil || w.n != a.n || math.Abs(w.total-a.total) > 1e-6*math.Max(1, math.Abs(w.total)) || w.peak != a.peak {
			t.Fatalf("per_device row %d = %+v, recomputed from the stream %+v", d, a, w)
		}
		got++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Fatalf("per_device has %d rows, the stream has %d devices", got, len(want))
	}
	waitUntil(t, 30*time.Second, func() (bool, string) {
		var n, ids int64
		if err := c2.QueryRow(ctx, `SELECT n, ids FROM big`).Scan(&n, &ids); err != nil {
			return false, err.Error()
		}
		return n == bigN && ids == bigIDs, fmt.Sprintf("big = (%d, %d), recomputed (%d, %d)", n, ids, bigN, bigIDs)
	})
}

// waitUntil polls cond every 20 ms until it holds or the timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		ok, why := cond()
		if ok {
			return
		}
		last = why
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("condition not met within %s: %s", timeout, last)
}
