package metrics

import (
	"encoding/json"
	"fmt"
	"strings"
)

// A panel of the generated Grafana dashboard: a time series of one or
// more PromQL queries. $sel in a query stands for the instance selector
// (instance=~"$instance"), filled in by the generator.
type panel struct {
	title, unit, desc string
	queries           []query
}

type query struct{ expr, legend string }

type dashRow struct {
	title  string
	panels []panel
}

func q(expr, legend string) query { return query{expr, legend} }

// rateOf is the per-second rate of counter name over Grafana's rate
// interval, summed by the given labels.
func rateOf(name, by string) string {
	return fmt.Sprintf("sum by (%s) (rate(%s{$sel}[$__rate_interval]))", by, name)
}

func quantileOf(qt, name, by string) string {
	return fmt.Sprintf("histogram_quantile(%s, sum by (%s, le) (rate(%s_bucket{$sel}[$__rate_interval])))", qt, by, name)
}

// dashboardRows are the dashboard's rows and panels; a test checks that
// every name they use is a Def (or one of the Go runtime's).
var dashboardRows = []dashRow{
	{"Throughput", []panel{
		{"Events ingested", "ops", "Events acknowledged to clients per second, by stream.", []query{q(rateOf("cairn_events_ingested_total", "stream"), "{{stream}}")}},
		{"Statements", "ops", "SQL statements executed per second, by type.", []query{q(rateOf("cairn_statements_total", "type"), "{{type}}")}},
		{"Statement errors", "ops", "SQL statements that failed, per second, by type.", []query{q(`sum by (type) (rate(cairn_statements_total{outcome="error",$sel}[$__rate_interval]))`, "{{type}}")}},
		{"Rows in and out", "rowsps", "Rows received (inserted, copied, ingested) and sent to clients per second.", []query{q(rateOf("cairn_rows_total", "frontend, direction"), "{{frontend}} {{direction}}")}},
		{"Client bytes", "Bps", "Bytes of client traffic per second, by front end and direction.", []query{q(rateOf("cairn_client_bytes_total", "frontend, direction"), "{{frontend}} {{direction}}")}},
		{"HTTP requests", "reqps", "HTTP replies per second by status class.", []query{q(rateOf("cairn_http_requests_total", "code"), "{{code}}")}},
	}},
	{"Latency", []panel{
		{"Statement latency p99", "s", "99th percentile of statement execution time, by type.", []query{q(quantileOf("0.99", "cairn_statement_duration_seconds", "type"), "{{type}}")}},
		{"Statement latency mean", "s", "Mean statement execution time, by type.", []query{q(`sum by (type) (rate(cairn_statement_duration_seconds_sum{$sel}[$__rate_interval])) / sum by (type) (rate(cairn_statement_duration_seconds_count{$sel}[$__rate_interval]))`, "{{type}}")}},
		{"Raft commit latency", "s", "Propose-to-apply time of raft entries, by kind of group.", []query{
			q(quantileOf("0.5", "cairn_raft_commit_latency_seconds", "group_kind"), "p50 {{group_kind}}"),
			q(quantileOf("0.99", "cairn_raft_commit_latency_seconds", "group_kind"), "p99 {{group_kind}}")}},
		{"Fsync latency p99", "s", "99th percentile of storage sync time, by node.", []query{q(quantileOf("0.99", "cairn_fsync_latency_seconds", "instance"), "{{instance}}")}},
	}},
	{"Raft", []panel{
		{"Proposals", "ops", "Proposals handed to raft per second, by kind of group.", []query{q(rateOf("cairn_raft_proposals_total", "group_kind"), "{{group_kind}}")}},
		{"Elections and leader changes", "short", "Elections started and leader changes seen in the last 5 minutes, by kind of group.", []query{
			q(`sum by (group_kind) (increase(cairn_raft_elections_total{$sel}[5m]))`, "elections {{group_kind}}"),
			q(`sum by (group_kind) (increase(cairn_raft_leader_changes_total{$sel}[5m]))`, "leader changes {{group_kind}}")}},
		{"Groups without a leader", "short", "Raft groups whose replica on some node knows no leader (no writes until one is elected).", []query{q(`max by (group_kind) (cairn_raft_leaderless_groups{$sel})`, "{{group_kind}}")}},
		{"Leaders per node", "short", "Raft groups each node leads.", []query{q(`sum by (instance) (cairn_raft_leaders{$sel})`, "{{instance}}")}},
		{"Replica lag", "short", "The most log entries a replica lags behind its leader, by kind of group.", []query{q(`max by (group_kind) (cairn_raft_replica_lag_entries{$sel})`, "{{group_kind}}")}},
		{"Raft groups", "short", "Raft groups (replicas) running on each node, and how many are quiesced.", []query{
			q(`sum by (instance) (cairn_raft_groups{$sel})`, "groups {{instance}}"),
			q(`sum by (instance) (cairn_raft_quiesced_groups{$sel})`, "quiesced {{instance}}")}},
		{"Unreachable peers", "short", "Peers each node sees as suspect or dead.", []query{q(`sum by (instance, state) (cairn_peers{state!="live",$sel})`, "{{instance}} {{state}}")}},
	}},
	{"Views", []panel{
		{"View lag", "s", "Age of the oldest event not yet folded into each view.", []query{q(`max by (view) (cairn_view_lag_seconds{$sel})`, "{{view}}")}},
		{"View lag (events)", "short", "Events not yet folded into each view.", []query{q(`max by (view) (cairn_view_lag_events{$sel})`, "{{view}}")}},
		{"Back-fill progress", "percentunit", "Share of its back-fill each view created with start = 'earliest' has folded.", []query{q(`min by (view) (cairn_view_backfill_done_events{$sel} / cairn_view_backfill_target_events{$sel})`, "{{view}}")}},
		{"Scheduled view lag", "s", "Age of the oldest event each scheduled view has not folded.", []query{q(`max by (view) (cairn_scheduled_view_lag_seconds{$sel})`, "{{view}}")}},
		{"Late events", "short", "Events windowed views left out as late.", []query{q(`sum by (view) (cairn_view_late_events{$sel})`, "{{view}}")}},
		{"View cache hit ratio", "percentunit", "Share of view row lookups the view cache answered.", []query{q(`sum by (instance) (rate(cairn_view_cache_hits_total{$sel}[$__rate_interval])) / (sum by (instance) (rate(cairn_view_cache_hits_total{$sel}[$__rate_interval])) + sum by (instance) (rate(cairn_view_cache_misses_total{$sel}[$__rate_interval])))`, "{{instance}}")}},
		{"Checkpoints", "ops", "Checkpoint attempts of scheduled views per second, by outcome.", []query{q(rateOf("cairn_checkpoints_total", "outcome"), "{{outcome}}")}},
	}},
	{"Memory", []panel{
		{"Memory by component", "bytes", "Memory of the nodes by component, against their limits.", []query{
			q(`sum by (component) (cairn_memory_bytes{$sel})`, "{{component}}"),
			q(`sum(cairn_memory_limit_bytes{$sel})`, "limit")}},
		{"Resident memory", "bytes", "Resident set size of each node's process.", []query{q(`process_resident_memory_bytes{job="cairn",$sel}`, "{{instance}}")}},
		{"Backpressure", "ops", "Appends delayed or refused per second because memory was short.", []query{q(rateOf("cairn_backpressure_total", "action"), "{{action}}")}},
		{"Goroutines", "short", "Goroutines of each node.", []query{q(`go_goroutines{job="cairn",$sel}`, "{{instance}}")}},
	}},
	{"Disk", []panel{
		{"Disk used", "percentunit", "Share of the data directory's file system in use, by node.", []query{q(`1 - cairn_disk_available_bytes{$sel} / cairn_disk_capacity_bytes{$sel}`, "{{instance}}")}},
		{"Disk available", "bytes", "Bytes still available on the data directory's file system.", []query{q(`cairn_disk_available_bytes{$sel}`, "{{instance}}")}},
		{"Retention trims", "ops", "Events dropped by stream retention per second, by stream.", []query{q(rateOf("cairn_retention_trimmed_events_total", "stream"), "{{stream}}")}},
		{"Checkpoint bytes", "Bps", "Object bytes written by scheduled-view checkpoints per second.", []query{q(`sum(rate(cairn_checkpoint_bytes_total{$sel}[$__rate_interval]))`, "written")}},
	}},
	{"Snapshots", []panel{
		{"Snapshot bytes", "Bps", "Raft snapshot bytes sent and received per second.", []query{q(rateOf("cairn_snapshot_bytes_total", "direction"), "{{direction}}")}},
		{"Snapshots in flight", "short", "Raft snapshots being sent or received, by node.", []query{q(`sum by (instance) (cairn_snapshots_in_flight{$sel})`, "{{instance}}")}},
	}},
	{"Operations and sessions", []panel{
		{"Operations in progress", "short", "Cluster operations pending or running, by type.", []query{q(`max by (type, status) (cairn_operations{status=~"pending|running",$sel})`, "{{type}} {{status}}")}},
		{"Operations finished", "short", "Finished cluster operations the catalog records, by type and outcome.", []query{q(`max by (type, status) (cairn_operations{status=~"done|failed|cancelled",$sel})`, "{{type}} {{status}}")}},
		{"Open sessions", "short", "Client sessions open, by front end.", []query{q(`sum by (frontend) (cairn_sessions_open{$sel})`, "{{frontend}}")}},
		{"Sessions opened", "ops", "Client sessions opened per second, by front end.", []query{q(rateOf("cairn_sessions_total", "frontend"), "{{frontend}}")}},
		{"Authentication failures", "ops", "Failed SQL logins per second, by reason.", []query{q(rateOf("cairn_auth_failures_total", "reason"), "{{reason}}")}},
		{"Certificate expiry", "d", "Days until each certificate in use expires.", []query{q(`min by (kind, name) (cairn_cert_expiration_seconds{$sel} - time()) / 86400`, "{{kind}} {{name}}")}},
	}},
}

