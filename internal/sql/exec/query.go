package exec

import (
	"context"
	"fmt"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Planning of whole queries (issue 11): WITH, set operations, VALUES, and
// the relational operators (relNode) that joins, CTEs and set operations
// are built from. A simple SELECT is planned by planSimple (select.go);
// its FROM, when it is more than one plain source, by planFrom (join.go).

// planner carries what planning a query needs besides its AST: where
// names resolve (sources, then the CTEs in scope), parameter types, and
// for a subquery the enclosing query's scope (outer).
type planner struct {
	resolve Resolver
	params  *ParamTypes
	// outer resolves correlated references (nil at the top level).
	outer scalar.OuterFunc
	// ctes are the WITH queries in scope, innermost first.
	ctes *cteScope
	// nsub counts the subquery expressions compiled with this planner.
	nsub int
}

// relNode is an operator of the FROM part of a query: a scan, a join, a
// subquery, VALUES, a set operation or a CTE. run hands out its rows in
// batches (fn must not retain b).
type relNode interface {
	Columns() []Column
	run(ctx context.Context, ec *Ctx, fn func(b *types.Batch) error) error
	explain(x *explainer)
}

// opStats are what EXPLAIN ANALYZE reports of an operator: rows out,
// how many times it ran, time spent (children included).
type opStats struct {
	rows  int64
	loops int64
	dur   time.Duration
}

// count wraps fn so the batches it sees are counted in s.
func (s *opStats) count(fn func(b *types.Batch) error) func(b *types.Batch) error {
	return func(b *types.Batch) error {
		s.rows += int64(b.N)
		return fn(b)
	}
}

// start notes one run; the returned func adds its duration.
func (s *opStats) start() func() {
	t := time.Now()
	s.loops++
	return func() { s.dur += time.Since(t) }
}

// planQuery plans any query: WITH, then a simple SELECT, VALUES or a set
// operation, then ORDER BY/LIMIT/OFFSET of the whole.
func (pl *planner) planQuery(sel *parser.Select) (*Plan, error) {
	if sel.With != nil {
		inner, err := pl.withCTEs(sel.With)
		if err != nil {
			return nil, err
		}
		body := *sel
		body.With = nil
		return inner.planQuery(&body)
	}
	if sel.IsSimple() {
		return pl.planSimple(sel)
	}
	var body relNode
	var err error
	if sel.SetOp != nil {
		body, err = pl.planSetOp(sel.SetOp)
	} else {
		body, err = pl.planValues(sel)
	}
	if err != nil {
		return nil, err
	}
	// ORDER BY/LIMIT/OFFSET of the whole: plan `SELECT c1 AS name1, ...
	// FROM body ...` over the body's columns under internal names, so
	// output names may repeat ("?column?") and ORDER BY names the output.
	wrap := &parser.Select{P: sel.P, From: &parser.TableRef{P: sel.P, Name: bodyName},
		OrderBy: sel.OrderBy, Limit: sel.Limit, Offset: sel.Offset}
	renamed := &renamedRel{relNode: body}
	for i, c := range body.Columns() {
		internal := fmt.Sprintf("\x00c%d", i)
		renamed.cols = append(renamed.cols, Column{Name: internal, T: c.T})
		wrap.Items = append(wrap.Items, parser.SelectItem{Expr: &parser.ColumnRef{P: sel.P, Name: internal}, Alias: c.Name})
	}
	inner := *pl
	inner.ctes = &cteScope{parent: pl.ctes, byName: map[string]*cteDef{bodyName: {name: bodyName, fixed: renamed}}}
	p, err := inner.planSimple(wrap)
	if err != nil {
		return nil, err
	}
	p.body = true
	return p, nil
}

// renamedRel is an operator under other column names.
type renamedRel struct {
	relNode
	cols []Column
}

func (r *renamedRel) Columns() []Column { return r.cols }

// bodyName names a set operation's or VALUES' rows while its ORDER BY
// and LIMIT are planned over them (not a name SQL can write).
const bodyName = "\x00body"

// ---- plans as operators ----

// planNode runs a planned query as a FROM item.
type planNode struct {
	p     *Plan
	label string
	stats opStats
}

func (n *planNode) Columns() []Column { return n.p.Columns() }

func (n *planNode) run(ctx context.Context, ec *Ctx, fn func(b *types.Batch) error) error {
	defer n.stats.start()()
	return runBatched(ctx, n.p, ec, n.stats.count(fn))
}

func (n *planNode) explain(x *explainer) {
	if n.label == "" {
		n.p.explainTo(x)
		return
	}
	x.line(&n.stats, "%s", n.label)
	x.child(func() { n.p.explainTo(x) })
}

// ---- VALUES ----

type valuesNode struct {
	cols  []Column
	rows  [][]*scalar.Node
	stats opStats
}

// planValues plans `VALUES (...), (...)`: per column, the first typed
// value's type (untyped literals take it; text when all are untyped), and
// every row's value converted to it.
func (pl *planner) planValues(sel *parser.Select) (*valuesNode, error) {
	c := &scalar.Compiler{Params: pl.params, NoAgg: "VALUES", Outer: pl.outer, Sub: pl.sub}
	n := &valuesNode{}
	width := len(sel.Values[0])
	for _, row := range sel.Values {
		var nodes []*scalar.Node
		for _, e := range row {
			x, err := c.Compile(e)
			if err != nil {
				return nil, err
			}
			nodes = append(nodes, x)
		}
		n.rows = append(n.rows, nodes)
	}
	for j := 0; j < width; j++ {
		t := types.Unknown
		for i, row := range n.rows {
			x := row[j]
			if x.Untyped || x.Param > 0 {
				continue
			}
			switch {
			case t == types.Unknown:
				t = x.T
			case t != x.T:
				ut, ok := unifyTypes(t, x.T)
				if !ok {
					return nil, pgerr.SetOpTypes.New("VALUES", t, x.T).WithPos(sel.Values[i][j].Pos())
				}
				t = ut
			}
		}
		if t == types.Unknown {
			t = types.Text
		}
		for i, row := range n.rows {
			x, err := coerceTo(c, row[j], t, sel.Values[i][j].Pos())
			if err != nil {
				return nil, err
			}
			row[j] = x
		}
		n.cols = append(n.cols, Column{Name: fmt.Sprintf("column%d", j+1), T: t})
	}
	return n, nil
}

// coerceTo converts n to t: untyped values and parameters take t, others
// convert with an implicit cast (the caller checked one exists).
func coerceTo(c *scalar.Compiler, n *scalar.Node, t types.T, pos int) (*scalar.Node, error) {
	if n.T == t {
		return n, nil
	}
	if n.Untyped || n.Param > 0 || scalar.ImplicitCast(n.T, t) {
		return c.Coerce(n, t, pos)
	}
	return n, nil
}

// unifyTypes is the type two branches of a set operation (or two rows of
// VALUES) resolve to: the same type, or the one the other converts to
// implicitly (PostgreSQL's preferred-type rules, simplified).
func unifyTypes(a, b types.T) (types.T, bool) {
	switch {
	case a == b:
		return a, true
	case a == types.Unknown:
		return b, true
	case b == types.Unknown:
		return a, true
	case scalar.ImplicitCast(a, b):
		return b, true
	case scalar.ImplicitCast(b, a):
		return a, true
	}
	return types.Unknown, false
}

func (n *valuesNode) Columns() []Column { return n.cols }

func (n *valuesNode) run(ctx context.Context, ec *Ctx, fn func(b *types.Batch) error) error {
	defer n.stats.start()()
	b := types.NewBatch(colTypes(n.cols))
	row := make([]types.Datum, len(n.cols))
	for _, r := range n.rows {
		for j, x := range r {
			d, err := x.Fn(ec, scalar.Input{})
			if err != nil {
				return err
			}
			if d.Null {
				d = types.NullOf(n.cols[j].T)
			}
			row[j] = d
		}
		b.AppendRow(row)
	}
	n.stats.rows += int64(b.N)
	return fn(b)
}

func (n *valuesNode) explain(x *explainer) {
	x.line(&n.stats, "Values (%d rows)", len(n.rows))
}

func colTypes(cols []Column) []types.T {
	ts := make([]types.T, len(cols))
	for i, c := range cols {
		ts[i] = c.T
	}
	return ts
}
