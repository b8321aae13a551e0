package exec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/cairndb/cairn/internal/catalog"
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
	using  []string // USING's columns: a bare name of one is the stream's
}

// viewJoin is the enrichment stage of a view plan. The widened batch is
// the stream's ns columns followed by tcols.
type viewJoin struct {
	table string
	left  bool
	ns    int
	scols []Column // the stream's columns
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
	// streams is set when the right side is a stream too: a windowed
	// stream–stream join (viewjoin_streams.go).
	streams *streamJoin
}

// JoinTableName returns the table an enrichment view reads, or "" for a
// view without a join.
func (v *ViewPlan) JoinTableName() string {
	if v.join == nil || v.join.streams != nil {
		return ""
	}
	return v.join.table
}

// JoinPointLookups reports whether an enrichment view looks the table up
// by primary key (true) or scans and hashes it (false).
func (v *ViewPlan) JoinPointLookups() bool { return v.join != nil && v.join.point }

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
	return planJoin(sel, spec, stream, tbl, opts, false)
}

// planJoin plans a join view; with streams, tbl is the right-hand stream
// (no key) and ON must also bound the two sides' times (viewjoin_streams.go).
func planJoin(sel *parser.Select, spec ViewJoinSpec, stream []Column, tbl JoinTable, opts ViewOptions, streams bool) (*ViewPlan, error) {
	if err := refuseOlapInView(sel); err != nil {
		return nil, err
	}
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
	// A table column's name in the widened row: its own, or qual.name
	// when the stream has a column of that name (reachable only through
	// the rewrite below, which resolves the qualified name; shown in
	// messages in that form).
	tname := func(ti int) string {
		if colIndex(stream, tbl.Cols[ti].Name) >= 0 {
			return tqual + "." + tbl.Cols[ti].Name
		}
		return tbl.Cols[ti].Name
	}
	seen := 0
	used := make([]bool, len(tbl.Cols)) // table columns the view reads
	// lookupSide finds the column r names: on the stream (sideStream,
	// index in stream) or the table (sideTable, index in tbl.Cols); side
	// 0 when neither has it (arrival_timestamp, an output alias, or an
	// error the compiler reports).
	lookupSide := func(r *parser.ColumnRef) (side, idx int, err error) {
		si, ti := colIndex(stream, r.Name), colIndex(tbl.Cols, r.Name)
		switch r.Table {
		case "":
			if si >= 0 && ti >= 0 && slices.Contains(spec.using, r.Name) {
				ti = -1
			}
			if si >= 0 && ti >= 0 {
				return 0, 0, pgerr.AmbiguousColumnRef.New(r.Name).WithPos(r.P)
			}
		case squal:
			ti = -1
		case tqual:
			if ti < 0 {
				return 0, 0, pgerr.QualifiedColumnNotFound.New(tqual, r.Name).WithPos(r.P)
			}
			si = -1
		default:
			return 0, 0, nil
		}
		switch {
		case si >= 0:
			return sideStream, si, nil
		case ti >= 0:
			return sideTable, ti, nil
		}
		return 0, 0, nil
	}
	resolve := func(r *parser.ColumnRef) (parser.Expr, error) {
		side, idx, err := lookupSide(r)
		switch {
		case err != nil:
			return nil, err
		case side == sideStream:
			seen |= sideStream
			return &parser.ColumnRef{P: r.P, Name: r.Name}, nil
		case side == sideTable:
			seen |= sideTable
			used[idx] = true
			return &parser.ColumnRef{P: r.P, Name: tname(idx)}, nil
		}
		return r, nil
	}
	rw := func(e parser.Expr) (parser.Expr, error) { return rewriteExpr(e, resolve) }
	for _, c := range spec.using {
		side := "left"
		if colIndex(stream, c) >= 0 {
			if colIndex(tbl.Cols, c) >= 0 {
				continue
			}
			side = "right"
		}
		return nil, pgerr.ViewJoinUsingMissing.New(c, side).WithPos(spec.P)
	}

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
	if spec.On == nil {
		return nil, pgerr.ViewJoinNoEquality.New().WithPos(spec.P)
	}
	type conjunct struct {
		orig, rc parser.Expr
		s, t     parser.Expr // an equality's stream side and table column; nil otherwise
	}
	var conj []conjunct
	for _, c := range splitAnd(spec.On, nil) {
		cj := conjunct{orig: c}
		if cj.rc, err = rw(c); err != nil {
			return nil, err
		}
		if b, ok := c.(*parser.Binary); ok && b.Op == "=" {
			seen = 0
			l, _ := rw(b.L)
			ls := seen
			seen = 0
			r, _ := rw(b.R)
			rs := seen
			if ls == sideTable && rs == sideStream {
				l, r, ls, rs = r, l, rs, ls
			}
			if _, col := r.(*parser.ColumnRef); col && ls == sideStream && rs == sideTable {
				cj.s, cj.t = l, r
			}
		}
		conj = append(conj, cj)
	}

	// The widened row: the stream's columns, then the table columns the
	// view reads (the others are not copied).
	wide := slices.Clone(stream)
	var tcols []Column
	for ti, c := range tbl.Cols {
		if used[ti] {
			if colIndex(wide, tname(ti)) >= 0 {
				return nil, pgerr.ViewJoinShape.New().WithPos(spec.Table.P)
			}
			wide = append(wide, Column{Name: tname(ti), T: c.T})
			tcols = append(tcols, c)
		}
	}
	in := &scalar.Compiler{Cols: wide, Quals: []string{squal}, NoAgg: "JOIN conditions", Virtual: arrivalColumn}
	j := &viewJoin{table: tbl.Name, left: spec.Left, ns: ns, scols: slices.Clone(stream), tcols: tcols}
	var residual []parser.Expr
	var bound *streamJoin
	if streams {
		bound = &streamJoin{}
	}
	for _, c := range conj {
		if _, err := in.Compile(c.rc); err != nil {
			return nil, err // type errors as PostgreSQL gives them (42883 ...)
		}
		if bound != nil {
			if ok, err := bound.add(c.orig, timeColumns(lookupSide, stream, tbl.Cols)); err != nil {
				return nil, err
			} else if ok {
				continue
			}
		}
		if c.s != nil {
			if ok, err := j.addEquality(in, c.orig.(*parser.Binary), c.s, c.t); err != nil {
				return nil, err
			} else if ok {
				continue
			}
		}
		if spec.Left {
			return nil, pgerr.ViewJoinLeftOn.New().WithPos(c.orig.Pos())
		}
		residual = append(residual, c.rc)
	}
	if len(j.skeys) == 0 {
		return nil, pgerr.ViewJoinNoEquality.New().WithPos(spec.On.Pos())
	}
	if bound != nil {
		if err := bound.finish(spec, stream, tbl.Cols, opts); err != nil {
			return nil, err
		}
		opts = withoutLateness(opts)
	}
	for _, r := range residual {
		if out.Where == nil {
			out.Where = r
		} else {
			out.Where = &parser.Binary{P: r.Pos(), Op: "AND", L: out.Where, R: r}
		}
	}
	var key []int // the primary key as indices into tcols; nil if not all read
	for _, k := range tbl.Key {
		at := colIndex(tcols, tbl.Cols[k].Name)
		if at < 0 {
			key = nil
			break
		}
		key = append(key, at)
	}
	if bound == nil {
		j.planPoint(key)
	}
	j.streams = bound
	v, err := PlanViewWith(&out, wide, opts)
	if err != nil {
		return nil, err
	}
	v.join = j
	return v, nil
}

