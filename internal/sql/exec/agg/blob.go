package agg

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Variable-size aggregates: string_agg, keyed_min/keyed_max, exact
// percentiles (SELECT only), and the value set behind DISTINCT.

func blobAggs() map[string]extDef {
	m := map[string]extDef{
		"string_agg": {direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) != 2 {
				return errNoMatch
			}
			// string_agg(text, text) or string_agg(bytea, bytea).
			t := types.Text
			if args[0].T == types.Bytea {
				t = types.Bytea
			}
			for _, a := range args {
				if !(a.T == t || a.Untyped || a.Param > 0) {
					return errNoMatch
				}
			}
			if err := sc.coerceAll(f, args, t); err != nil {
				return err
			}
			s.Args, s.Arg, s.T, s.Blob = args, args[0], t, stringAgg{t: t}
			return nil
		}},
	}
	m["combine"] = extDef{direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
		return pgerr.CombineUnsupported.New().WithPos(f.P)
	}}
	for name, max := range map[string]bool{"keyed_min": false, "keyed_max": true} {
		m[name] = extDef{direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) != 2 {
				return errNoMatch
			}
			for i, a := range args {
				if a.Untyped || a.Param > 0 {
					c, err := sc.In.Coerce(a, types.Text, argPos(f, i))
					if err != nil {
						return err
					}
					args[i] = c
				}
			}
			s.Args, s.Arg, s.T = args, args[0], args[1].T
			s.Blob = keyedAgg{max: max, kt: args[0].T, vt: args[1].T}
			return nil
		}}
	}
	const discHint = "percentile_disc returns one of the input values, which a view's t-digest does not keep; use percentile_cont (approximated in a view), or SELECT over the stream"
	for name, cont := range map[string]bool{"percentile_cont": true, "percentile_disc": false} {
		hint := ""
		if !cont {
			hint = discHint
		}
		m[name] = extDef{direct: 1, notInView: hint, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) != 2 || len(f.WithinGroup) != 1 {
				return errNoMatch
			}
			frac := args[0]
			// The fraction, or an array of fractions (one result each).
			arrayForm := frac.T.IsArray() && frac.T.Elem().IsNumeric()
			switch {
			case arrayForm:
			case frac.Untyped || frac.Param > 0 || frac.T.IsNumeric():
				var err error
				if frac, err = sc.In.Coerce(frac, types.Float8, argPos(f, 0)); err != nil {
					return err
				}
			default:
				return errNoMatch
			}
			fd, ok := frac.Const()
			if !ok {
				return pgerr.AggDirectArgNotConst.New("fraction", f.Name).WithPos(argPos(f, 0))
			}
			var fracs []float64
			if arrayForm {
				if fd.Null {
					return pgerr.PercentileRange.New("NULL").WithPos(argPos(f, 0))
				}
				ds, err := types.ArrayDatums(frac.T.Elem(), fd.S)
				if err != nil {
					return err
				}
				for _, d := range ds {
					if d.Null {
						return pgerr.PercentileRange.New("NULL").WithPos(argPos(f, 0))
					}
					fracs = append(fracs, d.Float())
				}
			} else {
				if fd.Null {
					return pgerr.PercentileRange.New("NULL").WithPos(argPos(f, 0))
				}
				fracs = []float64{fd.F}
			}
			for _, q := range fracs {
				if q < 0 || q > 1 || math.IsNaN(q) {
					return pgerr.PercentileRange.New(q).WithPos(argPos(f, 0))
				}
			}
			x := args[1]
			if cont {
				if !numericArgs(args[1:]) {
					return errNoMatch
				}
				if err := sc.coerceAll(f, args[1:], types.Float8); err != nil {
					return err
				}
				x = args[1]
			} else if x.Untyped || x.Param > 0 {
				var err error
				if x, err = sc.In.Coerce(x, types.Text, argPos(f, 1)); err != nil {
					return err
				}
			}
			s.Args, s.Arg, s.T = []*scalar.Node{x}, x, x.T
			var at types.T
			if arrayForm {
				if at, ok = types.ArrayOf(x.T); !ok {
					return errNoMatch
				}
				s.T = at
			}
			desc := f.WithinGroup[0].Desc
			s.Blob = percentile{cont: cont, fracs: fracs, array: arrayForm, at: at, desc: desc, t: x.T}
			if cont {
				qs := make([]float64, len(fracs))
				for i, q := range fracs {
					if desc {
						q = 1 - q
					}
					qs[i] = q
				}
				s.ViewBlob = tdigestPercentile{fracs: qs, array: arrayForm}
			}
			return nil
		}}
	}
	return m
}

// stringAgg concatenates non-NULL values with the separator given in each
// value's row before every value but the first. The state keeps the first
// separator too (its length in first), so states concatenate: a merge is
// a followed by b. In SELECT the order is the scan's; in a view, the fold
// order within a shard (stream order) and, across merges, the order the
// states are merged in (Raft log order on a shard).
type stringAgg struct{ t types.T }

