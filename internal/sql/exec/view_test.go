package exec

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

func perDevice() *parser.Select {
	return &parser.Select{
		Items: []parser.SelectItem{item(col("device_id"), ""), item(countStar(), "n"),
			item(fn("sum", col("value")), "total"), item(fn("max", col("value")), "peak")},
		From: from("events"), GroupBy: []parser.Expr{col("device_id")}}
}

// viewQueries are continuous-view definitions over events, each also run
// as a plain SELECT to check the view's results.
func viewQueries() map[string]*parser.Select {
	return map[string]*parser.Select{
		"per_device": perDevice(),
		"per_minute": {
			Items: []parser.SelectItem{item(col("region"), ""), item(fn("date_trunc", str("minute"), col("ts")), "minute"),
				item(fn("avg", col("value")), "")},
			From: from("events"), Where: bin(">", col("value"), num(0)),
			GroupBy: []parser.Expr{col("region"), col("minute")}},
		"global": {
			Items: []parser.SelectItem{item(countStar(), ""), item(fn("sum", col("device_id")), ""), item(fn("min", col("region")), ""),
				item(fn("max", col("region")), "maxr"), item(fn("max", col("ts")), ""), item(fn("min", col("value")), "minv"),
				item(fn("count", col("region")), "nr")},
			From: from("events")},
		"expr_keys": {
			Items: []parser.SelectItem{item(bin("%", col("device_id"), num(3)), "g"),
				item(bin("/", fn("sum", col("value")), countStar()), "mean"),
				item(fn("max", bin("-", col("ts"), fn("date_trunc", str("minute"), col("ts")))), "lag"),
				item(fn("sum", bin("-", col("ts"), fn("date_trunc", str("hour"), col("ts")))), "since_hour"),
				item(fn("avg", col("device_id")), "avgdev")},
			From: from("events"), Where: &parser.IsNull{X: col("region"), Not: true},
			GroupBy: []parser.Expr{num(1)}},
		"cast_key": {
			Items: []parser.SelectItem{item(cast(col("value"), "integer"), ""), item(countStar(), ""), item(fn("sum", col("device_id")), "")},
			From:  from("events"), GroupBy: []parser.Expr{cast(col("value"), "integer")}},
	}
}

func randomEvents(r *rand.Rand, n int) [][]types.Datum {
	regions := []string{"eu", "us", "ap", "sa", ""}
	rows := make([][]types.Datum, n)
	for i := range rows {
		v := float64(r.Intn(200)-100) / 2
		if r.Intn(10) == 0 {
			v = -1000 // NULL
		}
		if v < 0 && v != -1000 {
			v = -v + 0.5
		}
		rows[i] = ev(int64(r.Intn(7200)), int64(r.Intn(25)), regions[r.Intn(len(regions))], v)
	}
	return rows
}

func render(row []types.Datum) string {
	parts := make([]string, len(row))
	for i, d := range row {
		parts[i] = show(d)
	}
	return strings.Join(parts, "|")
}

