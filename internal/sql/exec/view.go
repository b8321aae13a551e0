package exec

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/agg"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// ViewPlan is a planned continuous view: it folds stream rows into
// partial aggregates per group key (a Delta), merges encoded partial
// states, and finalizes a group's output row.
//
// A group's partial state is a fixed number of 64-bit words per
// aggregate (count: n; sum/avg: n and the running sum; min/max: n and the
// value; intervals and 128-bit integer sums take one more word), plus a
// string for min/max of text and a decimal for numeric.
// Every merge is a sum, or a min/max, so states merge associatively and
// commutatively: a key folded on several shards combines at read time.
type ViewPlan struct {
	cols   []Column
	where  *scalar.Node   // over the stream's columns
	keys   []*scalar.Node // group keys over the stream's columns
	aggs   []*agg.Spec    // aggregates over the stream's columns
	proj   []*scalar.Node // output columns over [keys..., aggs...]
	lay    []agg.Layout
	stride int // state words per group
	// keyCols maps each group key to the output column that is exactly
	// it; nil when some key is not output as a plain column.
	keyCols []int
	win     *windowPlan // nil: no window (window.go)
	ttl     *ttlPlan    // nil: groups never expire
	rt      readTime    // HAVING, ORDER BY, LIMIT, OFFSET (viewread.go)
	join    *viewJoin   // nil: no join; else the enrichment stage (viewjoin.go)
}

// PlanView validates and plans a continuous view over a stream with the
// given columns. The caller checks that FROM names the stream.
func PlanView(sel *parser.Select, stream []Column) (*ViewPlan, error) {
	return PlanViewWith(sel, stream, nil)
}

// ViewSource returns the stream a view definition reads: the FROM name,
// or the first argument of tumble()/hop().
func ViewSource(sel *parser.Select) (name string, pos int) {
	if sel.From == nil {
		return "", 0
	}
	if f := sel.From.Func; f != nil {
		if len(f.Args) > 0 {
			if r, ok := f.Args[0].(*parser.ColumnRef); ok && r.Table == "" {
				return r.Name, r.P
			}
		}
		return "", f.P
	}
	return sel.From.Name, sel.From.P
}

// PlanViewWith is PlanView with the view's WITH options (windows, ttl).
func PlanViewWith(sel *parser.Select, stream []Column, opts ViewOptions) (*ViewPlan, error) {
	unsupported := func(pos int, what string) error {
		return pgerr.ViewUnsupported.New(what).WithPos(pos)
	}
	if err := refuseOlapInView(sel); err != nil {
		return nil, err
	}
	switch {
	case sel.From == nil:
		return nil, pgerr.ViewNotFromStream.New().WithPos(sel.P)
	case sel.From.Subquery != nil:
		return nil, pgerr.ViewFromSubquery.New().WithPos(sel.From.P)
	case sel.Distinct:
		return nil, unsupported(sel.P, "DISTINCT")
	}
	if f := sel.From.Func; f != nil && !strings.EqualFold(f.Name, "tumble") && !strings.EqualFold(f.Name, "hop") {
		return nil, pgerr.TableFuncInView.New(f.Name).WithPos(f.P)
	}
	src, srcPos := ViewSource(sel)
	if src == "" {
		return nil, pgerr.WindowArgs.New(sel.From.Name).WithPos(srcPos)
	}
	quals := []string{src}
	if sel.From.Alias != "" {
		quals = []string{sel.From.Alias}
	}
	in := &scalar.Compiler{Cols: stream, Quals: quals, NoAgg: "WHERE", Virtual: arrivalColumn}
	items, err := expandItems(sel, stream, quals)
	if err != nil {
		return nil, err
	}
	v := &ViewPlan{}
	where, err := v.planWindow(sel, in, opts)
	if err != nil {
		return nil, err
	}
	if where != nil {
		w, err := in.Compile(where)
		if err != nil {
			return nil, err
		}
		if v.where, err = in.BoolArg(w, "WHERE", where.Pos()); err != nil {
			return nil, err
		}
	}
	if !Aggregates(sel) {
		return nil, pgerr.ViewMustAggregate.New().WithPos(sel.P)
	}
	g, err := planGrouping(in, items, sel.GroupBy)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		n, err := g.post.Compile(it.expr)
		if err != nil {
			return nil, err
		}
		if n, err = g.post.Finish(n, it.expr.Pos()); err != nil {
			return nil, err
		}
		v.proj = append(v.proj, n)
		v.cols = append(v.cols, Column{Name: it.name, T: n.T})
	}
	if err := v.planReadTime(g, items, sel); err != nil {
		return nil, err
	}
	v.keys, v.aggs = g.actx.KeyNodes, g.actx.Aggs
	v.keyCols = viewKeyColumns(g, items)
	if v.Watermarked() {
		grouped := false
		for _, k := range g.actx.Keys {
			grouped = grouped || strings.Contains(k, "?.window_start") || strings.Contains(k, "?.window_end")
		}
		if !grouped {
			return nil, pgerr.TumbleNoWindowKey.New(strings.ToLower(sel.From.Func.Name)).WithPos(sel.P)
		}
	}
	if err := v.planTTL(opts, items); err != nil {
		return nil, err
	}
	for _, s := range v.aggs {
		if s.NotInView != "" {
			return nil, pgerr.AggNotInView.New(s.Func, s.NotInView).WithPos(s.Pos)
		}
		if s.ViewBlob != nil {
			s.Blob = s.ViewBlob
		}
		l := agg.NewLayout(s, v.stride)
		v.lay = append(v.lay, l)
		v.stride += l.N
	}
	return v, nil
}

