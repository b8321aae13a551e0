package agg

import (
	"math/big"
	"math/bits"

	"github.com/cockroachdb/apd/v3"

	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/types"
)

// Exact sums and averages, as PostgreSQL types them: sum(bigint) and
// avg(any integer) are numeric; they keep a 128-bit integer sum in two
// words (StateI128), which no stream of int64 values can overflow in
// practice (2^63 rows). sum/avg/min/max over numeric keep a decimal
// (StateN): encoded as the count and the canonical text, merged exactly.

// wideSum reports whether s keeps a 128-bit integer sum.
func wideSum(s *Spec) bool {
	return s.Arg != nil && s.Arg.T.IsInt() && (s.Kind == Avg || (s.Kind == Sum && s.Arg.T == types.Int8))
}

// Add128 adds x to the 128-bit two's complement integer (lo, hi).
func Add128(lo, hi uint64, x int64) (uint64, uint64) {
	var c uint64
	lo, c = bits.Add64(lo, uint64(x), 0)
	ext := uint64(0)
	if x < 0 {
		ext = ^uint64(0)
	}
	hi, _ = bits.Add64(hi, ext, c)
	return lo, hi
}

// addWide adds (lo2, hi2) to (lo, hi).
func addWide(lo, hi, lo2, hi2 uint64) (uint64, uint64) {
	var c uint64
	lo, c = bits.Add64(lo, lo2, 0)
	hi, _ = bits.Add64(hi, hi2, c)
	return lo, hi
}

// wideDecimal sets d to the 128-bit integer (lo, hi).
func wideDecimal(lo, hi uint64, d *apd.Decimal) {
	if int64(hi) == int64(lo)>>63 {
		d.SetInt64(int64(lo))
		return
	}
	neg := int64(hi) < 0
	if neg {
		lo, hi = ^lo, ^hi
		var c uint64
		lo, c = bits.Add64(lo, 1, 0)
		hi += c
	}
	var b big.Int
	b.SetUint64(hi)
	b.Lsh(&b, 64)
	b.Or(&b, new(big.Int).SetUint64(lo))
	d.Coeff.SetMathBigInt(&b)
	d.Exponent, d.Form, d.Negative = 0, apd.Finite, neg
}

// avgDecimal sets d to sum/n with PostgreSQL's division scale.
func avgDecimal(sum *apd.Decimal, n int64) (types.Datum, error) {
	var cnt, q apd.Decimal
	cnt.SetInt64(n)
	if err := scalar.NumericDiv(&q, sum, &cnt); err != nil {
		return types.Datum{}, err
	}
	return types.NumericDatum(&q)
}

// finalWide finalizes sum/avg from a 128-bit integer sum.
func finalWide(s *Spec, n int64, lo, hi uint64) types.Datum {
	var d apd.Decimal
	wideDecimal(lo, hi, &d)
	if s.Kind == Avg {
		r, err := avgDecimal(&d, n)
		if err != nil {
			return types.NullOf(types.Numeric)
		}
		return r
	}
	r, _ := types.NumericDatum(&d)
	return r
}

// finalDecimal finalizes a numeric aggregate from its decimal state.
func finalDecimal(s *Spec, n int64, d *apd.Decimal) (types.Datum, error) {
	if s.Kind == Avg {
		return avgDecimal(d, n)
	}
	return types.NumericDatum(d)
}

// foldDecimal folds x into the decimal state cur (n values so far).
func foldDecimal(kind Kind, n uint64, cur, x *apd.Decimal) error {
	if n == 0 {
		cur.Set(x)
		return nil
	}
	switch kind {
	case Sum, Avg:
		return scalar.NumericAdd(cur, cur, x)
	case Min:
		if scalar.CmpDecimal(x, cur) < 0 {
			cur.Set(x)
		}
	case Max:
		if scalar.CmpDecimal(x, cur) > 0 {
			cur.Set(x)
		}
	}
	return nil
}

// FoldN folds numeric text x into a decimal state (count p[0]) cur.
func FoldN(p []uint64, kind Kind, cur *apd.Decimal, x string) error {
	var v apd.Decimal
	if err := types.NumericDecimal(x, &v); err != nil {
		return err
	}
	if err := foldDecimal(kind, p[0], cur, &v); err != nil {
		return err
	}
	p[0]++
	return nil
}

// FoldI128 folds integer x into the state words p of a StateI128
// aggregate: the count, then the sum's low and high words.
func FoldI128(p []uint64, x int64) {
	p[0]++
	p[1], p[2] = Add128(p[1], p[2], x)
}

// mergeN merges numeric state b (text) into a.
func mergeN(l Layout, a, b *State) error {
	var x, y apd.Decimal
	if err := types.NumericDecimal(string(a.S), &x); err != nil {
		return scalar.ErrCorruptState
	}
	if err := types.NumericDecimal(string(b.S), &y); err != nil {
		return scalar.ErrCorruptState
	}
	if err := foldDecimal(l.Kind, 1, &x, &y); err != nil {
		return err
	}
	s, err := types.NumericText(&x)
	if err != nil {
		return err
	}
	a.S = []byte(s)
	return nil
}