func selectRows(t *testing.T, sel *parser.Select, rows [][]types.Datum) []string {
	t.Helper()
	p, err := PlanSelect(sel, resolver(map[string]Source{"events": &memSource{cols: eventCols, rows: rows, batchSize: 64}}), nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	if err := p.Run(context.Background(), &Ctx{}, func(row []types.Datum) error {
		out = append(out, render(row))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func toBatch(rows [][]types.Datum) *types.Batch {
	b := types.NewBatch(colTypes(eventCols))
	for _, r := range rows {
		b.AppendRow(r)
	}
	return b
}

// foldAll folds rows shuffled and split into random batches over nshards
// shards (several deltas each, encoded and decoded), merges every
// partial state per key with MergeState, and finalizes.
func foldAll(t *testing.T, r *rand.Rand, v *ViewPlan, rows [][]types.Datum, nshards int) []string {
	t.Helper()
	rows = append([][]types.Datum(nil), rows...)
	r.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	merged := map[string][]byte{}
	for s := 0; s < nshards; s++ {
		keep := func(h uint64) bool { return h%uint64(nshards) == uint64(s) }
		d := v.NewDelta()
		flush := func() {
			enc := v.AppendDelta(nil, d)
			d2 := v.NewDelta()
			if err := v.DecodeDelta(enc, d2); err != nil {
				t.Fatal(err)
			}
			if d2.Len() != d.Len() {
				t.Fatalf("decoded %d keys, folded %d", d2.Len(), d.Len())
			}
			if err := d2.Range(func(key, state []byte) error {
				if hashKey(key)%uint64(nshards) != uint64(s) {
					t.Errorf("key on wrong shard")
				}
				m, err := v.MergeState(nil, merged[string(key)], state)
				merged[string(key)] = m
				return err
			}); err != nil {
				t.Fatal(err)
			}
			d.Reset()
		}
		for i := 0; i < len(rows); {
			n := 1 + r.Intn(50)
			if i+n > len(rows) {
				n = len(rows) - i
			}
			if err := v.Fold(&Ctx{}, d, toBatch(rows[i:i+n]), keep); err != nil {
				t.Fatal(err)
			}
			i += n
			if r.Intn(4) == 0 {
				flush()
			}
		}
		flush()
	}
	var out []string
	var row []types.Datum
	for k, st := range merged {
		var err error
		if row, err = v.Finalize(&Ctx{}, []byte(k), st, row); err != nil {
			t.Fatal(err)
		}
		out = append(out, render(row))
	}
	sort.Strings(out)
	return out
}

func TestViewMatchesSelect(t *testing.T) {
	for name, q := range viewQueries() {
		t.Run(name, func(t *testing.T) {
			v, err := PlanView(q, eventCols)
			if err != nil {
				t.Fatal(err)
			}
			p, err := PlanSelect(q, resolver(map[string]Source{"events": &memSource{cols: eventCols}}), nil)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(v.Columns()) != fmt.Sprint(p.Columns()) {
				t.Fatalf("view columns %v, select columns %v", v.Columns(), p.Columns())
			}
			for seed := int64(1); seed <= 12; seed++ {
				r := rand.New(rand.NewSource(seed))
				rows := randomEvents(r, r.Intn(600))
				want := selectRows(t, q, rows)
				if len(rows) == 0 && len(q.GroupBy) == 0 {
					// A global view over no rows has no stored group; the
					// SELECT still returns its one row.
					want = nil
				}
				if len(rows) > 100 && len(want) == 0 {
					t.Fatalf("seed %d: the SELECT returned nothing; the test data is too thin", seed)
				}
				got := foldAll(t, r, v, rows, 1+r.Intn(3))
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("seed %d: view\n%s\nselect\n%s", seed, strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			}
		})
	}
}

func TestMergeStateEmpty(t *testing.T) {
	v, err := PlanView(viewQueries()["global"], eventCols)
	if err != nil {
		t.Fatal(err)
	}
	d := v.NewDelta()
	if err := v.Fold(&Ctx{}, d, toBatch([][]types.Datum{ev(5, 1, "eu", 2)}), nil); err != nil {
		t.Fatal(err)
	}
	var state []byte
	d.Range(func(k, s []byte) error { state = append([]byte(nil), s...); return nil })
	for _, pair := range [][2][]byte{{nil, state}, {state, nil}} {
		m, err := v.MergeState(nil, pair[0], pair[1])
		if err != nil || string(m) != string(state) {
			t.Fatalf("merge with empty changed the state: %v", err)
		}
	}
	if _, err := v.MergeState(nil, state, state[:len(state)-3]); pgerr.Code(err) != pgerr.DataCorrupted {
		t.Fatalf("truncated state: %v", err)
	}
	if err := v.DecodeDelta([]byte{9, 9}, d); pgerr.Code(err) != pgerr.DataCorrupted {
		t.Fatalf("bad delta: %v", err)
	}
}

func TestDeltaRoundTripDeterministic(t *testing.T) {
	v, err := PlanView(viewQueries()["expr_keys"], eventCols)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(3))
	rows := randomEvents(r, 500)
	d1, d2 := v.NewDelta(), v.NewDelta()
	v.Fold(&Ctx{}, d1, toBatch(rows), nil)
	r.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	v.Fold(&Ctx{}, d2, toBatch(rows[:200]), nil)
	v.Fold(&Ctx{}, d2, toBatch(rows[200:]), nil)
	e1, e2 := v.AppendDelta(nil, d1), v.AppendDelta(nil, d2)
	// Integer and interval states are exact, so the encodings match byte
	// for byte whatever the order (the float sum here sums exact halves).
	if string(e1) != string(e2) {
		t.Fatal("encodings differ for the same rows in another order")
	}
	d3 := v.NewDelta()
	if err := v.DecodeDelta(e1, d3); err != nil {
		t.Fatal(err)
	}
	if e3 := v.AppendDelta(nil, d3); string(e3) != string(e1) {
		t.Fatal("decode/encode is not the identity")
	}
	// Merge(d1, d2) doubles every count.
	if err := v.Merge(d1, d2); err != nil {
		t.Fatal(err)
	}
	if d1.Len() != d2.Len() {
		t.Fatalf("merge changed key count %d vs %d", d1.Len(), d2.Len())
	}
}

func TestPlanViewErrors(t *testing.T) {
	base := func() *parser.Select { return perDevice() }
	cases := []struct {
		name string
		mod  func(s *parser.Select)
		code string
		msg  string
	}{
		{"no aggregate", func(s *parser.Select) {
			s.Items = []parser.SelectItem{item(col("device_id"), "")}
			s.GroupBy = nil
		}, "0A000", "continuous views must aggregate"},
		{"order by ungrouped", func(s *parser.Select) { s.OrderBy = []parser.OrderItem{asc(col("region"))} }, "42803", "must appear in the GROUP BY"},
		{"limit text", func(s *parser.Select) { s.Limit = &parser.Literal{Kind: parser.LitString, Val: "x"} }, "22P02", "bigint"},
		{"distinct", func(s *parser.Select) { s.Distinct = true }, "0A000", "DISTINCT"},
		{"having not bool", func(s *parser.Select) { s.Having = countStar() }, "42804", "HAVING"},
		{"unknown column", func(s *parser.Select) { s.Items[0].Expr = colAt(33, "devce_id") }, "42703", `column "devce_id" does not exist`},
		{"ungrouped", func(s *parser.Select) { s.Items[0].Expr = col("region") }, "42803", "must appear in the GROUP BY"},
		{"exact percentile", func(s *parser.Select) {
			s.Items[1].Expr = &parser.Func{Name: "percentile_disc", Args: []parser.Expr{num(1)}, WithinGroup: []parser.OrderItem{{Expr: col("region")}}}
		}, "0A000", "percentile_disc is not supported in a continuous view"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.mod(s)
			_, err := PlanView(s, eventCols)
			pe, ok := err.(*pgerr.Error)
			if !ok || pe.Code != tc.code || !strings.Contains(pe.Message, tc.msg) {
				t.Fatalf("got %v, want %s %q", err, tc.code, tc.msg)
			}
			if tc.code == "42703" && pe.Position != 33 {
				t.Fatalf("position %d", pe.Position)
			}
		})
	}
}

// TestFoldNoAllocs checks the steady state of the W1 fold allocates
// nothing.
func TestFoldNoAllocs(t *testing.T) {
	v, b := w1(t)
	d := v.NewDelta()
	ec := &Ctx{}
	v.Fold(ec, d, b, nil)
	allocs := testing.AllocsPerRun(20, func() {
		if err := v.Fold(ec, d, b, func(h uint64) bool { return h%2 == 0 }); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Fold allocates %v times per batch", allocs)
	}
}

// w1 is workload W1: per_device over events, 10,000 devices, batches of
// 1,000 rows.
func w1(tb testing.TB) (*ViewPlan, *types.Batch) {
	v, err := PlanView(perDevice(), eventCols)
	if err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	regions := []string{"eu-west", "eu-north", "us-east", "us-west", "ap-south", "ap-east", "sa-east", "af-south"}
	b := types.NewBatch(colTypes(eventCols))
	for i := 0; i < 1000; i++ {
		b.AppendRow([]types.Datum{types.NewInt(types.TimestampTZ, int64(i)*1000), ival(int64(r.Intn(10000))),
			txt(regions[r.Intn(8)]), f8(r.Float64() * 100)})
	}
	return v, b
}

func BenchmarkFoldW1(b *testing.B) {
	v, batch := w1(b)
	d := v.NewDelta()
	ec := &Ctx{}
	// Warm up: every device present, as in steady state.
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 50; i++ {
		for j := range batch.Cols[1].I {
			batch.Cols[1].I[j] = int64(r.Intn(10000))
		}
		v.Fold(ec, d, batch, nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := v.Fold(ec, d, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(batch.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkFoldW1Sharded(b *testing.B) {
	v, batch := w1(b)
	d := v.NewDelta()
	ec := &Ctx{}
	keep := func(h uint64) bool { return h%4 == 1 }
	v.Fold(ec, d, batch, keep)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := v.Fold(ec, d, batch, keep); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(batch.N)/b.Elapsed().Seconds(), "rows/s")
}

func BenchmarkAppendDeltaW1(b *testing.B) {
	v, batch := w1(b)
	d := v.NewDelta()
	v.Fold(&Ctx{}, d, batch, nil)
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = v.AppendDelta(buf[:0], d)
	}
}

// BenchmarkFoldPerMinute measures the general path: WHERE, a text key,
// an expression key (date_trunc) and avg.
func BenchmarkFoldPerMinute(b *testing.B) {
	q := viewQueries()["per_minute"]
	v, err := PlanView(q, eventCols)
	if err != nil {
		b.Fatal(err)
	}
	_, batch := w1(b)
	d := v.NewDelta()
	ec := &Ctx{}
	v.Fold(ec, d, batch, nil)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := v.Fold(ec, d, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(batch.N)/b.Elapsed().Seconds(), "rows/s")
}

func TestGlobalViewEmpty(t *testing.T) {
	v, err := PlanView(viewQueries()["global"], eventCols)
	if err != nil {
		t.Fatal(err)
	}
	if !v.Global() {
		t.Fatal("global view not reported as global")
	}
	row, err := v.Finalize(&Ctx{}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := selectRows(t, viewQueries()["global"], nil)
	if got := render(row); len(want) != 1 || got != want[0] {
		t.Fatalf("empty global view %q, select %q", got, want)
	}
}

// TestKeyHashStable pins the key hash: shards are chosen with it, so a
// change would move every stored group to the wrong shard.
func TestKeyHashStable(t *testing.T) {
	v, err := PlanView(perDevice(), eventCols)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("%x %x %x", v.KeyHash(nil), v.KeyHash(scalar.AppendKey(nil, ival(42))),
		v.KeyHash(scalar.AppendKey(scalar.AppendKey(nil, txt("eu")), i8(-7))))
	const want = "f490368aba8bfeac fbf60cdd70f89c3d e18201090ceeb3df"
	if got != want {
		t.Fatalf("KeyHash changed: %s, want %s", got, want)
	}
}

// FuzzDecodeDelta checks that corrupt deltas and states fail cleanly
// (never panic) and that whatever decodes re-encodes to a decodable form.
func FuzzDecodeDelta(f *testing.F) {
	v, err := PlanView(viewQueries()["global"], eventCols)
	if err != nil {
		f.Fatal(err)
	}
	pv, err := PlanView(viewQueries()["per_minute"], eventCols)
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range []*ViewPlan{v, pv} {
		d := p.NewDelta()
		p.Fold(&Ctx{}, d, toBatch(randomEvents(rand.New(rand.NewSource(1)), 30)), nil)
		f.Add(p.AppendDelta(nil, d))
	}
	f.Add([]byte{1, 1, 0, 0})
	f.Fuzz(func(t *testing.T, buf []byte) {
		for _, p := range []*ViewPlan{v, pv} {
			// What a replica applies: the entries straight from the
			// encoding, each state checked as Apply checks it.
			var valid, n int
			_, rerr := p.RangeEncodedDelta(buf, func(k, s []byte) error {
				n++
				if p.ValidState(s) {
					valid++
				}
				return nil
			})
			d := p.NewDelta()
			if err := p.DecodeDelta(buf, d); err != nil {
				continue
			}
			if rerr != nil || valid != n || n != d.Len() {
				t.Fatalf("DecodeDelta took a delta RangeEncodedDelta does not (%v, %d of %d states valid, %d entries)", rerr, valid, n, d.Len())
			}
			enc := p.AppendDelta(nil, d)
			if err := p.DecodeDelta(enc, p.NewDelta()); err != nil {
				t.Fatalf("re-encoded delta does not decode: %v", err)
			}
			d.Range(func(k, s []byte) error {
				p.Finalize(&Ctx{}, k, s, nil)
				p.MergeState(nil, s, buf)
				return nil
			})
		}
	})
}

func TestFinalizeNoAllocs(t *testing.T) {
	v, b := w1(t)
	d := v.NewDelta()
	v.Fold(&Ctx{}, d, b, nil)
	var key, state []byte
	d.Range(func(k, s []byte) error {
		key, state = append([]byte(nil), k...), append([]byte(nil), s...)
		return nil
	})
	ec := &Ctx{}
	row, err := v.Finalize(ec, key, state, nil)
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if row, err = v.Finalize(ec, key, state, row); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 || len(row) != 4 || row[1].I < 1 {
		t.Fatalf("allocs %v, row %v", allocs, row)
	}
}

// TestFoldWideSumNoAllocs: avg over an integer column (numeric, PG's
// type) folds into its 128-bit state without allocating, like W1.
func TestFoldWideSumNoAllocs(t *testing.T) {
	stmts, _, err := parser.Parse("SELECT device_id, avg(device_id), sum(device_id) FROM events GROUP BY device_id")
	if err != nil {
		t.Fatal(err)
	}
	v, err := PlanView(stmts[0].(*parser.Select), eventCols)
	if err != nil {
		t.Fatal(err)
	}
	_, b := w1(t)
	d := v.NewDelta()
	ec := &Ctx{}
	if err := v.Fold(ec, d, b, nil); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if err := v.Fold(ec, d, b, nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Fold allocates %v times per batch", allocs)
	}
}
