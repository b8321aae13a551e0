package metrics

import "github.com/prometheus/client_golang/prometheus"

// Writes that routed around an unavailable stream shard
// (on_shard_unavailable = 'reroute', issue 15).
var (
	defReroutes        = define(secSQL, Counter, "cairn_stream_reroutes_total", "Batch parts this node sent to the next shard of their stream because their own shard did not take them within reroute_after (on_shard_unavailable = 'reroute'), by stream.", "stream")
	defRerouteEvents   = define(secSQL, Counter, "cairn_stream_rerouted_events_total", "Events in the batch parts this node rerouted, by stream.", "stream")
	defRerouteResolved = define(secSQL, Counter, "cairn_stream_reroute_resolved_total", "Rerouted parts this node settled once their own shard answered, by stream and outcome (released: into the stream, in the shard that held them; dropped: their own shard had applied them).", "stream", "outcome")
)

// rerouteMetrics are the reroute collectors of a Metrics.
type rerouteMetrics struct {
	Reroutes        *prometheus.CounterVec
	RerouteEvents   *prometheus.CounterVec
	RerouteResolved *prometheus.CounterVec
}

func (m *Metrics) registerReroute() {
	m.Reroutes = defReroutes.counterVec()
	m.RerouteEvents = defRerouteEvents.counterVec()
	m.RerouteResolved = defRerouteResolved.counterVec()
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
