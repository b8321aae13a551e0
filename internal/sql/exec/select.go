package exec

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/agg"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// selItem is one output column before compilation (stars expanded).
type selItem struct {
	expr parser.Expr
	name string
}

type sortKey struct {
	col        int
	desc       bool
	nullsFirst bool
}

// Plan is a planned SELECT.
type Plan struct {
	cols  []Column
	src   Source
	sub   *Plan   // FROM (subquery)
	rel   relNode // FROM (joins, VALUES, set operations, CTEs)
	where *scalar.Node
	// lookup, when set, reads only the keys WHERE pins src's key to
	// (src is a KeyedSource); where still filters what it returns.
	lookup *keyLookup

	grouped bool
	keys    []*scalar.Node // group keys over the input
	aggs    []*agg.Spec    // aggregates over the input
	having  *scalar.Node   // over [keys..., aggs...]
	// proj computes the visible columns then hidden sort keys, over the
	// Input (not grouped) or over [keys..., aggs...] (grouped).
	proj     []*scalar.Node
	distinct bool
	order    []sortKey
	limit    *scalar.Node
	offset   *scalar.Node

	// For EXPLAIN (issue 11): what the plan does, as text, and what it
	// did (stats, counted by Run).
	info  planInfo
	stats opStats
	body  bool // the ORDER BY/LIMIT of a set operation or VALUES
	// memo is set when the plan has subqueries or CTEs, which keep
	// per-execution state in Ctx.Memo.
	memo bool
	olap olapPlan // window functions, grouping sets, DISTINCT ON, set-returning functions
}

// Columns returns the plan's output columns.
func (p *Plan) Columns() []Column { return p.cols }

// ArrivalSource is a Source whose batches carry their arrival time
// (types.Batch.Arrival): a stream, whose rows then have the implicit
// column arrival_timestamp.
type ArrivalSource interface {
	Arrival() bool
}

// PlanSelect plans a query (a SELECT, VALUES, set operation, with
// WITH) over the sources resolve finds. Parameter types found in context
// are recorded in params (which may be nil).
func PlanSelect(sel *parser.Select, resolve Resolver, params *ParamTypes) (*Plan, error) {
	pl := &planner{resolve: resolve, params: params}
	return pl.planQuery(sel)
}

