package streamsm

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairndb/cairn/internal/types"
)

// Rerouting (issue 15, WITH (on_shard_unavailable = 'reroute')): a batch
// part meant for shard A, whose append got no answer in time, is parked in
// the next shard B with its batch id and origin; it is not in B's log
// (no reader and no view task sees it) until a reconciler asks A to fence
// the id. A's answer is decided by A's own log order, so it is final:
// either A applied the id before the fence (B drops its copy) or A never
// will (B releases its copy into its log under the same id). See
// internal/router/DESIGN.md for the whole argument.
//
// Keys in the group's data range:
//
//	p<batch id 16>  -> origin gid BE8 | ingest time | [targets] | encoded batch   (a parked part)
//	x               -> JSON RerouteStats                                         (counters)
//	i<batch id 16>  -> start | end | 'F'   (a fenced id in the dedupe table)
const (
	opPark    = 'P' // park a rerouted part: id, origin gid, body
	opRelease = 'L' // release a parked part into the log: id, body (an append that also unparks)
	opDrop    = 'D' // drop a parked part: id (its origin had it)
	opFence   = 'F' // fence an id on the origin shard: id
)

// fenceMark ends a dedupe-table value that records a fenced id.
const fenceMark = 'F'

// MaxParked bounds the parts a shard holds parked at once; past it a
// reroute is refused (the insert fails as it would without reroute).
const MaxParked = 10000

// ErrTooManyParked is the apply result of a park past MaxParked.
var ErrTooManyParked = errors.New("streamsm: too many rerouted batches wait for their origin shard")

// FenceResult is the apply result of a fence: Had is true when the
// origin shard applied the batch id before the fence, false when the id
// is now fenced (a later append of it is a no-op).
type FenceResult struct{ Had bool }

// ParkResult is the apply result of a park. Dup: the id was parked or
// released here before.
type ParkResult struct{ Dup bool }

// Parked is one part held by this shard for its origin shard's answer.
type Parked struct {
	ID     [BatchIDLen]byte
	Origin uint64 // the stream shard (group) it was meant for
	Body   []byte // ingest time | [targets] | encoded batch
	Rows   int
}

// RerouteStats counts the parts rerouted into this shard. From counts by
// origin group: [batches, events].
type RerouteStats struct {
	InBatches, InEvents uint64
	Released, Dropped   uint64 // parts resolved: into the log, or dropped (origin had them)
	From                map[uint64][2]uint64
}

// EncodePark returns the command that parks a part meant for shard
// origin under batch id id; body is what EncodeAppendTo puts after the
// id.
func EncodePark(id [BatchIDLen]byte, origin uint64, body []byte) []byte {
	cmd := make([]byte, 0, 1+BatchIDLen+8+len(body))
	cmd = append(cmd, opPark)
	cmd = append(cmd, id[:]...)
	cmd = binary.BigEndian.AppendUint64(cmd, origin)
	return append(cmd, body...)
}

// EncodeRelease returns the command that moves parked part id into the
// shard's log. It carries the body so that the log entry alone rebuilds
// the tail after a restart, like an append.
func EncodeRelease(id [BatchIDLen]byte, body []byte) []byte {
	cmd := make([]byte, 0, 1+BatchIDLen+len(body))
	cmd = append(cmd, opRelease)
	cmd = append(cmd, id[:]...)
	return append(cmd, body...)
}

// EncodeDrop returns the command that forgets parked part id.
func EncodeDrop(id [BatchIDLen]byte) []byte {
	return append([]byte{opDrop}, id[:]...)
}

// EncodeFence returns the command that fences batch id id on a shard.
func EncodeFence(id [BatchIDLen]byte) []byte {
	return append([]byte{opFence}, id[:]...)
}

// AppendBody splits an append command into its batch id and body.
func AppendBody(cmd []byte) (id [BatchIDLen]byte, body []byte, ok bool) {
	if len(cmd) < 1+BatchIDLen+8 || cmd[0] != opAppend {
		return id, nil, false
	}
	copy(id[:], cmd[1:])
	return id, cmd[1+BatchIDLen:], true
}

// rerouteState is the shard's parked parts and counters, owned by the
// apply loop and read by the reconciler (Parked, RerouteStats).
type rerouteState struct {
	parked map[[BatchIDLen]byte]Parked
	fenced map[[BatchIDLen]byte]bool // ids in the dedupe table that are fences
	stats  RerouteStats
}

