package exec

import (
	"context"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/agg"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Joins (issue 11). planFrom turns a FROM tree into operators:
//
//   - The joined row is every FROM item's columns side by side: a join's
//     output is its left input's columns, then its right input's, then
//     the columns USING/NATURAL merge (so every subtree's columns are a
//     contiguous range of the final row). scalar.ColMeta gives each
//     column its qualifier; a column merged away by USING answers only
//     to its qualified name, the merged one only to the bare name.
//   - WHERE and ON are split into conjuncts. A conjunct is resolved in
//     its own scope (WHERE: the whole FROM; ON: the join's two inputs)
//     to the columns it reads, then placed as low as SQL allows: into the
//     input it reads alone when that input is not null-extended by the
//     join (a filter at the scan, where a keyed source's key pins become
//     point lookups), else on the lowest inner join that sees all its
//     columns, else it stays in WHERE. Conjuncts with subqueries stay
//     where they were written.
//   - A join's conjuncts `l = r` with l over one input and r over the
//     other become hash keys (both sides converted to a common type);
//     the rest is a residual condition checked on each candidate pair. A
//     join with no keys is a nested loop (one bucket).

// needsFrom reports whether a FROM item needs planFrom (more than one
// plain source, or column aliases).
func (pl *planner) needsFrom(f *parser.TableRef) bool {
	return f.Join != nil || len(f.ColAliases) > 0 || f.Ordinality || f.Func != nil && isFromSRF(f)
}

type fromPlan struct {
	rel   relNode
	cols  []Column
	meta  []scalar.ColMeta
	star  []int
	quals []string
	where parser.Expr
}

// fromNode is a FROM item while planning.
type fromNode struct {
	off  int // first column in the final row
	cols []Column
	meta []scalar.ColMeta
	star []int // columns of *, relative
	// leaf
	ref     *parser.TableRef
	qual    string
	src     Source  // a source to scan, or
	sub     relNode // an operator (subquery, CTE)
	arrival bool
	filters []*conj
	// join
	join        *parser.Join
	left, right *fromNode
	merged      []mergeCol
	conds       []*conj
}

type mergeCol struct {
	l, r int // columns of the left and right input
	t    types.T
}

func (n *fromNode) width() int { return len(n.cols) }

// conj is one conjunct of a WHERE or ON and the scope it is written in.
type conj struct {
	e         parser.Expr
	scopeOff  int
	scopeMeta []scalar.ColMeta
	scopeCols []Column
	refs      []int // final-row columns it reads
	placeable bool
	what      string   // "WHERE" or "JOIN/ON", for errors
	quals     []string // the FROM names its scope may name
}

func splitAnd(e parser.Expr, out []parser.Expr) []parser.Expr {
	if b, ok := e.(*parser.Binary); ok && b.Op == "AND" {
		return splitAnd(b.R, splitAnd(b.L, out))
	}
	if e == nil {
		return out
	}
	return append(out, e)
}

func andOf(es []parser.Expr) parser.Expr {
	var out parser.Expr
	for _, e := range es {
		if out == nil {
			out = e
		} else {
			out = &parser.Binary{P: out.Pos(), Op: "AND", L: out, R: e}
		}
	}
	return out
}

func (pl *planner) planFrom(f *parser.TableRef, where parser.Expr) (*fromPlan, error) {
	root, err := pl.buildFrom(f)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var dupErr error
	walkFrom(root, func(n *fromNode) {
		if n.qual != "" && n.join == nil {
			if seen[n.qual] && dupErr == nil {
				dupErr = pgerr.DuplicateTableName.New(n.qual).WithPos(n.ref.P)
			}
			seen[n.qual] = true
		}
	})
	if dupErr != nil {
		return nil, dupErr
	}
	quals := visibleQuals(root, nil)
	assignOff(root, 0)
	fp := &fromPlan{cols: root.cols, meta: root.meta, star: root.star, quals: quals}
	// WHERE conjuncts, then each join's ON conjuncts.
	var kept []parser.Expr
	for _, e := range splitAnd(where, nil) {
		c := pl.newConj(e, 0, root.meta, root.cols, quals).conj
		if !c.placeable || len(c.refs) == 0 || !place(root, c) {
			kept = append(kept, e)
		}
	}
	var onErr error
	walkFrom(root, func(n *fromNode) {
		if n.join == nil || n.join.On == nil || onErr != nil {
			return
		}
		meta := append(append([]scalar.ColMeta(nil), n.left.meta...), n.right.meta...)
		cols := append(append([]Column(nil), n.left.cols...), n.right.cols...)
		jq := visibleQuals(n.right, visibleQuals(n.left, nil))
		for _, e := range splitAnd(n.join.On, nil) {
			c := pl.newConj(e, n.off, meta, cols, jq)
			if c.err != nil {
				onErr = c.err
				return
			}
			c.what = "JOIN/ON"
			placed := false
			if c.placeable && len(c.refs) > 0 {
				k := n.join.Kind
				switch {
				case within(c.refs, n.right) && (k == parser.JoinInner || k == parser.JoinLeft):
					placed = place(n.right, c.conj)
				case within(c.refs, n.left) && (k == parser.JoinInner || k == parser.JoinRight):
					placed = place(n.left, c.conj)
				}
			}
			if !placed {
				n.conds = append(n.conds, c.conj)
			}
		}
	})
	if onErr != nil {
		return nil, onErr
	}
	fp.where = andOf(kept)
	if fp.rel, err = pl.buildRel(root, quals); err != nil {
		return nil, err
	}
	return fp, nil
}

// visibleQuals are the FROM names the query may use: an aliased join
// hides the names inside it.
func visibleQuals(n *fromNode, qs []string) []string {
	switch {
	case n.join == nil:
		if n.qual != "" {
			qs = append(qs, n.qual)
		}
	case n.ref != nil && n.ref.Alias != "":
		qs = append(qs, n.ref.Alias)
	default:
		qs = visibleQuals(n.right, visibleQuals(n.left, qs))
	}
	return qs
}

func walkFrom(n *fromNode, fn func(n *fromNode)) {
	fn(n)
	if n.join != nil {
		walkFrom(n.left, fn)
		walkFrom(n.right, fn)
	}
}

func assignOff(n *fromNode, off int) {
	n.off = off
	if n.join != nil {
		assignOff(n.left, off)
		assignOff(n.right, off+n.left.width())
	}
}

func within(refs []int, n *fromNode) bool {
	for _, r := range refs {
		if r < n.off || r >= n.off+n.width() {
			return false
		}
	}
	return true
}

// withinInputs reports whether refs are all columns of n's two inputs
// (not its merged columns).
func withinInputs(refs []int, n *fromNode) bool {
	end := n.off + n.left.width() + n.right.width()
	for _, r := range refs {
		if r < n.off || r >= end {
			return false
		}
	}
	return true
}

// place puts c as low in n as it may go; false when it must stay above n.
func place(n *fromNode, c *conj) bool {
	if n.join == nil {
		n.filters = append(n.filters, c)
		return true
	}
	k := n.join.Kind
	inner := k == parser.JoinInner || k == parser.JoinCross
	if within(c.refs, n.left) && (inner || k == parser.JoinLeft) && place(n.left, c) {
		return true
	}
	if within(c.refs, n.right) && (inner || k == parser.JoinRight) && place(n.right, c) {
		return true
	}
	if inner && withinInputs(c.refs, n) {
		n.conds = append(n.conds, c)
		return true
	}
	return false
}

type conjResult struct {
	*conj
	err error
}

// newConj resolves the columns e reads in its scope.
func (pl *planner) newConj(e parser.Expr, off int, meta []scalar.ColMeta, cols []Column, quals []string) conjResult {
	c := &conj{e: e, scopeOff: off, scopeMeta: meta, scopeCols: cols, placeable: true, what: "WHERE", quals: quals}
	rc := &scalar.Compiler{Cols: cols, Meta: meta, Quals: quals}
	agg.Any(e, func(x parser.Expr) bool {
		switch x := x.(type) {
		case *parser.ColumnRef:
			idx, err := rc.ResolveCol(x)
			if err != nil || idx < 0 {
				c.placeable = false
				return true
			}
			c.refs = append(c.refs, off+idx)
		case *parser.Subquery, *parser.Exists, *parser.InSubquery, *parser.ArraySubquery, *parser.Param:
			c.placeable = false
			return true
		case *parser.Quantified:
			if x.Select != nil {
				c.placeable = false
				return true
			}
		case *parser.Func:
			if scalar.IsAggName(strings.ToLower(x.Name)) {
				c.placeable = false
				return true
			}
		}
		return false
	})
	return conjResult{conj: c}
}

// compiler returns a compiler for c restricted to the final-row columns
// [off, off+w).
func (pl *planner) conjCompiler(c *conj, off, w int) *scalar.Compiler {
	lo := off - c.scopeOff
	return &scalar.Compiler{Cols: c.scopeCols[lo : lo+w], Meta: c.scopeMeta[lo : lo+w], Quals: c.quals,
		Params: pl.params, NoAgg: c.what, Outer: pl.outer, Sub: pl.sub}
}

// buildFrom builds the FROM tree: sources resolved, columns and their
// qualifiers computed bottom-up.
func (pl *planner) buildFrom(f *parser.TableRef) (*fromNode, error) {
	if f.Join == nil {
		return pl.buildLeaf(f)
	}
	j := f.Join
	l, err := pl.buildFrom(j.Left)
	if err != nil {
		return nil, err
	}
	r, err := pl.buildFrom(j.Right)
	if err != nil {
		return nil, err
	}
	n := &fromNode{ref: f, join: j, left: l, right: r}
	n.cols = append(append([]Column(nil), l.cols...), r.cols...)
	n.meta = append(append([]scalar.ColMeta(nil), l.meta...), r.meta...)
	lw := l.width()
	using := j.Using
	if j.Natural {
		for _, i := range l.star {
			name := l.cols[i].Name
			if l.meta[i].QualOnly || contains(using, name) {
				continue
			}
			for _, k := range r.star {
				if r.cols[k].Name == name && !r.meta[k].QualOnly {
					using = append(using, name)
					break
				}
			}
		}
	}
	mergedAway := map[int]bool{}
	for ui, name := range using {
		pos := f.P
		if ui < len(j.UsingPos) {
			pos = j.UsingPos[ui]
		}
		li, err := usingCol(l, name, "left", pos)
		if err != nil {
			return nil, err
		}
		ri, err := usingCol(r, name, "right", pos)
		if err != nil {
			return nil, err
		}
		t, ok := unifyTypes(l.cols[li].T, r.cols[ri].T)
		if !ok {
			return nil, pgerr.UsingTypes.New(l.cols[li].T, r.cols[ri].T).WithPos(pos)
		}
		n.merged = append(n.merged, mergeCol{l: li, r: ri, t: t})
		n.meta[li].QualOnly, n.meta[lw+ri].QualOnly = true, true
		mergedAway[li], mergedAway[lw+ri] = true, true
		n.cols = append(n.cols, Column{Name: name, T: t})
		n.meta = append(n.meta, scalar.ColMeta{})
	}
	base := lw + r.width()
	for k := range n.merged {
		n.star = append(n.star, base+k)
	}
	for _, i := range l.star {
		if !mergedAway[i] {
			n.star = append(n.star, i)
		}
	}
	for _, i := range r.star {
		if !mergedAway[lw+i] {
			n.star = append(n.star, lw+i)
		}
	}
	if f.Alias != "" {
		if len(f.ColAliases) > 0 {
			return nil, pgerr.QueryShapeUnsupported.New("a column alias list on a join").WithPos(f.P)
		}
		for i := range n.meta {
			if n.meta[i].QualOnly {
				n.meta[i].Qual = "\x00hidden"
			} else {
				n.meta[i].Qual = f.Alias
			}
		}
	}
	return n, nil
}

// usingCol finds the column a USING name means in one input.
func usingCol(n *fromNode, name, side string, pos int) (int, error) {
	found := -1
	for i, c := range n.cols {
		if c.Name == name && !n.meta[i].QualOnly {
			if found >= 0 {
				return -1, pgerr.UsingAmbiguous.New(name, side).WithPos(pos)
			}
			found = i
		}
	}
	if found < 0 {
		return -1, pgerr.UsingMissing.New(name, side).WithPos(pos)
	}
	return found, nil
}

// buildLeaf resolves one FROM item that is not a join.
func (pl *planner) buildLeaf(f *parser.TableRef) (*fromNode, error) {
	n := &fromNode{ref: f, qual: f.Name}
	if f.Alias != "" {
		n.qual = f.Alias
	}
	switch {
	case f.Subquery != nil:
		p, err := pl.planQuery(f.Subquery)
		if err != nil {
			return nil, err
		}
		n.sub, n.cols = &planNode{p: p, label: "Subquery Scan on " + displayName(n.qual)}, p.Columns()
	case pl.cte(f) != nil:
		r, err := pl.cteScan(f)
		if err != nil {
			return nil, err
		}
		n.sub, n.cols = r, r.Columns()
	case f.Func != nil && (isFromSRF(f) || f.Ordinality):
		r, err := pl.planSRFFrom(f)
		if err != nil {
			return nil, err
		}
		n.sub, n.cols = r, r.Columns()
	default:
		name, schema := f.Name, f.Schema
		outputOf := false
		if f.Func != nil {
			on, ok, err := OutputOf(f)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, pgerr.TableFuncInSelect.New(f.Name).WithPos(f.P)
			}
			name, schema, outputOf = on, "", true
			if f.Alias == "" {
				n.qual = on
			}
		}
		if pl.resolve == nil {
			return nil, pgerr.UndefinedTableErr("relation", name).WithPos(f.P)
		}
		src, err := pl.resolve(schema, name)
		if err != nil {
			return nil, scalar.PosErr(err, f.P)
		}
		if outputOf {
			if err := checkOutputOf(&parser.TableRef{P: f.P, Name: name}, src); err != nil {
				return nil, err
			}
		}
		n.src, n.cols = src, src.Columns()
		if a, ok := src.(ArrivalSource); ok && a.Arrival() {
			n.arrival = true
		}
	}
	if len(f.ColAliases) > len(n.cols) {
		return nil, pgerr.TooManyColumnAliases.New(n.qual, len(n.cols), len(f.ColAliases)).WithPos(f.P)
	}
	n.cols = renameCols(n.cols, f.ColAliases)
	for i := range n.cols {
		n.meta = append(n.meta, scalar.ColMeta{Qual: n.qual})
		n.star = append(n.star, i)
	}
	return n, nil
}