// Columns returns the columns of the rows Finalize produces: the view's
// output columns (OutputColumns, what SELECT * FROM view returns), then
// the hidden ones its HAVING and ORDER BY need at read time (none for
// most views; see NewViewReader).
func (v *ViewPlan) Columns() []Column { return v.cols }

// Global reports whether the view has no GROUP BY: one group with an
// empty key. A reader that finds no stored state for it should still show
// one row, Finalize(ec, nil, nil, row), as SELECT count(*) over no rows
// does.
func (v *ViewPlan) Global() bool { return len(v.keys) == 0 }

// KeyTypes returns the types of the group key columns, in key order.
func (v *ViewPlan) KeyTypes() []types.T {
	ts := make([]types.T, len(v.keys))
	for i, k := range v.keys {
		ts[i] = k.T
	}
	return ts
}

// KeyHash is a stable hash of an encoded group key, the same on every
// machine and release (shard = hash % nshards).
func (v *ViewPlan) KeyHash(key []byte) uint64 { return hashKey(key) }

const (
	prime1 = 0x9E3779B185EBCA87
	prime2 = 0xC2B2AE3D27D4EB4F
	prime3 = 0x165667B19E3779F9
)

// hashKey hashes bytes 8 at a time with a strong final mix so both the
// low bits (shard = h % n) and the high bits (table slot) are uniform.
func hashKey(b []byte) uint64 {
	h := uint64(len(b))*prime1 ^ prime3
	for len(b) >= 8 {
		h ^= binary.LittleEndian.Uint64(b) * prime2
		h = bits.RotateLeft64(h, 31) * prime1
		b = b[8:]
	}
	for _, c := range b {
		h ^= uint64(c) * prime3
		h = bits.RotateLeft64(h, 11) * prime1
	}
	h ^= h >> 33
	h *= 0xFF51AFD7ED558CCD
	h ^= h >> 33
	h *= 0xC4CEB9FE1A85EC53
	h ^= h >> 33
	return h
}

// Delta holds partial aggregates per encoded group key. It is an
// open-addressing hash table over flat arrays, so folding into existing
// groups allocates nothing; Reset keeps the capacity.
type Delta struct {
	v      *ViewPlan // the plan whose states d holds (for Range)
	stride int
	// table holds, per slot, the hash's high 32 bits and entry index + 1
	// In the low 32 (0 = empty); len is a power of two. The tag rejects
	// most mismatches without touching the entry arrays.
	table  []uint64
	shift  uint     // 64 - log2(len(table))
	hashes []uint64 // per entry
	koffs  []uint32 // entry i's key is keys[koffs[i]:koffs[i+1]]
	keys   []byte
	words  []uint64        // stride words per entry
	strs   []string        // text min/max values, indexed by state words
	decs   []apd.Decimal   // numeric sum/avg/min/max states, indexed by state words
	blobs  []agg.BlobState // StateB aggregates' states, indexed by state words

	// Window inputs, set by the folder before Fold: Now (Unix micros,
	// also the time Apply expires groups by) and the view shard's
	// Watermark. Outputs: MaxTime, the largest event time folded, and
	// Late, the events dropped as late. All four travel in the encoding.
	Now, Watermark int64
	MaxTime        int64
	Late           uint64

	// Fold scratch, kept to avoid allocating per batch.
	keyBuf   []byte
	rows     []int32
	slots    []int32
	stateBuf []byte
	order    []int32
	fRows    []int32 // rows passing an aggregate's FILTER
	fSlots   []int32
	argv     []types.Datum
	blobBuf  []byte
}