// planSimple plans a simple SELECT (sel.IsSimple()).
func (pl *planner) planSimple(sel *parser.Select) (*Plan, error) {
	resolve, params := pl.resolve, pl.params
	p := &Plan{distinct: sel.Distinct}
	var cols []Column
	var quals []string
	var from *fromPlan
	where := sel.Where
	if f := sel.From; f != nil && pl.needsFrom(f) {
		var err error
		if from, err = pl.planFrom(f, where); err != nil {
			return nil, err
		}
		p.rel, cols, quals, where = from.rel, from.cols, from.quals, from.where
	} else if f := sel.From; f != nil {
		outputOf := false
		if f.Func != nil {
			name, ok, err := OutputOf(f)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, pgerr.TableFuncInSelect.New(f.Name).WithPos(f.P)
			}
			f = &parser.TableRef{P: f.P, Name: name, Alias: f.Alias}
			outputOf = true
		}
		switch {
		case f.Subquery != nil:
			sub, err := pl.planQuery(f.Subquery)
			if err != nil {
				return nil, err
			}
			p.sub, cols = sub, sub.Columns()
		case pl.cte(f) != nil:
			r, err := pl.cteScan(f)
			if err != nil {
				return nil, err
			}
			p.rel, cols = r, r.Columns()
			quals = append(quals, f.Name)
		default:
			if resolve == nil {
				return nil, pgerr.UndefinedTableErr("relation", f.Name).WithPos(f.P)
			}
			src, err := resolve(f.Schema, f.Name)
			if err != nil {
				return nil, scalar.PosErr(err, f.P)
			}
			if outputOf {
				if err := checkOutputOf(f, src); err != nil {
					return nil, err
				}
			}
			p.src, cols = src, src.Columns()
			quals = append(quals, f.Name)
		}
		if f.Alias != "" {
			quals = []string{f.Alias}
		}
	}
	in := &scalar.Compiler{Cols: cols, Quals: quals, Params: params, Outer: pl.outer, Sub: pl.sub}
	if a, ok := p.src.(ArrivalSource); ok && a.Arrival() {
		in.Virtual = arrivalColumn
	}
	var items []selItem
	var err error
	if from != nil {
		in.Meta = from.meta
		items, err = from.expandItems(sel)
	} else {
		items, err = expandItems(sel, cols, quals)
	}
	if err != nil {
		return nil, err
	}
	if err := checkNoWindows(sel); err != nil {
		return nil, err
	}
	if where != nil {
		in.NoAgg = "WHERE"
		w, err := in.Compile(where)
		if err != nil {
			return nil, err
		}
		if p.where, err = in.BoolArg(w, "WHERE", where.Pos()); err != nil {
			return nil, err
		}
	}

	grouped := len(sel.GroupBy) > 0 || sel.Having != nil
	for _, it := range items {
		grouped = grouped || agg.Contains(it.expr)
	}
	for _, o := range sel.OrderBy {
		grouped = grouped || agg.Contains(o.Expr)
	}
	p.grouped = grouped

	scope := in // where select items, ORDER BY and HAVING compile
	var actx *agg.Scope
	if grouped {
		g, err := p.planGroupBy(in, items, sel.GroupBy)
		if err != nil {
			return nil, err
		}
		scope, actx = g.post, g.actx
	} else {
		in.NoAgg = "SELECT"
	}
	havingScope := scope
	if grouped {
		hs := *scope
		hs.NoAgg = "HAVING" // names HAVING in errors (a set-returning call there)
		havingScope = &hs
	}
	if scope, err = p.planOlapScope(scope, items, sel); err != nil {
		return nil, err
	}
	for _, it := range items {
		n, err := scope.Compile(it.expr)
		if err != nil {
			return nil, err
		}
		if n, err = scope.Finish(n, it.expr.Pos()); err != nil {
			return nil, err
		}
		p.proj = append(p.proj, n)
		p.cols = append(p.cols, Column{Name: it.name, T: n.T})
	}
	if sel.Having != nil {
		h, err := havingScope.Compile(sel.Having)
		if err != nil {
			return nil, err
		}
		if p.having, err = havingScope.BoolArg(h, "HAVING", sel.Having.Pos()); err != nil {
			return nil, err
		}
	}
	if err := p.planOrder(scope, items, sel.OrderBy); err != nil {
		return nil, err
	}
	if err := p.planDistinctOn(scope, items, sel); err != nil {
		return nil, err
	}
	p.finishOlap()
	if actx != nil {
		p.keys, p.aggs = actx.KeyNodes, actx.Aggs
	}
	if p.limit, err = planCount(sel.Limit, params, "LIMIT"); err != nil {
		return nil, err
	}
	if p.offset, err = planCount(sel.Offset, params, "OFFSET"); err != nil {
		return nil, err
	}
	if p.src != nil {
		// After everything else, so parameter types are final.
		p.lookup = planLookup(p.src, sel.Where, cols, quals, params)
	}
	p.info = newPlanInfo(sel, where)
	p.memo = pl.nsub > 0 || p.rel != nil || p.sub != nil
	return p, nil
}

