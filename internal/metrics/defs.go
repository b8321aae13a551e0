package metrics

//go:generate go run ./gen

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Type is a metric's Prometheus type.
type Type string

// Metric types.
const (
	Counter   Type = "counter"
	Gauge     Type = "gauge"
	Histogram Type = "histogram"
)

// Def defines one Cairn metric: every cairn_* metric a node exposes is
// defined once here, and its collector is made from the Def, so that the
// generated docs (docs/metrics.md), the Grafana dashboard and the test
// that checks the Prometheus rules name only these metrics cannot drift
// from what a node serves.
type Def struct {
	Name   string
	Type   Type
	Help   string
	Labels []string // label names; a bounded set of values each
	// Section groups the metric in the docs and the dashboard.
	Section string
	// Buckets of a histogram (default latencyBuckets).
	Buckets []float64
}

// The generated files, relative to the repository root.
const (
	DocsPath      = "docs/metrics.md"
	DashboardPath = "deploy/grafana/cairn-dashboard.json"
)

// defs holds every Def, in definition order.
var defs []*Def

func define(section string, t Type, name, help string, labels ...string) *Def {
	d := &Def{Name: name, Type: t, Help: help, Labels: labels, Section: section}
	if t == Histogram {
		d.Buckets = latencyBuckets
	}
	defs = append(defs, d)
	return d
}

// Defs returns every metric definition, sorted by section order of
// first definition, then by name.
func Defs() []Def {
	order := map[string]int{}
	for _, d := range defs {
		if _, ok := order[d.Section]; !ok {
			order[d.Section] = len(order)
		}
	}
	out := make([]Def, 0, len(defs))
	for _, d := range defs {
		out = append(out, *d)
	}
	slices.SortStableFunc(out, func(a, b Def) int {
		if c := order[a.Section] - order[b.Section]; c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Lookup returns the Def of the metric name.
func Lookup(name string) (Def, bool) {
	for _, d := range defs {
		if d.Name == name {
			return *d, true
		}
	}
	return Def{}, false
}

// Series returns the names of the series a scrape shows for the metric:
// its name, or for a histogram its _bucket, _sum and _count.
func (d Def) Series() []string {
	if d.Type == Histogram {
		return []string{d.Name + "_bucket", d.Name + "_sum", d.Name + "_count"}
	}
	return []string{d.Name}
}

// CounterOpts returns the options of a counter made from d.
func (d *Def) CounterOpts() prometheus.CounterOpts {
	return prometheus.CounterOpts{Name: d.Name, Help: d.Help}
}

// GaugeOpts returns the options of a gauge made from d.
func (d *Def) GaugeOpts() prometheus.GaugeOpts {
	return prometheus.GaugeOpts{Name: d.Name, Help: d.Help}
}

func (d *Def) counterVec() *prometheus.CounterVec {
	return prometheus.NewCounterVec(d.CounterOpts(), d.Labels)
}

func (d *Def) gaugeVec() *prometheus.GaugeVec {
	return prometheus.NewGaugeVec(d.GaugeOpts(), d.Labels)
}

func (d *Def) histogramVec() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: d.Name, Help: d.Help, Buckets: d.Buckets}, d.Labels)
}

func (d *Def) counter() prometheus.Counter { return prometheus.NewCounter(d.CounterOpts()) }
func (d *Def) gauge() prometheus.Gauge     { return prometheus.NewGauge(d.GaugeOpts()) }
func (d *Def) histogram() prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{Name: d.Name, Help: d.Help, Buckets: d.Buckets})
}

func (d *Def) gaugeFunc(f func() float64) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(d.GaugeOpts(), f)
}

func (d *Def) counterFunc(labels prometheus.Labels, f func() float64) prometheus.CounterFunc {
	o := d.CounterOpts()
	o.ConstLabels = labels
	return prometheus.NewCounterFunc(o, f)
}

// Sections of the docs and the dashboard, in order.
const (
	secRaft      = "Raft and storage"
	secCluster   = "Cluster"
	secSQL       = "SQL and ingest"
	secViews     = "Views"
	secMemory    = "Memory and disk"
	secSnapshots = "Snapshots"
	secSecurity  = "Security"
)

