package exec

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// keyedSource is a fake view: a memSource whose rows are keyed by keyCols.
// It records which read method the plan used and the keys it asked for.
type keyedSource struct {
	memSource
	t       *testing.T
	keyCols []int
	scans   int
	lookups [][][]types.Datum
}

func (k *keyedSource) KeyColumns() []int { return k.keyCols }

func (k *keyedSource) Scan(ctx context.Context, fn func(b *types.Batch) error) error {
	k.scans++
	return k.memSource.Scan(ctx, fn)
}

func (k *keyedSource) ScanKeys(ctx context.Context, keys [][]types.Datum, fn func(b *types.Batch) error) error {
	k.lookups = append(k.lookups, keys)
	want := map[string]bool{}
	for _, key := range keys {
		var enc []byte
		for i, d := range key {
			if ct := k.cols[k.keyCols[i]].T; d.T != ct {
				k.t.Errorf("key datum %v has type %s, key column is %s", d, d.T, ct)
			}
			enc = scalar.AppendKey(enc, d)
		}
		want[string(enc)] = true
	}
	sub := &memSource{cols: k.cols, batchSize: 2}
	for _, r := range k.rows {
		var enc []byte
		for _, c := range k.keyCols {
			enc = scalar.AppendKey(enc, r[c])
		}
		if want[string(enc)] {
			sub.rows = append(sub.rows, r)
		}
	}
	return sub.Scan(ctx, fn)
}

var lookupBase = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).UnixMicro()

// lookupRows is a view's finalized rows: device_id int8, region text,
// minute timestamptz, n int8, avg float8. Region is NULL on one row.
func lookupRows() [][]types.Datum {
	var rows [][]types.Datum
	regions := []string{"eu", "us", "ap"}
	for i := int64(1); i <= 50; i++ {
		region := txt(regions[i%3])
		if i == 13 {
			region = nul(types.Text)
		}
		rows = append(rows, []types.Datum{i8(i), region,
			types.NewInt(types.TimestampTZ, lookupBase+(i/3)*60_000_000), i8(i * 10), f8(float64(i) / 4)})
	}
	return rows
}

var lookupCols = []Column{{Name: "device_id", T: types.Int8}, {Name: "region", T: types.Text}, {Name: "minute", T: types.TimestampTZ}, {Name: "n", T: types.Int8}, {Name: "avg", T: types.Float8}}

func showKeys(keys [][]types.Datum) string {
	var parts []string
	for _, k := range keys {
		var ds []string
		for _, d := range k {
			ds = append(ds, show(d))
		}
		parts = append(parts, "("+strings.Join(ds, ",")+")")
	}
	return strings.Join(parts, " ")
}

// runOver plans and runs q over src (as "v"), returning sorted rows or
// the error.
func runOver(t *testing.T, q string, src Source, params []types.Datum) (string, error) {
	t.Helper()
	stmts, _, err := parser.Parse(q)
	if err != nil {
		t.Fatalf("parse %q: %v", q, err)
	}
	p, err := PlanSelect(stmts[0].(*parser.Select), resolver(map[string]Source{"v": src}), &ParamTypes{})
	if err != nil {
		return "", err
	}
	var out []string
	err = p.Run(context.Background(), &Ctx{Params: params}, func(row []types.Datum) error {
		out = append(out, render(row))
		return nil
	})
	sort.Strings(out)
	return strings.Join(out, "\n"), err
}

