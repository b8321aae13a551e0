package agg

import (
	"math"

	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Fixed-word aggregates: the variance family (n, mean, M2), the
// two-variable family corr/covar/regr (n, two means, three co-moments),
// bool_and/bool_or/every and bit_and/bit_or/bit_xor (n, value). States
// fold with Welford's update and merge with the parallel formula of Chan
// et al., so a state folded on several shards merges to the statistics of
// all their rows (equal up to float rounding to folding them on one).

func statsAggs() map[string]extDef {
	m := map[string]extDef{}
	for name, k := range map[string]varKind{
		"var_pop": varPop, "var_samp": varSamp, "variance": varSamp,
		"stddev_pop": stddevPop, "stddev_samp": stddevSamp, "stddev": stddevSamp,
	} {
		m[name] = extDef{direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) != 1 || !numericArgs(args) {
				return errNoMatch
			}
			if err := sc.coerceAll(f, args, types.Float8); err != nil {
				return err
			}
			s.Args, s.Arg, s.T, s.Fixed = args, args[0], types.Float8, variance{k}
			return nil
		}}
	}
	for name, k := range map[string]coKind{
		"corr": coCorr, "covar_pop": coCovarPop, "covar_samp": coCovarSamp,
		"regr_count": coCount, "regr_avgx": coAvgX, "regr_avgy": coAvgY,
		"regr_slope": coSlope, "regr_intercept": coIntercept, "regr_r2": coR2,
		"regr_sxx": coSxx, "regr_syy": coSyy, "regr_sxy": coSxy,
	} {
		m[name] = extDef{direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) != 2 || !numericArgs(args) {
				return errNoMatch
			}
			if err := sc.coerceAll(f, args, types.Float8); err != nil {
				return err
			}
			s.Args, s.Arg, s.T, s.Fixed = args, args[0], types.Float8, comoment{k}
			if k == coCount {
				s.T = types.Int8
			}
			return nil
		}}
	}
	for name, and := range map[string]bool{"bool_and": true, "every": true, "bool_or": false} {
		m[name] = extDef{direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) != 1 || !(args[0].T == types.Bool || args[0].Untyped || args[0].Param > 0) {
				return errNoMatch
			}
			if err := sc.coerceAll(f, args, types.Bool); err != nil {
				return err
			}
			s.Args, s.Arg, s.T, s.Fixed = args, args[0], types.Bool, boolAgg{and}
			return nil
		}}
	}
	for name, op := range map[string]bitOp{"bit_and": bitAnd, "bit_or": bitOr, "bit_xor": bitXor} {
		m[name] = extDef{direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) != 1 {
				return errNoMatch
			}
			if args[0].Untyped || args[0].Param > 0 {
				if err := sc.coerceAll(f, args, types.Int4); err != nil {
					return err
				}
			}
			if !args[0].T.IsInt() {
				return errNoMatch
			}
			s.Args, s.Arg, s.T, s.Fixed = args, args[0], args[0].T, bitAgg{op, args[0].T}
			return nil
		}}
	}
	return m
}

// numericArgs reports whether every argument converts to float8.
func numericArgs(args []*scalar.Node) bool {
	for _, a := range args {
		if !(a.Untyped || a.Param > 0 || a.T.IsNumeric()) {
			return false
		}
	}
	return true
}

func f64(w uint64) float64 { return math.Float64frombits(w) }
func u64(f float64) uint64 { return math.Float64bits(f) }

type varKind uint8

const (
	varPop varKind = iota
	varSamp
	stddevPop
	stddevSamp
)

// variance keeps n, the mean and M2 (the sum of squared deviations).
type variance struct{ k varKind }

func (variance) Words() int { return 3 }

func (variance) Add(p []uint64, args []types.Datum) error {
	x := args[0]
	if x.Null {
		return nil
	}
	n := p[0] + 1
	mean, m2 := f64(p[1]), f64(p[2])
	d := x.F - mean
	mean += d / float64(n)
	m2 += d * (x.F - mean)
	p[0], p[1], p[2] = n, u64(mean), u64(m2)
	return nil
}

func (variance) Merge(a, b Words) (Words, error) {
	na, nb := float64(a[0]), float64(b[0])
	n := na + nb
	ma, mb := f64(a[1]), f64(b[1])
	d := mb - ma
	a[1] = u64(ma + d*nb/n)
	a[2] = u64(f64(a[2]) + f64(b[2]) + d*d*na*nb/n)
	a[0] += b[0]
	return a, nil
}

func (v variance) Result(p Words) types.Datum {
	n := float64(p[0])
	m2 := max(f64(p[2]), 0)
	var r float64
	switch v.k {
	case varPop, stddevPop:
		if n < 1 {
			return types.NullOf(types.Float8)
		}
		r = m2 / n
	default:
		if n < 2 {
			return types.NullOf(types.Float8)
		}
		r = m2 / (n - 1)
	}
	if v.k == stddevPop || v.k == stddevSamp {
		r = math.Sqrt(r)
	}
	return types.NewFloat(types.Float8, r)
}

type coKind uint8

const (
	coCorr coKind = iota
	coCovarPop
	coCovarSamp
	coCount
	coAvgX
	coAvgY
	coSlope
	coIntercept
	coR2
	coSxx
	coSyy
	coSxy
)

