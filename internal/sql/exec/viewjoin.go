package exec

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Stream–table joins in continuous views (enrichment).
//
// A view `SELECT d.site, count(*) FROM events e JOIN devices d ON
// e.device_id = d.id GROUP BY d.site` is planned as an ordinary view over
// a widened row: the stream's columns, then the table's. The view task
// widens each stream batch (Enricher.Widen) before folding it, looking up
// the table rows current at that moment; the fold, the delta, the view
// shard's state machine and exactly-once offsets are those of every view.
// A later change to the table does not rewrite results already folded.

// JoinTable is the table side of an enrichment view, as the planner sees
// it: its name, columns and primary key.
type JoinTable struct {
	Name string
	Cols []Column
	Key  []int // primary-key columns (indices into Cols), in key order
}

// ViewJoinSpec is a join in a continuous view's FROM: a stream (a name,
// or tumble()/hop() over one) joined to a table.
type ViewJoinSpec struct {
	P      int
	Stream *parser.TableRef
	Table  *parser.TableRef
	Left   bool // LEFT [OUTER] JOIN; otherwise INNER
	On     parser.Expr
}

// viewJoin is the enrichment stage of a view plan. The widened batch is
// the stream's ns columns followed by tcols.
type viewJoin struct {
	table string
	left  bool
	ns    int
	tcols []Column // the table's columns as planned
	// One entry per equality of ON: the stream-side value (compiled over
	// the stream's columns) and the table column it equals. In point mode
	// they are in primary-key order.
	skeys []*scalar.Node
	tcol  []int
	// point: the equalities pin exactly the table's primary key, so each
	// batch reads only the distinct keys it needs (ScanKeys); otherwise
	// the table is scanned and hashed on the join columns (hash mode).
	point bool
}

// JoinTableName returns the table an enrichment view reads, or "" for a
// view without a join.
func (v *ViewPlan) JoinTableName() string {
	if v.join == nil {
		return ""
	}
	return v.join.table
}

// JoinPointLookups reports whether an enrichment view looks the table up
// by primary key (true) or scans and hashes it (false).
func (v *ViewPlan) JoinPointLookups() bool { return v.join != nil && v.join.point }

// splitAnd returns the conjuncts of e.
func splitAnd(e parser.Expr, out []parser.Expr) []parser.Expr {
	if b, ok := e.(*parser.Binary); ok && (b.Op == "AND" || b.Op == "and") {
		return splitAnd(b.R, splitAnd(b.L, out))
	}
	return append(out, e)
}

