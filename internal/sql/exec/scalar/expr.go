package scalar

import (
	"math"
	"strconv"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Input is where column references read from: a row of datums, or row i
// of a columnar batch. It is passed by value so evaluation never makes it
// escape to the heap.
type Input struct {
	row []types.Datum
	b   *types.Batch
	i   int
}

// RowInput is an Input reading a row of datums laid out as the scope's
// columns.
func RowInput(row []types.Datum) Input { return Input{row: row} }

// BatchInput is an Input reading row i of a columnar batch.
func BatchInput(b *types.Batch, i int) Input { return Input{b: b, i: i} }

// EvalFn evaluates a compiled expression over one input row.
type EvalFn func(ec *Ctx, in Input) (types.Datum, error)

// Node is one compiled expression. Operators read T, call Fn, and look at
// Col (a plain column read, for fast paths) and the Untyped/Param/
// Volatile markers; nodes are built only here (the compiler, RowNode).
type Node struct {
	T     types.T
	Fn    EvalFn
	konst bool        // value known at compile time (in val)
	val   types.Datum // the constant when konst
	// Untyped marks a string or NULL literal whose type comes from context
	// (PostgreSQL's "unknown"); val holds it.
	Untyped bool
	Param   int // $n whose type is still unknown (T is Unknown), else 0
	Col     int // input column index of a plain column reference, else -1
	// Volatile marks now() and friends: not folded at compile time.
	Volatile bool
	// reg is the object-identifier type (regclass, regtype, ...) of an
	// OID cast to one, so a cast on to text prints the name (pgcatalog.go).
	reg string
}

// Const returns the node's value when it is known at compile time (a
// literal, or an expression folded from literals).
func (n *Node) Const() (types.Datum, bool) { return n.val, n.konst }

// Expr is a scalar expression compiled against a scope of input columns.
type Expr struct {
	n *Node
}

// Type returns the expression's result type.
func (e *Expr) Type() types.T { return e.n.T }

// EvalRow evaluates the expression over a row of datums laid out as the
// columns it was compiled against.
func (e *Expr) EvalRow(ec *Ctx, row []types.Datum) (types.Datum, error) {
	return e.n.Fn(ec, Input{row: row})
}

// EvalBatch evaluates the expression over row i of a columnar batch
// without allocating. A text result may be a string over b's bytes: it
// must not outlive b (copy it with strings.Clone to keep it).
func (e *Expr) EvalBatch(ec *Ctx, b *types.Batch, i int) (types.Datum, error) {
	return e.n.Fn(ec, Input{b: b, i: i})
}

// Compile compiles a scalar expression over the columns cols. Parameter
// types found in context are recorded in params (which may be nil).
// Aggregates are not allowed.
func Compile(e parser.Expr, cols []Column, params *ParamTypes) (*Expr, error) {
	c := &Compiler{Cols: cols, Params: params, NoAgg: "this context"}
	n, err := c.Compile(e)
	if err != nil {
		return nil, err
	}
	n, err = c.Finish(n, e.Pos())
	if err != nil {
		return nil, err
	}
	return &Expr{n: n}, nil
}

// CompileAssign compiles e over cols for storing into a column of type t
// (INSERT ... VALUES): untyped literals and parameters take t (so $n's
// type is inferred as t), and other values convert with assignment-cast
// rules (Coerce) when evaluated. A type with no assignment cast to t is
// 42804 at e's position.
func CompileAssign(e parser.Expr, cols []Column, t types.T, params *ParamTypes) (*Expr, error) {
	c := &Compiler{Cols: cols, Params: params, NoAgg: "VALUES"}
	n, err := c.Compile(e)
	if err != nil {
		return nil, err
	}
	if n.Untyped || n.Param > 0 {
		if n, err = c.Coerce(n, t, e.Pos()); err != nil {
			return nil, err
		}
	}
	if n.T != t {
		if !assignCast(n.T, t) {
			return nil, pgerr.ColumnTypeMismatch.New(t, n.T).WithPos(e.Pos())
		}
		x, pos := n, e.Pos()
		n, err = fold(newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
			d, err := x.Fn(ec, in)
			if err != nil {
				return d, err
			}
			d, err = Coerce(d, t)
			return d, PosErr(err, pos)
		}), x)
		if err != nil {
			return nil, err
		}
	}
	return &Expr{n: n}, nil
}

