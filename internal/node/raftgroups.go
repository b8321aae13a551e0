package node

import (
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/prometheus/client_golang/prometheus"
)

// registerRaftGroupGauges exposes how many raft groups the store runs and
// how many of them are quiesced (idle: not ticking, raftstore DESIGN.md).
func registerRaftGroupGauges(reg *prometheus.Registry, store *raftstore.Store) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cairn_raft_groups",
			Help: "Raft groups (replicas) running on this node.",
		}, func() float64 { n, _ := store.GroupCounts(); return float64(n) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cairn_raft_quiesced_groups",
			Help: "Raft groups on this node that are quiesced: idle, neither ticking nor heartbeating until a proposal or message wakes them.",
		}, func() float64 { _, q := store.GroupCounts(); return float64(q) }),
	)
}