// NewDelta returns an empty delta for this view.
func (v *ViewPlan) NewDelta() *Delta {
	d := &Delta{}
	v.bind(d)
	return d
}

// bind attaches d to v (a zero Delta works too).
func (v *ViewPlan) bind(d *Delta) {
	d.v, d.stride = v, v.stride
	if d.koffs == nil {
		d.koffs = []uint32{0}
	}
}

// Len returns the number of group keys in d.
func (d *Delta) Len() int { return len(d.hashes) }

// Reset empties d, keeping its memory.
func (d *Delta) Reset() {
	clear(d.table)
	d.hashes = d.hashes[:0]
	d.koffs = append(d.koffs[:0], 0)
	d.keys = d.keys[:0]
	d.words = d.words[:0]
	clear(d.strs)
	d.strs = d.strs[:0]
	clear(d.decs)
	d.decs = d.decs[:0]
	clear(d.blobs)
	d.blobs = d.blobs[:0]
	d.Now, d.Watermark, d.MaxTime, d.Late = 0, 0, 0, 0
}

func (d *Delta) key(e int) []byte { return d.keys[d.koffs[e]:d.koffs[e+1]] }

// slot finds or adds the entry for key (with hash h).
func (d *Delta) slot(h uint64, key []byte) int {
	if 2*(len(d.hashes)+1) > len(d.table) {
		d.grow()
	}
	mask := uint64(len(d.table) - 1)
	tag := h &^ 0xFFFFFFFF
	for i := (h * prime1) >> d.shift; ; i = (i + 1) & mask {
		s := d.table[i]
		if s == 0 {
			e := len(d.hashes)
			d.table[i] = tag | uint64(e+1)
			d.hashes = append(d.hashes, h)
			d.keys = append(d.keys, key...)
			d.koffs = append(d.koffs, uint32(len(d.keys)))
			for k := 0; k < d.stride; k++ {
				d.words = append(d.words, 0)
			}
			return e
		}
		if s&^0xFFFFFFFF == tag {
			if e := int(uint32(s) - 1); d.hashes[e] == h && keyEq(d.key(e), key) {
				return e
			}
		}
	}
}

func (d *Delta) grow() {
	n := 2 * len(d.table)
	if n < 64 {
		n = 64
	}
	d.table = make([]uint64, n)
	d.shift = uint(64 - bits.TrailingZeros(uint(n)))
	mask := uint64(n - 1)
	for e, h := range d.hashes {
		i := (h * prime1) >> d.shift
		for d.table[i] != 0 {
			i = (i + 1) & mask
		}
		d.table[i] = h&^0xFFFFFFFF | uint64(e+1)
	}
}

