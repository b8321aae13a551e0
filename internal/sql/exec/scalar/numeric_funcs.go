package scalar

import (
	"math"
	"strconv"

	"github.com/cockroachdb/apd/v3"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// Numeric versions of the math functions, with PostgreSQL's result
// scales (numeric.c: numeric_sqrt, numeric_exp, numeric_ln, power_var).

// numericUnary builds a numeric -> numeric function node.
func numericUnary(arg *Node, f func(x *apd.Decimal) error) *Node {
	return unaryFn(types.Numeric, arg, func(d types.Datum) (types.Datum, error) {
		var x apd.Decimal
		if err := Dec(d, &x); err != nil {
			return types.Datum{}, err
		}
		if err := f(&x); err != nil {
			return types.Datum{}, err
		}
		return types.NumericDatum(&x)
	})
}

func numAbs(x *apd.Decimal) error {
	if !isNaN(x) {
		x.Negative = false
	}
	return nil
}

func numCeil(x *apd.Decimal) error  { return roundMode(x, 0, apd.RoundCeiling) }
func numFloor(x *apd.Decimal) error { return roundMode(x, 0, apd.RoundFloor) }

func numSign(x *apd.Decimal) error {
	switch {
	case isNaN(x):
	case x.Form == apd.Infinite:
		x.SetInt64(1)
		if x.Negative {
			x.SetInt64(-1)
		}
	default:
		x.SetInt64(int64(x.Sign()))
	}
	return nil
}

// roundMode rounds x to scale digits with the given rounding.
func roundMode(x *apd.Decimal, scale int, r apd.Rounder) error {
	if x.Form != apd.Finite {
		return nil
	}
	ctx := types.NumericCtx
	ctx.Rounding = r
	p := adjExp(x) + scale + 2
	if p < 1 {
		p = 1
	}
	ctx.Precision = uint32(p)
	if _, err := ctx.Quantize(x, x, int32(-scale)); err != nil {
		return pgerr.NumericOverflow.New()
	}
	if x.Coeff.Sign() == 0 {
		x.Negative = false
	}
	return nil
}

// finishScale rounds a result computed with guard digits to rscale.
func finishScale(x *apd.Decimal, rscale int) error { return roundScale(x, rscale, false) }

// precFor is the working precision for a result whose leading digit has
// decimal exponent e, shown with rscale digits after the point.
func precFor(e, rscale int) uint32 {
	p := e + rscale + 8
	if p < 8 {
		p = 8
	}
	return uint32(p)
}

func numSqrt(x *apd.Decimal) error {
	switch {
	case isNaN(x):
		return nil
	case x.Negative && !(x.Form == apd.Finite && x.IsZero()):
		return pgerr.SqrtOfNegative.New()
	case x.Form == apd.Infinite:
		return nil
	}
	w, _ := pgWeight(x)
	sweight := (w+1)*4/2 - 1
	rscale := clampScale(max(numMinSigDigits-sweight, scaleOf(x)))
	if x.IsZero() {
		x.SetInt64(0)
		return finishScale(x, rscale)
	}
	ctx := types.NumericCtx
	ctx.Precision = precFor(adjExp(x)/2+1, rscale)
	if _, err := ctx.Sqrt(x, x); err != nil {
		return pgerr.NumericOverflow.New()
	}
	return finishScale(x, rscale)
}

func numExp(x *apd.Decimal) error {
	switch {
	case isNaN(x):
		return nil
	case x.Form == apd.Infinite:
		if x.Negative {
			x.SetInt64(0)
		}
		return nil
	}
	val, _ := x.Float64()
	dw := math.Max(math.Min(val*math.Log10E, numMaxResultScale), -numMaxResultScale)
	rscale := clampScale(max(numMinSigDigits-int(dw), scaleOf(x)))
	if math.Abs(val) >= numMaxResultScale*3 {
		if val > 0 {
			return pgerr.NumericOverflow.New()
		}
		x.SetInt64(0)
		return finishScale(x, rscale)
	}
	ctx := types.NumericCtx
	ctx.Precision = precFor(int(dw)+1, rscale)
	if _, err := ctx.Exp(x, x); err != nil {
		return pgerr.NumericOverflow.New()
	}
	return finishScale(x, rscale)
}

// lnDweight estimates the decimal exponent of ln(x)'s leading digit, as
// PostgreSQL's estimate_ln_dweight does.
func lnDweight(x *apd.Decimal) int {
	if x.Form != apd.Finite || x.Sign() <= 0 {
		return 0
	}
	lo, hi := apd.New(9, -1), apd.New(11, -1)
	if x.Cmp(lo) >= 0 && x.Cmp(hi) <= 0 {
		var y apd.Decimal
		_, _ = types.NumericCtx.Sub(&y, x, apd.New(1, 0))
		if y.IsZero() {
			return 0
		}
		return adjExp(&y)
	}
	// ln(x) from x's leading digits and its decimal exponent.
	var buf [48]byte
	digs := x.Coeff.Append(buf[:0], 10)
	n := min(len(digs), 8)
	lead, _ := strconv.ParseFloat(string(digs[:n]), 64)
	lnv := math.Log(lead) + float64(int(x.Exponent)+len(digs)-n)*math.Ln10
	if lnv == 0 {
		return 0
	}
	return int(math.Log10(math.Abs(lnv)))
}

func numLn(x *apd.Decimal) error {
	switch {
	case isNaN(x):
		return nil
	case x.Negative:
		return pgerr.LogOfNegative.New()
	case x.Form == apd.Infinite:
		return nil
	case x.IsZero():
		return pgerr.LogOfZero.New()
	}
	dw := lnDweight(x)
	rscale := clampScale(max(numMinSigDigits-dw, scaleOf(x)))
	ctx := types.NumericCtx
	ctx.Precision = precFor(dw, rscale)
	if _, err := ctx.Ln(x, x); err != nil {
		return pgerr.NumericOverflow.New()
	}
	return finishScale(x, rscale)
}

// isInteger reports whether finite x has an integral value.
func isInteger(x *apd.Decimal) bool {
	if x.Form != apd.Finite || x.Exponent >= 0 || x.IsZero() {
		return x.Form == apd.Finite
	}
	var buf [48]byte
	digs := x.Coeff.Append(buf[:0], 10)
	k := int(-x.Exponent)
	if k > len(digs) {
		return false
	}
	for _, c := range digs[len(digs)-k:] {
		if c != '0' {
			return false
		}
	}
	return true
}

// numPower is numeric ^ numeric (power(numeric, numeric)).
func numPower(x, y, d *apd.Decimal) error {
	one := apd.New(1, 0)
	switch {
	case x.Form == apd.Finite && x.Cmp(one) == 0,
		y.Form == apd.Finite && y.IsZero():
		// 1 ^ anything and anything ^ 0 are 1, NaN included.
		d.SetInt64(1)
		if x.Form == apd.Finite && y.Form == apd.Finite {
			return finishScale(d, clampScale(max(numMinSigDigits, scaleOf(x), scaleOf(y))))
		}
		return nil
	case isNaN(x) || isNaN(y):
		d.Form, d.Negative = apd.NaN, false
		return nil
	}
	if x.Form == apd.Finite && x.IsZero() && y.Sign() < 0 {
		return pgerr.ZeroToNegativePower.New()
	}
	if x.Form == apd.Finite && x.Sign() < 0 && y.Form == apd.Finite && !isInteger(y) {
		return pgerr.ComplexPowerResult.New()
	}
	if x.Form == apd.Infinite || y.Form == apd.Infinite {
		// PostgreSQL follows POSIX pow() for infinities.
		xf, _ := x.Float64()
		yf, _ := y.Float64()
		r := math.Pow(xf, yf)
		switch {
		case math.IsInf(r, 0):
			d.Form, d.Negative = apd.Infinite, r < 0
		case math.IsNaN(r):
			d.Form, d.Negative = apd.NaN, false
		default:
			d.SetInt64(int64(r))
		}
		return nil
	}
	if x.IsZero() {
		// 0 ^ positive
		d.SetInt64(0)
		return finishScale(d, numMinSigDigits)
	}
	var ax apd.Decimal
	ax.Abs(x)
	var f float64 // approximate decimal exponent of the result
	{
		var buf [48]byte
		digs := x.Coeff.Append(buf[:0], 10)
		n := min(len(digs), 16)
		lead, _ := strconv.ParseFloat(string(digs[:n]), 64)
		l10 := math.Log10(lead) + float64(int(x.Exponent)+len(digs)-n)
		yf, _ := y.Float64()
		f = yf * l10
	}
	if f > float64(types.NumericMaxIntDigits) {
		return pgerr.NumericOverflow.New()
	}
	if f+1 < -numMaxDisplayScale {
		d.SetInt64(0)
		return finishScale(d, numMaxDisplayScale)
	}
	rscale := clampScale(max(numMinSigDigits-int(f), scaleOf(x), scaleOf(y)))
	ctx := types.NumericCtx
	ctx.Precision = precFor(int(f)+1, rscale)
	if _, err := ctx.Pow(d, x, y); err != nil {
		return pgerr.NumericOverflow.New()
	}
	if d.Form != apd.Finite {
		return pgerr.NumericOverflow.New()
	}
	return finishScale(d, rscale)
}

func numericPowerNode(l, r *Node) *Node {
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
		if err := numPower(&x, &y, &z); err != nil {
			return types.Datum{}, err
		}
		return types.NumericDatum(&z)
	})
}

// numRoundTo is round(numeric, n) / trunc(numeric, n): n clamped to
// ±2000 as PostgreSQL does; the result shows max(n, 0) digits.
func numRoundTo(x *apd.Decimal, n int64, trunc bool) error {
	n = max(min(n, numMaxResultScale), -numMaxResultScale)
	return roundScale(x, int(n), trunc)
}

// fixedScale formats v / 10^scale with exactly scale digits after the
// point (numeric text).
func fixedScale(v int64, scale int) types.Datum {
	var x apd.Decimal
	x.SetFinite(v, int32(-scale))
	d, _ := types.NumericDatum(&x)
	return d
}
