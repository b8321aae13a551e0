package exec

import (
	"math"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sketch"
	"github.com/cairndb/cairn/internal/sql/exec/agg"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

func mustSelect(t *testing.T, q string) *parser.Select {
	t.Helper()
	stmts, _, err := parser.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	return stmts[0].(*parser.Select)
}

// sameRows compares rendered rows field by field; fields that parse as
// floats may differ by a relative 1e-9 (a state merged across shards
// rounds differently from one folded in a single pass).
func sameRows(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g, w := strings.Split(got[i], "|"), strings.Split(want[i], "|")
		if len(g) != len(w) {
			return false
		}
		for j := range g {
			if g[j] == w[j] {
				continue
			}
			a, err1 := strconv.ParseFloat(g[j], 64)
			b, err2 := strconv.ParseFloat(w[j], 64)
			if err1 != nil || err2 != nil || math.Abs(a-b) > 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b))) {
				return false
			}
		}
	}
	return true
}

// orderFreeAggs are views whose result does not depend on the order rows
// are folded and merged in.
var orderFreeAggs = []string{
	`SELECT device_id, count(DISTINCT region), sum(DISTINCT value), avg(DISTINCT device_id), max(DISTINCT value), count(DISTINCT ts) FILTER (WHERE value > 20) FROM events GROUP BY device_id`,
	`SELECT region, stddev(value), stddev_pop(value), var_samp(value), var_pop(value), variance(device_id) FILTER (WHERE value < 30) FROM events GROUP BY region`,
	`SELECT device_id % 3, corr(value, device_id), covar_pop(value, device_id * 7 + 1), covar_samp(device_id, value), regr_count(value, device_id), regr_avgx(value, device_id), regr_avgy(value, device_id) FROM events GROUP BY 1`,
	`SELECT region, regr_slope(value, device_id), regr_intercept(value, device_id), regr_r2(value, device_id), regr_sxx(value, device_id), regr_syy(value, device_id), regr_sxy(value, device_id) FROM events GROUP BY region`,
	`SELECT device_id, bool_and(value > 10), bool_or(value > 40), every(region = 'eu'), bit_and(device_id + 16), bit_or(device_id * 3), bit_xor(device_id) FROM events GROUP BY device_id`,
	`SELECT device_id, set_agg(region), array_agg(DISTINCT value), first_values(4) WITHIN GROUP (ORDER BY value NULLS FIRST) FROM events GROUP BY device_id`,
	`SELECT count(*) FILTER (WHERE region = 'eu'), sum(value) FILTER (WHERE device_id < 5), min(region) FILTER (WHERE value > 30), string_agg(DISTINCT region, ','), keyed_min(value, value * 2), keyed_max(device_id, device_id + 0.5) FROM events`,
}