func displayName(s string) string {
	if s == "" {
		return "unnamed_subquery"
	}
	return s
}

// expandItems expands * and t.* over the FROM's columns (in
// PostgreSQL's order: merged USING columns first) and names every output
// column.
func (fp *fromPlan) expandItems(sel *parser.Select) ([]selItem, error) {
	var items []selItem
	ref := func(p, i int) selItem {
		m := fp.meta[i]
		r := &parser.ColumnRef{P: p, Name: fp.cols[i].Name}
		if m.Qual != "" && !strings.HasPrefix(m.Qual, "\x00") {
			r.Table = m.Qual
		}
		return selItem{expr: &colIndexRef{ColumnRef: r, idx: i}, name: fp.cols[i].Name}
	}
	for _, it := range sel.Items {
		st, ok := it.Expr.(*parser.Star)
		if !ok {
			name := it.Alias
			if name == "" {
				name = figureName(it.Expr)
			}
			items = append(items, selItem{expr: it.Expr, name: name})
			continue
		}
		if st.Table == "" {
			for _, i := range fp.star {
				items = append(items, ref(st.P, i))
			}
			continue
		}
		found := false
		for i, m := range fp.meta {
			if m.Qual == st.Table {
				found = true
				items = append(items, ref(st.P, i))
			}
		}
		if !found && !contains(fp.quals, st.Table) {
			return nil, pgerr.MissingFromEntry.New(st.Table).WithPos(st.P)
		}
	}
	for i := range items {
		if r, ok := items[i].expr.(*colIndexRef); ok {
			items[i].expr = r.ColumnRef
		}
	}
	return items, nil
}

