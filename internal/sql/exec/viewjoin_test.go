package exec

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

var deviceCols = []Column{{Name: "id", T: types.Int4}, {Name: "site", T: types.Text}, {Name: "region", T: types.Text}}

// testDevices: device 3 is missing; device 4 has no site.
func testDevices() *MemKeyed {
	m := NewMemKeyed(deviceCols, []int{0})
	m.Put([]types.Datum{ival(1), txt("a"), txt("eu")})
	m.Put([]types.Datum{ival(2), txt("b"), txt("us")})
	m.Put([]types.Datum{ival(4), nul(types.Text), txt("eu")})
	return m
}

// planJoinSQL plans `query` (FROM the stream only) joined to devices d
// ON on. It stands in for the JOIN syntax of the parser.
func planJoinSQL(t *testing.T, query, on string, left bool) (*ViewPlan, error) {
	t.Helper()
	sel, err := parseSelect(query)
	if err != nil {
		t.Fatal(err)
	}
	onSel, err := parseSelect("SELECT 1 WHERE " + on)
	if err != nil {
		t.Fatal(err)
	}
	spec := ViewJoinSpec{Stream: sel.From, Table: &parser.TableRef{Name: "devices", Alias: "d"}, Left: left, On: onSel.Where}
	return PlanViewJoin(sel, spec, eventCols, JoinTable{Name: "devices", Cols: deviceCols, Key: []int{0}}, nil)
}