func TestPointLookup(t *testing.T) {
	bigIn := make([]string, 1001)
	for i := range bigIn {
		bigIn[i] = fmt.Sprint(i)
	}
	byDevice, byRegionMinute := []int{0}, []int{1, 2}
	cases := []struct {
		name   string
		key    []int
		q      string
		params []types.Datum
		want   string // "scan", "none" (no read at all), or the looked-up keys
	}{
		{"eq", byDevice, "SELECT n FROM v WHERE device_id = 42", nil, "(42)"},
		{"eq reversed", byDevice, "SELECT n FROM v WHERE 42 = device_id", nil, "(42)"},
		{"eq and more", byDevice, "SELECT * FROM v WHERE device_id = 42 AND n > 0 AND (avg < 100 OR n = 1)", nil, "(42)"},
		{"qualified", byDevice, "SELECT x.n FROM v AS x WHERE x.device_id = 7", nil, "(7)"},
		{"in list", byDevice, "SELECT device_id, n FROM v WHERE device_id IN (1, 42, 1, NULL, 99)", nil, "(1) (42) (99)"},
		{"aggregate over keys", byDevice, "SELECT count(*), sum(n) FROM v WHERE device_id IN (1, 2) AND n < 15", nil, "(1) (2)"},
		{"expression constant", byDevice, "SELECT n FROM v WHERE device_id = 40 + 2 * 1", nil, "(42)"},
		{"first of two pins", byDevice, "SELECT n FROM v WHERE device_id = 42 AND device_id = 1", nil, "(42)"},
		{"numeric literal", byDevice, "SELECT n FROM v WHERE device_id = 42.0", nil, "(42)"},
		{"fractional literal", byDevice, "SELECT n FROM v WHERE device_id = 41.5", nil, "(42)"},
		{"cast literal", byDevice, "SELECT n FROM v WHERE device_id = '42'::int2", nil, "(42)"},
		{"untyped literal", byDevice, "SELECT n FROM v WHERE device_id = '42'", nil, "(42)"},
		{"param", byDevice, "SELECT n FROM v WHERE device_id = $1", []types.Datum{i8(42)}, "(42)"},
		{"param as text", byDevice, "SELECT n FROM v WHERE device_id = $1", []types.Datum{txt("42")}, "(42)"},
		{"param null", byDevice, "SELECT n FROM v WHERE device_id = $1", []types.Datum{nul(types.Int8)}, "none"},
		{"null", byDevice, "SELECT n FROM v WHERE device_id = NULL", nil, "none"},
		{"params in list", byDevice, "SELECT n FROM v WHERE device_id IN ($1, $2)", []types.Datum{i8(3), i8(4)}, "(3) (4)"},
		{"no key column", byDevice, "SELECT n FROM v WHERE n = 420", nil, "scan"},
		{"or", byDevice, "SELECT n FROM v WHERE device_id = 42 OR device_id = 1", nil, "scan"},
		{"not in", byDevice, "SELECT n FROM v WHERE device_id NOT IN (1, 2)", nil, "scan"},
		{"range", byDevice, "SELECT n FROM v WHERE device_id > 48", nil, "scan"},
		{"column on both sides", byDevice, "SELECT n FROM v WHERE device_id = n", nil, "scan"},
		{"expression of key", byDevice, "SELECT n FROM v WHERE device_id + 0 = 42", nil, "scan"},
		{"no where", byDevice, "SELECT n FROM v", nil, "scan"},
		{"over 1000 keys", byDevice, "SELECT n FROM v WHERE device_id IN (" + strings.Join(bigIn, ",") + ")", nil, "scan"},
		{"exact numeric beyond 2^53", byDevice, "SELECT n FROM v WHERE device_id = 9007199254740993.0", nil, "(9007199254740993)"},
		{"float beyond 2^53", byDevice, "SELECT n FROM v WHERE device_id = 9007199254740993.0::float8", nil, "scan"},
		{"out of range literal", byDevice, "SELECT n FROM v WHERE device_id = 99999999999999999999", nil, "scan"},
		{"bad param", byDevice, "SELECT n FROM v WHERE device_id = $1", []types.Datum{txt("abc")}, "scan"},
		{"missing param", byDevice, "SELECT n FROM v WHERE device_id = $2 AND n = $1", []types.Datum{i8(1)}, "scan"},
		{"bad literal", byDevice, "SELECT n FROM v WHERE device_id = 'abc'", nil, "plan error"},
		{"two columns", byRegionMinute, "SELECT device_id FROM v WHERE region = 'eu' AND minute = '2024-05-01 10:03:00+00'", nil,
			"(\"eu\",2024-05-01 10:03:00)"},
		{"two columns reversed", byRegionMinute, "SELECT device_id FROM v WHERE '2024-05-01 10:03:00+00' = minute AND 'eu' = region", nil,
			"(\"eu\",2024-05-01 10:03:00)"},
		{"two columns cross product", byRegionMinute,
			"SELECT device_id FROM v WHERE region IN ('eu', 'us') AND minute IN (timestamptz '2024-05-01 10:03:00+00', '2024-05-01 10:04:00+00')", nil,
			"(\"eu\",2024-05-01 10:03:00) (\"eu\",2024-05-01 10:04:00) (\"us\",2024-05-01 10:03:00) (\"us\",2024-05-01 10:04:00)"},
		{"timestamp literal for timestamptz key", byRegionMinute,
			"SELECT device_id FROM v WHERE region = 'ap' AND minute = timestamp '2024-05-01 10:02:00'", nil, "(\"ap\",2024-05-01 10:02:00)"},
		{"date for timestamptz key", byRegionMinute,
			"SELECT device_id FROM v WHERE region = 'ap' AND minute = date '2024-05-01'", nil, "(\"ap\",2024-05-01 00:00:00)"},
		{"function of constants", byRegionMinute,
			"SELECT device_id FROM v WHERE region = 'us' AND minute = date_trunc('minute', timestamptz '2024-05-01 10:05:59+00')", nil,
			"(\"us\",2024-05-01 10:05:00)"},
		{"params two columns", byRegionMinute, "SELECT device_id FROM v WHERE region = $1 AND minute = $2",
			[]types.Datum{txt("eu"), txt("2024-05-01 10:03:00+00")}, "(\"eu\",2024-05-01 10:03:00)"},
		{"now is not constant", byRegionMinute,
			"SELECT device_id FROM v WHERE region = 'us' AND minute = date_trunc('minute', now())", nil, "scan"},
		{"one of two columns", byRegionMinute, "SELECT device_id FROM v WHERE region = 'eu'", nil, "scan"},
		{"region null", byRegionMinute, "SELECT device_id FROM v WHERE region IS NULL AND minute = '2024-05-01 10:04:00+00'", nil, "scan"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ks := &keyedSource{memSource: memSource{cols: lookupCols, rows: lookupRows(), batchSize: 4}, t: t, keyCols: c.key}
			plain := &memSource{cols: lookupCols, rows: lookupRows(), batchSize: 4}
			got, gotErr := runOver(t, c.q, ks, c.params)
			want, wantErr := runOver(t, c.q, plain, c.params)
			if errText(gotErr) != errText(wantErr) {
				t.Fatalf("error %v, scan path %v", gotErr, wantErr)
			}
			if got != want {
				t.Fatalf("rows\n%s\nscan path\n%s", got, want)
			}
			var how string
			switch {
			case c.want == "plan error":
				if gotErr == nil {
					t.Fatal("want a planning error")
				}
				return
			case len(ks.lookups) > 0 && ks.scans > 0:
				t.Fatalf("both Scan and ScanKeys called")
			case len(ks.lookups) == 1:
				how = showKeys(ks.lookups[0])
			case len(ks.lookups) > 1:
				t.Fatalf("ScanKeys called %d times", len(ks.lookups))
			case ks.scans == 1:
				how = "scan"
			case ks.scans == 0:
				how = "none"
			}
			if how != c.want {
				t.Fatalf("read %s, want %s", how, c.want)
			}
		})
	}
}