// colIndexRef marks a star-expanded column while expanding.
type colIndexRef struct {
	*parser.ColumnRef
	idx int
}

// buildRel compiles the placed conjuncts and builds the operators.
func (pl *planner) buildRel(n *fromNode, quals []string) (relNode, error) {
	if n.join == nil {
		return pl.buildScan(n, quals)
	}
	l, err := pl.buildRel(n.left, quals)
	if err != nil {
		return nil, err
	}
	r, err := pl.buildRel(n.right, quals)
	if err != nil {
		return nil, err
	}
	lw, rw := n.left.width(), n.right.width()
	j := &joinNode{kind: n.join.Kind, left: l, right: r, lw: lw, rw: rw, cols: n.cols, merged: n.merged}
	// USING / NATURAL: each merged column is a key.
	for k, m := range n.merged {
		lx, err := keyCol(n.left.cols, m.l, m.t, n.ref.P)
		if err != nil {
			return nil, err
		}
		rx, err := keyCol(n.right.cols, m.r, m.t, n.ref.P)
		if err != nil {
			return nil, err
		}
		j.lkeys, j.rkeys = append(j.lkeys, lx), append(j.rkeys, rx)
		name := n.cols[lw+rw+k].Name
		j.condText = append(j.condText, n.left.meta[m.l].Qual+"."+name+" = "+n.right.meta[m.r].Qual+"."+name)
	}
	var residual []parser.Expr
	for _, c := range n.conds {
		ok, err := pl.hashKey(j, n, c, quals)
		if err != nil {
			return nil, err
		}
		if ok {
			j.condText = append(j.condText, parser.FormatExpr(c.e))
			continue
		}
		residual = append(residual, c.e)
		cc := pl.conjCompiler(c, n.off, lw+rw)
		x, err := cc.Compile(c.e)
		if err != nil {
			return nil, err
		}
		if x, err = cc.BoolArg(x, c.what, c.e.Pos()); err != nil {
			return nil, err
		}
		j.residual = append(j.residual, x)
	}
	for _, e := range residual {
		j.filterText = append(j.filterText, parser.FormatExpr(e))
	}
	if j.kind == parser.JoinInner || j.kind == parser.JoinCross {
		le, lok := estimateRows(l)
		re, rok := estimateRows(r)
		j.buildLeft = lok && rok && le < re
	}
	return j, nil
}

