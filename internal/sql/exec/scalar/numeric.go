package scalar

import (
	"math"
	"strconv"

	"github.com/cockroachdb/apd/v3"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// Exact numeric arithmetic with PostgreSQL's result scales. Values are
// types.Datum with T numeric and the canonical text in S (see
// internal/types/numeric.go); operations parse into apd.Decimal and
// format the result.

// PostgreSQL's scale constants (numeric.c).
const (
	numMinSigDigits    = 16   // NUMERIC_MIN_SIG_DIGITS
	numMaxDisplayScale = 1000 // NUMERIC_MAX_DISPLAY_SCALE
	numMaxResultScale  = 2000 // NUMERIC_MAX_RESULT_SCALE
)

// Dec reads a number datum (integer, float or numeric) as a decimal;
// floats convert as PostgreSQL's float8-to-numeric cast does.
func Dec(d types.Datum, x *apd.Decimal) error {
	switch {
	case d.T == types.Numeric:
		return types.NumericDecimal(d.S, x)
	case d.T.IsFloat():
		digits := 15
		if d.T == types.Float4 {
			digits = 6
		}
		return types.NumericDecimal(types.NumericFromFloat(d.F, digits).S, x)
	}
	x.SetInt64(d.I)
	return nil
}

// ToNumeric converts a number datum to numeric.
func ToNumeric(d types.Datum) types.Datum {
	switch {
	case d.Null:
		return types.NullOf(types.Numeric)
	case d.T == types.Numeric:
		return d
	case d.T == types.Float4:
		return types.NumericFromFloat(d.F, 6)
	case d.T.IsFloat():
		return types.NumericFromFloat(d.F, 15)
	}
	return types.NumericFromInt(d.I)
}

// scaleOf is the display scale of a decimal.
func scaleOf(x *apd.Decimal) int { return types.NumericScale(x) }

func isNaN(x *apd.Decimal) bool { return x.Form == apd.NaN || x.Form == apd.NaNSignaling }

// cmpDec orders decimals like PostgreSQL: -Infinity < finite < Infinity
// < NaN, NaN equal to NaN.
func cmpDec(a, b *apd.Decimal) int {
	ra, rb := decRank(a), decRank(b)
	if ra != rb || ra != 2 {
		return cmpInt(int64(ra), int64(rb))
	}
	return a.Cmp(b)
}

func decRank(x *apd.Decimal) int {
	switch {
	case isNaN(x):
		return 4
	case x.Form == apd.Infinite && x.Negative:
		return 1
	case x.Form == apd.Infinite:
		return 3
	}
	return 2
}

// CompareNumeric orders two numeric texts by value (1.0 = 1.00).
func CompareNumeric(a, b string) int {
	if a == b {
		return 0
	}
	var x, y apd.Decimal
	if types.NumericDecimal(a, &x) != nil || types.NumericDecimal(b, &y) != nil {
		return 0
	}
	return cmpDec(&x, &y)
}

// adjExp is the decimal exponent of x's leading digit (0 for zero).
func adjExp(x *apd.Decimal) int {
	if x.Coeff.Sign() == 0 {
		return 0
	}
	return int(x.Exponent) + int(x.NumDigits()) - 1
}

// roundScale rounds x to scale digits after the point (scale may be
// negative: round(1234, -2) = 1200), half away from zero, or truncates.
// The result shows max(scale, 0) digits after the point.
func roundScale(x *apd.Decimal, scale int, trunc bool) error {
	if x.Form != apd.Finite {
		return nil
	}
	ctx := types.NumericCtx
	if trunc {
		ctx.Rounding = apd.RoundDown
	}
	p := adjExp(x) + scale + 2
	if cur := int(x.NumDigits()) + int(x.Exponent) + scale + 1; cur > p {
		p = cur
	}
	if p < 1 {
		p = 1
	}
	ctx.Precision = uint32(p)
	if _, err := ctx.Quantize(x, x, int32(-scale)); err != nil {
		return pgerr.NumericOverflow.New()
	}
	if scale < 0 {
		// Show no fraction and no exponent: 1200, not 12E+2.
		ctx.Precision = uint32(int(x.NumDigits()) - scale + 1)
		if _, err := ctx.Quantize(x, x, 0); err != nil {
			return pgerr.NumericOverflow.New()
		}
	}
	if x.Coeff.Sign() == 0 {
		x.Negative = false
	}
	return nil
}

// pgWeight returns PostgreSQL's base-10000 weight of x's first non-zero
// digit and that digit (0, 0 for zero).
func pgWeight(x *apd.Decimal) (weight, first int) {
	if x.Coeff.Sign() == 0 {
		return 0, 0
	}
	e := adjExp(x)
	weight = floorDivInt(e, 4)
	k := e - 4*weight + 1 // leading decimal digits in the first group
	var buf [48]byte
	digs := x.Coeff.Append(buf[:0], 10)
	for i := 0; i < k; i++ {
		first *= 10
		if i < len(digs) {
			first += int(digs[i] - '0')
		}
	}
	return weight, first
}

func floorDivInt(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func clampScale(s int) int {
	if s < 0 {
		s = 0
	}
	if s > numMaxDisplayScale {
		s = numMaxDisplayScale
	}
	return s
}

// divScale is PostgreSQL's select_div_scale: at least 16 significant
// digits, and no fewer digits after the point than either input shows.
func divScale(a, b *apd.Decimal) int {
	w1, f1 := pgWeight(a)
	w2, f2 := pgWeight(b)
	qweight := w1 - w2
	if f1 <= f2 {
		qweight--
	}
	rscale := numMinSigDigits - qweight*4
	rscale = max(rscale, scaleOf(a), scaleOf(b))
	return clampScale(rscale)
}

// quoScale sets d to a/b rounded half away from zero to scale digits
// (b not zero, both finite).
func quoScale(d, a, b *apd.Decimal, scale int, trunc bool) error {
	ctx := types.NumericCtx
	ctx.Rounding = apd.RoundDown
	p := adjExp(a) - adjExp(b) + scale + 3
	if p < 1 {
		p = 1
	}
	ctx.Precision = uint32(p)
	if _, err := ctx.Quo(d, a, b); err != nil {
		return pgerr.NumericOverflow.New()
	}
	return roundScale(d, scale, trunc)
}

// numericOp applies +, -, *, / or % to two numerics as PostgreSQL does,
// special values included.
func numericOp(op byte, a, b *apd.Decimal, d *apd.Decimal) error {
	if isNaN(a) || isNaN(b) {
		d.Form, d.Negative = apd.NaN, false
		return nil
	}
	ainf, binf := a.Form == apd.Infinite, b.Form == apd.Infinite
	nan := func() error { d.Form, d.Negative = apd.NaN, false; return nil }
	inf := func(neg bool) error { d.Form, d.Negative = apd.Infinite, neg; return nil }
	switch op {
	case '+', '-':
		bneg := b.Negative != (op == '-')
		switch {
		case ainf && binf:
			if a.Negative != bneg {
				return nan()
			}
			return inf(a.Negative)
		case ainf:
			return inf(a.Negative)
		case binf:
			return inf(bneg)
		}
		var err error
		if op == '+' {
			_, err = types.NumericCtx.Add(d, a, b)
		} else {
			_, err = types.NumericCtx.Sub(d, a, b)
		}
		if err != nil {
			return pgerr.NumericOverflow.New()
		}
	case '*':
		if ainf || binf {
			if (ainf && b.Form == apd.Finite && b.IsZero()) || (binf && a.Form == apd.Finite && a.IsZero()) {
				return nan()
			}
			return inf(a.Negative != b.Negative)
		}
		if _, err := types.NumericCtx.Mul(d, a, b); err != nil {
			return pgerr.NumericOverflow.New()
		}
	case '/':
		if b.Form == apd.Finite && b.IsZero() {
			return pgerr.DivideByZero.New()
		}
		switch {
		case ainf && binf:
			return nan()
		case ainf:
			return inf(a.Negative != b.Negative)
		case binf:
			d.SetInt64(0)
			return nil
		}
		return quoScale(d, a, b, divScale(a, b), false)
	case '%':
		if b.Form == apd.Finite && b.IsZero() {
			return pgerr.DivideByZero.New()
		}
		switch {
		case ainf:
			return nan()
		case binf:
			d.Set(a)
			return nil
		}
		var q apd.Decimal
		if err := quoScale(&q, a, b, 0, true); err != nil {
			return err
		}
		var t apd.Decimal
		if _, err := types.NumericCtx.Mul(&t, b, &q); err != nil {
			return pgerr.NumericOverflow.New()
		}
		if _, err := types.NumericCtx.Sub(d, a, &t); err != nil {
			return pgerr.NumericOverflow.New()
		}
		if s := max(scaleOf(a), scaleOf(b)); scaleOf(d) < s {
			_ = roundScale(d, s, false)
		}
	}
	if d.Form == apd.Finite && d.Coeff.Sign() == 0 {
		d.Negative = false
	}
	return nil
}

// numericArith is a numeric operator node.
func numericArith(op string, l, r *Node) *Node {
	o := op[0]
	return newNode(types.Numeric, func(ec *Ctx, in Input) (types.Datum, error) {
		a, b, null, err := binEval(l, r, ec, in)
		if err != nil || null {
			return types.NullOf(types.Numeric), err
		}
		var x, y, z apd.Decimal
		if err := Dec(a, &x); err != nil {
			return types.Datum{}, err
		}
		if err := Dec(b, &y); err != nil {
			return types.Datum{}, err
		}
		if err := numericOp(o, &x, &y, &z); err != nil {
			return types.Datum{}, err
		}
		return types.NumericDatum(&z)
	})
}

// NegNumeric negates canonical numeric text.
func NegNumeric(s string) string {
	switch {
	case s == "NaN":
		return s
	case len(s) > 0 && s[0] == '-':
		return s[1:]
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '0' && c != '.' {
			return "-" + s
		}
	}
	return s // zero has no sign
}

// numericToInt converts a numeric to integer type t, rounding half away
// from zero; 22003 out of range, 0A000 for NaN and infinity.
func numericToInt(s string, t types.T) (int64, error) {
	var x apd.Decimal
	if err := types.NumericDecimal(s, &x); err != nil {
		return 0, err
	}
	switch {
	case isNaN(&x):
		return 0, pgerr.NumericNaNToInt.New(t)
	case x.Form == apd.Infinite:
		return 0, pgerr.NumericInfToInt.New(t)
	}
	if adjExp(&x) > 19 {
		return 0, RangeErr(t)
	}
	if err := roundScale(&x, 0, false); err != nil {
		return 0, RangeErr(t)
	}
	v, err := x.Int64()
	if err != nil {
		return 0, RangeErr(t)
	}
	if err := checkIntRange(t, v); err != nil {
		return 0, err
	}
	return v, nil
}

// numericToFloat converts numeric text to float4/float8 as PostgreSQL
// does (via the decimal text; 22003 when beyond the type's range).
func numericToFloat(s string, t types.T) (float64, error) {
	bits := 64
	if t == types.Float4 {
		bits = 32
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil && math.IsInf(f, 0) {
		return 0, pgerr.FloatOverflow.New()
	}
	return f, nil
}

// applyNumericMods applies numeric(p, s): round to s digits after the
// point (half away from zero), then fail with 22003 when the value needs
// more than p-s digits before it. NaN passes; infinity does not fit.
func applyNumericMods(d types.Datum, p, s int) (types.Datum, error) {
	var x apd.Decimal
	if err := types.NumericDecimal(d.S, &x); err != nil {
		return d, err
	}
	switch {
	case isNaN(&x):
		return d, nil
	case x.Form == apd.Infinite:
		return d, pgerr.NumericFieldOverflow.New().
			WithDetail("A field with precision %d, scale %d cannot hold an infinite value.", p, s)
	}
	if err := roundScale(&x, s, false); err != nil {
		return d, err
	}
	if x.Coeff.Sign() != 0 && adjExp(&x)+1 > p-s {
		if p-s > 0 {
			return d, pgerr.NumericFieldOverflow.New().
				WithDetail("A field with precision %d, scale %d must round to an absolute value less than 10^%d.", p, s, p-s)
		}
		return d, pgerr.NumericFieldOverflow.New().
			WithDetail("A field with precision %d, scale %d must round to an absolute value less than 1.", p, s)
	}
	return types.NumericDatum(&x)
}

// checkNumericMods validates numeric(p[, s]) as PostgreSQL does.
func checkNumericMods(mods []int) error {
	if len(mods) > 2 {
		return pgerr.NumericBadTypmod.New()
	}
	if p := mods[0]; p < 1 || p > 1000 {
		return pgerr.NumericPrecisionRange.New(p)
	}
	if len(mods) == 2 {
		if s := mods[1]; s < -1000 || s > 1000 {
			return pgerr.NumericScaleRange.New(s)
		}
	}
	return nil
}

// NumericAdd sets d = a + b exactly (special values as PostgreSQL).
func NumericAdd(d, a, b *apd.Decimal) error { return numericOp('+', a, b, d) }

// NumericDiv sets d = a / b with PostgreSQL's division scale.
func NumericDiv(d, a, b *apd.Decimal) error { return numericOp('/', a, b, d) }

// CmpDecimal orders decimals as PostgreSQL orders numerics (NaN last).
func CmpDecimal(a, b *apd.Decimal) int { return cmpDec(a, b) }
