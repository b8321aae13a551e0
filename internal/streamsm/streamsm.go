// Package streamsm is the state machine of a stream shard: an append-only
// log of columnar batches keyed by event offset, plus a table of recent
// batch ids so that a retried proposal is applied once.
//
// Key layout inside the group's data range:
//
//	m                  -> next offset (8 bytes BE)
//	b<start BE8>       -> ingest time (8, unix µs) | [targets] | encoded batch
//	i<batch id 16>     -> start BE8 | end BE8   (dedupe table, bounded)
//
// A batch aimed at some views only (pipelinedb.stream_targets) sets the
// top bit of its ingest time and carries its target set (a uvarint
// count, then the view ids as uvarints) before the batch; view tasks of
// other views move past it without folding it.
package streamsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairndb/cairn/internal/types"
)

// BatchIDLen is the length of a batch id.
const BatchIDLen = 16

// maxDedupe bounds the remembered batch ids per shard.
const maxDedupe = 20000

const (
	opAppend = 'A'
	opTrim   = 'T'
)

// ErrCorruptCommand is returned (as an apply result) for an undecodable command.
var ErrCorruptCommand = errors.New("streamsm: corrupt command")

// AppendResult is the result of an append: the offsets [Start, End) the
// batch occupies. Dup is set when the batch id was seen before (the
// offsets are the original ones).
type AppendResult struct {
	Start, End uint64
	Dup        bool
}

// EncodeAppend returns an append command for an encoded batch.
func EncodeAppend(dst []byte, id [BatchIDLen]byte, ingestMicros int64, encodedBatch []byte) []byte {
	return EncodeAppendTo(dst, id, ingestMicros, nil, encodedBatch)
}

// EncodeAppendTo returns an append command for an encoded batch that
// only the views with the given ids fold (none given: every view).
func EncodeAppendTo(dst []byte, id [BatchIDLen]byte, ingestMicros int64, targets []uint64, encodedBatch []byte) []byte {
	dst = append(dst, opAppend)
	dst = append(dst, id[:]...)
	if len(targets) == 0 {
		dst = binary.BigEndian.AppendUint64(dst, uint64(ingestMicros))
		return append(dst, encodedBatch...)
	}
	dst = binary.BigEndian.AppendUint64(dst, uint64(ingestMicros)|targetedBit)
	dst = append(dst, EncodeTargets(targets)...)
	return append(dst, encodedBatch...)
}

// targetedBit marks, in a stored batch's ingest time, a batch with a
// target set.
const targetedBit = 1 << 63

// Targets is a batch's encoded target set: the views that fold it. Empty
// means every view.
type Targets []byte

// EncodeTargets encodes a set of view ids.
func EncodeTargets(ids []uint64) Targets {
	if len(ids) == 0 {
		return nil
	}
	t := binary.AppendUvarint(nil, uint64(len(ids)))
	for _, id := range ids {
		t = binary.AppendUvarint(t, id)
	}
	return t
}

// Has reports whether the view with id folds the batch.
func (t Targets) Has(id uint64) bool {
	if len(t) == 0 {
		return true
	}
	n, k := binary.Uvarint(t)
	for i := uint64(0); i < n && k > 0; i++ {
		t = t[k:]
		var v uint64
		v, k = binary.Uvarint(t)
		if k > 0 && v == id {
			return true
		}
	}
	return false
}

// IDs decodes the view ids (nil: every view).
func (t Targets) IDs() []uint64 {
	if len(t) == 0 {
		return nil
	}
	n, k := binary.Uvarint(t)
	var ids []uint64
	for i := uint64(0); i < n && k > 0 && i < uint64(len(t)); i++ {
		t = t[k:]
		var v uint64
		v, k = binary.Uvarint(t)
		if k > 0 {
			ids = append(ids, v)
		}
	}
	return ids
}

// splitValue splits a stored batch value (or an append command's body)
// into its ingest time, target set and encoded batch.
func splitValue(v []byte) (ingest int64, targets Targets, batch []byte, ok bool) {
	if len(v) < 8 {
		return 0, nil, nil, false
	}
	h := binary.BigEndian.Uint64(v)
	rest := v[8:]
	if h&targetedBit != 0 {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)) {
			return 0, nil, nil, false
		}
		end := k
		for i := uint64(0); i < n; i++ {
			_, kk := binary.Uvarint(rest[end:])
			if kk <= 0 {
				return 0, nil, nil, false
			}
			end += kk
		}
		targets, rest = Targets(rest[:end]), rest[end:]
	}
	return int64(h &^ targetedBit), targets, rest, true
}

