package e2e

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairndb/cairn/internal/testutil"
)

// genEvent derives an event's columns from its id, so the test can
// recompute every aggregate from the ids alone.
func genEvent(id int64) (device int32, value float64) {
	return int32(id % 97), float64(id%1000) / 10
}

// TestKillDuringIngest SIGKILLs a real node in the middle of steady
// ingest from several writers, restarts it on the same data dir, and
// checks that every acknowledged event is in the stream exactly once,
// that nothing is duplicated or invented, and that every view
// equals its aggregate recomputed from the stream. It does so twice, the
// second kill landing soon after a restart.
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

	const batch = 500
	var recs []batchRec
	// Two rounds: ingest, kill -9 mid-batch, restart; the second round's
	// kill also lands while the restarted node is replaying and catching
	// its views up.
	for round := 0; round < 2; round++ {
		got := ingestAndKill(t, p, 3, batch, int64(round)*100_000_000, 1500*time.Millisecond)
		acked := 0
		for _, r := range got {
			if r.acked {
				acked++
			}
		}
		if acked < 10 {
			t.Fatalf("round %d: only %d batches acknowledged before the kill; too slow to test anything\n%s", round, acked, p.Log())
		}
		t.Logf("round %d: killed after %d acknowledged batches (%d events), %d in flight", round, acked, acked*batch, len(got)-acked)
		recs = append(recs, got...)
		p.Start()
	}
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
		// An unacknowledged batch spans both shards of ev; each shard's
		// part is all-or-nothing, but one part may have committed without
		// the other (no atomicity across shards), so only "at most once"
		// holds for it, which the duplicate check above covers.
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

// batchRec is one COPY a writer sent: its ids and whether it was acknowledged.
type batchRec struct {
	first, n int64
	acked    bool
}

// ingestAndKill runs writers COPYing batches of consecutive ids (from
// base) into stream ev for about d, then SIGKILLs the node while they are
// mid-batch and returns every batch sent.
func ingestAndKill(t *testing.T, p *Proc, writers, batch int, base int64, d time.Duration) []batchRec {
	ctx := context.Background()
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
			next := base + int64(w)*10_000_000
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
				recs = append(recs, batchRec{first: next, n: int64(batch), acked: err == nil})
				mu.Unlock()
				next += int64(batch)
				if err != nil {
					return // the node is gone; this batch's fate is unknown
				}
			}
		}(w)
	}
	time.Sleep(d)
	p.Kill()
	close(stop)
	wg.Wait()
	return recs
}

// waitUntil polls cond every 20 ms until it holds or the timeout passes.
func waitUntil(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	testutil.WaitUntil(t, timeout, cond)
}
