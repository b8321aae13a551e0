package transport

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/raftstore"
	pb "go.etcd.io/raft/v3/raftpb"
)

// counter is a Handler that only counts what arrives.
type counter struct{ msgs atomic.Int64 }

func (c *counter) HandleRaft(msgs []raftstore.GroupMessage) { c.msgs.Add(int64(len(msgs))) }
func (c *counter) HandleRPC(context.Context, string, []byte) ([]byte, error) {
	return nil, nil
}

// BenchmarkSend measures raft traffic between two transports over gRPC on
// loopback: each Send carries `batch` MsgApps (one entry of `size` bytes,
// spread over 16 groups) to the peer, i.e. one frame. The sender keeps at
// most `window` messages in flight so that the queue never drops and the
// numbers are delivered throughput, not drop rate.
func BenchmarkSend(b *testing.B) {
	for _, bc := range []struct{ batch, size int }{{16, 64}, {64, 256}, {64, 4096}} {
		b.Run(fmt.Sprintf("batch=%d/entry=%dB", bc.batch, bc.size), func(b *testing.B) {
			var book addrBook
			rcv := &counter{}
			tx := New(Config{NodeID: 1, Resolve: book.resolve})
			rx := New(Config{NodeID: 2, Resolve: book.resolve, Handler: rcv})
			addr, served := serve(b, rx, "")
			book.set(2, addr)
			defer closeAndWait(b, rx, served)
			defer tx.Close()

			msgs := make([]raftstore.GroupMessage, bc.batch)
			data := bytes.Repeat([]byte{'x'}, bc.size)
			for i := range msgs {
				msgs[i] = raftstore.GroupMessage{GroupID: uint64(i % 16), Msg: &pb.Message{
					Type: pb.MsgApp.Enum(), From: new(uint64(1)), To: new(uint64(2)), Term: new(uint64(5)),
					LogTerm: new(uint64(5)), Index: new(uint64(1000 + i)), Commit: new(uint64(990)),
					Entries: []*pb.Entry{{Term: new(uint64(5)), Index: new(uint64(1001 + i)), Data: data}},
				}}
			}
			window := int64(256 * bc.batch)
			var sent int64
			wait := func(until int64) {
				deadline := time.Now().Add(10 * time.Second)
				for rcv.msgs.Load() < until {
					if time.Now().After(deadline) {
						b.Fatalf("receiver stuck at %d of %d messages (stats %+v)", rcv.msgs.Load(), until, tx.Stats())
					}
					time.Sleep(20 * time.Microsecond)
				}
			}
			// Warm up the streams.
			tx.Send(msgs)
			sent += int64(len(msgs))
			wait(sent)
			before := tx.Stats()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for range b.N {
				wait(sent + int64(len(msgs)) - window)
				tx.Send(msgs)
				sent += int64(len(msgs))
			}
			wait(sent)
			el := time.Since(start).Seconds()
			b.StopTimer()
			st := tx.Stats()
			if st.MsgsDropped != before.MsgsDropped {
				b.Fatalf("%d messages dropped", st.MsgsDropped-before.MsgsDropped)
			}
			b.ReportMetric(float64(b.N*len(msgs))/el, "msgs/s")
			b.ReportMetric(float64(st.BytesSent-before.BytesSent)/el/1e6, "MB/s")
			b.ReportMetric(float64(st.MsgsSent-before.MsgsSent)/float64(max(st.FramesSent-before.FramesSent, 1)), "msgs/frame")
		})
	}
}

// BenchmarkSnapshot copies a group of CAIRN_SNAP_MB MiB (default 64) to a
// new, empty replica over gRPC on loopback with streamed snapshots (4 MiB
// chunks, no rate limit) and reports MB/s and how much the heap in use
// grew while it ran (both stores are in this process). Data is written straight into
// the leader's data range (values of 4 KiB).
func BenchmarkSnapshot(b *testing.B) {
	mb := 64
	if v, err := strconv.Atoi(os.Getenv("CAIRN_SNAP_MB")); err == nil && v > 0 {
		mb = v
	}
	for range b.N {
		benchSnapshotOnce(b, mb)
	}
}

