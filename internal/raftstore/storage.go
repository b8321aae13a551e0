package raftstore

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// entryCacheBytes bounds the per-group cache of recent log entries. The
// apply path reads committed entries back from raft.Storage right after
// they were appended, and a leader sends recent entries to followers, so a
// few MB of recent entries avoids Pebble reads. A group without other
// replicas drops cached entries once applied (see trimApplied).
const entryCacheBytes = 4 << 20

// groupStorage implements raft.Storage for one group over the shared Pebble
// engine. It is used only from the store's loop goroutine. Its in-memory
// fields mirror what is in Pebble after the current iteration's batch
// commits (raft does not read storage between Ready and Advance, which is
// when the batch is written and committed).
type groupStorage struct {
	gid uint64
	db  *pebble.DB

	hard      *pb.HardState
	conf      *pb.ConfState
	truncIdx  uint64 // index of the last compacted entry (first index - 1)
	truncTerm uint64
	lastIdx   uint64 // index of the last entry in the log (truncIdx if empty)
	lastTerm  uint64
	applied   uint64 // applied index persisted with the state it produced
	appliedT  uint64 // term of the entry at applied

	cache      []*pb.Entry // contiguous entries ending at lastIdx (may be empty)
	cacheBytes int

	log *slog.Logger
	// newSnapshot takes a snapshot of the group for a follower (Store.newSnapshot).
	newSnapshot func(gid uint64) (*pb.Snapshot, error)
	// beforeSnapshot, if set, puts state the state machine holds in memory
	// into the engine before a snapshot reads it (SnapshotFlusher).
	beforeSnapshot func() error
}

var errCorrupt = errors.New("raftstore: corrupt raft state")

// loadGroupStorage reads a group's persisted raft state. ok is false when
// nothing is persisted for the group.
func loadGroupStorage(db *pebble.DB, gid uint64) (*groupStorage, bool, error) {
	gs := &groupStorage{gid: gid, db: db, hard: &pb.HardState{}, conf: &pb.ConfState{}}
	tv, ok, err := getValue(db, raftStateKey(gid, suffixTruncated))
	if err != nil || !ok {
		return gs, false, err
	}
	if gs.truncIdx, gs.truncTerm, ok = decodeIndexTerm(tv); !ok {
		return nil, false, fmt.Errorf("%w: group %d truncated state", errCorrupt, gid)
	}
	if v, ok, err := getValue(db, raftStateKey(gid, suffixHardState)); err != nil {
		return nil, false, err
	} else if ok {
		if err := proto.Unmarshal(v, gs.hard); err != nil {
			return nil, false, fmt.Errorf("%w: group %d hard state: %v", errCorrupt, gid, err)
		}
	}
	if v, ok, err := getValue(db, raftStateKey(gid, suffixConfState)); err != nil {
		return nil, false, err
	} else if ok {
		if err := proto.Unmarshal(v, gs.conf); err != nil {
			return nil, false, fmt.Errorf("%w: group %d conf state: %v", errCorrupt, gid, err)
		}
	}
	if v, ok, err := getValue(db, raftStateKey(gid, suffixApplied)); err != nil {
		return nil, false, err
	} else if ok {
		if gs.applied, gs.appliedT, ok = decodeIndexTerm(v); !ok {
			return nil, false, fmt.Errorf("%w: group %d applied state", errCorrupt, gid)
		}
	}
	// The last log entry: seek backwards from the end of the log span.
	gs.lastIdx, gs.lastTerm = gs.truncIdx, gs.truncTerm
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: logKey(gid, 0), UpperBound: prefixEnd(raftStateKey(gid, suffixLog))})
	if err != nil {
		return nil, false, err
	}
	defer it.Close()
	if it.Last() {
		e, err := decodeEntry(it.Value())
		if err != nil {
			return nil, false, err
		}
		if e.GetIndex() > gs.truncIdx {
			gs.lastIdx, gs.lastTerm = e.GetIndex(), e.GetTerm()
		}
	}
	return gs, true, it.Error()
}