// keyCol is a key reading column i of cols, converted to t.
func keyCol(cols []Column, i int, t types.T, pos int) (*scalar.Node, error) {
	x := scalar.VirtualNode(cols[i].T, func(_ *Ctx, in scalar.Input) (types.Datum, error) {
		return scalar.InputDatum(in, i), nil
	})
	if cols[i].T == t {
		return x, nil
	}
	return (&scalar.Compiler{}).Coerce(x, t, pos)
}

// hashKey makes c a hash key of j when it is `l = r` with l over one
// input and r over the other.
func (pl *planner) hashKey(j *joinNode, n *fromNode, c *conj, quals []string) (bool, error) {
	b, ok := c.e.(*parser.Binary)
	if !ok || b.Op != "=" || !c.placeable {
		return false, nil
	}
	// Type-check the whole comparison first (42883 for mismatched types).
	cc := pl.conjCompiler(c, n.off, n.left.width()+n.right.width())
	if _, err := cc.Compile(b); err != nil {
		return false, err
	}
	lr := pl.newConj(b.L, c.scopeOff, c.scopeMeta, c.scopeCols, c.quals).conj
	rr := pl.newConj(b.R, c.scopeOff, c.scopeMeta, c.scopeCols, c.quals).conj
	if !lr.placeable || !rr.placeable || len(lr.refs) == 0 || len(rr.refs) == 0 {
		return false, nil
	}
	le, re := b.L, b.R
	switch {
	case within(lr.refs, n.left) && within(rr.refs, n.right):
	case within(rr.refs, n.left) && within(lr.refs, n.right):
		le, re = re, le
	default:
		return false, nil
	}
	lc := pl.conjCompiler(c, n.left.off, n.left.width())
	rc := pl.conjCompiler(c, n.right.off, n.right.width())
	lx, err := lc.Compile(le)
	if err != nil {
		return false, err
	}
	rx, err := rc.Compile(re)
	if err != nil {
		return false, err
	}
	t, ok := unifyTypes(lx.T, rx.T)
	if !ok || t == types.Interval || t == types.Unknown || t == types.Json {
		return false, nil
	}
	if lx, err = coerceTo(lc, lx, t, le.Pos()); err != nil {
		return false, err
	}
	if rx, err = coerceTo(rc, rx, t, re.Pos()); err != nil {
		return false, err
	}
	if lx.T != t || rx.T != t {
		return false, nil
	}
	j.lkeys = append(j.lkeys, lx)
	j.rkeys = append(j.rkeys, rx)
	return true, nil
}

