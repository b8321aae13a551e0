package node

import (
	"sync"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/prometheus/client_golang/prometheus"
)

// registerRaftGroupGauges exposes how many raft groups the store runs and
// how many of them are quiesced (idle: not ticking, raftstore DESIGN.md).
func registerRaftGroupGauges(reg *prometheus.Registry, store *raftstore.Store) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(metrics.DefRaftGroups.GaugeOpts(), func() float64 { n, _ := store.GroupCounts(); return float64(n) }),
		prometheus.NewGaugeFunc(metrics.DefRaftQuiesced.GaugeOpts(), func() float64 { _, q := store.GroupCounts(); return float64(q) }),
	)
}

// groupKinds names the kind of a raft group (the group_kind label) from
// the catalog, for the raft metrics hooks. The map is rebuilt only when
// the catalog changes (it is replaced, never modified, on each change).
type groupKinds struct {
	catalog func() *catalog.Catalog
	mu      struct {
		sync.Mutex
		cat   *catalog.Catalog
		kinds map[uint64]string
	}
}

func (k *groupKinds) of(gid uint64) string {
	if gid == catalog.MetaGroupID {
		return metrics.GroupMeta
	}
	if k.catalog == nil {
		return metrics.GroupUnknown
	}
	cat := k.catalog()
	k.mu.Lock()
	defer k.mu.Unlock()
	if cat != k.mu.cat {
		k.mu.cat = cat
		k.mu.kinds = map[uint64]string{}
		for g, ref := range cat.Groups() {
			k.mu.kinds[g] = kindName(ref.Kind)
		}
	}
	if s, ok := k.mu.kinds[gid]; ok {
		return s
	}
	return metrics.GroupUnknown
}

func kindName(k catalog.GroupKind) string {
	switch k {
	case catalog.GroupMeta:
		return metrics.GroupMeta
	case catalog.GroupStream:
		return metrics.GroupStream
	case catalog.GroupView:
		return metrics.GroupView
	case catalog.GroupTable:
		return metrics.GroupTable
	}
	return metrics.GroupUnknown
}

// raftHooks are the store's metrics hooks, labelled by kind of group.
func (n *Node) raftHooks(cfg *raftstore.Config) {
	n.kinds.catalog = func() *catalog.Catalog {
		if n.meta == nil { // the store starts before the meta group
			return nil
		}
		return n.meta.Catalog()
	}
	cfg.OnFsync = n.metrics.Fsynced
	cfg.OnCommit = func(gid uint64, d time.Duration) { n.metrics.Committed(n.kinds.of(gid), d) }
	cfg.OnPropose = func(gid uint64) { n.metrics.Proposed(n.kinds.of(gid)) }
	cfg.OnElection = func(gid uint64) { n.metrics.Elected(n.kinds.of(gid)) }
	cfg.OnLeaderChange = func(gid, _ uint64) { n.metrics.LeaderChanged(n.kinds.of(gid)) }
}

// registerNodeMetrics registers the collectors read from the node's
// parts at each scrape: raft groups without a leader and led here, peers
// by liveness, operations by type and status, and the data dir's disk.
func (n *Node) registerNodeMetrics() {
	n.metrics.RegisterGroupStates(func() metrics.GroupCounts {
		c := metrics.GroupCounts{Leaderless: map[string]int{}, Leaders: map[string]int{}, MaxLag: map[string]int{}}
		type st struct {
			gid           uint64
			lead, leading bool
			lag           uint64
		}
		var all []st
		n.store.EachStatus(func(s raftstore.GroupStatus) {
			var lag uint64
			for id, m := range s.Match {
				if id != s.Leader && s.LastIndex > m {
					lag = max(lag, s.LastIndex-m)
				}
			}
			all = append(all, st{s.ID, s.Leader != 0, s.IsLeader, lag})
		})
		for _, s := range all { // outside the store's lock: of reads the catalog
			k := n.kinds.of(s.gid)
			if !s.lead {
				c.Leaderless[k]++
			}
			if s.leading {
				c.Leaders[k]++
				c.MaxLag[k] = max(c.MaxLag[k], int(s.lag))
			}
		}
		return c
	})
	n.metrics.RegisterPeers(func() map[string]int {
		cat := n.meta.Catalog()
		live := n.liveSnapshot(cat)
		by := map[string]int{}
		for _, nd := range cat.SortedNodes() {
			if nd.ID == n.id.RaftID || nd.State == catalog.NodeDecommissioned || cat.Removed[nd.ID] {
				continue
			}
			by[string(live.Of(nd.ID))]++
		}
		return by
	})
	n.metrics.RegisterOperations(func() map[metrics.OpKey]int {
		by := map[metrics.OpKey]int{}
		for _, o := range n.meta.Catalog().Ops {
			by[metrics.OpKey{Type: o.Type, Status: o.Status}]++
		}
		return by
	})
	n.metrics.RegisterDisk(n.cfg.DataDir)
}
