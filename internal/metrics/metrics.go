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
	GroupTable  = "table"
	// GroupUnknown is a group the node cannot name yet (its catalog
	// entry has not reached this node, or it was just dropped).
	GroupUnknown = "unknown"
)

// GroupKinds are the group kinds whose series always exist.
var GroupKinds = []string{GroupMeta, GroupStream, GroupView, GroupTable}

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
	// RaftElections counts elections started here, by group_kind.
	RaftElections *prometheus.CounterVec
	// RaftLeaderChanges counts leader changes seen here, by group_kind.
	RaftLeaderChanges *prometheus.CounterVec
	// RetentionTrimmed counts events dropped by retention, by stream.
	RetentionTrimmed *prometheus.CounterVec
	// BackfillTarget and BackfillDone are, per view back-filling from
	// earliest, the events to fold and those folded (local shards).
	BackfillTarget, BackfillDone *prometheus.GaugeVec
	// Frontend holds the session, statement, row and byte collectors
	// the front ends (pgwire, httpapi) feed.
	Frontend *Frontend

	rerouteMetrics // reroute.go (issue 15)
}

// latencyBuckets spans 50µs to ~13s: fsyncs on fast NVMe are tens of
// microseconds, a commit across zones or under a stall is seconds.
var latencyBuckets = prometheus.ExponentialBuckets(50e-6, 2, 19)

// New returns a fresh set of collectors in a new registry.
func New() *Metrics {
	m := &Metrics{
		Registry:          prometheus.NewRegistry(),
		RaftProposals:     defRaftProposals.counterVec(),
		RaftCommitLatency: defRaftCommitLatency.histogramVec(),
		FsyncLatency:      defFsyncLatency.histogram(),
		EventsIngested:    defEventsIngested.counterVec(),
		ViewLagEvents:     defViewLagEvents.gaugeVec(),
		ViewLagSeconds:    defViewLagSeconds.gaugeVec(),
		ViewLateEvents:    defViewLateEvents.gaugeVec(),
		CertExpiration:    defCertExpiration.gaugeVec(),
		RaftElections:     defRaftElections.counterVec(),
		RaftLeaderChanges: defRaftLeaderChanges.counterVec(),
		RetentionTrimmed:  defRetentionTrimmed.counterVec(),
		BackfillTarget:    defBackfillTarget.gaugeVec(),
		BackfillDone:      defBackfillDone.gaugeVec(),
	}
	m.Registry.MustRegister(
		m.RaftProposals, m.RaftCommitLatency, m.FsyncLatency,
		m.EventsIngested, m.ViewLagEvents, m.ViewLagSeconds, m.ViewLateEvents, m.CertExpiration,
		m.RaftElections, m.RaftLeaderChanges, m.RetentionTrimmed, m.BackfillTarget, m.BackfillDone,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.Frontend = newFrontend(m.Registry)
	m.registerReroute()
	// Label sets that always exist are created up front so dashboards see
	// zeros instead of missing series on an idle node.
	for _, k := range GroupKinds {
		m.RaftProposals.WithLabelValues(k)
		m.RaftCommitLatency.WithLabelValues(k)
		m.RaftElections.WithLabelValues(k)
		m.RaftLeaderChanges.WithLabelValues(k)
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
	m.BackfillTarget.DeleteLabelValues(view)
	m.BackfillDone.DeleteLabelValues(view)
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
	m.RetentionTrimmed.DeleteLabelValues(stream)
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

// FrontendMetrics returns the front-end collectors (nil on a nil m).
func (m *Metrics) FrontendMetrics() *Frontend {
	if m == nil {
		return nil
	}
	return m.Frontend
}

// Trimmed counts n events of stream dropped by retention.
func (m *Metrics) Trimmed(stream string, n uint64) {
	if m == nil || n == 0 {
		return
	}
	m.RetentionTrimmed.WithLabelValues(stream).Add(float64(n))
}

// SetBackfill records a back-filling view's target and folded events.
func (m *Metrics) SetBackfill(view string, target, done uint64) {
	if m == nil {
		return
	}
	m.BackfillTarget.WithLabelValues(view).Set(float64(target))
	m.BackfillDone.WithLabelValues(view).Set(float64(done))
}
