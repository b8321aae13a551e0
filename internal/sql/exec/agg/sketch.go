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
	}
	return err
}

// hashDatum is the stable 64-bit hash of a non-NULL value: Hash64 of its
// order-preserving key encoding (the same bytes on every machine).
func hashDatum(d types.Datum) uint64 {
	var buf [64]byte
	return sketch.Hash64(scalar.AppendKey(buf[:0], d))
}

// hllCount is approx_count_distinct(x): a HyperLogLog of the non-NULL
// values' hashes, finalized to its estimate.
type hllCount struct{ p int }

type hllState struct{ h *sketch.HLL }

func (a hllCount) New() BlobState {
	h, err := sketch.NewHLL(a.p)
	if err != nil {
		panic(err) // a is built with a valid precision
	}
	return &hllState{h}
}

func (hllCount) Decode(buf []byte) (BlobState, error) {
	h, err := sketch.UnmarshalHLL(buf)
	if err != nil {
		return nil, sketchErr(err)
	}
	return &hllState{h}, nil
}

func (s *hllState) Add(args []types.Datum) error {
	if !args[0].Null {
		s.h.Add(hashDatum(args[0]))
	}
	return nil
}

func (s *hllState) Merge(o BlobState) error { return sketchErr(s.h.Merge(o.(*hllState).h)) }

func (s *hllState) Append(dst []byte) []byte { return s.h.AppendTo(dst) }

func (s *hllState) Result() (types.Datum, error) {
	return types.NewInt(types.Int8, int64(s.h.Estimate())), nil
}

// tdigestPercentile is percentile_cont(frac) WITHIN GROUP (ORDER BY x)
// in a continuous view: a t-digest of the non-NULL values.
type tdigestPercentile struct {
	frac float64 // already flipped for ORDER BY ... DESC
}

type tdigestState struct {
	a *tdigestPercentile
	t *sketch.TDigest
}

func (a tdigestPercentile) New() BlobState {
	t, err := sketch.NewTDigest(sketch.DefaultTDigestCompression)
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
	if s.t.Count() == 0 {
		return types.NullOf(types.Float8), nil
	}
	q, err := s.t.Quantile(s.a.frac)
	if err != nil || math.IsNaN(q) {
		return types.Datum{}, sketchErr(err)
	}
	return types.NewFloat(types.Float8, q), nil
}