// comoment keeps, over rows where neither y nor x is NULL, n, mean x,
// mean y, Sxx, Syy and Sxy (sums of squared / crossed deviations).
// Arguments are (y, x) as in PostgreSQL.
type comoment struct{ k coKind }

func (comoment) Words() int { return 6 }

func (comoment) Add(p []uint64, args []types.Datum) error {
	y, x := args[0], args[1]
	if y.Null || x.Null {
		return nil
	}
	n := p[0] + 1
	mx, my := f64(p[1]), f64(p[2])
	dx, dy := x.F-mx, y.F-my
	mx += dx / float64(n)
	my += dy / float64(n)
	p[0], p[1], p[2] = n, u64(mx), u64(my)
	p[3] = u64(f64(p[3]) + dx*(x.F-mx))
	p[4] = u64(f64(p[4]) + dy*(y.F-my))
	p[5] = u64(f64(p[5]) + dx*(y.F-my))
	return nil
}

func (comoment) Merge(a, b Words) (Words, error) {
	na, nb := float64(a[0]), float64(b[0])
	n := na + nb
	dx, dy := f64(b[1])-f64(a[1]), f64(b[2])-f64(a[2])
	f := na * nb / n
	a[1] = u64(f64(a[1]) + dx*nb/n)
	a[2] = u64(f64(a[2]) + dy*nb/n)
	a[3] = u64(f64(a[3]) + f64(b[3]) + dx*dx*f)
	a[4] = u64(f64(a[4]) + f64(b[4]) + dy*dy*f)
	a[5] = u64(f64(a[5]) + f64(b[5]) + dx*dy*f)
	a[0] += b[0]
	return a, nil
}

func (c comoment) Result(p Words) types.Datum {
	n := float64(p[0])
	if c.k == coCount {
		return types.NewInt(types.Int8, int64(p[0]))
	}
	null := types.NullOf(types.Float8)
	if n < 1 {
		return null
	}
	mx, my, sxx, syy, sxy := f64(p[1]), f64(p[2]), f64(p[3]), f64(p[4]), f64(p[5])
	var r float64
	switch c.k {
	case coCorr:
		if sxx == 0 || syy == 0 {
			return null
		}
		r = sxy / math.Sqrt(sxx*syy)
	case coCovarPop:
		r = sxy / n
	case coCovarSamp:
		if n < 2 {
			return null
		}
		r = sxy / (n - 1)
	case coAvgX:
		r = mx
	case coAvgY:
		r = my
	case coSlope:
		if sxx == 0 {
			return null
		}
		r = sxy / sxx
	case coIntercept:
		if sxx == 0 {
			return null
		}
		r = my - mx*sxy/sxx
	case coR2:
		switch {
		case sxx == 0:
			return null
		case syy == 0:
			r = 1
		default:
			r = sxy * sxy / (sxx * syy)
		}
	case coSxx:
		r = sxx
	case coSyy:
		r = syy
	case coSxy:
		r = sxy
	}
	return types.NewFloat(types.Float8, r)
}

// boolAgg is bool_and/every (and) or bool_or: n and the value.
type boolAgg struct{ and bool }

func (boolAgg) Words() int { return 2 }

func (b boolAgg) Add(p []uint64, args []types.Datum) error {
	x := args[0]
	if x.Null {
		return nil
	}
	b.fold(p, uint64(x.I&1), p[0] == 0)
	p[0]++
	return nil
}

func (b boolAgg) fold(p []uint64, v uint64, first bool) {
	switch {
	case first:
		p[1] = v
	case b.and:
		p[1] &= v
	default:
		p[1] |= v
	}
}

func (b boolAgg) Merge(a, o Words) (Words, error) {
	b.fold(a[:], o[1], false)
	a[0] += o[0]
	return a, nil
}

func (boolAgg) Result(p Words) types.Datum {
	if p[0] == 0 {
		return types.NullOf(types.Bool)
	}
	return types.NewBool(p[1] != 0)
}

type bitOp uint8

const (
	bitAnd bitOp = iota
	bitOr
	bitXor
)

// bitAgg is bit_and/bit_or/bit_xor over an integer type: n and the value.
type bitAgg struct {
	op bitOp
	t  types.T
}

func (bitAgg) Words() int { return 2 }

func (b bitAgg) fold(p []uint64, v uint64, first bool) {
	switch {
	case first:
		p[1] = v
	case b.op == bitAnd:
		p[1] &= v
	case b.op == bitOr:
		p[1] |= v
	default:
		p[1] ^= v
	}
}

func (b bitAgg) Add(p []uint64, args []types.Datum) error {
	x := args[0]
	if x.Null {
		return nil
	}
	b.fold(p, uint64(x.I), p[0] == 0)
	p[0]++
	return nil
}

func (b bitAgg) Merge(a, o Words) (Words, error) {
	b.fold(a[:], o[1], false)
	a[0] += o[0]
	return a, nil
}

func (b bitAgg) Result(p Words) types.Datum {
	if p[0] == 0 {
		return types.NullOf(b.t)
	}
	return types.NewInt(b.t, int64(p[1]))
}
