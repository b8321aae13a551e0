package transport

import (
	"bytes"
	"context"
	"fmt"
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