// RowEstimator is implemented by sources that know about how many rows a
// scan returns; the join builds its hash table on the smaller side.
type RowEstimator interface {
	EstimatedRows() int64
}

// EstimatedRows implements RowEstimator.
func (m *MemTable) EstimatedRows() int64 { return int64(len(m.Rows)) }

func estimateRows(r relNode) (int64, bool) {
	if s, ok := r.(*scanNode); ok && s.lookup == nil {
		if e, ok := s.src.(RowEstimator); ok {
			return e.EstimatedRows(), true
		}
	}
	if s, ok := r.(*scanNode); ok && s.lookup != nil {
		return int64(s.lookup.count()), true
	}
	if v, ok := r.(*valuesNode); ok {
		return int64(len(v.rows)), true
	}
	return 0, false
}

// buildScan compiles a leaf's filters (and lookups).
func (pl *planner) buildScan(n *fromNode, quals []string) (relNode, error) {
	s := &scanNode{src: n.src, sub: n.sub, name: n.qual, cols: n.cols}
	if n.ref != nil && n.src != nil {
		s.name = n.ref.Name
		if n.ref.Alias != "" {
			s.alias = n.ref.Alias
		}
	}
	var es []parser.Expr
	for _, c := range n.filters {
		cc := pl.conjCompiler(c, n.off, n.width())
		if n.arrival {
			cc.Virtual = arrivalColumn
		}
		x, err := cc.Compile(c.e)
		if err != nil {
			return nil, err
		}
		if x, err = cc.BoolArg(x, c.what, c.e.Pos()); err != nil {
			return nil, err
		}
		s.filters = append(s.filters, x)
		s.filterText = append(s.filterText, parser.FormatExpr(c.e))
		es = append(es, c.e)
	}
	if n.src != nil && len(es) > 0 {
		s.lookup = planLookup(n.src, andOf(es), n.cols, []string{n.qual}, pl.params)
	}
	return s, nil
}

