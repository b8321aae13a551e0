package exec

import (
	"math"
	"strconv"
	"strings"

	"github.com/cairndb/cairn/internal/parser"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// input is where column references read from: a row of datums, or row i
// of a columnar batch. It is passed by value so evaluation never makes it
// escape to the heap.
type input struct {
	row []types.Datum
	b   *types.Batch
	i   int
}

type evalFn func(ec *Ctx, in input) (types.Datum, error)

// node is one compiled expression.
type node struct {
	t     types.T
	fn    evalFn
	konst bool        // value known at compile time (in val)
	val   types.Datum // the constant when konst
	// untyped marks a string or NULL literal whose type comes from context
	// (PostgreSQL's "unknown"); val holds it.
	untyped bool
	param   int // $n whose type is still unknown (t is Unknown), else 0
	col     int // input column index of a plain column reference, else -1
	// volatile marks now() and friends: not folded at compile time.
	volatile bool
}

// Expr is a scalar expression compiled against a scope of input columns.
type Expr struct {
	n *node
}

// Type returns the expression's result type.
func (e *Expr) Type() types.T { return e.n.t }

// EvalRow evaluates the expression over a row of datums laid out as the
// columns it was compiled against.
func (e *Expr) EvalRow(ec *Ctx, row []types.Datum) (types.Datum, error) {
	return e.n.fn(ec, input{row: row})
}

// EvalBatch evaluates the expression over row i of a columnar batch
// without allocating. A text result may be a string over b's bytes: it
// must not outlive b (copy it with strings.Clone to keep it).
func (e *Expr) EvalBatch(ec *Ctx, b *types.Batch, i int) (types.Datum, error) {
	return e.n.fn(ec, input{b: b, i: i})
}

// Compile compiles a scalar expression over the columns cols. Parameter
// types found in context are recorded in params (which may be nil).
// Aggregates are not allowed.
func Compile(e parser.Expr, cols []Column, params *ParamTypes) (*Expr, error) {
	c := &compiler{cols: cols, params: params, noAgg: "this context"}
	n, err := c.compile(e)
	if err != nil {
		return nil, err
	}
	n, err = c.finish(n, e.Pos())
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
	c := &compiler{cols: cols, params: params, noAgg: "VALUES"}
	n, err := c.compile(e)
	if err != nil {
		return nil, err
	}
	if n.untyped || n.param > 0 {
		if n, err = c.coerce(n, t, e.Pos()); err != nil {
			return nil, err
		}
	}
	if n.t != t {
		if !assignCast(n.t, t) {
			return nil, pgerr.New(pgerr.DatatypeMismatch, "column is of type %s but expression is of type %s", t, n.t).WithPos(e.Pos()).
				WithHint("You will need to rewrite or cast the expression.")
		}
		x, pos := n, e.Pos()
		n, err = fold(newNode(t, func(ec *Ctx, in input) (types.Datum, error) {
			d, err := x.fn(ec, in)
			if err != nil {
				return d, err
			}
			d, err = Coerce(d, t)
			return d, posErr(err, pos)
		}), x)
		if err != nil {
			return nil, err
		}
	}
	return &Expr{n: n}, nil
}

// compiler turns AST expressions into nodes over one scope.
type compiler struct {
	cols   []Column
	quals  []string // names that may qualify a column (the FROM name and alias)
	params *ParamTypes
	agg    *aggCtx // set when compiling expressions evaluated after grouping
	noAgg  string  // where aggregates are not allowed, for the error message
}

// finish gives a still-untyped result the type text, as PostgreSQL does
// for a bare 'literal' or $1 in a select list.
func (c *compiler) finish(n *node, pos int) (*node, error) {
	if n.t == types.Unknown {
		return c.coerce(n, types.Text, pos)
	}
	return n, nil
}

func constNode(d types.Datum) *node {
	return &node{t: d.T, konst: true, val: d, col: -1, fn: func(*Ctx, input) (types.Datum, error) { return d, nil }}
}

func newNode(t types.T, fn evalFn) *node { return &node{t: t, fn: fn, col: -1} }

// fold evaluates n once at compile time when all its inputs are constants.
func fold(n *node, kids ...*node) (*node, error) {
	if n.volatile {
		return n, nil
	}
	for _, k := range kids {
		if k == nil || !k.konst || k.volatile {
			return n, nil
		}
	}
	d, err := n.fn(nil, input{})
	if err != nil {
		return nil, err
	}
	d.T = n.t
	return constNode(d), nil
}

func posErr(err error, pos int) error {
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

// resolveCol finds a column reference in the scope: -1 when missing.
func (c *compiler) resolveCol(r *parser.ColumnRef) (int, error) {
	if r.Table != "" {
		ok := false
		for _, q := range c.quals {
			if q == r.Table {
				ok = true
			}
		}
		if !ok {
			return -1, pgerr.New(pgerr.UndefinedTable, "missing FROM-clause entry for table %q", r.Table).WithPos(r.P)
		}
	}
	found := -1
	for i, col := range c.cols {
		if col.Name == r.Name {
			if found >= 0 {
				return -1, pgerr.New(pgerr.AmbiguousColumn, "column reference %q is ambiguous", r.Name).WithPos(r.P)
			}
			found = i
		}
	}
	return found, nil
}

func (c *compiler) compile(e parser.Expr) (*node, error) {
	if c.agg != nil {
		n, ok, err := c.agg.match(c, e)
		if ok || err != nil {
			return n, err
		}
	}
	n, err := c.compile1(e)
	if err != nil {
		return nil, posErr(err, e.Pos())
	}
	return n, nil
}

func (c *compiler) compile1(e parser.Expr) (*node, error) {
	switch e := e.(type) {
	case *parser.Literal:
		return compileLiteral(e)
	case *parser.Param:
		return c.compileParam(e), nil
	case *parser.ColumnRef:
		return c.compileColumn(e)
	case *parser.Star:
		return nil, pgerr.New(pgerr.SyntaxError, "syntax error at or near \"*\"").WithPos(e.P)
	case *parser.Unary:
		return c.compileUnary(e)
	case *parser.Binary:
		return c.compileBinary(e)
	case *parser.IsNull:
		x, err := c.compile(e.X)
		if err != nil {
			return nil, err
		}
		not := e.Not
		return fold(newNode(types.Bool, func(ec *Ctx, in input) (types.Datum, error) {
			d, err := x.fn(ec, in)
			if err != nil {
				return d, err
			}
			return types.NewBool(d.Null != not), nil
		}), x)
	case *parser.IsBool:
		x, err := c.compile(e.X)
		if err != nil {
			return nil, err
		}
		if x, err = c.boolArg(x, "IS "+boolWord(e.Val), e.X.Pos()); err != nil {
			return nil, err
		}
		not, val := e.Not, e.Val
		return fold(newNode(types.Bool, func(ec *Ctx, in input) (types.Datum, error) {
			d, err := x.fn(ec, in)
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
		return c.compile(r)
	case *parser.Cast:
		return c.compileCast(e)
	case *parser.Func:
		return c.compileFunc(e)
	case *parser.Case:
		return c.compileCase(e)
	case *parser.Subquery:
		return nil, pgerr.New(pgerr.FeatureNotSupported, "subqueries in expressions are not supported").WithPos(e.P)
	}
	return nil, pgerr.New(pgerr.FeatureNotSupported, "unsupported expression %T", e)
}

func boolWord(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

func compileLiteral(e *parser.Literal) (*node, error) {
	switch e.Kind {
	case parser.LitNull:
		n := constNode(types.NullOf(types.Unknown))
		n.untyped = true
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
		f, err := strconv.ParseFloat(e.Val, 64)
		if err != nil && !math.IsInf(f, 0) {
			return nil, pgerr.New(pgerr.InvalidTextRep, "invalid input syntax for type numeric: %q", e.Val).WithPos(e.P)
		}
		return constNode(types.NewFloat(types.Numeric, f)), nil
	case parser.LitString:
		n := constNode(types.Datum{T: types.Unknown, S: e.Val})
		n.untyped = true
		return n, nil
	}
	return nil, pgerr.New(pgerr.FeatureNotSupported, "unsupported literal")
}

func (c *compiler) compileParam(e *parser.Param) *node {
	c.params.note(e.N)
	t := c.params.get(e.N)
	n := newNode(t, paramFn(e.N, t, e.P))
	if t == types.Unknown {
		n.param = e.N
	}
	return n
}

// paramFn reads $n and converts it to t when the client sent another type
// (for example text for a parameter inferred as integer).
func paramFn(n int, t types.T, pos int) evalFn {
	return func(ec *Ctx, in input) (types.Datum, error) {
		if ec == nil || n > len(ec.Params) {
			return types.Datum{}, pgerr.New(pgerr.UndefinedParameter, "there is no parameter $%d", n).WithPos(pos)
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
		out, err := castDatum(d, t)
		return out, posErr(err, pos)
	}
}

// sqlValueFuncs are the keywords PostgreSQL evaluates like functions
// without parentheses; the parser may hand them over as column names.
var sqlValueFuncs = map[string]bool{
	"current_timestamp": true, "current_date": true, "localtimestamp": true,
	"current_user": true, "session_user": true, "user": true,
	"current_schema": true, "current_catalog": true, "current_role": true,
}

func (c *compiler) compileColumn(e *parser.ColumnRef) (*node, error) {
	idx, err := c.resolveCol(e)
	if err != nil {
		return nil, err
	}
	if idx < 0 {
		if e.Table == "" && sqlValueFuncs[e.Name] {
			return c.compileFunc(&parser.Func{P: e.P, Name: e.Name})
		}
		if e.Table != "" {
			return nil, pgerr.New(pgerr.UndefinedColumn, "column %s.%s does not exist", e.Table, e.Name).WithPos(e.P)
		}
		return nil, pgerr.New(pgerr.UndefinedColumn, "column %q does not exist", e.Name).WithPos(e.P)
	}
	return colNode(idx, c.cols[idx].T), nil
}

func colNode(idx int, t types.T) *node {
	n := newNode(t, func(ec *Ctx, in input) (types.Datum, error) {
		if in.b == nil {
			return in.row[idx], nil
		}
		return batchDatum(&in.b.Cols[idx], in.i), nil
	})
	n.col = idx
	return n
}

// rowNode reads slot idx of a row (post-aggregation scope).
func rowNode(idx int, t types.T) *node {
	return newNode(t, func(ec *Ctx, in input) (types.Datum, error) { return in.row[idx], nil })
}

func (c *compiler) boolArg(n *node, what string, pos int) (*node, error) {
	if n.t == types.Bool {
		return n, nil
	}
	if n.untyped || n.param > 0 {
		return c.coerce(n, types.Bool, pos)
	}
	return nil, pgerr.New(pgerr.DatatypeMismatch, "argument of %s must be type boolean, not type %s", what, n.t).WithPos(pos)
}

// coerce applies an implicit cast of n to t (untyped literals and
// parameters take t), or fails with 42804.
func (c *compiler) coerce(n *node, t types.T, pos int) (*node, error) {
	if n.t == t && !n.untyped {
		return n, nil
	}
	if n.untyped {
		if n.val.Null {
			return constNode(types.NullOf(t)), nil
		}
		d, err := castDatum(n.val, t)
		if err != nil {
			return nil, posErr(err, pos)
		}
		return constNode(d), nil
	}
	if n.param > 0 {
		c.params.set(n.param, t)
		nn := newNode(t, paramFn(n.param, t, pos))
		return nn, nil
	}
	if !implicitCast(n.t, t) {
		return nil, pgerr.New(pgerr.DatatypeMismatch, "expression of type %s cannot be used as type %s", n.t, t).WithPos(pos).
			WithHint("You will need to rewrite or cast the expression.")
	}
	return castNode(n, t, nil, pos)
}

// implicitCast reports whether PostgreSQL converts from to to without an
// explicit cast.
func implicitCast(from, to types.T) bool {
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

func timeRank(t types.T) int {
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
// untyped gives text.
func commonType(ns []*node) (types.T, bool) {
	t := types.Unknown
	for _, n := range ns {
		if n.untyped || n.param > 0 {
			continue
		}
		switch {
		case t == types.Unknown || t == n.t:
			t = n.t
		case t.IsNumeric() && n.t.IsNumeric():
			if numRank(n.t) > numRank(t) {
				t = n.t
			}
		case timeRank(t) > 0 && timeRank(n.t) > 0:
			if timeRank(n.t) > timeRank(t) {
				t = n.t
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

func (c *compiler) compileUnary(e *parser.Unary) (*node, error) {
	x, err := c.compile(e.X)
	if err != nil {
		return nil, err
	}
	switch e.Op {
	case "NOT", "not":
		if x, err = c.boolArg(x, "NOT", e.X.Pos()); err != nil {
			return nil, err
		}
		return fold(newNode(types.Bool, func(ec *Ctx, in input) (types.Datum, error) {
			d, err := x.fn(ec, in)
			if err != nil || d.Null {
				return d, err
			}
			return types.NewBool(d.I == 0), nil
		}), x)
	case "+", "-":
		if x.untyped || x.param > 0 {
			if x, err = c.coerce(x, types.Numeric, e.X.Pos()); err != nil {
				return nil, err
			}
		}
		if !x.t.IsNumeric() && x.t != types.Interval {
			return nil, pgerr.New(pgerr.UndefinedFunction, "operator does not exist: %s %s", e.Op, x.t).WithPos(e.P).
				WithHint("No operator matches the given name and argument type. You might need to add an explicit type cast.")
		}
		if e.Op == "+" {
			return x, nil
		}
		t := x.t
		return fold(newNode(t, func(ec *Ctx, in input) (types.Datum, error) {
			d, err := x.fn(ec, in)
			if err != nil || d.Null {
				return d, err
			}
			switch {
			case t == types.Interval:
				d.Iv = types.IntervalValue{Months: -d.Iv.Months, Days: -d.Iv.Days, Micros: -d.Iv.Micros}
			case t.IsFloat():
				d.F = -d.F
			default:
				if d.I == math.MinInt64 {
					return d, rangeErr(t)
				}
				d.I = -d.I
				if err := checkIntRange(t, d.I); err != nil {
					return d, err
				}
			}
			return d, nil
		}), x)
	}
	return nil, pgerr.New(pgerr.FeatureNotSupported, "unsupported operator %s", e.Op).WithPos(e.P)
}

func (c *compiler) compileIn(e *parser.InList) (*node, error) {
	x, err := c.compile(e.X)
	if err != nil {
		return nil, err
	}
	all := []*node{x}
	for _, le := range e.List {
		n, err := c.compile(le)
		if err != nil {
			return nil, err
		}
		all = append(all, n)
	}
	t, ok := commonType(all)
	if !ok {
		return nil, pgerr.New(pgerr.UndefinedFunction, "operator does not exist: %s = %s", all[0].t, all[len(all)-1].t).WithPos(e.P)
	}
	for i := range all {
		pos := e.X.Pos()
		if i > 0 {
			pos = e.List[i-1].Pos()
		}
		if all[i], err = c.coerce(all[i], t, pos); err != nil {
			return nil, err
		}
	}
	x, list, not := all[0], all[1:], e.Not
	return fold(newNode(types.Bool, func(ec *Ctx, in input) (types.Datum, error) {
		d, err := x.fn(ec, in)
		if err != nil || d.Null {
			return types.NullOf(types.Bool), err
		}
		sawNull := false
		for _, l := range list {
			v, err := l.fn(ec, in)
			if err != nil {
				return v, err
			}
			if v.Null {
				sawNull = true
				continue
			}
			if compareDatums(d, v) == 0 {
				return types.NewBool(!not), nil
			}
		}
		if sawNull {
			return types.NullOf(types.Bool), nil
		}
		return types.NewBool(not), nil
	}), all...)
}

func (c *compiler) compileCase(e *parser.Case) (*node, error) {
	type arm struct{ cond, then *node }
	arms := make([]arm, 0, len(e.Whens))
	var results []*node
	for _, w := range e.Whens {
		ce := w.Cond
		if e.Operand != nil {
			ce = &parser.Binary{P: w.Cond.Pos(), Op: "=", L: e.Operand, R: w.Cond}
		}
		cond, err := c.compile(ce)
		if err != nil {
			return nil, err
		}
		if cond, err = c.boolArg(cond, "CASE/WHEN", w.Cond.Pos()); err != nil {
			return nil, err
		}
		then, err := c.compile(w.Then)
		if err != nil {
			return nil, err
		}
		arms = append(arms, arm{cond, then})
		results = append(results, then)
	}
	var els *node
	if e.Else != nil {
		var err error
		if els, err = c.compile(e.Else); err != nil {
			return nil, err
		}
		results = append(results, els)
	}
	t, ok := commonType(results)
	if !ok {
		return nil, pgerr.New(pgerr.DatatypeMismatch, "CASE types %s and %s cannot be matched", results[0].t, results[len(results)-1].t).WithPos(e.P)
	}
	for i := range arms {
		var err error
		if arms[i].then, err = c.coerce(arms[i].then, t, e.Whens[i].Then.Pos()); err != nil {
			return nil, err
		}
	}
	if els != nil {
		var err error
		if els, err = c.coerce(els, t, e.Else.Pos()); err != nil {
			return nil, err
		}
	}
	return newNode(t, func(ec *Ctx, in input) (types.Datum, error) {
		for _, a := range arms {
			d, err := a.cond.fn(ec, in)
			if err != nil {
				return d, err
			}
			if d.Bool() {
				return a.then.fn(ec, in)
			}
		}
		if els != nil {
			return els.fn(ec, in)
		}
		return types.NullOf(t), nil
	}), nil
}

func (c *compiler) compileCast(e *parser.Cast) (*node, error) {
	t, ok := types.FromName(e.Type.Name)
	if !ok {
		return nil, pgerr.New(pgerr.UndefinedObject, "type %q does not exist", e.Type.Name).WithPos(e.Type.P)
	}
	x, err := c.compile(e.X)
	if err != nil {
		return nil, err
	}
	if x.param > 0 {
		c.params.set(x.param, t)
		x = newNode(t, paramFn(x.param, t, e.X.Pos()))
	}
	if x.untyped {
		if x.val.Null {
			return constNode(types.NullOf(t)), nil
		}
		d, err := castDatum(x.val, t)
		if err != nil {
			return nil, posErr(err, e.X.Pos())
		}
		if d, err = applyMods(d, e.Type.Mods); err != nil {
			return nil, posErr(err, e.X.Pos())
		}
		return constNode(d), nil
	}
	if !explicitCast(x.t, t) {
		return nil, pgerr.New("42846", "cannot cast type %s to %s", x.t, t).WithPos(e.P)
	}
	if x.t == t && len(e.Type.Mods) == 0 {
		return x, nil
	}
	return castNode(x, t, e.Type.Mods, e.P)
}

func castNode(x *node, t types.T, mods []int, pos int) (*node, error) {
	n := newNode(t, func(ec *Ctx, in input) (types.Datum, error) {
		d, err := x.fn(ec, in)
		if err != nil {
			return d, err
		}
		if d.Null {
			return types.NullOf(t), nil
		}
		if d, err = castDatum(d, t); err != nil {
			return d, posErr(err, pos)
		}
		if len(mods) > 0 {
			d, err = applyMods(d, mods)
			return d, posErr(err, pos)
		}
		return d, nil
	})
	return fold(n, x)
}
