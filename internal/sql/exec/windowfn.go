package exec

import (
	"context"
	"sort"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/agg"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Window functions of an ad-hoc SELECT (issue 11: olap). They run after
// WHERE, grouping and HAVING and before DISTINCT, ORDER BY and LIMIT:
// the plan's projection computes a "pre-window" row of every
// window-free expression the select list and ORDER BY need (plus each
// window's partition, order and argument values); the window stage
// buffers those rows (charging the statement's memory budget), sorts
// them per window, fills in each window function's result after them,
// and then computes the output columns over [pre..., results...].

// winPlan is the window stage of a plan.
type winPlan struct {
	base   *scalar.Compiler // the scope before windows: the input, or post-grouping
	named  map[string]*parser.WindowSpec
	pre    []*scalar.Node // over base: the pre-window row
	canons []string       // canonical form of each pre column
	fns    []*winFn
	post   []*scalar.Node // output columns over [pre..., results...]
}

// winFn is one window function call.
type winFn struct {
	name  string
	t     types.T
	part  []int     // pre columns of PARTITION BY
	order []sortKey // over pre columns
	args  []int     // pre columns of the arguments
	spec  *agg.Spec // a window aggregate, arguments over the pre row
	frame winFrame
}

// winFrame is a window frame: ROWS or RANGE (without offsets), each
// bound a kind and, for n PRECEDING/FOLLOWING, a constant offset.
type winFrame struct {
	rows       bool
	groups     bool   // GROUPS (neither rows nor groups: RANGE)
	exclude    string // EXCLUDE CURRENT ROW, GROUP or TIES; "" for none
	start, end parser.BoundKind
	soff, eoff *scalar.Node
	rng        *rangeFrame // RANGE with an offset bound
}

// winScope is the Grouping of the compilers a windowed query's
// expressions compile in: window calls (top level only) become reads of
// their result, any window-free expression a read of a pre column.
type winScope struct {
	w   *winPlan
	top bool
}

// Match implements scalar.Grouping.
func (s *winScope) Match(e parser.Expr) (*scalar.Node, bool, error) {
	if wf, ok := e.(*parser.WindowFunc); ok {
		if !s.top {
			return nil, true, pgerr.WindowFuncNested.New().WithPos(wf.P)
		}
		n, err := s.w.addFn(wf)
		return n, true, err
	}
	if f, ok := e.(*parser.Func); ok && scalar.IsAggName(strings.ToLower(f.Name)) && hasWindow(f) {
		return nil, true, pgerr.WindowInAggregate.New().WithPos(firstWindowPos(f))
	}
	if hasWindow(e) || hasSRF(e) {
		return nil, false, nil // compile its parts
	}
	n, err := s.w.base.Compile(e)
	if err != nil {
		return nil, true, err
	}
	if _, k := n.Const(); k || n.Param > 0 {
		return n, true, nil // reads no row
	}
	i := s.w.add(n, canonItem(s.w.base, e))
	return scalar.RowNode(i, n.T), true, nil
}

// CanonScope is the scope expressions are canonicalized in (canonItem).
func (s *winScope) CanonScope() *scalar.Compiler { return s.w.base }

// add appends a pre column (deduplicated) and returns its index.
func (w *winPlan) add(n *scalar.Node, canon string) int {
	for i, c := range w.canons {
		if c == canon && w.pre[i].T == n.T {
			return i
		}
	}
	w.pre = append(w.pre, n)
	w.canons = append(w.canons, canon)
	return len(w.pre) - 1
}

// column compiles e in the base scope as a pre column, converted to t
// unless t is Unknown.
func (w *winPlan) column(e parser.Expr, t types.T) (int, *scalar.Node, error) {
	if hasWindow(e) {
		return 0, nil, pgerr.WindowFuncNested.New().WithPos(firstWindowPos(e))
	}
	if hasSRF(e) {
		return 0, nil, pgerr.SRFInAggregate.New("window").WithPos(e.Pos())
	}
	n, err := w.base.Compile(e)
	if err != nil {
		return 0, nil, err
	}
	if t != types.Unknown && n.T != t {
		if n, err = w.base.Coerce(n, t, e.Pos()); err != nil {
			return 0, nil, err
		}
	}
	if n, err = w.base.Finish(n, e.Pos()); err != nil {
		return 0, nil, err
	}
	return w.add(n, canonItem(w.base, e)), n, nil
}

// planWindows sets up the window stage over base; the select list and
// ORDER BY then compile in the returned scope.
func planWindows(base *scalar.Compiler, sel *parser.Select) (*winPlan, *scalar.Compiler, error) {
	w := &winPlan{base: base, named: map[string]*parser.WindowSpec{}}
	for _, nw := range sel.Windows {
		if _, dup := w.named[nw.Name]; dup {
			return nil, nil, pgerr.WindowDuplicate.New(nw.Name).WithPos(nw.Spec.P)
		}
		spec, err := w.resolve(nw.Spec, false)
		if err != nil {
			return nil, nil, err
		}
		w.named[nw.Name] = spec
	}
	out := &scalar.Compiler{Quals: base.Quals, Params: base.Params, Agg: &winScope{w: w, top: true}, NoAgg: base.NoAgg}
	return w, out, nil
}

// resolve merges a window definition with the named window it refers to
// (PostgreSQL's rules: the copy may add ORDER BY and a frame, never a
// second PARTITION BY or ORDER BY, and cannot copy a frame).
func (w *winPlan) resolve(s *parser.WindowSpec, over bool) (*parser.WindowSpec, error) {
	if s.Ref == "" {
		return s, nil
	}
	ref, ok := w.named[s.Ref]
	if !ok {
		return nil, pgerr.WindowNotDefined.New(s.Ref, s.Ref).WithPos(s.P)
	}
	if over && s.PartitionBy == nil && s.OrderBy == nil && s.Frame == nil {
		return ref, nil // OVER w
	}
	if s.PartitionBy != nil {
		return nil, pgerr.WindowOverride.New("PARTITION BY", s.Ref).WithPos(s.P)
	}
	if s.OrderBy != nil && ref.OrderBy != nil {
		return nil, pgerr.WindowOverride.New("ORDER BY", s.Ref).WithPos(s.P)
	}
	if ref.Frame != nil {
		return nil, pgerr.WindowCopyFrame.New(s.Ref, s.Ref).WithPos(s.P)
	}
	m := &parser.WindowSpec{P: s.P, PartitionBy: ref.PartitionBy, OrderBy: ref.OrderBy, Frame: s.Frame}
	if s.OrderBy != nil {
		m.OrderBy = s.OrderBy
	}
	return m, nil
}

// addFn plans one window function call and returns the node reading its
// result.
func (w *winPlan) addFn(wf *parser.WindowFunc) (*scalar.Node, error) {
	spec, err := w.resolve(wf.Over, true)
	if err != nil {
		return nil, err
	}
	f := wf.Func
	name := strings.ToLower(f.Name)
	fn := &winFn{name: name}
	if f.Distinct {
		return nil, pgerr.WindowDistinct.New().WithPos(f.P)
	}
	if len(f.WithinGroup) > 0 {
		return nil, pgerr.WindowOrderedSet.New(name).WithPos(f.P)
	}
	for _, e := range spec.PartitionBy {
		i, _, err := w.column(e, types.Unknown)
		if err != nil {
			return nil, err
		}
		fn.part = append(fn.part, i)
	}
	for _, o := range spec.OrderBy {
		i, _, err := w.column(o.Expr, types.Unknown)
		if err != nil {
			return nil, err
		}
		nf := o.Desc
		if o.NullsFirst != nil {
			nf = *o.NullsFirst
		}
		fn.order = append(fn.order, sortKey{col: i, desc: o.Desc, nullsFirst: nf})
	}
	if fn.frame, err = w.planFrame(spec.Frame, fn.order); err != nil {
		return nil, err
	}
	arg := func(k int, t types.T) (*scalar.Node, error) {
		i, n, err := w.column(f.Args[k], t)
		if err != nil {
			return nil, err
		}
		fn.args = append(fn.args, i)
		return n, nil
	}
	nargs := func(lo, hi int) error {
		if f.Star || len(f.Args) < lo || len(f.Args) > hi {
			return scalar.NoFunc(f, nil)
		}
		if f.Filter != nil && !scalar.IsAggName(name) {
			return pgerr.NotAnAggregate.New("FILTER", name).WithPos(f.P)
		}
		return nil
	}
	switch name {
	case "row_number", "rank", "dense_rank", "percent_rank", "cume_dist":
		if err := nargs(0, 0); err != nil {
			return nil, err
		}
		fn.t = types.Int8
		if name == "percent_rank" || name == "cume_dist" {
			fn.t = types.Float8
		}
	case "ntile":
		if err := nargs(1, 1); err != nil {
			return nil, err
		}
		if _, err := arg(0, types.Int8); err != nil {
			return nil, err
		}
		fn.t = types.Int8
	case "lag", "lead", "first_value", "last_value", "nth_value":
		lo, hi := 1, 1
		switch name {
		case "lag", "lead":
			hi = 3
		case "nth_value":
			lo, hi = 2, 2
		}
		if err := nargs(lo, hi); err != nil {
			return nil, err
		}
		// The value and lag/lead's default resolve to one type, as
		// PostgreSQL's anycompatible arguments: the default converts to
		// the value's type, or the value to the default's.
		want := types.Unknown
		if len(f.Args) > 2 {
			xn, err := w.base.Compile(f.Args[0])
			if err != nil {
				return nil, err
			}
			if xn, err = w.base.Finish(xn, f.Args[0].Pos()); err != nil {
				return nil, err
			}
			want = xn.T
			dn, err := w.base.Compile(f.Args[2])
			if err != nil {
				return nil, err
			}
			switch {
			case dn.Untyped || dn.Param > 0 || dn.T == want || scalar.ImplicitCast(dn.T, want):
			case scalar.ImplicitCast(want, dn.T):
				want = dn.T
			default:
				on, err := w.base.Compile(f.Args[1])
				if err != nil {
					return nil, err
				}
				return nil, scalar.NoFunc(f, []*scalar.Node{xn, on, dn})
			}
		}
		x, err := arg(0, want)
		if err != nil {
			return nil, err
		}
		fn.t = x.T
		if len(f.Args) > 1 {
			if _, err := arg(1, types.Int8); err != nil {
				return nil, err
			}
		}
		if len(f.Args) > 2 {
			if _, err := arg(2, x.T); err != nil {
				return nil, err
			}
		}
	default:
		if !scalar.IsAggName(name) {
			if _, err := w.base.Compile(f); err != nil && pgerr.Code(err) == pgerr.UndefinedFunction {
				return nil, err
			}
			return nil, pgerr.NotWindowFunc.New(name).WithPos(f.P)
		}
		if hasWindow(f) {
			return nil, pgerr.WindowFuncNested.New().WithPos(firstWindowPos(f))
		}
		if hasSRF(f) {
			return nil, pgerr.SRFInAggregate.New("window").WithPos(f.P)
		}
		in := &scalar.Compiler{Params: w.base.Params, Agg: &winScope{w: w}}
		sc := &agg.Scope{In: in}
		if _, _, err := sc.Match(f); err != nil {
			return nil, err
		}
		fn.spec = sc.Aggs[0]
		fn.t = fn.spec.T
	}
	j := len(w.fns)
	w.fns = append(w.fns, fn)
	return scalar.VirtualNode(fn.t, func(ec *scalar.Ctx, in scalar.Input) (types.Datum, error) {
		return scalar.InputDatum(in, len(w.pre)+j), nil
	}), nil
}

// planFrame checks a frame clause as PostgreSQL does; nil is the default
// frame, RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW.
func (w *winPlan) planFrame(f *parser.Frame, order []sortKey) (winFrame, error) {
	if f == nil {
		return winFrame{start: parser.UnboundedPreceding, end: parser.CurrentRow}, nil
	}
	bad := func(msg string) (winFrame, error) {
		return winFrame{}, pgerr.WindowFrameInvalid.New(msg).WithPos(f.P)
	}
	switch {
	case f.Start.Kind == parser.UnboundedFollowing:
		return bad("start cannot be UNBOUNDED FOLLOWING")
	case f.End.Kind == parser.UnboundedPreceding:
		return bad("end cannot be UNBOUNDED PRECEDING")
	case f.Start.Kind == parser.CurrentRow && f.End.Kind == parser.OffsetPreceding:
		return bad("starting from current row cannot have preceding rows")
	case f.Start.Kind == parser.OffsetFollowing && f.End.Kind == parser.CurrentRow:
		return bad("starting from following row cannot end with current row")
	case f.Start.Kind == parser.OffsetFollowing && f.End.Kind == parser.OffsetPreceding:
		return bad("starting from following row cannot have preceding rows")
	}
	if f.Mode == parser.FrameGroups && len(order) == 0 {
		return winFrame{}, pgerr.WindowGroupsNoOrder.New().WithPos(f.P)
	}
	fr := winFrame{rows: f.Mode == parser.FrameRows, groups: f.Mode == parser.FrameGroups,
		start: f.Start.Kind, end: f.End.Kind, exclude: f.Exclude}
	if f.Mode == parser.FrameRange && (f.Start.Offset != nil || f.End.Offset != nil) {
		r, err := w.planRangeOffsets(f, order)
		if err != nil {
			return winFrame{}, err
		}
		fr.rng = r
		return fr, nil
	}
	what := "ROWS"
	if fr.groups {
		what = "GROUPS"
	}
	off := func(e parser.Expr) (*scalar.Node, error) {
		if e == nil {
			return nil, nil
		}
		if agg.Any(e, func(x parser.Expr) bool { _, ok := x.(*parser.ColumnRef); return ok }) {
			return nil, pgerr.WindowFrameOffsetVars.New(what).WithPos(e.Pos())
		}
		c := &scalar.Compiler{Params: w.base.Params, NoAgg: "window frame offsets"}
		n, err := c.Compile(e)
		if err != nil {
			return nil, err
		}
		if !(n.T.IsInt() || n.Untyped || n.Param > 0) {
			return nil, pgerr.WindowFrameOffsetType.New(what, n.T).WithPos(e.Pos())
		}
		return c.Coerce(n, types.Int8, e.Pos())
	}
	var err error
	if fr.soff, err = off(f.Start.Offset); err != nil {
		return winFrame{}, err
	}
	if fr.eoff, err = off(f.End.Offset); err != nil {
		return winFrame{}, err
	}
	return fr, nil
}

// offsets evaluates the frame's offsets for one statement.
func (fr *winFrame) offsets(ec *scalar.Ctx) (s, e int64, err error) {
	get := func(n *scalar.Node, which string) (int64, error) {
		if n == nil {
			return 0, nil
		}
		d, err := n.Fn(ec, scalar.Input{})
		if err != nil {
			return 0, err
		}
		if d.Null {
			return 0, pgerr.WindowFrameOffsetNull.New(which)
		}
		if d.I < 0 {
			return 0, pgerr.WindowFrameOffsetNeg.New(which)
		}
		return d.I, nil
	}
	if s, err = get(fr.soff, "starting"); err != nil {
		return 0, 0, err
	}
	e, err = get(fr.eoff, "ending")
	return s, e, err
}

// hasWindow reports whether e contains a window function call.
func hasWindow(e parser.Expr) bool {
	return agg.Any(e, func(x parser.Expr) bool { _, ok := x.(*parser.WindowFunc); return ok })
}

func firstWindowPos(e parser.Expr) int {
	pos := e.Pos()
	agg.Any(e, func(x parser.Expr) bool {
		if wf, ok := x.(*parser.WindowFunc); ok {
			pos = wf.P
			return true
		}
		return false
	})
	return pos
}

// checkNoWindows refuses window functions in WHERE, GROUP BY and HAVING.
func checkNoWindows(sel *parser.Select) error {
	check := func(e parser.Expr, where string) error {
		if e != nil && hasWindow(e) {
			return pgerr.WindowFuncNotAllowed.New(where).WithPos(firstWindowPos(e))
		}
		return nil
	}
	if err := check(sel.Where, "WHERE"); err != nil {
		return err
	}
	for _, g := range sel.GroupBy {
		if err := check(g, "GROUP BY"); err != nil {
			return err
		}
	}
	return check(sel.Having, "HAVING")
}

// selectHasWindows reports whether the select list or ORDER BY calls a
// window function.
func selectHasWindows(items []selItem, order []parser.OrderItem) bool {
	for _, it := range items {
		if hasWindow(it.expr) {
			return true
		}
	}
	for _, o := range order {
		if hasWindow(o.Expr) {
			return true
		}
	}
	return false
}

// winBuffer collects the pre-window rows, charging the memory budget.
type winBuffer struct {
	chunks  [][][]types.Datum // rows in chunks of 4096 (no regrowing)
	slab    []types.Datum
	charged int64
}

func (b *winBuffer) add(ec *scalar.Ctx, w *winPlan, row []types.Datum) error {
	n := len(row) + len(w.fns)
	if len(b.slab) < n {
		b.slab = make([]types.Datum, n*256) // rows are carved from slabs
	}
	r := b.slab[:n:n]
	b.slab = b.slab[n:]
	copy(r, row)
	sz := scalar.RowSize(r)
	if err := ec.Grow(sz); err != nil {
		return err
	}
	b.charged += sz
	if k := len(b.chunks); k == 0 || len(b.chunks[k-1]) == cap(b.chunks[k-1]) {
		b.chunks = append(b.chunks, make([][]types.Datum, 0, 4096))
	}
	k := len(b.chunks) - 1
	b.chunks[k] = append(b.chunks[k], r)
	return nil
}

// run computes every window function over the buffered rows and emits
// the output rows, in the order of the last window's sort.
func (w *winPlan) run(ctx context.Context, ec *scalar.Ctx, b *winBuffer, srf *srfList, emit func([]types.Datum) error) error {
	defer ec.Shrink(b.charged)
	n := 0
	for _, c := range b.chunks {
		n += len(c)
	}
	rows := make([][]types.Datum, 0, n)
	for _, c := range b.chunks {
		rows = append(rows, c...)
	}
	b.chunks = nil
	idx := make([]int, len(rows))
	off := len(w.pre)
	for fi, fn := range w.fns {
		for i := range idx {
			idx[i] = i
		}
		keys := make([]sortKey, 0, len(fn.part)+len(fn.order))
		for _, c := range fn.part {
			keys = append(keys, sortKey{col: c})
		}
		keys = append(keys, fn.order...)
		sort.SliceStable(idx, func(a, b int) bool { return lessBy(keys, rows[idx[a]], rows[idx[b]]) })
		soff, eoff, err := fn.frame.offsets(ec)
		if err != nil {
			return err
		}
		for lo := 0; lo < len(idx); {
			if err := ctx.Err(); err != nil {
				return err
			}
			hi := lo + 1
			for hi < len(idx) && sameCols(fn.part, rows[idx[lo]], rows[idx[hi]]) {
				hi++
			}
			if err := fn.partition(ec, rows, idx[lo:hi], off+fi, soff, eoff); err != nil {
				return err
			}
			lo = hi
		}
	}
	for _, i := range idx {
		if err := projectRow(ec, scalar.RowInput(rows[i]), w.post, srf, emit); err != nil {
			return err
		}
	}
	return nil
}

// sameCols reports whether rows a and b agree on the columns cols (NULLs
// equal, as in GROUP BY).
func sameCols(cols []int, a, b []types.Datum) bool {
	for _, c := range cols {
		if scalar.CompareNullable(a[c], b[c], false) != 0 {
			return false
		}
	}
	return true
}

// samePeers reports whether rows a and b sort equal by the window's ORDER BY.
func samePeers(order []sortKey, a, b []types.Datum) bool {
	for _, k := range order {
		if scalar.CompareNullable(a[k.col], b[k.col], k.nullsFirst) != 0 {
			return false
		}
	}
	return true
}

// partition computes fn for one partition (rows part, in window order)
// into column res.
func (fn *winFn) partition(ec *scalar.Ctx, rows [][]types.Datum, part []int, res int, soff, eoff int64) error {
	m := len(part)
	row := func(k int) []types.Datum { return rows[part[k]] }
	// peerStart[k], peerEnd[k]: the peer group [start, end) of row k.
	peerStart := make([]int, m)
	peerEnd := make([]int, m)
	gid := make([]int, m) // peer group number
	gstarts := make([]int, 0, m)
	for lo := 0; lo < m; {
		hi := lo + 1
		for hi < m && samePeers(fn.order, row(lo), row(hi)) {
			hi++
		}
		for k := lo; k < hi; k++ {
			peerStart[k], peerEnd[k] = lo, hi
			gid[k] = len(gstarts)
		}
		gstarts = append(gstarts, lo)
		lo = hi
	}
	// groupStart/groupEnd: where peer group g (clamped to the partition)
	// starts and ends.
	groupStart := func(g int64) int {
		switch {
		case g < 0:
			return 0
		case g >= int64(len(gstarts)):
			return m
		}
		return gstarts[g]
	}
	groupEnd := func(g int64) int { return groupStart(g + 1) }
	var rb *rangeBounds
	if fn.frame.rng != nil {
		var err error
		if rb, err = fn.frame.rng.bounds(ec, rows, part); err != nil {
			return err
		}
	}
	frame := func(k int) (int, int) {
		var s, e int
		switch fn.frame.start {
		case parser.UnboundedPreceding:
			s = 0
		case parser.OffsetPreceding:
			s = k - int(min(soff, int64(m)))
			if rb != nil {
				s = rb.start(k, peerStart[k])
			}
			if fn.frame.groups {
				s = groupStart(int64(gid[k]) - min(soff, int64(m)))
			}
		case parser.CurrentRow:
			s = k
			if !fn.frame.rows {
				s = peerStart[k]
			}
		case parser.OffsetFollowing:
			s = k + int(min(soff, int64(m)))
			if rb != nil {
				s = rb.start(k, peerStart[k])
			}
			if fn.frame.groups {
				s = groupStart(int64(gid[k]) + min(soff, int64(m)))
			}
		}
		switch fn.frame.end {
		case parser.OffsetPreceding:
			e = k - int(min(eoff, int64(m))) + 1
			if rb != nil {
				e = rb.end(k, peerEnd[k])
			}
			if fn.frame.groups {
				if g := int64(gid[k]) - min(eoff, int64(m)); g >= 0 {
					e = groupEnd(g)
				} else {
					e = 0
				}
			}
		case parser.CurrentRow:
			e = k + 1
			if !fn.frame.rows {
				e = peerEnd[k]
			}
		case parser.OffsetFollowing:
			e = k + int(min(eoff, int64(m))) + 1
			if rb != nil {
				e = rb.end(k, peerEnd[k])
			}
			if fn.frame.groups {
				e = groupEnd(int64(gid[k]) + min(eoff, int64(m)))
			}
		case parser.UnboundedFollowing:
			e = m
		}
		s = max(0, min(s, m))
		e = max(s, min(e, m))
		return s, e
	}
	// excluded reports whether row j of k's frame is left out by EXCLUDE.
	excluded := func(k, j int) bool {
		switch fn.frame.exclude {
		case "CURRENT ROW":
			return j == k
		case "GROUP":
			return j >= peerStart[k] && j < peerEnd[k]
		case "TIES":
			return j != k && j >= peerStart[k] && j < peerEnd[k]
		}
		return false
	}
	set := func(k int, d types.Datum) { row(k)[res] = d }
	switch fn.name {
	case "row_number":
		for k := 0; k < m; k++ {
			set(k, types.NewInt(types.Int8, int64(k+1)))
		}
		return nil
	case "rank":
		for k := 0; k < m; k++ {
			set(k, types.NewInt(types.Int8, int64(peerStart[k]+1)))
		}
		return nil
	case "dense_rank":
		g := int64(0)
		for k := 0; k < m; k++ {
			if peerStart[k] == k {
				g++
			}
			set(k, types.NewInt(types.Int8, g))
		}
		return nil
	case "percent_rank":
		for k := 0; k < m; k++ {
			v := 0.0
			if m > 1 {
				v = float64(peerStart[k]) / float64(m-1)
			}
			set(k, types.NewFloat(types.Float8, v))
		}
		return nil
	case "cume_dist":
		for k := 0; k < m; k++ {
			set(k, types.NewFloat(types.Float8, float64(peerEnd[k])/float64(m)))
		}
		return nil
	case "ntile":
		nb := row(0)[fn.args[0]]
		if nb.Null {
			for k := 0; k < m; k++ {
				set(k, types.NullOf(types.Int8))
			}
			return nil
		}
		if nb.I <= 0 {
			return pgerr.NtileArg.New()
		}
		b := int(min(nb.I, int64(m)))
		q, r := m/b, m%b
		for k := 0; k < m; k++ {
			var t int
			if k < r*(q+1) {
				t = k/(q+1) + 1
			} else {
				t = r + (k-r*(q+1))/q + 1
			}
			set(k, types.NewInt(types.Int8, int64(t)))
		}
		return nil
	case "lag", "lead":
		for k := 0; k < m; k++ {
			o := int64(1)
			if len(fn.args) > 1 {
				d := row(k)[fn.args[1]]
				if d.Null {
					set(k, types.NullOf(fn.t))
					continue
				}
				o = d.I
			}
			if fn.name == "lag" {
				o = -o
			}
			t := int64(k) + o
			switch {
			case t >= 0 && t < int64(m):
				set(k, row(int(t))[fn.args[0]])
			case len(fn.args) > 2:
				set(k, row(k)[fn.args[2]])
			default:
				set(k, types.NullOf(fn.t))
			}
		}
		return nil
	case "first_value", "last_value", "nth_value":
		for k := 0; k < m; k++ {
			s, e := frame(k)
			at := -1
			switch fn.name {
			case "first_value":
				for j := s; j < e && at < 0; j++ {
					if !excluded(k, j) {
						at = j
					}
				}
			case "last_value":
				for j := e - 1; j >= s && at < 0; j-- {
					if !excluded(k, j) {
						at = j
					}
				}
			default:
				d := row(k)[fn.args[1]]
				if d.Null {
					break
				}
				if d.I <= 0 {
					return pgerr.NthValueArg.New()
				}
				n := d.I
				for j := s; j < e && at < 0; j++ {
					if !excluded(k, j) {
						if n--; n == 0 {
							at = j
						}
					}
				}
			}
			if at >= s && at < e {
				set(k, row(at)[fn.args[0]])
			} else {
				set(k, types.NullOf(fn.t))
			}
		}
		return nil
	}
	// A window aggregate: fold the frame, reusing the running state while
	// the frame only grows at its end (the default frame, running sums).
	var acc agg.Accum
	var scratch []byte
	var argv []types.Datum
	cs, ce := 0, 0
	for k := 0; k < m; k++ {
		s, e := frame(k)
		if s != cs || e < ce || fn.frame.exclude != "" {
			acc = agg.Accum{}
			cs, ce = s, s
		}
		for ; ce < e; ce++ {
			if excluded(k, ce) {
				continue
			}
			in := scalar.RowInput(row(ce))
			if fn.spec.Filter != nil {
				d, err := fn.spec.Filter.Fn(ec, in)
				if err != nil {
					return err
				}
				if !d.Bool() {
					continue
				}
			}
			argv = argv[:0]
			for _, a := range fn.spec.Args {
				v, err := a.Fn(ec, in)
				if err != nil {
					return err
				}
				argv = append(argv, v)
			}
			if err := acc.AddRow(fn.spec, argv, &scratch); err != nil {
				return err
			}
		}
		d, err := acc.ResultErr(fn.spec)
		if err != nil {
			return err
		}
		set(k, d)
	}
	return nil
}
