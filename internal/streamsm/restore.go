package streamsm

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairndb/cairn/internal/types"
)

// RESTORE re-appends a stream shard's backed-up batches through the Raft
// write path, in offset order, with their batch ids (so a retried append
// is applied once). A shard whose backup starts past offset 0 (retention
// had trimmed it) first gets its base offset, so every batch lands at
// the offset it had: the restored views' offsets point into the same
// events.

// opSetBase sets the first and next offset of an empty shard.
const opSetBase = 'S'

// EncodeSetBase returns the command that makes an empty shard start at
// offset base.
func EncodeSetBase(base uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{opSetBase}, base)
}

// applySetBase: an empty shard starts at base; a shard already at base
// (the command applied before) is left alone; anything else is refused.
func (sm *SM) applySetBase(wb *pebble.Batch, cmd []byte) any {
	if len(cmd) < 9 {
		return fmt.Errorf("%w: short set-base", ErrCorruptCommand)
	}
	base := binary.BigEndian.Uint64(cmd[1:])
	if sm.next == base && sm.first == base {
		return AppendResult{Start: base, End: base}
	}
	if sm.next != 0 || sm.first != 0 {
		return fmt.Errorf("streamsm: cannot start the shard at offset %d: it already holds offsets %d to %d", base, sm.first, sm.next)
	}
	sm.next, sm.first = base, base
	if err := sm.writeMeta(wb); err != nil {
		return err
	}
	return AppendResult{Start: base, End: base}
}

// StoredBatch is a batch as a stream shard stores it (the value of its
// b<offset> key).
type StoredBatch []byte

// Rows is the number of events in the stored batch.
func (v StoredBatch) Rows() (int, bool) {
	_, _, enc, ok := splitValue(v)
	if !ok {
		return 0, false
	}
	return types.EncodedRows(enc)
}

// EncodeRestoreAppend returns the append command of a stored batch with
// batch id id, its target set mapped by mapID (view ids change in a
// restored cluster; a view not restored maps to an id no view has).
func EncodeRestoreAppend(id [BatchIDLen]byte, v StoredBatch, mapID func(uint64) uint64) ([]byte, error) {
	ingest, targets, enc, ok := splitValue(v)
	if !ok {
		return nil, fmt.Errorf("streamsm: corrupt stored batch")
	}
	var ids []uint64
	for _, t := range targets.IDs() {
		ids = append(ids, mapID(t))
	}
	if len(targets) > 0 && len(ids) == 0 {
		return nil, fmt.Errorf("streamsm: corrupt target set")
	}
	return EncodeAppendTo(nil, id, ingest, ids, enc), nil
}

// BatchStart returns the offset of a batch key suffix (b<offset BE8>),
// as a backup's SST holds it; ok is false for other keys.
func BatchStart(k []byte) (uint64, bool) {
	if len(k) != 9 || k[0] != 'b' {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), true
}

// DedupeEntry decodes a dedupe-table key suffix (i<batch id>) and value
// (start, end); ok is false for other keys.
func DedupeEntry(k, v []byte) (id [BatchIDLen]byte, start uint64, ok bool) {
	if len(k) != 1+BatchIDLen || k[0] != 'i' || len(v) < 16 {
		return id, 0, false
	}
	copy(id[:], k[1:])
	return id, binary.BigEndian.Uint64(v), true
}

// MetaOffsets decodes the shard's meta key suffix (m) value: the next
// offset and the first kept one; ok is false for other keys.
func MetaOffsets(k, v []byte) (next, first uint64, ok bool) {
	if len(k) != 1 || k[0] != 'm' || len(v) < 16 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), true
}
