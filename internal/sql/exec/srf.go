package exec

import (
	"context"
	"strings"
	"sync"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/agg"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Set-returning functions (issue 11: olap): generate_series and unnest,
// in FROM (a Source that streams its rows in batches, so a long series
// is never held in memory) and in the select list, where they run in
// lockstep as in PostgreSQL 10+: an input row yields as many output rows
// as the longest of its calls, the shorter ones padded with NULLs.

// srfCall is one set-returning call: its arguments over the scope it was
// compiled in, and how to iterate it.
type srfCall struct {
	name string
	t    types.T
	args []*scalar.Node
	ops  *seriesOps // generate_series only
}

// seriesOps are generate_series's arithmetic and comparisons, compiled by
// the scalar compiler so they follow its typing, numeric scales and time
// zones: cur + step, cur <= stop, cur >= stop, and the step's sign.
type seriesOps struct {
	add, le, ge, zero, neg *scalar.Expr
}

func newSeriesOps(t, step types.T, params *ParamTypes) (*seriesOps, error) {
	var st *types.Style
	if params != nil {
		st = params.Style
	}
	pt := &ParamTypes{Style: st}
	zero := "0"
	if step == types.Interval {
		zero = "interval '0'"
	}
	stepCols := []Column{{Name: "a", T: t}, {Name: "b", T: step}}
	cmpCols := []Column{{Name: "a", T: t}, {Name: "b", T: t}}
	ops := &seriesOps{}
	for _, x := range []struct {
		dst  **scalar.Expr
		text string
		cols []Column
	}{
		{&ops.add, "a + b", stepCols}, {&ops.le, "a <= b", cmpCols}, {&ops.ge, "a >= b", cmpCols},
		{&ops.zero, "b = " + zero, stepCols}, {&ops.neg, "b < " + zero, stepCols},
	} {
		e, err := parser.ParseExpr(x.text)
		if err != nil {
			return nil, err
		}
		if *x.dst, err = scalar.Compile(e, x.cols, pt); err != nil {
			return nil, err
		}
	}
	return ops, nil
}

// planSRFCall types a generate_series or unnest call whose arguments c
// compiled.
func planSRFCall(c *scalar.Compiler, f *parser.Func, args []*scalar.Node) (*srfCall, error) {
	name := strings.ToLower(f.Name)
	call := &srfCall{name: name}
	if f.Star || f.Distinct || f.Filter != nil || len(f.WithinGroup) > 0 {
		return nil, scalar.NoFunc(f, args)
	}
	if name == "unnest" {
		if len(args) != 1 || !args[0].T.IsArray() {
			return nil, scalar.NoFunc(f, args)
		}
		call.t, call.args = args[0].T.Elem(), args
		return call, nil
	}
	if len(args) != 2 && len(args) != 3 {
		return nil, scalar.NoFunc(f, args)
	}
	t, step := types.Unknown, types.Unknown
	for i, a := range args {
		if i == 2 && (a.T == types.Interval || t == types.Timestamp || t == types.TimestampTZ) {
			break
		}
		switch {
		case a.T == types.Timestamp:
			t = types.Timestamp
		case a.T == types.TimestampTZ || a.T == types.Date:
			if t != types.Timestamp {
				t = types.TimestampTZ
			}
		case a.T == types.Numeric:
			if t == types.Unknown || t.IsInt() {
				t = types.Numeric
			}
		case a.T == types.Int8:
			if t == types.Unknown || t == types.Int4 {
				t = types.Int8
			}
		case a.T.IsInt():
			if t == types.Unknown {
				t = types.Int4
			}
		case a.Untyped || a.Param > 0:
		default:
			return nil, scalar.NoFunc(f, args)
		}
	}
	switch {
	case t == types.Timestamp || t == types.TimestampTZ:
		if len(args) != 3 {
			return nil, scalar.NoFunc(f, args)
		}
		step = types.Interval
	case t == types.Unknown:
		switch {
		case len(args) == 3 && args[2].T == types.Interval:
			t, step = types.TimestampTZ, types.Interval
		case len(args) == 3 && args[2].T.IsInt():
			t, step = args[2].T, args[2].T
		case len(args) == 3 && args[2].T == types.Numeric:
			t, step = types.Numeric, types.Numeric
		default:
			return nil, pgerr.SRFAmbiguous.New(name).WithPos(f.P)
		}
	default:
		step = t
	}
	call.t = t
	for i, a := range args {
		want := t
		if i == 2 {
			want = step
		}
		if a.T != want {
			if !(a.Untyped || a.Param > 0 || scalar.ImplicitCast(a.T, want)) {
				return nil, scalar.NoFunc(f, args)
			}
			n, err := c.Coerce(a, want, f.Args[i].Pos())
			if err != nil {
				return nil, err
			}
			a = n
		}
		call.args = append(call.args, a)
	}
	ops, err := newSeriesOps(t, step, c.Params)
	if err != nil {
		return nil, err
	}
	call.ops = ops
	return call, nil
}

// srfIter yields one call's values for one input row.
type srfIter interface {
	next(ec *scalar.Ctx) (types.Datum, bool, error)
}

// start evaluates the call's arguments over in and returns its iterator.
func (c *srfCall) start(ec *scalar.Ctx, in scalar.Input) (srfIter, error) {
	vals := make([]types.Datum, len(c.args))
	for i, a := range c.args {
		d, err := a.Fn(ec, in)
		if err != nil {
			return nil, err
		}
		if d.Null {
			return &listIter{}, nil // a NULL argument: no rows
		}
		vals[i] = scalar.Own(d)
	}
	if c.name == "unnest" {
		ds, err := types.ArrayDatums(c.t, vals[0].S)
		if err != nil {
			return nil, err
		}
		return &listIter{ds: ds}, nil
	}
	step := types.NewInt(c.t, 1)
	if c.t == types.Numeric {
		step = types.Datum{T: types.Numeric, S: "1"}
	}
	if len(vals) == 3 {
		step = vals[2]
	}
	row := []types.Datum{vals[0], step}
	z, err := c.ops.zero.EvalRow(ec, row)
	if err != nil {
		return nil, err
	}
	if z.Bool() {
		return nil, pgerr.SRFStepZero.New()
	}
	neg, err := c.ops.neg.EvalRow(ec, row)
	if err != nil {
		return nil, err
	}
	return &seriesIter{ops: c.ops, cur: vals[0], stop: vals[1], step: step, desc: neg.Bool()}, nil
}

type listIter struct {
	ds []types.Datum
	i  int
}

func (l *listIter) next(*scalar.Ctx) (types.Datum, bool, error) {
	if l.i >= len(l.ds) {
		return types.Datum{}, false, nil
	}
	l.i++
	return l.ds[l.i-1], true, nil
}

type seriesIter struct {
	ops             *seriesOps
	cur, stop, step types.Datum
	desc, done      bool
	row             [2]types.Datum
}

func (s *seriesIter) next(ec *scalar.Ctx) (types.Datum, bool, error) {
	if s.done {
		return types.Datum{}, false, nil
	}
	s.row = [2]types.Datum{s.cur, s.stop}
	cmp := s.ops.le
	if s.desc {
		cmp = s.ops.ge
	}
	ok, err := cmp.EvalRow(ec, s.row[:])
	if err != nil {
		return types.Datum{}, false, err
	}
	if !ok.Bool() {
		s.done = true
		return types.Datum{}, false, nil
	}
	out := s.cur
	s.row = [2]types.Datum{s.cur, s.step}
	nx, err := s.ops.add.EvalRow(ec, s.row[:])
	if err != nil {
		// Past the type's range: the series ends, as in PostgreSQL.
		if c := pgerr.Code(err); c == pgerr.NumericOutOfRange || c == pgerr.DatetimeFieldOverflow {
			s.done = true
			return out, true, nil
		}
		return types.Datum{}, false, err
	}
	s.cur = scalar.Own(nx)
	return out, true, nil
}

// srfList is the set-returning calls of a select list. While a row is
// projected, each call's current value is in vals under the statement's
// Ctx, so two runs of one plan (two portals of a prepared statement)
// never see each other's values.
type srfList struct {
	calls []*srfCall
	vals  sync.Map // *scalar.Ctx -> []types.Datum
}

// current returns the values of the run evaluating with ec.
func (l *srfList) current(ec *scalar.Ctx) []types.Datum {
	v, _ := l.vals.Load(ec)
	vals, _ := v.([]types.Datum)
	return vals
}

// srfScope is the Grouping that resolves set-returning calls in a select
// list (and ORDER BY) before the scope's own Grouping (next).
type srfScope struct {
	next   scalar.Grouping
	c      *scalar.Compiler // the compiler s belongs to
	l      *srfList
	inCall string // the call whose arguments are compiling
}

// Match implements scalar.Grouping.
func (s *srfScope) Match(e parser.Expr) (*scalar.Node, bool, error) {
	if f, ok := e.(*parser.Func); ok && scalar.IsSRFName(strings.ToLower(f.Name)) {
		if s.inCall != "" {
			return nil, true, pgerr.SRFNested.New(s.inCall).WithPos(f.P)
		}
		s.inCall = strings.ToLower(f.Name)
		args := make([]*scalar.Node, 0, len(f.Args))
		for _, a := range f.Args {
			n, err := s.c.Compile(a)
			if err != nil {
				s.inCall = ""
				return nil, true, err
			}
			args = append(args, n)
		}
		s.inCall = ""
		call, err := planSRFCall(s.c, f, args)
		if err != nil {
			return nil, true, err
		}
		j := len(s.l.calls)
		s.l.calls = append(s.l.calls, call)
		l := s.l
		t := call.t
		return scalar.VirtualNode(call.t, func(ec *scalar.Ctx, _ scalar.Input) (types.Datum, error) {
			if vals := l.current(ec); j < len(vals) {
				return vals[j], nil
			}
			return types.NullOf(t), nil
		}), true, nil
	}
	if s.next != nil {
		return s.next.Match(e)
	}
	return nil, false, nil
}

// CanonScope is the scope expressions are canonicalized in (canonItem).
func (s *srfScope) CanonScope() *scalar.Compiler {
	if cs, ok := s.next.(interface{ CanonScope() *scalar.Compiler }); ok {
		return cs.CanonScope()
	}
	if a, ok := s.next.(*agg.Scope); ok {
		return a.In
	}
	return s.c
}

// Input implements the scalar compiler's hook for typing a missing
// function's arguments in the input scope.
func (s *srfScope) Input() *scalar.Compiler {
	if in, ok := s.next.(interface{ Input() *scalar.Compiler }); ok {
		return in.Input()
	}
	return s.c
}

// withSRF returns a copy of c in which generate_series and unnest calls
// are set-returning, and the list they are collected in.
func withSRF(c *scalar.Compiler) (*scalar.Compiler, *srfList) {
	out := *c
	l := &srfList{}
	out.Agg = &srfScope{next: c.Agg, c: &out, l: l}
	return &out, l
}

// hasSRF reports whether e calls a set-returning function (outside a
// window function's own arguments, which are checked when planned).
func hasSRF(e parser.Expr) bool {
	return agg.Any(e, func(x parser.Expr) bool {
		f, ok := x.(*parser.Func)
		return ok && scalar.IsSRFName(strings.ToLower(f.Name))
	})
}

// projectRow computes nodes over in and emits the row; with
// set-returning calls (srf non-empty) it emits one row per step of the
// longest call. Each emitted row is freshly allocated.
func projectRow(ec *scalar.Ctx, in scalar.Input, nodes []*scalar.Node, srf *srfList, emit func([]types.Datum) error) error {
	eval := func() error {
		row := make([]types.Datum, len(nodes))
		for j, n := range nodes {
			d, err := n.Fn(ec, in)
			if err != nil {
				return err
			}
			row[j] = scalar.Own(d)
		}
		return emit(row)
	}
	if srf == nil || len(srf.calls) == 0 {
		return eval()
	}
	vals := make([]types.Datum, len(srf.calls))
	srf.vals.Store(ec, vals)
	defer srf.vals.Delete(ec)
	its := make([]srfIter, len(srf.calls))
	for j, c := range srf.calls {
		it, err := c.start(ec, in)
		if err != nil {
			return err
		}
		its[j] = it
	}
	for {
		more := false
		for j, it := range its {
			vals[j] = types.NullOf(srf.calls[j].t)
			if it == nil {
				continue
			}
			d, ok, err := it.next(ec)
			if err != nil {
				return err
			}
			if !ok {
				its[j] = nil
				continue
			}
			vals[j], more = d, true
		}
		if !more {
			return nil
		}
		if err := eval(); err != nil {
			return err
		}
	}
}

// srfFrom is a set-returning function in FROM (a relNode): its rows are
// the function's values (and the ordinality), streamed in batches.
type srfFrom struct {
	call       *srfCall
	ordinality bool
	cols       []Column
	label      string // for EXPLAIN: the function and its alias
	stats      opStats
}

// planSRFFrom plans `generate_series(...)` or `unnest(...)` `[WITH
// ORDINALITY]` as a FROM item. Its column is named after the alias, else
// the function (the caller applies a column alias list); the ordinality
// column is "ordinality". The arguments may reference an enclosing
// query (a correlated subquery), not other FROM items (no LATERAL).
func (pl *planner) planSRFFrom(f *parser.TableRef) (*srfFrom, error) {
	if !isFromSRF(f) {
		return nil, pgerr.TableFuncOptions.New().WithPos(f.P)
	}
	c := &scalar.Compiler{Params: pl.params, NoAgg: "functions in FROM", Outer: pl.outer, Sub: pl.sub}
	var args []*scalar.Node
	for _, a := range f.Func.Args {
		if hasSRF(a) {
			return nil, pgerr.SRFNested.New(strings.ToLower(f.Func.Name)).WithPos(a.Pos())
		}
		n, err := c.Compile(a)
		if err != nil {
			return nil, err
		}
		args = append(args, n)
	}
	call, err := planSRFCall(c, f.Func, args)
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(f.Func.Name)
	if f.Alias != "" {
		name = f.Alias
	}
	s := &srfFrom{call: call, ordinality: f.Ordinality, label: call.name}
	if f.Alias != "" {
		s.label += " " + f.Alias
	}
	s.cols = append(s.cols, Column{Name: name, T: call.t})
	if f.Ordinality {
		s.cols = append(s.cols, Column{Name: "ordinality", T: types.Int8})
	}
	return s, nil
}

// Columns implements relNode.
func (s *srfFrom) Columns() []Column { return s.cols }

func (s *srfFrom) explain(x *explainer) {
	x.line(&s.stats, "Function Scan on %s", s.label)
}

// run streams the function's rows to fn in batches of 1024.
func (s *srfFrom) run(ctx context.Context, ec *scalar.Ctx, fn func(b *types.Batch) error) error {
	defer s.stats.start()()
	fn = s.stats.count(fn)
	it, err := s.call.start(ec, scalar.Input{})
	if err != nil {
		return err
	}
	b := types.NewBatch(colTypes(s.cols))
	row := make([]types.Datum, len(s.cols))
	for n := int64(1); ; n++ {
		d, ok, err := it.next(ec)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		row[0] = d
		if s.ordinality {
			row[1] = types.NewInt(types.Int8, n)
		}
		b.AppendRow(row)
		if b.N >= 1024 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := fn(b); err != nil {
				return err
			}
			b.Reset()
		}
	}
	if b.N > 0 {
		return fn(b)
	}
	return nil
}
