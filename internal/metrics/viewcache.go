package metrics

import "github.com/prometheus/client_golang/prometheus"

// RegisterViewCache exposes the node's view row cache (issue 14): its
// bytes, and the row lookups that hit and missed it, read from stats at
// each scrape.
func (m *Metrics) RegisterViewCache(stats func() (bytes int64, hits, misses uint64)) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "cairn_view_cache_bytes",
			Help: "Bytes of clean view rows held in this node's view cache (--view-cache).",
		}, func() float64 { b, _, _ := stats(); return float64(b) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cairn_view_cache_hits_total",
			Help: "View row lookups (view task applies and point queries) answered by the view cache.",
		}, func() float64 { _, h, _ := stats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "cairn_view_cache_misses_total",
			Help: "View row lookups that missed the view cache and read the engine.",
		}, func() float64 { _, _, m := stats(); return float64(m) }),
	)
}
