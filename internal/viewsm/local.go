package viewsm

import (
	"errors"
	"slices"
	"sort"
)

// A scheduled view (issue 13) has no Raft group: one owner node folds
// its stream with the same task into an SM that lives only in memory
// (ApplyLocal), and checkpoints it to a disk every interval. Capture
// copies the state for a checkpoint, either whole or only what changed
// since the previous Capture (an incremental checkpoint); Restore loads
// a checkpoint into a fresh SM on the next owner.

// Row is one group of a view: its encoded key and partial state.
type Row struct {
	Key, State []byte
}

// Snapshot is a consistent copy of the state taken between two applies.
type Snapshot struct {
	Offsets []uint64 // the source offsets the state covers
	Window  []byte   // the encoded window state (watermark, late, sweeps)
	// Full: Rows are every row. Otherwise Rows are the rows changed and
	// Deleted the keys removed since the previous Capture.
	Full    bool
	Rows    []Row // sorted by key
	Deleted [][]byte
}

// ApplyLocal applies a delta proposal to the in-memory state only, with
// the result Apply would give (nil, ErrStale, Skipped or an error), and
// publishes the new offsets at once: the owner's memory is the view's
// truth, made durable by checkpoints.
func (sm *SM) ApplyLocal(cmd []byte) any {
	res := sm.Apply(nil, 0, cmd)
	sm.Durable()
	return res
}

// Capture copies the state for a checkpoint: every row when full, else
// the rows changed and removed since the previous Capture (or Restore).
// Either way it starts a new change set. It must not run while
// LocalApply does (it takes the lock Apply holds). It is for an SM in
// memory mode (a scheduled view's); one on disk has no such copy.
func (sm *SM) Capture(full bool) *Snapshot {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.eng != nil {
		panic("viewsm: Capture of a view shard kept on disk")
	}
	rows := sm.mu.tab.rows
	snap := &Snapshot{Offsets: slices.Clone(sm.mu.offsets), Window: sm.mu.win.append(nil), Full: full}
	if full {
		snap.Rows = make([]Row, 0, len(rows))
		for k, r := range rows {
			snap.Rows = append(snap.Rows, Row{Key: []byte(k), State: slices.Clone(r.state)})
		}
	} else {
		snap.Rows = make([]Row, 0, len(sm.chg))
		for k := range sm.chg {
			if r, ok := rows[k]; ok {
				snap.Rows = append(snap.Rows, Row{Key: []byte(k), State: slices.Clone(r.state)})
			}
		}
		for k := range sm.del {
			if _, ok := rows[k]; !ok {
				snap.Deleted = append(snap.Deleted, []byte(k))
			}
		}
		sort.Slice(snap.Deleted, func(i, j int) bool { return string(snap.Deleted[i]) < string(snap.Deleted[j]) })
	}
	sort.Slice(snap.Rows, func(i, j int) bool { return string(snap.Rows[i].Key) < string(snap.Rows[j].Key) })
	clear(sm.chg)
	clear(sm.del)
	return snap
}

// Restore replaces the state of an SM in memory mode with a checkpoint's:
// offsets, rows (which it keeps; the caller must not modify them) and the
// encoded window state (empty: none). The change set starts empty.
func (sm *SM) Restore(offsets []uint64, rows map[string][]byte, window []byte) error {
	if len(offsets) != len(sm.start) {
		return errors.New("viewsm: checkpoint offsets do not match the view's stream shards")
	}
	if sm.eng != nil {
		return errors.New("viewsm: Restore loads only a view shard kept in memory")
	}
	var w winState
	if len(window) > 0 {
		if err := w.decode(window); err != nil {
			return err
		}
	}
	t := &table{rows: make(map[string]row, len(rows))}
	for k, v := range rows {
		r := row{state: v}
		t.rows[k] = r
		t.bytes += rowSize(k, r)
	}
	sm.mu.Lock()
	sm.mu.offsets = slices.Clone(offsets)
	sm.mu.tab = t
	sm.mu.gen++
	sm.win = w
	sm.mu.win = w
	clear(sm.chg)
	clear(sm.del)
	sm.mu.Unlock()
	sm.Durable()
	return nil
}

// Len returns the number of rows (on disk, by counting them).
func (sm *SM) Len() int {
	sm.mu.RLock()
	if sm.eng == nil {
		defer sm.mu.RUnlock()
		return len(sm.mu.tab.rows)
	}
	sm.mu.RUnlock()
	n := 0
	_ = sm.Rows(func(_, _ []byte) error { n++; return nil })
	return n
}
