package agg

import (
	"encoding/binary"
	"slices"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Array results: array_agg(x) (fold order, like string_agg: stream order
// in a view), PipelineDB's set_agg(x) (array_agg(DISTINCT x): the
// distinct values in encoded-key order) and first_values(n) WITHIN GROUP
// (ORDER BY x) (the n first values of x in that order: a bounded state
// that keeps only n values). Arrays exist for bool, the integers, real,
// double precision, numeric and text; other element types are 42883.

func arrayAggs() map[string]extDef {
	elemArray := func(sc *Scope, f *parser.Func, args []*scalar.Node, i int) (types.T, error) {
		if args[i].Untyped || args[i].Param > 0 {
			c, err := sc.In.Coerce(args[i], types.Text, argPos(f, i))
			if err != nil {
				return 0, err
			}
			args[i] = c
		}
		at, ok := types.ArrayOf(args[i].T)
		if !ok {
			return 0, errNoMatch
		}
		return at, nil
	}
	arrayAgg := func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
		if len(args) != 1 {
			return errNoMatch
		}
		at, err := elemArray(sc, f, args, 0)
		if err != nil {
			return err
		}
		s.Args, s.Arg, s.T, s.Blob = args, args[0], at, listAgg{elem: args[0].T, at: at}
		return nil
	}
	return map[string]extDef{
		"array_agg": {direct: -1, build: arrayAgg},
		"set_agg": {direct: -1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if err := arrayAgg(sc, f, s, args); err != nil {
				return err
			}
			s.Distinct = true // finishAgg wraps it in the value set
			return nil
		}},
		"first_values": {direct: 1, build: func(sc *Scope, f *parser.Func, s *Spec, args []*scalar.Node) error {
			if len(args) != 2 || len(f.WithinGroup) != 1 {
				return errNoMatch
			}
			n := args[0]
			if !(n.T.IsInt() || n.Untyped || n.Param > 0) {
				return errNoMatch
			}
			n, err := sc.In.Coerce(n, types.Int8, argPos(f, 0))
			if err != nil {
				return err
			}
			nd, ok := n.Const()
			if !ok || nd.Null {
				return pgerr.AggDirectArgNotConst.New("count", f.Name).WithPos(argPos(f, 0))
			}
			if nd.I < 1 || nd.I > maxFirstValues {
				return pgerr.FirstValuesRange.New(nd.I, maxFirstValues).WithPos(argPos(f, 0))
			}
			at, err := elemArray(sc, f, args, 1)
			if err != nil {
				return err
			}
			o := f.WithinGroup[0]
			nullsFirst := o.Desc // PostgreSQL's default: NULLs sort as larger than any value
			if o.NullsFirst != nil {
				nullsFirst = *o.NullsFirst
			}
			s.Args, s.Arg, s.T = args[1:], args[1], at
			s.Blob = listAgg{elem: args[1].T, at: at, keep: int(nd.I), desc: o.Desc, nullsFirst: nullsFirst}
			return nil
		}},
	}
}

const maxFirstValues = 10000

// listAgg keeps a list of values: all of them in fold order (array_agg),
// or, with keep > 0, the keep first in the ORDER BY order (first_values;
// equal values keep fold order).
type listAgg struct {
	elem, at   types.T
	keep       int
	desc       bool
	nullsFirst bool
}

type listState struct {
	a    listAgg
	vals []types.Datum
}

func (a listAgg) New() BlobState { return &listState{a: a} }

func (a listAgg) Decode(buf []byte) (BlobState, error) {
	st := &listState{a: a}
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)) || (a.keep > 0 && n > uint64(a.keep)) {
		return nil, scalar.ErrCorruptState
	}
	buf = buf[k:]
	for range n {
		d, rest, err := scalar.DecodeKey(buf, a.elem)
		if err != nil {
			return nil, err
		}
		st.vals, buf = append(st.vals, d), rest
	}
	if len(buf) != 0 {
		return nil, scalar.ErrCorruptState
	}
	return st, nil
}

func (a listAgg) cmp(x, y types.Datum) int {
	c := scalar.CompareNullable(x, y, a.nullsFirst)
	if a.desc && !x.Null && !y.Null {
		c = -c
	}
	return c
}

// trim keeps the first keep values in order (stable: fold order on ties).
func (s *listState) trim() {
	if s.a.keep == 0 || len(s.vals) <= s.a.keep {
		return
	}
	slices.SortStableFunc(s.vals, s.a.cmp)
	clear(s.vals[s.a.keep:])
	s.vals = s.vals[:s.a.keep]
}

func (s *listState) Add(args []types.Datum) error {
	s.vals = append(s.vals, scalar.Own(args[0]))
	if s.a.keep > 0 && len(s.vals) >= 2*s.a.keep {
		s.trim()
	}
	return nil
}

func (s *listState) Merge(o BlobState) error {
	s.vals = append(s.vals, o.(*listState).vals...)
	s.trim()
	return nil
}

// Append encodes the values (for first_values, the kept ones, sorted).
func (s *listState) Append(dst []byte) []byte {
	s.trim()
	if s.a.keep > 0 {
		slices.SortStableFunc(s.vals, s.a.cmp)
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.vals)))
	for _, d := range s.vals {
		dst = scalar.AppendKey(dst, d)
	}
	return dst
}

func (s *listState) Result() (types.Datum, error) {
	if len(s.vals) == 0 {
		return types.NullOf(s.a.at), nil
	}
	vals := s.vals
	if s.a.keep > 0 {
		vals = slices.Clone(vals)
		slices.SortStableFunc(vals, s.a.cmp)
		vals = vals[:min(len(vals), s.a.keep)]
	}
	return types.Datum{T: s.a.at, S: string(types.AppendArray(nil, vals))}, nil
}