// Compiler turns AST expressions into nodes over one scope.
type Compiler struct {
	Cols   []Column
	Quals  []string // names that may qualify a column (the FROM name and alias)
	Params *ParamTypes
	Agg    Grouping // set when compiling expressions evaluated after grouping
	NoAgg  string   // where aggregates are not allowed, for the error message
	// Virtual, if set, resolves a column name that is not in Cols
	// (arrival_timestamp, window_start, ...); nil = no such column.
	Virtual func(name string) *Node
	// Meta, when set, gives each column of Cols its qualifier (joins;
	// see scope.go).
	Meta []ColMeta
	// Outer resolves references to an enclosing query's columns
	// (correlated subqueries); nil = none.
	Outer OuterFunc
	// Sub compiles subquery expressions; nil refuses them.
	Sub SubFunc
}

// Finish gives a still-untyped result the type text, as PostgreSQL does
// for a bare 'literal' or $1 in a select list.
func (c *Compiler) Finish(n *Node, pos int) (*Node, error) {
	if n.T == types.Unknown {
		return c.Coerce(n, types.Text, pos)
	}
	return n, nil
}

func constNode(d types.Datum) *Node {
	return &Node{T: d.T, konst: true, val: d, Col: -1, Fn: func(*Ctx, Input) (types.Datum, error) { return d, nil }}
}

func newNode(t types.T, fn EvalFn) *Node { return &Node{T: t, Fn: fn, Col: -1} }

// fold evaluates n once at compile time when all its inputs are constants.
func fold(n *Node, kids ...*Node) (*Node, error) {
	if n.Volatile {
		return n, nil
	}
	for _, k := range kids {
		if k == nil || !k.konst || k.Volatile {
			return n, nil
		}
	}
	d, err := n.Fn(nil, Input{})
	if err != nil {
		return nil, err
	}
	d.T = n.T
	return constNode(d), nil
}

// PosErr gives err (as a *pgerr.Error) the position pos unless it has
// one already.
func PosErr(err error, pos int) error {
	if err == nil {
		return nil
	}
	pe := pgerr.From(err)
	if pe.Position == 0 && pos > 0 {
		cp := *pe
		cp.Position = pos
		return &cp
	}
	return pe
}

// ResolveCol finds a column reference in the scope: -1 when missing.
func (c *Compiler) ResolveCol(r *parser.ColumnRef) (int, error) {
	if c.Meta != nil {
		return c.resolveMeta(r)
	}
	if r.Table != "" {
		ok := false
		for _, q := range c.Quals {
			if q == r.Table {
				ok = true
			}
		}
		if !ok {
			return -1, pgerr.MissingFromEntry.New(r.Table).WithPos(r.P)
		}
	}
	found := -1
	for i, col := range c.Cols {
		if col.Name == r.Name {
			if found >= 0 {
				return -1, pgerr.AmbiguousColumnRef.New(r.Name).WithPos(r.P)
			}
			found = i
		}
	}
	return found, nil
}

// Compile compiles e in c's scope; a Grouping (c.Agg) gets the first
// look at every sub-expression.
func (c *Compiler) Compile(e parser.Expr) (*Node, error) {
	if c.Agg != nil {
		n, ok, err := c.Agg.Match(e)
		if ok || err != nil {
			return n, err
		}
	}
	n, err := c.compile1(e)
	if err != nil {
		return nil, PosErr(err, e.Pos())
	}
	return n, nil
}