// ---- operators ----

// scanNode reads one FROM source (or operator) and applies the filters
// pushed down to it.
type scanNode struct {
	src        Source
	sub        relNode
	name       string
	alias      string
	cols       []Column
	lookup     *keyLookup
	filters    []*scalar.Node
	filterText []string
	stats      opStats
}

func (s *scanNode) Columns() []Column { return s.cols }

func (s *scanNode) run(ctx context.Context, ec *Ctx, fn func(b *types.Batch) error) error {
	defer s.stats.start()()
	fn = s.stats.count(fn)
	if len(s.filters) > 0 {
		fn = filterBatches(ec, s.filters, s.cols, fn)
	}
	switch {
	case s.lookup != nil:
		if keys, ok := s.lookup.keys(ec); ok {
			if len(keys) == 0 {
				return nil
			}
			return s.lookup.src.ScanKeys(ctx, keys, fn)
		}
		return s.src.Scan(ctx, fn)
	case s.src != nil:
		return s.src.Scan(ctx, fn)
	}
	return s.sub.run(ctx, ec, fn)
}

// filterBatches passes on each batch's rows that pass every filter (the
// batch itself when all do).
func filterBatches(ec *Ctx, filters []*scalar.Node, cols []Column, fn func(b *types.Batch) error) func(b *types.Batch) error {
	var out *types.Batch
	var keep []int
	return func(b *types.Batch) error {
		keep = keep[:0]
		for i := 0; i < b.N; i++ {
			in := scalar.BatchInput(b, i)
			ok := true
			for _, f := range filters {
				d, err := f.Fn(ec, in)
				if err != nil {
					return err
				}
				if !d.Bool() {
					ok = false
					break
				}
			}
			if ok {
				keep = append(keep, i)
			}
		}
		switch len(keep) {
		case b.N:
			return fn(b)
		case 0:
			return nil
		}
		if out == nil {
			out = types.NewBatch(colTypes(cols))
		}
		out.Reset()
		out.Arrival = b.Arrival
		row := make([]types.Datum, len(b.Cols))
		for _, i := range keep {
			for j := range b.Cols {
				row[j] = scalar.BatchDatum(&b.Cols[j], i)
			}
			out.AppendRow(row)
		}
		return fn(out)
	}
}

