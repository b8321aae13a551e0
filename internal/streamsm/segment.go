package streamsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/types"
)

// Stream data is written once (DESIGN.md): an applied batch stays in an
// in-memory tail, durable in the raft log, until the tail is big or old
// enough; then one SST of its batches is ingested into the shard's
// write-once range, where it lands at the bottom of the LSM and is never
// rewritten, and the store may truncate the log past it. Retention
// excises whole files.

// Segments is where a shard writes its batches once.
type Segments struct {
	// Prefix is the shard's write-once key range (raftstore.StreamPrefix).
	Prefix []byte
	// DB is the engine batches are read back from.
	DB pebble.Reader
	// Ingest writes sorted keys of the range as one new file (synced).
	Ingest func(fill func(add func(k, v []byte) error) error) error
	// Excise drops [start, end) of the range.
	Excise func(start, end []byte) error
	// AppliedLog calls fn with every applied command still in the
	// shard's raft log, in index order (nil: no log, as in unit tests).
	AppliedLog func(r pebble.Reader, fn func(index uint64, cmd []byte) error) error
	// FlushBytes, FlushBatches, FlushAge: the tail is written out once it
	// holds this many bytes or batches, or its oldest batch is this old
	// (checked when a batch is applied). Zero: 8 MiB, 4096, 1 s.
	FlushBytes   int
	FlushBatches int
	FlushAge     time.Duration
}

// StoreSegments returns the Segments of stream shard group gid on st.
func StoreSegments(st *raftstore.Store, gid uint64) Segments {
	return Segments{
		Prefix: raftstore.StreamPrefix(gid),
		DB:     st.DB(),
		Ingest: st.IngestSorted,
		Excise: st.Excise,
		AppliedLog: func(r pebble.Reader, fn func(uint64, []byte) error) error {
			return raftstore.ReadAppliedLog(r, gid, fn)
		},
	}
}

type segments = Segments

func newSegments(s Segments) Segments {
	if s.FlushBytes <= 0 {
		s.FlushBytes = 8 << 20
	}
	if s.FlushBatches <= 0 {
		s.FlushBatches = 4096
	}
	if s.FlushAge <= 0 {
		s.FlushAge = time.Second
	}
	s.Prefix = append([]byte(nil), s.Prefix...)
	return s
}

// tailBatch is an applied batch not yet written out.
type tailBatch struct {
	index      uint64 // raft log index of its entry
	start, end uint64 // offsets
	value      []byte // stored form: ingest time | [targets] | batch
	at         time.Time
}

// tailState is the part of SM.mu about the tail.
type tailState struct {
	// tail holds the applied batches from flushed on, in offset order.
	// Its elements are never modified: readers copy the slice header.
	tail      []tailBatch
	tailBytes int
	// flushed: every kept batch below it is in the engine (or dropped by
	// retention); every batch from it on is in tail.
	flushed uint64
	// excised: batches below it are excised from the engine.
	excised uint64
	// retainFrom is the first log index the tail still needs (0: none).
	retainFrom uint64
	flushing   bool  // a background flush runs
	closed     bool  // Close was called: no more background flushes
	flushErr   error // the last flush's error, retried at the next apply
	flushes    int   // successful flushes (tests, metrics)
}

func (sm *SM) flushedEnd() uint64 {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.mu.flushed
}

// addTail appends an applied batch to the tail (a batch re-applied after a
// crash that is already written out is not added). The command's bytes
// are copied: the proposer may reuse them.
func (sm *SM) addTail(index, start, end uint64, body []byte) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if start < sm.mu.flushed {
		return
	}
	sm.mu.tail = append(sm.mu.tail, tailBatch{index: index, start: start, end: end, value: append([]byte(nil), body...), at: time.Now()})
	sm.mu.tailBytes += len(body)
	if sm.mu.retainFrom == 0 || len(sm.mu.tail) == 1 {
		sm.mu.retainFrom = index
	}
}

// trimTail drops tail batches below upto (retention) at log index index.
func (sm *SM) trimTail(index, upto uint64) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	k := 0
	for k < len(sm.mu.tail) && sm.mu.tail[k].start < upto {
		sm.mu.tailBytes -= len(sm.mu.tail[k].value)
		k++
	}
	sm.mu.tail = append([]tailBatch(nil), sm.mu.tail[k:]...)
	sm.mu.flushed = max(sm.mu.flushed, upto)
	if len(sm.mu.tail) > 0 {
		sm.mu.retainFrom = sm.mu.tail[0].index
	} else if k > 0 {
		sm.mu.retainFrom = index + 1
	}
}

// RetainLogFrom implements raftstore.LogRetainer: the log is kept from
// the entry of the oldest batch not written out.
func (sm *SM) RetainLogFrom() uint64 {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.mu.retainFrom
}

// FlushBeforeSnapshot implements raftstore.SnapshotFlusher: it writes
// the whole tail out (called from the loop, where every applied batch is
// durable).
func (sm *SM) FlushBeforeSnapshot() error {
	sm.flushMu.Lock()
	defer sm.flushMu.Unlock()
	return sm.flushLocked()
}