func getValue(r pebble.Reader, key []byte) ([]byte, bool, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	return out, true, closer.Close()
}

func decodeEntry(b []byte) (*pb.Entry, error) {
	e := &pb.Entry{}
	if err := proto.Unmarshal(b, e); err != nil {
		return nil, fmt.Errorf("%w: log entry: %v", errCorrupt, err)
	}
	return e, nil
}

// InitialState implements raft.Storage.
func (gs *groupStorage) InitialState() (*pb.HardState, *pb.ConfState, error) {
	return proto.Clone(gs.hard).(*pb.HardState), proto.Clone(gs.conf).(*pb.ConfState), nil
}

// FirstIndex implements raft.Storage.
func (gs *groupStorage) FirstIndex() (uint64, error) { return gs.truncIdx + 1, nil }

// LastIndex implements raft.Storage.
func (gs *groupStorage) LastIndex() (uint64, error) { return gs.lastIdx, nil }

// Term implements raft.Storage.
func (gs *groupStorage) Term(i uint64) (uint64, error) {
	switch {
	case i == gs.truncIdx:
		return gs.truncTerm, nil
	case i < gs.truncIdx:
		return 0, raft.ErrCompacted
	case i > gs.lastIdx:
		return 0, raft.ErrUnavailable
	case i == gs.lastIdx:
		return gs.lastTerm, nil
	}
	if e := gs.cached(i); e != nil {
		return e.GetTerm(), nil
	}
	v, ok, err := getValue(gs.db, logKey(gs.gid, i))
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, raft.ErrUnavailable
	}
	e, err := decodeEntry(v)
	if err != nil {
		return 0, err
	}
	return e.GetTerm(), nil
}

func (gs *groupStorage) cached(i uint64) *pb.Entry {
	if len(gs.cache) == 0 {
		return nil
	}
	lo := gs.cache[0].GetIndex()
	if i < lo || i > gs.lastIdx {
		return nil
	}
	return gs.cache[i-lo]
}

