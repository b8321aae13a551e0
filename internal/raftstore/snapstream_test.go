package raftstore

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	pb "go.etcd.io/raft/v3/raftpb"
)

// proposeMany writes n commands of about size bytes each to gid on leader.
func proposeMany(t *testing.T, leader *Store, gid uint64, n, size int, prefix string) {
	t.Helper()
	ctx := ctxT(t)
	pad := strings.Repeat("x", size)
	for i := range n {
		if _, err := leader.Propose(ctx, gid, []byte(fmt.Sprintf("%s%04d-%s", prefix, i, pad))); err != nil {
			t.Fatal(err)
		}
	}
}

func addLearner(t *testing.T, leader *Store, gid, node uint64) {
	t.Helper()
	cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeAddLearnerNode.Enum(), NodeId: new(node)}}}
	if err := leader.ProposeConfChange(ctxT(t), gid, cc); err != nil {
		t.Fatal(err)
	}
}

// A snapshot many times the chunk size travels as many chunks (each a
// staged SST); a stream broken in the middle resumes at the chunk the
// receiver had staged, not at zero; the new replica's data equals the
// leader's, and nothing stays staged.
func TestStreamedSnapshotChunkedAndResumed(t *testing.T) {
	c := newCluster(t, 2, Config{NoSync: true, SnapshotChunkBytes: 512})
	const gid = 3
	c.start(t, gid, []uint64{1}, []uint64{1})
	leader := c.stores[0]
	proposeMany(t, leader, gid, 300, 100, "k") // ~33 KB: ~65 chunks of 512 bytes

	const breakAt = 20
	var (
		mu     sync.Mutex
		seen   []int
		broken bool
	)
	c.net.mu.Lock()
	c.net.snapHook = func(g uint64, chunk int, data []byte) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, chunk)
		// At most the chunk size plus one pair over, and two bound keys.
		if len(data) > 512+3*130 {
			return fmt.Errorf("chunk %d has %d bytes", chunk, len(data))
		}
		if chunk == breakAt && !broken {
			broken = true
			return errors.New("stream cut")
		}
		return nil
	}
	c.net.mu.Unlock()

	c.start(t, gid, []uint64{2}, nil)
	addLearner(t, leader, gid, 2)
	c.waitSameData(t, gid, leader, []uint64{2})

	mu.Lock()
	defer mu.Unlock()
	if !broken {
		t.Fatalf("the stream was never cut (chunks seen %v)", seen)
	}
	// 0..breakAt, then breakAt again (resumed, not restarted), then on.
	var resumedAt = -1
	for i := 1; i < len(seen); i++ {
		if seen[i] <= seen[i-1] {
			resumedAt = seen[i]
			if seen[i-1] != breakAt {
				t.Fatalf("chunks went back after %d: %v", seen[i-1], seen)
			}
		}
	}
	if resumedAt != breakAt {
		t.Fatalf("resumed at chunk %d, want %d (chunks %v)", resumedAt, breakAt, seen)
	}
	if n := seen[len(seen)-1] + 1; n < 50 {
		t.Fatalf("snapshot took %d chunks, want many", n)
	}
	if got := len(c.sms[gid][1].snapshot()); got != 300 {
		t.Fatalf("new replica's state machine has %d commands, want 300", got)
	}
	eventually(t, 5*time.Second, func() error {
		if d, _ := c.stores[1].StagedSnapshotDirs(); len(d) != 0 {
			return fmt.Errorf("staged snapshot dirs left: %v", d)
		}
		return nil
	})
	// The new replica's raft state came with the ingest: its log starts
	// after the snapshot index.
	st, _ := c.stores[1].Status(gid)
	if st.FirstIndex <= bootstrapIndex+1 {
		t.Fatalf("new replica's first index %d", st.FirstIndex)
	}
	// The installed files are made like the engine's own: bloom filters
	// (a view shard's prefix seeks depend on them), no compression.
	levels, err := c.stores[1].DB().SSTables(pebble.WithProperties())
	if err != nil {
		t.Fatal(err)
	}
	tables := 0
	for _, lvl := range levels {
		for _, tb := range lvl {
			tables++
			if p := tb.Properties; p.FilterPolicyName != engineFilter.Name() || p.CompressionName != "NoCompression" {
				t.Errorf("table %v: filter %q, compression %q; want %q and no compression", tb.FileNum, p.FilterPolicyName, p.CompressionName, engineFilter.Name())
			}
		}
	}
	if tables == 0 {
		t.Fatal("the receiver has no tables after the install")
	}
	// Commits keep replicating on top of it.
	proposeMany(t, leader, gid, 5, 10, "after")
	c.waitSameData(t, gid, leader, []uint64{2})
}

