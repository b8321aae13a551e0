package viewsm

import (
	"bytes"
	"errors"
	"slices"
	"sort"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairndb/cairn/internal/errkind"
)

// ErrStateReplaced is returned by a read that found the view shard's
// engine state replaced under it for longer than readRetryFor (a
// snapshot installed but not yet loaded, or the replica destroyed). It
// is retryable (a client sees SQLSTATE 40001): the read may succeed
// again, on this replica or another.
var ErrStateReplaced = errkind.New(errkind.Retryable, "the view shard's state is being replaced on this node (a snapshot is loading, or the replica is being removed); retry the read")

// readRetryFor bounds how long a read waits for Load after finding a
// newer state in the engine than in memory.
const readRetryFor = 5 * time.Second

// ovRow is a row of the in-memory overlay a scan merges with the engine.
type ovRow struct {
	key   string
	state []byte
	gone  bool
}

// Rows calls fn for every stored group (key, state), in key order on
// disk. The state it reads is the one after some applied delta: the
// engine's rows (a Pebble iterator, itself a point-in-time view) under
// a copy of the rows changed since the last checkpoint, both taken under
// the read lock; fn runs without the lock, so a slow reader (a client
// fetching a big result) never holds up Apply and with it the raft loop.
// fn must not retain either slice.
func (sm *SM) Rows(fn func(key, state []byte) error) error {
	deadline := time.Now().Add(readRetryFor)
	for {
		err := sm.scan(fn)
		if !errors.Is(err, errRetryRead) {
			return err
		}
		if time.Now().After(deadline) {
			return ErrStateReplaced
		}
		time.Sleep(time.Millisecond)
	}
}

// errRetryRead: the engine holds a state the SM has not loaded yet.
var errRetryRead = errors.New("viewsm: retry read")

func (sm *SM) scan(fn func(key, state []byte) error) error {
	sm.mu.RLock()
	eng, t := sm.eng, sm.mu.tab
	if eng == nil {
		rows := make([]ovRow, 0, len(t.rows))
		for k, r := range t.rows {
			rows = append(rows, ovRow{key: k, state: slices.Clone(r.state)})
		}
		sm.mu.RUnlock()
		for _, r := range rows {
			if err := fn([]byte(r.key), r.state); err != nil {
				return err
			}
		}
		return nil
	}
	it, err := eng.NewIter(&pebble.IterOptions{LowerBound: sm.offsetsKey(), UpperBound: sm.rowsEnd()})
	if err != nil {
		sm.mu.RUnlock()
		return err
	}
	ov := overlay(t)
	applied, durable := slices.Clone(sm.mu.offsets), sm.mu.durable
	sm.mu.RUnlock()
	defer it.Close()

	// The engine is at the last commit, which is the durable state or,
	// between a commit and Durable, the applied one; the overlay keeps
	// every row changed since, so the two make the applied state. Any
	// other engine state is a snapshot not yet loaded (or a replica
	// being destroyed): wait for Load.
	stored := sm.start
	if ok := it.SeekGE(sm.offsetsKey()); ok && bytes.Equal(it.Key(), sm.offsetsKey()) {
		if stored, err = decodeStoredOffsets(it.Value()); err != nil {
			return err
		}
	}
	if !slices.Equal(stored, applied) && !slices.Equal(stored, durable) {
		return errRetryRead
	}
	lo := sm.rowKey(nil)
	i := 0
	var kb []byte
	for valid := it.SeekGE(lo); valid || i < len(ov); {
		var k []byte
		if valid {
			k = it.Key()[len(lo):]
		}
		if i < len(ov) && (!valid || ov[i].key <= string(k)) {
			r := ov[i]
			i++
			if valid && r.key == string(k) {
				valid = it.Next()
			}
			if r.gone {
				continue
			}
			kb = append(kb[:0], r.key...)
			if err := fn(kb, r.state); err != nil {
				return err
			}
			continue
		}
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := fn(k, v); err != nil {
			return err
		}
		valid = it.Next()
	}
	return it.Error()
}

// overlay copies t's rows (flushing under rows) sorted by key. The
// caller holds mu's read lock.
func overlay(t *table) []ovRow {
	ov := make([]ovRow, 0, len(t.rows)+len(t.flushing))
	for k, r := range t.flushing {
		if _, ok := t.rows[k]; ok {
			continue
		}
		ov = append(ov, ovRow{key: k, state: slices.Clone(r.state), gone: r.gone})
	}
	for k, r := range t.rows {
		ov = append(ov, ovRow{key: k, state: slices.Clone(r.state), gone: r.gone})
	}
	sort.Slice(ov, func(i, j int) bool { return ov[i].key < ov[j].key })
	return ov
}

// Lookup calls fn with the state stored for one encoded group key, if
// any: the rows changed since the last checkpoint, then the cache, then
// the engine (whose row it caches). fn must not retain or modify state.
func (sm *SM) Lookup(key []byte, fn func(state []byte) error) error {
	sm.mu.RLock()
	eng, t, gen := sm.eng, sm.mu.tab, sm.mu.gen
	r, ok := t.rows[string(key)]
	if !ok {
		r, ok = t.flushing[string(key)]
	}
	if ok || eng == nil {
		st := slices.Clone(r.state)
		sm.mu.RUnlock()
		if !ok || r.gone {
			return nil
		}
		return fn(st)
	}
	sm.mu.RUnlock()
	if st, ok := sm.cache.get(t.id, key); ok {
		return fn(st)
	}
	v, closer, err := eng.Get(sm.rowKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	st := slices.Clone(v)
	closer.Close()
	// Cache what was read unless a checkpoint was made durable since
	// (it may have put a newer row in the cache) or the state replaced.
	sm.mu.Lock()
	if sm.mu.gen == gen && sm.mu.tab == t {
		sm.cache.put(t.id, string(key), st)
	}
	sm.mu.Unlock()
	return fn(st)
}
