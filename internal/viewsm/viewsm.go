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
//
// Rewriting every touched group row on every delta would cost one engine
// write per key per delta (10,000 keys × tens of deltas a second under
// load), so Apply writes the delta itself as one value and folds the
// rows it touched into the r rows only every checkpointEvery deltas (or
// when the view task asks, every checkpoint_interval). Load
// reads the r rows and replays the logged deltas. Both land in the same
// batch as the applied index, so the durable state is always exact.
package viewsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairndb/cairn/internal/sql/exec"
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
type SM struct {
	prefix   []byte
	plan     *exec.ViewPlan
	start    []uint64 // offsets a new view starts from (catalog)
	onLeader func(isLeader bool, term uint64)

	// Owned by the apply loop.
	delta       *exec.Delta         // scratch
	scratch     []byte              // scratch for merged states
	dirty       map[string]struct{} // keys changed since the last checkpoint
	deleted     map[string]struct{} // keys expired since the last checkpoint
	logged      int                 // deltas logged since the last checkpoint
	loggedBytes int
	win         winState // window state as of the last applied delta

	mu struct {
		sync.RWMutex
		offsets []uint64
		rows    map[string][]byte
		durable []uint64      // offsets whose state is durable
		changed chan struct{} // closed when durable advances
		win     winState      // copy of win for readers
	}
}

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

// New returns a view shard state machine.
func New(prefix []byte, plan *exec.ViewPlan, start []uint64, onLeader func(bool, uint64)) *SM {
	sm := &SM{prefix: append([]byte(nil), prefix...), plan: plan, start: slices.Clone(start), onLeader: onLeader}
	sm.delta = plan.NewDelta()
	sm.dirty = map[string]struct{}{}
	sm.deleted = map[string]struct{}{}
	sm.mu.offsets = slices.Clone(start)
	sm.mu.durable = slices.Clone(start)
	sm.mu.rows = map[string][]byte{}
	sm.mu.changed = make(chan struct{})
	return sm
}

// Plan returns the view's plan.
func (sm *SM) Plan() *exec.ViewPlan { return sm.plan }

func (sm *SM) offsetsKey() []byte { return append(slices.Clone(sm.prefix), 'o') }

// winKey holds the window state as of the last checkpoint (logged deltas
// replay on top of it, like the rows).
func (sm *SM) winKey() []byte { return append(slices.Clone(sm.prefix), 'w') }

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