// DashboardExprs returns every PromQL expression of the dashboard, with
// the instance selector filled in.
func DashboardExprs() []string {
	var out []string
	for _, r := range dashboardRows {
		for _, p := range r.panels {
			for _, qq := range p.queries {
				out = append(out, fillSel(qq.expr))
			}
		}
	}
	return out
}

func fillSel(expr string) string {
	expr = strings.ReplaceAll(expr, "{$sel}", `{instance=~"$instance"}`)
	return strings.ReplaceAll(expr, ",$sel}", `,instance=~"$instance"}`)
}

// Dashboard returns the Grafana dashboard JSON (deploy/grafana/
// cairn-dashboard.json): one row per area, two panels a line.
func Dashboard() ([]byte, error) {
	type obj = map[string]any
	ds := obj{"type": "prometheus", "uid": "${datasource}"}
	var panels []any
	id, y := 1, 0
	for _, r := range dashboardRows {
		panels = append(panels, obj{"id": id, "type": "row", "title": r.title, "collapsed": false,
			"gridPos": obj{"h": 1, "w": 24, "x": 0, "y": y}, "panels": []any{}})
		id++
		y++
		for i, p := range r.panels {
			var targets []any
			for j, qq := range p.queries {
				targets = append(targets, obj{"refId": string(rune('A' + j)), "datasource": ds, "expr": fillSel(qq.expr), "legendFormat": qq.legend})
			}
			panels = append(panels, obj{
				"id": id, "type": "timeseries", "title": p.title, "description": p.desc, "datasource": ds,
				"gridPos":     obj{"h": 8, "w": 12, "x": 12 * (i % 2), "y": y + 8*(i/2)},
				"fieldConfig": obj{"defaults": obj{"unit": p.unit}, "overrides": []any{}},
				"options": obj{"legend": obj{"displayMode": "list", "placement": "bottom", "showLegend": true},
					"tooltip": obj{"mode": "multi", "sort": "desc"}},
				"targets": targets,
			})
			id++
		}
		y += 8 * ((len(r.panels) + 1) / 2)
	}
	d := obj{
		"title":         "Cairn",
		"uid":           "cairn-overview",
		"description":   "Generated by go generate ./internal/metrics from the metric definitions (internal/metrics/defs.go, dashboard.go); do not edit by hand.",
		"tags":          []string{"cairn"},
		"timezone":      "browser",
		"editable":      true,
		"schemaVersion": 39,
		"version":       1,
		"refresh":       "10s",
		"time":          obj{"from": "now-1h", "to": "now"},
		"templating": obj{"list": []any{
			obj{"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus", "hide": 0,
				"current": obj{"text": "Prometheus", "value": "Prometheus"}},
			obj{"name": "instance", "label": "Node", "type": "query", "datasource": ds,
				"query":      obj{"query": `label_values(cairn_raft_groups, instance)`, "refId": "instance"},
				"definition": `label_values(cairn_raft_groups, instance)`,
				"refresh":    2, "includeAll": true, "multi": true, "allValue": ".*", "sort": 1,
				"current": obj{"text": []string{"All"}, "value": []string{"$__all"}}},
		}},
		"annotations": obj{"list": []any{}},
		"panels":      panels,
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