func colIndex(cols []Column, name string) int {
	for i, c := range cols {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Sides of an expression: which relations it reads.
const (
	sideStream = 1 << iota
	sideTable
)

// PlanViewJoin plans a continuous view whose FROM is spec: a stream with
// the given columns joined to the table tbl. sel's FROM is ignored (spec
// replaces it); its other clauses name columns of either side, qualified
// by the relation's name or alias.
func PlanViewJoin(sel *parser.Select, spec ViewJoinSpec, stream []Column, tbl JoinTable, opts ViewOptions) (*ViewPlan, error) {
	if spec.Table == nil || spec.Table.Subquery != nil || spec.Table.Func != nil || spec.Table.Name == "" {
		pos := spec.P
		if spec.Table != nil {
			pos = spec.Table.P
		}
		return nil, pgerr.ViewJoinShape.New().WithPos(pos)
	}
	if spec.Stream == nil {
		return nil, pgerr.ViewJoinShape.New().WithPos(spec.P)
	}
	sname, spos := ViewSource(&parser.Select{From: spec.Stream})
	squal := sname
	if spec.Stream.Alias != "" {
		squal = spec.Stream.Alias
	}
	tqual := spec.Table.Name
	if spec.Table.Alias != "" {
		tqual = spec.Table.Alias
	}
	if squal == tqual {
		return nil, pgerr.ViewJoinSameName.New(tqual).WithPos(spec.Table.P)
	}
	if sname == "" {
		return nil, pgerr.WindowArgs.New(spec.Stream.Name).WithPos(spos)
	}
	ns := len(stream)
	wide := slices.Clone(stream)
	for _, c := range tbl.Cols {
		name := c.Name
		if colIndex(stream, name) >= 0 {
			// Only reachable through the rewrite below, which resolves
			// the qualified name; shown in messages in that form.
			name = tqual + "." + c.Name
		}
		if colIndex(wide, name) >= 0 {
			return nil, pgerr.ViewJoinShape.New().WithPos(spec.Table.P)
		}
		wide = append(wide, Column{Name: name, T: c.T})
	}
	seen := 0
	resolve := func(r *parser.ColumnRef) (parser.Expr, error) {
		si, ti := colIndex(stream, r.Name), colIndex(tbl.Cols, r.Name)
		switch r.Table {
		case "":
			if si >= 0 && ti >= 0 {
				return nil, pgerr.AmbiguousColumnRef.New(r.Name).WithPos(r.P)
			}
		case squal:
			ti = -1
			if si < 0 {
				return r, nil // arrival_timestamp, or the compiler's 42703
			}
		case tqual:
			if ti < 0 {
				return nil, pgerr.QualifiedColumnNotFound.New(tqual, r.Name).WithPos(r.P)
			}
			si = -1
		default:
			return r, nil // the compiler says: missing FROM-clause entry
		}
		switch {
		case si >= 0:
			seen |= sideStream
			return &parser.ColumnRef{P: r.P, Name: r.Name}, nil
		case ti >= 0:
			seen |= sideTable
			return &parser.ColumnRef{P: r.P, Name: wide[ns+ti].Name}, nil
		}
		return r, nil
	}
	rw := func(e parser.Expr) (parser.Expr, error) { return rewriteExpr(e, resolve) }

	// The view's clauses over the widened columns.
	out := *sel
	from := *spec.Stream
	if f := from.Func; f != nil {
		nf := *f
		nf.Args = slices.Clone(f.Args)
		for i := 1; i < len(nf.Args); i++ {
			var err error
			if nf.Args[i], err = rw(nf.Args[i]); err != nil {
				return nil, err
			}
		}
		from.Func = &nf
	}
	out.From = &from
	out.Items = nil
	for _, it := range sel.Items {
		if st, ok := it.Expr.(*parser.Star); ok {
			return nil, pgerr.ViewUnsupported.New("* in a view with a join").WithPos(st.P)
		}
		e, err := rw(it.Expr)
		if err != nil {
			return nil, err
		}
		if r, ok := it.Expr.(*parser.ColumnRef); ok && it.Alias == "" {
			it.Alias = r.Name // keep the written name as the output name
		}
		out.Items = append(out.Items, parser.SelectItem{Expr: e, Alias: it.Alias})
	}
	var err error
	if out.Where, err = rw(sel.Where); err != nil {
		return nil, err
	}
	out.GroupBy = make([]parser.Expr, len(sel.GroupBy))
	for i, g := range sel.GroupBy {
		if out.GroupBy[i], err = rw(g); err != nil {
			return nil, err
		}
	}
	if out.Having, err = rw(sel.Having); err != nil {
		return nil, err
	}
	out.OrderBy = slices.Clone(sel.OrderBy)
	for i := range out.OrderBy {
		if out.OrderBy[i].Expr, err = rw(out.OrderBy[i].Expr); err != nil {
			return nil, err
		}
	}

	// ON: equalities between a stream expression and a table column
	// drive the lookup; for an inner join anything else is a filter.
	in := &scalar.Compiler{Cols: wide, Quals: []string{squal}, NoAgg: "JOIN conditions", Virtual: arrivalColumn}
	j := &viewJoin{table: tbl.Name, left: spec.Left, ns: ns, tcols: slices.Clone(tbl.Cols)}
	if spec.On == nil {
		return nil, pgerr.ViewJoinNoEquality.New().WithPos(spec.P)
	}
	var residual []parser.Expr
	for _, c := range splitAnd(spec.On, nil) {
		seen = 0
		rc, err := rw(c)
		if err != nil {
			return nil, err
		}
		if _, err := in.Compile(rc); err != nil {
			return nil, err // type errors as PostgreSQL gives them (42883 ...)
		}
		if ok, err := j.addEquality(in, c, rw, &seen, ns); err != nil {
			return nil, err
		} else if ok {
			continue
		}
		if spec.Left {
			return nil, pgerr.ViewJoinLeftOn.New().WithPos(c.Pos())
		}
		residual = append(residual, rc)
	}
	if len(j.skeys) == 0 {
		return nil, pgerr.ViewJoinNoEquality.New().WithPos(spec.On.Pos())
	}
	for _, r := range residual {
		if out.Where == nil {
			out.Where = r
		} else {
			out.Where = &parser.Binary{P: r.Pos(), Op: "AND", L: out.Where, R: r}
		}
	}
	j.planPoint(tbl.Key)
	v, err := PlanViewWith(&out, wide, opts)
	if err != nil {
		return nil, err
	}
	v.join = j
	return v, nil
}

// addEquality records c as a lookup equality when it is `stream-expr =
// table-column` (either way round).
func (j *viewJoin) addEquality(in *scalar.Compiler, c parser.Expr, rw func(parser.Expr) (parser.Expr, error), seen *int, ns int) (bool, error) {
	b, ok := c.(*parser.Binary)
	if !ok || b.Op != "=" {
		return false, nil
	}
	side := func(e parser.Expr) (parser.Expr, int, error) {
		*seen = 0
		r, err := rw(e)
		return r, *seen, err
	}
	l, ls, err := side(b.L)
	if err != nil {
		return false, err
	}
	r, rs, err := side(b.R)
	if err != nil {
		return false, err
	}
	if ls == sideTable && rs == sideStream {
		l, r, ls, rs = r, l, rs, ls
	}
	tref, ok := r.(*parser.ColumnRef)
	if ls != sideStream || rs != sideTable || !ok {
		return false, nil
	}
	sn, err := in.Compile(l)
	if err != nil {
		return false, err
	}
	tn, err := in.Compile(tref)
	if err != nil {
		return false, err
	}
	if sn.Volatile {
		return false, nil
	}
	if sn.T != tn.T && !(sn.T.IsInt() && tn.T.IsInt()) {
		return false, pgerr.ViewJoinKeyType.New(parser.FormatExpr(b.L), parser.FormatExpr(b.R), sn.T.String(), tn.T.String()).
			WithHint("Cast one side so both have the same type, e.g. %s::%s.", parser.FormatExpr(l), tn.T.String()).WithPos(b.P)
	}
	j.skeys = append(j.skeys, sn)
	j.tcol = append(j.tcol, tn.Col-ns)
	return true, nil
}

// planPoint switches to point lookups when the equalities pin exactly the
// primary key, ordering them as the key.
func (j *viewJoin) planPoint(key []int) {
	if len(key) == 0 || len(key) != len(j.tcol) {
		return
	}
	sk := make([]*scalar.Node, len(key))
	for i, k := range key {
		at := slices.Index(j.tcol, k)
		if at < 0 {
			return
		}
		sk[i] = j.skeys[at]
	}
	j.skeys, j.tcol, j.point = sk, slices.Clone(key), true
}

// Versioned is implemented by a table source that can say cheaply
// whether its contents changed: Version returns a number that changes
// whenever a row does (for example the sum of its shards' applied
// indexes). A hash-mode Enricher rescans only when it changed.
type Versioned interface {
	Version(ctx context.Context) (uint64, error)
}

// Enricher widens stream batches with the table rows they join, for one
// view task. It is not safe for concurrent use.
type Enricher struct {
	j      *viewJoin
	src    KeyedSource
	colMap []int // planned table column → src column

	tab     *types.Batch     // table rows read (point: this batch's; hash: the cache)
	index   map[string]int32 // encoded join key → first row in tab
	next    []int32          // hash mode: next row of tab with the same key; -1 ends
	loaded  bool             // hash mode: tab holds the table
	version uint64

	keyBuf  []byte
	rowKeys []byte  // point mode: the batch's row keys, concatenated
	rowOffs []int32 // row i's key is rowKeys[rowOffs[i]:rowOffs[i+1]]; a NULL key is empty
	lookups [][]types.Datum
	kd      []types.Datum
	sIdx    []int32
	tIdx    []int32
	sCols   []types.Column // gathered stream columns (when rows drop or repeat)
	tCols   []types.Column
	out     types.Batch
}

// NewEnricher returns the enrichment stage of an enrichment view over
// src, the table it names (JoinTableName). Table columns are matched by
// name; a column the view reads that src lacks, or whose type changed,
// is an error.
func (v *ViewPlan) NewEnricher(src KeyedSource) (*Enricher, error) {
	j := v.join
	if j == nil {
		return nil, nil
	}
	cols := src.Columns()
	e := &Enricher{j: j, src: src, index: map[string]int32{}}
	ts := make([]types.T, len(j.tcols))
	for i, c := range j.tcols {
		at := colIndex(cols, c.Name)
		if at < 0 || cols[at].T != c.T {
			return nil, pgerr.ViewJoinTableChanged.New(j.table, c.Name)
		}
		e.colMap = append(e.colMap, at)
		ts[i] = c.T
	}
	if j.point {
		kc := src.KeyColumns()
		if len(kc) != len(j.tcol) {
			return nil, pgerr.ViewJoinTableChanged.New(j.table, j.tcols[j.tcol[0]].Name)
		}
		for i, k := range kc {
			if k != e.colMap[j.tcol[i]] {
				return nil, pgerr.ViewJoinTableChanged.New(j.table, j.tcols[j.tcol[i]].Name)
			}
		}
	}
	e.tab = types.NewBatch(ts)
	e.tCols = make([]types.Column, len(ts))
	for i, t := range ts {
		e.tCols[i] = types.NewBatch([]types.T{t}).Cols[0]
	}
	return e, nil
}

// Refresh makes a hash-mode enricher's cached table current: the view
// task calls it before each round of batches, so every event joins the
// table as it was when its round began. Point mode reads the table per
// batch and needs no refresh.
func (e *Enricher) Refresh(ctx context.Context) error {
	if e.j.point {
		return nil
	}
	if vs, ok := e.src.(Versioned); ok {
		ver, err := vs.Version(ctx)
		if err != nil {
			return err
		}
		if e.loaded && ver == e.version {
			return nil
		}
		e.version = ver
	}
	e.loaded = false
	e.tab.Reset()
	clear(e.index)
	e.next = e.next[:0]
	err := e.src.Scan(ctx, func(b *types.Batch) error {
		for i := 0; i < b.N; i++ {
			e.keyBuf = e.keyBuf[:0]
			null := false
			for _, tc := range e.j.tcol {
				c := &b.Cols[e.colMap[tc]]
				if c.IsNull(i) {
					null = true
					break
				}
				e.keyBuf = scalar.AppendKey(e.keyBuf, scalar.BatchDatum(c, i))
			}
			if null {
				continue // NULL never equals anything
			}
			r := int32(e.tab.N)
			e.appendTableRow(b, i)
			head, ok := e.index[string(e.keyBuf)]
			if !ok {
				head = -1
			}
			e.next = append(e.next, head)
			e.index[string(e.keyBuf)] = r
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.loaded = true
	return nil
}

func (e *Enricher) appendTableRow(b *types.Batch, i int) {
	n := e.tab.N
	for k, at := range e.colMap {
		e.tab.Cols[k].AppendDatum(n, b.Cols[at].Datum(i))
	}
	e.tab.N++
}

// streamKey encodes row i's join key (the stream side of each equality,
// converted to the table column's type) into e.keyBuf; ok is false when
// no table row can match (a NULL, or an integer outside the column's
// range). With datums set, it also fills e.kd with the key values.
func (e *Enricher) streamKey(ec *Ctx, b *types.Batch, i int, datums bool) (ok bool, err error) {
	e.keyBuf = e.keyBuf[:0]
	e.kd = e.kd[:0]
	in := scalar.BatchInput(b, i)
	for k, n := range e.j.skeys {
		var d types.Datum
		if n.Col >= 0 {
			d = scalar.BatchDatum(&b.Cols[n.Col], i)
		} else if d, err = n.Fn(ec, in); err != nil {
			return false, err
		}
		if d.Null {
			return false, nil
		}
		if t := e.j.tcols[e.j.tcol[k]].T; d.T != t {
			if !fitsInt(d.I, t) {
				return false, nil
			}
			d.T = t
		}
		e.keyBuf = scalar.AppendKey(e.keyBuf, d)
		if datums {
			if d.T.UsesBytes() {
				d.S = strings.Clone(d.S) // outlives the batch
			}
			e.kd = append(e.kd, d)
		}
	}
	return true, nil
}

func fitsInt(v int64, t types.T) bool {
	switch t {
	case types.Int2:
		return v >= math.MinInt16 && v <= math.MaxInt16
	case types.Int4:
		return v >= math.MinInt32 && v <= math.MaxInt32
	}
	return true
}

// Widen returns b widened with the table columns of the rows each event
// joins: an inner join drops events without a match and repeats an event
// per matching row; a LEFT JOIN keeps an event without a match with
// NULLs. The result is valid until the next call; b's Arrival is kept.
func (e *Enricher) Widen(ctx context.Context, ec *Ctx, b *types.Batch) (*types.Batch, error) {
	e.sIdx, e.tIdx = e.sIdx[:0], e.tIdx[:0]
	if e.j.point {
		if err := e.lookup(ctx, ec, b); err != nil {
			return nil, err
		}
	} else {
		if !e.loaded {
			if err := e.Refresh(ctx); err != nil {
				return nil, err
			}
		}
		for i := 0; i < b.N; i++ {
			ok, err := e.streamKey(ec, b, i, false)
			if err != nil {
				return nil, err
			}
			t := int32(-1)
			if ok {
				if h, found := e.index[string(e.keyBuf)]; found {
					t = h
				}
			}
			e.match(int32(i), t)
		}
	}
	return e.build(b), nil
}

// match records stream row i's matches: the chain from t (hash mode; a
// single row in point mode, where next is empty).
func (e *Enricher) match(i, t int32) {
	if t < 0 {
		if e.j.left {
			e.sIdx, e.tIdx = append(e.sIdx, i), append(e.tIdx, -1)
		}
		return
	}
	for ; t >= 0; t = e.nextOf(t) {
		e.sIdx, e.tIdx = append(e.sIdx, i), append(e.tIdx, t)
	}
}

func (e *Enricher) nextOf(t int32) int32 {
	if e.j.point {
		return -1
	}
	return e.next[t]
}

// lookup reads the table rows of b's distinct keys in one ScanKeys.
func (e *Enricher) lookup(ctx context.Context, ec *Ctx, b *types.Batch) error {
	clear(e.index)
	e.tab.Reset()
	e.lookups = e.lookups[:0]
	e.rowKeys = e.rowKeys[:0]
	e.rowOffs = append(e.rowOffs[:0], 0)
	const pending = -1
	for i := 0; i < b.N; i++ {
		ok, err := e.streamKey(ec, b, i, true)
		if err != nil {
			return err
		}
		if ok {
			e.rowKeys = append(e.rowKeys, e.keyBuf...)
			if _, seen := e.index[string(e.keyBuf)]; !seen {
				e.index[string(e.keyBuf)] = pending
				e.lookups = append(e.lookups, slices.Clone(e.kd))
			}
		}
		e.rowOffs = append(e.rowOffs, int32(len(e.rowKeys)))
	}
	if len(e.lookups) > 0 {
		err := e.src.ScanKeys(ctx, e.lookups, func(tb *types.Batch) error {
			for i := 0; i < tb.N; i++ {
				e.keyBuf = e.keyBuf[:0]
				for _, tc := range e.j.tcol {
					e.keyBuf = scalar.AppendKey(e.keyBuf, scalar.BatchDatum(&tb.Cols[e.colMap[tc]], i))
				}
				if r, ok := e.index[string(e.keyBuf)]; ok && r == pending {
					e.index[string(e.keyBuf)] = int32(e.tab.N)
					e.appendTableRow(tb, i)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for i := 0; i < b.N; i++ {
		k := e.rowKeys[e.rowOffs[i]:e.rowOffs[i+1]]
		t := int32(-1)
		if len(k) > 0 {
			t = e.index[string(k)] // pending (-1) when the table has no such row
		}
		e.match(int32(i), t)
	}
	return nil
}

// build assembles the widened batch from sIdx/tIdx. When every event is
// kept once, in order, the stream columns are b's own (no copy).
func (e *Enricher) build(b *types.Batch) *types.Batch {
	ns := e.j.ns
	e.out.N = len(e.sIdx)
	e.out.Arrival = b.Arrival
	e.out.Cols = e.out.Cols[:0]
	identity := len(e.sIdx) == b.N
	if identity {
		for k, i := range e.sIdx {
			if int(i) != k {
				identity = false
				break
			}
		}
	}
	if identity {
		e.out.Cols = append(e.out.Cols, b.Cols[:ns]...)
	} else {
		if len(e.sCols) != ns {
			e.sCols = make([]types.Column, ns)
		}
		for c := 0; c < ns; c++ {
			e.sCols[c].T = b.Cols[c].T
			gather(&e.sCols[c], &b.Cols[c], e.sIdx)
		}
		e.out.Cols = append(e.out.Cols, e.sCols...)
	}
	for c := range e.tCols {
		gather(&e.tCols[c], &e.tab.Cols[c], e.tIdx)
	}
	e.out.Cols = append(e.out.Cols, e.tCols...)
	return &e.out
}

// gather sets dst (of src's type) to src's rows idx, in order; -1 is NULL.
func gather(dst, src *types.Column, idx []int32) {
	t := src.T
	dst.Nulls = dst.Nulls[:0]
	hasNull := false
	for _, i := range idx {
		if i < 0 || src.IsNull(int(i)) {
			hasNull = true
			break
		}
	}
	if hasNull {
		for _, i := range idx {
			dst.Nulls = append(dst.Nulls, i < 0 || src.IsNull(int(i)))
		}
	} else {
		dst.Nulls = nil
	}
	switch {
	case t.UsesBytes():
		dst.Bytes = dst.Bytes[:0]
		dst.Offs = append(dst.Offs[:0], 0)
		for _, i := range idx {
			if i >= 0 {
				dst.Bytes = append(dst.Bytes, src.StrBytes(int(i))...)
			}
			dst.Offs = append(dst.Offs, uint32(len(dst.Bytes)))
		}
	case t == types.Interval:
		dst.Iv = dst.Iv[:0]
		for _, i := range idx {
			var x types.IntervalValue
			if i >= 0 {
				x = src.Iv[i]
			}
			dst.Iv = append(dst.Iv, x)
		}
	case t.IsFloat():
		dst.F = dst.F[:0]
		for _, i := range idx {
			var x float64
			if i >= 0 {
				x = src.F[i]
			}
			dst.F = append(dst.F, x)
		}
	default:
		dst.I = dst.I[:0]
		for _, i := range idx {
			var x int64
			if i >= 0 {
				x = src.I[i]
			}
			dst.I = append(dst.I, x)
		}
	}
}

// MemKeyed is an in-memory table keyed by a primary key: a KeyedSource
// (and Versioned) for tests and benchmarks of enrichment views. Put
// replaces the row with the same key. It is safe for concurrent use.
type MemKeyed struct {
	cols []Column
	key  []int
	mu   sync.Mutex
	rows map[string][]types.Datum // encoded key → row
	ver  uint64
}

// NewMemKeyed returns an empty table with the given columns and primary key.
func NewMemKeyed(cols []Column, key []int) *MemKeyed {
	return &MemKeyed{cols: cols, key: key, rows: map[string][]types.Datum{}}
}

func (m *MemKeyed) encode(row []types.Datum) string {
	var k []byte
	for _, c := range m.key {
		k = scalar.AppendKey(k, row[c])
	}
	return string(k)
}

// Put inserts or replaces a row (one datum per column, of its type).
func (m *MemKeyed) Put(row []types.Datum) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rows[m.encode(row)] = slices.Clone(row)
	m.ver++
}

// Delete removes the row with row's key.
func (m *MemKeyed) Delete(row []types.Datum) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rows, m.encode(row))
	m.ver++
}

// Columns implements Source.
func (m *MemKeyed) Columns() []Column { return m.cols }

// KeyColumns implements KeyedSource.
func (m *MemKeyed) KeyColumns() []int { return m.key }

// Version implements Versioned.
func (m *MemKeyed) Version(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ver, nil
}

func (m *MemKeyed) batch(rows [][]types.Datum) *types.Batch {
	ts := make([]types.T, len(m.cols))
	for i, c := range m.cols {
		ts[i] = c.T
	}
	b := types.NewBatch(ts)
	for _, r := range rows {
		b.AppendRow(r)
	}
	return b
}

// Scan implements Source: one batch of every row, in key order.
func (m *MemKeyed) Scan(_ context.Context, fn func(b *types.Batch) error) error {
	m.mu.Lock()
	keys := make([]string, 0, len(m.rows))
	for k := range m.rows {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	rows := make([][]types.Datum, len(keys))
	for i, k := range keys {
		rows[i] = m.rows[k]
	}
	m.mu.Unlock()
	return fn(m.batch(rows))
}

// ScanKeys implements KeyedSource.
func (m *MemKeyed) ScanKeys(_ context.Context, keys [][]types.Datum, fn func(b *types.Batch) error) error {
	m.mu.Lock()
	var rows [][]types.Datum
	var k []byte
	for _, key := range keys {
		k = k[:0]
		for _, d := range key {
			k = scalar.AppendKey(k, d)
		}
		if r, ok := m.rows[string(k)]; ok {
			rows = append(rows, r)
		}
	}
	m.mu.Unlock()
	return fn(m.batch(rows))
}