func (c *Compiler) compile1(e parser.Expr) (*Node, error) {
	switch e := e.(type) {
	case *parser.Literal:
		return compileLiteral(e)
	case *parser.Param:
		return c.compileParam(e), nil
	case *parser.ColumnRef:
		return c.compileColumn(e)
	case *parser.Star:
		return nil, pgerr.StarNotAllowedHere.New().WithPos(e.P)
	case *parser.Unary:
		return c.compileUnary(e)
	case *parser.Binary:
		return c.compileBinary(e)
	case *parser.IsNull:
		x, err := c.Compile(e.X)
		if err != nil {
			return nil, err
		}
		not := e.Not
		return fold(newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
			d, err := x.Fn(ec, in)
			if err != nil {
				return d, err
			}
			return types.NewBool(d.Null != not), nil
		}), x)
	case *parser.IsBool:
		x, err := c.Compile(e.X)
		if err != nil {
			return nil, err
		}
		if x, err = c.BoolArg(x, "IS "+boolWord(e.Val), e.X.Pos()); err != nil {
			return nil, err
		}
		not, val := e.Not, e.Val
		return fold(newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
			d, err := x.Fn(ec, in)
			if err != nil {
				return d, err
			}
			is := !d.Null && d.Bool() == val
			return types.NewBool(is != not), nil
		}), x)
	case *parser.InList:
		return c.compileIn(e)
	case *parser.Between:
		var r parser.Expr = &parser.Binary{P: e.P, Op: "AND",
			L: &parser.Binary{P: e.P, Op: ">=", L: e.X, R: e.Lo},
			R: &parser.Binary{P: e.P, Op: "<=", L: e.X, R: e.Hi}}
		if e.Not {
			r = &parser.Unary{P: e.P, Op: "NOT", X: r}
		}
		return c.Compile(r)
	case *parser.Cast:
		return c.compileCast(e)
	case *parser.Func:
		return c.compileFunc(e)
	case *parser.Case:
		return c.compileCase(e)
	case *parser.ColumnIndex:
		if e.Index < 0 || e.Index >= len(c.Cols) {
			return nil, pgerr.ColumnNotFound.New(e.Name).WithPos(e.P)
		}
		return colNode(e.Index, c.Cols[e.Index].T), nil
	case *parser.Quantified:
		if e.Array != nil {
			return c.compileAnyArray(e)
		}
		if c.Sub == nil {
			return nil, pgerr.SubqueryInExpression.New().WithPos(e.P)
		}
		return c.Sub(c, e)
	case *parser.WindowFunc:
		return nil, c.olapMisuse(e, "")
	case *parser.Subquery, *parser.Exists, *parser.InSubquery, *parser.ArraySubquery:
		if c.Sub == nil {
			return nil, pgerr.SubqueryInExpression.New().WithPos(e.Pos())
		}
		return c.Sub(c, e)
	}
	return nil, pgerr.UnsupportedExpression.New(e)
}

func boolWord(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

func compileLiteral(e *parser.Literal) (*Node, error) {
	switch e.Kind {
	case parser.LitNull:
		n := constNode(types.NullOf(types.Unknown))
		n.Untyped = true
		return n, nil
	case parser.LitBool:
		return constNode(types.NewBool(strings.EqualFold(e.Val, "true") || e.Val == "t")), nil
	case parser.LitInt:
		if v, err := strconv.ParseInt(e.Val, 10, 64); err == nil {
			if v >= math.MinInt32 && v <= math.MaxInt32 {
				return constNode(types.NewInt(types.Int4, v)), nil
			}
			return constNode(types.NewInt(types.Int8, v)), nil
		}
		fallthrough
	case parser.LitFloat:
		v, err := types.ParseNumeric(e.Val)
		if err != nil {
			return nil, PosErr(err, e.P)
		}
		return constNode(types.NewNumeric(v)), nil
	case parser.LitString:
		n := constNode(types.Datum{T: types.Unknown, S: e.Val})
		n.Untyped = true
		return n, nil
	}
	return nil, pgerr.UnsupportedLiteral.New()
}

func (c *Compiler) compileParam(e *parser.Param) *Node {
	c.Params.note(e.N)
	t := c.Params.get(e.N)
	n := newNode(t, paramFn(e.N, t, e.P))
	if t == types.Unknown {
		n.Param = e.N
	}
	return n
}

// paramFn reads $n and converts it to t when the client sent another type
// (for example text for a parameter inferred as integer).
func paramFn(n int, t types.T, pos int) EvalFn {
	return func(ec *Ctx, in Input) (types.Datum, error) {
		if ec == nil || n > len(ec.Params) {
			return types.Datum{}, pgerr.ParameterNotFound.New(n).WithPos(pos)
		}
		d := ec.Params[n-1]
		if t == types.Unknown || d.T == t {
			if d.T == types.Unknown {
				d.T = types.Text
			}
			return d, nil
		}
		if d.Null {
			return types.NullOf(t), nil
		}
		out, err := castDatumStyle(d, t, evalStyle(ec, nil))
		return out, PosErr(err, pos)
	}
}

// sqlValueFuncs are the keywords PostgreSQL evaluates like functions
// without parentheses; the parser may hand them over as column names.
var sqlValueFuncs = map[string]bool{
	"current_timestamp": true, "current_date": true, "localtimestamp": true,
	"current_user": true, "session_user": true, "user": true,
	"current_schema": true, "current_catalog": true, "current_role": true,
}

func (c *Compiler) compileColumn(e *parser.ColumnRef) (*Node, error) {
	idx, err := c.ResolveCol(e)
	if err != nil {
		if pgerr.From(err).Code == pgerr.UndefinedTable {
			// `t.x` where t is an enclosing query's FROM item.
			if n, ok, oerr := c.outer(e, nil); ok || oerr != nil {
				return n, oerr
			}
		}
		return nil, err
	}
	if idx < 0 {
		if c.Virtual != nil {
			if n := c.Virtual(e.Name); n != nil {
				return n, nil
			}
		}
		if n, ok, err := c.outer(e, nil); ok || err != nil {
			return n, err
		}
		if e.Table == "" && sqlValueFuncs[e.Name] {
			return c.compileFunc(&parser.Func{P: e.P, Name: e.Name})
		}
		if e.Table != "" {
			return nil, pgerr.QualifiedColumnNotFound.New(e.Table, e.Name).WithPos(e.P)
		}
		return nil, pgerr.ColumnNotFound.New(e.Name).WithPos(e.P)
	}
	return colNode(idx, c.Cols[idx].T), nil
}

func colNode(idx int, t types.T) *Node {
	n := newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
		if in.b == nil {
			return in.row[idx], nil
		}
		return BatchDatum(&in.b.Cols[idx], in.i), nil
	})
	n.Col = idx
	return n
}