// Entries implements raft.Storage.
func (gs *groupStorage) Entries(lo, hi, maxSize uint64) ([]*pb.Entry, error) {
	if lo <= gs.truncIdx {
		return nil, raft.ErrCompacted
	}
	if hi > gs.lastIdx+1 {
		return nil, raft.ErrUnavailable
	}
	if lo >= hi {
		return nil, nil
	}
	var out []*pb.Entry
	var size uint64
	add := func(e *pb.Entry) bool {
		size += uint64(proto.Size(e))
		if len(out) > 0 && size > maxSize {
			return false
		}
		out = append(out, e)
		return true
	}
	// Serve the tail from the cache, the head from Pebble.
	cacheLo := hi
	if len(gs.cache) > 0 {
		cacheLo = max(gs.cache[0].GetIndex(), lo)
	}
	if lo < cacheLo {
		it, err := gs.db.NewIter(&pebble.IterOptions{LowerBound: logKey(gs.gid, lo), UpperBound: logKey(gs.gid, cacheLo)})
		if err != nil {
			return nil, err
		}
		next := lo
		for valid := it.First(); valid; valid = it.Next() {
			e, err := decodeEntry(it.Value())
			if err != nil {
				it.Close()
				return nil, err
			}
			if e.GetIndex() != next {
				break
			}
			next++
			if !add(e) {
				return out, it.Close()
			}
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
		if next != cacheLo {
			return nil, raft.ErrUnavailable
		}
	}
	for i := cacheLo; i < hi; i++ {
		if !add(gs.cached(i)) {
			break
		}
	}
	return out, nil
}

// Snapshot implements raft.Storage. It is called in the loop, between
// batches, so a Pebble snapshot taken now has data, applied index and conf
// state that agree. The returned snapshot carries only metadata and a
// token; its data is streamed to the follower from that Pebble snapshot
// (snapstream.go).
func (gs *groupStorage) Snapshot() (*pb.Snapshot, error) {
	if gs.newSnapshot == nil {
		return nil, raft.ErrSnapshotTemporarilyUnavailable
	}
	if gs.beforeSnapshot != nil {
		if err := gs.beforeSnapshot(); err != nil {
			gs.log.Error("raftstore: write out before a snapshot", "group", gs.gid, "err", err)
			return nil, raft.ErrSnapshotTemporarilyUnavailable
		}
	}
	return gs.newSnapshot(gs.gid)
}

// append records entries written to the batch in the in-memory state.
// Entries at or after ents[0] that were there before are discarded.
func (gs *groupStorage) append(ents []*pb.Entry) {
	if len(ents) == 0 {
		return
	}
	first := ents[0].GetIndex()
	if len(gs.cache) > 0 {
		lo := gs.cache[0].GetIndex()
		switch {
		case first <= lo:
			gs.cache, gs.cacheBytes = nil, 0
		case first <= gs.lastIdx+1:
			for _, e := range gs.cache[first-lo:] {
				gs.cacheBytes -= len(e.GetData())
			}
			gs.cache = gs.cache[:first-lo]
		default:
			gs.cache, gs.cacheBytes = nil, 0
		}
	}
	for _, e := range ents {
		gs.cache = append(gs.cache, e)
		gs.cacheBytes += len(e.GetData())
	}
	last := ents[len(ents)-1]
	gs.lastIdx, gs.lastTerm = last.GetIndex(), last.GetTerm()
	gs.trimCache()
}

func (gs *groupStorage) trimCache() {
	n := 0
	for n < len(gs.cache)-1 && (gs.cacheBytes > entryCacheBytes || gs.cache[n].GetIndex() <= gs.truncIdx) {
		gs.cacheBytes -= len(gs.cache[n].GetData())
		n++
	}
	if n > 0 {
		// Copy so the dropped prefix can be garbage collected.
		gs.cache = append([]*pb.Entry(nil), gs.cache[n:]...)
	}
	if len(gs.cache) == 1 && gs.cache[0].GetIndex() <= gs.truncIdx {
		gs.cache, gs.cacheBytes = nil, 0
	}
}

// compact records that entries up to index (with term) were deleted.
func (gs *groupStorage) compact(index, term uint64) {
	gs.truncIdx, gs.truncTerm = index, term
	if gs.lastIdx < index {
		gs.lastIdx, gs.lastTerm = index, term
	}
	gs.trimCache()
}

// restore resets the in-memory state to an applied snapshot.
func (gs *groupStorage) restore(meta *pb.SnapshotMetadata) {
	gs.truncIdx, gs.truncTerm = meta.GetIndex(), meta.GetTerm()
	gs.lastIdx, gs.lastTerm = gs.truncIdx, gs.truncTerm
	gs.applied, gs.appliedT = gs.truncIdx, gs.truncTerm
	gs.conf = proto.Clone(pb.EnsureConfState(meta.GetConfState())).(*pb.ConfState)
	gs.cache, gs.cacheBytes = nil, 0
}

// trimApplied drops cached entries up to the applied index when no other
// replica may need them, so that idle single-replica groups hold no cache.
func (gs *groupStorage) trimApplied() {
	if len(gs.conf.GetVoters())+len(gs.conf.GetLearners())+len(gs.conf.GetVotersOutgoing()) > 1 {
		return
	}
	n := 0
	for n < len(gs.cache) && gs.cache[n].GetIndex() <= gs.applied {
		gs.cacheBytes -= len(gs.cache[n].GetData())
		n++
	}
	if n == len(gs.cache) {
		gs.cache, gs.cacheBytes = nil, 0
	} else if n > 0 {
		gs.cache = append([]*pb.Entry(nil), gs.cache[n:]...)
	}
}