// The definitions. Names follow Prometheus conventions: base units
// (seconds, bytes) in the name, _total on counters.
var (
	// Raft and storage.
	defRaftProposals     = define(secRaft, Counter, "cairn_raft_proposals_total", "Proposals handed to Raft on this node, by kind of group (meta, stream, view, table).", "group_kind")
	defRaftCommitLatency = define(secRaft, Histogram, "cairn_raft_commit_latency_seconds", "Time from proposing an entry on this node to applying it, by kind of group.", "group_kind")
	defFsyncLatency      = define(secRaft, Histogram, "cairn_fsync_latency_seconds", "Duration of storage syncs (one per raft loop iteration that must sync).")
	defRaftElections     = define(secRaft, Counter, "cairn_raft_elections_total", "Elections started by replicas on this node (a replica became a candidate), by kind of group.", "group_kind")
	defRaftLeaderChanges = define(secRaft, Counter, "cairn_raft_leader_changes_total", "Leader changes seen by replicas on this node (including to no leader), by kind of group.", "group_kind")
	defRaftLeaderless    = define(secRaft, Gauge, "cairn_raft_leaderless_groups", "Raft groups on this node whose replica knows no leader, by kind of group: without a leader a group takes no writes.", "group_kind")
	defRaftReplicaLag    = define(secRaft, Gauge, "cairn_raft_replica_lag_entries", "The most log entries any replica (voter or learner) lags behind its leader, over the groups this node leads, by kind of group.", "group_kind")
	defRaftLeaders       = define(secRaft, Gauge, "cairn_raft_leaders", "Raft groups this node leads, by kind of group.", "group_kind")
	// DefRaftGroups and DefRaftQuiesced are registered by the node (they
	// read the store).
	DefRaftGroups   = define(secRaft, Gauge, "cairn_raft_groups", "Raft groups (replicas) running on this node.")
	DefRaftQuiesced = define(secRaft, Gauge, "cairn_raft_quiesced_groups", "Raft groups on this node that are quiesced: idle, neither ticking nor heartbeating until a proposal or message wakes them.")

	// Cluster.
	defPeers      = define(secCluster, Gauge, "cairn_peers", "Other nodes of the cluster by the state this node sees them in (live, suspect, dead): suspect and dead peers are unreachable.", "state")
	defOperations = define(secCluster, Gauge, "cairn_operations", "Cluster operations recorded in the catalog, by type and status (pending, running, done, failed, cancelled); every node reports the same catalog.", "type", "status")

	// SQL and ingest.
	defSessionsOpen     = define(secSQL, Gauge, "cairn_sessions_open", "Client sessions open on this node, by front end (pgwire: SQL connections; http: login sessions of the HTTP API).", "frontend")
	defSessionsTotal    = define(secSQL, Counter, "cairn_sessions_total", "Client sessions opened on this node, by front end.", "frontend")
	defStatements       = define(secSQL, Counter, "cairn_statements_total", "SQL statements executed on this node, by type (select, insert, update, delete, copy, ddl, show, set, transaction, admin, other) and outcome (ok, error).", "type", "outcome")
	defStatementLatency = define(secSQL, Histogram, "cairn_statement_duration_seconds", "Time to execute a SQL statement on this node, by type.", "type")
	defRows             = define(secSQL, Counter, "cairn_rows_total", "Rows received (in: inserted, copied, ingested) and sent (out: returned to clients) by this node, by front end and direction.", "frontend", "direction")
	defNetBytes         = define(secSQL, Counter, "cairn_client_bytes_total", "Bytes received (in) and sent (out) by this node's client front ends, by front end and direction: every byte of a pgwire connection (TLS included); the request bodies read and reply bodies written by HTTP.", "frontend", "direction")
	// DefConsoleConnections is registered by the web console
	// (frontend/console).
	DefConsoleConnections = define(secSQL, Gauge, "cairn_console_connections", "Browsers following the web console's live updates (server-sent events) on this node.")
	defHTTPRequests       = define(secSQL, Counter, "cairn_http_requests_total", "HTTP requests this node answered, by status class (2xx, 3xx, 4xx, 5xx).", "code")
	defEventsIngested     = define(secSQL, Counter, "cairn_events_ingested_total", "Events acknowledged to clients, by stream.", "stream")
	defRetentionTrimmed   = define(secSQL, Counter, "cairn_retention_trimmed_events_total", "Events dropped by stream retention on shards this node leads, by stream.", "stream")

	// Views.
	defViewLagEvents    = define(secViews, Gauge, "cairn_view_lag_events", "Events in the source streams not yet folded into the view.", "view")
	defViewLagSeconds   = define(secViews, Gauge, "cairn_view_lag_seconds", "Age of the oldest event not yet folded into the view (0 when caught up).", "view")
	defViewLateEvents   = define(secViews, Gauge, "cairn_view_late_events", "Events a tumble()/hop() view left out because their window had closed (beyond the allowed lateness), summed over the view shards this node holds.", "view")
	defBackfillTarget   = define(secViews, Gauge, "cairn_view_backfill_target_events", "Events a view created with start = 'earliest' must back-fill (the source events that existed when it was created).", "view")
	defBackfillDone     = define(secViews, Gauge, "cairn_view_backfill_done_events", "Back-fill events already folded by the slowest view shard on this node (equal to the target when the back-fill is done).", "view")
	defViewCacheBytes   = define(secViews, Gauge, "cairn_view_cache_bytes", "Bytes of clean view rows held in this node's view cache (--view-cache).")
	defViewCacheHits    = define(secViews, Counter, "cairn_view_cache_hits_total", "View row lookups (view task applies and point queries) answered by the view cache.")
	defViewCacheMisses  = define(secViews, Counter, "cairn_view_cache_misses_total", "View row lookups that missed the view cache and read the engine.")
	defSchedLag         = define(secViews, Gauge, "cairn_scheduled_view_lag_seconds", "Age of the oldest event a scheduled view owned by this node has not folded yet (0 when caught up).", "view")
	defSchedOwned       = define(secViews, Gauge, "cairn_scheduled_views", "Scheduled views this node owns and runs.")
	defCheckpoints      = define(secViews, Counter, "cairn_checkpoints_total", "Checkpoint attempts of scheduled views, by outcome (committed, failed and retried, fenced).", "outcome")
	defCheckpointBytes  = define(secViews, Counter, "cairn_checkpoint_bytes_total", "Object bytes written by committed checkpoints of scheduled views.")
	defMemoryBytes      = define(secMemory, Gauge, "cairn_memory_bytes", "Memory of this node by component (go_other, block_cache, memtables, ingest, view_cache); they add up to what --max-memory limits.", "component")
	defMemoryLimit      = define(secMemory, Gauge, "cairn_memory_limit_bytes", "This node's memory limit (--max-memory).")
	defBackpressure     = define(secMemory, Counter, "cairn_backpressure_total", "Appends slowed (delayed) or refused with 53200 (refused) because this node's memory was short.", "action")
	defDiskCapacity     = define(secMemory, Gauge, "cairn_disk_capacity_bytes", "Size of the file system holding this node's data directory.")
	defDiskAvailable    = define(secMemory, Gauge, "cairn_disk_available_bytes", "Bytes of the data directory's file system still available to this node.")
	defDiskUsed         = define(secMemory, Gauge, "cairn_disk_used_bytes", "Bytes used on the data directory's file system (by every user of it, capacity minus free).")
	defSnapshotBytes    = define(secSnapshots, Counter, "cairn_snapshot_bytes_total", "Bytes of raft snapshot data this node sent (acknowledged by the receiver) or received (staged), by direction.", "direction")
	defSnapshotInFlight = define(secSnapshots, Gauge, "cairn_snapshots_in_flight", "Raft snapshots being sent or received by this node.")

	// Security.
	defCertExpiration = define(secSecurity, Gauge, "cairn_cert_expiration_seconds", "When each certificate in use expires (unix seconds), by kind (ca, node, client) and name.", "kind", "name")
	// DefAuthFailures and DefAuditDropped are registered by the node.
	DefAuthFailures = define(secSecurity, Counter, "cairn_auth_failures_total", "Failed SQL logins, by method (trust, cert, scram-sha-256, reject, or empty when refused by the rate limit) and reason.", "method", "reason")
	DefAuditDropped = define(secSecurity, Counter, "cairn_audit_dropped_total", "Audit events not recorded in cairn_cluster.audit_log: the queue was full, the meta group did not take them, or they came after shutdown began.")
)
