package agg

import (
	"errors"
	"math"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sketch"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Sketch aggregates (package sketch): bounded states with a stated error.
// approx_count_distinct / hll_count_distinct keep a HyperLogLog (precision
// 14, standard error 0.81%) in SELECT and views alike. percentile_cont in
// a continuous view keeps a t-digest (δ = 100; measured rank error at most
// 0.003 after merging, exact while at most 100 distinct values were seen),
// where a SELECT computes it exactly.

func sketchAggs() map[string]extDef {
	m := map[string]extDef{}
	for name, d := range sketchValueAggs() {
		m[name] = d
	}
	for _, name := range []string{"approx_count_distinct", "hll_count_distinct"} {
		m[name] = extDef{direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) != 1 {
				return errNoMatch
			}
			if args[0].Untyped || args[0].Param > 0 {
				if err := sc.coerceAll(f, args, types.Text); err != nil {
					return err
				}
			}
			s.Args, s.Arg, s.T, s.Blob = args, args[0], types.Int8, hllCount{p: sketch.DefaultHLLPrecision}
			return nil
		}}
	}
	return m
}

// sketchErr maps a sketch package error to a client error: a parameter
// out of range is 22023 naming the valid range, a corrupt encoding is
// the corrupt-state error.
func sketchErr(err error) error {
	var pe *sketch.ParamError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return pgerr.SketchParam.New(pe.Error())
	case errors.Is(err, sketch.ErrCorrupt):
		return scalar.ErrCorruptState
	case errors.Is(err, sketch.ErrIncompatible):
		return pgerr.SketchParam.New(err.Error())
	}
	return err
}

func hashDatum(d types.Datum) uint64 { return scalar.HashValue(d) }

// hllCount is approx_count_distinct(x): a HyperLogLog of the non-NULL
// values' hashes, finalized to its estimate; with raw, hll_agg(x), whose
// result is the sketch (bytea).
type hllCount struct {
	p   int
	raw bool
}

// hllState is a HyperLogLog state. For hll_union_agg (union) h is nil
// until the first sketch arrives, and inputs are sketches to merge.
type hllState struct {
	h     *sketch.HLL
	raw   bool
	union bool
}

func (a hllCount) New() BlobState {
	h, err := sketch.NewHLL(a.p)
	if err != nil {
		panic(err) // a is built with a valid precision
	}
	return &hllState{h: h, raw: a.raw}
}

func (a hllCount) Decode(buf []byte) (BlobState, error) {
	h, err := sketch.UnmarshalHLL(buf)
	if err != nil {
		return nil, sketchErr(err)
	}
	return &hllState{h: h, raw: a.raw}, nil
}

func (s *hllState) Add(args []types.Datum) error {
	if args[0].Null {
		return nil
	}
	if s.union {
		o, err := sketch.UnmarshalHLL([]byte(args[0].S))
		if err != nil {
			return pgerr.NotASketch.New("hll_union_agg", "HyperLogLog")
		}
		if s.h == nil {
			s.h = o
			return nil
		}
		return sketchErr(s.h.Merge(o))
	}
	s.h.Add(hashDatum(args[0]))
	return nil
}

func (s *hllState) Merge(o BlobState) error {
	b := o.(*hllState)
	switch {
	case b.h == nil:
		return nil
	case s.h == nil:
		s.h = b.h
		return nil
	}
	return sketchErr(s.h.Merge(b.h))
}

// Append encodes the sketch (nothing for a union that saw none).
func (s *hllState) Append(dst []byte) []byte {
	if s.h == nil {
		return dst
	}
	return s.h.AppendTo(dst)
}

func (s *hllState) Result() (types.Datum, error) {
	switch {
	case s.h == nil:
		return types.NullOf(types.Bytea), nil
	case s.raw:
		return types.Datum{T: types.Bytea, S: string(s.h.Marshal())}, nil
	}
	return types.NewInt(types.Int8, int64(s.h.Estimate())), nil
}

// tdigestPercentile is percentile_cont(frac) WITHIN GROUP (ORDER BY x)
// in a continuous view: a t-digest of the non-NULL values; with raw,
// dist_agg(x), whose result is the digest (bytea).
type tdigestPercentile struct {
	fracs       []float64 // already flipped for ORDER BY ... DESC
	array       bool      // the array form: a float8[] result
	compression float64   // 0 = the default
	raw         bool
}

type tdigestState struct {
	a *tdigestPercentile
	t *sketch.TDigest
}

func (a tdigestPercentile) New() BlobState {
	c := a.compression
	if c == 0 {
		c = sketch.DefaultTDigestCompression
	}
	t, err := sketch.NewTDigest(c)
	if err != nil {
		panic(err) // the default compression is valid
	}
	return &tdigestState{&a, t}
}

func (a tdigestPercentile) Decode(buf []byte) (BlobState, error) {
	t, err := sketch.UnmarshalTDigest(buf)
	if err != nil {
		return nil, sketchErr(err)
	}
	return &tdigestState{&a, t}, nil
}

