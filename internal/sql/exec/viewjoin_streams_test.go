package exec

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

var (
	sjA = []Column{{Name: "k", T: types.Int4}, {Name: "ts", T: types.TimestampTZ}, {Name: "v", T: types.Int8}}
	sjB = []Column{{Name: "k", T: types.Int8}, {Name: "ts", T: types.TimestampTZ}, {Name: "w", T: types.Int8}}
)

func planStreamJoinSQL(t *testing.T, query, on string, opts ViewOptions) (*ViewPlan, error) {
	t.Helper()
	sel, err := parseSelect(query)
	if err != nil {
		t.Fatal(err)
	}
	onSel, err := parseSelect("SELECT 1 WHERE " + on)
	if err != nil {
		t.Fatal(err)
	}
	spec := ViewJoinSpec{Stream: sel.From, Table: &parser.TableRef{Name: "b"}, On: onSel.Where}
	return PlanViewStreamJoin(sel, spec, sjA, sjB, opts)
}

func TestStreamJoinBounds(t *testing.T) {
	for _, tc := range []struct {
		on     string
		lo, hi int64 // seconds
		code   string
	}{
		{"a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + interval '5 minutes'", 0, 300, ""},
		{"a.k = b.k AND a.ts BETWEEN b.ts - interval '5 minutes' AND b.ts", 0, 300, ""},
		{"b.k = a.k AND b.ts >= a.ts - interval '1 minute' AND a.ts + interval '2 minutes' >= b.ts", -60, 120, ""},
		{"a.k = b.k AND a.ts < b.ts AND b.ts < a.ts + interval '10 seconds'", 0, 10, ""}, // micros: exclusive ends, checked below
		{"a.k = b.k", 0, 0, "0A000"},
		{"a.k = b.k AND b.ts >= a.ts", 0, 0, "0A000"},
		{"a.ts = b.ts AND b.ts BETWEEN a.ts AND a.ts + interval '1 minute'", 0, 0, "0A000"}, // timestamps are not a key here: no equality of keys... but it is an equality
		{"a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + interval '1 month'", 0, 0, "22023"},
		{"a.k = b.k AND b.ts BETWEEN a.ts + interval '1 minute' AND a.ts", 0, 0, "22023"},
		{"a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + interval '1 minute' AND b.w > a.v", 0, 60, ""},
	} {
		v, err := planStreamJoinSQL(t, "SELECT a.k, count(*) FROM a GROUP BY a.k", tc.on, nil)
		code := ""
		if err != nil {
			code = pgerr.From(err).Code
		}
		if tc.on == "a.ts = b.ts AND b.ts BETWEEN a.ts AND a.ts + interval '1 minute'" {
			// An equality of the time columns is a key like any other.
			if err != nil {
				t.Errorf("%s: %v", tc.on, err)
			}
			continue
		}
		if code != tc.code {
			t.Errorf("%s: got %v, want %s", tc.on, err, tc.code)
			continue
		}
		if err != nil {
			continue
		}
		sj := v.join.streams
		lo, hi := tc.lo*1e6, tc.hi*1e6
		if strings.Contains(tc.on, "a.ts < b.ts") {
			lo, hi = 1, hi-1
		}
		if sj.lo != lo || sj.hi != hi {
			t.Errorf("%s: bound [%d, %d], want [%d, %d]", tc.on, sj.lo, sj.hi, lo, hi)
		}
	}
	if _, err := planStreamJoinSQL(t, "SELECT a.k, count(*) FROM a GROUP BY a.k", "a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + interval '1 minute'", ViewOptions{"lateness": "10 seconds"}); err != nil {
		t.Errorf("lateness option: %v", err)
	}
}

