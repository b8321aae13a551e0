package transport

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Faults injects network failures for tests. It is consulted on the send
// side of every Transport that holds it, keyed by (from, to) node ids, so
// one *Faults shared by all the in-process nodes of a test cluster
// describes the whole network: Partition(a, b) stops a→b on a and b→a on b.
// (Separate Faults per node work too if every change is made on both.)
// The zero value is a healthy network; all methods are safe for concurrent
// use. A nil *Faults means no faults (production).
type Faults struct {
	mu struct {
		sync.Mutex
		cut      map[[2]uint64]bool          // unordered pairs {min, max} that cannot talk
		isolated map[uint64]bool             // nodes cut from everyone
		drop     map[[2]uint64]float64       // directed (from, to): probability a frame is lost
		delay    map[[2]uint64]time.Duration // directed (from, to): added latency
	}
}

// NewFaults returns a healthy network.
func NewFaults() *Faults { return &Faults{} }

func pair(a, b uint64) [2]uint64 {
	if a > b {
		a, b = b, a
	}
	return [2]uint64{a, b}
}

// Partition cuts traffic between a and b in both directions.
func (f *Faults) Partition(a, b uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.cut == nil {
		f.mu.cut = map[[2]uint64]bool{}
	}
	f.mu.cut[pair(a, b)] = true
}

// Heal restores traffic between a and b (a partition between them; an
// isolation of either stays).
func (f *Faults) Heal(a, b uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.mu.cut, pair(a, b))
}

// Isolate cuts n from every other node until HealAll.
func (f *Faults) Isolate(n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mu.isolated == nil {
		f.mu.isolated = map[uint64]bool{}
	}
	f.mu.isolated[n] = true
}

// HealAll removes every partition, isolation, drop rate and delay.
func (f *Faults) HealAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.cut, f.mu.isolated, f.mu.drop, f.mu.delay = nil, nil, nil, nil
}

// SetDrop makes each frame (and each internal call) from → to lost with
// probability prob (0 removes the rule).
func (f *Faults) SetDrop(from, to uint64, prob float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if prob <= 0 {
		delete(f.mu.drop, [2]uint64{from, to})
		return
	}
	if f.mu.drop == nil {
		f.mu.drop = map[[2]uint64]float64{}
	}
	f.mu.drop[[2]uint64{from, to}] = prob
}

// SetDelay delays every frame and call from → to by d (0 removes the rule).
// Delayed frames keep their order.
func (f *Faults) SetDelay(from, to uint64, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d <= 0 {
		delete(f.mu.delay, [2]uint64{from, to})
		return
	}
	if f.mu.delay == nil {
		f.mu.delay = map[[2]uint64]time.Duration{}
	}
	f.mu.delay[[2]uint64{from, to}] = d
}

// blocked reports whether from and to are cut off from each other.
func (f *Faults) blocked(from, to uint64) bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.blockedLocked(from, to)
}

func (f *Faults) blockedLocked(from, to uint64) bool {
	return f.mu.cut[pair(from, to)] || f.mu.isolated[from] || f.mu.isolated[to]
}

// decide is consulted once per frame or call from → to: lose it, or deliver
// it after delay.
func (f *Faults) decide(from, to uint64) (lose bool, delay time.Duration) {
	if f == nil {
		return false, 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.blockedLocked(from, to) {
		return true, 0
	}
	if p := f.mu.drop[[2]uint64{from, to}]; p > 0 && rand.Float64() < p {
		return true, 0
	}
	return false, f.mu.delay[[2]uint64{from, to}]
}
