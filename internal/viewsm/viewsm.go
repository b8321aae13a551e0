// Package viewsm is the state machine of a continuous-view shard and the
// view task its leader runs.
//
// The state is the view's partial-aggregate rows for the shard's slice of
// the group-key hash ring plus, per source stream shard, the offset up to
// which events were folded. A delta proposal carries the offsets it was
// computed from; Apply rejects it unless they equal the stored ones, so a
// stale or duplicate delta can never be applied: exactly once by
// construction.
//
// Key layout inside the group's data range:
//
//	l<index BE8> -> a delta applied since the last checkpoint, as proposed
//	o            -> offsets (uvarint count, uvarint each)
//	r<key>       -> encoded partial state of group key <key> at the last checkpoint
//	w            -> window state at the last checkpoint
//
// Rewriting every touched group row on every delta would cost one engine
// write per key per delta (10,000 keys × tens of deltas a second under
// load), so Apply writes the delta itself as one value and folds the
// rows it touched into the r rows only every checkpointEvery deltas (or
// when the view task asks, every checkpoint_interval, or when the rows
// changed since the last checkpoint outgrow their memory). Load reads the
// offsets and window state and replays the logged deltas. Both land in
// the same batch as the applied index, so the durable state is always
// exact.
//
// The rows live in Pebble (the r rows); memory holds only the rows
// changed since the last checkpoint and a node-wide Cache of clean rows.
// DESIGN.md explains how readers on other goroutines see a consistent
// state while the loop commits checkpoints.
package viewsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
)

const (
	opDelta = 'D'
	// opDeltaCheckpoint is a delta after which Apply folds the delta log
	// into the rows whatever the log's size: the view task sends one when
	// the view's checkpoint_interval has passed since the last.
	opDeltaCheckpoint = 'C'
)

// ErrStale is the apply result of a delta whose from-offsets differ from
// the stored ones.
var ErrStale = errors.New("viewsm: stale delta (offsets moved)")

// EncodeDelta returns a delta command.
func EncodeDelta(dst []byte, from, to []uint64, delta []byte) []byte {
	return encodeDelta(dst, opDelta, from, to, delta)
}

// EncodeDeltaCheckpoint returns a delta command after which the view
// shard checkpoints (folds its delta log into its rows).
func EncodeDeltaCheckpoint(dst []byte, from, to []uint64, delta []byte) []byte {
	return encodeDelta(dst, opDeltaCheckpoint, from, to, delta)
}

func encodeDelta(dst []byte, op byte, from, to []uint64, delta []byte) []byte {
	dst = append(dst, op)
	dst = binary.AppendUvarint(dst, uint64(len(from)))
	for _, o := range from {
		dst = binary.AppendUvarint(dst, o)
	}
	for _, o := range to {
		dst = binary.AppendUvarint(dst, o)
	}
	return append(dst, delta...)
}

func decodeOffsets(buf []byte, n int) ([]uint64, []byte, error) {
	offs := make([]uint64, n)
	for i := range offs {
		v, k := binary.Uvarint(buf)
		if k <= 0 {
			return nil, nil, errors.New("viewsm: corrupt offsets")
		}
		offs[i] = v
		buf = buf[k:]
	}
	return offs, buf, nil
}

// SM is a view shard's state machine.
//
// It runs in one of two modes. On disk (the engine set by SetStorage or
// the first Load): the rows live in the engine, memory holds the rows
// changed since the last checkpoint, and a shared Cache holds clean
// ones. In memory (a scheduled view's SM, which is never loaded from an
// engine): every row is in memory, and ApplyLocal, Capture and Restore
// checkpoint them elsewhere.
type SM struct {
	prefix   []byte
	plan     *exec.ViewPlan
	start    []uint64 // offsets a new view starts from (catalog)
	onLeader func(isLeader bool, term uint64)
	cache    *Cache
	// dirtyLimit: a checkpoint comes once the rows changed since the
	// last one hold this many bytes.
	dirtyLimit int

	// Owned by the apply loop, which reads mu.tab, mu.offsets and eng
	// without the lock (it is their only writer).
	eng     pebble.Reader // the rows' engine; nil: memory mode
	scratch []byte        // scratch for merged states
	keyBuf  []byte
	// The delta being applied: its rows (keys and states in in), the
	// current states of those read from the engine (olds), the merged
	// rows to install (pend, states in out) and the rows its expiry
	// sweep drops (gone).
	drows []deltaRow
	in    []byte
	olds  []byte
	miss  []int // drows to read from the engine
	pend  []pendRow
	out   []byte
	gone  []string
	// Memory mode: keys changed and removed since the last checkpoint
	// (Apply with a batch) or Capture.
	chg         map[string]struct{}
	del         map[string]struct{}
	logged      int // deltas logged since the last checkpoint
	loggedBytes int
	win         winState // window state as of the last applied delta

	mu struct {
		sync.RWMutex
		offsets []uint64
		tab     *table
		// gen counts the changes of committed rows a reader's cache fill
		// could race with (Durable after a checkpoint, Load).
		gen     uint64
		durable []uint64      // offsets whose state is durable
		changed chan struct{} // closed when durable advances
		win     winState      // copy of win for readers
	}
}