// keyEq compares short keys a word at a time (group keys are usually a
// few bytes; the generic compare's call overhead dominates there).
func keyEq(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for len(a) >= 8 {
		if binary.LittleEndian.Uint64(a) != binary.LittleEndian.Uint64(b) {
			return false
		}
		a, b = a[8:], b[8:]
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Fold applies WHERE, computes group keys and folds the aggregate inputs
// of rows [0, b.N) of b into d, keeping only rows whose key hash
// satisfies keep (nil = all). Folding into existing groups does not
// allocate. On error (say a cast in a group key fails on one row) d is
// left partly folded: discard it with Reset.
func (v *ViewPlan) Fold(ec *Ctx, d *Delta, b *types.Batch, keep func(hash uint64) bool) error {
	if v.win == nil || v.win.kind != winHop {
		return v.fold1(ec, d, b, keep)
	}
	defer func() { ec.Pass = 0 }()
	for p := 0; p < v.win.passes; p++ {
		ec.Pass = p
		if err := v.fold1(ec, d, b, keep); err != nil {
			return err
		}
	}
	return nil
}

// admit applies the window to row i: whether it is folded, and the
// bucket to append to its key (sliding) or the window's start (tumble,
// hop).
func (v *ViewPlan) admit(ec *Ctx, d *Delta, in scalar.Input) (bucket int64, ok bool) {
	w := v.win
	t, ok := w.rowTime(in)
	if !ok {
		return 0, false
	}
	if w.kind == winSliding {
		bucket = w.bucket(t)
		// Already outside the window when folded: it would expire at once.
		return bucket, d.Now == 0 || bucket+w.size > d.Now
	}
	if ec.Pass == 0 && t > d.MaxTime {
		// Every row read moves the watermark, whichever shard it folds
		// into: all shards of a view read the same events, so they agree.
		d.MaxTime = t
	}
	start := w.start(t, ec.Pass)
	if start+w.size <= t {
		return 0, false // hop: this pass's window ends before t
	}
	return start, true
}

// late applies the watermark to a row of this view shard (after its key
// is known to belong here): whether its window closed more than the
// allowed lateness ago.
func (v *ViewPlan) late(ec *Ctx, d *Delta, start int64) bool {
	w := v.win
	if d.Watermark != 0 && start+w.size+w.lateness <= d.Watermark {
		if ec.Pass == 0 {
			d.Late++
		}
		return true
	}
	return false
}

func (v *ViewPlan) fold1(ec *Ctx, d *Delta, b *types.Batch, keep func(hash uint64) bool) error {
	v.bind(d)
	rows, slots := d.rows[:0], d.slots[:0]
	key := d.keyBuf
	for i := 0; i < b.N; i++ {
		in := scalar.BatchInput(b, i)
		if v.where != nil {
			w, err := v.where.Fn(ec, in)
			if err != nil {
				return err
			}
			if w.Null || w.I == 0 {
				continue
			}
		}
		var bucket int64
		if v.win != nil {
			var ok bool
			if bucket, ok = v.admit(ec, d, in); !ok {
				continue
			}
		}
		key = key[:0]
		for _, k := range v.keys {
			var kd types.Datum
			if k.Col >= 0 {
				c := &b.Cols[k.Col]
				if c.T.UsesI() {
					// The common case (an integer-like key column) skips
					// building a Datum; same bytes as scalar.AppendKey.
					if c.Nulls != nil && c.Nulls[i] {
						key = append(key, 0)
					} else {
						key = append(key, 1)
						key = binary.BigEndian.AppendUint64(key, uint64(c.I[i])^1<<63)
					}
					continue
				}
				kd = scalar.BatchDatum(c, i)
			} else {
				var err error
				if kd, err = k.Fn(ec, in); err != nil {
					return err
				}
			}
			key = scalar.AppendKey(key, kd)
		}
		if v.win != nil && v.win.kind == winSliding {
			key = appendBucket(key, bucket)
		}
		h := hashKey(key)
		if keep != nil && !keep(h) {
			continue
		}
		if v.win != nil && v.win.kind != winSliding && v.late(ec, d, bucket) {
			continue
		}
		rows = append(rows, int32(i))
		slots = append(slots, int32(d.slot(h, key)))
	}
	d.keyBuf, d.rows, d.slots = key, rows, slots
	for j, s := range v.aggs {
		if err := v.foldAgg(ec, d, b, s, v.lay[j], rows, slots); err != nil {
			return err
		}
	}
	return nil
}

// foldAgg folds one aggregate over the selected rows: a tight loop per
// aggregate and column type when the argument is a plain column, the
// general expression path otherwise.
func (v *ViewPlan) foldAgg(ec *Ctx, d *Delta, b *types.Batch, s *agg.Spec, l agg.Layout, rows, slots []int32) error {
	w, stride, off := d.words, v.stride, l.Off
	if s.Filter != nil {
		var err error
		if rows, slots, err = d.filter(ec, b, s.Filter, rows, slots); err != nil {
			return err
		}
	}
	if s.Ext() {
		return d.foldExt(ec, b, s, l, rows, slots)
	}
	if s.Kind == agg.CountStar {
		for _, sl := range slots {
			w[int(sl)*stride+off]++
		}
		return nil
	}
	if s.Arg.Col >= 0 && (l.Class == agg.StateI || l.Class == agg.StateF || l.Class == agg.StateI128 || l.Kind == agg.Count) {
		c := &b.Cols[s.Arg.Col]
		nulls := c.Nulls
		switch {
		case l.Kind == agg.Count:
			for k, r := range rows {
				if nulls == nil || !nulls[r] {
					w[int(slots[k])*stride+off]++
				}
			}
		case l.Class == agg.StateI:
			vals := c.I
			for k, r := range rows {
				if nulls != nil && nulls[r] {
					continue
				}
				if err := agg.FoldI(w[int(slots[k])*stride+off:], l.Kind, vals[r]); err != nil {
					return err
				}
			}
		case l.Class == agg.StateI128:
			vals := c.I
			for k, r := range rows {
				if nulls != nil && nulls[r] {
					continue
				}
				agg.FoldI128(w[int(slots[k])*stride+off:], vals[r])
			}
		default:
			vals := c.F
			for k, r := range rows {
				if nulls != nil && nulls[r] {
					continue
				}
				agg.FoldF(w[int(slots[k])*stride+off:], l.Kind, vals[r])
			}
		}
		return nil
	}
	for k, r := range rows {
		x, err := s.Arg.Fn(ec, scalar.BatchInput(b, int(r)))
		if err != nil {
			return err
		}
		if x.Null {
			continue
		}
		p := w[int(slots[k])*stride+off:]
		switch l.Class {
		case agg.StateCount:
			p[0]++
		case agg.StateI:
			if err := agg.FoldI(p, l.Kind, x.I); err != nil {
				return err
			}
		case agg.StateF:
			agg.FoldF(p, l.Kind, x.F)
		case agg.StateIv:
			agg.FoldIv(p, l.Kind, x.Iv)
		case agg.StateS:
			d.foldS(p, l.Kind, x.S)
		case agg.StateI128:
			agg.FoldI128(p, x.I)
		case agg.StateN:
			if p[0] == 0 {
				p[1] = uint64(len(d.decs))
				d.decs = append(d.decs, apd.Decimal{})
			}
			if err := agg.FoldN(p, l.Kind, &d.decs[p[1]], x.S); err != nil {
				return err
			}
		}
	}
	return nil
}

// filter returns the rows (and their slots) where cond is true.
func (d *Delta) filter(ec *Ctx, b *types.Batch, cond *scalar.Node, rows, slots []int32) ([]int32, []int32, error) {
	fr, fs := d.fRows[:0], d.fSlots[:0]
	for k, r := range rows {
		x, err := cond.Fn(ec, scalar.BatchInput(b, int(r)))
		if err != nil {
			return nil, nil, err
		}
		if x.Bool() {
			fr, fs = append(fr, r), append(fs, slots[k])
		}
	}
	d.fRows, d.fSlots = fr, fs
	return fr, fs, nil
}

// foldExt folds a Fixed or Blob aggregate (agg/ext.go) over the rows.
func (d *Delta) foldExt(ec *Ctx, b *types.Batch, s *agg.Spec, l agg.Layout, rows, slots []int32) error {
	w, stride := d.words, d.stride
	for k, r := range rows {
		in := scalar.BatchInput(b, int(r))
		argv := d.argv[:0]
		for _, a := range s.Args {
			x, err := a.Fn(ec, in)
			if err != nil {
				return err
			}
			argv = append(argv, x)
		}
		d.argv = argv
		p := w[int(slots[k])*stride+l.Off:]
		if l.Class == agg.StateW {
			if err := l.Fixed.Add(p[:l.N], argv); err != nil {
				return err
			}
			continue
		}
		if p[0] == 0 {
			p[1] = uint64(len(d.blobs))
			d.blobs = append(d.blobs, l.Blob.New())
		}
		p[0]++
		if err := d.blobs[p[1]].Add(argv); err != nil {
			return err
		}
	}
	return nil
}

// foldS folds a text min/max; the value is copied only when it wins.
func (d *Delta) foldS(p []uint64, kind agg.Kind, x string) {
	n := p[0]
	p[0] = n + 1
	if n == 0 {
		p[1] = uint64(len(d.strs))
		d.strs = append(d.strs, strings.Clone(x))
		return
	}
	c := strings.Compare(x, d.strs[p[1]])
	if (kind == agg.Min && c < 0) || (kind == agg.Max && c > 0) {
		d.strs[p[1]] = strings.Clone(x)
	}
}

// mergeN merges an encoded numeric state into the decimal state p.
func (d *Delta) mergeN(p []uint64, l agg.Layout, in *agg.State) error {
	if in.W[0] == 0 {
		return nil
	}
	if p[0] == 0 {
		p[1] = uint64(len(d.decs))
		d.decs = append(d.decs, apd.Decimal{})
	}
	n := p[0]
	if err := agg.FoldN(p, l.Kind, &d.decs[p[1]], string(in.S)); err != nil {
		return err
	}
	p[0] = n + in.W[0]
	return nil
}

// appendState encodes entry e's state: per aggregate its words as
// little-endian uint64s, except text min/max: the count, then (when not
// empty) the length-prefixed value.
func (v *ViewPlan) appendState(dst []byte, d *Delta, e int) []byte {
	w := d.words[e*v.stride : (e+1)*v.stride]
	for _, l := range v.lay {
		p := w[l.Off : l.Off+l.N]
		if l.Class == agg.StateB {
			dst = binary.LittleEndian.AppendUint64(dst, p[0])
			if p[0] > 0 {
				d.blobBuf = d.blobs[p[1]].Append(d.blobBuf[:0])
				dst = binary.AppendUvarint(dst, uint64(len(d.blobBuf)))
				dst = append(dst, d.blobBuf...)
			}
			continue
		}
		if l.Class == agg.StateS {
			dst = binary.LittleEndian.AppendUint64(dst, p[0])
			if p[0] > 0 {
				s := d.strs[p[1]]
				dst = binary.AppendUvarint(dst, uint64(len(s)))
				dst = append(dst, s...)
			}
			continue
		}
		if l.Class == agg.StateN {
			dst = binary.LittleEndian.AppendUint64(dst, p[0])
			if p[0] > 0 {
				var buf [48]byte
				s := types.AppendDecimal(buf[:0], &d.decs[p[1]])
				dst = binary.AppendUvarint(dst, uint64(len(s)))
				dst = append(dst, s...)
			}
			continue
		}
		for _, x := range p {
			dst = binary.LittleEndian.AppendUint64(dst, x)
		}
	}
	return dst
}

// MergeState merges encoded partial state b into encoded state a (either
// may be nil = empty) and appends the result to dst. dst must not overlap
// a or b.
func (v *ViewPlan) MergeState(dst, a, b []byte) ([]byte, error) {
	var sa, sb agg.State
	var err error
	for _, l := range v.lay {
		if a, err = agg.ReadState(a, l, &sa); err != nil {
			return dst, err
		}
		if b, err = agg.ReadState(b, l, &sb); err != nil {
			return dst, err
		}
		if err := agg.MergeStates(l, &sa, &sb); err != nil {
			return dst, err
		}
		dst = agg.AppendState(dst, l, &sa)
	}
	if len(a) != 0 || len(b) != 0 {
		return dst, scalar.ErrCorruptState
	}
	return dst, nil
}

// mergeInto merges an encoded state into entry e of d.
func (v *ViewPlan) mergeInto(d *Delta, e int, state []byte) error {
	w := d.words[e*v.stride : (e+1)*v.stride]
	var cur, in agg.State
	var err error
	for _, l := range v.lay {
		if state, err = agg.ReadState(state, l, &in); err != nil {
			return err
		}
		p := w[l.Off : l.Off+l.N]
		if l.Class == agg.StateB {
			if err := d.mergeBlob(p, l, &in); err != nil {
				return err
			}
			continue
		}
		if l.Class == agg.StateN {
			if err := d.mergeN(p, l, &in); err != nil {
				return err
			}
			continue
		}
		copy(cur.W[:], p)
		cur.S = nil
		if l.Class == agg.StateS && p[0] > 0 {
			cur.S = []byte(d.strs[p[1]])
		}
		if err := agg.MergeStates(l, &cur, &in); err != nil {
			return err
		}
		if l.Class == agg.StateS {
			if cur.W[0] > 0 {
				if p[0] == 0 {
					p[1] = uint64(len(d.strs))
					d.strs = append(d.strs, string(cur.S))
				} else if string(cur.S) != d.strs[p[1]] {
					d.strs[p[1]] = string(cur.S)
				}
			}
			p[0] = cur.W[0]
			continue
		}
		copy(p, cur.W[:l.N])
	}
	if len(state) != 0 {
		return scalar.ErrCorruptState
	}
	return nil
}

// mergeBlob merges an encoded Blob state into the state words p.
func (d *Delta) mergeBlob(p []uint64, l agg.Layout, in *agg.State) error {
	if in.W[0] == 0 {
		return nil
	}
	st, err := l.Blob.Decode(in.S)
	if err != nil {
		return err
	}
	if p[0] == 0 {
		p[1] = uint64(len(d.blobs))
		d.blobs = append(d.blobs, st)
	} else if err := d.blobs[p[1]].Merge(st); err != nil {
		return err
	}
	p[0] += in.W[0]
	return nil
}

// Range calls fn for each entry of d: key is the encoded group key and
// state the encoded partial aggregate state. Both are only valid during
// the call.
func (d *Delta) Range(fn func(key, state []byte) error) error {
	for e := range d.hashes {
		d.stateBuf = d.v.appendState(d.stateBuf[:0], d, e)
		if err := fn(d.key(e), d.stateBuf); err != nil {
			return err
		}
	}
	return nil
}

// Delta encodings: version 1 is the entries; version 2 (views with a
// window or ttl) first carries Now, MaxTime and Late.
const (
	deltaVersion       = 1
	deltaVersionWindow = 2
)

func (v *ViewPlan) timed() bool { return v.win != nil || v.ttl != nil }

// AppendDelta appends a deterministic encoding of d (entries sorted by
// key) to dst, for Raft proposals.
func (v *ViewPlan) AppendDelta(dst []byte, d *Delta) []byte {
	order := d.order[:0]
	for e := range d.hashes {
		order = append(order, int32(e))
	}
	slices.SortFunc(order, func(a, b int32) int { return bytes.Compare(d.key(int(a)), d.key(int(b))) })
	d.order = order
	if v.timed() {
		dst = append(dst, deltaVersionWindow)
		dst = binary.AppendVarint(dst, d.Now)
		dst = binary.AppendVarint(dst, d.MaxTime)
		dst = binary.AppendUvarint(dst, d.Late)
	} else {
		dst = append(dst, deltaVersion)
	}
	dst = binary.AppendUvarint(dst, uint64(len(order)))
	for _, e := range order {
		k := d.key(int(e))
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		d.stateBuf = v.appendState(d.stateBuf[:0], d, int(e))
		dst = binary.AppendUvarint(dst, uint64(len(d.stateBuf)))
		dst = append(dst, d.stateBuf...)
	}
	return dst
}

// DeltaHeader is what an encoded delta carries besides its entries: for
// a view with a window or ttl, Now, MaxTime and Late (zero otherwise).
type DeltaHeader struct {
	Now, MaxTime int64
	Late         uint64
}

// RangeEncodedDelta calls fn for each entry of an encoding made by
// AppendDelta, in key order, straight from buf: key and state are slices
// of buf. Applying a delta needs no hash table, since AppendDelta wrote
// each key once, sorted; keys not strictly ascending are refused as
// corrupt. The states are not checked here (MergeState reads them; see
// ValidState).
func (v *ViewPlan) RangeEncodedDelta(buf []byte, fn func(key, state []byte) error) (DeltaHeader, error) {
	var h DeltaHeader
	want := byte(deltaVersion)
	if v.timed() {
		want = deltaVersionWindow
	}
	if len(buf) < 1 || buf[0] != want {
		return h, scalar.ErrCorruptState
	}
	buf = buf[1:]
	if want == deltaVersionWindow {
		var k1, k2, k3 int
		h.Now, k1 = binary.Varint(buf)
		if k1 > 0 {
			h.MaxTime, k2 = binary.Varint(buf[k1:])
		}
		if k1 > 0 && k2 > 0 {
			h.Late, k3 = binary.Uvarint(buf[k1+k2:])
		}
		if k1 <= 0 || k2 <= 0 || k3 <= 0 {
			return h, scalar.ErrCorruptState
		}
		buf = buf[k1+k2+k3:]
	}
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > uint64(len(buf)) {
		return h, scalar.ErrCorruptState
	}
	buf = buf[k:]
	var prev []byte
	for i := uint64(0); i < n; i++ {
		key, rest, err := readBytes(buf)
		if err != nil {
			return h, err
		}
		state, rest, err := readBytes(rest)
		if err != nil {
			return h, err
		}
		if i > 0 && bytes.Compare(prev, key) >= 0 {
			return h, scalar.ErrCorruptState
		}
		prev, buf = key, rest
		if err := fn(key, state); err != nil {
			return h, err
		}
	}
	if len(buf) != 0 {
		return h, scalar.ErrCorruptState
	}
	return h, nil
}

// ValidState reports whether state is a well-formed encoded partial
// state of this view (what MergeState can read).
func (v *ViewPlan) ValidState(state []byte) bool {
	var st agg.State
	var err error
	for _, l := range v.lay {
		if state, err = agg.ReadState(state, l, &st); err != nil {
			return false
		}
		if l.Class == agg.StateB && st.W[0] != 0 {
			if _, err := l.Blob.Decode(st.S); err != nil {
				return false
			}
		}
	}
	return len(state) == 0
}

// DecodeDelta resets d and fills it from an encoding made by AppendDelta.
func (v *ViewPlan) DecodeDelta(buf []byte, d *Delta) error {
	d.Reset()
	v.bind(d)
	h, err := v.RangeEncodedDelta(buf, func(key, state []byte) error {
		return v.mergeInto(d, d.slot(hashKey(key), key), state)
	})
	if err != nil {
		return err
	}
	d.Now, d.MaxTime, d.Late = h.Now, h.MaxTime, h.Late
	return nil
}

// Merge folds every entry of src into dst (both deltas of this view).
func (v *ViewPlan) Merge(dst, src *Delta) error {
	v.bind(dst)
	dst.MaxTime = max(dst.MaxTime, src.MaxTime)
	dst.Late += src.Late
	for e := range src.hashes {
		src.stateBuf = v.appendState(src.stateBuf[:0], src, e)
		key := src.key(e)
		if err := v.mergeInto(dst, dst.slot(src.hashes[e], key), src.stateBuf); err != nil {
			return err
		}
	}
	return nil
}

func readBytes(buf []byte) ([]byte, []byte, error) {
	n, k := binary.Uvarint(buf)
	if k <= 0 || uint64(len(buf)-k) < n {
		return nil, nil, scalar.ErrCorruptState
	}
	return buf[k : k+int(n)], buf[k+int(n):], nil
}

// Finalize produces the output row (Columns()) for one group from its
// encoded key and merged state, appending to row[:0]. Passing the
// previous result back as row makes it allocation-free for non-text
// groups: the scratch post-grouping row lives in row's spare capacity.
func (v *ViewPlan) Finalize(ec *Ctx, key, state []byte, row []types.Datum) ([]types.Datum, error) {
	nout, need := len(v.proj), len(v.proj)+len(v.keys)+len(v.aggs)
	if cap(row) < need {
		row = make([]types.Datum, 0, need)
	}
	post := row[nout:need]
	var err error
	for i, k := range v.keys {
		if post[i], key, err = scalar.DecodeKey(key, k.T); err != nil {
			return row, err
		}
	}
	if len(key) != 0 {
		return row, scalar.ErrCorruptState
	}
	var st agg.State
	for j, l := range v.lay {
		if state, err = agg.ReadState(state, l, &st); err != nil {
			return row, err
		}
		if post[len(v.keys)+j], err = agg.FinalResult(v.aggs[j], l, &st); err != nil {
			return row, err
		}
	}
	if len(state) != 0 {
		return row, scalar.ErrCorruptState
	}
	row = row[:0]
	for _, n := range v.proj {
		d, err := n.Fn(ec, scalar.RowInput(post))
		if err != nil {
			return row, err
		}
		row = append(row, d)
	}
	return row, nil
}
