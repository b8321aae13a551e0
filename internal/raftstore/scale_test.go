package raftstore

import (
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

// waitAllLed waits until every group in [first, first+n) has a leader
// that applied an entry of its term, as seen from stores[0].
func waitAllLed(t testing.TB, stores []*Store, first, n uint64) {
	t.Helper()
	eventually(t, 60*time.Second, func() error {
		for gid := first; gid < first+n; gid++ {
			led := false
			for _, s := range stores {
				if st, ok := s.Status(gid); ok && st.IsLeader && st.Applied == st.LastIndex && st.Applied > bootstrapIndex {
					led = true
				}
			}
			if !led {
				return fmt.Errorf("group %d has no settled leader", gid)
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

// TestIdleGroupsCPU starts 10,000 single-replica groups on one store (the
// production tick interval) and measures the idle CPU and the heap per
// group once they are quiet. The bound on CPU is generous for a shared CI
// machine; docs/scale.md quotes the measured figure.
func TestIdleGroupsCPU(t *testing.T) {
	const groups = 10000
	h0 := heapInUse()
	s := openTestStore(t, Config{Dir: t.TempDir(), NoSync: true, TickInterval: 50 * time.Millisecond})
	defer s.Close()
	start := time.Now()
	startGroups(t, []*Store{s}, 1, groups, []uint64{1})
	waitAllLed(t, []*Store{s}, 1, groups)
	t.Logf("started %d groups in %v", groups, time.Since(start).Round(time.Millisecond))
	eventually(t, 10*time.Second, func() error {
		if q := quiescedCount(s); q != groups {
			return fmt.Errorf("%d of %d groups quiesced", q, groups)
		}
		return nil
	})
	perGroup := (heapInUse() - min(h0, heapInUse())) / groups
	cpu := idleCPU(t, 2*time.Second)
	t.Logf("%d idle groups: %.2f%% of a core, %d bytes of heap per group", groups, cpu*100, perGroup)
	if cpu > 0.05 {
		t.Fatalf("%d idle groups use %.1f%% of a core, want under 5%%", groups, cpu*100)
	}
	if perGroup > 64<<10 {
		t.Fatalf("%d bytes of heap per idle group, want under 64 KiB", perGroup)
	}
}
