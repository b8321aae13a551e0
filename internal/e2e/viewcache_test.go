package e2e

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairndb/cairn/internal/testutil"
)

// TestViewLargerThanCache runs a real node with a 64 KiB view cache and
// views far larger than it (5,000 devices; tumble() windows per device;
// HyperLogLog sketches), and checks full scans and point lookups against
// aggregates computed here, before and after a restart, and that the
// cache stayed within its budget while rows were read from disk.
func TestViewLargerThanCache(t *testing.T) {
	p := NewProc(t)
	flags := []string{"--view-cache", "64KiB"}
	p.Start(flags...)
	ctx := context.Background()
	c := p.Connect(t)
	for _, q := range []string{
		`CREATE STREAM ev (id int8, device_id int, ts timestamptz, value int8) WITH (shards = 2, shard_key = 'id')`,
		`CREATE VIEW per_device WITH (shards = 2) AS SELECT device_id, count(*) AS n, sum(value) AS total FROM ev GROUP BY device_id`,
		`CREATE VIEW per_window WITH (lateness = '1 hour') AS SELECT window_start, device_id, count(*) AS n, max(value) AS peak FROM tumble(ev, ts, interval '1 minute') GROUP BY window_start, device_id`,
		`CREATE VIEW sketch AS SELECT device_id % 100 AS g, count(*) AS n, approx_count_distinct(id) AS d FROM ev GROUP BY g`,
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	const events, devices = 20_000, 5_000
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	gen := func(i int64) (device int32, ts time.Time, value int64) {
		return int32((i * 7919) % devices), base.Add(time.Duration(i) * 10 * time.Millisecond), i % 1000
	}
	type agg struct{ n, total int64 }
	perDevice := map[int32]agg{}
	type wkey struct {
		w time.Time
		d int32
	}
	perWindow := map[wkey]agg{} // n, peak
	perG := map[int32]int64{}
	var rows [][]any
	for i := int64(0); i < events; i++ {
		d, ts, v := gen(i)
		rows = append(rows, []any{i, d, ts, v})
		a := perDevice[d]
		perDevice[d] = agg{a.n + 1, a.total + v}
		wk := wkey{ts.Truncate(time.Minute), d}
		w := perWindow[wk]
		perWindow[wk] = agg{w.n + 1, max(w.total, v)}
		perG[d%100]++
	}
	for i := 0; i < len(rows); i += 2000 {
		if _, err := c.CopyFrom(ctx, pgx.Identifier{"ev"}, []string{"id", "device_id", "ts", "value"}, pgx.CopyFromRows(rows[i:i+2000])); err != nil {
			t.Fatal(err)
		}
	}

	var sketches map[int32]int64
	check := func(what string) {
		t.Helper()
		start := time.Now()
		defer func() { t.Logf("%s: checked in %s", what, time.Since(start)) }()
		testutil.WaitUntil(t, 60*time.Second, func() (bool, string) {
			var n int64
			if err := c.QueryRow(ctx, `SELECT coalesce(sum(n), 0)::int8 FROM per_device`).Scan(&n); err != nil {
				return false, err.Error()
			}
			var nw int64
			if err := c.QueryRow(ctx, `SELECT coalesce(sum(n), 0)::int8 FROM per_window`).Scan(&nw); err != nil {
				return false, err.Error()
			}
			return n == events && nw == events, fmt.Sprintf("views hold %d and %d of %d events", n, nw, events)
		})
		// Full scans.
		got := map[int32]agg{}
		r, err := c.Query(ctx, `SELECT device_id, n, total::int8 FROM per_device`)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var d int32
			var a agg
			if err := r.Scan(&d, &a.n, &a.total); err != nil {
				t.Fatal(err)
			}
			got[d] = a
		}
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
		if len(got) != len(perDevice) {
			t.Fatalf("%s: per_device has %d rows, want %d", what, len(got), len(perDevice))
		}
		for d, w := range perDevice {
			if got[d] != w {
				t.Fatalf("%s: per_device row %d = %+v, want %+v", what, d, got[d], w)
			}
		}
		gotW := map[wkey]agg{}
		r, err = c.Query(ctx, `SELECT window_start, device_id, n, peak FROM per_window`)
		if err != nil {
			t.Fatal(err)
		}
		for r.Next() {
			var k wkey
			var a agg
			if err := r.Scan(&k.w, &k.d, &a.n, &a.total); err != nil {
				t.Fatal(err)
			}
			gotW[wkey{k.w.UTC(), k.d}] = a
		}
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
		if len(gotW) != len(perWindow) {
			t.Fatalf("%s: per_window has %d rows, want %d", what, len(gotW), len(perWindow))
		}
		for k, w := range perWindow {
			if gotW[k] != w {
				t.Fatalf("%s: per_window row %v = %+v, want %+v", what, k, gotW[k], w)
			}
		}
		// Point lookups, some of devices that never sent an event.
		for i := range 150 {
			d := int32((i * 2654435761) % (devices + 500))
			var a agg
			err := c.QueryRow(ctx, `SELECT n, total::int8 FROM per_device WHERE device_id = $1`, d).Scan(&a.n, &a.total)
			want, ok := perDevice[d]
			switch {
			case !ok && err != pgx.ErrNoRows:
				t.Fatalf("%s: device %d sent nothing, lookup gave %+v, %v", what, d, a, err)
			case ok && (err != nil || a != want):
				t.Fatalf("%s: lookup of device %d = %+v (%v), want %+v", what, d, a, err, want)
			}
		}
		// Sketches: exact counts, distinct ids within HyperLogLog's error,
		// and the same estimates after the restart as before.
		r, err = c.Query(ctx, `SELECT g, n, d FROM sketch`)
		if err != nil {
			t.Fatal(err)
		}
		est := map[int32]int64{}
		for r.Next() {
			var g int32
			var n, d int64
			if err := r.Scan(&g, &n, &d); err != nil {
				t.Fatal(err)
			}
			if n != perG[g] || math.Abs(float64(d-n)) > 0.1*float64(n)+2 {
				t.Fatalf("%s: sketch group %d: n %d (want %d), distinct estimate %d", what, g, n, perG[g], d)
			}
			est[g] = d
		}
		if r.Err() != nil {
			t.Fatal(r.Err())
		}
		if len(est) != len(perG) {
			t.Fatalf("%s: sketch has %d groups, want %d", what, len(est), len(perG))
		}
		for g, d := range sketches { // nil before the restart
			if est[g] != d {
				t.Fatalf("%s: sketch group %d estimates %d, %d before the restart", what, g, est[g], d)
			}
		}
		sketches = est
		// A device looked up again is answered from the cache.
		before := scrapeMetrics(t, p)
		for range 3 {
			var n int64
			if err := c.QueryRow(ctx, `SELECT n FROM per_device WHERE device_id = 42`).Scan(&n); err != nil || n != perDevice[42].n {
				t.Fatalf("%s: device 42: %d, %v", what, n, err)
			}
		}
		// The cache kept to its budget, and rows came from disk.
		m := scrapeMetrics(t, p)
		if m["cairn_view_cache_bytes"] > 64<<10 || m["cairn_view_cache_misses_total"] == 0 ||
			m["cairn_view_cache_hits_total"] < before["cairn_view_cache_hits_total"]+2 {
			t.Fatalf("%s: view cache metrics %v (before the repeated lookups %v)", what, m, before)
		}
		t.Logf("%s: view cache %v", what, m)
	}
	check("before restart")
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	p.Start(flags...)
	c = p.Connect(t)
	check("after restart")
}

// scrapeMetrics returns every sample on the node's /metrics, keyed by
// name and labels as written there.
func scrapeMetrics(t *testing.T, p *testutil.Proc) map[string]float64 {
	t.Helper()
	hc, err := p.HTTPClient(10 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(p.HTTPBase() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