// EncodeTrim returns a command dropping every batch that ends at or
// before offset (retention).
func EncodeTrim(offset uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{opTrim}, offset)
}

// SM is a stream shard's state machine.
type SM struct {
	gid    uint64
	prefix []byte // the group's data range: meta and dedupe keys
	seg    segments

	// Owned by the apply loop.
	next    uint64 // next offset, including applied-but-not-yet-durable batches
	first   uint64 // offset of the oldest kept batch
	ids     map[[BatchIDLen]byte][2]uint64
	idOrder [][BatchIDLen]byte

	// rrMu guards rr, the parked rerouted parts and counters (reroute.go):
	// written by the apply loop, read by the reconciler and status.
	rrMu sync.Mutex
	rr   rerouteState

	// flushMu serializes writing the tail out (segment.go).
	flushMu sync.Mutex
	bg      sync.WaitGroup // a background flush

	mu struct {
		sync.Mutex
		durable uint64        // next offset that is durable and readable
		first   uint64        // oldest readable offset
		changed chan struct{} // closed when durable advances
		tailState
	}
}

// New returns the state machine of stream shard group gid whose data
// range starts with prefix; its batches are written once through seg
// (see segment.go and DESIGN.md).
func New(gid uint64, prefix []byte, seg Segments) *SM {
	sm := &SM{gid: gid, prefix: append([]byte(nil), prefix...), ids: map[[BatchIDLen]byte][2]uint64{}}
	sm.rr = rerouteState{parked: map[[BatchIDLen]byte]Parked{}, fenced: map[[BatchIDLen]byte]bool{}}
	sm.seg = newSegments(seg)
	sm.mu.changed = make(chan struct{})
	return sm
}

func (sm *SM) key(parts ...[]byte) []byte {
	k := append([]byte(nil), sm.prefix...)
	for _, p := range parts {
		k = append(k, p...)
	}
	return k
}

// BatchKey returns the key of the batch starting at off, in a range that
// starts with prefix (the shard's write-once range, Segments.Prefix).
func BatchKey(prefix []byte, off uint64) []byte {
	k := make([]byte, 0, len(prefix)+9)
	k = append(k, prefix...)
	k = append(k, 'b')
	return binary.BigEndian.AppendUint64(k, off)
}

// Load rebuilds the in-memory state from the engine: offsets and dedupe
// table from the data range, what is written out from the write-once
// range, and the tail (applied batches not written out yet) from the raft
// log, which kept it (RetainLogFrom).
func (sm *SM) Load(r pebble.Reader) error {
	sm.flushMu.Lock()
	defer sm.flushMu.Unlock()
	sm.next, sm.first = 0, 0
	sm.ids = map[[BatchIDLen]byte][2]uint64{}
	sm.idOrder = nil
	v, closer, err := r.Get(sm.key([]byte("m")))
	switch {
	case errors.Is(err, pebble.ErrNotFound):
	case err != nil:
		return err
	default:
		if len(v) >= 16 {
			sm.next = binary.BigEndian.Uint64(v)
			sm.first = binary.BigEndian.Uint64(v[8:])
		}
		closer.Close()
	}
	if err := sm.loadReroute(r); err != nil { // reroute.go
		return err
	}
	lo := sm.key([]byte("i"))
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: sm.key([]byte("j"))})
	if err != nil {
		return err
	}
	type ent struct {
		id     [BatchIDLen]byte
		start  uint64
		fenced bool
	}
	var ents []ent
	for it.First(); it.Valid(); it.Next() {
		var id [BatchIDLen]byte
		copy(id[:], it.Key()[len(lo):])
		val := it.Value()
		if len(val) < 16 {
			continue
		}
		se := [2]uint64{binary.BigEndian.Uint64(val), binary.BigEndian.Uint64(val[8:])}
		sm.ids[id] = se
		fenced := len(val) == 17 && val[16] == fenceMark
		if fenced {
			sm.rr.fenced[id] = true // Load runs before the loop: no reader yet
		}
		ents = append(ents, ent{id, se[0], fenced})
	}
	if err := it.Close(); err != nil {
		return err
	}
	// Apply order: by start; a fence at offset k came before the batch
	// starting at k (fences among themselves by id: reroute.go).
	sort.Slice(ents, func(i, j int) bool {
		a, b := ents[i], ents[j]
		if a.start != b.start {
			return a.start < b.start
		}
		if a.fenced != b.fenced {
			return a.fenced
		}
		return string(a.id[:]) < string(b.id[:])
	})
	for _, e := range ents {
		sm.idOrder = append(sm.idOrder, e.id)
	}
	if err := sm.loadTail(r); err != nil {
		return err
	}
	sm.publish()
	return nil
}

