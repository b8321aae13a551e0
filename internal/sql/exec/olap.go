package exec

import (
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/agg"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// olapPlan holds what a SELECT plans beyond WHERE/GROUP BY/ORDER BY
// (issue 11: olap): window functions, grouping sets, DISTINCT ON and
// set-returning functions.
type olapPlan struct {
	win        *winPlan      // window stage; nil without window functions
	srf        *srfList      // set-returning calls of the final projection
	gsets      *groupingSets // GROUP BY with grouping sets
	distinctOn []int         // output columns of DISTINCT ON (...)
}

// streams reports whether nothing in the olap stages stops rows from
// streaming straight to the client.
func (o *olapPlan) streams() bool { return o.win == nil && o.distinctOn == nil }

// preSRF is the set-returning calls of the plan's own projection: none
// when a window stage computes the final one.
func (o *olapPlan) preSRF() *srfList {
	if o.win != nil {
		return nil
	}
	return o.srf
}

func index(ss []string, s string) int {
	for i, x := range ss {
		if x == s {
			return i
		}
	}
	return -1
}

// isFromSRF reports whether a FROM function is generate_series or unnest.
func isFromSRF(f *parser.TableRef) bool {
	return f.Schema == "" && scalar.IsSRFName(strings.ToLower(f.Func.Name))
}

// planGroupBy plans GROUP BY, with grouping sets when it has them, and
// makes grouping() resolvable after grouping.
func (p *Plan) planGroupBy(in *scalar.Compiler, items []selItem, groupBy []parser.Expr) (*grouping, error) {
	var g *grouping
	var err error
	if hasGroupingSets(groupBy) {
		if g, p.olap.gsets, err = planGroupingSets(in, items, groupBy); err != nil {
			return nil, err
		}
	} else if g, err = planGrouping(in, items, groupBy); err != nil {
		return nil, err
	}
	g.post.Agg = &groupingScope{next: g.actx, gs: p.olap.gsets}
	return g, nil
}

// planOlapScope returns the scope the select list and ORDER BY compile
// in: with a window stage over scope when they call window functions,
// and resolving set-returning calls when they have them.
func (p *Plan) planOlapScope(scope *scalar.Compiler, items []selItem, sel *parser.Select) (*scalar.Compiler, error) {
	if selectHasWindows(items, sel.OrderBy) || len(sel.Windows) > 0 {
		w, out, err := planWindows(scope, sel)
		if err != nil {
			return nil, err
		}
		if selectHasWindows(items, sel.OrderBy) {
			p.olap.win, scope = w, out
		}
	}
	srf := false
	for _, it := range items {
		srf = srf || hasSRF(it.expr)
		if err := srfInConditional(it.expr); err != nil {
			return nil, err
		}
	}
	for _, o := range sel.OrderBy {
		srf = srf || hasSRF(o.Expr)
		if err := srfInConditional(o.Expr); err != nil {
			return nil, err
		}
	}
	if srf {
		scope, p.olap.srf = withSRF(scope)
	}
	return scope, nil
}

// planDistinctOn resolves DISTINCT ON's expressions like ORDER BY items
// and checks PostgreSQL's rule that ORDER BY starts with them (in any
// order); those ORDER BY leaves out are sorted on after it.
func (p *Plan) planDistinctOn(scope *scalar.Compiler, items []selItem, sel *parser.Select) error {
	if sel.DistinctOn == nil {
		return nil
	}
	nvis := len(p.cols)
	order := p.order
	p.order = nil
	on := make([]parser.OrderItem, len(sel.DistinctOn))
	for i, e := range sel.DistinctOn {
		on[i] = parser.OrderItem{Expr: e}
	}
	if err := p.planOrder(scope, items, on); err != nil {
		return err
	}
	onKeys := p.order
	p.order = order
	canon := func(k sortKey, e parser.Expr) string {
		if k.col < nvis {
			return canonItem(scope, items[k.col].expr)
		}
		return canonItem(scope, e)
	}
	want := map[string]bool{}
	for i, k := range onKeys {
		want[canon(k, sel.DistinctOn[i])] = true
	}
	covered := map[string]bool{}
	skipped := false
	for i, k := range order {
		c := canon(k, sel.OrderBy[i].Expr)
		if !want[c] {
			skipped = true
			continue
		}
		if skipped {
			return pgerr.DistinctOnOrder.New().WithPos(sel.OrderBy[i].Expr.Pos())
		}
		covered[c] = true
	}
	for i, k := range onKeys {
		c := canon(k, sel.DistinctOn[i])
		if covered[c] {
			continue
		}
		if skipped {
			return pgerr.DistinctOnOrder.New().WithPos(sel.DistinctOn[i].Pos())
		}
		covered[c] = true
		p.order = append(p.order, sortKey{col: k.col})
	}
	for _, k := range onKeys {
		p.olap.distinctOn = append(p.olap.distinctOn, k.col)
	}
	return nil
}

// finishOlap moves the window stage's output projection out of p.proj,
// which then computes the pre-window rows.
func (p *Plan) finishOlap() {
	if w := p.olap.win; w != nil {
		w.post, p.proj = p.proj, w.pre
	}
}

// setKeys fills keys (the group key values of one row, the grouping set
// key last) for grouping set si: keys outside the set are NULL.
func (gs *groupingSets) setKeys(si int, all, keys []types.Datum) {
	for i, d := range all {
		switch {
		case i == gs.idKey:
			d = types.NewInt(types.Int8, int64(si))
		case !gs.sets[si][i]:
			d = types.NullOf(d.T)
		}
		keys[i] = d
	}
}

// emptySets returns the numbers of the empty grouping sets (GROUP BY (),
// the grand total of ROLLUP): they produce a row even without input.
func (gs *groupingSets) emptySets() []int {
	var out []int
	for si, s := range gs.sets {
		empty := true
		for _, in := range s {
			empty = empty && !in
		}
		if empty {
			out = append(out, si)
		}
	}
	return out
}

// distinctOnFilter returns a filter keeping the first row of each
// DISTINCT ON key (rows arrive sorted).
func (o *olapPlan) distinctOnFilter() func(row []types.Datum) bool {
	if o.distinctOn == nil {
		return nil
	}
	seen := map[string]struct{}{}
	var buf []byte
	return func(row []types.Datum) bool {
		buf = buf[:0]
		for _, c := range o.distinctOn {
			buf = scalar.AppendKey(buf, row[c])
		}
		if _, ok := seen[string(buf)]; ok {
			return false
		}
		seen[string(buf)] = struct{}{}
		return true
	}
}

// refuseOlapInView refuses, in a continuous view or transform, what only
// ad-hoc SELECTs run: window functions, grouping sets and grouping(),
// DISTINCT ON and set-returning functions. A view's state is folded
// event by event; these need every row of the result at once.
func refuseOlapInView(sel *parser.Select) error {
	refuse := func(pos int, what string) error { return pgerr.OlapInView.New(what).WithPos(pos) }
	if sel.DistinctOn != nil {
		return refuse(sel.P, "DISTINCT ON")
	}
	if len(sel.Windows) > 0 {
		return refuse(sel.Windows[0].Spec.P, "a WINDOW clause")
	}
	for _, g := range sel.GroupBy {
		if gs, ok := g.(*parser.GroupingSet); ok {
			return refuse(gs.P, "GROUPING SETS, ROLLUP or CUBE")
		}
	}
	exprs := []parser.Expr{sel.Where, sel.Having}
	for _, it := range sel.Items {
		exprs = append(exprs, it.Expr)
	}
	for _, o := range sel.OrderBy {
		exprs = append(exprs, o.Expr)
	}
	exprs = append(exprs, sel.GroupBy...)
	for _, e := range exprs {
		var bad parser.Expr
		what := ""
		agg.Any(e, func(x parser.Expr) bool {
			switch x := x.(type) {
			case *parser.WindowFunc:
				bad, what = x, "a window function"
			case *parser.Func:
				switch name := strings.ToLower(x.Name); {
				case scalar.IsSRFName(name):
					bad, what = x, "set-returning function "+name+"()"
				case name == "grouping":
					bad, what = x, "grouping()"
				}
			}
			return bad != nil
		})
		if bad != nil {
			return refuse(bad.Pos(), what)
		}
	}
	return nil
}

// explainStages adds the olap stages between DISTINCT and grouping to an
// EXPLAIN: set-returning functions in the select list, the window stage,
// grouping sets.
func (o *olapPlan) explainStages(step func(format string, args ...any)) {
	if o.srf != nil {
		step("ProjectSet")
	}
	if o.win != nil {
		step("WindowAgg")
	}
	if o.gsets != nil {
		step("Grouping Sets: %d", len(o.gsets.sets))
	}
}

// srfInConditional refuses a set-returning call inside CASE or COALESCE,
// as PostgreSQL 10+ does: those evaluate their arguments conditionally,
// which the lockstep expansion cannot.
func srfInConditional(e parser.Expr) error {
	var err error
	agg.Any(e, func(x parser.Expr) bool {
		what := ""
		var kids parser.Expr
		switch x := x.(type) {
		case *parser.Case:
			what, kids = "CASE", x
		case *parser.Func:
			if strings.EqualFold(x.Name, "coalesce") {
				what, kids = "COALESCE", x
			}
		}
		if what == "" {
			return false
		}
		agg.Any(kids, func(y parser.Expr) bool {
			f, ok := y.(*parser.Func)
			if ok && y != kids && scalar.IsSRFName(strings.ToLower(f.Name)) {
				err = pgerr.SRFNotAllowed.New(what, f.Name).WithPos(f.P)
			}
			return err != nil
		})
		return err != nil
	})
	return err
}
