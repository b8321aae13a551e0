package raftstore

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user + system) this process used so far.
func cpuTime(t testing.TB) time.Duration {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// heapInUse is the live Go heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// idleCPU measures the share of one core this process uses over window.
func idleCPU(t testing.TB, window time.Duration) float64 {
	t.Helper()
	c0, w0 := cpuTime(t), time.Now()
	time.Sleep(window)
	return float64(cpuTime(t)-c0) / float64(time.Since(w0))
}

// startGroups starts groups first..first+n-1 on every listed store with
// peers, from a few goroutines so that many starts share a loop iteration.
func startGroups(t testing.TB, stores []*Store, first, n uint64, peers []uint64) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 8*len(stores))
	for _, s := range stores {
		for w := range uint64(8) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for gid := first + w; gid < first+n; gid += 8 {
					if err := s.StartGroup(gid, nopSM{gid}, peers); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// fillGroups proposes a few KiB to each group at its leader, so that the
// heap figure includes what a group that once had traffic keeps.
func fillGroups(t testing.TB, stores []*Store, first, n uint64) {
	t.Helper()
	cmd := make([]byte, 1<<10)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range uint64(8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for gid := first + w; gid < first+n; gid += 8 {
				for _, s := range stores {
					if st, ok := s.Status(gid); !ok || !st.IsLeader {
						continue
					}
					for range 4 {
						if _, err := s.Propose(context.Background(), gid, cmd); err != nil {
							errs <- fmt.Errorf("group %d: %w", gid, err)
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// waitAllLed waits until every group in [first, first+n) has a leader
// that applied an entry of its term, as seen from stores[0].
func waitAllLed(t testing.TB, stores []*Store, first, n uint64) {
	t.Helper()
	next := first // groups before next are settled
	eventually(t, 120*time.Second, func() error {
		for ; next < first+n; next++ {
			led := false
			for _, s := range stores {
				if st, ok := s.Status(next); ok && st.IsLeader && st.Applied == st.LastIndex && st.Applied > bootstrapIndex {
					led = true
				}
			}
			if !led {
				return fmt.Errorf("group %d has no settled leader", next)
			}
		}
		return nil
	})
}

// quiescedCount is how many of the store's groups are quiesced.
func quiescedCount(s *Store) int {
	n := 0
	_ = s.runInLoop(func() {
		for _, g := range s.groups {
			if g.quiesced {
				n++
			}
		}
	})
	return n
}

// idleFigures is what measureIdle found.
type idleFigures struct {
	cpu       float64 // share of one core used by the process while idle
	heapGroup uint64  // Go heap per replica
	pings     int64   // store pings in the window
	msgs      int64   // other raft messages in the window
	window    time.Duration
}

// measureIdle starts groups groups of nStores replicas on nStores stores in
// this process (production ticks, no fsync), waits until every group has a
// settled leader and, with quiescence, until every replica is quiesced, then
// measures the process's CPU and the messages between stores over a window.
func measureIdle(t testing.TB, nStores int, groups uint64, quiesce bool) idleFigures {
	h0 := heapInUse()
	net := newTestNet()
	var stores []*Store
	peers := make([]uint64, 0, nStores)
	for i := 1; i <= nStores; i++ {
		s := openTestStore(t, Config{Dir: t.TempDir(), NodeID: uint64(i), NoSync: true, TickInterval: 50 * time.Millisecond,
			Transport: net.transport(uint64(i)), TestingKnobs: TestingKnobs{DisableQuiescence: !quiesce}})
		net.add(uint64(i), s)
		stores = append(stores, s)
		peers = append(peers, uint64(i))
	}
	defer func() {
		for _, s := range stores {
			_ = s.Close()
		}
	}()
	start := time.Now()
	startGroups(t, stores, 1, groups, peers)
	waitAllLed(t, stores, 1, groups)
	fillGroups(t, stores, 1, groups)
	t.Logf("started and elected %d groups x %d replicas in %v", groups, nStores, time.Since(start).Round(time.Millisecond))
	if quiesce {
		eventually(t, 30*time.Second, func() error {
			for i, s := range stores {
				if q := quiescedCount(s); q != int(groups) {
					return fmt.Errorf("store %d: %d of %d groups quiesced", i+1, q, groups)
				}
			}
			return nil
		})
	} else {
		time.Sleep(time.Second) // let elections and catch-up finish
	}
	f := idleFigures{window: 2 * time.Second}
	f.heapGroup = (heapInUse() - min(h0, heapInUse())) / (groups * uint64(nStores))
	var mc msgCounter
	net.setDrop(mc.count)
	f.cpu = idleCPU(t, f.window)
	net.setDrop(nil)
	f.pings, f.msgs = mc.pings.Load(), mc.other.Load()
	if quiesce {
		// A quiesced group wakes for a proposal and commits it.
		for _, gid := range []uint64{1, groups} {
			for _, s := range stores {
				if st, _ := s.Status(gid); st.IsLeader {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, err := s.Propose(ctx, gid, []byte("wake"))
					cancel()
					if err != nil {
						t.Fatalf("propose to quiesced group %d: %v", gid, err)
					}
				}
			}
		}
	}
	t.Logf("%d idle groups x %d replicas, quiescence %v: %.2f%% of a core, %d bytes of heap per replica, %d store pings and %d raft messages in %v",
		groups, nStores, quiesce, f.cpu*100, f.heapGroup, f.pings, f.msgs, f.window)
	return f
}

// idleCPUBound is the most CPU idle groups may use: 5% of a core, three
// times that under the race detector, which slows the loop's ticker,
// Pebble's background work and the runtime that make up the idle cost.
var idleCPUBound = map[bool]float64{false: 0.05, true: 0.15}[raceEnabled]

// TestIdleGroupsCPU: 10,000 single-replica groups (2,000 under the race
// detector) on one store, at the production tick interval, cost under 5%
// of a core once idle, and little heap each; a quiesced group still
// commits. The CPU bound is generous for a shared CI machine;
// docs/scale.md quotes the measured figures (BenchmarkIdleGroups).
func TestIdleGroupsCPU(t *testing.T) {
	groups := uint64(10000)
	if raceEnabled {
		groups = 2000 // starting groups is ~10x slower under the race detector
	}
	f := measureIdle(t, 1, groups, true)
	if f.cpu > idleCPUBound {
		t.Fatalf("%d idle groups use %.1f%% of a core, want under %.0f%%", groups, f.cpu*100, idleCPUBound*100)
	}
	if f.heapGroup > 64<<10 {
		t.Fatalf("%d bytes of heap per idle group, want under 64 KiB", f.heapGroup)
	}
}

// TestIdleGroupsCPUThreeStores: 1,000 (300 under the race detector)
// groups of three replicas on three stores in one process. Once they are quiet the stores
// exchange only store pings (per node pair, whatever the number of
// groups) and the process's idle CPU stays under the same bound.
func TestIdleGroupsCPUThreeStores(t *testing.T) {
	groups := uint64(1000)
	if raceEnabled {
		groups = 300
	}
	f := measureIdle(t, 3, groups, true)
	if f.cpu > idleCPUBound {
		t.Fatalf("%d idle 3-replica groups use %.1f%% of a core, want under %.0f%%", groups, f.cpu*100, idleCPUBound*100)
	}
	// A group woken now and then by a stall of the machine sends a few
	// messages; active groups would send 1,000 x 2 x 2 x 10 per second.
	if f.msgs > int64(groups/10) {
		t.Fatalf("%d raft messages in %v between idle groups", f.msgs, f.window)
	}
	// 3 nodes x 2 peers x 10 pings/s.
	if f.pings == 0 || f.pings > 200 {
		t.Fatalf("%d store pings in %v, want 1..200", f.pings, f.window)
	}
}

// BenchmarkIdleGroups reports idle CPU (% of a core), heap per replica and
// messages per second for idle groups with quiescence off (every group
// ticks, as before quiescence) and on. One iteration is the whole
// measurement: go test ./internal/raftstore -run '^$' -bench IdleGroups -benchtime 1x
func BenchmarkIdleGroups(b *testing.B) {
	for _, tc := range []struct {
		stores int
		groups uint64
	}{{1, 10000}, {3, 1000}, {3, 3000}} {
		for _, q := range []bool{false, true} {
			b.Run(fmt.Sprintf("stores=%d/groups=%d/quiesce=%v", tc.stores, tc.groups, q), func(b *testing.B) {
				for b.Loop() {
					f := measureIdle(b, tc.stores, tc.groups, q)
					b.ReportMetric(f.cpu*100, "%core")
					b.ReportMetric(float64(f.heapGroup), "heapB/replica")
					b.ReportMetric(float64(f.msgs+f.pings)/f.window.Seconds(), "msgs/s")
				}
			})
		}
	}
}
