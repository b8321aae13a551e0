package viewsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairndb/cairn/internal/sql/exec"
)

// RESTORE loads a view shard from a backup: one restore command carries
// the shard's folded state (offsets, window state, rows) and Apply
// installs it in a new view shard before its task folds anything (the
// streams are restored after their views, so the task has nothing to
// fold until then). The task then folds the stream events after the
// restored offsets, as after any restart.

// opRestore is a restore command.
const opRestore = 'R'

// ErrNotFresh is the apply result of a restore into a view shard that
// already holds state.
var ErrNotFresh = errors.New("viewsm: the view shard already holds state; a restore loads only a new view shard")

// Restored is the apply result of a restore command.
type Restored struct{ Rows int }

// State is a view shard's folded state.
type State struct {
	Offsets              []uint64
	Watermark            int64
	Late                 uint64
	MinExpiry, LastSweep int64
	Rows                 []Row
}

// LoadState folds the keys of a view shard's data range (without the
// group prefix, as a backup's SST holds them) into its state, replaying
// logged deltas as Load does. start is the view's start offsets.
func LoadState(plan *exec.ViewPlan, start []uint64, scan func(fn func(k, v []byte) error) error) (*State, error) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	b := db.NewBatch()
	if err := scan(func(k, v []byte) error { return b.Set(k, v, nil) }); err != nil {
		b.Close()
		return nil, err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return nil, err
	}
	sm := New(nil, plan, start, nil)
	if err := sm.Load(db); err != nil {
		return nil, err
	}
	st := &State{Offsets: sm.Offsets()}
	st.Watermark, st.Late, st.MinExpiry, st.LastSweep = sm.Window()
	err = sm.Rows(func(key, state []byte) error {
		st.Rows = append(st.Rows, Row{Key: slices.Clone(key), State: slices.Clone(state)})
		return nil
	})
	slices.SortFunc(st.Rows, func(a, b Row) int { return bytes.Compare(a.Key, b.Key) })
	return st, err
}

// EncodeRestore returns the restore command of st.
func EncodeRestore(st *State) []byte {
	out := []byte{opRestore}
	out = binary.AppendUvarint(out, uint64(len(st.Offsets)))
	for _, o := range st.Offsets {
		out = binary.AppendUvarint(out, o)
	}
	w := winState{Watermark: st.Watermark, Late: st.Late, LastSweep: st.LastSweep, MinExpiry: st.MinExpiry}
	out = w.append(out)
	out = binary.AppendUvarint(out, uint64(len(st.Rows)))
	for _, r := range st.Rows {
		out = binary.AppendUvarint(out, uint64(len(r.Key)))
		out = append(out, r.Key...)
		out = binary.AppendUvarint(out, uint64(len(r.State)))
		out = append(out, r.State...)
	}
	return out
}

// decodeRestore decodes a restore command.
func decodeRestore(cmd []byte) (*State, winState, error) {
	bad := func() (*State, winState, error) {
		return nil, winState{}, errors.New("viewsm: corrupt restore command")
	}
	buf := cmd[1:]
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > 1<<16 {
		return bad()
	}
	offs, buf, err := decodeOffsets(buf[k:], int(n))
	if err != nil {
		return bad()
	}
	var w winState
	// winState.decode needs each field; re-read them to learn the length.
	rest := buf
	fields := 0
	for fields < 4 {
		_, kk := binary.Uvarint(rest)
		if kk <= 0 {
			return bad()
		}
		rest = rest[kk:]
		fields++
	}
	if err := w.decode(buf[:len(buf)-len(rest)]); err != nil {
		return bad()
	}
	buf = rest
	nrows, k := binary.Uvarint(buf)
	if k <= 0 || nrows > uint64(len(buf)) {
		return bad()
	}
	buf = buf[k:]
	st := &State{Offsets: offs, Watermark: w.Watermark, Late: w.Late, MinExpiry: w.MinExpiry, LastSweep: w.LastSweep}
	next := func() ([]byte, bool) {
		l, k := binary.Uvarint(buf)
		if k <= 0 || l > uint64(len(buf)-k) {
			return nil, false
		}
		b := buf[k : k+int(l)]
		buf = buf[k+int(l):]
		return b, true
	}
	for i := uint64(0); i < nrows; i++ {
		key, ok := next()
		if !ok {
			return bad()
		}
		state, ok := next()
		if !ok {
			return bad()
		}
		st.Rows = append(st.Rows, Row{Key: key, State: state})
	}
	if len(buf) != 0 {
		return bad()
	}
	return st, w, nil
}

// applyRestore installs a restored state in a new view shard. Applied
// again (a retried proposal), it finds its own state and succeeds.
func (sm *SM) applyRestore(wb *pebble.Batch, index uint64, cmd []byte) any {
	st, w, err := decodeRestore(cmd)
	if err != nil {
		return fmt.Errorf("%w at index %d", err, index)
	}
	if wb == nil {
		return errors.New("viewsm: a restore applies only with a batch")
	}
	if len(sm.start) > 0 && len(st.Offsets) != len(sm.start) {
		return fmt.Errorf("viewsm: restore of %d offsets into a view over %d stream shards", len(st.Offsets), len(sm.start))
	}
	empty, err := sm.empty()
	if err != nil {
		return err
	}
	fresh := empty && sm.logged == 0 && slices.Equal(sm.mu.offsets, sm.start)
	if !fresh {
		if slices.Equal(sm.mu.offsets, st.Offsets) && sm.Len() == len(st.Rows) {
			return Restored{Rows: len(st.Rows)} // this restore, applied before
		}
		return ErrNotFresh
	}
	rows := make(map[string]row, len(st.Rows))
	bytes := 0
	for _, r := range st.Rows {
		rr := row{state: slices.Clone(r.State)}
		rows[string(r.Key)] = rr
		bytes += rowSize(string(r.Key), rr)
		if err := wb.Set(sm.rowKey(r.Key), r.State, nil); err != nil {
			return err
		}
	}
	if err := wb.Set(sm.winKey(), w.append(nil), nil); err != nil {
		return err
	}
	ob := binary.AppendUvarint(nil, uint64(len(st.Offsets)))
	for _, o := range st.Offsets {
		ob = binary.AppendUvarint(ob, o)
	}
	if err := wb.Set(sm.offsetsKey(), ob, nil); err != nil {
		return err
	}
	clear(sm.chg)
	clear(sm.del)
	sm.win = w
	sm.mu.Lock()
	defer sm.mu.Unlock()
	t := sm.mu.tab
	if sm.eng == nil {
		t.rows, t.bytes = rows, bytes
	} else {
		// Written into wb: readers see them from memory until Durable.
		t.flushing = rows
	}
	sm.mu.offsets = slices.Clone(st.Offsets)
	sm.mu.win = w
	return Restored{Rows: len(st.Rows)}
}

// empty says whether the SM holds no rows (in memory or the engine).
func (sm *SM) empty() (bool, error) {
	t := sm.mu.tab
	if len(t.rows) > 0 || len(t.flushing) > 0 {
		return false, nil
	}
	if sm.eng == nil {
		return true, nil
	}
	it, err := sm.eng.NewIter(&pebble.IterOptions{LowerBound: sm.rowKey(nil), UpperBound: sm.rowsEnd()})
	if err != nil {
		return false, err
	}
	has := it.First()
	return !has, it.Close()
}