func (s *tdigestState) Add(args []types.Datum) error {
	if args[0].Null {
		return nil
	}
	return sketchErr(s.t.Add(args[0].F, 1))
}

func (s *tdigestState) Merge(o BlobState) error { return sketchErr(s.t.Merge(o.(*tdigestState).t)) }

func (s *tdigestState) Append(dst []byte) []byte { return s.t.AppendTo(dst) }

func (s *tdigestState) Result() (types.Datum, error) {
	if s.a.raw {
		return types.Datum{T: types.Bytea, S: string(s.t.Marshal())}, nil
	}
	t := types.Float8
	if s.a.array {
		t = types.Float8Array
	}
	if s.t.Count() == 0 {
		return types.NullOf(t), nil
	}
	out := make([]types.Datum, len(s.a.fracs))
	for i, frac := range s.a.fracs {
		q, err := s.t.Quantile(frac)
		if err != nil || math.IsNaN(q) {
			return types.Datum{}, sketchErr(err)
		}
		out[i] = types.NewFloat(types.Float8, q)
	}
	if !s.a.array {
		return out[0], nil
	}
	return types.Datum{T: t, S: string(types.AppendArray(nil, out))}, nil
}

// sketchValueAggs are the aggregates whose result is the sketch itself,
// a bytea value the reader functions (hll_cardinality, dist_quantile, ...)
// take apart: hll_agg(x [, precision]), hll_union_agg(hll) and
// dist_agg(x [, compression]).
func sketchValueAggs() map[string]extDef {
	// constParam reads the optional constant integer parameter at args[i].
	constParam := func(sc *Scope, f *parser.Func, args []*scalar.Node, i int, what string, def int) (int, error) {
		if len(args) <= i {
			return def, nil
		}
		a := args[i]
		if !(a.T.IsInt() || a.Untyped || a.Param > 0) {
			return 0, errNoMatch
		}
		c, err := sc.In.Coerce(a, types.Int8, argPos(f, i))
		if err != nil {
			return 0, err
		}
		d, ok := c.Const()
		if !ok || d.Null {
			return 0, pgerr.AggDirectArgNotConst.New(what, f.Name).WithPos(argPos(f, i))
		}
		return int(max(min(d.I, 1<<30), -1<<30)), nil
	}
	return map[string]extDef{
		"hll_agg": {direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) < 1 || len(args) > 2 {
				return errNoMatch
			}
			p, err := constParam(sc, f, args, 1, "precision", sketch.DefaultHLLPrecision)
			if err != nil {
				return err
			}
			if _, err := sketch.NewHLL(p); err != nil {
				return sketchErr(err).(*pgerr.Error).WithPos(argPos(f, 1))
			}
			if args[0].Untyped || args[0].Param > 0 {
				if err := sc.coerceAll(f, args[:1], types.Text); err != nil {
					return err
				}
			}
			s.Args, s.Arg, s.T, s.Blob = args[:1], args[0], types.Bytea, hllCount{p: p, raw: true}
			return nil
		}},
		"hll_union_agg": {direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) != 1 || args[0].T != types.Bytea {
				return errNoMatch
			}
			s.Args, s.Arg, s.T, s.Blob = args, args[0], types.Bytea, hllUnion{}
			return nil
		}},
		"topk_agg": {direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) != 2 {
				return errNoMatch
			}
			k, err := constParam(sc, f, args, 1, "k", 0)
			if err != nil {
				return err
			}
			if _, err := sketch.NewTopK(k); err != nil {
				return sketchErr(err).(*pgerr.Error).WithPos(argPos(f, 1))
			}
			if args[0].Untyped || args[0].Param > 0 {
				if err := sc.coerceAll(f, args[:1], types.Text); err != nil {
					return err
				}
			}
			s.Args, s.Arg, s.T, s.Blob = args[:1], args[0], types.Bytea, topkAgg{k: k}
			return nil
		}},
		"freq_agg": {direct: -1, build: hashSketchBuild(func() (hashSketch, error) {
			c, err := sketch.NewCountMin(sketch.DefaultCountMinEpsilon, sketch.DefaultCountMinDelta)
			return cmsSketch{c}, err
		}, func(b []byte) (hashSketch, error) {
			c, err := sketch.UnmarshalCountMin(b)
			return cmsSketch{c}, err
		})},
		"bloom_agg": {direct: -1, build: hashSketchBuild(func() (hashSketch, error) {
			c, err := sketch.NewBloom(sketch.DefaultBloomCapacity, sketch.DefaultBloomFPRate)
			return bloomSketch{c}, err
		}, func(b []byte) (hashSketch, error) {
			c, err := sketch.UnmarshalBloom(b)
			return bloomSketch{c}, err
		})},
		"dist_agg": {direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) < 1 || len(args) > 2 || !numericArgs(args[:1]) {
				return errNoMatch
			}
			c, err := constParam(sc, f, args, 1, "compression", sketch.DefaultTDigestCompression)
			if err != nil {
				return err
			}
			if _, err := sketch.NewTDigest(float64(c)); err != nil {
				return sketchErr(err).(*pgerr.Error).WithPos(argPos(f, 1))
			}
			if err := sc.coerceAll(f, args[:1], types.Float8); err != nil {
				return err
			}
			s.Args, s.Arg, s.T = args[:1], args[0], types.Bytea
			s.Blob = tdigestPercentile{compression: float64(c), raw: true}
			return nil
		}},
	}
}