// table is a view shard's rows in memory. The apply loop writes it under
// mu (readers read it under mu's read lock).
type table struct {
	id uint64 // the cache's name for this state's rows
	// rows: on disk, the rows changed since the last checkpoint (gone:
	// deleted), which shadow the engine; in memory mode, every row.
	rows map[string]row
	// flushing: the rows a checkpoint wrote into a batch that may not be
	// committed yet; dropped (into the cache) by Durable, which the loop
	// calls after the commit. Read after rows, before cache and engine.
	flushing map[string]row
	bytes    int // held by rows
}

type row struct {
	state []byte
	gone  bool
}

// rowOverhead approximates a row's memory beyond its key and state.
const rowOverhead = 64

func rowSize(key string, r row) int { return len(key) + len(r.state) + rowOverhead }

// deltaRow is a row of the delta being applied: key in[k:s], delta
// state in[s:e], and the row's current state if found: old (in memory or
// the cache) or olds[eo:ee] (read from the engine).
type deltaRow struct {
	k, s, e int
	old     []byte
	eo, ee  int
	found   bool
	fromEng bool
}

// pendRow is a merged row to install: key in[k:s], state out[m:e].
type pendRow struct{ k, s, m, e int }

// winState is the part of a windowed view's state that is not rows.
type winState struct {
	Watermark int64  // largest event time folded (tumble/hop)
	Late      uint64 // events dropped as late
	LastSweep int64  // delta time of the last expiry sweep
	MinExpiry int64  // earliest expiry among the rows (0 = none expire)
}

func (w *winState) append(dst []byte) []byte {
	dst = binary.AppendVarint(dst, w.Watermark)
	dst = binary.AppendUvarint(dst, w.Late)
	dst = binary.AppendVarint(dst, w.LastSweep)
	return binary.AppendVarint(dst, w.MinExpiry)
}

func (w *winState) decode(b []byte) error {
	var k int
	if w.Watermark, k = binary.Varint(b); k <= 0 {
		return errors.New("viewsm: corrupt window state")
	}
	b = b[k:]
	if w.Late, k = binary.Uvarint(b); k <= 0 {
		return errors.New("viewsm: corrupt window state")
	}
	b = b[k:]
	if w.LastSweep, k = binary.Varint(b); k <= 0 {
		return errors.New("viewsm: corrupt window state")
	}
	b = b[k:]
	if w.MinExpiry, k = binary.Varint(b); k <= 0 {
		return errors.New("viewsm: corrupt window state")
	}
	return nil
}

// New returns a view shard state machine (in memory until SetStorage or
// Load gives it an engine).
func New(prefix []byte, plan *exec.ViewPlan, start []uint64, onLeader func(bool, uint64)) *SM {
	sm := &SM{prefix: append([]byte(nil), prefix...), plan: plan, start: slices.Clone(start), onLeader: onLeader}
	sm.chg = map[string]struct{}{}
	sm.del = map[string]struct{}{}
	sm.dirtyLimit = dirtyLimitFor(nil)
	sm.mu.offsets = slices.Clone(start)
	sm.mu.durable = slices.Clone(start)
	sm.mu.tab = &table{rows: map[string]row{}}
	sm.mu.changed = make(chan struct{})
	return sm
}

// SetStorage makes the SM keep its rows in eng (the engine its raft
// group's batches commit to), caching clean rows in cache (nil: none).
// Call it before the first Load.
func (sm *SM) SetStorage(eng pebble.Reader, cache *Cache) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.eng, sm.cache = eng, cache
	sm.dirtyLimit = dirtyLimitFor(cache)
	sm.mu.tab.id = cache.NewID()
}