// VirtualNode is a computed column of type t (see Compiler.Virtual).
func VirtualNode(t types.T, fn EvalFn) *Node { return newNode(t, fn) }

// InputDatum reads column idx of in.
func InputDatum(in Input, idx int) types.Datum {
	if in.b == nil {
		return in.row[idx]
	}
	return BatchDatum(&in.b.Cols[idx], in.i)
}

// Batch returns the batch in is reading, or nil for a row input.
func (in Input) Batch() *types.Batch { return in.b }

// ArrivalNode reads arrival_timestamp: the time the row's batch was
// appended to its stream (NULL outside a stream scan).
func ArrivalNode() *Node {
	return newNode(types.TimestampTZ, func(ec *Ctx, in Input) (types.Datum, error) {
		if in.b == nil || in.b.Arrival == 0 {
			return types.NullOf(types.TimestampTZ), nil
		}
		return types.NewInt(types.TimestampTZ, in.b.Arrival), nil
	})
}

// RowNode reads slot idx of a row (post-aggregation scope).
func RowNode(idx int, t types.T) *Node {
	return newNode(t, func(ec *Ctx, in Input) (types.Datum, error) { return in.row[idx], nil })
}

// BoolArg checks that n, the argument of what (WHERE, NOT, ...), is
// boolean, typing an untyped literal or parameter as boolean.
func (c *Compiler) BoolArg(n *Node, what string, pos int) (*Node, error) {
	if n.T == types.Bool {
		return n, nil
	}
	if n.Untyped || n.Param > 0 {
		return c.Coerce(n, types.Bool, pos)
	}
	return nil, pgerr.ArgumentNotBoolean.New(what, n.T).WithPos(pos)
}

// Coerce applies an implicit cast of n to t (untyped literals and
// parameters take t), or fails with 42804.
func (c *Compiler) Coerce(n *Node, t types.T, pos int) (*Node, error) {
	if n.T == t && !n.Untyped {
		return n, nil
	}
	if n.Untyped {
		if n.val.Null {
			return constNode(types.NullOf(t)), nil
		}
		d, err := castDatumStyle(n.val, t, c.style())
		if err != nil {
			return nil, PosErr(err, pos)
		}
		return constNode(d), nil
	}
	if n.Param > 0 {
		c.Params.set(n.Param, t)
		nn := newNode(t, paramFn(n.Param, t, pos))
		return nn, nil
	}
	if !ImplicitCast(n.T, t) {
		return nil, pgerr.ExpressionTypeMismatch.New(n.T, t).WithPos(pos)
	}
	return castNode(n, t, nil, pos, c.style())
}

// ImplicitCast reports whether PostgreSQL converts from to to without an
// explicit cast.
func ImplicitCast(from, to types.T) bool {
	if from == to {
		return true
	}
	switch {
	case from.IsNumeric() && to.IsNumeric():
		return numRank(to) > numRank(from)
	case from == types.Date:
		return to.IsTime()
	case from == types.Timestamp:
		return to == types.TimestampTZ
	}
	return false
}

