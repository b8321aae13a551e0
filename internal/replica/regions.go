package replica

import (
	"context"
	"slices"
	"sync"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/rpc"
)

// Permanent learners (issue 15, docs/regions.md). A regional object's
// shards have, besides their voters, learners the catalog lists in
// GroupRef.Learners: they start empty here (startPeers), the shard's
// leader adds them to the raft group (EnsureLearners), and they stay
// learners: nothing promotes them but ALTER SYSTEM FAILOVER REGION. They
// serve reads with read_from = any (Servable) once they hold the
// group's state.

// learnerState is what this node remembers of its permanent learners,
// for the lag FAILOVER REGION reports.
type learnerState struct {
	mu      sync.Mutex
	applied map[uint64]appliedAt // by group
	running bool                 // an EnsureLearners pass is under way
	mine    []uint64             // the groups with a permanent learner here
	sampler bool                 // the sampling loop runs
	newest  map[uint64]newestBatch
}

// newestBatch follows a stream learner's newest batch: pos is the offset
// scanned up to, ingest the ingest time (unix µs) of the newest batch
// seen (0: none since this node started following the shard).
type newestBatch struct {
	pos    uint64
	ingest int64
}

// learnerSample is how often this node samples its permanent learners'
// applied index (the precision of the staleness FAILOVER REGION reports).
const learnerSample = 100 * time.Millisecond

// appliedAt is a replica's applied index and when it first saw it.
type appliedAt struct {
	index uint64
	at    time.Time
}

func (m *Manager) learners() *learnerState {
	m.regions.mu.Lock()
	if m.regions.applied == nil {
		m.regions.applied = map[uint64]appliedAt{}
	}
	m.regions.mu.Unlock()
	return &m.regions
}

// servesAsLearner reports whether this node's learner of gid serves
// reads: it is a permanent learner and has received the group's state.
func (m *Manager) servesAsLearner(gid uint64, st raftstore.GroupStatus) bool {
	return st.Applied > 0 && m.meta.Catalog().IsPermanentLearner(gid, m.self)
}

// LastApplied returns, for a replica here, its applied index and when
// this node first saw it at that index (sampled on every reconcile round
// and every call), so the time since its last applied entry is known
// after its leader is gone.
func (m *Manager) LastApplied(gid uint64) (uint64, time.Time, bool) {
	st, ok := m.store.Status(gid)
	if !ok {
		return 0, time.Time{}, false
	}
	ls := m.learners()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	a, seen := ls.applied[gid]
	if !seen || a.index != st.Applied {
		a = appliedAt{index: st.Applied, at: time.Now()}
		ls.applied[gid] = a
	}
	return a.index, a.at, true
}

// statusSince adds to a status reply when the replica reached its
// applied index and, for a stream shard, its end offset.
func (m *Manager) statusSince(gid uint64, rep *rpc.ShardReply) {
	if idx, at, ok := m.LastApplied(gid); ok && idx == rep.Applied {
		rep.AppliedAt = at.UnixMicro()
	}
	if g := m.Get(gid); g != nil && g.Stream != nil {
		rep.End, _ = g.Stream.End()
		m.followNewest(gid)
		rep.Newest = m.newestIngest(gid)
	}
}

// followNewest reads the headers of the batches a stream learner gained
// since the last call and remembers the newest one's ingest time: the
// learner holds every event ingested (at its shard's leader) up to then.
func (m *Manager) followNewest(gid uint64) {
	g := m.Get(gid)
	if g == nil || g.Stream == nil {
		return
	}
	ls := m.learners()
	ls.mu.Lock()
	if ls.newest == nil {
		ls.newest = map[uint64]newestBatch{}
	}
	nb, ok := ls.newest[gid]
	ls.mu.Unlock()
	end, _ := g.Stream.End()
	if !ok {
		// Start at the end: history needs no scan, only what comes next.
		nb.pos = end
	}
	if end > nb.pos {
		_ = g.Stream.ScanHeaders(nb.pos, func(start uint64, ingest int64, n int) bool {
			nb.pos, nb.ingest = start+uint64(n), max(nb.ingest, ingest)
			return true
		})
	}
	ls.mu.Lock()
	if cur := ls.newest[gid]; cur.pos <= nb.pos { // a concurrent call may have gone further
		ls.newest[gid] = nb
	}
	ls.mu.Unlock()
}

// newestIngest is the ingest time (unix µs) of the newest batch a stream
// learner here holds, 0 if unknown.
func (m *Manager) newestIngest(gid uint64) int64 {
	ls := m.learners()
	ls.mu.Lock()
	defer ls.mu.Unlock()
	return ls.newest[gid].ingest
}

// sampleLearners records which groups have a permanent learner here
// and starts the loop that samples their applied index (LastApplied)
// every learnerSample while the node runs.
func (m *Manager) sampleLearners() {
	var mine []uint64
	for gid, ref := range m.meta.Catalog().Groups() {
		if slices.Contains(ref.Learners, m.self) {
			mine = append(mine, gid)
		}
	}
	ls := m.learners()
	ls.mu.Lock()
	ls.mine = mine
	start := !ls.sampler && len(mine) > 0
	ls.sampler = ls.sampler || start
	ls.mu.Unlock()
	if !start {
		return
	}
	go func() {
		tick := time.NewTicker(learnerSample)
		defer tick.Stop()
		for {
			select {
			case <-m.ctx.Done():
				return
			case <-tick.C:
			}
			ls.mu.Lock()
			groups := slices.Clone(ls.mine)
			ls.mu.Unlock()
			for _, gid := range groups {
				m.LastApplied(gid)
				m.followNewest(gid)
			}
		}
	}()
}

// EnsureLearners adds, at every shard this node leads, the permanent
// learners the catalog lists that the raft group lacks. It runs in the
// background after each reconcile round, one pass at a time.
func (m *Manager) EnsureLearners() {
	ls := m.learners()
	ls.mu.Lock()
	if ls.running {
		ls.mu.Unlock()
		return
	}
	ls.running = true
	ls.mu.Unlock()
	go func() {
		defer func() {
			ls.mu.Lock()
			ls.running = false
			ls.mu.Unlock()
		}()
		m.sampleLearners()
		refs := m.meta.Catalog().Groups()
		for _, gid := range m.Led() {
			ref := refs[gid]
			for _, id := range ref.Learners {
				st, ok := m.store.Status(gid)
				if !ok || !st.IsLeader || slices.Contains(st.Learners, id) || slices.Contains(st.Voters, id) {
					continue
				}
				ctx, cancel := context.WithTimeout(m.ctx, m.t.ConfChangeTimeout)
				err := m.store.ProposeConfChange(ctx, gid, &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{
					{Type: pb.ConfChangeAddLearnerNode.Enum(), NodeId: new(id)}}})
				cancel()
				if err != nil {
					m.log.Info("add a permanent learner", "group", gid, "node", id, "err", err)
				} else {
					m.log.Info("added a permanent learner", "group", gid, "node", id)
				}
			}
		}
	}()
}
