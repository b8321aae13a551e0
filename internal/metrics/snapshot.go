package metrics

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
	m.Registry.MustRegister(
		defSnapshotBytes.counterFunc(map[string]string{"direction": "sent"}, func() float64 { s, _, _ := stats(); return float64(s) }),
		defSnapshotBytes.counterFunc(map[string]string{"direction": "received"}, func() float64 { _, r, _ := stats(); return float64(r) }),
		defSnapshotInFlight.gaugeFunc(func() float64 { _, _, n := stats(); return float64(n) }),
	)
}