// hllUnion is hll_union_agg(hll): the union of HyperLogLog sketches
// (bytea values made by hll_agg), itself a sketch.
type hllUnion struct{}

func (hllUnion) New() BlobState { return &hllState{raw: true, union: true} }

func (hllUnion) Decode(buf []byte) (BlobState, error) {
	if len(buf) == 0 {
		return &hllState{raw: true, union: true}, nil
	}
	h, err := sketch.UnmarshalHLL(buf)
	if err != nil {
		return nil, sketchErr(err)
	}
	return &hllState{h: h, raw: true, union: true}, nil
}

// hashSketch is a sketch fed with value hashes (count-min, Bloom).
type hashSketch interface {
	add(h uint64)
	merge(o hashSketch) error
	appendTo(dst []byte) []byte
}

type cmsSketch struct{ c *sketch.CountMin }

func (s cmsSketch) add(h uint64)               { s.c.Add(h, 1) }
func (s cmsSketch) merge(o hashSketch) error   { return s.c.Merge(o.(cmsSketch).c) }
func (s cmsSketch) appendTo(dst []byte) []byte { return s.c.AppendTo(dst) }

type bloomSketch struct{ b *sketch.Bloom }

func (s bloomSketch) add(h uint64)               { s.b.Add(h) }
func (s bloomSketch) merge(o hashSketch) error   { return s.b.Merge(o.(bloomSketch).b) }
func (s bloomSketch) appendTo(dst []byte) []byte { return s.b.AppendTo(dst) }

// hashSketchBuild resolves freq_agg(x) / bloom_agg(x): any value type,
// hashed like the readers (freq, bloom_contains) hash their argument.
func hashSketchBuild(newSk func() (hashSketch, error), decode func([]byte) (hashSketch, error)) func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
	return func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
		if len(args) != 1 {
			return errNoMatch
		}
		if args[0].Untyped || args[0].Param > 0 {
			if err := sc.coerceAll(f, args, types.Text); err != nil {
				return err
			}
		}
		s.Args, s.Arg, s.T, s.Blob = args, args[0], types.Bytea, hashSketchAgg{newSk, decode}
		return nil
	}
}

type hashSketchAgg struct {
	newSk  func() (hashSketch, error)
	decode func([]byte) (hashSketch, error)
}

type hashSketchState struct{ s hashSketch }

func (a hashSketchAgg) New() BlobState {
	s, err := a.newSk()
	if err != nil {
		panic(err) // default parameters are valid
	}
	return &hashSketchState{s}
}

func (a hashSketchAgg) Decode(buf []byte) (BlobState, error) {
	s, err := a.decode(buf)
	if err != nil {
		return nil, sketchErr(err)
	}
	return &hashSketchState{s}, nil
}

func (st *hashSketchState) Add(args []types.Datum) error {
	if !args[0].Null {
		st.s.add(hashDatum(args[0]))
	}
	return nil
}

func (st *hashSketchState) Merge(o BlobState) error {
	return sketchErr(st.s.merge(o.(*hashSketchState).s))
}

func (st *hashSketchState) Append(dst []byte) []byte { return st.s.appendTo(dst) }

func (st *hashSketchState) Result() (types.Datum, error) {
	return types.Datum{T: types.Bytea, S: string(st.s.appendTo(nil))}, nil
}

// topkAgg is topk_agg(x, k): a Space-Saving top-k sketch (bytea) of the
// non-NULL values, each held as its text form (topk_values returns
// text[]: a function's result type is fixed when it is compiled, and the
// sketch does not say which type its values had).
type topkAgg struct{ k int }

type topkState struct {
	t   *sketch.TopK
	buf []byte
}

func (a topkAgg) New() BlobState {
	t, err := sketch.NewTopK(a.k)
	if err != nil {
		panic(err) // k was checked when the aggregate was planned
	}
	return &topkState{t: t}
}

func (topkAgg) Decode(buf []byte) (BlobState, error) {
	t, err := sketch.UnmarshalTopK(buf)
	if err != nil {
		return nil, sketchErr(err)
	}
	return &topkState{t: t}, nil
}

func (s *topkState) Add(args []types.Datum) error {
	if !args[0].Null {
		s.buf = types.AppendText(s.buf[:0], args[0])
		s.t.Add(s.buf, 1)
	}
	return nil
}

func (s *topkState) Merge(o BlobState) error { return sketchErr(s.t.Merge(o.(*topkState).t)) }

func (s *topkState) Append(dst []byte) []byte { return s.t.AppendTo(dst) }

func (s *topkState) Result() (types.Datum, error) {
	return types.Datum{T: types.Bytea, S: string(s.t.Marshal())}, nil
}
