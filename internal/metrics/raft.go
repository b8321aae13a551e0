package metrics

import "github.com/prometheus/client_golang/prometheus"

// Elected counts one election started by a replica of a group of kind.
func (m *Metrics) Elected(groupKind string) {
	if m == nil {
		return
	}
	m.RaftElections.WithLabelValues(groupKind).Inc()
}

// LeaderChanged counts one leader change seen by a replica of a group of
// kind.
func (m *Metrics) LeaderChanged(groupKind string) {
	if m == nil {
		return
	}
	m.RaftLeaderChanges.WithLabelValues(groupKind).Inc()
}

// GroupStates is what the raft state gauges read at each scrape: per
// group kind, the groups on this node without a known leader, the groups
// this node leads, and the most entries a replica of those lags.
type GroupStates func() GroupCounts

// GroupCounts are the per-kind values of GroupStates.
type GroupCounts struct {
	Leaderless, Leaders, MaxLag map[string]int
}

// RegisterGroupStates registers cairn_raft_leaderless_groups,
// cairn_raft_leaders and cairn_raft_replica_lag_entries, read from f at
// each scrape. Every kind of GroupKinds is always reported (0 when
// absent from f's maps).
func (m *Metrics) RegisterGroupStates(f GroupStates) {
	if m == nil {
		return
	}
	read := func(pick func(GroupCounts) map[string]int) func(emit func(float64, ...string)) {
		return func(emit func(float64, ...string)) {
			src := pick(f())
			for _, k := range GroupKinds {
				emit(float64(src[k]), k)
			}
			for k, v := range src {
				if !isGroupKind(k) {
					emit(float64(v), k)
				}
			}
		}
	}
	m.Registry.MustRegister(
		defRaftLeaderless.vecFunc(prometheus.GaugeValue, read(func(c GroupCounts) map[string]int { return c.Leaderless })),
		defRaftLeaders.vecFunc(prometheus.GaugeValue, read(func(c GroupCounts) map[string]int { return c.Leaders })),
		defRaftReplicaLag.vecFunc(prometheus.GaugeValue, read(func(c GroupCounts) map[string]int { return c.MaxLag })),
	)
}

func isGroupKind(k string) bool {
	for _, g := range GroupKinds {
		if g == k {
			return true
		}
	}
	return false
}

// vecFunc is a collector whose series are computed at each scrape: f
// emits one value per label set of the Def's labels.
type vecFunc struct {
	desc *prometheus.Desc
	vt   prometheus.ValueType
	f    func(emit func(v float64, labelValues ...string))
}

func (d *Def) vecFunc(vt prometheus.ValueType, f func(emit func(float64, ...string))) prometheus.Collector {
	return vecFunc{desc: prometheus.NewDesc(d.Name, d.Help, d.Labels, nil), vt: vt, f: f}
}

func (c vecFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c vecFunc) Collect(ch chan<- prometheus.Metric) {
	c.f(func(v float64, lv ...string) {
		if m, err := prometheus.NewConstMetric(c.desc, c.vt, v, lv...); err == nil {
			ch <- m
		}
	})
}