// foldJoin widens and folds every event (batches of three) and returns
// the finalized rows, sorted.
func foldJoin(t *testing.T, v *ViewPlan, tab KeyedSource) []string {
	t.Helper()
	ec := &Ctx{}
	e, err := v.NewEnricher(tab)
	if err != nil {
		t.Fatal(err)
	}
	d := v.NewDelta()
	err = sqlEvents().Scan(context.Background(), func(b *types.Batch) error {
		if err := e.Refresh(context.Background()); err != nil {
			return err
		}
		w, err := e.Widen(context.Background(), ec, b)
		if err != nil {
			return err
		}
		return v.Fold(ec, d, w, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	err = d.Range(func(k, st []byte) error {
		row, err := v.Finalize(ec, k, st, nil)
		out = append(out, strings.ReplaceAll(textRow(row), " | ", " "))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func TestViewJoinEnrich(t *testing.T) {
	for _, tc := range []struct {
		query, on string
		left      bool
		point     bool
		want      string
	}{
		// Point lookups on the primary key; device 3 has no row.
		{"SELECT d.site, count(*) FROM events e GROUP BY d.site", "e.device_id = d.id", false, true,
			"NULL 2|a 3|b 2"},
		{"SELECT d.site, count(*) FROM events e GROUP BY d.site", "e.device_id = d.id", true, true,
			"NULL 3|a 3|b 2"},
		// Unqualified names that only one side has; the key mirrored.
		{"SELECT site, sum(value) FROM events GROUP BY site", "id = device_id", false, true,
			"NULL 107.25|a 5|b 2"},
		// A further ON condition of an inner join filters.
		{"SELECT d.site, count(*) FROM events e GROUP BY d.site", "e.device_id = d.id AND e.value > 1", false, true,
			"NULL 2|a 2|b 1"},
		// A non-key column: scan and hash; an event matches every device
		// of its region (eu: devices 1 and 4).
		{"SELECT d.site, count(*) FROM events e GROUP BY d.site", "e.region = d.region", false, false,
			"NULL 4|a 4|b 2"},
		{"SELECT e.region, count(d.id) FROM events e GROUP BY e.region", "e.region = d.region", true, false,
			"NULL 0|ap 0|eu 8|us 2"},
	} {
		v, err := planJoinSQL(t, tc.query, tc.on, tc.left)
		if err != nil {
			t.Fatalf("%s ON %s: %v", tc.query, tc.on, err)
		}
		if v.JoinPointLookups() != tc.point {
			t.Errorf("%s ON %s: point lookups = %v", tc.query, tc.on, !tc.point)
		}
		got := strings.Join(foldJoin(t, v, testDevices()), "|")
		if got != tc.want {
			t.Errorf("%s ON %s (left %v):\ngot  %s\nwant %s", tc.query, tc.on, tc.left, got, tc.want)
		}
	}
}

func TestViewJoinErrors(t *testing.T) {
	for _, tc := range []struct {
		query, on string
		left      bool
		code      string
	}{
		{"SELECT id, count(*) FROM events e GROUP BY id", "e.device_id = d.id", false, ""},
		{"SELECT region, count(*) FROM events e GROUP BY region", "e.device_id = d.id", false, "42702"},
		{"SELECT d.nosuch, count(*) FROM events e GROUP BY 1", "e.device_id = d.id", false, "42703"},
		{"SELECT count(*) FROM events e", "e.value > 1", false, "0A000"},
		{"SELECT count(*) FROM events e", "e.device_id = d.id AND d.site = 'a'", true, "0A000"},
		{"SELECT count(*) FROM events e", "e.region = d.id", false, "42883"},
		{"SELECT count(*) FROM events e", "e.value = d.id", false, "0A000"},
		{"SELECT count(*) FROM events e", "x.device_id = d.id", false, "42P01"},
	} {
		_, err := planJoinSQL(t, tc.query, tc.on, tc.left)
		code := ""
		if err != nil {
			code = pgerr.From(err).Code
		}
		if code != tc.code {
			t.Errorf("%s ON %s: got %v, want %s", tc.query, tc.on, err, tc.code)
		}
	}
}

// Each event joins the table as it is when the event is processed: a
// change after an event was folded does not rewrite it.
func TestViewJoinCurrentWhenProcessed(t *testing.T) {
	for _, on := range []string{"e.device_id = d.id", "e.device_id + 0 = d.id"} {
		v, err := planJoinSQL(t, "SELECT d.site, count(*) FROM events e GROUP BY d.site", on, false)
		if err != nil {
			t.Fatal(err)
		}
		tab := testDevices()
		e, err := v.NewEnricher(tab)
		if err != nil {
			t.Fatal(err)
		}
		ec, d := &Ctx{}, v.NewDelta()
		one := func(dev int64) {
			b := types.NewBatch(colTypes(eventCols))
			b.AppendRow([]types.Datum{types.NewInt(types.TimestampTZ, 0), ival(dev), txt("eu"), f8(1)})
			if err := e.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			w, err := e.Widen(context.Background(), ec, b)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Fold(ec, d, w, nil); err != nil {
				t.Fatal(err)
			}
		}
		one(1)
		tab.Put([]types.Datum{ival(1), txt("z"), txt("eu")})
		one(1)
		one(3)
		tab.Put([]types.Datum{ival(3), txt("z"), txt("eu")})
		one(3)
		var out []string
		_ = d.Range(func(k, st []byte) error {
			row, err := v.Finalize(ec, k, st, nil)
			out = append(out, strings.ReplaceAll(textRow(row), " | ", " "))
			return err
		})
		sort.Strings(out)
		if got := strings.Join(out, "|"); got != "a 1|z 2" {
			t.Errorf("ON %s: got %s, want a 1|z 2", on, got)
		}
	}
}

// w1Join is W1's batch with an enrichment view over a 10,000-row device
// table (every device present), grouped as group says.
func w1Join(tb testing.TB, query string) (*ViewPlan, *Enricher, *types.Batch) {
	_, batch := w1(tb)
	cols := []Column{{Name: "id", T: types.Int4}, {Name: "site", T: types.Text}, {Name: "model", T: types.Text}}
	tab := NewMemKeyed(cols, []int{0})
	for id := int64(0); id < 10000; id++ {
		tab.Put([]types.Datum{ival(id), txt("site-" + string(rune('a'+id%20))), txt("m" + string(rune('a'+id%7)))})
	}
	sel, err := parseSelect(query)
	if err != nil {
		tb.Fatal(err)
	}
	on, err := parseSelect("SELECT 1 WHERE e.device_id = d.id")
	if err != nil {
		tb.Fatal(err)
	}
	spec := ViewJoinSpec{Stream: sel.From, Table: &parser.TableRef{Name: "devices", Alias: "d"}, On: on.Where}
	v, err := PlanViewJoin(sel, spec, eventCols, JoinTable{Name: "devices", Cols: cols, Key: []int{0}}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	e, err := v.NewEnricher(tab)
	if err != nil {
		tb.Fatal(err)
	}
	return v, e, batch
}

func benchEnrich(b *testing.B, query string) {
	v, e, batch := w1Join(b, query)
	d := v.NewDelta()
	ec := &Ctx{}
	ctx := context.Background()
	for i := 0; i < 50; i++ {
		w, err := e.Widen(ctx, ec, batch)
		if err != nil {
			b.Fatal(err)
		}
		v.Fold(ec, d, w, nil)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%64 == 0 {
			// A new task round: a source without a version (the
			// router's) is read afresh, 64,000 events per round here.
			e.reset()
		}
		w, err := e.Widen(ctx, ec, batch)
		if err != nil {
			b.Fatal(err)
		}
		if err := v.Fold(ec, d, w, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*float64(batch.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkEnrichW1 is W1's per-device view joined to its device table
// (point lookups), to compare with BenchmarkFoldW1.
func BenchmarkEnrichW1(b *testing.B) {
	benchEnrich(b, "SELECT e.device_id, count(*) AS n, sum(value) AS total, max(value) AS peak FROM events e GROUP BY e.device_id")
}

// BenchmarkEnrichW1BySite groups by a table column.
func BenchmarkEnrichW1BySite(b *testing.B) {
	benchEnrich(b, "SELECT d.site, count(*) AS n, sum(value) AS total, max(value) AS peak FROM events e GROUP BY d.site")
}

// countingKeyed counts the reads of a keyed source.
type countingKeyed struct {
	KeyedSource
	scans, lookups int
}

func (c *countingKeyed) Scan(ctx context.Context, fn func(b *types.Batch) error) error {
	c.scans++
	return c.KeyedSource.Scan(ctx, fn)
}

func (c *countingKeyed) ScanKeys(ctx context.Context, keys [][]types.Datum, fn func(b *types.Batch) error) error {
	c.lookups++
	return c.KeyedSource.ScanKeys(ctx, keys, fn)
}

// TestViewJoinLoadsSmallTable: within one round, after fullScanAfter
// lookups a point-mode enricher reads the whole table once and answers
// the rest (misses included) from it; a new round starts over.
func TestViewJoinLoadsSmallTable(t *testing.T) {
	for _, left := range []bool{false, true} {
		v, err := planJoinSQL(t, "SELECT d.site, count(*) FROM events e GROUP BY d.site", "e.device_id = d.id", left)
		if err != nil {
			t.Fatal(err)
		}
		src := &countingKeyed{KeyedSource: testDevices()}
		e, err := v.NewEnricher(src)
		if err != nil {
			t.Fatal(err)
		}
		ec, d := &Ctx{}, v.NewDelta()
		for round := 0; round < 2; round++ {
			if err := e.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			// Events one per batch, newest device first, so each of the
			// first batches misses the cache.
			rows := sqlEvents().rows
			for i := len(rows) - 1; i >= 0; i-- {
				b := types.NewBatch(colTypes(eventCols))
				b.AppendRow(rows[i])
				w, err := e.Widen(context.Background(), ec, b)
				if err != nil {
					t.Fatal(err)
				}
				if err := v.Fold(ec, d, w, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		if src.lookups != 2*fullScanAfter || src.scans != 2 {
			t.Errorf("left %v: %d lookups and %d scans in two rounds, want %d and 2", left, src.lookups, src.scans, 2*fullScanAfter)
		}
		var out []string
		_ = d.Range(func(k, st []byte) error {
			row, err := v.Finalize(ec, k, st, nil)
			out = append(out, strings.ReplaceAll(textRow(row), " | ", " "))
			return err
		})
		sort.Strings(out)
		want := "NULL 4|a 6|b 4"
		if left {
			want = "NULL 6|a 6|b 4"
		}
		if got := strings.Join(out, "|"); got != want {
			t.Errorf("left %v: got %s, want %s", left, got, want)
		}
	}
}

// TestViewJoinTableTooLarge: past maxCachedRows a hashed table is an
// error (54000), and a point-lookup enricher keeps looking keys up
// instead of loading the table.
func TestViewJoinTableTooLarge(t *testing.T) {
	defer func(n int) { maxCachedRows = n }(maxCachedRows)
	maxCachedRows = 2
	v, err := planJoinSQL(t, "SELECT d.site, count(*) FROM events e GROUP BY d.site", "e.region = d.region", false)
	if err != nil {
		t.Fatal(err)
	}
	e, err := v.NewEnricher(testDevices())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Refresh(context.Background()); err == nil || pgerr.From(err).Code != "54000" {
		t.Fatalf("hashing a table past the cap: %v", err)
	}
	v, err = planJoinSQL(t, "SELECT d.site, count(*) FROM events e GROUP BY d.site", "e.device_id = d.id", false)
	if err != nil {
		t.Fatal(err)
	}
	src := &countingKeyed{KeyedSource: testDevices()}
	if e, err = v.NewEnricher(src); err != nil {
		t.Fatal(err)
	}
	ec, d := &Ctx{}, v.NewDelta()
	for _, r := range sqlEvents().rows {
		b := types.NewBatch(colTypes(eventCols))
		b.AppendRow(r)
		w, err := e.Widen(context.Background(), ec, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Fold(ec, d, w, nil); err != nil {
			t.Fatal(err)
		}
	}
	if src.scans != 1 || src.lookups <= fullScanAfter {
		t.Errorf("%d scans, %d lookups: want one scan that gave up, then lookups", src.scans, src.lookups)
	}
	var out []string
	_ = d.Range(func(k, st []byte) error {
		row, err := v.Finalize(ec, k, st, nil)
		out = append(out, strings.ReplaceAll(textRow(row), " | ", " "))
		return err
	})
	sort.Strings(out)
	if got := strings.Join(out, "|"); got != "NULL 2|a 3|b 2" {
		t.Errorf("got %s", got)
	}
}

// TestViewJoinReloadKeepsRows: a batch mixing rows already cached and
// keys still to read, at the moment the enricher replaces its cache by
// the whole table (renumbering its rows), still joins every event to its
// own device.
func TestViewJoinReloadKeepsRows(t *testing.T) {
	v, err := planJoinSQL(t, "SELECT e.device_id, d.site, count(*) FROM events e GROUP BY e.device_id, d.site", "e.device_id = d.id", false)
	if err != nil {
		t.Fatal(err)
	}
	tab := NewMemKeyed(deviceCols, []int{0})
	for id := int64(1); id <= 20; id++ {
		tab.Put([]types.Datum{ival(id), txt(fmt.Sprintf("s%d", id)), txt("eu")})
	}
	src := &countingKeyed{KeyedSource: tab}
	e, err := v.NewEnricher(src)
	if err != nil {
		t.Fatal(err)
	}
	ec, d := &Ctx{}, v.NewDelta()
	// Newest keys first, so the cache's row numbers differ from the
	// table's order; the fourth batch mixes cached and new keys.
	for _, devs := range [][]int64{{20, 19}, {18, 17}, {16, 15}, {20, 1, 19, 2}, {17, 3, 16}} {
		b := types.NewBatch(colTypes(eventCols))
		for _, dev := range devs {
			b.AppendRow([]types.Datum{types.NewInt(types.TimestampTZ, 0), ival(dev), txt("eu"), f8(1)})
		}
		w, err := e.Widen(context.Background(), ec, b)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Fold(ec, d, w, nil); err != nil {
			t.Fatal(err)
		}
	}
	if src.scans != 1 {
		t.Fatalf("%d scans, want the table loaded once", src.scans)
	}
	n := 0
	_ = d.Range(func(k, st []byte) error {
		row, err := v.Finalize(ec, k, st, nil)
		if err != nil {
			return err
		}
		if want := fmt.Sprintf("s%d", row[0].I); row[1].S != want {
			t.Errorf("device %d joined site %s, want %s", row[0].I, row[1].S, want)
		}
		n += int(row[2].I)
		return nil
	})
	if n != 13 {
		t.Errorf("%d events folded, want 13", n)
	}
}
