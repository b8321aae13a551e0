package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/cairndb/cairn/internal/memory"
)

// Memory (issue 14): the node keeps to Config.MaxMemory. newMemory sizes
// the budgets before the store opens (Pebble's cache and memtables come
// from them); startMemory wires the gauges, the metrics and the sampler
// once the store runs. The router admits every insert through
// admitIngest; docs/memory.md has the rules.

// memorySample is how often the accountant measures the node's memory:
// admissions read the last sample.
const memorySample = 50 * time.Millisecond

// MaxMemoryDefault is the memory limit of a node started without
// --max-memory: memory.DefaultPercent of the machine's (or cgroup's)
// memory, and never below memory.MinLimit.
func MaxMemoryDefault() uint64 {
	total, _ := memory.Machine()
	return max(total/100*memory.DefaultPercent, memory.MinLimit)
}

// newMemory makes the node's accountant from cfg.MaxMemory (0: the
// default).
func (n *Node) newMemory() error {
	limit := n.cfg.MaxMemory
	if limit == 0 {
		limit = MaxMemoryDefault()
	}
	if limit < memory.MinLimit {
		return fmt.Errorf("--max-memory %s is below the minimum of %s", memory.Format(limit), memory.Format(memory.MinLimit))
	}
	mm := n.metrics.NewMemory()
	n.memMetrics = mm
	n.mem = memory.New(memory.Config{Node: n.cfg.NodeID, Budgets: memory.Plan(limit),
		OnDelay:  func() { mm.Backpressure.WithLabelValues("delayed").Inc() },
		OnRefuse: func() { mm.Backpressure.WithLabelValues("refused").Inc() }})
	return nil
}

// startMemory measures Pebble's cache and memtables and samples the
// node's memory until the node stops.
func (n *Node) startMemory() {
	db := n.store.DB()
	var mu sync.Mutex
	var at time.Time
	var cache, memtables uint64
	// db.Metrics takes locks and copies a fair amount: once per 500ms
	// is fresh enough for two slowly moving numbers.
	pebbleNow := func() (uint64, uint64) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(at) > 500*time.Millisecond {
			m := db.Metrics()
			cache, memtables, at = uint64(max(0, m.BlockCache.Size)), m.MemTable.Size, time.Now()
		}
		return cache, memtables
	}
	n.mem.SetGauge(memory.BlockCache, false, func() uint64 { c, _ := pebbleNow(); return c })
	n.mem.SetGauge(memory.MemTables, false, func() uint64 { _, m := pebbleNow(); return m })
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		t := time.NewTicker(memorySample)
		defer t.Stop()
		var goLimit uint64
		for i := 0; ; i++ {
			u := n.mem.Sample()
			if i%20 == 0 && n.cfg.GoMemoryLimit {
				// The GC's limit is what the rest of the process leaves
				// of --max-memory, so that RSS, not only the Go heap,
				// keeps to it: the GC works harder before admission has
				// to refuse ingest.
				if l := memory.GoLimitFor(n.mem.Limit(), memory.OutsideGo()); l>>20 != goLimit>>20 {
					goLimit = l
					debug.SetMemoryLimit(int64(l))
				}
			}
			if i%20 == 0 { // the metrics once a second
				by := make(map[string]uint64, len(u.By))
				for c, v := range u.By {
					by[string(c)] = v
				}
				n.memMetrics.Set(by, n.mem.Limit())
			}
			select {
			case <-n.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// MemoryBudgets are the budgets this node keeps to (from --max-memory).
// The view row cache's size, when --view-cache is not given, is its
// ViewCache.
func (n *Node) MemoryBudgets() memory.Budgets { return n.mem.Budgets() }

// admitIngest admits an insert of n bytes into stream (router.Config.Admit).
func (n *Node) admitIngest(ctx context.Context, stream string, bytes int64) (func(), error) {
	ad, err := n.mem.AdmitIngest(ctx, bytes, func() (int64, string) { return n.replicas.Lagging(stream) })
	if err != nil {
		return nil, err
	}
	return ad.Release, nil
}

// viewStall is the test knob that stalls this node's view tasks: while
// stalled, a task holds its folded delta instead of proposing it, as a
// view task that cannot keep up would (POST /debug/views, with
// --unsafe-test-faults).
type viewStall struct {
	mu      sync.Mutex
	stalled bool
	resume  chan struct{} // closed when the stall ends
}

// wait blocks while view tasks are stalled, until ctx ends.
func (s *viewStall) wait(ctx context.Context) error {
	s.mu.Lock()
	stalled, ch := s.stalled, s.resume
	s.mu.Unlock()
	if !stalled {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *viewStall) set(stall bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case stall && !s.stalled:
		s.stalled, s.resume = true, make(chan struct{})
	case !stall && s.stalled:
		s.stalled = false
		close(s.resume)
	}
}

// serveViewStall serves POST /debug/views {"stall": true|false}.
func (s *viewStall) serve(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Stall *bool `json:"stall"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Stall == nil {
		http.Error(w, `say {"stall":true} to stall this node's view tasks or {"stall":false} to let them run`, http.StatusBadRequest)
		return
	}
	s.set(*req.Stall)
	fmt.Fprintf(w, "view tasks stalled: %v\n", *req.Stall)
}
