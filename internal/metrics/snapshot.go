package metrics

import "github.com/prometheus/client_golang/prometheus"

// SnapshotStats is what the snapshot collectors read at each scrape: the
// chunk bytes this node's snapshots sent (acknowledged by the receiver)
// and received (staged), and the snapshot streams in flight.
type SnapshotStats func() (sent, received uint64, inFlight int64)

// RegisterSnapshots registers cairn_snapshot_bytes_total{direction} and
// cairn_snapshots_in_flight, read from stats at each scrape.
func (m *Metrics) RegisterSnapshots(stats SnapshotStats) {
	if m == nil {
		return
	}
	const bytesHelp = "Bytes of raft snapshot data this node sent (acknowledged by the receiver) or received (staged), by direction."
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cairn_snapshot_bytes_total", Help: bytesHelp,
			ConstLabels: prometheus.Labels{"direction": "sent"}}, func() float64 { s, _, _ := stats(); return float64(s) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cairn_snapshot_bytes_total", Help: bytesHelp,
			ConstLabels: prometheus.Labels{"direction": "received"}}, func() float64 { _, r, _ := stats(); return float64(r) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cairn_snapshots_in_flight",
			Help: "Raft snapshots being sent or received by this node."}, func() float64 { _, _, n := stats(); return float64(n) }),
	)
}
