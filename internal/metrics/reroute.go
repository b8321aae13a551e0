package metrics

import "github.com/prometheus/client_golang/prometheus"

// rerouteMetrics count the writes that routed around an unavailable
// stream shard (on_shard_unavailable = 'reroute', issue 15).
type rerouteMetrics struct {
	// Reroutes counts batch parts this node sent to another shard of
	// their stream because theirs did not answer, by stream.
	Reroutes *prometheus.CounterVec
	// RerouteEvents counts the events in those parts, by stream.
	RerouteEvents *prometheus.CounterVec
	// RerouteResolved counts parked parts this node's reconciler settled,
	// by stream and outcome: released (into the shard that holds them) or
	// dropped (the origin shard had applied them after all).
	RerouteResolved *prometheus.CounterVec
}

func (m *Metrics) registerReroute() {
	m.Reroutes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cairn_stream_reroutes_total",
		Help: "Batch parts sent to the next shard of their stream because their own shard did not answer in time (on_shard_unavailable = 'reroute'), by stream.",
	}, []string{"stream"})
	m.RerouteEvents = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cairn_stream_rerouted_events_total",
		Help: "Events in rerouted batch parts, by stream.",
	}, []string{"stream"})
	m.RerouteResolved = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cairn_stream_reroute_resolved_total",
		Help: "Rerouted parts settled once their origin shard answered, by stream and outcome (released: counted where they were rerouted; dropped: the origin had applied them).",
	}, []string{"stream", "outcome"})
	m.Registry.MustRegister(m.Reroutes, m.RerouteEvents, m.RerouteResolved)
}

// Rerouted counts one batch part of n events sent to another shard of
// stream.
func (m *Metrics) Rerouted(stream string, n int) {
	if m == nil {
		return
	}
	m.Reroutes.WithLabelValues(stream).Inc()
	m.RerouteEvents.WithLabelValues(stream).Add(float64(n))
}

// RerouteSettled counts one parked part of stream settled with outcome
// (released or dropped).
func (m *Metrics) RerouteSettled(stream, outcome string) {
	if m == nil {
		return
	}
	m.RerouteResolved.WithLabelValues(stream, outcome).Inc()
}