// TestPointLookupErrorSameAsScan checks that a parameter that cannot be
// converted fails as the scan does, and that over no rows neither fails.
func TestPointLookupErrorSameAsScan(t *testing.T) {
	for _, rows := range [][][]types.Datum{lookupRows(), nil} {
		ks := &keyedSource{memSource: memSource{cols: lookupCols, rows: rows}, t: t, keyCols: []int{0}}
		plain := &memSource{cols: lookupCols, rows: rows}
		q := "SELECT n FROM v WHERE device_id = $1"
		_, gotErr := runOver(t, q, ks, []types.Datum{txt("abc")})
		_, wantErr := runOver(t, q, plain, []types.Datum{txt("abc")})
		if errText(gotErr) != errText(wantErr) {
			t.Fatalf("error %v, scan path %v", gotErr, wantErr)
		}
		if (len(rows) > 0) != (gotErr != nil) {
			t.Fatalf("rows %d: error %v", len(rows), gotErr)
		}
	}
}

// TestPointLookupParamTypesUnchanged checks that analysing WHERE for a
// lookup does not change the parameter types the client is told.
func TestPointLookupParamTypesUnchanged(t *testing.T) {
	q := "SELECT n FROM v WHERE device_id = $1 AND $2 = region AND minute = $3"
	stmts, _, err := parser.Parse(q)
	if err != nil {
		t.Fatal(err)
	}
	sel := stmts[0].(*parser.Select)
	var got [2][]types.T
	for i, src := range []Source{&memSource{cols: lookupCols}, &keyedSource{memSource: memSource{cols: lookupCols}, t: t, keyCols: []int{0, 1, 2}}} {
		pt := &ParamTypes{}
		if _, err := PlanSelect(sel, resolver(map[string]Source{"v": src}), pt); err != nil {
			t.Fatal(err)
		}
		got[i] = pt.Types
	}
	if !slices.Equal(got[0], got[1]) {
		t.Fatalf("param types %v, scan path %v", got[1], got[0])
	}
}

