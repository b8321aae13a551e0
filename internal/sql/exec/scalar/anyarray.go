package scalar

import (
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// compileAnyArray compiles `x op ANY|ALL (array)`.
func (c *Compiler) compileAnyArray(e *parser.Quantified) (*Node, error) {
	x, err := c.Compile(e.X)
	if err != nil {
		return nil, err
	}
	arr, err := c.Compile(e.Array)
	if err != nil {
		return nil, err
	}
	if arr.Untyped || arr.Param > 0 {
		if x.Untyped || x.Param > 0 {
			if x, err = c.Coerce(x, types.Text, e.X.Pos()); err != nil {
				return nil, err
			}
		}
		at, ok := types.ArrayOf(x.T)
		if !ok {
			return nil, pgerr.QuantifiedNotArray.New(x.T).WithPos(e.Array.Pos())
		}
		if arr, err = c.Coerce(arr, at, e.Array.Pos()); err != nil {
			return nil, err
		}
	}
	if !arr.T.IsArray() {
		return nil, pgerr.QuantifiedNotArray.New(arr.T).WithPos(e.Array.Pos())
	}
	elem := arr.T.Elem()
	cmp, err := QuantifiedCmp(c, e, x, elem)
	if err != nil {
		return nil, err
	}
	all := e.All
	return fold(newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
		xv, err := x.Fn(ec, in)
		if err != nil {
			return xv, err
		}
		av, err := arr.Fn(ec, in)
		if err != nil || av.Null {
			return types.NullOf(types.Bool), err
		}
		vals, err := types.ArrayDatums(elem, av.S)
		if err != nil {
			return types.Datum{}, err
		}
		q := NewQuant(all)
		for _, v := range vals {
			r, err := cmp(ec, xv, v)
			if err != nil {
				return r, err
			}
			if q.Add(r) {
				break
			}
		}
		return q.Result(), nil
	}), x, arr)
}

// QuantifiedCmp compiles the comparison `x op v` of a quantified
// expression e, x already compiled in c and v a value of type vt; an
// untyped x takes vt. The result compares two datums.
func QuantifiedCmp(c *Compiler, e *parser.Quantified, x *Node, vt types.T) (func(ec *Ctx, a, b types.Datum) (types.Datum, error), error) {
	xt := x.T
	if x.Untyped || x.Param > 0 {
		xt = vt
		if _, err := c.Coerce(x, vt, e.X.Pos()); err != nil {
			return nil, err
		}
	}
	cc := &Compiler{Cols: []Column{{Name: "?l", T: xt}, {Name: "?r", T: vt}}, Params: c.Params, NoAgg: "this context"}
	n, err := cc.Compile(&parser.Binary{P: e.P, Op: e.Op, L: &parser.ColumnRef{P: e.X.Pos(), Name: "?l"}, R: &parser.ColumnRef{P: e.P, Name: "?r"}})
	if err != nil {
		return nil, err
	}
	if n.T != types.Bool {
		return nil, pgerr.QuantifiedNotBool.New(e.Op).WithPos(e.P)
	}
	conv := x.Untyped || x.Param > 0
	return func(ec *Ctx, a, b types.Datum) (types.Datum, error) {
		if conv && !a.Null && a.T != xt {
			var err error
			if a, err = castDatumStyle(a, xt, evalStyle(ec, nil)); err != nil {
				return a, PosErr(err, e.X.Pos())
			}
		}
		row := [2]types.Datum{a, b}
		return n.Fn(ec, Input{row: row[:]})
	}, nil
}

// Quant folds comparison results into the result of ANY (some true) or
// ALL (none false), with SQL's NULL rules.
type Quant struct {
	all, null, done bool
}

// NewQuant starts an ANY (all=false) or ALL fold.
func NewQuant(all bool) Quant { return Quant{all: all} }

// Add folds one comparison result; true when the result is decided.
func (q *Quant) Add(r types.Datum) bool {
	switch {
	case r.Null:
		q.null = true
	case r.Bool() != q.all:
		q.done = true
	}
	return q.done
}

// Result is the fold's value.
func (q *Quant) Result() types.Datum {
	switch {
	case q.done:
		return types.NewBool(!q.all)
	case q.null:
		return types.NullOf(types.Bool)
	}
	return types.NewBool(q.all)
}