// Flush writes out every durable batch of the tail and excises what
// retention dropped. It is safe from any goroutine.
func (sm *SM) Flush() error { return sm.FlushBeforeSnapshot() }

// Close waits for a background flush and starts no other: the shard's
// replica is going away. The tail stays durable in the raft log.
func (sm *SM) Close() {
	sm.mu.Lock()
	sm.mu.closed = true
	sm.mu.Unlock()
	sm.bg.Wait()
}

// Flushes returns how many times the tail was written out.
func (sm *SM) Flushes() int {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	return sm.mu.flushes
}

// maybeFlush starts a background flush when the tail is big or old.
func (sm *SM) maybeFlush() {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.mu.flushing || sm.mu.closed || !sm.flushDueLocked() {
		return
	}
	sm.mu.flushing = true
	sm.bg.Add(1)
	go func() {
		defer sm.bg.Done()
		sm.flushMu.Lock()
		defer sm.flushMu.Unlock()
		// Batches applied during a write-out may make another one due.
		for {
			err := sm.flushLocked()
			sm.mu.Lock()
			sm.mu.flushErr = err
			if err != nil || sm.mu.closed || !sm.flushDueLocked() {
				sm.mu.flushing = false
				sm.mu.Unlock()
				return
			}
			sm.mu.Unlock()
		}
	}()
}

// flushDueLocked reports whether the durable tail is big or old enough
// to write out, or retention dropped batches still in the engine.
func (sm *SM) flushDueLocked() bool {
	t := &sm.mu.tailState
	if t.excised < sm.mu.first && sm.seg.Excise != nil {
		return true
	}
	n := len(t.tail) // from the end: only batches being applied are not durable
	for n > 0 && t.tail[n-1].end > sm.mu.durable {
		n--
	}
	if n == 0 {
		return false
	}
	return t.tailBytes >= sm.seg.FlushBytes || n >= sm.seg.FlushBatches || time.Since(t.tail[0].at) >= sm.seg.FlushAge
}

