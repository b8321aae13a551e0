package streamsm

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/types"
)

// These tests run the shard on a real raft store: the write-out of the
// tail, the log kept for it, crashes in between, snapshots.

const testGid = 42

func openStore(t *testing.T, fs vfs.FS, node uint64, tr raftstore.Transport) *raftstore.Store {
	t.Helper()
	st, err := raftstore.Open(raftstore.Config{
		Dir: fmt.Sprintf("n%d", node), FS: fs, NodeID: node, Transport: tr,
		TickInterval: 10 * time.Millisecond, MaxLogEntries: 8, MaxRetainEntries: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func startShard(t *testing.T, st *raftstore.Store, flushBatches int, peers []uint64) *SM {
	t.Helper()
	seg := StoreSegments(st, testGid)
	seg.FlushBatches = flushBatches
	sm := New(testGid, raftstore.DataPrefix(testGid), seg)
	if err := st.StartGroup(testGid, sm, peers); err != nil {
		t.Fatal(err)
	}
	return sm
}

// valueBatch is a batch of n events whose first column is v, v+1, ...
func valueBatch(v int64, n int) []byte {
	vals := make([]int64, n)
	for i := range vals {
		vals[i] = v + int64(i)
	}
	return batchOf(vals...)
}

func propose(ctx context.Context, st *raftstore.Store, i int, n int) (AppendResult, error) {
	var id [BatchIDLen]byte
	binary.BigEndian.PutUint64(id[:], uint64(i)+1)
	res, err := st.Propose(ctx, testGid, EncodeAppend(nil, id, int64(i), valueBatch(int64(i)*100, n)))
	if err != nil {
		return AppendResult{}, err
	}
	if e, ok := res.(error); ok {
		return AppendResult{}, e
	}
	return res.(AppendResult), nil
}

// readAll scans the whole shard, checking that batches are contiguous
// from First, and returns the events' first-column values.
func readAll(t *testing.T, sm *SM) []int64 {
	t.Helper()
	var got []int64
	want := sm.First()
	end1, _ := sm.End()
	next, err := sm.Scan(want, 0, func(start uint64, _ int64, _ Targets, b *types.Batch) error {
		if start != want {
			return fmt.Errorf("batch at offset %d, want %d (offsets not contiguous)", start, want)
		}
		want += uint64(b.N)
		got = append(got, b.Cols[0].I...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if end2, _ := sm.End(); next < end1 || next > end2 {
		t.Fatalf("scan ended at %d, shard end %d to %d", next, end1, end2)
	}
	return got
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !f(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestCrashBetweenAppendAndWriteOut kills the store (a crash clone of its
// file system) at random moments while batches are appended and written
// out in the background, restarts it from the clone, and checks that
// every batch acknowledged before the crash is read back exactly once,
// with contiguous offsets; then that appends continue after it.
func TestCrashBetweenAppendAndWriteOut(t *testing.T) {
	for _, tc := range []struct {
		name         string
		flushBatches int
		unsynced     int
	}{
		{"tail only", 100000, 0}, // never written out: all from the log
		{"written out", 3, 0},
		{"written out, unsynced kept", 3, 100},
		{"written out, half unsynced", 5, 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.flushBatches), uint64(tc.unsynced)))
			fs := vfs.NewCrashableMem()
			st := openStore(t, fs, 1, nil)
			sm := startShard(t, st, tc.flushBatches, []uint64{1})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			crashAt := 20 + rng.IntN(40)
			var (
				mu      sync.Mutex
				acked   []int // batch numbers acknowledged
				crashed *vfs.MemFS
				ackedAt []int // acknowledged before the crash
			)
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < 100; i += 4 {
						if _, err := propose(ctx, st, i, 1+i%5); err != nil {
							t.Errorf("append %d: %v", i, err)
							return
						}
						mu.Lock()
						acked = append(acked, i)
						if len(acked) == crashAt {
							ackedAt = slices.Clone(acked)
							crashed = fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: tc.unsynced, RNG: rng})
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if got := readAll(t, sm); len(got) == 0 {
				t.Fatal("nothing read back before the crash")
			}
			sm.Close()
			if err := st.Close(); err != nil {
				t.Fatal(err)
			}

			st2 := openStore(t, crashed, 1, nil)
			defer st2.Close()
			sm2 := startShard(t, st2, tc.flushBatches, []uint64{1})
			defer sm2.Close()
			// Leading, with the whole log (its own term's entry) applied.
			waitFor(t, "the restarted shard to lead", func() bool {
				s, ok := st2.Status(testGid)
				return ok && s.IsLeader && s.Applied == s.LastIndex
			})
			// Appending goes on from the recovered end.
			r, err := propose(ctx, st2, 1000, 2)
			if err != nil || r.End != r.Start+2 {
				t.Fatalf("append after restart: %+v, %v", r, err)
			}
			waitFor(t, "the append to be published", func() bool { e, _ := sm2.End(); return e >= r.End })
			checkExactlyOnce(t, readAll(t, sm2), append(slices.Clone(ackedAt), 1000))
			if e, _ := sm2.End(); e != r.End {
				t.Fatalf("shard ends at %d after the append at [%d, %d)", e, r.Start, r.End)
			}
			if err := sm2.Flush(); err != nil {
				t.Fatal(err)
			}
			checkExactlyOnce(t, readAll(t, sm2), append(ackedAt, 1000))
		})
	}
}

// checkExactlyOnce checks that the events of every batch in acked are in
// got once, and that no event is there twice.
func checkExactlyOnce(t *testing.T, got []int64, acked []int) {
	t.Helper()
	seen := map[int64]int{}
	for _, v := range got {
		seen[v]++
		if seen[v] > 1 {
			t.Fatalf("event %d read back twice", v)
		}
	}
	for _, i := range acked {
		n := 1 + i%5
		if i == 1000 {
			n = 2
		}
		for k := range n {
			if seen[int64(i)*100+int64(k)] != 1 {
				t.Fatalf("acknowledged event %d of batch %d lost (read %d events)", k, i, len(got))
			}
		}
	}
}

// TestRetentionDropsWholeFiles: batches written out land in files of the
// shard's write-once range at the bottom level; a trim drops the files
// wholly below it (excise), and the shard reads from its new first offset.
func TestRetentionDropsWholeFiles(t *testing.T) {
	fs := vfs.NewMem()
	st := openStore(t, fs, 1, nil)
	defer st.Close()
	sm := startShard(t, st, 100000, []uint64{1})
	defer sm.Close()
	waitFor(t, "leader", func() bool { s, ok := st.Status(testGid); return ok && s.IsLeader })
	ctx := context.Background()
	var cut uint64
	for f := range 4 { // four files of 5 batches of 2 events
		for i := range 5 {
			r, err := propose(ctx, st, f*5+i, 2)
			if err != nil {
				t.Fatal(err)
			}
			if f == 2 && i == 0 {
				cut = r.Start // the first offset of the third file
			}
		}
		if err := sm.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	files := streamFiles(t, st.DB())
	if len(files) != 4 {
		t.Fatalf("%d files in the write-once range, want 4: %v", len(files), files)
	}
	for _, f := range files {
		if f.level != 6 {
			t.Fatalf("file %d ingested into L%d, want the bottom level", f.num, f.level)
		}
	}
	if _, err := st.Propose(ctx, testGid, EncodeTrim(cut)); err != nil {
		t.Fatal(err)
	}
	// Published just after the proposer is answered.
	waitFor(t, "the trim to be published", func() bool { return sm.First() == cut })
	if err := sm.Flush(); err != nil { // excises below the trim point
		t.Fatal(err)
	}
	// Two files left, nothing rewritten: no compaction wrote a byte (the
	// excise may re-reference a bordering file as a virtual SST).
	after := streamFiles(t, st.DB())
	if len(after) != 2 || after[1].level != 6 || after[0].level != 6 {
		t.Fatalf("after the trim: files %v, want two of %v", after, files)
	}
	for _, l := range st.DB().Metrics().Levels {
		if l.TableBytesCompacted != 0 {
			t.Fatalf("a compaction wrote %d bytes", l.TableBytesCompacted)
		}
	}
	got := readAll(t, sm)
	if sm.First() != cut || len(got) != 20 || got[0] != 1000 {
		t.Fatalf("after the trim: first %d (want %d), %d events from %v", sm.First(), cut, len(got), got[:1])
	}
}

type sstFile struct {
	level int
	num   uint64
}

// streamFiles lists the files holding the test shard's write-once range.
func streamFiles(t *testing.T, db *pebble.DB) []sstFile {
	t.Helper()
	levels, err := db.SSTables()
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := raftstore.StreamPrefix(testGid), raftstore.StreamPrefix(testGid+1)
	var out []sstFile
	for l, files := range levels {
		for _, f := range files {
			if bytes.Compare(f.Smallest.UserKey, hi) < 0 && bytes.Compare(f.Largest.UserKey, lo) >= 0 {
				out = append(out, sstFile{l, uint64(f.FileNum)})
			}
		}
	}
	slices.SortFunc(out, func(a, b sstFile) int { return int(a.num) - int(b.num) })
	return out
}

// TestWrittenOnceNotCompacted writes stream batches out while other keys
// (raft log, view state) churn through flushes and compactions, and
// checks that the stream files are never rewritten: the same files,
// still at the bottom level, and compaction wrote no stream bytes.
func TestWrittenOnceNotCompacted(t *testing.T) {
	fs := vfs.NewMem()
	st := openStore(t, fs, 1, nil)
	defer st.Close()
	sm := startShard(t, st, 4, []uint64{1})
	defer sm.Close()
	waitFor(t, "leader", func() bool { s, ok := st.Status(testGid); return ok && s.IsLeader })
	ctx := context.Background()
	db := st.DB()
	junk := make([]byte, 4<<10)
	for i := range 200 {
		if _, err := propose(ctx, st, i, 50); err != nil {
			t.Fatal(err)
		}
		// Other groups' data around the stream range, as view shards write it.
		b := db.NewBatch()
		for k := range 16 {
			_ = b.Set(raftstore.DataKey(uint64(k), binary.BigEndian.AppendUint64(nil, uint64(i))), junk, nil)
		}
		if err := b.Commit(pebble.NoSync); err != nil {
			t.Fatal(err)
		}
	}
	if err := sm.Flush(); err != nil {
		t.Fatal(err)
	}
	before := streamFiles(t, db)
	ingested := db.Metrics().Total().TableBytesIngested
	// Force every other key through flushes and compactions to the bottom.
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(ctx, []byte("a"), []byte("z"), false); err != nil {
		t.Fatal(err)
	}
	after := streamFiles(t, db)
	if !slices.Equal(before, after) || len(after) < 10 {
		t.Fatalf("stream files before the compaction %v, after %v", before, after)
	}
	for _, f := range after {
		if f.level != 6 {
			t.Fatalf("stream file %d at L%d", f.num, f.level)
		}
	}
	m := db.Metrics()
	t.Logf("stream bytes ingested %d in %d files; bytes compacted (other keys) %d", ingested, len(after), m.Total().TableBytesCompacted)
	if got := readAll(t, sm); len(got) != 200*50 {
		t.Fatalf("read back %d events", len(got))
	}
}

// memNet delivers raft messages between in-process stores.
type memNet struct {
	mu     sync.Mutex
	stores map[uint64]*raftstore.Store
}

func (n *memNet) Send(msgs []raftstore.GroupMessage) {
	for _, m := range msgs {
		n.mu.Lock()
		dst := n.stores[m.Msg.GetTo()]
		n.mu.Unlock()
		if dst == nil {
			continue
		}
		b, err := proto.Marshal(m.Msg)
		if err != nil {
			panic(err)
		}
		var cp pb.Message
		if err := proto.Unmarshal(b, &cp); err != nil {
			panic(err)
		}
		_ = dst.Step(m.GroupID, &cp)
	}
}

// SendSnapshot streams a snapshot's chunks straight into the receiver.
func (n *memNet) SendSnapshot(ctx context.Context, gid uint64, msg *pb.Message, src *raftstore.SnapshotSource) error {
	n.mu.Lock()
	dst := n.stores[msg.GetTo()]
	n.mu.Unlock()
	if dst == nil {
		return fmt.Errorf("no node %d", msg.GetTo())
	}
	var cp pb.Message
	b, _ := proto.Marshal(msg)
	_ = proto.Unmarshal(b, &cp)
	in, err := dst.ReceiveSnapshot(gid, &cp)
	if err != nil {
		return err
	}
	defer in.Release()
	for i := in.Next(); !in.Complete(); i++ {
		data, _, err := src.Chunk(i)
		if err != nil {
			return err
		}
		if _, err := in.WriteChunk(i, data); err != nil {
			return err
		}
	}
	return in.Finish()
}

// TestSnapshotCarriesStream: a replica added after the leader truncated
// its log is caught up by a snapshot, which must hold the written-out
// batches and the tail alike; the new replica then reads the stream
// exactly as the leader does, and keeps up with later appends.
func TestSnapshotCarriesStream(t *testing.T) {
	net := &memNet{stores: map[uint64]*raftstore.Store{}}
	fs := vfs.NewMem()
	st1 := openStore(t, fs, 1, net)
	defer st1.Close()
	net.stores[1] = st1
	sm1 := startShard(t, st1, 5, []uint64{1})
	defer sm1.Close()
	waitFor(t, "leader", func() bool { s, ok := st1.Status(testGid); return ok && s.IsLeader })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 40 {
		if _, err := propose(ctx, st1, i, 3); err != nil {
			t.Fatal(err)
		}
	}
	// The log is cut past what is written out at the next apply.
	waitFor(t, "write-out", func() bool { return sm1.RetainLogFrom() > 20 })
	if _, err := propose(ctx, st1, 40, 3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "log truncation", func() bool { s, _ := st1.Status(testGid); return s.FirstIndex > 20 })
	if sm1.Flushes() == 0 {
		t.Fatal("nothing written out")
	}

	st2 := openStore(t, fs, 2, net)
	defer st2.Close()
	net.mu.Lock()
	net.stores[2] = st2
	net.mu.Unlock()
	sm2 := startShard(t, st2, 5, nil)
	defer sm2.Close()
	cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeType_ConfChangeAddLearnerNode.Enum(), NodeId: proto.Uint64(2)}}}
	if err := st1.ProposeConfChange(ctx, testGid, cc); err != nil {
		t.Fatal(err)
	}
	want := readAll(t, sm1)
	waitFor(t, "the new replica to catch up", func() bool { e, _ := sm2.End(); e1, _ := sm1.End(); return e == e1 })
	if got := readAll(t, sm2); !slices.Equal(got, want) {
		t.Fatalf("new replica reads %d events, leader %d", len(got), len(want))
	}
	for i := 41; i < 50; i++ {
		if _, err := propose(ctx, st1, i, 2); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "later appends to reach the new replica", func() bool { e, _ := sm2.End(); e1, _ := sm1.End(); return e == e1 })
	if got, want := readAll(t, sm2), readAll(t, sm1); !slices.Equal(got, want) {
		t.Fatalf("after more appends: new replica reads %d events, leader %d", len(got), len(want))
	}
}