// expandItems expands * and t.* and names every output column.
func expandItems(sel *parser.Select, cols []Column, quals []string) ([]selItem, error) {
	var items []selItem
	for _, it := range sel.Items {
		if st, ok := it.Expr.(*parser.Star); ok {
			if sel.From == nil {
				return nil, pgerr.StarWithoutTables.New().WithPos(st.P)
			}
			if st.Table != "" && !contains(quals, st.Table) {
				return nil, pgerr.MissingFromEntry.New(st.Table).WithPos(st.P)
			}
			seen := map[string]int{}
			for _, c := range cols {
				seen[c.Name]++
			}
			for i, c := range cols {
				var e parser.Expr = &parser.ColumnRef{P: st.P, Table: st.Table, Name: c.Name}
				if seen[c.Name] > 1 && st.Table == "" {
					e = &parser.ColumnIndex{P: st.P, Index: i, Name: c.Name} // a name would be ambiguous
				}
				items = append(items, selItem{expr: e, name: c.Name})
			}
			continue
		}
		name := it.Alias
		if name == "" {
			name = figureName(it.Expr)
		}
		items = append(items, selItem{expr: it.Expr, name: name})
	}
	return items, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// grouping is the result of planning GROUP BY: the post-grouping scope
// and what to compute per group.
type grouping struct {
	post  *scalar.Compiler
	actx  *agg.Scope
	keyOf []int // per GROUP BY item, the key it is
}

// planGrouping resolves GROUP BY items like PostgreSQL: an integer
// literal is an output ordinal, a bare name is an input column or else an
// output alias, anything else an expression over the input.
func planGrouping(in *scalar.Compiler, items []selItem, groupBy []parser.Expr) (*grouping, error) {
	out := &grouping{}
	argC := &scalar.Compiler{Cols: in.Cols, Quals: in.Quals, Params: in.Params, NoAgg: "", Virtual: in.Virtual, Meta: in.Meta, Outer: in.Outer, Sub: in.Sub}
	actx := &agg.Scope{In: argC}
	keyC := &scalar.Compiler{Cols: in.Cols, Quals: in.Quals, Params: in.Params, NoAgg: "GROUP BY", Virtual: in.Virtual, Meta: in.Meta, Outer: in.Outer, Sub: in.Sub}
	for _, ge := range groupBy {
		e := ge
		switch g := ge.(type) {
		case *parser.Literal:
			if g.Kind == parser.LitInt {
				k, err := strconv.Atoi(g.Val)
				if err != nil || k < 1 || k > len(items) {
					return nil, pgerr.PositionNotInSelectList.New("GROUP BY", g.Val).WithPos(g.P)
				}
				e = items[k-1].expr
			}
		case *parser.ColumnRef:
			if g.Table == "" {
				idx, err := keyC.ResolveCol(g)
				if err != nil {
					return nil, err
				}
				if idx < 0 {
					for _, it := range items {
						if it.name == g.Name {
							e = it.expr
							break
						}
					}
				}
			}
		}
		if agg.Contains(e) {
			return nil, pgerr.AggregateNotAllowed.New("GROUP BY").WithPos(ge.Pos())
		}
		canon := agg.Canon(keyC, e)
		if k := index(actx.Keys, canon); k >= 0 {
			out.keyOf = append(out.keyOf, k)
			continue
		}
		out.keyOf = append(out.keyOf, len(actx.Keys))
		n, err := keyC.Compile(e)
		if err != nil {
			return nil, err
		}
		if n, err = keyC.Finish(n, e.Pos()); err != nil {
			return nil, err
		}
		actx.Keys = append(actx.Keys, canon)
		actx.KeyNodes = append(actx.KeyNodes, n)
	}
	out.post = &scalar.Compiler{Quals: in.Quals, Params: in.Params, Agg: actx, NoAgg: "this context", Outer: in.Outer, Sub: in.Sub}
	out.actx = actx
	return out, nil
}

// planOrder resolves ORDER BY items: an integer literal is an output
// ordinal, a bare name an output column (else an input expression), an
// expression equal to a select item reuses it, anything else is computed
// as a hidden column after the visible ones.
func (p *Plan) planOrder(scope *scalar.Compiler, items []selItem, order []parser.OrderItem) error {
	nvis := len(p.cols)
	var canons []string
	for _, o := range order {
		col := -1
		switch e := o.Expr.(type) {
		case *parser.Literal:
			if e.Kind == parser.LitInt {
				k, err := strconv.Atoi(e.Val)
				if err != nil || k < 1 || k > nvis {
					return pgerr.PositionNotInSelectList.New("ORDER BY", e.Val).WithPos(e.P)
				}
				col = k - 1
			}
		case *parser.ColumnRef:
			if e.Table == "" {
				for i := 0; i < nvis; i++ {
					if p.cols[i].Name != e.Name {
						continue
					}
					if col >= 0 && canonItem(scope, items[col].expr) != canonItem(scope, items[i].expr) {
						return pgerr.AmbiguousOrderBy.New(e.Name).WithPos(e.P)
					}
					if col < 0 {
						col = i
					}
				}
			}
		}
		if col < 0 {
			if canons == nil {
				for _, it := range items {
					canons = append(canons, canonItem(scope, it.expr))
				}
			}
			c := canonItem(scope, o.Expr)
			for i, ic := range canons {
				if ic == c {
					col = i
					break
				}
			}
		}
		if col < 0 {
			if p.distinct {
				return pgerr.DistinctOrderBy.New().WithPos(o.Expr.Pos())
			}
			n, err := scope.Compile(o.Expr)
			if err != nil {
				return err
			}
			if n, err = scope.Finish(n, o.Expr.Pos()); err != nil {
				return err
			}
			p.proj = append(p.proj, n)
			col = len(p.proj) - 1
		}
		nf := o.Desc // PostgreSQL: NULLs sort as larger than everything
		if o.NullsFirst != nil {
			nf = *o.NullsFirst
		}
		p.order = append(p.order, sortKey{col: col, desc: o.Desc, nullsFirst: nf})
	}
	return nil
}

// canonItem is canon in the scope's input (the post-grouping scope
// canonicalizes against the grouping input).
func canonItem(c *scalar.Compiler, e parser.Expr) string {
	if s, ok := c.Agg.(*agg.Scope); ok {
		return agg.Canon(s.In, e)
	}
	if s, ok := c.Agg.(interface{ CanonScope() *scalar.Compiler }); ok {
		return agg.Canon(s.CanonScope(), e)
	}
	return agg.Canon(c, e)
}

func planCount(e parser.Expr, params *ParamTypes, what string) (*scalar.Node, error) {
	if e == nil {
		return nil, nil
	}
	c := &scalar.Compiler{Params: params, NoAgg: what}
	n, err := c.Compile(e)
	if err != nil {
		return nil, err
	}
	if n.T != types.Int8 && !(n.Untyped || n.Param > 0 || scalar.ImplicitCast(n.T, types.Int8)) {
		return nil, pgerr.ArgumentNotBigint.New(what, n.T).WithPos(e.Pos())
	}
	return c.Coerce(n, types.Int8, e.Pos())
}

// accumSize estimates one aggregate's running state in a group.
const accumSize = 64

// errStop ends a scan early once LIMIT rows went out.
var errStop = errors.New("stop")

type group struct {
	keys []types.Datum
	acc  []agg.Accum
}

// Run executes the plan, calling emit with each output row. emit must not
// retain row (the datums themselves may be kept).
func (p *Plan) Run(ctx context.Context, ec *Ctx, emit func(row []types.Datum) error) error {
	defer p.stats.start()()
	if ec != nil && ec.Memo == nil && p.memo {
		// The outermost run owns the execution's memo: what subqueries
		// and CTEs keep there is given back when it ends.
		held := new(int64)
		ec.Memo = map[any]any{ctxKey{}: ctx, heldKey{}: held}
		defer func() {
			ec.Shrink(*held)
			ec.Memo = nil
		}()
	}
	limit, offset, err := p.bounds(ec)
	if err != nil {
		return err
	}
	nvis := len(p.cols)
	var emitted int64
	// Memory the buffering below charges (groups, sort buffer, DISTINCT
	// set), given back when the run ends.
	var charged int64
	defer func() { ec.Shrink(charged) }()
	grow := func(n int64) error {
		if err := ec.Grow(n); err != nil {
			return err
		}
		charged += n
		return nil
	}
	out := func(row []types.Datum) error {
		if offset > 0 {
			offset--
			return nil
		}
		if limit >= 0 && emitted >= limit {
			return errStop
		}
		emitted++
		p.stats.rows++
		if err := emit(row[:nvis]); err != nil {
			return err
		}
		if limit >= 0 && emitted >= limit {
			return errStop
		}
		return nil
	}
	if limit == 0 {
		return nil
	}
	streaming := !p.grouped && !p.distinct && len(p.order) == 0 && p.olap.streams()
	// ORDER BY ... LIMIT keeps only the best offset+limit rows.
	var top *topK
	if len(p.order) > 0 && limit >= 0 && offset+limit < 1<<20 && p.olap.distinctOn == nil {
		top = &topK{k: int(offset + limit), less: p.rowLess}
	}
	var rows [][]types.Datum
	var seen map[string]struct{}
	var keyBuf []byte
	collect := func(row []types.Datum) error {
		if p.distinct {
			keyBuf = keyBuf[:0]
			for _, d := range row[:nvis] {
				keyBuf = scalar.AppendKey(keyBuf, d)
			}
			if _, ok := seen[string(keyBuf)]; ok {
				return nil
			}
			if seen == nil {
				seen = make(map[string]struct{})
			}
			if err := grow(int64(len(keyBuf) + 48)); err != nil {
				return err
			}
			seen[string(keyBuf)] = struct{}{}
		}
		if streaming {
			return out(row)
		}
		if top != nil {
			if len(top.h) < top.k {
				if err := grow(scalar.RowSize(row)); err != nil {
					return err
				}
			}
			top.add(row)
			return nil
		}
		if err := grow(scalar.RowSize(row)); err != nil {
			return err
		}
		rows = append(rows, row)
		return nil
	}
	// add takes the projected rows: into the window stage when there is
	// one, else collect.
	add := collect
	var wbuf winBuffer
	if w := p.olap.win; w != nil {
		add = func(row []types.Datum) error { return wbuf.add(ec, w, row) }
	}
	preSRF := p.olap.preSRF()

	groups := map[string]*group{}
	var order []*group
	var gkey, scratch []byte
	var argv, setKeys []types.Datum
	row := make([]types.Datum, len(p.proj))
	err = p.scan(ctx, ec, func(b *types.Batch) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := 0; i < b.N; i++ {
			in := scalar.BatchInput(b, i)
			if p.where != nil {
				d, err := p.where.Fn(ec, in)
				if err != nil {
					return err
				}
				if !d.Bool() {
					continue
				}
			}
			if !p.grouped {
				if p.olap.win != nil || preSRF != nil {
					if err := projectRow(ec, in, p.proj, preSRF, add); err != nil {
						return err
					}
					continue
				}
				if !streaming {
					row = make([]types.Datum, len(p.proj))
				}
				for j, n := range p.proj {
					d, err := n.Fn(ec, in)
					if err != nil {
						return err
					}
					row[j] = scalar.Own(d)
				}
				if err := collect(row); err != nil {
					return err
				}
				continue
			}
			var kv [8]types.Datum
			all := kv[:0]
			for _, k := range p.keys {
				d, err := k.Fn(ec, in)
				if err != nil {
					return err
				}
				all = append(all, d)
			}
			nsets := 1
			if gs := p.olap.gsets; gs != nil {
				nsets = len(gs.sets)
				if len(setKeys) < len(all) {
					setKeys = make([]types.Datum, len(all))
				}
			}
			for si := 0; si < nsets; si++ {
				keys := all
				if gs := p.olap.gsets; gs != nil {
					keys = setKeys[:len(all)]
					gs.setKeys(si, all, keys)
				}
				gkey = gkey[:0]
				for _, d := range keys {
					gkey = scalar.AppendKey(gkey, d)
				}
				g := groups[string(gkey)]
				if g == nil {
					if err := grow(int64(2*len(gkey)+64) + int64(len(p.aggs))*accumSize); err != nil {
						return err
					}
					g = &group{acc: make([]agg.Accum, len(p.aggs))}
					for _, d := range keys {
						g.keys = append(g.keys, scalar.Own(d))
					}
					groups[string(gkey)] = g
					order = append(order, g)
				}
				for j, s := range p.aggs {
					if s.Filter != nil {
						d, err := s.Filter.Fn(ec, in)
						if err != nil {
							return err
						}
						if !d.Bool() {
							continue
						}
					}
					argv = argv[:0]
					for _, a := range s.Args {
						v, err := a.Fn(ec, in)
						if err != nil {
							return err
						}
						argv = append(argv, v)
					}
					if err := g.acc[j].AddRow(s, argv, &scratch); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return nil
	}
	if err != nil {
		return err
	}
	if p.grouped {
		if len(order) == 0 && len(p.keys) == 0 {
			order = append(order, &group{acc: make([]agg.Accum, len(p.aggs))})
		}
		if gs := p.olap.gsets; gs != nil {
			order = gs.addEmpty(order, p.keys, len(p.aggs))
		}
		post := make([]types.Datum, len(p.keys)+len(p.aggs))
		for _, g := range order {
			copy(post, g.keys)
			for j, s := range p.aggs {
				d, err := g.acc[j].ResultErr(s)
				if err != nil {
					return err
				}
				post[len(p.keys)+j] = d
			}
			in := scalar.RowInput(post)
			if p.having != nil {
				d, err := p.having.Fn(ec, in)
				if err != nil {
					return err
				}
				if !d.Bool() {
					continue
				}
			}
			if err := projectRow(ec, in, p.proj, preSRF, add); err != nil {
				return err
			}
		}
	}
	if w := p.olap.win; w != nil {
		// Without DISTINCT or ORDER BY the window's rows go straight out.
		direct := !p.distinct && len(p.order) == 0 && p.olap.distinctOn == nil
		final := collect
		if direct {
			final = out
		}
		err := w.run(ctx, ec, &wbuf, p.olap.srf, final)
		if direct && errors.Is(err, errStop) {
			return nil
		}
		if err != nil {
			return err
		}
	}
	if streaming {
		return nil
	}
	switch {
	case top != nil:
		rows = top.sorted()
	case len(p.order) > 0:
		sort.SliceStable(rows, func(a, b int) bool { return p.rowLess(rows[a], rows[b]) })
	}
	keep := p.olap.distinctOnFilter()
	for _, r := range rows {
		if keep != nil && !keep(r) {
			continue
		}
		if err := out(r); err != nil {
			if errors.Is(err, errStop) {
				return nil
			}
			return err
		}
	}
	return nil
}

// bounds evaluates LIMIT (-1 when absent or NULL) and OFFSET.
func (p *Plan) bounds(ec *Ctx) (limit, offset int64, err error) {
	limit = -1
	if p.limit != nil {
		d, err := p.limit.Fn(ec, scalar.Input{})
		if err != nil {
			return 0, 0, err
		}
		if !d.Null {
			if d.I < 0 {
				return 0, 0, pgerr.NegativeLimit.New()
			}
			limit = d.I
		}
	}
	if p.offset != nil {
		d, err := p.offset.Fn(ec, scalar.Input{})
		if err != nil {
			return 0, 0, err
		}
		if !d.Null {
			if d.I < 0 {
				return 0, 0, pgerr.NegativeOffset.New()
			}
			offset = d.I
		}
	}
	return limit, offset, nil
}

// rowLess orders rows by the ORDER BY keys.
func (p *Plan) rowLess(a, b []types.Datum) bool { return lessBy(p.order, a, b) }

// lessBy orders rows by sort keys.
func lessBy(order []sortKey, a, b []types.Datum) bool {
	for _, k := range order {
		c := scalar.CompareNullable(a[k.col], b[k.col], k.nullsFirst)
		if k.desc && !(a[k.col].Null || b[k.col].Null) {
			c = -c
		}
		if c != 0 {
			return c < 0
		}
	}
	return false
}

// topK keeps the k first rows in sort order seen so far, in a max-heap
// on (row order, arrival), so ORDER BY ... LIMIT over a long stream holds
// only k rows; ties keep arrival order, as a stable sort would.
type topK struct {
	k    int
	less func(a, b []types.Datum) bool
	seq  int
	h    []topRow
}

type topRow struct {
	row []types.Datum
	seq int
}

// after reports whether x sorts after y.
func (t *topK) after(x, y topRow) bool {
	if t.less(y.row, x.row) {
		return true
	}
	if t.less(x.row, y.row) {
		return false
	}
	return x.seq > y.seq
}

func (t *topK) add(row []types.Datum) {
	r := topRow{row: row, seq: t.seq}
	t.seq++
	if t.k == 0 {
		return
	}
	if len(t.h) < t.k {
		t.h = append(t.h, r)
		for i := len(t.h) - 1; i > 0; {
			parent := (i - 1) / 2
			if !t.after(t.h[i], t.h[parent]) {
				break
			}
			t.h[i], t.h[parent] = t.h[parent], t.h[i]
			i = parent
		}
		return
	}
	if !t.after(t.h[0], r) {
		return
	}
	t.h[0] = r
	for i := 0; ; {
		l, big := 2*i+1, i
		if l < len(t.h) && t.after(t.h[l], t.h[big]) {
			big = l
		}
		if l+1 < len(t.h) && t.after(t.h[l+1], t.h[big]) {
			big = l + 1
		}
		if big == i {
			break
		}
		t.h[i], t.h[big] = t.h[big], t.h[i]
		i = big
	}
}

func (t *topK) sorted() [][]types.Datum {
	sort.Slice(t.h, func(a, b int) bool { return t.after(t.h[b], t.h[a]) })
	rows := make([][]types.Datum, len(t.h))
	for i, r := range t.h {
		rows[i] = r.row
	}
	return rows
}

// scan feeds the FROM item's rows in batches: the source (only the
// looked-up keys when the plan has a lookup), the subquery's rows, or one
// empty row for a SELECT without FROM.
func (p *Plan) scan(ctx context.Context, ec *Ctx, fn func(b *types.Batch) error) error {
	switch {
	case p.lookup != nil:
		if keys, ok := p.lookup.keys(ec); ok {
			if len(keys) == 0 {
				return nil // every pinned value is NULL: no row can match
			}
			return p.lookup.src.ScanKeys(ctx, keys, fn)
		}
		return p.src.Scan(ctx, fn)
	case p.src != nil:
		return p.src.Scan(ctx, fn)
	case p.rel != nil:
		return p.rel.run(ctx, ec, fn)
	case p.sub != nil:
		return runBatched(ctx, p.sub, ec, fn)
	}
	return fn(&types.Batch{N: 1})
}

// runBatched runs plan p and hands its rows to fn in batches of 1024.
func runBatched(ctx context.Context, p *Plan, ec *Ctx, fn func(b *types.Batch) error) error {
	ts := make([]types.T, len(p.cols))
	for i, c := range p.cols {
		ts[i] = c.T
	}
	b := types.NewBatch(ts)
	err := p.Run(ctx, ec, func(row []types.Datum) error {
		b.AppendRow(row)
		if b.N >= 1024 {
			if err := fn(b); err != nil {
				return err
			}
			b.Reset()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if b.N > 0 {
		return fn(b)
	}
	return nil
}

// figureName is the output column name PostgreSQL gives an unaliased
// select item.
func figureName(e parser.Expr) string {
	name, _ := figureNameStrength(e)
	return name
}

// figureNameStrength mirrors PostgreSQL's FigureColname: column and
// function names (strength 2) win over a cast's type name (1), which
// wins over "?column?" (0).
func figureNameStrength(e parser.Expr) (string, int) {
	switch e := e.(type) {
	case *parser.ColumnRef:
		return e.Name, 2
	case *parser.Func:
		if e.Name == parser.SubscriptFunc && len(e.Args) == 2 {
			return figureNameStrength(e.Args[0])
		}
		return strings.ToLower(e.Name), 2
	case *parser.Cast:
		if n, s := figureNameStrength(e.X); s == 2 {
			return n, s
		}
		if t, ok := types.FromName(e.Type.Name); ok {
			return internalTypeName(t), 1
		}
		return e.Type.Name, 1
	case *parser.WindowFunc:
		return figureNameStrength(e.Func)
	case *parser.Case:
		return "case", 1
	case *parser.Exists:
		return "exists", 2
	case *parser.ArraySubquery:
		return "array", 2
	case *parser.Subquery:
		// PostgreSQL names a scalar subquery after its one column.
		if q := e.Select; q != nil && q.IsSimple() && len(q.Items) == 1 {
			if q.Items[0].Alias != "" {
				return q.Items[0].Alias, 2
			}
			return figureNameStrength(q.Items[0].Expr)
		}
	case *parser.Literal:
		if e.Kind == parser.LitBool {
			return "bool", 1
		}
	}
	return "?column?", 0
}

func internalTypeName(t types.T) string {
	if t.IsArray() {
		// PostgreSQL names '{1}'::int[] after the element type.
		return internalTypeName(t.Elem())
	}
	switch t {
	case types.Bool:
		return "bool"
	case types.Int2:
		return "int2"
	case types.Int4:
		return "int4"
	case types.Int8:
		return "int8"
	case types.Float4:
		return "float4"
	case types.Float8:
		return "float8"
	case types.Numeric:
		return "numeric"
	case types.Text:
		return "text"
	case types.Timestamp:
		return "timestamp"
	case types.TimestampTZ:
		return "timestamptz"
	case types.Date:
		return "date"
	case types.Interval:
		return "interval"
	case types.Json:
		return "json"
	case types.Jsonb:
		return "jsonb"
	case types.Uuid:
		return "uuid"
	case types.Bytea:
		return "bytea"
	}
	return "unknown"
}
