package scalar

import (
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// One-dimensional arrays: ARRAY[...], subscripts, array_length,
// cardinality, @> <@ && and ||. Values are their text form (see
// internal/types/array.go), split into element datums when used.

func arrayElems(d types.Datum) ([]types.Datum, error) {
	return types.ArrayDatums(d.T.Elem(), d.S)
}

func arrayDatum(t types.T, ds []types.Datum) types.Datum {
	return types.Datum{T: t, S: string(types.AppendArray(nil, ds))}
}

// buildArray is ARRAY[a, b, ...]: the elements' common type.
func buildArray(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) == 0 {
		return nil, pgerr.EmptyArrayType.New().WithPos(f.P)
	}
	et, ok := commonType(args)
	if !ok {
		return nil, pgerr.TypesCannotMatch.New("ARRAY", args[0].T, args[len(args)-1].T).WithPos(f.P)
	}
	at, ok := types.ArrayOf(et)
	if !ok {
		return nil, pgerr.FeatureNotSupportedArray.New(et).WithPos(f.P)
	}
	for i := range args {
		n, err := c.Coerce(args[i], et, f.Args[i].Pos())
		if err != nil {
			return nil, err
		}
		args[i] = n
	}
	return newNode(at, func(ec *Ctx, in Input) (types.Datum, error) {
		ds := make([]types.Datum, len(args))
		for i, a := range args {
			d, err := a.Fn(ec, in)
			if err != nil {
				return d, err
			}
			ds[i] = d
		}
		return arrayDatum(at, ds), nil
	}), nil
}

// buildSubscript is x[i]: element i (from 1), NULL when out of range.
func buildSubscript(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) != 2 {
		return nil, errNoMatch
	}
	if !args[0].T.IsArray() || args[0].Untyped {
		return nil, pgerr.NotAnArray.New(typeLabel(args[0])).WithPos(f.P)
	}
	if err := c.want(f, args[1:], types.Int8); err != nil {
		return nil, pgerr.ArraySubscriptType.New().WithPos(f.Args[1].Pos())
	}
	et := args[0].T.Elem()
	return newNode(et, func(ec *Ctx, in Input) (types.Datum, error) {
		a, i, null, err := binEval(args[0], args[1], ec, in)
		if err != nil || null {
			return types.NullOf(et), err
		}
		ds, err := arrayElems(a)
		if err != nil {
			return types.Datum{}, err
		}
		if i.I < 1 || i.I > int64(len(ds)) {
			return types.NullOf(et), nil
		}
		return ds[i.I-1], nil
	}), nil
}

// buildArrayLength is array_length(a, dim) (NULL for an empty array or a
// dimension other than 1) and array_upper; cardinality(a) counts all.
func buildArrayLength(name string) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		want := 2
		if name == "cardinality" {
			want = 1
		}
		if len(args) != want || !args[0].T.IsArray() || args[0].Untyped {
			return nil, errNoMatch
		}
		if want == 2 {
			if err := c.want(f, args[1:], types.Int4); err != nil {
				return nil, err
			}
		}
		return newNode(types.Int4, func(ec *Ctx, in Input) (types.Datum, error) {
			a, err := args[0].Fn(ec, in)
			if err != nil || a.Null {
				return types.NullOf(types.Int4), err
			}
			ds, err := arrayElems(a)
			if err != nil {
				return types.Datum{}, err
			}
			if name == "cardinality" {
				return types.NewInt(types.Int4, int64(len(ds))), nil
			}
			dim, err := args[1].Fn(ec, in)
			if err != nil || dim.Null || dim.I != 1 || len(ds) == 0 {
				return types.NullOf(types.Int4), err
			}
			if name == "array_lower" {
				return types.NewInt(types.Int4, 1), nil
			}
			return types.NewInt(types.Int4, int64(len(ds))), nil
		}), nil
	}
}

// isArrayOp reports whether op applies to arrays.
func isArrayOp(op string, l, r *Node) bool {
	if !l.T.IsArray() && !r.T.IsArray() {
		return false
	}
	switch op {
	case "@>", "<@", "&&", "||":
		return true
	}
	return false
}

