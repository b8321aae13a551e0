package raftstore

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	pb "go.etcd.io/raft/v3/raftpb"
)

// Write-once data (issue 14): a stream shard keeps its newest batches in
// memory, durable in the raft log, and writes them out as SSTs of the
// group's StreamPrefix range that Pebble ingests at the bottom of the LSM.
// The hooks below let the state machine hold back log truncation until
// its batches are ingested, rebuild its tail from the log after a crash,
// and put the tail into Pebble before a snapshot reads it.

// LogRetainer may be implemented by a StateMachine whose applied state is
// not all in the engine yet: the log is kept from RetainLogFrom (the
// lowest index still needed; 0 = no constraint) when the store truncates,
// and a value past the truncated index makes the store truncate up to it
// at once. Called from the loop; it must not block.
type LogRetainer interface {
	RetainLogFrom() uint64
}

// SnapshotFlusher may be implemented by a StateMachine that holds applied
// state outside the engine: FlushBeforeSnapshot is called from the loop
// just before a snapshot of the group's data is taken, and must put every
// applied entry's state into the engine before it returns.
type SnapshotFlusher interface {
	FlushBeforeSnapshot() error
}

// logRetainFloor lowers a truncation point to keep what the state machine
// still needs.
func logRetainFloor(sm StateMachine, index uint64) uint64 {
	if lr, ok := sm.(LogRetainer); ok {
		if from := lr.RetainLogFrom(); from > 0 && from <= index {
			return from - 1
		}
	}
	return index
}

// retainerMoved reports whether a LogRetainer released log entries since
// the last truncation: its log is cut as soon as its state is in the
// engine, while the entries are still in the memtable (a range deletion
// there costs nothing; flushed, they would be compacted level by level).
func retainerMoved(g *group) bool {
	lr, ok := g.sm.(LogRetainer)
	if !ok {
		return false
	}
	return lr.RetainLogFrom() > g.st.truncIdx+1
}

// holdOpen keeps the engine open (Close waits) until bg.Done; false when
// the store is closing.
func (s *Store) holdOpen() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.stopped {
		return false
	}
	s.bg.Add(1)
	return true
}

var ingestSeq atomic.Uint64

// IngestSorted writes the key/value pairs that add emits (strictly
// increasing keys, all inside one group's StreamPrefix range) into a new
// SST and ingests it. Offsets only grow, so the file overlaps nothing and
// Pebble places it in the bottom level; it is synced when this returns.
// Safe to call from any goroutine.
func (s *Store) IngestSorted(fill func(add func(k, v []byte) error) error) error {
	if !s.holdOpen() {
		return ErrStopped
	}
	defer s.bg.Done()
	fs := s.cfg.FS
	path := filepath.Join(s.cfg.Dir, fmt.Sprintf("stream-ingest-%d.sst", ingestSeq.Add(1)))
	f, err := fs.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	defer func() { _ = fs.Remove(path) }()
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), sstable.WriterOptions{
		TableFormat: s.db.TableFormat(),
		Compression: sstable.NoCompression,
		BlockSize:   64 << 10,
	})
	var last []byte
	n := 0
	err = fill(func(k, v []byte) error {
		if k[0] != prefixStream || (n > 0 && bytes.Compare(k, last) <= 0) {
			return fmt.Errorf("raftstore: ingest key %x out of order or outside a stream range", k)
		}
		last = append(last[:0], k...)
		n++
		return w.Set(k, v)
	})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	return s.db.Ingest(context.Background(), []string{path})
}

// Excise drops every key in [start, end) of a StreamPrefix range: whole
// files go, a file straddling a bound is narrowed (a virtual SST, not
// rewritten). Safe to call from any goroutine.
func (s *Store) Excise(start, end []byte) error {
	if len(start) == 0 || start[0] != prefixStream || bytes.Compare(start, end) >= 0 {
		return fmt.Errorf("raftstore: excise [%x, %x) is not a stream range", start, end)
	}
	if !s.holdOpen() {
		return ErrStopped
	}
	defer s.bg.Done()
	return s.db.Excise(context.Background(), pebble.KeyRange{Start: start, End: end})
}

// ReadAppliedLog calls fn with the command of every normal entry of group
// gid still in the log, in index order, up to its applied index: what a
// state machine that keeps applied state in memory (a LogRetainer)
// rebuilds from in Load. Entries proposed without a store header (none in
// practice) are skipped.
func ReadAppliedLog(r pebble.Reader, gid uint64, fn func(index uint64, cmd []byte) error) error {
	av, ok, err := getValue(r, raftStateKey(gid, suffixApplied))
	if err != nil || !ok {
		return err
	}
	applied, _, ok := decodeIndexTerm(av)
	if !ok {
		return fmt.Errorf("%w: group %d applied state", errCorrupt, gid)
	}
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: logKey(gid, 0), UpperBound: logKey(gid, applied+1)})
	if err != nil {
		return err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		e, err := decodeEntry(v)
		if err != nil {
			return err
		}
		if e.GetType() != pb.EntryNormal {
			continue
		}
		d := e.GetData()
		if len(d) < hdrLen || d[0] != hdrVersion {
			continue
		}
		if err := fn(e.GetIndex(), d[hdrLen:]); err != nil {
			return err
		}
	}
	return it.Error()
}
