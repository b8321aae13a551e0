package raftstore

import (
	"errors"
	"log/slog"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// TestGroupStorageEntries checks raft.Storage reads across the Pebble part
// and the cached tail of the log, compaction and bounds.
func TestGroupStorageEntries(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem(), Logger: pebbleLogger{l: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const gid, sz = 4, 256 << 10
	gs := &groupStorage{gid: gid, db: db, hard: &pb.HardState{}, conf: &pb.ConfState{Voters: []uint64{1, 2}}}
	b := db.NewBatch()
	var ents []*pb.Entry
	for i := uint64(1); i <= 20; i++ {
		e := &pb.Entry{Index: new(i), Term: new(1 + i/10), Data: make([]byte, sz)}
		ents = append(ents, e)
		v, _ := proto.Marshal(e)
		_ = b.Set(logKey(gid, i), v, nil)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	gs.append(ents)
	// 5 MB of entries: the cache kept only the last ~4 MB.
	if lo := gs.cache[0].GetIndex(); lo < 5 || lo > 8 || gs.lastIdx != 20 {
		t.Fatalf("cache starts at %d, last %d", lo, gs.lastIdx)
	}
	got, err := gs.Entries(3, 21, ^uint64(0))
	if err != nil || len(got) != 18 {
		t.Fatalf("entries 3..20: %d, %v", len(got), err)
	}
	for i, e := range got {
		if e.GetIndex() != uint64(i+3) {
			t.Fatalf("entry %d has index %d", i, e.GetIndex())
		}
	}
	if got, _ := gs.Entries(3, 21, 2*sz+sz/2); len(got) != 2 {
		t.Fatalf("size-limited read returned %d entries, want 2", len(got))
	}
	if got, _ := gs.Entries(3, 21, 1); len(got) != 1 {
		t.Fatalf("a read returns at least one entry, got %d", len(got))
	}
	if term, err := gs.Term(12); err != nil || term != 2 {
		t.Fatalf("term(12) = %d, %v", term, err)
	}
	if _, err := gs.Term(21); !errors.Is(err, raft.ErrUnavailable) {
		t.Fatalf("term past the end: %v", err)
	}
	// Replace the tail from 18 (a new leader's entries) and compact to 10.
	gs.append([]*pb.Entry{{Index: new(uint64(18)), Term: new(uint64(5))}})
	if gs.lastIdx != 18 || gs.lastTerm != 5 {
		t.Fatalf("after tail replace last %d/%d", gs.lastIdx, gs.lastTerm)
	}
	gs.compact(10, 2)
	if fi, _ := gs.FirstIndex(); fi != 11 {
		t.Fatalf("first index %d", fi)
	}
	if _, err := gs.Entries(10, 12, ^uint64(0)); !errors.Is(err, raft.ErrCompacted) {
		t.Fatalf("read of compacted entry: %v", err)
	}
	if term, err := gs.Term(10); err != nil || term != 2 {
		t.Fatalf("term at the truncated index: %d, %v", term, err)
	}
}
