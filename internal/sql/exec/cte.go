package exec

import (
	"context"
	"unsafe"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// WITH queries. Each CTE is planned once, where WITH names it. A CTE
// referenced once runs in place (as a subquery would); one referenced more
// than once runs once per execution and its rows are kept (materialized,
// charged to the statement's memory budget) for every reader. WITH
// RECURSIVE `nonrec UNION [ALL] rec` iterates: the working table starts
// as nonrec's rows, each round runs rec over the previous round's new
// rows (UNION drops rows seen before), and the rounds stop when one adds
// nothing — or fail past maxRecursion rounds or the memory budget.

// maxRecursion bounds the rounds of a recursive CTE.
const maxRecursion = 100_000

type cteScope struct {
	parent *cteScope
	byName map[string]*cteDef
}

type cteDef struct {
	name string
	cols []Column
	plan *Plan
	// fixed is an operator standing for the name (a set operation's rows
	// while its ORDER BY is planned).
	fixed relNode
	refs  int
	// rec is set for a recursive CTE; work marks the working table's
	// definition inside its recursive term.
	rec   *recursion
	work  bool
	stats opStats
}

type recursion struct {
	nonrec, rec *Plan
	all         bool
	conv        []types.T // rec's columns converted to nonrec's types
	work        *cteDef
}

// cte returns the CTE f names, if any.
func (pl *planner) cte(f *parser.TableRef) *cteDef {
	if f.Schema != "" || f.Func != nil || f.Subquery != nil || f.Join != nil {
		return nil
	}
	for s := pl.ctes; s != nil; s = s.parent {
		if d, ok := s.byName[f.Name]; ok {
			return d
		}
	}
	return nil
}

// cteScan returns the operator reading the CTE f names.
func (pl *planner) cteScan(f *parser.TableRef) (relNode, error) {
	d := pl.cte(f)
	if d.fixed != nil {
		return d.fixed, nil
	}
	d.refs++
	return &cteScanNode{def: d}, nil
}

// withCTEs plans the WITH clause's queries and returns a planner that
// sees them.
func (pl *planner) withCTEs(w *parser.With) (*planner, error) {
	scope := &cteScope{parent: pl.ctes, byName: map[string]*cteDef{}}
	inner := *pl
	inner.ctes = scope
	for _, c := range w.CTEs {
		d := &cteDef{name: c.Name}
		var err error
		if w.Recursive && c.Query.SetOp != nil && c.Query.SetOp.Op == parser.SetUnion &&
			len(c.Query.OrderBy) == 0 && c.Query.Limit == nil && c.Query.Offset == nil {
			err = inner.planRecursive(d, c)
		} else {
			d.plan, err = inner.planQuery(c.Query)
			if err == nil {
				d.cols = d.plan.Columns()
			}
		}
		if err != nil {
			return nil, err
		}
		if len(c.Cols) > len(d.cols) {
			return nil, pgerr.TooManyColumnAliases.New(c.Name, len(d.cols), len(c.Cols)).WithPos(c.P)
		}
		d.cols = renameCols(d.cols, c.Cols)
		scope.byName[c.Name] = d
	}
	return &inner, nil
}

func renameCols(cols []Column, names []string) []Column {
	if len(names) == 0 {
		return cols
	}
	out := append([]Column(nil), cols...)
	for i, n := range names {
		out[i].Name = n
	}
	return out
}

// planRecursive plans `nonrec UNION [ALL] rec`, rec reading the working
// table under the CTE's name.
func (pl *planner) planRecursive(d *cteDef, c parser.CTE) error {
	so := c.Query.SetOp
	nonrec, err := pl.planQuery(so.Left)
	if err != nil {
		return err
	}
	cols := nonrec.Columns()
	if len(c.Cols) > len(cols) {
		return pgerr.TooManyColumnAliases.New(c.Name, len(cols), len(c.Cols)).WithPos(c.P)
	}
	work := &cteDef{name: c.Name, cols: renameCols(cols, c.Cols), work: true}
	inner := *pl
	inner.ctes = &cteScope{parent: pl.ctes, byName: map[string]*cteDef{c.Name: work}}
	rec, err := inner.planQuery(so.Right)
	if err != nil {
		return err
	}
	if work.refs == 0 {
		// Not recursive after all: an ordinary UNION.
		p, err := pl.planQuery(c.Query)
		if err != nil {
			return err
		}
		d.plan, d.cols = p, p.Columns()
		return nil
	}
	rc := rec.Columns()
	if len(rc) != len(cols) {
		return pgerr.SetOpWidth.New("UNION").WithPos(so.P)
	}
	for i := range rc {
		if rc[i].T != cols[i].T && !scalar.ImplicitCast(rc[i].T, cols[i].T) {
			return pgerr.RecursiveTypes.New(c.Name, i+1, cols[i].T, rc[i].T).WithPos(so.P)
		}
	}
	d.rec = &recursion{nonrec: nonrec, rec: rec, all: so.All, conv: convTypes(rc, cols), work: work}
	d.cols = cols
	d.refs++ // always materialized: the rounds produce it
	return nil
}

// cteScanNode reads a CTE.
type cteScanNode struct {
	def   *cteDef
	stats opStats
}

func (n *cteScanNode) Columns() []Column { return n.def.cols }

// cteRows are a materialized CTE's rows: copies of the batches it
// produced.
type cteRows struct {
	batches []*types.Batch
}

func (n *cteScanNode) run(ctx context.Context, ec *Ctx, fn func(b *types.Batch) error) error {
	defer n.stats.start()()
	fn = n.stats.count(fn)
	d := n.def
	if d.work {
		rows, _ := ec.Memo[d].(*cteRows)
		if rows != nil {
			for _, b := range rows.batches {
				if err := fn(b); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if d.refs <= 1 && d.rec == nil {
		return runBatched(ctx, d.plan, ec, fn)
	}
	if ec.Memo == nil {
		ec.Memo = map[any]any{}
	}
	rows, _ := ec.Memo[d].(*cteRows)
	if rows == nil {
		var err error
		if rows, err = d.materialize(ctx, ec); err != nil {
			return err
		}
		ec.Memo[d] = rows
	}
	for _, b := range rows.batches {
		if err := fn(b); err != nil {
			return err
		}
	}
	return nil
}

// batchBytes estimates the memory a batch holds.
func batchBytes(b *types.Batch) int64 {
	n := int64(b.N) * int64(len(b.Cols)) * int64(unsafe.Sizeof(int64(0)))
	for i := range b.Cols {
		n += int64(len(b.Cols[i].Bytes)) + int64(len(b.Cols[i].Offs))*4 + int64(len(b.Cols[i].Iv))*24
	}
	return n + 64
}

// keep copies b into rows, charging the budget.
func (rows *cteRows) keep(ec *Ctx, b *types.Batch) error {
	cp := types.NewBatch(b.Types())
	cp.AppendBatch(b)
	if err := memoGrow(ec, batchBytes(cp)); err != nil {
		return err
	}
	rows.batches = append(rows.batches, cp)
	return nil
}

func (d *cteDef) materialize(ctx context.Context, ec *Ctx) (*cteRows, error) {
	d.stats.loops++
	rows := &cteRows{}
	if d.rec == nil {
		err := runBatched(ctx, d.plan, ec, func(b *types.Batch) error { return rows.keep(ec, b) })
		return rows, err
	}
	r := d.rec
	var seen map[string]struct{}
	if !r.all {
		seen = map[string]struct{}{}
	}
	var key []byte
	// round runs p and keeps (in next) the rows not seen before.
	round := func(p *Plan, conv []types.T) (*cteRows, error) {
		next := &cteRows{}
		out := newBatcher(d.cols, func(b *types.Batch) error { return next.keep(ec, b) })
		err := eachRow(ctx, ec, &planNode{p: p}, conv, func(row []types.Datum) error {
			if seen != nil {
				key = rowKey(key, row)
				if _, ok := seen[string(key)]; ok {
					return nil
				}
				if err := memoGrow(ec, int64(len(key)+48)); err != nil {
					return err
				}
				seen[string(key)] = struct{}{}
			}
			return out.add(row)
		})
		if err == nil {
			err = out.flush()
		}
		return next, err
	}
	work, err := round(r.nonrec, nil)
	if err != nil {
		return nil, err
	}
	for i := 0; len(work.batches) > 0; i++ {
		if i >= maxRecursion {
			return nil, pgerr.RecursionLimit.New(d.name, maxRecursion)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rows.batches = append(rows.batches, work.batches...)
		ec.Memo[r.work] = work
		if work, err = round(r.rec, r.conv); err != nil {
			return nil, err
		}
	}
	delete(ec.Memo, r.work)
	return rows, nil
}

func (n *cteScanNode) explain(x *explainer) {
	d := n.def
	switch {
	case d.work:
		x.line(&n.stats, "WorkTable Scan on %s", d.name)
	case d.rec != nil:
		x.line(&n.stats, "CTE Scan on %s (recursive, materialized)", d.name)
		x.child(func() {
			x.line(nil, "Recursive Union%s", map[bool]string{true: " All", false: ""}[d.rec.all])
			x.child(func() { d.rec.nonrec.explainTo(x) })
			x.child(func() { d.rec.rec.explainTo(x) })
		})
	case d.refs > 1:
		x.line(&n.stats, "CTE Scan on %s (materialized, %d readers)", d.name, d.refs)
		x.child(func() { d.plan.explainTo(x) })
	default:
		x.line(&n.stats, "CTE Scan on %s", d.name)
		x.child(func() { d.plan.explainTo(x) })
	}
}