func TestViewKeyColumns(t *testing.T) {
	cases := []struct {
		q    string
		want []int
	}{
		{"SELECT device_id, count(*) AS n FROM events GROUP BY device_id", []int{0}},
		{"SELECT region, date_trunc('minute', ts) AS minute, count(*) FROM events GROUP BY region, minute", []int{0, 1}},
		{"SELECT count(*), date_trunc('minute', ts) AS m, region FROM events GROUP BY region, 2", []int{2, 1}},
		{"SELECT device_id % 3 AS g, count(*) FROM events GROUP BY 1", []int{0}},
		{"SELECT value, sum(device_id) FROM events GROUP BY value", []int{0}},
		{"SELECT count(*) FROM events GROUP BY region", nil},
		{"SELECT region, count(*) FROM events GROUP BY region, device_id", nil},
		{"SELECT device_id + 1 AS d, count(*) FROM events GROUP BY device_id", nil},
		{"SELECT count(*) FROM events", nil},
	}
	for _, c := range cases {
		stmts, _, err := parser.Parse(c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		v, err := PlanView(stmts[0].(*parser.Select), eventCols)
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		got := v.KeyColumns()
		if !slices.Equal(got, c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("%s: KeyColumns() = %v, want %v", c.q, got, c.want)
		}
		for k, j := range got {
			if v.Columns()[j].T != v.KeyTypes()[k] {
				t.Errorf("%s: key %d type %s, column %d type %s", c.q, k, v.KeyTypes()[k], j, v.Columns()[j].T)
			}
		}
	}
}

// TestEncodeKeyMatchesFold folds rows into a view and checks that, for
// every group, EncodeKey of the key columns of its finalized row is the
// key Fold stored, and that explicit keys find their groups.
func TestEncodeKeyMatchesFold(t *testing.T) {
	ts := func(s string) types.Datum {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return types.NewInt(types.TimestampTZ, tm.UnixMicro())
	}
	base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC).Unix()
	rows := append(randomEvents(rand.New(rand.NewSource(7)), 300),
		ev(base+75, 42, "eu", 2.5), ev(base+90, 42, "", 0), ev(base, -5, "zz", -1))
	cases := []struct {
		q        string
		explicit [][]types.Datum // keys that must exist
	}{
		{"SELECT device_id, count(*) AS n FROM events GROUP BY device_id",
			[][]types.Datum{{ival(42)}, {i8(42)}, {ival(-5)}}},
		{"SELECT region, date_trunc('minute', ts) AS minute, count(*) FROM events GROUP BY region, minute",
			[][]types.Datum{{txt("eu"), ts("2024-05-01T10:01:00Z")}, {nul(types.Text), ts("2024-05-01T10:01:00Z")},
				{txt("zz"), ts("2024-05-01T10:00:00Z")}}},
		{"SELECT value, count(*) FROM events GROUP BY value",
			[][]types.Datum{{f8(2.5)}, {f8(0)}, {f8(math.Copysign(0, -1))}, {nul(types.Float8)}, {ival(0)}}},
		{"SELECT count(*), region, device_id FROM events GROUP BY device_id, region",
			[][]types.Datum{{ival(42), txt("eu")}, {i8(42), nul(types.Text)}}},
	}
	for _, c := range cases {
		stmts, _, err := parser.Parse(c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		v, err := PlanView(stmts[0].(*parser.Select), eventCols)
		if err != nil {
			t.Fatalf("%s: %v", c.q, err)
		}
		kc := v.KeyColumns()
		if kc == nil {
			t.Fatalf("%s: no key columns", c.q)
		}
		d := v.NewDelta()
		if err := v.Fold(&Ctx{}, d, toBatch(rows), nil); err != nil {
			t.Fatal(err)
		}
		stored := map[string]bool{}
		var row []types.Datum
		err = d.Range(func(key, state []byte) error {
			stored[string(key)] = true
			if row, err = v.Finalize(&Ctx{}, key, state, row); err != nil {
				return err
			}
			k := make([]types.Datum, len(kc))
			for i, j := range kc {
				k[i] = row[j]
			}
			enc, err := v.EncodeKey(nil, k)
			if err != nil {
				return err
			}
			if string(enc) != string(key) {
				t.Errorf("%s: EncodeKey(%s) = %x, Fold stored %x", c.q, render(k), enc, key)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range c.explicit {
			enc, err := v.EncodeKey([]byte("prefix"), k)
			if err != nil {
				t.Fatalf("%s: EncodeKey(%s): %v", c.q, render(k), err)
			}
			if !strings.HasPrefix(string(enc), "prefix") || !stored[string(enc[len("prefix"):])] {
				t.Errorf("%s: EncodeKey(%s) = %x: no such group", c.q, render(k), enc)
			}
		}
		if _, err := v.EncodeKey(nil, make([]types.Datum, len(kc)+1)); err == nil {
			t.Errorf("%s: EncodeKey with too many values did not fail", c.q)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return fmtErr(err)
}
