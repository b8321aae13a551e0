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
	funcs["freq"] = buildHashRead("freq", types.Int8, func(b []byte, h uint64) (types.Datum, bool) {
		c, err := sketch.UnmarshalCountMin(b)
		if err != nil {
			return types.Datum{}, false
		}
		return types.Datum{I: int64(c.Estimate(h))}, true
	})
	funcs["bloom_contains"] = buildHashRead("bloom_contains", types.Bool, func(b []byte, h uint64) (types.Datum, bool) {
		f, err := sketch.UnmarshalBloom(b)
		if err != nil {
			return types.Datum{}, false
		}
		return types.NewBool(f.Contains(h)), true
	})
	funcs["bloom_cardinality"] = buildBloomCardinality
	funcs["topk_values"] = buildTopK(types.TextArray, func(it sketch.TopKItem) types.Datum {
		return types.NewText(string(it.Value))
	})
	funcs["topk_freqs"] = buildTopK(types.Int8Array, func(it sketch.TopKItem) types.Datum {
		return types.NewInt(types.Int8, int64(min(it.Count, 1<<63-1)))
	})
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

// HashValue is the stable 64-bit hash sketches key a non-NULL value by:
// Hash64 of its AppendKey encoding (the same bytes on every machine, and
// for every integer type alike).
func HashValue(d types.Datum) uint64 {
	var buf [64]byte
	return sketch.Hash64(AppendKey(buf[:0], d))
}

var sketchKinds = map[string]string{"freq": "count-min", "bloom_contains": "Bloom filter", "bloom_cardinality": "Bloom filter"}

// buildHashRead builds f(sketch bytea, x): x (any type; an untyped
// literal is text) is hashed as the aggregate hashed its values.
func buildHashRead(name string, t types.T, read func(b []byte, h uint64) (types.Datum, bool)) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if len(args) != 2 || !(args[0].T == types.Bytea || args[0].Untyped || args[0].Param > 0) {
			return nil, errNoMatch
		}
		sk, err := c.Coerce(args[0], types.Bytea, f.Args[0].Pos())
		if err != nil {
			return nil, err
		}
		x := args[1]
		if x.Untyped || x.Param > 0 {
			if x, err = c.Coerce(x, types.Text, f.Args[1].Pos()); err != nil {
				return nil, err
			}
		}
		return fold(newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
			d, err := sk.Fn(ec, in)
			if err != nil || d.Null {
				return types.NullOf(t), err
			}
			v, err := x.Fn(ec, in)
			if err != nil {
				return d, err
			}
			if v.Null {
				return types.NullOf(t), nil
			}
			r, ok := read([]byte(d.S), HashValue(v))
			if !ok {
				return d, pgerr.NotASketch.New(name, sketchKinds[name])
			}
			r.T = t
			return r, nil
		}), sk, x)
	}
}

func buildBloomCardinality(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if err := c.want(f, args, types.Bytea); err != nil {
		return nil, err
	}
	return unaryFn(types.Int8, args[0], func(d types.Datum) (types.Datum, error) {
		b, err := sketch.UnmarshalBloom([]byte(d.S))
		if err != nil {
			return d, pgerr.NotASketch.New("bloom_cardinality", "Bloom filter")
		}
		return types.Datum{I: int64(b.Cardinality())}, nil
	}), nil
}

// buildTopK builds topk_values / topk_freqs: the sketch's best k items
// (count descending, then value), as an array of one field of each.
func buildTopK(t types.T, field func(sketch.TopKItem) types.Datum) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if err := c.want(f, args, types.Bytea); err != nil {
			return nil, err
		}
		return unaryFn(t, args[0], func(d types.Datum) (types.Datum, error) {
			tk, err := sketch.UnmarshalTopK([]byte(d.S))
			if err != nil {
				return d, pgerr.NotASketch.New(f.Name, "top-k")
			}
			items := tk.Top()
			ds := make([]types.Datum, len(items))
			for i, it := range items {
				ds[i] = field(it)
			}
			return types.Datum{S: string(types.AppendArray(nil, ds))}, nil
		}), nil
	}
}
