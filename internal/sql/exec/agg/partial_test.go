package agg

import (
	"math/rand"
	"strconv"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/types"
)

// foldPart folds vals into one aggregate's encoded partial state, as a
// view shard would.
func foldPart(t *testing.T, s *Spec, l Layout, vals []types.Datum) []byte {
	t.Helper()
	p := make([]uint64, l.N)
	var st State
	for _, v := range vals {
		if v.Null {
			continue
		}
		var err error
		switch l.Class {
		case StateCount:
			p[0]++
		case StateI:
			err = FoldI(p, l.Kind, v.I)
		case StateF:
			FoldF(p, l.Kind, v.F)
		case StateIv:
			FoldIv(p, l.Kind, v.Iv)
		case StateI128:
			FoldI128(p, v.I)
		case StateN:
			// Numeric folds in exec's table; fold a decimal here.
			var cur apd.Decimal
			if st.W[0] > 0 {
				if err := types.NumericDecimal(string(st.S), &cur); err != nil {
					t.Fatal(err)
				}
			}
			w := []uint64{st.W[0], 0}
			err = FoldN(w, l.Kind, &cur, v.S)
			st.W[0] = w[0]
			st.S = types.AppendDecimal(nil, &cur)
		case StateS:
			// Text folds in exec's table; build the state directly.
			if st.W[0] == 0 || (l.Kind == Min && v.S < string(st.S)) || (l.Kind == Max && v.S > string(st.S)) {
				st.S = []byte(v.S)
			}
			st.W[0]++
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !l.HasText() {
		copy(st.W[:], p)
	}
	return AppendState(nil, l, &st)
}

// TestPartialStatesMatchAccum: folding values on three "shards", then
// merging their encoded states in any order, finalizes to what a SELECT's
// accumulator computes over all the values.
func TestPartialStatesMatchAccum(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	gen := map[types.T]func() types.Datum{
		types.Int8:   func() types.Datum { return types.NewInt(types.Int8, r.Int63n(2000)-1000) },
		types.Float8: func() types.Datum { return types.NewFloat(types.Float8, float64(r.Intn(100))/4) },
		types.Interval: func() types.Datum {
			return types.Datum{T: types.Interval, Iv: types.IntervalValue{Days: int32(r.Intn(5)), Micros: r.Int63n(1e9)}}
		},
		types.Text: func() types.Datum { return types.NewText(string(rune('a' + r.Intn(26)))) },
		types.Numeric: func() types.Datum {
			// Mixed scales, a huge value now and then, NaN rarely.
			switch r.Intn(40) {
			case 0:
				return types.NewNumeric("NaN")
			case 1:
				return types.NewNumeric("10000000000000000000000000000000000000000000000000000")
			}
			v, _ := types.ParseNumeric(strconv.Itoa(r.Intn(20000)-10000) + "e-" + strconv.Itoa(r.Intn(4)))
			return types.NewNumeric(v)
		},
	}
	for argT, g := range gen {
		for _, kind := range []Kind{CountStar, Count, Sum, Min, Max, Avg} {
			if argT == types.Text && (kind == Sum || kind == Avg) {
				continue
			}
			s := &Spec{Kind: kind, Arg: &scalar.Node{T: argT}, T: argT}
			switch {
			case kind == CountStar || kind == Count:
				s.T = types.Int8
			case kind == Sum && argT == types.Int8, kind == Avg && (argT == types.Int8 || argT == types.Numeric):
				s.T = types.Numeric
			case kind == Avg && argT == types.Float8:
				s.T = types.Float8
			}
			l := NewLayout(s, 0)
			var all []types.Datum
			var parts [][]byte
			for p := 0; p < 3; p++ {
				var vals []types.Datum
				for i := r.Intn(20); i > 0; i-- {
					v := g()
					if r.Intn(5) == 0 {
						v = types.NullOf(argT)
					}
					vals = append(vals, v)
				}
				all = append(all, vals...)
				parts = append(parts, foldPart(t, s, l, vals))
			}
			if kind == CountStar {
				// count(*) counts NULLs too: the fold table counts rows.
				continue
			}
			var acc Accum
			var scratch []byte
			for _, v := range all {
				if err := acc.Add(s, v, &scratch); err != nil {
					t.Fatal(err)
				}
			}
			want := acc.Result(s)
			for _, order := range [][3]int{{0, 1, 2}, {2, 1, 0}, {1, 2, 0}} {
				var merged, next State
				for _, i := range order {
					if _, err := ReadState(parts[i], l, &next); err != nil {
						t.Fatal(err)
					}
					if err := MergeStates(l, &merged, &next); err != nil {
						t.Fatal(err)
					}
					merged.S = append([]byte(nil), merged.S...)
				}
				if got := PartialResult(s, l, &merged); got != want {
					t.Errorf("%v of %v, order %v: got %+v, want %+v", kind, argT, order, got, want)
				}
			}
		}
	}
}

// TestReadStateCorrupt: truncated states are errors, never panics.
func TestReadStateCorrupt(t *testing.T) {
	for _, argT := range []types.T{types.Int8, types.Interval, types.Text, types.Numeric} {
		s := &Spec{Kind: Max, Arg: &scalar.Node{T: argT}, T: argT}
		l := NewLayout(s, 0)
		st := State{W: [3]uint64{2, 7, 9}, S: []byte("12.5")}
		buf := AppendState(nil, l, &st)
		for i := 1; i < len(buf); i++ {
			if _, err := ReadState(buf[:i], l, &st); err == nil {
				t.Errorf("%v: state truncated to %d of %d bytes decoded", argT, i, len(buf))
			}
		}
	}
}