// Apply applies an append or trim command.
func (sm *SM) Apply(wb *pebble.Batch, index uint64, cmd []byte) any {
	if len(cmd) == 0 {
		return fmt.Errorf("%w: empty", ErrCorruptCommand)
	}
	switch cmd[0] {
	case opAppend:
		if len(cmd) < 1+BatchIDLen+8 {
			return fmt.Errorf("%w: short append", ErrCorruptCommand)
		}
		var id [BatchIDLen]byte
		copy(id[:], cmd[1:])
		return sm.applyAppend(wb, index, id, cmd[1+BatchIDLen:])
	case opSetBase:
		return sm.applySetBase(wb, cmd) // restore.go
	case opPark, opRelease, opDrop, opFence:
		return sm.applyReroute(wb, index, cmd) // reroute.go
	case opTrim:
		if len(cmd) < 9 {
			return fmt.Errorf("%w: short trim", ErrCorruptCommand)
		}
		upto := binary.BigEndian.Uint64(cmd[1:])
		if upto > sm.next {
			upto = sm.next
		}
		if upto <= sm.first {
			return nil
		}
		// Written-out batches below upto are excised later, whole files
		// at a time (segment.go); the tail drops them now.
		sm.trimTail(index, upto)
		sm.first = upto
		return sm.writeMeta(wb)
	}
	return fmt.Errorf("%w: unknown op %q", ErrCorruptCommand, cmd[0])
}

// applyAppend appends body (ingest time + [targets] + encoded batch)
// under batch id id, once: an id already in the dedupe table (applied
// before, or fenced: reroute.go) is a no-op that returns the original
// offsets.
func (sm *SM) applyAppend(wb *pebble.Batch, index uint64, id [BatchIDLen]byte, body []byte) any {
	if se, ok := sm.ids[id]; ok {
		return AppendResult{Start: se[0], End: se[1], Dup: true}
	}
	_, _, enc, ok := splitValue(body)
	n, ok2 := types.EncodedRows(enc)
	if !ok || !ok2 {
		return fmt.Errorf("%w: bad batch at index %d", ErrCorruptCommand, index)
	}
	start := sm.next
	end := start + uint64(n)
	// The batch itself goes to the in-memory tail, durable in the raft
	// log, and is written once, later, by ingestion (segment.go).
	sm.addTail(index, start, end, body)
	var se [16]byte
	binary.BigEndian.PutUint64(se[:], start)
	binary.BigEndian.PutUint64(se[8:], end)
	if err := wb.Set(sm.key([]byte("i"), id[:]), se[:], nil); err != nil {
		return err
	}
	sm.ids[id] = [2]uint64{start, end}
	sm.idOrder = append(sm.idOrder, id)
	// An id is forgotten only once its batch is written out: Load
	// places the tail's log entries by their ids.
	flushed := sm.flushedEnd()
	for len(sm.idOrder) > maxDedupe && sm.ids[sm.idOrder[0]][1] <= flushed {
		old := sm.idOrder[0]
		sm.idOrder = sm.idOrder[1:]
		delete(sm.ids, old)
		sm.forgetFence(old)
		if err := wb.Delete(sm.key([]byte("i"), old[:]), nil); err != nil {
			return err
		}
	}
	sm.next = end
	if err := sm.writeMeta(wb); err != nil {
		return err
	}
	return AppendResult{Start: start, End: end}
}

func (sm *SM) writeMeta(wb *pebble.Batch) error {
	var m [16]byte
	binary.BigEndian.PutUint64(m[:], sm.next)
	binary.BigEndian.PutUint64(m[8:], sm.first)
	return wb.Set(sm.key([]byte("m")), m[:], nil)
}

// Durable publishes the applied offsets once the batch holding them is
// committed, wakes readers, and starts writing the tail out when it is
// big or old enough.
func (sm *SM) Durable() {
	sm.publish()
	sm.maybeFlush()
}

func (sm *SM) publish() {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.mu.durable == sm.next && sm.mu.first == sm.first {
		return
	}
	sm.mu.durable = sm.next
	sm.mu.first = sm.first
	close(sm.mu.changed)
	sm.mu.changed = make(chan struct{})
}

// End returns the durable end offset and a channel closed when it next
// changes.
func (sm *SM) End() (uint64, <-chan struct{}) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.mu.durable, sm.mu.changed
}

// First returns the oldest readable offset.
func (sm *SM) First() uint64 {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.mu.first
}
