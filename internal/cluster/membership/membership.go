// Package membership tracks which nodes are alive. Each node records when
// it last heard a heartbeat from every other node and how many shard
// leaders that node said it holds; Snapshot turns those records, the
// clock and the suspect/dead thresholds into a plain value that the pure
// placement and scheduling decisions read. It does no I/O: the node sends
// and receives the heartbeats.
package membership

import (
	"sync"
	"time"

	"github.com/cairndb/cairn/internal/clock"
)

// State is a node's liveness as one node sees it.
type State string

// Liveness states.
const (
	Live    State = "live"
	Suspect State = "suspect"
	Dead    State = "dead"
	// Unknown: not heard from since this process started, for less than
	// dead_after. A whole-cluster restart declares nothing dead early.
	Unknown State = "unknown"
)

// Classify is the liveness rule: a node heard from within suspectAfter is
// live, within deadAfter suspect, else dead; one never heard from is
// unknown until deadAfter has passed since start, then dead.
func Classify(now, started, last time.Time, heard bool, suspectAfter, deadAfter time.Duration) State {
	switch {
	case !heard && now.Sub(started) < deadAfter:
		return Unknown
	case !heard:
		return Dead
	case now.Sub(last) < suspectAfter:
		return Live
	case now.Sub(last) < deadAfter:
		return Suspect
	}
	return Dead
}

// Tracker records heartbeats. Safe for concurrent use.
type Tracker struct {
	clock   clock.Clock
	started time.Time // when this process started tracking

	mu struct {
		sync.Mutex
		heard   map[uint64]time.Time // node id -> last heartbeat
		leaders map[uint64]int       // node id -> data-shard leaders it reported
	}
}

// NewTracker returns a tracker that starts counting now.
func NewTracker(c clock.Clock) *Tracker {
	t := &Tracker{clock: c, started: c.Now()}
	t.mu.heard = map[uint64]time.Time{}
	t.mu.leaders = map[uint64]int{}
	return t
}

// Started is when the tracker was made.
func (t *Tracker) Started() time.Time { return t.started }

// Saw records a heartbeat from node id now.
func (t *Tracker) Saw(id uint64) {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.heard[id] = now
}

// SetLeaders records how many data-shard leaders node id holds.
func (t *Tracker) SetLeaders(id uint64, n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.leaders[id] = n
}

// LeadersOf returns the leader count node id last reported.
func (t *Tracker) LeadersOf(id uint64) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.mu.leaders[id]
	return n, ok
}

// State returns node id's liveness (self is always live).
func (t *Tracker) State(self, id uint64, suspectAfter, deadAfter time.Duration) State {
	if id == self {
		return Live
	}
	t.mu.Lock()
	last, ok := t.mu.heard[id]
	t.mu.Unlock()
	return Classify(t.clock.Now(), t.started, last, ok, suspectAfter, deadAfter)
}

// Snapshot returns the liveness of every node in ids, and the leader
// counts heard, as of now.
func (t *Tracker) Snapshot(self uint64, ids []uint64, suspectAfter, deadAfter time.Duration) Snapshot {
	s := Snapshot{Self: self, States: make(map[uint64]State, len(ids)), Leaders: map[uint64]int{}}
	for _, id := range ids {
		s.States[id] = t.State(self, id, suspectAfter, deadAfter)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, n := range t.mu.leaders {
		s.Leaders[id] = n
	}
	return s
}

// Snapshot is the liveness of the cluster's nodes at one moment, as one
// node (Self) sees it.
type Snapshot struct {
	Self    uint64
	States  map[uint64]State // by node id; a node missing here is dead
	Leaders map[uint64]int   // data-shard leaders each node reported; missing: not heard
}

// Of returns node id's state.
func (s Snapshot) Of(id uint64) State {
	if id == s.Self {
		return Live
	}
	if st, ok := s.States[id]; ok {
		return st
	}
	return Dead
}

// IsLive reports whether node id is live.
func (s Snapshot) IsLive(id uint64) bool { return s.Of(id) == Live }

// Last returns when node id was last heard from.
func (t *Tracker) Last(id uint64) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	at, ok := t.mu.heard[id]
	return at, ok
}