// dirtyLimitFor is the bytes of changed rows a view shard holds before
// it checkpoints: a sixteenth of the cache, within [64 KiB, 16 MiB].
func dirtyLimitFor(c *Cache) int {
	return int(min(max(c.Budget()/16, 64<<10), 16<<20))
}

// Plan returns the view's plan.
func (sm *SM) Plan() *exec.ViewPlan { return sm.plan }

func (sm *SM) offsetsKey() []byte { return append(slices.Clone(sm.prefix), 'o') }

// winKey holds the window state as of the last checkpoint (logged deltas
// replay on top of it, like the rows).
func (sm *SM) winKey() []byte { return append(slices.Clone(sm.prefix), 'w') }

// rowsEnd bounds the r rows from above.
func (sm *SM) rowsEnd() []byte { return append(slices.Clone(sm.prefix), 's') }

// Checkpoint policy: fold logged deltas into the rows after this many
// deltas or bytes of deltas, and after a checkpoint delta (the view's
// checkpoint_interval, timed by the view task so Apply stays pure).
const (
	checkpointEvery = 128
	checkpointBytes = 32 << 20
)

func (sm *SM) logKey(index uint64) []byte {
	k := make([]byte, 0, len(sm.prefix)+9)
	k = append(k, sm.prefix...)
	k = append(k, 'l')
	return binary.BigEndian.AppendUint64(k, index)
}

func (sm *SM) rowKey(key []byte) []byte {
	k := make([]byte, 0, len(sm.prefix)+1+len(key))
	k = append(k, sm.prefix...)
	k = append(k, 'r')
	return append(k, key...)
}

func decodeStoredOffsets(v []byte) ([]uint64, error) {
	n, k := binary.Uvarint(v)
	if k <= 0 || n > 1<<16 {
		return nil, errors.New("viewsm: corrupt stored offsets")
	}
	offs, _, err := decodeOffsets(v[k:], int(n))
	return offs, err
}

// Load rebuilds the in-memory state from the engine: the offsets, the
// window state and the deltas logged since the last checkpoint (whose
// rows it reads). The rows themselves stay in the engine. Unless
// SetStorage gave it one, r becomes the SM's engine.
func (sm *SM) Load(r pebble.Reader) error {
	if sm.eng == nil {
		sm.mu.Lock()
		sm.eng = r
		sm.mu.Unlock()
	}
	offsets := slices.Clone(sm.start)
	v, closer, err := r.Get(sm.offsetsKey())
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return err
	default:
		offsets, err = decodeStoredOffsets(v)
		closer.Close()
		if err != nil {
			return err
		}
	}
	clear(sm.chg)
	clear(sm.del)
	sm.logged, sm.loggedBytes = 0, 0
	sm.win = winState{}
	if v, closer, err := r.Get(sm.winKey()); err == nil {
		err = sm.win.decode(v)
		closer.Close()
		if err != nil {
			return err
		}
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	// Readers keep the old state until the new one is complete.
	t := &table{id: sm.cache.NewID(), rows: map[string]row{}}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: sm.logKey(0), UpperBound: sm.logKey(^uint64(0))})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if _, err := sm.mergeDelta(t, it.Value()); err != nil {
			it.Close()
			return fmt.Errorf("viewsm: replay logged delta: %w", err)
		}
		sm.install(t)
		sm.logged++
		sm.loggedBytes += len(it.Value())
	}
	if err := it.Close(); err != nil {
		return err
	}
	sm.mu.Lock()
	sm.mu.offsets = offsets
	sm.mu.tab = t
	sm.mu.gen++
	sm.mu.win = sm.win
	sm.mu.Unlock()
	sm.Durable()
	return nil
}