func numRank(t types.T) int {
	switch t {
	case types.Int2:
		return 1
	case types.Int4:
		return 2
	case types.Int8:
		return 3
	case types.Numeric:
		return 4
	case types.Float4:
		return 5
	case types.Float8:
		return 6
	}
	return 0
}

// TimeRank orders the date/time types by implicit widening (date <
// timestamp < timestamptz); 0 for other types.
func TimeRank(t types.T) int {
	switch t {
	case types.Date:
		return 1
	case types.Timestamp:
		return 2
	case types.TimestampTZ:
		return 3
	}
	return 0
}

// commonType picks the type a set of expressions is unified to (CASE,
// COALESCE, IN, comparisons): untyped members take the others' type; all
// Untyped gives text.
func commonType(ns []*Node) (types.T, bool) {
	t := types.Unknown
	for _, n := range ns {
		if n.Untyped || n.Param > 0 {
			continue
		}
		switch {
		case t == types.Unknown || t == n.T:
			t = n.T
		case t.IsNumeric() && n.T.IsNumeric():
			if numRank(n.T) > numRank(t) {
				t = n.T
			}
		case TimeRank(t) > 0 && TimeRank(n.T) > 0:
			if TimeRank(n.T) > TimeRank(t) {
				t = n.T
			}
		default:
			return t, false
		}
	}
	if t == types.Unknown {
		t = types.Text
	}
	return t, true
}

func (c *Compiler) compileUnary(e *parser.Unary) (*Node, error) {
	x, err := c.Compile(e.X)
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case "NOT", "not":
		if x, err = c.BoolArg(x, "NOT", e.X.Pos()); err != nil {
			return nil, err
		}
		return fold(newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
			d, err := x.Fn(ec, in)
			if err != nil || d.Null {
				return d, err
			}
			return types.NewBool(d.I == 0), nil
		}), x)
	case "+", "-":
		if x.Untyped || x.Param > 0 {
			if x, err = c.Coerce(x, types.Numeric, e.X.Pos()); err != nil {
				return nil, err
			}
		}
		if !x.T.IsNumeric() && x.T != types.Interval {
			return nil, pgerr.UnaryOperatorNotFound.New(e.Op, x.T).WithPos(e.P)
		}
		if e.Op == "+" {
			return x, nil
		}
		t := x.T
		return fold(newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
			d, err := x.Fn(ec, in)
			if err != nil || d.Null {
				return d, err
			}
			switch {
			case t == types.Interval:
				d.Iv = types.IntervalValue{Months: -d.Iv.Months, Days: -d.Iv.Days, Micros: -d.Iv.Micros}
			case t.IsFloat():
				d.F = -d.F
			case t == types.Numeric:
				d.S = NegNumeric(d.S)
			default:
				if d.I == math.MinInt64 {
					return d, RangeErr(t)
				}
				d.I = -d.I
				if err := checkIntRange(t, d.I); err != nil {
					return d, err
				}
			}
			return d, nil
		}), x)
	}
	return nil, pgerr.UnsupportedOperator.New(e.Op).WithPos(e.P)
}

func (c *Compiler) compileIn(e *parser.InList) (*Node, error) {
	x, err := c.Compile(e.X)
	if err != nil {
		return nil, err
	}
	all := []*Node{x}
	for _, le := range e.List {
		n, err := c.Compile(le)
		if err != nil {
			return nil, err
		}
		all = append(all, n)
	}
	t, ok := commonType(all)
	if !ok {
		return nil, pgerr.OperatorNotFound.New(all[0].T, "=", all[len(all)-1].T).WithPos(e.P)
	}
	for i := range all {
		pos := e.X.Pos()
		if i > 0 {
			pos = e.List[i-1].Pos()
		}
		if all[i], err = c.Coerce(all[i], t, pos); err != nil {
			return nil, err
		}
	}
	x, list, not := all[0], all[1:], e.Not
	return fold(newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
		d, err := x.Fn(ec, in)
		if err != nil || d.Null {
			return types.NullOf(types.Bool), err
		}
		sawNull := false
		for _, l := range list {
			v, err := l.Fn(ec, in)
			if err != nil {
				return v, err
			}
			if v.Null {
				sawNull = true
				continue
			}
			if CompareDatums(d, v) == 0 {
				return types.NewBool(!not), nil
			}
		}
		if sawNull {
			return types.NullOf(types.Bool), nil
		}
		return types.NewBool(not), nil
	}), all...)
}

