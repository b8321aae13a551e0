package exec

import (
	"context"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Subquery expressions (issue 11): scalar (SELECT ...), EXISTS, IN and
// op ANY/ALL (SELECT ...). The subquery is planned when the expression
// compiles, with the enclosing compiler as its outer scope: a column the
// subquery's own FROM does not have resolves there, becomes a
// correlation slot (Ctx.Corr) and makes the subquery correlated. An
// uncorrelated subquery runs once per execution (its result kept in
// Ctx.Memo); a correlated one runs per distinct tuple of outer values,
// results cached (up to maxSubCache tuples). IN builds a hash set of the
// subquery's values; NOT IN follows SQL's NULL rules (NULL when the
// value is not found but the set has a NULL).

const maxSubCache = 10_000

type subKind uint8

const (
	subScalar subKind = iota
	subExists
	subIn
	subQuant
	subArray
)

type subquery struct {
	kind subKind
	plan *Plan
	corr []*scalar.Node
	slot map[string]int
	// IN / ANY / ALL
	t    types.T // the type values are compared in
	conv bool    // convert the subquery's values to t
	cmp  func(ec *Ctx, a, b types.Datum) (types.Datum, error)
	all  bool
}

// subResult is one run's result.
type subResult struct {
	val    types.Datum
	set    map[string]struct{}
	vals   []types.Datum
	hasNul bool
	n      int
}

type ctxKey struct{}

// heldKey keys the bytes charged for state kept in Ctx.Memo (an *int64),
// given back when the execution ends.
type heldKey struct{}

// memoGrow charges n bytes for state kept in ec.Memo until the
// execution ends.
func memoGrow(ec *Ctx, n int64) error {
	if err := ec.Grow(n); err != nil {
		return err
	}
	if held, ok := ec.Memo[heldKey{}].(*int64); ok {
		*held += n
	} else {
		ec.Shrink(n) // no owner to give it back: do not keep it charged
	}
	return nil
}

// runCtx is the context the statement runs under (Plan.Run records it).
func runCtx(ec *Ctx) context.Context {
	if c, ok := ec.Memo[ctxKey{}].(context.Context); ok {
		return c
	}
	return context.Background()
}

// sub compiles a subquery expression in c's scope (scalar.Compiler.Sub).
func (pl *planner) sub(c *scalar.Compiler, e parser.Expr) (*scalar.Node, error) {
	pl.nsub++
	sq := &subquery{slot: map[string]int{}}
	var sel *parser.Select
	switch e := e.(type) {
	case *parser.Subquery:
		sq.kind, sel = subScalar, e.Select
	case *parser.Exists:
		sq.kind, sel = subExists, e.Select
	case *parser.ArraySubquery:
		sq.kind, sel = subArray, e.Select
	case *parser.InSubquery:
		sq.kind, sel = subIn, e.Select
	case *parser.Quantified:
		sq.kind, sel, sq.all = subQuant, e.Select, e.All
	}
	child := &planner{resolve: pl.resolve, params: pl.params, ctes: pl.ctes}
	child.outer = func(r *parser.ColumnRef) (*scalar.Node, bool, error) {
		key := r.Table + "." + r.Name
		if k, ok := sq.slot[key]; ok {
			return scalar.CorrNode(k, sq.corr[k]), true, nil
		}
		n, err := c.Compile(r)
		if err != nil {
			switch pgerr.From(err).Code {
			case pgerr.UndefinedColumn, pgerr.UndefinedTable:
				return nil, false, nil
			}
			return nil, true, err
		}
		k := len(sq.corr)
		sq.corr = append(sq.corr, n)
		sq.slot[key] = k
		return scalar.CorrNode(k, n), true, nil
	}
	p, err := child.planQuery(sel)
	if err != nil {
		return nil, err
	}
	sq.plan = p
	cols := p.Columns()
	if sq.kind != subExists && len(cols) != 1 {
		return nil, pgerr.SubqueryColumns.New().WithPos(e.Pos())
	}
	switch e := e.(type) {
	case *parser.Subquery:
		return scalar.VirtualNode(cols[0].T, func(ec *Ctx, in scalar.Input) (types.Datum, error) {
			r, err := sq.result(ec, in)
			if err != nil {
				return types.Datum{}, err
			}
			return r.val, nil
		}), nil
	case *parser.ArraySubquery:
		at, ok := types.ArrayOf(cols[0].T)
		if !ok {
			return nil, pgerr.NoArrayType.New(cols[0].T).WithPos(e.P)
		}
		return scalar.VirtualNode(at, func(ec *Ctx, in scalar.Input) (types.Datum, error) {
			r, err := sq.result(ec, in)
			if err != nil {
				return types.Datum{}, err
			}
			return types.Datum{T: at, S: string(types.AppendArray(nil, r.vals))}, nil
		}), nil
	case *parser.Exists:
		return scalar.VirtualNode(types.Bool, func(ec *Ctx, in scalar.Input) (types.Datum, error) {
			r, err := sq.result(ec, in)
			if err != nil {
				return types.Datum{}, err
			}
			return types.NewBool(r.n > 0), nil
		}), nil
	case *parser.InSubquery:
		return pl.inSubquery(c, sq, e.X, e.Not, cols[0].T, e.P)
	case *parser.Quantified:
		if e.Op == "=" && !e.All {
			return pl.inSubquery(c, sq, e.X, false, cols[0].T, e.P)
		}
		x, err := c.Compile(e.X)
		if err != nil {
			return nil, err
		}
		if sq.cmp, err = scalar.QuantifiedCmp(c, e, x, cols[0].T); err != nil {
			return nil, err
		}
		sq.t = cols[0].T
		return scalar.VirtualNode(types.Bool, func(ec *Ctx, in scalar.Input) (types.Datum, error) {
			xv, err := x.Fn(ec, in)
			if err != nil {
				return xv, err
			}
			r, err := sq.result(ec, in)
			if err != nil {
				return types.Datum{}, err
			}
			q := scalar.NewQuant(sq.all)
			for _, v := range r.vals {
				d, err := sq.cmp(ec, xv, v)
				if err != nil {
					return d, err
				}
				if q.Add(d) {
					break
				}
			}
			return q.Result(), nil
		}), nil
	}
	return nil, pgerr.SubqueryInExpression.New().WithPos(e.Pos())
}

// inSubquery compiles `x [NOT] IN (subquery)` with a hash set.
func (pl *planner) inSubquery(c *scalar.Compiler, sq *subquery, xe parser.Expr, not bool, st types.T, pos int) (*scalar.Node, error) {
	x, err := c.Compile(xe)
	if err != nil {
		return nil, err
	}
	t := st
	if !(x.Untyped || x.Param > 0) {
		var ok bool
		if t, ok = unifyTypes(x.T, st); !ok {
			return nil, pgerr.OperatorNotFound.New(x.T, "=", st).WithPos(pos)
		}
	}
	if x, err = coerceTo(c, x, t, xe.Pos()); err != nil {
		return nil, err
	}
	sq.kind, sq.t, sq.conv = subIn, t, st != t
	return scalar.VirtualNode(types.Bool, func(ec *Ctx, in scalar.Input) (types.Datum, error) {
		xv, err := x.Fn(ec, in)
		if err != nil {
			return xv, err
		}
		r, err := sq.result(ec, in)
		if err != nil {
			return types.Datum{}, err
		}
		var res types.Datum
		switch {
		case r.n == 0:
			res = types.NewBool(false)
		case xv.Null:
			res = types.NullOf(types.Bool)
		default:
			if _, ok := r.set[string(scalar.AppendKey(nil, xv))]; ok {
				res = types.NewBool(true)
			} else if r.hasNul {
				res = types.NullOf(types.Bool)
			} else {
				res = types.NewBool(false)
			}
		}
		if not && !res.Null {
			res = types.NewBool(!res.Bool())
		}
		return res, nil
	}), nil
}

type subCache struct {
	byKey map[string]*subResult
}

// result runs the subquery for the outer row in (once per distinct
// correlation values per execution).
func (sq *subquery) result(ec *Ctx, in scalar.Input) (*subResult, error) {
	if ec.Memo == nil {
		ec.Memo = map[any]any{}
	}
	var key []byte
	var vals []types.Datum
	for _, n := range sq.corr {
		d, err := n.Fn(ec, in)
		if err != nil {
			return nil, err
		}
		d = scalar.Own(d)
		vals = append(vals, d)
		key = scalar.AppendKey(key, d)
	}
	cache, _ := ec.Memo[sq].(*subCache)
	if cache == nil {
		cache = &subCache{byKey: map[string]*subResult{}}
		ec.Memo[sq] = cache
	}
	if r, ok := cache.byKey[string(key)]; ok {
		return r, nil
	}
	sub := *ec
	sub.Corr = vals
	r, err := sq.run(&sub)
	if err != nil {
		return nil, err
	}
	if len(cache.byKey) < maxSubCache {
		cache.byKey[string(key)] = r
	}
	return r, nil
}

func (sq *subquery) run(ec *Ctx) (*subResult, error) {
	r := &subResult{}
	ctx := runCtx(ec)
	switch sq.kind {
	case subScalar:
		r.val = types.NullOf(sq.plan.Columns()[0].T)
		err := sq.plan.Run(ctx, ec, func(row []types.Datum) error {
			r.n++
			if r.n > 1 {
				return pgerr.SubqueryTooManyRows.New()
			}
			r.val = scalar.Own(row[0])
			return nil
		})
		return r, err
	case subExists:
		err := sq.plan.Run(ctx, ec, func([]types.Datum) error {
			r.n++
			return errStop
		})
		return r, err
	case subIn:
		r.set = map[string]struct{}{}
		var key []byte
		err := sq.plan.Run(ctx, ec, func(row []types.Datum) error {
			r.n++
			d := row[0]
			if d.Null {
				r.hasNul = true
				return nil
			}
			if sq.conv {
				var err error
				if d, err = scalar.CoerceStyle(d, sq.t, ec.Style); err != nil {
					return err
				}
			}
			key = scalar.AppendKey(key[:0], d)
			if _, ok := r.set[string(key)]; ok {
				return nil
			}
			if err := memoGrow(ec, int64(len(key)+48)); err != nil {
				return err
			}
			r.set[string(key)] = struct{}{}
			return nil
		})
		return r, err
	}
	err := sq.plan.Run(ctx, ec, func(row []types.Datum) error {
		r.n++
		d := scalar.Own(row[0])
		if err := memoGrow(ec, scalar.RowSize(row)); err != nil {
			return err
		}
		r.vals = append(r.vals, d)
		return nil
	})
	return r, err
}