func benchSnapshotOnce(b *testing.B, mb int) {
	b.StopTimer()
	var book addrBook
	const gid = 9
	type side struct {
		tr    *Transport
		h     *storeHandler
		store *raftstore.Store
		sm    *indexSM
		done  chan error
	}
	var t0 time.Time
	var firstChunk, lastChunk, ingestAt atomic.Int64
	knobs := TestingKnobs{BeforeSnapshotChunk: func(_, _ uint64, i int) error {
		d := int64(time.Since(t0))
		firstChunk.CompareAndSwap(0, d)
		lastChunk.Store(d)
		return nil
	}}
	open := func(id uint64, peers []uint64) *side {
		s := &side{h: &storeHandler{}}
		s.tr = New(Config{NodeID: id, Resolve: book.resolve, Handler: s.h, TestingKnobs: knobs})
		addr, done := serve(b, s.tr, "")
		s.done = done
		book.set(id, addr)
		cfg := raftstore.Config{Dir: b.TempDir(), NodeID: id, NoSync: true, Transport: s.tr, TickInterval: 10 * time.Millisecond}
		cfg.TestingKnobs.BeforeIngest = func(uint64, []string) { ingestAt.Store(int64(time.Since(t0))) }
		st, err := raftstore.Open(cfg)
		if err != nil {
			b.Fatal(err)
		}
		s.store = st
		s.h.store.Store(st)
		s.sm = newIndexSM(gid)
		if err := st.StartGroup(gid, s.sm, peers); err != nil {
			b.Fatal(err)
		}
		return s
	}
	leader := open(1, []uint64{1})
	defer func() { closeAndWait(b, leader.tr, leader.done); _ = leader.store.Close() }()
	val := bytes.Repeat([]byte("v"), 4096)
	wb := leader.store.DB().NewBatch()
	for i := range mb * 256 {
		_ = wb.Set(raftstore.DataKey(gid, fmt.Appendf(nil, "k%09d", i)), val, nil)
		if wb.Len() > 64<<20 {
			if err := wb.Commit(nil); err != nil {
				b.Fatal(err)
			}
			wb = leader.store.DB().NewBatch()
		}
	}
	if err := wb.Commit(nil); err != nil {
		b.Fatal(err)
	}
	eventually(b, 10*time.Second, func() error {
		if st, _ := leader.store.Status(gid); !st.IsLeader {
			return errNoLeader
		}
		return nil
	})
	// Something applied after the direct writes, so the snapshot is taken at
	// a fresh applied index.
	if _, err := leader.store.Propose(context.Background(), gid, []byte("x")); err != nil {
		b.Fatal(err)
	}
	// Flush the leader's memtables (they hold the data written above) so
	// the heap measured below is the snapshot's, not the write path's.
	if err := leader.store.DB().Flush(); err != nil {
		b.Fatal(err)
	}
	follower := open(2, nil)
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	defer func() { closeAndWait(b, follower.tr, follower.done); _ = follower.store.Close() }()
	var peak atomic.Uint64
	stop := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	b.StartTimer()
	start := time.Now()
	t0 = start
	cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeAddLearnerNode.Enum(), NodeId: new(uint64(2))}}}
	if err := leader.store.ProposeConfChange(context.Background(), gid, cc); err != nil {
		b.Fatal(err)
	}
	eventually(b, 30*time.Minute, func() error {
		ls, _ := leader.store.Status(gid)
		fs, _ := follower.store.Status(gid)
		if fs.Applied < ls.Applied {
			return fmt.Errorf("follower applied %d of %d", fs.Applied, ls.Applied)
		}
		return nil
	})
	took := time.Since(start)
	b.StopTimer()
	close(stop)
	if n, _, _ := follower.sm.state(); len(n) != mb*256+1 {
		b.Fatalf("follower has %d keys, want %d", len(n), mb*256+1)
	}
	sent := leader.tr.Stats().SnapshotBytesSent
	b.ReportMetric(float64(sent)/(1<<20)/took.Seconds(), "MB/s")
	grow := int64(peak.Load()) - int64(base.HeapInuse)
	b.ReportMetric(float64(grow)/(1<<20), "heap-growth-MB")
	b.Logf("first chunk after %v, last chunk after %v, ingest at %v", time.Duration(firstChunk.Load()), time.Duration(lastChunk.Load()), time.Duration(ingestAt.Load()))
	b.Logf("%d MiB snapshot in %v: %.1f MB/s, heap in use grew by at most %d MiB (both stores, from %d MiB), sender max unacked %d KiB, receiver max buffered %d KiB",
		mb, took.Round(time.Millisecond), float64(sent)/(1<<20)/took.Seconds(), grow>>20, base.HeapInuse>>20,
		leader.tr.Stats().SnapshotMaxUnacked>>10, follower.tr.Stats().SnapshotMaxBuffered>>10)
}