func (s *scanNode) explain(x *explainer) {
	on := s.name
	if s.alias != "" && s.alias != s.name {
		on += " " + s.alias
	}
	switch {
	case s.lookup != nil:
		x.line(&s.stats, "Point Lookup on %s (%d keys)%s", on, s.lookup.count(), describe(s.src))
	case s.src != nil:
		x.line(&s.stats, "Scan on %s%s", on, describe(s.src))
	default:
		if len(s.filterText) == 0 {
			s.sub.explain(x)
			return
		}
		x.line(&s.stats, "Filter")
		x.detail("Filter: %s", strings.Join(s.filterText, " AND "))
		x.child(func() { s.sub.explain(x) })
		return
	}
	if len(s.filterText) > 0 {
		x.detail("Filter: %s", strings.Join(s.filterText, " AND "))
	}
}

// Describer is implemented by sources that can say where their rows come
// from (shard count, which nodes lead and read them) for EXPLAIN.
type Describer interface {
	Describe() string
}

func describe(src Source) string {
	if d, ok := src.(Describer); ok {
		if s := d.Describe(); s != "" {
			return " (" + s + ")"
		}
	}
	return ""
}

// joinNode is a hash join (a nested loop when it has no keys): the build
// side's rows go into a hash table by key, the probe side streams.
type joinNode struct {
	kind        parser.JoinKind
	left, right relNode
	lw, rw      int
	lkeys       []*scalar.Node // over the left input
	rkeys       []*scalar.Node // over the right input
	residual    []*scalar.Node // over left ++ right
	merged      []mergeCol
	cols        []Column
	buildLeft   bool
	condText    []string
	filterText  []string
	stats       opStats
}

func (j *joinNode) Columns() []Column { return j.cols }

// hashTable holds the build side: rows, and per key the chain of rows
// with it (head by key, next by row).
type hashTable struct {
	rows    [][]types.Datum
	head    map[string]int32
	next    []int32
	matched []bool
	bytes   int64
}