// Load rebuilds the rows and offsets from the engine.
func (sm *SM) Load(r pebble.Reader) error {
	offsets := slices.Clone(sm.start)
	v, closer, err := r.Get(sm.offsetsKey())
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return err
	default:
		n, k := binary.Uvarint(v)
		if k <= 0 {
			closer.Close()
			return errors.New("viewsm: corrupt stored offsets")
		}
		offsets, _, err = decodeOffsets(v[k:], int(n))
		closer.Close()
		if err != nil {
			return err
		}
	}
	rows := map[string][]byte{}
	lo := sm.rowKey(nil)
	hi := append(slices.Clone(sm.prefix), 's')
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		rows[string(it.Key()[len(lo):])] = slices.Clone(it.Value())
	}
	if err := it.Close(); err != nil {
		return err
	}
	sm.dirty = map[string]struct{}{}
	sm.deleted = map[string]struct{}{}
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
	it, err = r.NewIter(&pebble.IterOptions{LowerBound: sm.logKey(0), UpperBound: sm.logKey(^uint64(0))})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if _, err := sm.mergeDelta(rows, it.Value()); err != nil {
			it.Close()
			return fmt.Errorf("viewsm: replay logged delta: %w", err)
		}
		sm.logged++
		sm.loggedBytes += len(it.Value())
	}
	if err := it.Close(); err != nil {
		return err
	}
	sm.mu.Lock()
	sm.mu.offsets = offsets
	sm.mu.rows = rows
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
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if !slices.Equal(from, sm.mu.offsets) {
		return ErrStale
	}
	skipped, err := sm.mergeDelta(sm.mu.rows, buf)
	if err != nil {
		return err
	}
	if wb == nil {
		// ApplyLocal: memory only; dirty and deleted gather the changes
		// for the next Capture.
		sm.mu.offsets = to
		sm.mu.win = sm.win
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
	if sm.logged >= checkpointEvery || sm.loggedBytes >= checkpointBytes || cmd[0] == opDeltaCheckpoint {
		for k := range sm.dirty {
			if err := wb.Set(sm.rowKey([]byte(k)), sm.mu.rows[k], nil); err != nil {
				return err
			}
		}
		for k := range sm.deleted {
			if _, ok := sm.mu.rows[k]; ok {
				continue
			}
			if err := wb.Delete(sm.rowKey([]byte(k)), nil); err != nil {
				return err
			}
		}
		clear(sm.deleted)
		if sm.plan.Expires() || sm.plan.Watermarked() {
			if err := wb.Set(sm.winKey(), sm.win.append(nil), nil); err != nil {
				return err
			}
		}
		if err := wb.DeleteRange(sm.logKey(0), sm.logKey(index+1), nil); err != nil {
			return err
		}
		clear(sm.dirty)
		sm.logged, sm.loggedBytes = 0, 0
	}
	sm.mu.offsets = to
	sm.mu.win = sm.win
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

// Skipped is the apply result of a delta some of whose keys could not be
// merged (a sum overflowing, say). Those keys keep their old state, the
// rest is applied and the offsets advance: the same on every replica and
// on replay, so the view never stalls on them.
type Skipped struct {
	Keys int
	Err  error // the first merge error
}

// mergeDelta folds an encoded delta into rows and marks its keys dirty.
func (sm *SM) mergeDelta(rows map[string][]byte, buf []byte) (*Skipped, error) {
	if err := sm.plan.DecodeDelta(buf, sm.delta); err != nil {
		return nil, err
	}
	var skipped *Skipped
	d, plan := sm.delta, sm.plan
	if plan.Watermarked() {
		sm.win.Watermark = max(sm.win.Watermark, d.MaxTime)
		sm.win.Late += d.Late
	}
	if plan.Expires() && d.Now >= sm.win.LastSweep+plan.SweepEvery() {
		sm.sweep(rows, d.Now)
	}
	err := sm.delta.Range(func(key, state []byte) error {
		old, ok := rows[string(key)]
		merged, err := sm.plan.MergeState(sm.scratch[:0], old, state)
		if err != nil {
			if skipped == nil {
				skipped = &Skipped{Err: err}
			}
			skipped.Keys++
			return nil
		}
		sm.scratch = merged
		if ok && len(merged) == len(old) {
			copy(old, merged) // same size: update in place, no allocation
		} else {
			rows[string(key)] = slices.Clone(merged)
		}
		if _, ok := sm.dirty[string(key)]; !ok {
			sm.dirty[string(key)] = struct{}{}
		}
		if at, ok := plan.ExpiresAt(key); ok && (sm.win.MinExpiry == 0 || at < sm.win.MinExpiry) {
			sm.win.MinExpiry = at
		}
		return nil
	})
	return skipped, err
}

// sweep drops the rows that have left the view by time now (the
// delta's time, the same on every replica) and recomputes MinExpiry.
func (sm *SM) sweep(rows map[string][]byte, now int64) {
	sm.win.LastSweep, sm.win.MinExpiry = now, 0
	for k := range rows {
		at, ok := sm.plan.ExpiresAt([]byte(k))
		if !ok {
			continue
		}
		if now >= at {
			delete(rows, k)
			delete(sm.dirty, k)
			sm.deleted[k] = struct{}{}
			continue
		}
		if sm.win.MinExpiry == 0 || at < sm.win.MinExpiry {
			sm.win.MinExpiry = at
		}
	}
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

// Durable publishes the applied offsets once they are synced.
func (sm *SM) Durable() {
	sm.mu.Lock()
	defer sm.mu.Unlock()
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

// Rows calls fn for every stored group (key, state). It copies the rows
// under the read lock and calls fn without it, so a slow reader (a client
// fetching a big result) never holds up Apply and with it the raft loop.
// fn must not retain either slice.
func (sm *SM) Rows(fn func(key, state []byte) error) error {
	sm.mu.RLock()
	keys := make([]string, 0, len(sm.mu.rows))
	size := 0
	for k, v := range sm.mu.rows {
		keys = append(keys, k)
		size += len(v)
	}
	states := make([]byte, 0, size)
	ends := make([]int, len(keys))
	for i, k := range keys {
		states = append(states, sm.mu.rows[k]...)
		ends[i] = len(states)
	}
	sm.mu.RUnlock()
	start := 0
	for i, k := range keys {
		if err := fn([]byte(k), states[start:ends[i]:ends[i]]); err != nil {
			return err
		}
		start = ends[i]
	}
	return nil
}

// Lookup calls fn with the state stored for one encoded group key, if
// any (a copy taken under the read lock); fn must not retain state.
func (sm *SM) Lookup(key []byte, fn func(state []byte) error) error {
	sm.mu.RLock()
	st, ok := sm.mu.rows[string(key)]
	st = slices.Clone(st)
	sm.mu.RUnlock()
	if !ok {
		return nil
	}
	return fn(st)
}