// addEquality records b (`s = t`: a stream expression and a table
// column, already rewritten) as a lookup equality.
func (j *viewJoin) addEquality(in *scalar.Compiler, b *parser.Binary, s, t parser.Expr) (bool, error) {
	sn, err := in.Compile(s)
	if err != nil {
		return false, err
	}
	tn, err := in.Compile(t)
	if err != nil {
		return false, err
	}
	if sn.Volatile {
		return false, nil
	}
	if sn.T != tn.T && !(sn.T.IsInt() && tn.T.IsInt()) {
		return false, pgerr.ViewJoinKeyType.New(parser.FormatExpr(b.L), parser.FormatExpr(b.R), sn.T.String(), tn.T.String()).
			WithHint("Cast one side so both have the same type, e.g. %s::%s.", parser.FormatExpr(s), tn.T.String()).WithPos(b.P)
	}
	j.skeys = append(j.skeys, sn)
	j.tcol = append(j.tcol, tn.Col-j.ns)
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
// indexes). An Enricher keeps what it read from the table only while
// the version stays the same.
type Versioned interface {
	Version(ctx context.Context) (uint64, error)
}

// maxCachedRows bounds the table rows a point-lookup Enricher keeps
// between rounds; past it the cache starts over.
var maxCachedRows = 1 << 20 // a var: tests lower it

// Row markers in the key indexes: a key known to have no table row, and
// (below pendingBase) a key looked up in this batch, by slot.
const (
	rowMissing  = -2
	pendingBase = -3
)

// Enricher widens stream batches with the table rows they join, for one
// view task. It is not safe for concurrent use.
//
// In point mode it caches the rows it looked up (and the keys found
// missing) until the table's version changes (Versioned), or for one
// task round when the source has no version; a batch's keys not in the
// cache are read with one ScanKeys. In hash mode it holds the whole
// table, hashed on the join columns, re-read when the version changes
// (or every round).
type Enricher struct {
	j      *viewJoin
	src    KeyedSource
	colMap []int // planned table column → src column
	// intKey: one equality, a plain stream column against an
	// integer-like table column: keys are the int64s themselves.
	intKey bool
	tab    *types.Batch     // table rows read (point: the cache; hash: the table)
	index  map[string]int32 // encoded join key → row in tab (hash: first of its chain)
	iindex map[int64]int32  // index when intKey
	next   []int32          // hash mode: next row of tab with the same key; -1 ends
	loaded bool             // tab is valid for version
	// Point mode: the ScanKeys calls since the cache started over, and
	// whether the cache holds the whole table (after loadAll: a key not
	// in it has no row). noFullScan: the table proved too large to load.
	calls      int
	complete   bool
	noFullScan bool
	version    uint64

	keyBuf  []byte
	lookups [][]types.Datum // this batch's keys to read (point mode)
	slotRow []int32         // per lookup: its row in tab, or rowMissing
	slotKey []string        // per lookup: its encoded key (not intKey)
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
	if j == nil || j.streams != nil {
		return nil, nil
	}
	cols := src.Columns()
	e := &Enricher{j: j, src: src, index: map[string]int32{}, iindex: map[int64]int32{}}
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
	if len(j.skeys) == 1 && j.skeys[0].Col >= 0 {
		st, tt := j.skeys[0].T, j.tcols[j.tcol[0]].T
		e.intKey = tt.UsesI() && (st == tt || (st.IsInt() && tt.IsInt()))
	}
	e.tab = types.NewBatch(ts)
	e.tCols = make([]types.Column, len(ts))
	for i, t := range ts {
		e.tCols[i] = types.NewBatch([]types.T{t}).Cols[0]
	}
	return e, nil
}

func (e *Enricher) reset() {
	e.calls, e.complete = 0, false
	e.tab.Reset()
	clear(e.index)
	clear(e.iindex)
	e.next = e.next[:0]
	e.loaded = false
}

// Refresh starts a task round: what the enricher read from the table is
// kept only if the table's version did not change (a source without a
// version is read afresh every round). So every event joins the table as
// it was at the latest when its round began.
func (e *Enricher) Refresh(ctx context.Context) error {
	if vs, ok := e.src.(Versioned); ok {
		ver, err := vs.Version(ctx)
		if err != nil {
			return err
		}
		if e.loaded && ver == e.version && e.tab.N <= maxCachedRows {
			return nil
		}
		e.reset()
		e.version = ver
	} else {
		e.reset()
	}
	if e.j.point {
		e.loaded = true // the cache starts empty and fills per batch
		return nil
	}
	err := e.src.Scan(ctx, func(b *types.Batch) error {
		for i := 0; i < b.N; i++ {
			if !e.tableKey(b, i) {
				continue // NULL never equals anything
			}
			if e.tab.N >= maxCachedRows {
				return pgerr.ViewJoinTableTooLarge.New(e.j.table, maxCachedRows)
			}
			r := int32(e.tab.N)
			e.appendTableRow(b, i)
			if e.intKey {
				head, ok := e.iindex[e.kd[0].I]
				if !ok {
					head = -1
				}
				e.next = append(e.next, head)
				e.iindex[e.kd[0].I] = r
				continue
			}
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
		e.reset()
		return err
	}
	e.loaded = true
	return nil
}

// tableKey encodes the join key of row i of a table batch (src's
// columns) into e.keyBuf, and e.kd; false if a part is NULL.
func (e *Enricher) tableKey(b *types.Batch, i int) bool {
	e.keyBuf, e.kd = e.keyBuf[:0], e.kd[:0]
	for _, tc := range e.j.tcol {
		c := &b.Cols[e.colMap[tc]]
		if c.IsNull(i) {
			return false
		}
		d := scalar.BatchDatum(c, i)
		e.kd = append(e.kd, d)
		e.keyBuf = scalar.AppendKey(e.keyBuf, d)
	}
	return true
}

func (e *Enricher) appendTableRow(b *types.Batch, i int) {
	n := e.tab.N
	for k, at := range e.colMap {
		e.tab.Cols[k].AppendDatum(n, b.Cols[at].Datum(i))
	}
	e.tab.N++
}

// streamKey encodes row i's join key (the stream side of each equality,
// converted to the table column's type) into e.keyBuf and e.kd; ok is
// false when no table row can match (a NULL, or an integer outside the
// column's range).
func (e *Enricher) streamKey(ec *Ctx, b *types.Batch, i int) (ok bool, err error) {
	e.keyBuf = e.keyBuf[:0]
	e.kd = e.kd[:0]
	in := scalar.BatchInput(b, i)
	for k, n := range e.j.skeys {
		var d types.Datum
		if n.Col >= 0 {
			d = scalar.BatchDatum(&b.Cols[n.Col], i)
		} else if d, err = n.Fn(ec, in); err != nil {
			return false, nil // a key that cannot be computed joins no row
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
		e.kd = append(e.kd, d)
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
	if !e.loaded {
		if err := e.Refresh(ctx); err != nil {
			return nil, err
		}
	}
	// First pass: each row's row in tab, or its pending lookup. When
	// fetching the pending keys rebuilt the cache (loadAll), the rows
	// found in the old one are numbered differently: probe again (at most
	// twice: the rebuilt cache holds the whole table, or lookups resume).
	for pass := 0; ; pass++ {
		e.sIdx, e.tIdx = e.sIdx[:0], e.tIdx[:0]
		e.lookups, e.slotRow, e.slotKey = e.lookups[:0], e.slotRow[:0], e.slotKey[:0]
		for i := 0; i < b.N; i++ {
			t, err := e.probe(ec, b, i)
			if err != nil {
				return nil, err
			}
			e.sIdx, e.tIdx = append(e.sIdx, int32(i)), append(e.tIdx, t)
		}
		if len(e.lookups) == 0 {
			break
		}
		rebuilt, err := e.fetch(ctx, pass < 2)
		if err != nil {
			return nil, err
		}
		if !rebuilt {
			break
		}
	}
	// Second pass: resolve pending rows, drop or repeat rows.
	sIdx, tIdx := e.sIdx, e.tIdx
	ident := true
	for _, t := range tIdx {
		if t < 0 || (!e.j.point && e.next[t] >= 0) {
			ident = false
			break
		}
	}
	if !ident {
		n := len(sIdx)
		for k := 0; k < n; k++ {
			i, t := sIdx[k], tIdx[k]
			if t <= pendingBase {
				t = e.slotRow[pendingBase-t]
			}
			if t < 0 {
				if e.j.left {
					sIdx, tIdx = append(sIdx, i), append(tIdx, -1)
				}
				continue
			}
			for ; t >= 0; t = e.nextOf(t) {
				sIdx, tIdx = append(sIdx, i), append(tIdx, t)
			}
		}
		e.sIdx, e.tIdx = sIdx, tIdx // keep the grown buffers
		sIdx, tIdx = sIdx[n:], tIdx[n:]
	}
	return e.build(b, sIdx, tIdx), nil
}

// probe returns row i's first row in tab, -1 for none, or (point mode) a
// pending lookup slot below pendingBase, adding the key to e.lookups.
func (e *Enricher) probe(ec *Ctx, b *types.Batch, i int) (int32, error) {
	if e.intKey {
		c := &b.Cols[e.j.skeys[0].Col]
		if c.IsNull(i) {
			return -1, nil
		}
		v := c.I[i]
		tt := e.j.tcols[e.j.tcol[0]].T
		if !fitsInt(v, tt) {
			return -1, nil
		}
		r, ok := e.iindex[v]
		switch {
		case ok && r == rowMissing:
			return -1, nil
		case ok:
			return r, nil
		case !e.j.point || e.complete:
			return -1, nil
		}
		r = pendingBase - int32(len(e.lookups))
		e.iindex[v] = r
		e.lookups = append(e.lookups, []types.Datum{types.NewInt(tt, v)})
		e.slotRow = append(e.slotRow, rowMissing)
		return r, nil
	}
	ok, err := e.streamKey(ec, b, i)
	if err != nil || !ok {
		return -1, err
	}
	r, ok := e.index[string(e.keyBuf)]
	switch {
	case ok && r == rowMissing:
		return -1, nil
	case ok:
		return r, nil
	case !e.j.point || e.complete:
		return -1, nil
	}
	r = pendingBase - int32(len(e.lookups))
	k := string(e.keyBuf)
	e.index[k] = r
	kd := slices.Clone(e.kd)
	for x := range kd {
		if kd[x].T.UsesBytes() {
			kd[x].S = strings.Clone(kd[x].S) // outlives the batch
		}
	}
	e.lookups = append(e.lookups, kd)
	e.slotRow = append(e.slotRow, rowMissing)
	e.slotKey = append(e.slotKey, k)
	return r, nil
}

// fullScanAfter is how many ScanKeys calls a point-mode cache makes
// before it reads the whole table instead: a small table whose keys the
// stream names over and over costs one scan per round, not a lookup per
// batch.
const fullScanAfter = 3

// fetch resolves this batch's pending keys by one ScanKeys; or, after
// fullScanAfter of them since the cache started over (and if mayLoad),
// it rebuilds the cache from the whole table instead and reports that
// the batch must be probed again (row numbers changed). A table larger
// than maxCachedRows is never loaded again: lookups resume.
func (e *Enricher) fetch(ctx context.Context, mayLoad bool) (rebuilt bool, err error) {
	if e.calls < fullScanAfter || e.noFullScan || !mayLoad {
		e.calls++
		return false, e.lookup(ctx)
	}
	if err := e.loadAll(ctx); err != nil {
		return false, err
	}
	return true, nil
}

// errTooLarge stops loadAll's scan of a table past maxCachedRows.
var errTooLarge = errors.New("table too large to cache")

// loadAll replaces the point-mode cache by the whole table.
func (e *Enricher) loadAll(ctx context.Context) error {
	e.tab.Reset()
	clear(e.index)
	clear(e.iindex)
	err := e.src.Scan(ctx, func(b *types.Batch) error {
		for i := 0; i < b.N; i++ {
			if !e.tableKey(b, i) {
				continue
			}
			if e.tab.N >= maxCachedRows {
				return errTooLarge
			}
			r := int32(e.tab.N)
			e.appendTableRow(b, i)
			if e.intKey {
				e.iindex[e.kd[0].I] = r
			} else {
				e.index[string(e.keyBuf)] = r
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errTooLarge):
		e.reset()
		e.loaded = true // an empty cache for this round, filled by lookups
		e.noFullScan = true
		return nil
	case err != nil:
		e.reset()
		return err
	}
	e.complete = true
	return nil
}

// lookup reads the pending keys' rows with one ScanKeys and records them
// (and the keys found missing) in the cache.
func (e *Enricher) lookup(ctx context.Context) error {
	err := e.src.ScanKeys(ctx, e.lookups, func(tb *types.Batch) error {
		for i := 0; i < tb.N; i++ {
			if !e.tableKey(tb, i) {
				continue
			}
			var r int32
			var ok bool
			if e.intKey {
				r, ok = e.iindex[e.kd[0].I]
			} else {
				r, ok = e.index[string(e.keyBuf)]
			}
			if !ok || r > pendingBase {
				continue // not asked for, or already read
			}
			row := int32(e.tab.N)
			e.appendTableRow(tb, i)
			e.slotRow[pendingBase-r] = row
			if e.intKey {
				e.iindex[e.kd[0].I] = row
			} else {
				e.index[string(e.keyBuf)] = row
			}
		}
		return nil
	})
	if err != nil {
		e.reset() // the cache holds pending markers
		return err
	}
	for slot, row := range e.slotRow {
		if row != rowMissing {
			continue
		}
		if e.intKey {
			e.iindex[e.lookups[slot][0].I] = rowMissing
		} else {
			e.index[e.slotKey[slot]] = rowMissing
		}
	}
	return nil
}

func (e *Enricher) nextOf(t int32) int32 {
	if e.j.point {
		return -1
	}
	return e.next[t]
}

// build assembles the widened batch from sIdx/tIdx. When every event is
// kept once, in order, the stream columns are b's own (no copy).
func (e *Enricher) build(b *types.Batch, sIdx, tIdx []int32) *types.Batch {
	ns := e.j.ns
	e.out.N = len(sIdx)
	e.out.Arrival = b.Arrival
	e.out.Cols = e.out.Cols[:0]
	identity := len(sIdx) == b.N
	if identity {
		for k, i := range sIdx {
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
			gather(&e.sCols[c], &b.Cols[c], sIdx)
		}
		e.out.Cols = append(e.out.Cols, e.sCols...)
	}
	for c := range e.tCols {
		gather(&e.tCols[c], &e.tab.Cols[c], tIdx)
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

// ViewJoinFrom reads a view's FROM as a join: ok is false when FROM is
// not a join. The left item must be a stream (a name, or tumble()/hop()
// over one), the right one a plain name (a table, or a stream for a
// windowed stream–stream join: the caller knows which); INNER and LEFT
// joins with ON or USING. Other shapes are refused with 0A000.
func ViewJoinFrom(sel *parser.Select) (spec ViewJoinSpec, ok bool, err error) {
	f := sel.From
	if f == nil || f.Join == nil {
		return spec, false, nil
	}
	j := f.Join
	switch {
	case j.Kind != parser.JoinInner && j.Kind != parser.JoinLeft:
		e := pgerr.ViewJoinKind.New(strings.TrimSuffix(j.Kind.String(), " JOIN")).WithPos(f.P)
		if j.Comma {
			e = e.WithHint("A comma in FROM is a CROSS JOIN; write FROM stream s JOIN table t ON s.col = t.col.")
		}
		return spec, true, e
	case j.Left.Join != nil || j.Right.Join != nil:
		return spec, true, pgerr.ViewJoinMany.New().WithPos(f.P)
	case j.Natural:
		return spec, true, pgerr.ViewJoinKind.New("NATURAL").WithHint("Name the columns: JOIN t USING (col) or JOIN t ON s.col = t.col.").WithPos(f.P)
	case j.Left.Subquery != nil || j.Right.Subquery != nil:
		return spec, true, pgerr.ViewFromSubquery.New().WithPos(f.P)
	case len(j.Left.ColAliases) > 0 || len(j.Right.ColAliases) > 0 || f.Alias != "":
		return spec, true, pgerr.ViewUnsupported.New("an alias of a join or a column alias list in FROM").WithPos(f.P)
	case j.Right.Func != nil:
		return spec, true, pgerr.ViewJoinShape.New().WithPos(j.Right.P)
	}
	spec = ViewJoinSpec{P: f.P, Stream: j.Left, Table: j.Right, Left: j.Kind == parser.JoinLeft, On: j.On}
	if len(j.Using) > 0 {
		// USING (c) is ON s.c = t.c; a bare c then names the stream's c
		// (equal to the table's, or the only one in a LEFT JOIN).
		lq, _ := ViewSource(&parser.Select{From: j.Left})
		if j.Left.Alias != "" {
			lq = j.Left.Alias
		}
		rq := j.Right.Name
		if j.Right.Alias != "" {
			rq = j.Right.Alias
		}
		for i, c := range j.Using {
			p := f.P
			if i < len(j.UsingPos) {
				p = j.UsingPos[i]
			}
			eq := &parser.Binary{P: p, Op: "=", L: &parser.ColumnRef{P: p, Table: lq, Name: c}, R: &parser.ColumnRef{P: p, Table: rq, Name: c}}
			if spec.On == nil {
				spec.On = eq
			} else {
				spec.On = &parser.Binary{P: p, Op: "AND", L: spec.On, R: eq}
			}
		}
		spec.using = j.Using
	}
	return spec, true, nil
}

// PlanStoredJoinView re-plans a view that joins its stream s to a table
// (v.Tables[0]) or to a second stream (v.JoinStream) from the catalog:
// its query and the table's (or stream's) columns as recorded when it was
// created.
func PlanStoredJoinView(v *catalog.View, s *catalog.Stream) (*ViewPlan, error) {
	sel, err := parseSelect(v.Query)
	if err != nil {
		return nil, err
	}
	spec, ok, err := ViewJoinFrom(sel)
	if err != nil {
		return nil, err
	}
	cols := make([]Column, len(v.JoinCols))
	for i, c := range v.JoinCols {
		cols[i] = Column{Name: c.Name, T: c.T}
	}
	if ok && v.JoinStream != "" && len(v.Tables) == 0 {
		// Two streams: JoinCols are the right stream's columns as planned.
		return PlanViewStreamJoin(sel, spec, StreamColumns(s), cols, v.Options)
	}
	if !ok || len(v.Tables) != 1 {
		return nil, fmt.Errorf("view %q: stored query is not a join of its stream and one table", v.Name)
	}
	return PlanViewJoin(sel, spec, StreamColumns(s), JoinTable{Name: v.Tables[0], Cols: cols, Key: v.JoinKey}, v.Options)
}