func (j *joinNode) run(ctx context.Context, ec *Ctx, fn func(b *types.Batch) error) error {
	defer j.stats.start()()
	fn = j.stats.count(fn)
	build, probe := j.right, j.left
	bkeys, pkeys := j.rkeys, j.lkeys
	buildOuter := j.kind == parser.JoinRight || j.kind == parser.JoinFull
	probeOuter := j.kind == parser.JoinLeft || j.kind == parser.JoinFull
	if j.buildLeft {
		build, probe, bkeys, pkeys = j.left, j.right, j.lkeys, j.rkeys
	}
	ht := &hashTable{head: map[string]int32{}}
	defer func() { ec.Shrink(ht.bytes) }()
	var key []byte
	err := build.run(ctx, ec, func(b *types.Batch) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := 0; i < b.N; i++ {
			in := scalar.BatchInput(b, i)
			var null bool
			var err error
			key, null, err = evalKey(ec, bkeys, in, key[:0])
			if err != nil {
				return err
			}
			if null && !buildOuter {
				continue // a NULL key matches nothing
			}
			row := make([]types.Datum, len(b.Cols))
			for c := range b.Cols {
				row[c] = scalar.Own(scalar.BatchDatum(&b.Cols[c], i))
			}
			sz := scalar.RowSize(row) + int64(len(key)) + 24
			if err := ec.Grow(sz); err != nil {
				return err
			}
			ht.bytes += sz
			idx := int32(len(ht.rows))
			ht.rows = append(ht.rows, row)
			nx := int32(-1)
			if !null {
				if h, ok := ht.head[string(key)]; ok {
					nx = h
				}
				ht.head[string(key)] = idx
			}
			ht.next = append(ht.next, nx)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if buildOuter {
		ht.matched = make([]bool, len(ht.rows))
	}
	out := types.NewBatch(colTypes(j.cols))
	flush := func() error {
		if out.N == 0 {
			return nil
		}
		err := fn(out)
		out.Reset()
		return err
	}
	comb := make([]types.Datum, len(j.cols))
	pw, bw := j.lw, j.rw
	poff, boff := 0, j.lw
	if j.buildLeft {
		pw, bw, poff, boff = j.rw, j.lw, j.lw, 0
	}
	nulls := func(off, w int) {
		for c := 0; c < w; c++ {
			comb[off+c] = types.NullOf(j.cols[off+c].T)
		}
	}
	emit := func() error {
		for k, m := range j.merged {
			d := comb[m.l]
			if j.kind == parser.JoinRight || (j.kind == parser.JoinFull && d.Null) {
				d = comb[j.lw+m.r]
			}
			if !d.Null && d.T != m.t {
				var err error
				if d, err = scalar.CoerceStyle(d, m.t, ec.Style); err != nil {
					return err
				}
			} else if d.Null {
				d = types.NullOf(m.t)
			}
			comb[j.lw+j.rw+k] = d
		}
		out.AppendRow(comb)
		if out.N >= 1024 {
			return flush()
		}
		return nil
	}
	var steps uint64
	err = probe.run(ctx, ec, func(b *types.Batch) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		for i := 0; i < b.N; i++ {
			in := scalar.BatchInput(b, i)
			var null bool
			var err error
			key, null, err = evalKey(ec, pkeys, in, key[:0])
			if err != nil {
				return err
			}
			matched := false
			if !null {
				h, ok := ht.head[string(key)]
				if ok {
					for c := 0; c < pw; c++ {
						comb[poff+c] = scalar.BatchDatum(&b.Cols[c], i)
					}
				}
				for r := h; ok && r >= 0; r = ht.next[r] {
					// A bucket may hold the whole build side (a nested
					// loop): notice a cancel within it, not only per
					// probe batch.
					if steps++; steps&4095 == 0 {
						if err := ctx.Err(); err != nil {
							return err
						}
					}
					copy(comb[boff:boff+bw], ht.rows[r])
					if len(j.residual) > 0 {
						pass, err := j.check(ec, comb[:j.lw+j.rw])
						if err != nil {
							return err
						}
						if !pass {
							continue
						}
					}
					matched = true
					if ht.matched != nil {
						ht.matched[r] = true
					}
					if err := emit(); err != nil {
						return err
					}
				}
			}
			if !matched && probeOuter {
				for c := 0; c < pw; c++ {
					comb[poff+c] = scalar.BatchDatum(&b.Cols[c], i)
				}
				nulls(boff, bw)
				if err := emit(); err != nil {
					return err
				}
			}
		}
		// Rows in out may point into b: hand them on before b changes.
		return flush()
	})
	if err != nil {
		return err
	}
	if ht.matched != nil {
		for r, m := range ht.matched {
			if m {
				continue
			}
			copy(comb[boff:boff+bw], ht.rows[r])
			nulls(poff, pw)
			if err := emit(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// check evaluates the residual condition on a joined row.
func (j *joinNode) check(ec *Ctx, row []types.Datum) (bool, error) {
	in := scalar.RowInput(row)
	for _, x := range j.residual {
		d, err := x.Fn(ec, in)
		if err != nil {
			return false, err
		}
		if !d.Bool() {
			return false, nil
		}
	}
	return true, nil
}

// evalKey encodes the key of one row; null reports a NULL part.
func evalKey(ec *Ctx, keys []*scalar.Node, in scalar.Input, buf []byte) ([]byte, bool, error) {
	for _, k := range keys {
		d, err := k.Fn(ec, in)
		if err != nil {
			return buf, false, err
		}
		if d.Null {
			return buf, true, nil
		}
		buf = scalar.AppendKey(buf, d)
	}
	return buf, false, nil
}

func (j *joinNode) explain(x *explainer) {
	kind := strings.TrimSuffix(j.kind.String(), " JOIN")
	kind = strings.ToLower(kind[:1]) + strings.ToLower(kind[1:])
	if len(j.lkeys) > 0 {
		x.line(&j.stats, "Hash Join (%s)", kind)
		x.detail("Hash Cond: %s", strings.Join(j.condText, " AND "))
	} else {
		x.line(&j.stats, "Nested Loop (%s)", kind)
	}
	if len(j.filterText) > 0 {
		x.detail("Join Filter: %s", strings.Join(j.filterText, " AND "))
	}
	if len(j.merged) > 0 {
		x.detail("Merged columns: %d", len(j.merged))
	}
	probe, build := j.left, j.right
	if j.buildLeft {
		probe, build = j.right, j.left
	}
	x.child(func() { probe.explain(x) })
	x.child(func() {
		if len(j.lkeys) > 0 {
			x.line(nil, "Hash (build side)")
		} else {
			x.line(nil, "Materialize")
		}
		x.child(func() { build.explain(x) })
	})
}