// compileArrayOp builds @>, <@ (containment), && (overlap) and ||
// (concatenation of arrays, or of an array and an element).
func (c *Compiler) compileArrayOp(op string, l, r *Node, e *parser.Binary) (*Node, error) {
	var err error
	at := l.T
	if !at.IsArray() || l.Untyped {
		at = r.T
	}
	if op == "||" {
		return c.compileArrayConcat(at, l, r, e)
	}
	for _, n := range []*Node{l, r} {
		if !n.Untyped && n.Param == 0 && !ImplicitCast(n.T, at) && !(n.T.IsArray() && ImplicitCast(at, n.T)) {
			return nil, opErr(e.Op, l, r, e.P)
		}
	}
	if r.T.IsArray() && !r.Untyped && ImplicitCast(at, r.T) {
		at = r.T // int[] @> bigint[] compares as bigint[]
	}
	if l, err = c.Coerce(l, at, e.L.Pos()); err != nil {
		return nil, err
	}
	if r, err = c.Coerce(r, at, e.R.Pos()); err != nil {
		return nil, err
	}
	if l.T != r.T {
		return nil, opErr(e.Op, l, r, e.P)
	}
	return fold(newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
		a, b, null, err := binEval(l, r, ec, in)
		if err != nil || null {
			return types.NullOf(types.Bool), err
		}
		x, err := arrayElems(a)
		if err != nil {
			return types.Datum{}, err
		}
		y, err := arrayElems(b)
		if err != nil {
			return types.Datum{}, err
		}
		switch op {
		case "@>":
			return types.NewBool(arrayContains(x, y)), nil
		case "<@":
			return types.NewBool(arrayContains(y, x)), nil
		}
		for _, u := range x {
			if arrayHas(y, u) {
				return types.NewBool(true), nil
			}
		}
		return types.NewBool(false), nil
	}), l, r)
}

// arrayHas reports whether some element of xs equals v (NULL equals
// nothing, as in PostgreSQL's containment).
func arrayHas(xs []types.Datum, v types.Datum) bool {
	if v.Null {
		return false
	}
	for _, x := range xs {
		if !x.Null && CompareDatums(x, v) == 0 {
			return true
		}
	}
	return false
}

func arrayContains(x, y []types.Datum) bool {
	for _, v := range y {
		if !arrayHas(x, v) {
			return false
		}
	}
	return true
}

func (c *Compiler) compileArrayConcat(at types.T, l, r *Node, e *parser.Binary) (*Node, error) {
	var err error
	// Each side is the array type or its element type.
	side := func(n *Node, pos int) (*Node, bool, error) {
		if n.T == at && !n.Untyped {
			return n, true, nil
		}
		if n.Untyped {
			// An untyped literal next to an array is an array ('{3}').
			m, err := c.Coerce(n, at, pos)
			return m, true, err
		}
		m, err := c.Coerce(n, at.Elem(), pos)
		return m, false, err
	}
	var la, ra bool
	if l, la, err = side(l, e.L.Pos()); err != nil {
		return nil, err
	}
	if r, ra, err = side(r, e.R.Pos()); err != nil {
		return nil, err
	}
	return fold(newNode(at, func(ec *Ctx, in Input) (types.Datum, error) {
		a, err := l.Fn(ec, in)
		if err != nil {
			return a, err
		}
		b, err := r.Fn(ec, in)
		if err != nil {
			return b, err
		}
		var ds []types.Datum
		for _, x := range []struct {
			d     types.Datum
			array bool
		}{{a, la}, {b, ra}} {
			switch {
			case x.array && x.d.Null:
			case x.array:
				es, err := arrayElems(x.d)
				if err != nil {
					return types.Datum{}, err
				}
				ds = append(ds, es...)
			default:
				ds = append(ds, x.d)
			}
		}
		if a.Null && b.Null && la && ra {
			return types.NullOf(at), nil
		}
		return arrayDatum(at, ds), nil
	}), l, r)
}

// compareArrays orders arrays element by element, then by length.
func compareArrays(a, b types.Datum) int {
	x, err1 := arrayElems(a)
	y, err2 := arrayElems(b)
	if err1 != nil || err2 != nil {
		return 0
	}
	for i := 0; i < len(x) && i < len(y); i++ {
		if c := CompareNullable(x[i], y[i], false); c != 0 {
			return c
		}
	}
	return cmpInt(int64(len(x)), int64(len(y)))
}

// castArray converts an array to another array type element by element.
func castArray(d types.Datum, t types.T) (types.Datum, error) {
	ds, err := arrayElems(d)
	if err != nil {
		return types.Datum{}, err
	}
	for i := range ds {
		if ds[i], err = castDatumStyle(ds[i], t.Elem(), nil); err != nil {
			return types.Datum{}, err
		}
	}
	return arrayDatum(t, ds), nil
}
