package exec

import (
	"sort"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/agg"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// RANGE frames with offsets (issue 11: olap): `RANGE BETWEEN n PRECEDING
// AND m FOLLOWING` over the window's single ORDER BY key. A bound is the
// current row's key moved by the offset (key - n, key + m; the other way
// round for DESC), computed by the scalar compiler's + and - so numeric
// scales, intervals and time zones behave as the operators do; the frame
// is the rows whose keys lie within the bounds, found by binary search
// in the sorted partition. A row whose key is NULL has its NULL peers as
// frame for an offset bound.

// rangeFrame is the planned offset part of a RANGE frame.
type rangeFrame struct {
	col        int  // pre column of the ORDER BY key
	desc       bool // the key sorts descending
	nullsFirst bool
	soff, eoff *scalar.Node // offsets (nil unless that bound has one)
	// sFollow, eFollow: the start/end offset is FOLLOWING (else PRECEDING).
	sFollow, eFollow bool
	sub, add         *scalar.Expr // key - offset, key + offset
}

// planRangeOffsets checks and plans a RANGE frame's offsets as
// PostgreSQL does: one ORDER BY key of a numeric or date/time type, an
// offset of a matching type.
func (w *winPlan) planRangeOffsets(f *parser.Frame, order []sortKey) (*rangeFrame, error) {
	if len(order) != 1 {
		return nil, pgerr.RangeOffsetOneKey.New().WithPos(f.P)
	}
	k := order[0]
	kt := w.pre[k.col].T
	var ot types.T
	switch {
	case kt.IsInt():
		ot = types.Int8
	case kt.IsFloat():
		ot = types.Float8
	case kt == types.Numeric:
		ot = types.Numeric
	case kt == types.Timestamp || kt == types.TimestampTZ || kt == types.Interval:
		ot = types.Interval
	default:
		return nil, pgerr.RangeOffsetType.New(kt).WithPos(f.P)
	}
	r := &rangeFrame{col: k.col, desc: k.desc, nullsFirst: k.nullsFirst,
		sFollow: f.Start.Kind == parser.OffsetFollowing, eFollow: f.End.Kind == parser.OffsetFollowing}
	off := func(e parser.Expr) (*scalar.Node, error) {
		if e == nil {
			return nil, nil
		}
		if agg.Any(e, func(x parser.Expr) bool { _, ok := x.(*parser.ColumnRef); return ok }) {
			return nil, pgerr.RangeOffsetVars.New().WithPos(e.Pos())
		}
		c := &scalar.Compiler{Params: w.base.Params, NoAgg: "window frame offsets"}
		n, err := c.Compile(e)
		if err != nil {
			return nil, err
		}
		ok := n.Untyped || n.Param > 0 || n.T == ot || scalar.ImplicitCast(n.T, ot) && (ot != types.Interval)
		if ot == types.Numeric && n.T.IsFloat() {
			ok = false
		}
		if !ok {
			return nil, pgerr.RangeOffsetType2.New(kt, n.T).WithPos(e.Pos())
		}
		return c.Coerce(n, ot, e.Pos())
	}
	var err error
	if r.soff, err = off(f.Start.Offset); err != nil {
		return nil, err
	}
	if r.eoff, err = off(f.End.Offset); err != nil {
		return nil, err
	}
	var st *types.Style
	if w.base.Params != nil {
		st = w.base.Params.Style
	}
	cols := []Column{{Name: "a", T: kt}, {Name: "b", T: ot}}
	for _, x := range []struct {
		dst  **scalar.Expr
		text string
	}{{&r.sub, "a - b"}, {&r.add, "a + b"}} {
		e, err := parser.ParseExpr(x.text)
		if err != nil {
			return nil, err
		}
		if *x.dst, err = scalar.Compile(e, cols, &ParamTypes{Style: st}); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// rangeBounds are one partition's frame bounds for the offset bounds.
type rangeBounds struct {
	starts, ends []int // per row; -1: not an offset bound
}

func (b *rangeBounds) start(k, peer int) int {
	if b.starts[k] < 0 {
		return peer
	}
	return b.starts[k]
}

func (b *rangeBounds) end(k, peer int) int {
	if b.ends[k] < 0 {
		return peer
	}
	return b.ends[k]
}

// bounds computes, for each row of a partition (rows part, sorted by the
// key), where its offset bounds fall.
func (r *rangeFrame) bounds(ec *scalar.Ctx, rows [][]types.Datum, part []int) (*rangeBounds, error) {
	soff, err := r.offset(ec, r.soff, "starting")
	if err != nil {
		return nil, err
	}
	eoff, err := r.offset(ec, r.eoff, "ending")
	if err != nil {
		return nil, err
	}
	m := len(part)
	key := func(j int) types.Datum { return rows[part[j]][r.col] }
	// The non-NULL keys are one run [lo, hi) of the sorted partition.
	lo, hi := 0, m
	if r.nullsFirst {
		for lo < m && key(lo).Null {
			lo++
		}
	} else {
		for hi > 0 && key(hi-1).Null {
			hi--
		}
	}
	// firstAt is the first row in [lo, hi) at or after bound in window
	// order (strictly after when strict).
	firstAt := func(bound types.Datum, strict bool) int {
		return lo + sort.Search(hi-lo, func(i int) bool {
			c := scalar.CompareDatums(key(lo+i), bound)
			if r.desc {
				c = -c
			}
			if strict {
				return c > 0
			}
			return c >= 0
		})
	}
	// moved is the key moved back (towards the partition's start) or
	// forward by off; ok=false when that leaves the type's range (the
	// bound is then before or after every row).
	moved := func(v, off types.Datum, back bool) (types.Datum, bool, error) {
		op := r.add
		if back != r.desc {
			op = r.sub
		}
		d, err := op.EvalRow(ec, []types.Datum{v, off})
		if err != nil {
			if c := pgerr.Code(err); c == pgerr.NumericOutOfRange || c == pgerr.DatetimeFieldOverflow {
				return types.Datum{}, false, nil
			}
			return types.Datum{}, false, err
		}
		return d, true, nil
	}
	b := &rangeBounds{starts: make([]int, m), ends: make([]int, m)}
	for k := 0; k < m; k++ {
		b.starts[k], b.ends[k] = -1, -1
		v := key(k)
		if v.Null {
			continue // the NULL peers
		}
		if r.soff != nil {
			back := !r.sFollow
			d, ok, err := moved(v, soff, back)
			if err != nil {
				return nil, err
			}
			switch {
			case ok:
				b.starts[k] = firstAt(d, false)
			case back:
				b.starts[k] = lo
			default:
				b.starts[k] = hi
			}
		}
		if r.eoff != nil {
			back := !r.eFollow
			d, ok, err := moved(v, eoff, back)
			if err != nil {
				return nil, err
			}
			switch {
			case ok:
				b.ends[k] = firstAt(d, true)
			case back:
				b.ends[k] = lo
			default:
				b.ends[k] = hi
			}
		}
	}
	return b, nil
}

// offset evaluates a RANGE offset; it must be neither NULL nor negative.
func (r *rangeFrame) offset(ec *scalar.Ctx, n *scalar.Node, which string) (types.Datum, error) {
	if n == nil {
		return types.Datum{}, nil
	}
	d, err := n.Fn(ec, scalar.Input{})
	if err != nil {
		return d, err
	}
	if d.Null {
		return d, pgerr.WindowFrameOffsetNull.New(which)
	}
	if scalar.CompareDatums(d, types.Datum{T: d.T, S: "0"}) < 0 {
		return d, pgerr.RangeOffsetNegative.New()
	}
	return scalar.Own(d), nil
}