func (c *Compiler) compileCase(e *parser.Case) (*Node, error) {
	type arm struct{ cond, then *Node }
	arms := make([]arm, 0, len(e.Whens))
	var results []*Node
	for _, w := range e.Whens {
		ce := w.Cond
		if e.Operand != nil {
			ce = &parser.Binary{P: w.Cond.Pos(), Op: "=", L: e.Operand, R: w.Cond}
		}
		cond, err := c.Compile(ce)
		if err != nil {
			return nil, err
		}
		if cond, err = c.BoolArg(cond, "CASE/WHEN", w.Cond.Pos()); err != nil {
			return nil, err
		}
		then, err := c.Compile(w.Then)
		if err != nil {
			return nil, err
		}
		arms = append(arms, arm{cond, then})
		results = append(results, then)
	}
	var els *Node
	if e.Else != nil {
		var err error
		if els, err = c.Compile(e.Else); err != nil {
			return nil, err
		}
		results = append(results, els)
	}
	t, ok := commonType(results)
	if !ok {
		return nil, pgerr.TypesCannotMatch.New("CASE", results[0].T, results[len(results)-1].T).WithPos(e.P)
	}
	for i := range arms {
		var err error
		if arms[i].then, err = c.Coerce(arms[i].then, t, e.Whens[i].Then.Pos()); err != nil {
			return nil, err
		}
	}
	if els != nil {
		var err error
		if els, err = c.Coerce(els, t, e.Else.Pos()); err != nil {
			return nil, err
		}
	}
	return newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
		for _, a := range arms {
			d, err := a.cond.Fn(ec, in)
			if err != nil {
				return d, err
			}
			if d.Bool() {
				return a.then.Fn(ec, in)
			}
		}
		if els != nil {
			return els.Fn(ec, in)
		}
		return types.NullOf(t), nil
	}), nil
}

func (c *Compiler) compileCast(e *parser.Cast) (*Node, error) {
	if regKinds[e.Type.Name] && len(e.Type.Mods) == 0 {
		return c.compileRegCast(e, e.Type.Name)
	}
	t, ok := types.FromName(e.Type.Name)
	if !ok {
		return nil, pgerr.TypeNotFound.New(e.Type.Name).WithPos(e.Type.P)
	}
	if t == types.Numeric && len(e.Type.Mods) > 0 {
		if err := checkNumericMods(e.Type.Mods); err != nil {
			return nil, PosErr(err, e.P)
		}
	}
	x, err := c.Compile(e.X)
	if err != nil {
		return nil, err
	}
	if x.reg != "" && t == types.Text {
		return regTextNode(x), nil
	}
	if x.Param > 0 {
		c.Params.set(x.Param, t)
		x = newNode(t, paramFn(x.Param, t, e.X.Pos()))
	}
	if x.Untyped {
		if x.val.Null {
			return constNode(types.NullOf(t)), nil
		}
		d, err := castDatumStyle(x.val, t, c.style())
		if err != nil {
			return nil, PosErr(err, e.X.Pos())
		}
		if d, err = applyMods(d, e.Type.Mods); err != nil {
			return nil, PosErr(err, e.X.Pos())
		}
		return constNode(d), nil
	}
	if !explicitCast(x.T, t) {
		return nil, pgerr.CannotCast.New(x.T, t).WithPos(e.P)
	}
	if x.T == t && len(e.Type.Mods) == 0 {
		return x, nil
	}
	return castNode(x, t, e.Type.Mods, e.P, c.style())
}

func castNode(x *Node, t types.T, mods []int, pos int, st *types.Style) (*Node, error) {
	n := newNode(t, func(ec *Ctx, in Input) (types.Datum, error) {
		d, err := x.Fn(ec, in)
		if err != nil {
			return d, err
		}
		if d.Null {
			return types.NullOf(t), nil
		}
		if d, err = castDatumStyle(d, t, evalStyle(ec, st)); err != nil {
			return d, PosErr(err, pos)
		}
		if len(mods) > 0 {
			d, err = applyMods(d, mods)
			return d, PosErr(err, pos)
		}
		return d, nil
	})
	return fold(n, x)
}