// Apply applies a delta proposal, or rejects it with ErrStale.
func (sm *SM) Apply(wb *pebble.Batch, index uint64, cmd []byte) any {
	if len(cmd) > 0 && cmd[0] == opRestore {
		return sm.applyRestore(wb, index, cmd) // restore.go
	}
	if len(cmd) < 2 || (cmd[0] != opDelta && cmd[0] != opDeltaCheckpoint) {
		return fmt.Errorf("viewsm: corrupt command at index %d", index)
	}
	n, k := binary.Uvarint(cmd[1:])
	if k <= 0 || n > 1<<16 {
		return fmt.Errorf("viewsm: corrupt command at index %d", index)
	}
	buf := cmd[1+k:]
	from, buf, err := decodeOffsets(buf, int(n))
	if err != nil {
		return err
	}
	to, buf, err := decodeOffsets(buf, int(n))
	if err != nil {
		return err
	}
	if wb == nil && sm.eng != nil {
		return errors.New("viewsm: a view shard on disk applies deltas only with a batch")
	}
	if !slices.Equal(from, sm.mu.offsets) {
		return ErrStale
	}
	t := sm.mu.tab
	win := sm.win
	skipped, err := sm.mergeDelta(t, buf)
	if err != nil {
		sm.win = win
		return err
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.install(t)
	sm.mu.offsets = to
	sm.mu.win = sm.win
	if wb == nil {
		// ApplyLocal: memory only; chg and del gather the changes for
		// the next Capture.
		if skipped != nil {
			return *skipped
		}
		return nil
	}
	if err := wb.Set(sm.logKey(index), buf, nil); err != nil {
		return err
	}
	sm.logged++
	sm.loggedBytes += len(buf)
	if sm.logged >= checkpointEvery || sm.loggedBytes >= checkpointBytes || cmd[0] == opDeltaCheckpoint ||
		(sm.eng != nil && t.bytes >= sm.dirtyLimit) {
		if err := sm.checkpointLocked(wb, t, index); err != nil {
			return err
		}
	}
	ob := binary.AppendUvarint(nil, uint64(len(to)))
	for _, o := range to {
		ob = binary.AppendUvarint(ob, o)
	}
	if err := wb.Set(sm.offsetsKey(), ob, nil); err != nil {
		return err
	}
	if skipped != nil {
		return *skipped
	}
	return nil
}

// checkpointLocked writes the rows changed since the last checkpoint and
// the window state into wb and drops the logged deltas up to index. On
// disk the written rows move to t.flushing until Durable.
func (sm *SM) checkpointLocked(wb *pebble.Batch, t *table, index uint64) error {
	if sm.eng == nil {
		for k := range sm.chg {
			if err := wb.Set(sm.rowKey([]byte(k)), t.rows[k].state, nil); err != nil {
				return err
			}
		}
		for k := range sm.del {
			if _, ok := t.rows[k]; ok {
				continue
			}
			if err := wb.Delete(sm.rowKey([]byte(k)), nil); err != nil {
				return err
			}
		}
		clear(sm.chg)
		clear(sm.del)
	} else {
		for k, r := range t.rows {
			var err error
			if r.gone {
				err = wb.Delete(sm.rowKey([]byte(k)), nil)
			} else {
				err = wb.Set(sm.rowKey([]byte(k)), r.state, nil)
			}
			if err != nil {
				return err
			}
		}
		if t.flushing == nil {
			t.flushing = t.rows
		} else {
			for k, r := range t.rows {
				t.flushing[k] = r
			}
		}
		t.rows = make(map[string]row, len(t.rows)/2)
		t.bytes = 0
	}
	if sm.plan.Expires() || sm.plan.Watermarked() {
		if err := wb.Set(sm.winKey(), sm.win.append(nil), nil); err != nil {
			return err
		}
	}
	if err := wb.DeleteRange(sm.logKey(0), sm.logKey(index+1), nil); err != nil {
		return err
	}
	sm.logged, sm.loggedBytes = 0, 0
	return nil
}

// Skipped is the apply result of a delta some of whose keys could not be
// merged (a sum overflowing, say). Those keys keep their old state, the
// rest is applied and the offsets advance: the same on every replica and
// on replay, so the view never stalls on them.
type Skipped struct {
	Keys int
	Err  error // the first merge error
}

// mergeDelta merges an encoded delta with the rows of t into sm.pend and
// sm.gone (the rows its expiry sweep drops), for install. It updates
// sm.win; t is left as it is. Rows found neither in memory nor in the
// cache are read from the engine with one iterator in key order (far
// cheaper than a Get each); the engine holds what the loop committed, and
// what it has not is in t.flushing, so no indexed batch is needed.
func (sm *SM) mergeDelta(t *table, buf []byte) (*Skipped, error) {
	sm.drows, sm.in, sm.olds, sm.miss = sm.drows[:0], sm.in[:0], sm.olds[:0], sm.miss[:0]
	sm.pend, sm.out, sm.gone = sm.pend[:0], sm.out[:0], sm.gone[:0]
	plan := sm.plan
	// The entries are read straight from the encoding (sorted, each key
	// once): building the delta's hash table again on every replica was a
	// quarter of the cost of applying it.
	d, err := plan.RangeEncodedDelta(buf, func(key, state []byte) error {
		k := len(sm.in)
		sm.in = append(sm.in, key...)
		s := len(sm.in)
		sm.in = append(sm.in, state...)
		sm.drows = append(sm.drows, deltaRow{k: k, s: s, e: len(sm.in)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if plan.Watermarked() {
		sm.win.Watermark = max(sm.win.Watermark, d.MaxTime)
		sm.win.Late += d.Late
	}
	if plan.Expires() && d.Now >= sm.win.LastSweep+plan.SweepEvery() {
		if err := sm.sweep(t, d.Now); err != nil {
			return nil, err
		}
	}
	var goneSet map[string]struct{}
	if len(sm.gone) > 0 {
		goneSet = make(map[string]struct{}, len(sm.gone))
		for _, k := range sm.gone {
			goneSet[k] = struct{}{}
		}
	}
	for i := range sm.drows {
		r := &sm.drows[i]
		key := sm.in[r.k:r.s]
		if _, ok := goneSet[string(key)]; ok {
			continue
		}
		if row, ok := t.rows[string(key)]; ok {
			r.old, r.found = row.state, !row.gone
			continue
		}
		if sm.eng == nil {
			continue
		}
		if row, ok := t.flushing[string(key)]; ok {
			r.old, r.found = row.state, !row.gone
			continue
		}
		if v, ok := sm.cache.get(t.id, key); ok {
			r.old, r.found = v, true
			continue
		}
		sm.miss = append(sm.miss, i)
	}
	if err := sm.readMissing(); err != nil {
		return nil, err
	}
	var skipped *Skipped
	for i := range sm.drows {
		r := &sm.drows[i]
		var old []byte
		switch {
		case r.fromEng:
			old = sm.olds[r.eo:r.ee]
		case r.found:
			old = r.old
		}
		in := sm.in[r.s:r.e]
		if old == nil && !plan.ValidState(in) {
			// MergeState would take a new key's state as it is.
			return nil, fmt.Errorf("%w: bad state in delta", scalar.ErrCorruptState)
		}
		merged, err := plan.MergeState(sm.scratch[:0], old, in)
		if err != nil {
			if old != nil && !plan.ValidState(in) {
				return nil, err // the delta is corrupt, not the merge refused
			}
			if skipped == nil {
				skipped = &Skipped{Err: err}
			}
			skipped.Keys++
			continue
		}
		sm.scratch = merged
		m := len(sm.out)
		sm.out = append(sm.out, merged...)
		sm.pend = append(sm.pend, pendRow{k: r.k, s: r.s, m: m, e: len(sm.out)})
		if at, ok := plan.ExpiresAt(sm.in[r.k:r.s]); ok && (sm.win.MinExpiry == 0 || at < sm.win.MinExpiry) {
			sm.win.MinExpiry = at
		}
	}
	return skipped, nil
}

// readMissing reads the rows sm.miss names from the engine, in key order
// through one iterator.
func (sm *SM) readMissing() error {
	if len(sm.miss) == 0 {
		return nil
	}
	slices.SortFunc(sm.miss, func(a, b int) int {
		ra, rb := &sm.drows[a], &sm.drows[b]
		return bytes.Compare(sm.in[ra.k:ra.s], sm.in[rb.k:rb.s])
	})
	// A prefix seek (the whole key is the prefix: the engine's Split is
	// the default one) consults each table's bloom filter, L6's too, and
	// skips the tables that cannot hold the key: most keys of a view with
	// many groups are new, and a plain seek read an index and a data block
	// in every level for each of them.
	it, err := sm.eng.NewIter(&pebble.IterOptions{LowerBound: sm.rowKey(nil), UpperBound: sm.rowsEnd(), UseL6Filters: true})
	if err != nil {
		return err
	}
	for _, i := range sm.miss {
		r := &sm.drows[i]
		sm.keyBuf = append(append(append(sm.keyBuf[:0], sm.prefix...), 'r'), sm.in[r.k:r.s]...)
		if !it.SeekPrefixGE(sm.keyBuf) || !bytes.Equal(it.Key(), sm.keyBuf) {
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			it.Close()
			return fmt.Errorf("viewsm: read view row: %w", err)
		}
		r.eo = len(sm.olds)
		sm.olds = append(sm.olds, v...)
		r.ee, r.found, r.fromEng = len(sm.olds), true, true
	}
	return it.Close()
}

// install writes the rows mergeDelta left in sm.gone and sm.pend into t
// (under mu when t is published: the caller holds it).
func (sm *SM) install(t *table) {
	for _, k := range sm.gone {
		if r, ok := t.rows[k]; ok {
			t.bytes -= rowSize(k, r)
		}
		if sm.eng == nil {
			delete(t.rows, k)
			delete(sm.chg, k)
			sm.del[k] = struct{}{}
			continue
		}
		t.rows[k] = row{gone: true}
		t.bytes += rowSize(k, row{})
	}
	for _, p := range sm.pend {
		key, st := sm.in[p.k:p.s], sm.out[p.m:p.e]
		if r, ok := t.rows[string(key)]; ok && !r.gone && len(r.state) == len(st) {
			copy(r.state, st) // same size: update in place, no allocation
		} else {
			if ok {
				t.bytes -= rowSize(string(key), r)
			}
			r := row{state: slices.Clone(st)}
			t.rows[string(key)] = r
			t.bytes += rowSize(string(key), r)
		}
		if sm.eng == nil {
			if _, ok := sm.chg[string(key)]; !ok {
				sm.chg[string(key)] = struct{}{}
			}
		}
	}
}

// sweep lists in sm.gone the rows that have left the view by time now
// (the delta's time, the same on every replica) and recomputes MinExpiry.
// On disk it iterates the engine's rows under those in memory.
func (sm *SM) sweep(t *table, now int64) error {
	sm.win.LastSweep, sm.win.MinExpiry = now, 0
	note := func(k string) {
		at, ok := sm.plan.ExpiresAt([]byte(k))
		if !ok {
			return
		}
		if now >= at {
			sm.gone = append(sm.gone, k)
			return
		}
		if sm.win.MinExpiry == 0 || at < sm.win.MinExpiry {
			sm.win.MinExpiry = at
		}
	}
	for k, r := range t.rows {
		if !r.gone {
			note(k)
		}
	}
	if sm.eng == nil {
		return nil
	}
	for k, r := range t.flushing {
		if _, ok := t.rows[k]; !ok && !r.gone {
			note(k)
		}
	}
	lo := sm.rowKey(nil)
	it, err := sm.eng.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: sm.rowsEnd()})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[len(lo):]
		if _, ok := t.rows[string(k)]; ok {
			continue
		}
		if _, ok := t.flushing[string(k)]; ok {
			continue
		}
		note(string(k))
	}
	return it.Close()
}

// Window returns the view shard's watermark (largest event time folded,
// Unix microseconds), its count of late events, the earliest time a row
// expires (0 = none) and when expired rows were last dropped.
func (sm *SM) Window() (watermark int64, late uint64, minExpiry, lastSweep int64) {
	sm.mu.RLock()
	defer sm.mu.RUnlock()
	w := sm.mu.win
	return w.Watermark, w.Late, w.MinExpiry, w.LastSweep
}

// Durable publishes the applied offsets once they are synced. The loop
// calls it after committing the batch of this iteration's applies, so
// the rows a checkpoint wrote are in the engine now: they move from
// t.flushing to the cache.
func (sm *SM) Durable() {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if t := sm.mu.tab; len(t.flushing) > 0 {
		sm.mu.gen++ // a cache fill that read the engine before the commit must not land
		for k, r := range t.flushing {
			if r.gone {
				sm.cache.del(t.id, k)
			} else {
				sm.cache.put(t.id, k, r.state)
			}
		}
		t.flushing = nil
	}
	if slices.Equal(sm.mu.durable, sm.mu.offsets) {
		return
	}
	sm.mu.durable = slices.Clone(sm.mu.offsets)
	close(sm.mu.changed)
	sm.mu.changed = make(chan struct{})
}

// LeaderChanged forwards leadership changes to the task runner.
func (sm *SM) LeaderChanged(isLeader bool, term uint64) {
	if sm.onLeader != nil {
		sm.onLeader(isLeader, term)
	}
}

// Offsets returns the applied offsets.
func (sm *SM) Offsets() []uint64 {
	sm.mu.RLock()
	defer sm.mu.RUnlock()
	return slices.Clone(sm.mu.offsets)
}

// DurableOffsets returns the durable offsets and a channel closed when
// they next change.
func (sm *SM) DurableOffsets() ([]uint64, <-chan struct{}) {
	sm.mu.RLock()
	defer sm.mu.RUnlock()
	return sm.mu.durable, sm.mu.changed
}
