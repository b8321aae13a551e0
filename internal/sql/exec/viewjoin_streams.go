package exec

import (
	"context"
	"errors"
	"math"
	"slices"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Windowed stream–stream joins in continuous views.
//
// `SELECT a.k, count(*) FROM a JOIN b ON a.k = b.k AND b.ts BETWEEN a.ts
// AND a.ts + interval '5 minutes' GROUP BY a.k` folds every pair of rows
// with equal keys whose times satisfy the bound. The view task reads the
// shards of a, then those of b (its offsets cover both streams); a
// StreamJoiner keeps, per side, the rows that may still pair with rows
// the other side has yet to deliver, and turns each batch into the batch
// of pairs it completes: a row joins the other side's rows read before
// it (in a round, a's rows come before b's), so each pair is produced
// once, by whichever of its rows is read last.
//
// The buffers are not replicated: they are a function of the view's
// committed offsets. A task that starts (or whose round was not
// committed) rebuilds them by re-reading the retained history of both
// streams up to those offsets, so a restarted task pairs new rows with
// exactly the rows the old task would have, and no pair is folded twice.
//
// State is bounded by the other side's progress: a row of a is dropped
// once a.t + hi + lateness is behind the newest time read on b (no b row
// at most `lateness` late can pair with it any more), and a row of b once
// b.t - lo + lateness is behind the newest time read on a. The result is
// exact for rows at most `lateness` (WITH (lateness = ...), default one
// minute) behind the newest row of their stream; a later row may miss
// partners already dropped.

// defaultJoinLateness is how far behind its stream's newest row a row
// may be and still find every partner.
const defaultJoinLateness = int64(60e6)

// streamJoin is the time bound of a stream–stream join: lo <= b.t - a.t
// <= hi (microseconds), over the time columns aTime (a stream column) and
// bTime (a column of the right-hand stream, by name).
type streamJoin struct {
	aTime, bTime   int // -1 until found
	bTimeName      string
	lo, hi         int64
	haveLo, haveHi bool
	lateness       int64
	found          bool
	aTimeSet       bool
	pos            int
}

// timeColumns narrows lookup to the timestamp columns: only they bound
// a join's times (other comparisons are filters).
func timeColumns(lookup func(*parser.ColumnRef) (int, int, error), a, b []Column) func(*parser.ColumnRef) (int, int, error) {
	return func(r *parser.ColumnRef) (int, int, error) {
		side, idx, err := lookup(r)
		if err != nil || side == 0 {
			return side, idx, err
		}
		t := a[idx].T
		if side == sideTable {
			t = b[idx].T
		}
		if t != types.TimestampTZ && t != types.Timestamp {
			return 0, 0, nil
		}
		return side, idx, nil
	}
}

// boundTerm is `column [± constant interval]`.
type boundTerm struct {
	side, idx int
	off       int64
}

func fixedMicros(e parser.Expr) (int64, bool, error) {
	c := &scalar.Compiler{}
	n, err := c.Compile(e)
	if err != nil || n.T != types.Interval {
		return 0, false, nil
	}
	d, err := n.Fn(&Ctx{}, scalar.Input{})
	if err != nil || d.Null {
		return 0, false, nil
	}
	if d.Iv.Months != 0 {
		return 0, false, pgerr.WindowFixedLength.New("the join's time bound").WithPos(e.Pos())
	}
	return int64(d.Iv.Days)*86400e6 + d.Iv.Micros, true, nil
}

func term(e parser.Expr, lookup func(*parser.ColumnRef) (int, int, error)) (boundTerm, bool, error) {
	switch x := e.(type) {
	case *parser.ColumnRef:
		side, idx, err := lookup(x)
		if err != nil || side == 0 {
			return boundTerm{}, false, err
		}
		return boundTerm{side: side, idx: idx}, true, nil
	case *parser.Binary:
		if x.Op != "+" && x.Op != "-" {
			return boundTerm{}, false, nil
		}
		col, cst := x.L, x.R
		if _, ok := x.L.(*parser.ColumnRef); !ok && x.Op == "+" {
			col, cst = x.R, x.L
		}
		t, ok, err := term(col, lookup)
		if !ok || err != nil || t.off != 0 {
			return boundTerm{}, false, err
		}
		us, ok, err := fixedMicros(cst)
		if !ok || err != nil {
			return boundTerm{}, false, err
		}
		if x.Op == "-" {
			us = -us
		}
		t.off = us
		return t, true, nil
	}
	return boundTerm{}, false, nil
}

// add takes conjunct c as (part of) the time bound if it compares a time
// of one stream with a time of the other: `p op q` or `x BETWEEN lo AND
// hi`.
func (sj *streamJoin) add(c parser.Expr, lookup func(*parser.ColumnRef) (int, int, error)) (bool, error) {
	type cmp struct {
		l, r parser.Expr
		op   string
	}
	var cs []cmp
	switch x := c.(type) {
	case *parser.Between:
		if x.Not {
			return false, nil
		}
		cs = []cmp{{x.X, x.Lo, ">="}, {x.X, x.Hi, "<="}}
	case *parser.Binary:
		switch x.Op {
		case "<", "<=", ">", ">=":
			cs = []cmp{{x.L, x.R, x.Op}}
		default:
			return false, nil
		}
	default:
		return false, nil
	}
	type rel struct {
		op string
		c  int64
	}
	var rels []rel
	for _, k := range cs {
		p, ok1, err := term(k.l, lookup)
		if err != nil {
			return false, err
		}
		q, ok2, err := term(k.r, lookup)
		if err != nil {
			return false, err
		}
		if !ok1 || !ok2 || p.side == q.side {
			return false, nil
		}
		op := k.op
		if p.side == sideStream { // a + p.off op b + q.off  ⇔  b + q.off rev(op) a + p.off
			p, q = q, p
			op = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
		}
		// b + p.off op a + q.off  ⇔  b - a op q.off - p.off
		if err := sj.setTimes(q.idx, p.idx, c); err != nil {
			return false, err
		}
		rels = append(rels, rel{op, q.off - p.off})
	}
	for _, r := range rels {
		switch r.op {
		case ">=", ">":
			lo := r.c
			if r.op == ">" {
				lo++
			}
			if !sj.haveLo || lo > sj.lo {
				sj.lo, sj.haveLo = lo, true
			}
		default:
			hi := r.c
			if r.op == "<" {
				hi--
			}
			if !sj.haveHi || hi < sj.hi {
				sj.hi, sj.haveHi = hi, true
			}
		}
	}
	sj.found = true
	return true, nil
}

func (sj *streamJoin) setTimes(a, b int, c parser.Expr) error {
	if sj.aTimeSet && (sj.aTime != a || sj.bTime != b) {
		return pgerr.ViewJoinBound.New().WithDetail("The bound compares more than one pair of time columns.").WithPos(c.Pos())
	}
	sj.aTime, sj.bTime, sj.aTimeSet, sj.pos = a, b, true, c.Pos()
	return nil
}

// finish checks the bound is two-sided and reads the lateness option.
func (sj *streamJoin) finish(spec ViewJoinSpec, a, b []Column, opts ViewOptions) error {
	pos := spec.P
	if spec.On != nil {
		pos = spec.On.Pos()
	}
	if spec.Left {
		return pgerr.ViewJoinKind.New("LEFT").WithHint("Between two streams a continuous view supports an inner JOIN.").WithPos(spec.P)
	}
	if !sj.found || !sj.haveLo || !sj.haveHi {
		return pgerr.ViewJoinBound.New().WithPos(pos)
	}
	ta, tb := a[sj.aTime].T, b[sj.bTime].T
	if (ta != types.TimestampTZ && ta != types.Timestamp) || ta != tb {
		return pgerr.ViewJoinBound.New().WithDetail("The bound compares %s with %s; both must be timestamptz, or both timestamp.", ta, tb).WithPos(sj.pos)
	}
	if sj.lo > sj.hi {
		return pgerr.ViewJoinEmptyBound.New().WithPos(sj.pos)
	}
	sj.bTimeName = b[sj.bTime].Name
	sj.lateness = defaultJoinLateness
	if l, ok := opts["lateness"]; ok {
		us, err := optionMicros("lateness", l)
		if err != nil {
			return err
		}
		sj.lateness = us
	}
	return nil
}

func withoutLateness(opts ViewOptions) ViewOptions {
	if _, ok := opts["lateness"]; !ok {
		return opts
	}
	out := ViewOptions{}
	for k, v := range opts {
		if k != "lateness" {
			out[k] = v
		}
	}
	return out
}

// PlanViewStreamJoin plans a continuous view joining stream a (spec.Stream,
// columns aCols) to stream b (spec.Table, columns bCols) within a time
// bound.
func PlanViewStreamJoin(sel *parser.Select, spec ViewJoinSpec, aCols, bCols []Column, opts ViewOptions) (*ViewPlan, error) {
	if spec.Stream != nil && spec.Stream.Func != nil {
		return nil, pgerr.ViewUnsupported.New(spec.Stream.Func.Name + "() in a join of two streams").WithPos(spec.Stream.P)
	}
	return planJoin(sel, spec, aCols, JoinTable{Name: spec.Table.Name, Cols: bCols}, opts, true)
}

// StreamJoin reports whether the view joins two streams; its task reads
// the left stream's shards, then the right one's (NewStreamJoiner).
func (v *ViewPlan) StreamJoin() bool { return v.join != nil && v.join.streams != nil }

// joinBuf is one side's buffered rows: its columns as the pairs need
// them, the row's time, and an index by join key (heads and chains).
type joinBuf struct {
	rows  *types.Batch
	ts    []int64
	next  []int32 // next row with the same key; -1 ends
	dead  []bool
	live  int
	index map[string]int32
	keys  []string // row's encoded key
	maxT  int64    // newest time read on this side (math.MinInt64: none)
	added int      // rows added since the last sweep
}

func newJoinBuf(ts []types.T) *joinBuf {
	return &joinBuf{rows: types.NewBatch(ts), index: map[string]int32{}, maxT: math.MinInt64}
}

// StreamJoiner turns batches of either stream into batches of pairs (the
// view's widened rows: a's columns, then b's columns the view reads).
type StreamJoiner struct {
	j     *viewJoin
	sj    *streamJoin
	bMap  []int // planned b column → b batch column
	bTime int   // b's time column in b's batches
	side  [2]*joinBuf
	at    []uint64 // the offsets whose rows the buffers reflect; nil: none
	key   []byte
	pa    []int32 // pair: row of a (batch row when folding a's batch, else buffer row)
	pb    []int32
	aCols []types.Column
	bCols []types.Column
	out   types.Batch
}

// NewStreamJoiner returns the join stage of a stream–stream view; bCols
// are the right-hand stream's columns now (matched by name).
func (v *ViewPlan) NewStreamJoiner(bCols []Column) (*StreamJoiner, error) {
	j := v.join
	if j == nil || j.streams == nil {
		return nil, errors.New("exec: not a stream–stream join view")
	}
	sj := &StreamJoiner{j: j, sj: j.streams}
	var bts []types.T
	for _, c := range j.tcols {
		at := colIndex(bCols, c.Name)
		if at < 0 || bCols[at].T != c.T {
			return nil, pgerr.ViewJoinTableChanged.New(j.table, c.Name)
		}
		sj.bMap = append(sj.bMap, at)
		bts = append(bts, c.T)
	}
	if sj.bTime = colIndex(bCols, j.streams.bTimeName); sj.bTime < 0 {
		return nil, pgerr.ViewJoinTableChanged.New(j.table, j.streams.bTimeName)
	}
	ats := make([]types.T, j.ns)
	for i := range ats {
		ats[i] = j.scols[i].T
	}
	sj.side[0], sj.side[1] = newJoinBuf(ats), newJoinBuf(bts)
	sj.aCols = make([]types.Column, j.ns)
	for i, t := range ats {
		sj.aCols[i].T = t
	}
	sj.bCols = make([]types.Column, len(bts))
	for i, t := range bts {
		sj.bCols[i].T = t
	}
	return sj, nil
}

// At reports whether the buffers reflect exactly the rows before offsets.
func (s *StreamJoiner) At(offsets []uint64) bool { return s.at != nil && slices.Equal(s.at, offsets) }

// Committed records that the buffers now reflect the rows before offsets
// (the view task calls it once a round's delta is applied).
func (s *StreamJoiner) Committed(offsets []uint64) { s.at = slices.Clone(offsets) }

// Reset empties the buffers (before a rebuild).
func (s *StreamJoiner) Reset() {
	for i, b := range s.side {
		s.side[i] = newJoinBuf(b.rows.Types())
	}
	s.at = nil
}

// rowKey encodes the join key of row i of a batch of side (0: a, 1: b)
// into s.key; false when a part is NULL (the row pairs with nothing).
func (s *StreamJoiner) rowKey(ec *Ctx, side int, b *types.Batch, i int) (bool, error) {
	s.key = s.key[:0]
	in := scalar.BatchInput(b, i)
	for k, n := range s.j.skeys {
		var d types.Datum
		if side == 0 {
			var err error
			if n.Col >= 0 {
				d = scalar.BatchDatum(&b.Cols[n.Col], i)
			} else if d, err = n.Fn(ec, in); err != nil {
				return false, nil // a key that cannot be computed pairs with nothing
			}
			if t := s.j.tcols[s.j.tcol[k]].T; !d.Null && d.T != t {
				if !fitsInt(d.I, t) {
					return false, nil
				}
				d.T = t
			}
		} else {
			d = scalar.BatchDatum(&b.Cols[s.bMap[s.j.tcol[k]]], i)
		}
		if d.Null {
			return false, nil
		}
		s.key = scalar.AppendKey(s.key, d)
	}
	return true, nil
}

func (s *StreamJoiner) rowTime(side int, b *types.Batch, i int) (int64, bool) {
	c := s.sj.aTime
	if side == 1 {
		c = s.bTime
	}
	col := &b.Cols[c]
	if col.IsNull(i) {
		return 0, false
	}
	return col.I[i], true
}

// insert buffers row i of a side's batch.
func (s *StreamJoiner) insert(side int, b *types.Batch, i int, t int64) {
	buf := s.side[side]
	r := int32(buf.rows.N)
	n := buf.rows.N
	if side == 0 {
		for c := range buf.rows.Cols {
			buf.rows.Cols[c].AppendDatum(n, b.Cols[c].Datum(i))
		}
	} else {
		for c, at := range s.bMap {
			buf.rows.Cols[c].AppendDatum(n, b.Cols[at].Datum(i))
		}
	}
	buf.rows.N++
	k := string(s.key)
	head, ok := buf.index[k]
	if !ok {
		head = -1
	}
	buf.index[k] = r
	buf.next = append(buf.next, head)
	buf.ts = append(buf.ts, t)
	buf.dead = append(buf.dead, false)
	buf.keys = append(buf.keys, k)
	buf.live++
	buf.added++
}

// Absorb adds a batch of side (0: the left stream, 1: the right one) to
// the buffers without pairing it: the rebuild of the buffers from the
// streams' history.
func (s *StreamJoiner) Absorb(ec *Ctx, side int, b *types.Batch) error {
	for i := 0; i < b.N; i++ {
		t, ok := s.rowTime(side, b, i)
		if !ok {
			continue
		}
		s.side[side].maxT = max(s.side[side].maxT, t)
		ok, err := s.rowKey(ec, side, b, i)
		if err != nil {
			return err
		}
		if ok {
			s.insert(side, b, i, t)
		}
	}
	s.sweep(false)
	return nil
}

// Join pairs a batch of side with the other side's buffered rows,
// buffers it, and returns the pairs as the view's widened rows (valid
// until the next call).
func (s *StreamJoiner) Join(ec *Ctx, side int, b *types.Batch) (*types.Batch, error) {
	s.at = nil // until Committed: the buffers hold rows past the offsets
	s.pa, s.pb = s.pa[:0], s.pb[:0]
	other := s.side[1-side]
	lo, hi := s.sj.lo, s.sj.hi
	for i := 0; i < b.N; i++ {
		t, ok := s.rowTime(side, b, i)
		if !ok {
			continue
		}
		s.side[side].maxT = max(s.side[side].maxT, t)
		ok, err := s.rowKey(ec, side, b, i)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if r, found := other.index[string(s.key)]; found {
			for ; r >= 0; r = other.next[r] {
				if other.dead[r] {
					continue
				}
				d := other.ts[r] - t // b.t - a.t when this is a's row
				if side == 1 {
					d = -d
				}
				if d < lo || d > hi {
					continue
				}
				if side == 0 {
					s.pa, s.pb = append(s.pa, int32(i)), append(s.pb, r)
				} else {
					s.pa, s.pb = append(s.pa, r), append(s.pb, int32(i))
				}
			}
		}
		s.insert(side, b, i, t)
	}
	out := s.build(side, b)
	s.sweep(false)
	return out, nil
}

func (s *StreamJoiner) build(side int, b *types.Batch) *types.Batch {
	s.out.N = len(s.pa)
	s.out.Arrival = b.Arrival
	s.out.Cols = s.out.Cols[:0]
	a, bb := s.side[0].rows, s.side[1].rows
	if side == 0 {
		for c := range s.aCols {
			gather(&s.aCols[c], &b.Cols[c], s.pa)
		}
		for c := range s.bCols {
			gather(&s.bCols[c], &bb.Cols[c], s.pb)
		}
	} else {
		for c := range s.aCols {
			gather(&s.aCols[c], &a.Cols[c], s.pa)
		}
		for c, at := range s.bMap {
			gather(&s.bCols[c], &b.Cols[at], s.pb)
		}
	}
	s.out.Cols = append(s.out.Cols, s.aCols...)
	s.out.Cols = append(s.out.Cols, s.bCols...)
	return &s.out
}

// sweep drops rows no row still to come (at most lateness behind its
// stream's newest) can pair with, and compacts a side once half its rows
// are dropped. With force it sweeps whatever was added.
func (s *StreamJoiner) sweep(force bool) {
	late := s.sj.lateness
	for side, buf := range s.side {
		if !force && buf.added < max(1024, buf.live/2) {
			continue
		}
		buf.added = 0
		otherMax := s.side[1-side].maxT
		if otherMax == math.MinInt64 {
			continue
		}
		// a: dropped when a.t + hi < (newest b) - lateness;
		// b: dropped when b.t - lo < (newest a) - lateness.
		var cut int64
		if side == 0 {
			cut = otherMax - late - s.sj.hi
		} else {
			cut = otherMax - late + s.sj.lo
		}
		for r, t := range buf.ts {
			if !buf.dead[r] && t < cut {
				buf.dead[r] = true
				buf.live--
			}
		}
		if buf.live*2 <= len(buf.ts) {
			s.compact(buf)
		}
	}
}

// compact rewrites a buffer with only its live rows.
func (s *StreamJoiner) compact(buf *joinBuf) {
	keep := make([]int32, 0, buf.live)
	for r, d := range buf.dead {
		if !d {
			keep = append(keep, int32(r))
		}
	}
	nb := newJoinBuf(buf.rows.Types())
	nb.maxT = buf.maxT
	for c := range nb.rows.Cols {
		gather(&nb.rows.Cols[c], &buf.rows.Cols[c], keep)
	}
	nb.rows.N = len(keep)
	// Rebuild the chains in row order, so pairs come out as before.
	for nr, r := range keep {
		k := buf.keys[r]
		head, ok := nb.index[k]
		if !ok {
			head = -1
		}
		nb.index[k] = int32(nr)
		nb.next = append(nb.next, head)
		nb.ts = append(nb.ts, buf.ts[r])
		nb.dead = append(nb.dead, false)
		nb.keys = append(nb.keys, k)
	}
	nb.live = len(keep)
	*buf = *nb
}

// Buffered returns the rows buffered per side (for tests and metrics).
func (s *StreamJoiner) Buffered() (a, b int) { return s.side[0].live, s.side[1].live }

// Rebuild fills the buffers from the streams' history before offsets
// (the view's committed offsets; the first nLeft shards are the left
// stream's): scan(shard, upTo, fn) must call fn with every batch of the
// shard that starts before upTo and is aimed at the view, in offset
// order.
func (s *StreamJoiner) Rebuild(ctx context.Context, ec *Ctx, offsets []uint64, nLeft int, scan func(shard int, upTo uint64, fn func(b *types.Batch) error) error) error {
	s.Reset()
	for sh, upTo := range offsets {
		if upTo == 0 {
			continue
		}
		side := 0
		if sh >= nLeft {
			side = 1
		}
		if err := scan(sh, upTo, func(b *types.Batch) error { return s.Absorb(ec, side, b) }); err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	s.sweep(true)
	s.at = slices.Clone(offsets)
	return nil
}
