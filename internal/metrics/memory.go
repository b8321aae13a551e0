package metrics

import "github.com/prometheus/client_golang/prometheus"

// Memory is a node's memory metrics (issue 14): cairn_memory_bytes by
// component, cairn_memory_limit_bytes and cairn_backpressure_total by
// action (delayed, refused).
type Memory struct {
	Bytes        *prometheus.GaugeVec
	Limit        prometheus.Gauge
	Backpressure *prometheus.CounterVec
}

// NewMemory registers the memory metrics in m's registry (nil m: they
// are made but not exposed).
func (m *Metrics) NewMemory() *Memory {
	mm := &Memory{
		Bytes:        defMemoryBytes.gaugeVec(),
		Limit:        defMemoryLimit.gauge(),
		Backpressure: defBackpressure.counterVec(),
	}
	mm.Backpressure.WithLabelValues("delayed")
	mm.Backpressure.WithLabelValues("refused")
	if m != nil {
		m.Registry.MustRegister(mm.Bytes, mm.Limit, mm.Backpressure)
	}
	return mm
}

// Set records one sample: bytes by component and the limit.
func (mm *Memory) Set(by map[string]uint64, limit uint64) {
	for c, v := range by {
		mm.Bytes.WithLabelValues(c).Set(float64(v))
	}
	mm.Limit.Set(float64(limit))
}