type stringState struct {
	t     types.T
	has   bool
	first int // length of the first value's separator, dropped at the end
	b     []byte
}

func (a stringAgg) New() BlobState { return &stringState{t: a.t} }

func (a stringAgg) Decode(buf []byte) (BlobState, error) {
	if len(buf) < 1 || buf[0] > 1 {
		return nil, scalar.ErrCorruptState
	}
	st := &stringState{t: a.t, has: buf[0] == 1}
	first, k := binary.Uvarint(buf[1:])
	if k <= 0 || first > uint64(len(buf)-1-k) || (!st.has && (first != 0 || len(buf) != 1+k)) {
		return nil, scalar.ErrCorruptState
	}
	st.first = int(first)
	st.b = slices.Clone(buf[1+k:])
	return st, nil
}

func (s *stringState) Add(args []types.Datum) error {
	x, sep := args[0], args[1]
	if x.Null {
		return nil
	}
	if sep.Null {
		sep.S = ""
	}
	if !s.has {
		s.has, s.first = true, len(sep.S)
	}
	s.b = append(s.b, sep.S...)
	s.b = append(s.b, x.S...)
	return nil
}

func (s *stringState) Merge(o BlobState) error {
	b := o.(*stringState)
	if !b.has {
		return nil
	}
	if !s.has {
		s.has, s.first = true, b.first
	}
	s.b = append(s.b, b.b...)
	return nil
}

func (s *stringState) Append(dst []byte) []byte {
	if s.has {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(s.first))
	return append(dst, s.b...)
}

func (s *stringState) Result() (types.Datum, error) {
	if !s.has {
		return types.NullOf(s.t), nil
	}
	return types.Datum{T: s.t, S: string(s.b[s.first:])}, nil
}

// keyedAgg is PipelineDB's keyed_min(key, value) / keyed_max: the value
// of the row with the least (greatest) non-NULL key; on equal keys the
// first folded wins, and a merge prefers its receiver.
type keyedAgg struct {
	max    bool
	kt, vt types.T
}

type keyedState struct {
	a        *keyedAgg
	has      bool
	key, val types.Datum
}

func (k keyedAgg) New() BlobState { return &keyedState{a: &k} }

func (k keyedAgg) Decode(buf []byte) (BlobState, error) {
	st := &keyedState{a: &k}
	if len(buf) == 0 {
		return st, nil
	}
	var err error
	if st.key, buf, err = scalar.DecodeKey(buf, k.kt); err != nil {
		return nil, err
	}
	if st.val, buf, err = scalar.DecodeKey(buf, k.vt); err != nil {
		return nil, err
	}
	if len(buf) != 0 || st.key.Null {
		return nil, scalar.ErrCorruptState
	}
	st.has = true
	return st, nil
}

func (s *keyedState) better(key types.Datum) bool {
	if !s.has {
		return true
	}
	c := scalar.CompareDatums(key, s.key)
	return (s.a.max && c > 0) || (!s.a.max && c < 0)
}

func (s *keyedState) Add(args []types.Datum) error {
	if args[0].Null || !s.better(args[0]) {
		return nil
	}
	s.has, s.key, s.val = true, scalar.Own(args[0]), scalar.Own(args[1])
	return nil
}

func (s *keyedState) Merge(o BlobState) error {
	b := o.(*keyedState)
	if b.has && s.better(b.key) {
		s.has, s.key, s.val = true, b.key, b.val
	}
	return nil
}

func (s *keyedState) Append(dst []byte) []byte {
	if !s.has {
		return dst
	}
	dst = scalar.AppendKey(dst, s.key)
	return scalar.AppendKey(dst, s.val)
}

func (s *keyedState) Result() (types.Datum, error) {
	if !s.has {
		return types.NullOf(s.a.vt), nil
	}
	return s.val, nil
}

// percentile is the exact percentile_cont / percentile_disc of a SELECT:
// it keeps every non-NULL value. A view keeps a t-digest instead
// (percentile_cont; Spec.ViewBlob) or refuses it (percentile_disc).
type percentile struct {
	cont  bool
	fracs []float64 // one, or the array form's
	array bool      // the array form: the result is an array (of at)
	at    types.T
	desc  bool
	t     types.T
}

type percentileState struct {
	p    *percentile
	vals []types.Datum
}

func (p percentile) New() BlobState { return &percentileState{p: &p} }

func (p percentile) Decode(buf []byte) (BlobState, error) {
	st := &percentileState{p: &p}
	for len(buf) > 0 {
		d, rest, err := scalar.DecodeKey(buf, p.t)
		if err != nil {
			return nil, err
		}
		if d.Null {
			return nil, scalar.ErrCorruptState
		}
		st.vals, buf = append(st.vals, d), rest
	}
	return st, nil
}

func (s *percentileState) Add(args []types.Datum) error {
	if !args[0].Null {
		s.vals = append(s.vals, scalar.Own(args[0]))
	}
	return nil
}

func (s *percentileState) Merge(o BlobState) error {
	s.vals = append(s.vals, o.(*percentileState).vals...)
	return nil
}