// TestAggsViewMatchesSelect: every aggregate in a view, folded over
// shuffled rows in random batches on 1-3 shards with encoded deltas and
// merged partial states, gives the SELECT's result.
func TestAggsViewMatchesSelect(t *testing.T) {
	for _, q := range orderFreeAggs {
		sel := mustSelect(t, q)
		v, err := PlanView(sel, eventCols)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for seed := int64(1); seed <= 8; seed++ {
			r := rand.New(rand.NewSource(seed))
			rows := randomEvents(r, 200+r.Intn(400))
			want := selectRows(t, sel, rows)
			got := foldAll(t, r, v, rows, 1+r.Intn(3))
			if !sameRows(got, want) {
				t.Fatalf("%s\nseed %d: view\n%s\nselect\n%s", q, seed, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
}

// orderedAggs depend on fold order: in a view they follow the stream.
var orderedAggs = []string{
	`SELECT device_id, string_agg(region, ','), string_agg(value::text, region), keyed_min(region, value), keyed_max(value, region), count(*) FROM events GROUP BY device_id`,
	`SELECT string_agg(region || ':' || device_id::text, ',') FILTER (WHERE value > 25), keyed_max(ts, value) FROM events`,
	`SELECT region, json_agg(value), jsonb_agg(device_id), json_object_agg(ts, value), jsonb_object_agg(device_id, value) FROM events GROUP BY region`,
	`SELECT region, array_agg(value), array_agg(device_id) FILTER (WHERE value > 20), first_values(5) WITHIN GROUP (ORDER BY value DESC), first_values(3) WITHIN GROUP (ORDER BY device_id) FROM events GROUP BY region`,
}

// TestAggsOrderedViewMatchesSelect folds rows in stream order, one delta
// per random batch, each encoded, decoded and merged into the stored
// state in log order: string_agg and keyed_min/max (first wins on ties)
// give exactly the SELECT's result.
func TestAggsOrderedViewMatchesSelect(t *testing.T) {
	for _, q := range orderedAggs {
		sel := mustSelect(t, q)
		v, err := PlanView(sel, eventCols)
		if err != nil {
			t.Fatal(err)
		}
		for seed := int64(1); seed <= 6; seed++ {
			r := rand.New(rand.NewSource(seed))
			rows := randomEvents(r, 100+r.Intn(300))
			want := selectRows(t, sel, rows)
			merged := map[string][]byte{}
			for i := 0; i < len(rows); {
				n := min(1+r.Intn(40), len(rows)-i)
				d := v.NewDelta()
				if err := v.Fold(&Ctx{}, d, toBatch(rows[i:i+n]), nil); err != nil {
					t.Fatal(err)
				}
				i += n
				d2 := v.NewDelta()
				if err := v.DecodeDelta(v.AppendDelta(nil, d), d2); err != nil {
					t.Fatal(err)
				}
				if err := d2.Range(func(key, state []byte) error {
					m, err := v.MergeState(nil, merged[string(key)], state)
					merged[string(key)] = m
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
			var got []string
			for k, st := range merged {
				row, err := v.Finalize(&Ctx{}, []byte(k), st, nil)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, render(row))
			}
			if !sameRows(sortedCopy(got), want) {
				t.Fatalf("%s\nseed %d: view\n%s\nselect\n%s", q, seed, strings.Join(sortedCopy(got), "\n"), strings.Join(want, "\n"))
			}
		}
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// TestAggsEncodingDeterministic: the same rows folded in other batch
// splits encode to the same bytes (order-free exact states: DISTINCT
// sets, bool, bit), and decode/encode is the identity for every state.
func TestAggsEncodingDeterministic(t *testing.T) {
	sel := mustSelect(t, `SELECT device_id, count(DISTINCT region), string_agg(DISTINCT region, ','), bool_and(value > 3), bit_or(device_id * 5), sum(DISTINCT value) FILTER (WHERE value > 5) FROM events GROUP BY device_id`)
	v, err := PlanView(sel, eventCols)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(9))
	rows := randomEvents(r, 500)
	d1, d2 := v.NewDelta(), v.NewDelta()
	if err := v.Fold(&Ctx{}, d1, toBatch(rows), nil); err != nil {
		t.Fatal(err)
	}
	r.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	for i := 0; i < len(rows); i += 37 {
		if err := v.Fold(&Ctx{}, d2, toBatch(rows[i:min(i+37, len(rows))]), nil); err != nil {
			t.Fatal(err)
		}
	}
	e1, e2 := v.AppendDelta(nil, d1), v.AppendDelta(nil, d2)
	if string(e1) != string(e2) {
		t.Fatal("encodings differ for the same rows in another order")
	}
	for _, q := range append(append([]string(nil), orderFreeAggs...), orderedAggs...) {
		v, err := PlanView(mustSelect(t, q), eventCols)
		if err != nil {
			t.Fatal(err)
		}
		d := v.NewDelta()
		if err := v.Fold(&Ctx{}, d, toBatch(rows), nil); err != nil {
			t.Fatal(err)
		}
		e := v.AppendDelta(nil, d)
		d3 := v.NewDelta()
		if err := v.DecodeDelta(e, d3); err != nil {
			t.Fatal(err)
		}
		if e3 := v.AppendDelta(nil, d3); string(e3) != string(e) {
			t.Fatalf("%s: decode/encode is not the identity", q)
		}
	}
}

// TestAggsCorruptState: damaged states (truncated, bytes flipped,
// inconsistent blob contents) are errors or well-formed results from
// MergeState, Finalize and DecodeDelta, never panics.
func TestAggsCorruptState(t *testing.T) {
	sel := mustSelect(t, `SELECT device_id, count(DISTINCT region), string_agg(region, ','), keyed_min(value, region), stddev(value), corr(value, device_id), bool_or(value > 1), json_agg(value), hll_agg(region), dist_agg(value), array_agg(region), first_values(2) WITHIN GROUP (ORDER BY value) FROM events GROUP BY device_id`)
	v, err := PlanView(sel, eventCols)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(4))
	d := v.NewDelta()
	if err := v.Fold(&Ctx{}, d, toBatch(randomEvents(r, 60)), nil); err != nil {
		t.Fatal(err)
	}
	enc := v.AppendDelta(nil, d)
	try := func(f func()) {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("panic: %v", p)
			}
		}()
		f()
	}
	for i := 0; i < len(enc); i++ {
		bad := append([]byte(nil), enc[:i]...)
		try(func() {
			if err := v.DecodeDelta(bad, v.NewDelta()); err == nil {
				t.Fatalf("delta truncated to %d of %d bytes decoded", i, len(enc))
			}
		})
		bad = append([]byte(nil), enc...)
		bad[i] ^= 0x5a
		try(func() { _ = v.DecodeDelta(bad, v.NewDelta()) })
	}
	var key, state []byte
	d.Range(func(k, s []byte) error { key, state = append([]byte(nil), k...), append([]byte(nil), s...); return nil })
	for i := 0; i < len(state); i++ {
		for _, bad := range [][]byte{state[:i], flip(state, i)} {
			try(func() {
				_, _ = v.MergeState(nil, state, bad)
				_, _ = v.Finalize(&Ctx{}, key, bad, nil)
			})
		}
	}
	// Inconsistent blob contents behind a well-formed length prefix.
	layouts := map[string]agg.Blob{}
	for i, l := range v.lay {
		if l.Class == agg.StateB {
			layouts[v.aggs[i].Func] = l.Blob
		}
	}
	for name, payload := range map[string][]byte{
		"count":      {5, 1, 1}, // 5 entries announced, one short one present
		"string_agg": {1, 9, 'a'},
		"keyed_min":  {1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2}, // trailing bytes after the value
	} {
		if _, err := layouts[name].Decode(payload); pgerr.Code(err) != pgerr.DataCorrupted {
			t.Errorf("%s: corrupt blob decoded: %v", name, err)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0xa5
	return c
}

// TestAggNamesKnown: every aggregate package agg resolves is one that
// scalar.IsAggName recognizes (else it would compile as a plain function).
func TestAggNamesKnown(t *testing.T) {
	for _, n := range agg.ExtNames() {
		if !scalar.IsAggName(n) {
			t.Errorf("%s is not in scalar.IsAggName", n)
		}
	}
	for _, n := range []string{"lower", "abs", "coalesce"} {
		if scalar.IsAggName(n) {
			t.Errorf("%s is not an aggregate", n)
		}
	}
}

// TestFilterFoldNoAllocs: FILTER and a Fixed aggregate fold into
// existing groups without allocating.
func TestFilterFoldNoAllocs(t *testing.T) {
	sel := mustSelect(t, `SELECT device_id, count(*) FILTER (WHERE value > 10), stddev(value), corr(value, device_id), bit_or(device_id) FROM events GROUP BY device_id`)
	v, err := PlanView(sel, eventCols)
	if err != nil {
		t.Fatal(err)
	}
	b := toBatch(randomEvents(rand.New(rand.NewSource(5)), 500))
	d := v.NewDelta()
	ec := &Ctx{}
	if err := v.Fold(ec, d, b, nil); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() { _ = v.Fold(ec, d, b, nil) }); n != 0 {
		t.Fatalf("allocs %v", n)
	}
}

// TestSketchAggsWithinError checks the sketch-backed aggregates of a view
// (rows shuffled, split over shards, deltas encoded and merged) against
// exact answers over a few thousand generated rows: approx_count_distinct
// within 4 standard errors of a HyperLogLog at precision 14 (0.81%; the
// global count of 6,000 values is past the sparse form, the per-device
// ones of 2,000 are not), and percentile_cont (a t-digest in a view)
// within a rank error of 0.005 (the sketch package measures at most 0.003
// after merges).
func TestSketchAggsWithinError(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	var rows [][]types.Datum
	for i := 0; i < 6000; i++ {
		v := r.ExpFloat64() * 100
		rows = append(rows, ev(int64(r.Intn(1<<30)), int64(i%3), "eu", v))
	}
	byDev := map[int64][]float64{}
	for _, row := range rows {
		byDev[row[1].I] = append(byDev[row[1].I], row[3].F)
	}
	rank := func(vals []float64, x float64) float64 {
		n := 0
		for _, y := range vals {
			if y <= x {
				n++
			}
		}
		return float64(n) / float64(len(vals))
	}
	checkCount := func(what, approxS, exactS string, want float64) {
		approx, _ := strconv.ParseFloat(approxS, 64)
		exact, _ := strconv.ParseFloat(exactS, 64)
		if exact != want || math.Abs(approx-exact) > 4*0.0081*exact {
			t.Errorf("%s: approx_count_distinct %v, exact %v", what, approx, exact)
		}
	}
	view := func(q string) []string {
		v, err := PlanView(mustSelect(t, q), eventCols)
		if err != nil {
			t.Fatal(err)
		}
		return foldAll(t, r, v, rows, 3)
	}
	got := view(`SELECT device_id, approx_count_distinct(ts), count(DISTINCT ts), percentile_cont(0.5) WITHIN GROUP (ORDER BY value), percentile_cont(0.99) WITHIN GROUP (ORDER BY value), percentile_cont(0.1) WITHIN GROUP (ORDER BY value DESC) FROM events GROUP BY device_id`)
	if len(got) != 3 {
		t.Fatalf("groups: %v", got)
	}
	for _, line := range got {
		f := strings.Split(line, "|")
		dev, _ := strconv.ParseInt(f[0], 10, 64)
		checkCount("device "+f[0], f[1], f[2], 2000)
		for k, q := range []float64{0.5, 0.99, 0.9} {
			x, err := strconv.ParseFloat(f[3+k], 64)
			if err != nil {
				t.Fatal(err)
			}
			if e := math.Abs(rank(byDev[dev], x) - q); e > 0.005 {
				t.Errorf("device %d: percentile %v = %v has rank error %v", dev, q, x, e)
			}
		}
	}
	got = view(`SELECT approx_count_distinct(ts), count(DISTINCT ts), hll_count_distinct(device_id) FROM events`)
	f := strings.Split(got[0], "|")
	checkCount("global", f[0], f[1], 6000)
	if f[2] != "3" {
		t.Errorf("hll_count_distinct of 3 devices: %s", f[2])
	}
}

// TestHashSketchAggsWithinError: freq_agg (count-min) never
// underestimates and overestimates by more than ε·N (ε = 0.002) for at
// most a δ (1%) share of values; bloom_agg has no false negatives and a
// false-positive rate within 2x of 1% on values never added. Built by a
// view over 6,000 rows in two shards, merged, then read back.
func TestHashSketchAggsWithinError(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	var rows [][]types.Datum
	exact := map[int64]uint64{}
	for i := 0; i < 6000; i++ {
		dev := int64(r.ExpFloat64() * 40) // skewed: the most frequent seen ~150 times, ~300 values
		exact[dev]++
		rows = append(rows, ev(int64(i), dev, "eu", 1))
	}
	v, err := PlanView(mustSelect(t, `SELECT freq_agg(device_id), bloom_agg(device_id), topk_agg(device_id, 10) FROM events`), eventCols)
	if err != nil {
		t.Fatal(err)
	}
	var merged []byte
	for s := 0; s < 2; s++ {
		d := v.NewDelta()
		for i := s; i < len(rows); i += 2 {
			if err := v.Fold(&Ctx{}, d, toBatch(rows[i:i+1]), nil); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.Range(func(_, st []byte) error {
			var err error
			merged, err = v.MergeState(nil, merged, st)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	row, err := v.Finalize(&Ctx{}, nil, merged, nil)
	if err != nil {
		t.Fatal(err)
	}
	cms, err := sketch.UnmarshalCountMin([]byte(row[0].S))
	if err != nil {
		t.Fatal(err)
	}
	bloom, err := sketch.UnmarshalBloom([]byte(row[1].S))
	if err != nil {
		t.Fatal(err)
	}
	over := 0
	for dev, n := range exact {
		h := scalar.HashValue(types.NewInt(types.Int4, dev))
		est := cms.Estimate(h)
		if est < n {
			t.Fatalf("freq of %d: %d < exact %d", dev, est, n)
		}
		if float64(est-n) > 0.002*6000 {
			over++
		}
		if !bloom.Contains(h) {
			t.Fatalf("bloom: %d added but not contained", dev)
		}
	}
	if over > len(exact)/100+1 {
		t.Errorf("%d of %d estimates off by more than ε·N", over, len(exact))
	}
	fp := 0
	for dev := int64(100000); dev < 110000; dev++ {
		if bloom.Contains(scalar.HashValue(types.NewInt(types.Int4, dev))) {
			fp++
		}
	}
	if rate := float64(fp) / 10000; rate > 0.02 {
		t.Errorf("bloom false-positive rate %v", rate)
	}
	// topk_agg: each reported count bounds the true count from above
	// (and count-error from below), and every value seen more than
	// N/(8k) times is held; check the true top 10 is found.
	tk, err := sketch.UnmarshalTopK([]byte(row[2].S))
	if err != nil {
		t.Fatal(err)
	}
	top := tk.Top()
	held := map[string]bool{}
	for _, it := range top {
		dev, err := strconv.ParseInt(string(it.Value), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		held[string(it.Value)] = true
		if n := exact[dev]; it.Count < n || it.Count-it.Error > n {
			t.Errorf("topk %d: count %d error %d, exact %d", dev, it.Count, it.Error, n)
		}
	}
	devs := make([]int64, 0, len(exact))
	for d := range exact {
		devs = append(devs, d)
	}
	sort.Slice(devs, func(i, j int) bool {
		return exact[devs[i]] > exact[devs[j]] || exact[devs[i]] == exact[devs[j]] && devs[i] < devs[j]
	})
	checked := 0
	for _, d := range devs[:10] {
		if exact[d] > 6000/80 {
			checked++
			if !held[strconv.FormatInt(d, 10)] {
				t.Errorf("topk misses %d (count %d)", d, exact[d])
			}
		}
	}
	if checked < 5 || len(exact) <= 80 {
		t.Fatalf("test data too flat: %d heavy hitters, %d values", checked, len(exact))
	}
	if len(top) != 10 {
		t.Errorf("topk holds %d items", len(top))
	}
}

// TestAggsGlobalViewEmpty: a global view with no stored state finalizes
// to what SELECT returns over no rows (0 for counts, NULL for the rest,
// an empty sketch for hll_agg).
func TestAggsGlobalViewEmpty(t *testing.T) {
	for _, q := range []string{
		`SELECT count(DISTINCT region), string_agg(region, ','), keyed_min(value, region), stddev(value), regr_count(value, device_id), corr(value, device_id), bool_and(value > 1), bit_or(device_id) FROM events`,
		`SELECT approx_count_distinct(region), hll_cardinality(hll_agg(region)), dist_quantile(dist_agg(value), 0.5), freq(freq_agg(region), 'eu'), bloom_cardinality(bloom_agg(region)), percentile_cont(0.5) WITHIN GROUP (ORDER BY value), sum(DISTINCT value) FILTER (WHERE value > 1) FROM events`,
	} {
		sel := mustSelect(t, q)
		v, err := PlanView(sel, eventCols)
		if err != nil {
			t.Fatal(err)
		}
		row, err := v.Finalize(&Ctx{}, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, want := render(row), selectRows(t, sel, nil)
		if len(want) != 1 || got != want[0] {
			t.Errorf("%s\nview   %s\nselect %v", q, got, want)
		}
	}
}

// TestMergeStateNoAllocs: merging the encoded states of built-in and
// Fixed aggregates (the viewsm apply path) does not allocate.
func TestMergeStateNoAllocs(t *testing.T) {
	for _, q := range []string{
		`SELECT device_id, count(*), sum(value), max(value), min(region) FROM events GROUP BY device_id`,
		`SELECT device_id, stddev(value), corr(value, device_id), bool_or(value > 1), bit_and(device_id) FROM events GROUP BY device_id`,
	} {
		v, err := PlanView(mustSelect(t, q), eventCols)
		if err != nil {
			t.Fatal(err)
		}
		d := v.NewDelta()
		if err := v.Fold(&Ctx{}, d, toBatch(randomEvents(rand.New(rand.NewSource(6)), 50)), nil); err != nil {
			t.Fatal(err)
		}
		var states [][]byte
		d.Range(func(_, s []byte) error { states = append(states, append([]byte(nil), s...)); return nil })
		dst := make([]byte, 0, 1024)
		if n := testing.AllocsPerRun(50, func() {
			var err error
			if dst, err = v.MergeState(dst[:0], states[0], states[1]); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("%s: %v allocs per merge", q, n)
		}
	}
}
