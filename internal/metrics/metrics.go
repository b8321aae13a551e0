// Package metrics holds Cairn's Prometheus collectors.
//
// Each node owns one *Metrics made by New, with its own registry rather
// than the process-global default one: an in-process test cluster runs
// several nodes in one process, and each node's /metrics must show that
// node's numbers only (and creating a second node must not panic with
// "duplicate metrics collector registration").
//
// Every method is safe on a nil *Metrics and then does nothing, so code
// under test (a raft loop, a view task) can run without metrics wired in.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Group kinds, the values of the group_kind label.
const (
	GroupMeta   = "meta"
	GroupStream = "stream"
	GroupView   = "view"
)

// Metrics is one node's set of collectors and the registry that exposes
// them. The collector fields may be used directly; the helper methods are
// shorter and nil-safe.
type Metrics struct {
	// Registry holds every collector below plus the Go runtime and process
	// collectors. Other packages may register their own collectors here.
	Registry *prometheus.Registry

	// RaftProposals counts proposals handed to Raft, by group_kind.
	RaftProposals *prometheus.CounterVec
	// RaftCommitLatency is the time from propose to applied, by group_kind.
	RaftCommitLatency *prometheus.HistogramVec
	// FsyncLatency is the duration of each storage sync (one per raft loop
	// iteration).
	FsyncLatency prometheus.Histogram
	// EventsIngested counts events acknowledged to clients, by stream.
	EventsIngested *prometheus.CounterVec
	// ViewLagEvents is, per view, the number of events in its source
	// streams not yet folded into the view.
	ViewLagEvents *prometheus.GaugeVec
	// ViewLagSeconds is, per view, the age of the oldest event not yet
	// folded into the view (0 when caught up).
	ViewLagSeconds *prometheus.GaugeVec
	// ViewLateEvents is, per tumble()/hop() view, the events left out as
	// late by the view shards this node holds.
	ViewLateEvents *prometheus.GaugeVec
	// CertExpiration is, per certificate in use (kind ca, node or client;
	// name: its file, or the CA's subject), when it expires, in unix
	// seconds. Set on every certificate (re)load; empty when insecure.
	CertExpiration *prometheus.GaugeVec

	rerouteMetrics // reroute.go (issue 15)
}

// latencyBuckets spans 50µs to ~13s: fsyncs on fast NVMe are tens of
// microseconds, a commit across zones or under a stall is seconds.
var latencyBuckets = prometheus.ExponentialBuckets(50e-6, 2, 19)

// New returns a fresh set of collectors in a new registry.
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		RaftProposals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_raft_proposals_total",
			Help: "Proposals handed to Raft, by kind of group.",
		}, []string{"group_kind"}),
		RaftCommitLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cairn_raft_commit_latency_seconds",
			Help:    "Time from proposing an entry to applying it, by kind of group.",
			Buckets: latencyBuckets,
		}, []string{"group_kind"}),
		FsyncLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "cairn_fsync_latency_seconds",
			Help:    "Duration of storage syncs.",
			Buckets: latencyBuckets,
		}),
		EventsIngested: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_events_ingested_total",
			Help: "Events acknowledged to clients, by stream.",
		}, []string{"stream"}),
		ViewLagEvents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cairn_view_lag_events",
			Help: "Events in the source streams not yet folded into the view.",
		}, []string{"view"}),
		ViewLagSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cairn_view_lag_seconds",
			Help: "Age of the oldest event not yet folded into the view (0 when caught up).",
		}, []string{"view"}),
		ViewLateEvents: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cairn_view_late_events",
			Help: "Events a tumble()/hop() view left out because their window had closed (beyond the allowed lateness), summed over the view shards this node holds.",
		}, []string{"view"}),
		CertExpiration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cairn_cert_expiration_seconds",
			Help: "When each certificate in use expires (unix seconds), by kind (ca, node, client) and name.",
		}, []string{"kind", "name"}),
	}
	m.Registry.MustRegister(
		m.RaftProposals, m.RaftCommitLatency, m.FsyncLatency,
		m.EventsIngested, m.ViewLagEvents, m.ViewLagSeconds, m.ViewLateEvents, m.CertExpiration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.registerReroute()
	// Label sets that always exist are created up front so dashboards see
	// zeros instead of missing series on an idle node.
	for _, k := range []string{GroupMeta, GroupStream, GroupView} {
		m.RaftProposals.WithLabelValues(k)
		m.RaftCommitLatency.WithLabelValues(k)
	}
	return m
}

// Handler returns the Prometheus exposition handler for this registry.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		Registry: m.Registry, // counts its own scrape errors
	})
}

// Proposed counts one proposal to a group of the given kind.
func (m *Metrics) Proposed(groupKind string) {
	if m == nil {
		return
	}
	m.RaftProposals.WithLabelValues(groupKind).Inc()
}

// Committed records the propose→applied latency of one entry.
func (m *Metrics) Committed(groupKind string, d time.Duration) {
	if m == nil {
		return
	}
	m.RaftCommitLatency.WithLabelValues(groupKind).Observe(d.Seconds())
}

// Fsynced records the duration of one storage sync.
func (m *Metrics) Fsynced(d time.Duration) {
	if m == nil {
		return
	}
	m.FsyncLatency.Observe(d.Seconds())
}

// Ingested counts n events acknowledged for stream.
func (m *Metrics) Ingested(stream string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.EventsIngested.WithLabelValues(stream).Add(float64(n))
}

// SetViewLag records how far view is behind its sources.
func (m *Metrics) SetViewLag(view string, events int64, age time.Duration) {
	if m == nil {
		return
	}
	m.ViewLagEvents.WithLabelValues(view).Set(float64(events))
	m.ViewLagSeconds.WithLabelValues(view).Set(age.Seconds())
}

// DropView removes the series of a dropped view (or one this node no
// longer leads) so stale lag is not reported forever.
func (m *Metrics) DropView(view string) {
	if m == nil {
		return
	}
	m.ViewLagEvents.DeleteLabelValues(view)
	m.ViewLagSeconds.DeleteLabelValues(view)
	m.ViewLateEvents.DeleteLabelValues(view)
}

// SetViewLate records the late events of a windowed view.
func (m *Metrics) SetViewLate(view string, late uint64) {
	if m == nil {
		return
	}
	m.ViewLateEvents.WithLabelValues(view).Set(float64(late))
}

// DropStream removes the ingest counter of a dropped stream.
func (m *Metrics) DropStream(stream string) {
	if m == nil {
		return
	}
	m.EventsIngested.DeleteLabelValues(stream)
}

// CertExpiry is one certificate for SetCertExpirations.
type CertExpiry struct {
	Kind, Name string
	NotAfter   time.Time
}

// SetCertExpirations replaces the cairn_cert_expiration_seconds series
// with certs (the certificates now in use).
func (m *Metrics) SetCertExpirations(certs []CertExpiry) {
	if m == nil {
		return
	}
	m.CertExpiration.Reset()
	for _, c := range certs {
		m.CertExpiration.WithLabelValues(c.Kind, c.Name).Set(float64(c.NotAfter.Unix()))
	}
}