// TestStreamJoinExactlyOnce feeds two streams through the joiner in
// random rounds, sometimes throwing the joiner away and rebuilding it
// from the history before the committed offsets (a task restart), and
// compares the folded view with a brute-force join of all rows.
func TestStreamJoinExactlyOnce(t *testing.T) {
	v, err := planStreamJoinSQL(t, "SELECT a.k, count(*), sum(b.w) FROM a GROUP BY a.k",
		"a.k = b.k AND b.ts BETWEEN a.ts - interval '2 seconds' AND a.ts + interval '5 seconds'", ViewOptions{"lateness": "3 seconds"})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	const n = 3000
	mk := func(cols []Column, seed int64) [][]types.Datum {
		var rows [][]types.Datum
		for i := 0; i < n; i++ {
			ts := int64(i)*10_000 + rng.Int64N(2_000_000) // 10ms apart, up to 2s out of order
			k := rng.Int64N(20)
			rows = append(rows, []types.Datum{types.NewInt(cols[0].T, k), types.NewInt(types.TimestampTZ, ts), types.NewInt(types.Int8, seed+int64(i))})
		}
		return rows
	}
	ra, rb := mk(sjA, 0), mk(sjB, 1000000)
	want := map[int64][2]int64{}
	for _, a := range ra {
		for _, b := range rb {
			d := b[1].I - a[1].I
			if a[0].I == b[0].I && d >= -2e6 && d <= 5e6 {
				w := want[a[0].I]
				want[a[0].I] = [2]int64{w[0] + 1, w[1] + b[2].I}
			}
		}
	}
	batchOf := func(cols []Column, rows [][]types.Datum) *types.Batch {
		b := types.NewBatch(colTypes(cols))
		for _, r := range rows {
			b.AppendRow(r)
		}
		return b
	}
	ec, ctx := &Ctx{}, context.Background()
	d := v.NewDelta()
	newJoiner := func() *StreamJoiner {
		j, err := v.NewStreamJoiner(sjB)
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	j := newJoiner()
	j.Committed([]uint64{0, 0})
	off := []uint64{0, 0}
	maxBuf, restarts := 0, 0
	for off[0] < n || off[1] < n {
		if rng.IntN(5) == 0 {
			j = newJoiner()
			restarts++
			err := j.Rebuild(ctx, ec, off, 1, func(shard int, upTo uint64, fn func(*types.Batch) error) error {
				rows := ra
				cols := sjA
				if shard == 1 {
					rows, cols = rb, sjB
				}
				return fn(batchOf(cols, rows[:upTo]))
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		if !j.At(off) {
			t.Fatalf("joiner at %v, offsets %v", j.at, off)
		}
		// A round: some rows of a, then some of b. Half the rounds are
		// "not committed": their pairs are discarded and the joiner is
		// rebuilt, as when a proposal fails.
		round := v.NewDelta()
		next := append([]uint64(nil), off...)
		for side, rows := range [][][]types.Datum{ra, rb} {
			k := min(uint64(rng.IntN(150)), n-next[side])
			cols := sjA
			if side == 1 {
				cols = sjB
			}
			w, err := j.Join(ec, side, batchOf(cols, rows[next[side]:next[side]+k]))
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Fold(ec, round, w, nil); err != nil {
				t.Fatal(err)
			}
			next[side] += k
		}
		if rng.IntN(4) == 0 {
			j = newJoiner() // the round's delta was lost: start over from off
			err := j.Rebuild(ctx, ec, off, 1, func(shard int, upTo uint64, fn func(*types.Batch) error) error {
				if shard == 0 {
					return fn(batchOf(sjA, ra[:upTo]))
				}
				return fn(batchOf(sjB, rb[:upTo]))
			})
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := v.Merge(d, round); err != nil {
			t.Fatal(err)
		}
		off = next
		j.Committed(off)
		a, b := j.Buffered()
		maxBuf = max(maxBuf, a+b)
	}
	got := map[int64][2]int64{}
	_ = d.Range(func(k, st []byte) error {
		row, err := v.Finalize(ec, k, st, nil)
		if err != nil {
			return err
		}
		var sum int64
		fmt.Sscan(row[2].S, &sum)
		got[row[0].I] = [2]int64{row[1].I, sum}
		return nil
	})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		var ks []int64
		for k := range want {
			ks = append(ks, k)
		}
		sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
		for _, k := range ks {
			if got[k] != want[k] {
				t.Errorf("key %d: got %v, want %v", k, got[k], want[k])
			}
		}
		t.Fatalf("view differs from the brute-force join")
	}
	if restarts < 3 {
		t.Fatalf("only %d restarts", restarts)
	}
	// Bounded state: rows span 30s of time, the bound plus lateness ~10s.
	if maxBuf >= n {
		t.Fatalf("buffers held up to %d rows of %d: not bounded", maxBuf, 2*n)
	}
	t.Logf("restarts %d, most rows buffered %d of %d", restarts, maxBuf, 2*n)
}