// A receiver that crashes at the moment of ingest (everything staged,
// nothing ingested) restarts with its old (empty) replica and no staged
// files; one that crashes right after the ingest restarts with the whole
// snapshot. Never anything in between.
func TestStreamedSnapshotCrashIsAllOrNothing(t *testing.T) {
	net := newTestNet()
	leader := openTestStore(t, Config{Dir: t.TempDir(), NodeID: 1, NoSync: true, SnapshotChunkBytes: 256, Transport: net.transport(1)})
	defer leader.Close()
	net.add(1, leader)
	const gid = 5
	if err := leader.StartGroup(gid, newCountSM(gid), []uint64{1}); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, []*Store{leader}, gid)
	proposeMany(t, leader, gid, 100, 50, "c")

	fs := vfs.NewCrashableMem()
	var (
		mu     sync.Mutex
		before *vfs.MemFS // the disk as the ingest starts
		paths  []string
	)
	cfg := Config{Dir: "n2", FS: fs, NodeID: 2, Transport: net.transport(2), SnapshotChunkBytes: 256}
	cfg.TestingKnobs.BeforeIngest = func(g uint64, p []string) {
		mu.Lock()
		defer mu.Unlock()
		before, paths = fs.CrashClone(vfs.CrashCloneCfg{}), p
	}
	follower := openTestStore(t, cfg)
	net.add(2, follower)
	sm := newCountSM(gid)
	if err := follower.StartGroup(gid, sm, nil); err != nil {
		t.Fatal(err)
	}
	addLearner(t, leader, gid, 2)
	eventually(t, 15*time.Second, func() error {
		if n := len(sm.snapshot()); n != 100 {
			return fmt.Errorf("follower has %d commands", n)
		}
		return nil
	})
	after := fs.CrashClone(vfs.CrashCloneCfg{})
	_ = follower.Close()

	mu.Lock()
	defer mu.Unlock()
	if before == nil || len(paths) < 10 {
		t.Fatalf("ingest of %d files (want the raft state + many chunks)", len(paths))
	}
	reopen := func(fs *vfs.MemFS) (*Store, *countSM) {
		s := openTestStore(t, Config{Dir: "n2", FS: fs, NodeID: 2, NoSync: true})
		sm := newCountSM(gid)
		if err := s.StartGroup(gid, sm, nil); err != nil {
			t.Fatal(err)
		}
		return s, sm
	}
	s1, sm1 := reopen(before)
	defer s1.Close()
	if d, _ := s1.StagedSnapshotDirs(); len(d) != 0 {
		t.Fatalf("staging dirs survived a restart: %v", d)
	}
	if n := len(sm1.snapshot()); n != 0 {
		t.Fatalf("crash before ingest left %d commands (want the old, empty replica)", n)
	}
	if st, _ := s1.Status(gid); st.Applied != 0 {
		t.Fatalf("crash before ingest: applied %d, want 0", st.Applied)
	}
	s2, sm2 := reopen(after)
	defer s2.Close()
	if n := len(sm2.snapshot()); n != 100 {
		t.Fatalf("crash after ingest: %d commands, want 100", n)
	}
	want, got := dataRange(t, leader, gid), dataRange(t, s2, gid)
	if len(want) != len(got) {
		t.Fatalf("crash after ingest: %d keys, leader %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i][0], want[i][0]) || !bytes.Equal(got[i][1], want[i][1]) {
			t.Fatalf("key %d differs", i)
		}
	}
}

// Chunks from another node are checked before anything is staged.
func TestDecodeChunkRefusesBadInput(t *testing.T) {
	start, end := dataSpan(4)
	enc := func(last byte, lo, hi []byte, kvs ...[]byte) []byte {
		b := []byte{chunkVersion, last}
		for _, x := range append([][]byte{lo, hi}, kvs...) {
			b = append(b, byte(len(x)))
			b = append(b, x...)
		}
		return b
	}
	k := func(s string) []byte { return DataKey(4, []byte(s)) }
	// The data range, then the write-once range (writeonce.go) ends it.
	if _, err := decodeChunk(4, enc(0, start, end, k("a"), []byte("1"), k("b"), nil)); err != nil {
		t.Fatalf("good chunk refused: %v", err)
	}
	ss, se := streamSpan(4)
	if c, err := decodeChunk(4, enc(1, ss, se, append(StreamPrefix(4), 'b'), nil)); err != nil || !c.writeOnce {
		t.Fatalf("good write-once chunk refused: %v", err)
	}
	for name, b := range map[string][]byte{
		"version":            {9, 0},
		"other group":        enc(0, DataPrefix(3), end),
		"last at data end":   enc(1, start, end),
		"not last at end":    enc(0, ss, se),
		"across the ranges":  enc(0, start, se),
		"last before end":    enc(1, start, k("m")),
		"key out of bounds":  enc(0, start, k("m"), k("z"), nil),
		"keys out of order":  enc(1, start, end, k("b"), nil, k("a"), nil),
		"truncated value":    enc(1, start, end, k("a")),
		"raft key smuggled":  enc(1, start, end, raftStateKey(4, suffixApplied), nil),
		"empty or reversed":  enc(0, k("b"), k("a")),
		"truncated boundary": {chunkVersion, 0, 50, 1},
	} {
		if _, err := decodeChunk(4, b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
