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
		defViewCacheBytes.gaugeFunc(func() float64 { b, _, _ := stats(); return float64(b) }),
		defViewCacheHits.counterFunc(prometheus.Labels{}, func() float64 { _, h, _ := stats(); return float64(h) }),
		defViewCacheMisses.counterFunc(prometheus.Labels{}, func() float64 { _, _, m := stats(); return float64(m) }),
	)
}
