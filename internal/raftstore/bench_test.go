package raftstore

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// nopSM stores each command under its index, as a stream shard would.
type nopSM struct{ gid uint64 }

func (m nopSM) Apply(wb *pebble.Batch, index uint64, cmd []byte) any {
	_ = wb.Set(DataKey(m.gid, fmt.Appendf(nil, "%016x", index)), cmd, nil)
	return index
}
func (nopSM) Load(pebble.Reader) error { return nil }

// BenchmarkPropose30KB measures Propose throughput of one group with N
// concurrent proposers and 30 KB commands, fsync on (the ingest path).
func BenchmarkPropose30KB(b *testing.B) { benchPropose(b, 30<<10, []int{1, 16, 64}) }

// BenchmarkProposeSmall: 100-byte commands (view deltas, meta commands).
func BenchmarkProposeSmall(b *testing.B) { benchPropose(b, 100, []int{1, 64, 256}) }

func benchPropose(b *testing.B, size int, proposers []int) {
	for _, n := range proposers {
		b.Run(fmt.Sprintf("proposers=%d", n), func(b *testing.B) {
			var fsyncs atomic.Int64
			s := openTestStore(b, Config{Dir: b.TempDir(), OnFsync: func(time.Duration) { fsyncs.Add(1) }})
			defer s.Close()
			if err := s.StartGroup(1, nopSM{1}, []uint64{1}); err != nil {
				b.Fatal(err)
			}
			cmd := make([]byte, size)
			for i := range cmd {
				cmd[i] = byte(i * 7)
			}
			ctx := context.Background()
			var next atomic.Int64
			b.SetBytes(int64(len(cmd)))
			b.ResetTimer()
			start, f0 := time.Now(), fsyncs.Load()
			var wg sync.WaitGroup
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						if _, err := s.Propose(ctx, 1, cmd); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.ReportMetric(float64(b.N)/el.Seconds(), "proposals/s")
			b.ReportMetric(float64(b.N)/float64(max(fsyncs.Load()-f0, 1)), "proposals/fsync")
		})
	}
}
