package scalar

import (
	"errors"
	"math"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sketch"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Readers of sketch values (the bytea results of hll_agg, dist_agg,
// hll_union_agg). A bytea that is not a sketch of the expected kind is
// 22023 (not_a_sketch); a parameter out of range is 22023 naming the
// valid range.

// This init runs after funcs.go's (files initialize in name order), which
// creates the registry.
func init() {
	funcs["hll_cardinality"] = buildHLLCardinality
	funcs["dist_quantile"] = buildDist("dist_quantile", func(t *sketch.TDigest, x float64) (float64, error) { return t.Quantile(x) })
	funcs["dist_cdf"] = buildDist("dist_cdf", func(t *sketch.TDigest, x float64) (float64, error) { return t.CDF(x), nil })
}

func buildHLLCardinality(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if err := c.want(f, args, types.Bytea); err != nil {
		return nil, err
	}
	return unaryFn(types.Int8, args[0], func(d types.Datum) (types.Datum, error) {
		h, err := sketch.UnmarshalHLL([]byte(d.S))
		if err != nil {
			return d, pgerr.NotASketch.New("hll_cardinality", "HyperLogLog")
		}
		return types.Datum{I: int64(h.Estimate())}, nil
	}), nil
}

func buildDist(name string, read func(t *sketch.TDigest, x float64) (float64, error)) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if err := c.want(f, args, types.Bytea, types.Float8); err != nil {
			return nil, err
		}
		dist, x := args[0], args[1]
		return fold(newNode(types.Float8, func(ec *Ctx, in Input) (types.Datum, error) {
			d, err := dist.Fn(ec, in)
			if err != nil || d.Null {
				return types.NullOf(types.Float8), err
			}
			v, err := x.Fn(ec, in)
			if err != nil || v.Null {
				return types.NullOf(types.Float8), err
			}
			t, err := sketch.UnmarshalTDigest([]byte(d.S))
			if err != nil {
				return d, pgerr.NotASketch.New(name, "t-digest")
			}
			if t.Count() == 0 {
				return types.NullOf(types.Float8), nil
			}
			r, err := read(t, v.F)
			var pe *sketch.ParamError
			if errors.As(err, &pe) {
				return d, pgerr.SketchParam.New(pe.Error())
			}
			if err != nil || math.IsNaN(r) {
				return types.NullOf(types.Float8), err
			}
			return types.NewFloat(types.Float8, r), nil
		}), dist, x)
	}
}