func (s *percentileState) Append(dst []byte) []byte {
	for _, d := range s.vals {
		dst = scalar.AppendKey(dst, d)
	}
	return dst
}

func (s *percentileState) Result() (types.Datum, error) {
	n := len(s.vals)
	if n == 0 {
		if s.p.array {
			return types.NullOf(s.p.at), nil
		}
		return types.NullOf(s.p.t), nil
	}
	vals := slices.Clone(s.vals)
	slices.SortStableFunc(vals, func(a, b types.Datum) int {
		if s.p.desc {
			return scalar.CompareDatums(b, a)
		}
		return scalar.CompareDatums(a, b)
	})
	if !s.p.array {
		return s.p.at1(vals, s.p.fracs[0]), nil
	}
	out := make([]types.Datum, len(s.p.fracs))
	for i, q := range s.p.fracs {
		out[i] = s.p.at1(vals, q)
	}
	return types.Datum{T: s.p.at, S: string(types.AppendArray(nil, out))}, nil
}

// at1 is the percentile frac of the sorted values.
func (p *percentile) at1(vals []types.Datum, frac float64) types.Datum {
	n := len(vals)
	if !p.cont {
		// The first value whose cumulative fraction reaches frac.
		i := int(math.Ceil(frac*float64(n))) - 1
		return vals[max(i, 0)]
	}
	pos := frac * float64(n-1)
	lo := math.Floor(pos)
	a := vals[int(lo)].F
	if lo == pos {
		return types.NewFloat(types.Float8, a)
	}
	b := vals[int(lo)+1].F
	return types.NewFloat(types.Float8, a+(b-a)*(pos-lo))
}

// distinctAgg is the DISTINCT form of any aggregate: the state is the set
// of distinct argument tuples (each encoded with scalar.AppendKey), so it
// merges exactly (a union). Finalizing folds the tuples into the inner
// aggregate in the order of their encoding (value order for one numeric
// or text argument), in SELECT and views alike.
type distinctAgg struct {
	inner *Spec
	ts    []types.T
}

// wrapDistinct turns spec into the DISTINCT form of itself.
func wrapDistinct(spec *Spec) {
	inner := *spec
	inner.Distinct, inner.Filter = false, nil
	ts := make([]types.T, len(spec.Args))
	for i, a := range spec.Args {
		ts[i] = a.T
	}
	spec.Kind, spec.Fixed = Other, nil
	spec.Blob = &distinctAgg{inner: &inner, ts: ts}
}

type distinctState struct {
	a   *distinctAgg
	set map[string]struct{}
	buf []byte
}

func (d *distinctAgg) New() BlobState { return &distinctState{a: d, set: map[string]struct{}{}} }

func (d *distinctAgg) Decode(buf []byte) (BlobState, error) {
	st := &distinctState{a: d, set: map[string]struct{}{}}
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)) {
		return nil, scalar.ErrCorruptState
	}
	buf = buf[k:]
	for range n {
		key, rest, err := readBytes(buf)
		if err != nil {
			return nil, err
		}
		if _, err := d.decodeTuple(key, nil); err != nil {
			return nil, err
		}
		st.set[string(key)] = struct{}{}
		buf = rest
	}
	if len(buf) != 0 || len(st.set) != int(n) {
		return nil, scalar.ErrCorruptState
	}
	return st, nil
}

func (d *distinctAgg) decodeTuple(key []byte, dst []types.Datum) ([]types.Datum, error) {
	for _, t := range d.ts {
		var v types.Datum
		var err error
		if v, key, err = scalar.DecodeKey(key, t); err != nil {
			return nil, err
		}
		dst = append(dst, v)
	}
	if len(key) != 0 {
		return nil, scalar.ErrCorruptState
	}
	return dst, nil
}

func (s *distinctState) Add(args []types.Datum) error {
	s.buf = s.buf[:0]
	for _, v := range args {
		s.buf = scalar.AppendKey(s.buf, v)
	}
	if _, ok := s.set[string(s.buf)]; !ok {
		s.set[string(s.buf)] = struct{}{}
	}
	return nil
}

func (s *distinctState) Merge(o BlobState) error {
	for k := range o.(*distinctState).set {
		s.set[k] = struct{}{}
	}
	return nil
}

func (s *distinctState) sorted() []string {
	keys := make([]string, 0, len(s.set))
	for k := range s.set {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (s *distinctState) Append(dst []byte) []byte {
	keys := s.sorted()
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
	}
	return dst
}

func (s *distinctState) Result() (types.Datum, error) {
	var acc Accum
	var args []types.Datum
	var scratch []byte
	for _, k := range s.sorted() {
		var err error
		if args, err = s.a.decodeTuple([]byte(k), args[:0]); err != nil {
			return types.Datum{}, err
		}
		for i := range args {
			args[i] = scalar.Own(args[i])
		}
		if err := acc.AddRow(s.a.inner, args, &scratch); err != nil {
			return types.Datum{}, err
		}
	}
	return acc.ResultErr(s.a.inner)
}