func (sm *SM) applyReroute(wb *pebble.Batch, index uint64, cmd []byte) any {
	if len(cmd) < 1+BatchIDLen {
		return fmt.Errorf("%w: short reroute command", ErrCorruptCommand)
	}
	var id [BatchIDLen]byte
	copy(id[:], cmd[1:])
	rest := cmd[1+BatchIDLen:]
	switch cmd[0] {
	case opPark:
		if len(rest) < 8+8 {
			return fmt.Errorf("%w: short park", ErrCorruptCommand)
		}
		origin, body := binary.BigEndian.Uint64(rest), rest[8:]
		_, _, enc, ok := splitValue(body)
		n, ok2 := types.EncodedRows(enc)
		if !ok || !ok2 {
			return fmt.Errorf("%w: bad parked batch at index %d", ErrCorruptCommand, index)
		}
		sm.rrMu.Lock()
		defer sm.rrMu.Unlock()
		if _, ok := sm.rr.parked[id]; ok {
			return ParkResult{Dup: true}
		}
		if _, ok := sm.ids[id]; ok {
			return ParkResult{Dup: true} // released here already
		}
		if len(sm.rr.parked) >= MaxParked {
			return ErrTooManyParked
		}
		if err := wb.Set(sm.key([]byte("p"), id[:]), rest, nil); err != nil {
			return err
		}
		sm.rr.parked[id] = Parked{ID: id, Origin: origin, Body: append([]byte(nil), body...), Rows: n}
		st := &sm.rr.stats
		st.InBatches++
		st.InEvents += uint64(n)
		if st.From == nil {
			st.From = map[uint64][2]uint64{}
		}
		f := st.From[origin]
		st.From[origin] = [2]uint64{f[0] + 1, f[1] + uint64(n)}
		if err := sm.writeRerouteStatsLocked(wb); err != nil {
			return err
		}
		return ParkResult{}
	case opRelease:
		sm.rrMu.Lock()
		_, parked := sm.rr.parked[id]
		sm.rrMu.Unlock()
		if !parked {
			// Released before (a duplicate): the original offsets; never
			// parked: nothing to do (only a parked part may enter).
			if se, ok := sm.ids[id]; ok {
				return AppendResult{Start: se[0], End: se[1], Dup: true}
			}
			return AppendResult{Start: sm.next, End: sm.next, Dup: true}
		}
		res := sm.applyAppend(wb, index, id, rest)
		if err, ok := res.(error); ok {
			return err
		}
		sm.rrMu.Lock()
		defer sm.rrMu.Unlock()
		delete(sm.rr.parked, id)
		sm.rr.stats.Released++
		if err := wb.Delete(sm.key([]byte("p"), id[:]), nil); err != nil {
			return err
		}
		if err := sm.writeRerouteStatsLocked(wb); err != nil {
			return err
		}
		return res
	case opDrop:
		sm.rrMu.Lock()
		defer sm.rrMu.Unlock()
		if _, ok := sm.rr.parked[id]; !ok {
			return nil
		}
		delete(sm.rr.parked, id)
		sm.rr.stats.Dropped++
		if err := wb.Delete(sm.key([]byte("p"), id[:]), nil); err != nil {
			return err
		}
		return sm.writeRerouteStatsLocked(wb)
	case opFence:
		// Decided by this shard's log order: an append of id applied
		// before this entry is found; one after it is a duplicate.
		if _, ok := sm.ids[id]; ok {
			sm.rrMu.Lock()
			fenced := sm.rr.fenced[id]
			sm.rrMu.Unlock()
			return FenceResult{Had: !fenced}
		}
		var v [17]byte
		binary.BigEndian.PutUint64(v[:], sm.next)
		binary.BigEndian.PutUint64(v[8:], sm.next)
		v[16] = fenceMark
		if err := wb.Set(sm.key([]byte("i"), id[:]), v[:], nil); err != nil {
			return err
		}
		sm.ids[id] = [2]uint64{sm.next, sm.next}
		sm.idOrder = append(sm.idOrder, id)
		sm.rrMu.Lock()
		sm.rr.fenced[id] = true
		sm.rrMu.Unlock()
		return FenceResult{Had: false}
	}
	return fmt.Errorf("%w: unknown op %q", ErrCorruptCommand, cmd[0])
}

// forgetFence drops id from the fenced set (its dedupe entry is evicted).
func (sm *SM) forgetFence(id [BatchIDLen]byte) {
	sm.rrMu.Lock()
	delete(sm.rr.fenced, id)
	sm.rrMu.Unlock()
}

func (sm *SM) isFenced(id [BatchIDLen]byte) bool {
	sm.rrMu.Lock()
	defer sm.rrMu.Unlock()
	return sm.rr.fenced[id]
}

func (sm *SM) writeRerouteStatsLocked(wb *pebble.Batch) error {
	b, err := json.Marshal(sm.rr.stats)
	if err != nil {
		return err
	}
	return wb.Set(sm.key([]byte("x")), b, nil)
}

// loadReroute reads the parked parts and counters (Load).
func (sm *SM) loadReroute(r pebble.Reader) error {
	st := rerouteState{parked: map[[BatchIDLen]byte]Parked{}, fenced: map[[BatchIDLen]byte]bool{}}
	v, closer, err := r.Get(sm.key([]byte("x")))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return err
	default:
		err := json.Unmarshal(v, &st.stats)
		closer.Close()
		if err != nil {
			return fmt.Errorf("streamsm: shard %d: reroute counters: %w", sm.gid, err)
		}
	}
	lo := sm.key([]byte("p"))
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: sm.key([]byte("q"))})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		var id [BatchIDLen]byte
		copy(id[:], it.Key()[len(lo):])
		val := it.Value()
		if len(val) < 16 {
			continue
		}
		body := append([]byte(nil), val[8:]...)
		_, _, enc, _ := splitValue(body)
		n, _ := types.EncodedRows(enc)
		st.parked[id] = Parked{ID: id, Origin: binary.BigEndian.Uint64(val), Body: body, Rows: n}
	}
	if err := it.Close(); err != nil {
		return err
	}
	sm.rrMu.Lock()
	sm.rr = st
	sm.rrMu.Unlock()
	return nil
}

// Parked returns the parts this shard holds for their origin's answer,
// oldest first by id (the reconciler resolves them).
func (sm *SM) Parked() []Parked {
	sm.rrMu.Lock()
	defer sm.rrMu.Unlock()
	out := make([]Parked, 0, len(sm.rr.parked))
	for _, p := range sm.rr.parked {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Parked) int { return slices.Compare(a.ID[:], b.ID[:]) })
	return out
}

// RerouteStats returns the shard's reroute counters and how many parts
// it holds parked.
func (sm *SM) RerouteStats() (RerouteStats, int) {
	sm.rrMu.Lock()
	defer sm.rrMu.Unlock()
	st := sm.rr.stats
	st.From = make(map[uint64][2]uint64, len(sm.rr.stats.From))
	for k, v := range sm.rr.stats.From {
		st.From[k] = v
	}
	return st, len(sm.rr.parked)
}