// flushLocked writes the durable part of the tail as one SST, then
// excises what retention dropped. Called with flushMu held.
func (sm *SM) flushLocked() error {
	if sm.seg.Ingest == nil {
		return errors.New("streamsm: no segment writer")
	}
	sm.mu.Lock()
	durable, first := sm.mu.durable, sm.mu.first
	var out []tailBatch
	for _, b := range sm.mu.tail {
		if b.end > durable {
			break
		}
		out = append(out, b)
	}
	sm.mu.Unlock()
	if len(out) > 0 {
		err := sm.seg.Ingest(func(add func(k, v []byte) error) error {
			for _, b := range out {
				if err := add(BatchKey(sm.seg.Prefix, b.start), b.value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("streamsm: shard %d: write out offsets %d to %d: %w", sm.gid, out[0].start, out[len(out)-1].end, err)
		}
		last := out[len(out)-1]
		sm.mu.Lock()
		// The apply loop may have appended (never removed: trims take
		// flushMu's absence into account by dropping only a prefix) since.
		k := 0
		for k < len(sm.mu.tail) && sm.mu.tail[k].end <= last.end {
			sm.mu.tailBytes -= len(sm.mu.tail[k].value)
			k++
		}
		sm.mu.tail = append([]tailBatch(nil), sm.mu.tail[k:]...)
		sm.mu.flushed = max(sm.mu.flushed, last.end)
		if len(sm.mu.tail) > 0 {
			sm.mu.retainFrom = sm.mu.tail[0].index
		} else {
			sm.mu.retainFrom = max(sm.mu.retainFrom, last.index+1)
		}
		sm.mu.flushes++
		sm.mu.Unlock()
	}
	sm.mu.Lock()
	excised := sm.mu.excised
	sm.mu.Unlock()
	if first > excised && sm.seg.Excise != nil {
		if err := sm.seg.Excise(BatchKey(sm.seg.Prefix, 0), BatchKey(sm.seg.Prefix, first)); err != nil {
			return fmt.Errorf("streamsm: shard %d: drop offsets below %d: %w", sm.gid, first, err)
		}
		sm.mu.Lock()
		sm.mu.excised = max(sm.mu.excised, first)
		sm.mu.Unlock()
	}
	return nil
}

// loadTail finds what is written out and rebuilds the tail from the log.
// Called by Load with flushMu held, after the offsets and ids are loaded.
func (sm *SM) loadTail(r pebble.Reader) error {
	flushed, err := lastWrittenEnd(r, sm.seg.Prefix)
	if err != nil {
		return err
	}
	flushed = max(flushed, sm.first)
	var tail []tailBatch
	bytes, want := 0, flushed
	if sm.seg.AppliedLog != nil && want < sm.next {
		err := sm.seg.AppliedLog(r, func(index uint64, cmd []byte) error {
			// A release (reroute.go) is an append of a parked part.
			if len(cmd) < 1+BatchIDLen+8 || (cmd[0] != opAppend && cmd[0] != opRelease) {
				return nil
			}
			var id [BatchIDLen]byte
			copy(id[:], cmd[1:])
			se, ok := sm.ids[id]
			if !ok || se[0] != want || sm.isFenced(id) {
				return nil // written out (its id may be forgotten), or a duplicate
			}
			body := cmd[1+BatchIDLen:]
			tail = append(tail, tailBatch{index: index, start: se[0], end: se[1], value: append([]byte(nil), body...), at: time.Now()})
			bytes += len(body)
			want = se[1]
			return nil
		})
		if err != nil {
			return err
		}
	}
	if want < sm.next {
		return fmt.Errorf("streamsm: shard %d: offsets %d to %d are neither written out nor in the raft log", sm.gid, want, sm.next)
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	sm.mu.tail, sm.mu.tailBytes, sm.mu.flushed = tail, bytes, flushed
	sm.mu.excised, sm.mu.retainFrom = 0, 0
	if len(tail) > 0 {
		sm.mu.retainFrom = tail[0].index
	}
	return nil
}

// lastWrittenEnd returns the end offset of the last batch written out (0
// if none).
func lastWrittenEnd(r pebble.Reader, prefix []byte) (uint64, error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: BatchKey(prefix, 0), UpperBound: BatchKey(prefix, ^uint64(0))})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	k := it.Key()
	start := binary.BigEndian.Uint64(k[len(k)-8:])
	v, err := it.ValueAndErr()
	if err != nil {
		return 0, err
	}
	n, ok := StoredBatch(v).Rows()
	if !ok {
		return 0, fmt.Errorf("streamsm: corrupt batch at offset %d", start)
	}
	return start + uint64(n), nil
}

// scanRaw calls fn with each durable batch from offset from (a batch start
// or the first kept offset) in its stored form (valid during the call),
// from the engine and then the tail, until fn returns false.
func (sm *SM) scanRaw(from uint64, fn func(start uint64, value []byte) (bool, error)) error {
	sm.mu.Lock()
	durable, flushed, tail := sm.mu.durable, sm.mu.flushed, sm.mu.tail
	sm.mu.Unlock()
	if from < flushed {
		it, err := sm.seg.DB.NewIter(&pebble.IterOptions{
			LowerBound: BatchKey(sm.seg.Prefix, from),
			UpperBound: BatchKey(sm.seg.Prefix, min(flushed, durable)),
		})
		if err != nil {
			return err
		}
		for it.First(); it.Valid(); it.Next() {
			k := it.Key()
			v, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return err
			}
			more, err := fn(binary.BigEndian.Uint64(k[len(k)-8:]), v)
			if err != nil || !more {
				it.Close()
				return err
			}
		}
		if err := it.Close(); err != nil {
			return err
		}
	}
	for _, b := range tail {
		if b.start < from {
			continue
		}
		if b.end > durable {
			break
		}
		more, err := fn(b.start, b.value)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// Scan reads the shard's batches from offset from (a batch start, or the
// first kept offset) while fewer than maxEvents events were read (0 = no
// limit), written out or still in the tail alike. fn gets each batch
// decoded into a reused *types.Batch it must not retain, and its target
// set (valid during the call). Scan returns the offset after the last
// batch read.
func (sm *SM) Scan(from uint64, maxEvents int, fn func(start uint64, ingestMicros int64, targets Targets, b *types.Batch) error) (uint64, error) {
	var b types.Batch
	next, read := from, 0
	err := sm.scanRaw(from, func(start uint64, v []byte) (bool, error) {
		ingest, targets, enc, ok := splitValue(v)
		if !ok {
			return false, fmt.Errorf("streamsm: corrupt batch at offset %d", start)
		}
		if err := types.Decode(enc, &b); err != nil {
			return false, fmt.Errorf("streamsm: batch at offset %d: %w", start, err)
		}
		b.Arrival = ingest
		if err := fn(start, ingest, targets, &b); err != nil {
			return false, err
		}
		next = start + uint64(b.N)
		read += b.N
		return maxEvents <= 0 || read < maxEvents, nil
	})
	return next, err
}

// ScanHeaders calls fn with the start offset, ingest time and row count
// of each batch from offset from, without decoding the batches, until fn
// returns false.
func (sm *SM) ScanHeaders(from uint64, fn func(start uint64, ingestMicros int64, n int) bool) error {
	return sm.scanRaw(from, func(start uint64, v []byte) (bool, error) {
		ingest, _, enc, ok := splitValue(v)
		n, ok2 := types.EncodedRows(enc)
		if !ok || !ok2 {
			return false, fmt.Errorf("streamsm: corrupt batch header at offset %d", start)
		}
		return fn(start, ingest, n), nil
	})
}

// ScanStored calls fn with each batch from offset from in its stored form
// (valid during the call; a backup copies it), until fn returns false.
func (sm *SM) ScanStored(from uint64, fn func(start uint64, v StoredBatch) (bool, error)) error {
	return sm.scanRaw(from, func(start uint64, v []byte) (bool, error) { return fn(start, v) })
}
