package node_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/node"
	"github.com/cairndb/cairn/internal/testutil"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"go.yaml.in/yaml/v3"
)

// A real node after some traffic: the new metrics move (stream proposals
// are labelled stream, statements are counted by type, sessions, rows,
// elections), its registry holds exactly the defined cairn_ metrics, and
// every metric the Prometheus rules and the Grafana dashboard name exists
// in that registry.
func TestMetricsOfARealNode(t *testing.T) {
	addr := func() string {
		a, err := testutil.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	cfg := node.Config{DataDir: filepath.Join(t.TempDir(), "n1"), PGAddr: addr(), HTTPAddr: addr(), ClusterAddr: addr(),
		NodeID: "n1", NoSync: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n, err := node.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	conn, err := pgx.Connect(ctx, "postgres://cairn@"+n.PGAddr()+"/cairn?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`CREATE STREAM ev (k int8, v float8) WITH (shards = 2, shard_key = 'k')`)
	exec(`INSERT INTO ev (k, v) VALUES (1, 1.5), (2, 2.5), (3, 3.5)`)
	exec(`INSERT INTO ev (k, v) VALUES (4, 4.5)`)
	exec(`CREATE MATERIALIZED VIEW per_k AS SELECT k, count(*) AS n FROM ev GROUP BY k`)
	rows, err := conn.Query(ctx, `SELECT k, v FROM ev`)
	if err != nil {
		t.Fatal(err)
	}
	selected := 0
	for rows.Next() {
		selected++
	}
	if rows.Close(); rows.Err() != nil || selected != 4 {
		t.Fatalf("SELECT: %d rows, %v", selected, rows.Err())
	}
	exec(`SHOW STREAMS`)
	if _, err := conn.Exec(ctx, `SELECT * FROM no_such_stream`); err == nil {
		t.Fatal("a missing stream was selected")
	}
	base := "http://" + n.HTTPAddr()
	hc := &http.Client{Timeout: 20 * time.Second}
	resp, err := hc.Post(base+"/v1/streams/ev/events", "application/x-ndjson", strings.NewReader("{\"k\": 5, \"v\": 1}\n{\"k\": 6, \"v\": 2}\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ingest: %d", resp.StatusCode)
	}

	// The view's lag gauges are set by a background round: wait for them.
	var m map[string]float64
	deadline := time.Now().Add(20 * time.Second)
	for {
		m = scrapeAll(t, hc, base)
		if _, ok := m[`cairn_view_backfill_target_events{view="per_k"}`]; ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, c := range []struct {
		series string
		min    float64
	}{
		{`cairn_raft_proposals_total{group_kind="stream"}`, 3},
		{`cairn_raft_proposals_total{group_kind="meta"}`, 2},
		{`cairn_raft_commit_latency_seconds_count{group_kind="stream"}`, 3},
		{`cairn_raft_elections_total{group_kind="stream"}`, 2},
		{`cairn_raft_elections_total{group_kind="view"}`, 1},
		{`cairn_raft_leader_changes_total{group_kind="stream"}`, 2},
		{`cairn_raft_leaders{group_kind="stream"}`, 2},
		{`cairn_raft_leaders{group_kind="meta"}`, 1},
		{`cairn_statements_total{outcome="ok",type="insert"}`, 2},
		{`cairn_statements_total{outcome="ok",type="ddl"}`, 2},
		{`cairn_statements_total{outcome="ok",type="select"}`, 1},
		{`cairn_statements_total{outcome="ok",type="show"}`, 1},
		{`cairn_statements_total{outcome="error",type="select"}`, 1},
		{`cairn_statement_duration_seconds_count{type="insert"}`, 2},
		{`cairn_sessions_total{frontend="pgwire"}`, 1},
		{`cairn_sessions_open{frontend="pgwire"}`, 1},
		{`cairn_rows_total{direction="in",frontend="pgwire"}`, 4},
		{`cairn_rows_total{direction="out",frontend="pgwire"}`, 4},
		{`cairn_rows_total{direction="in",frontend="http"}`, 2},
		{`cairn_client_bytes_total{direction="in",frontend="pgwire"}`, 100},
		{`cairn_client_bytes_total{direction="out",frontend="pgwire"}`, 100},
		{`cairn_client_bytes_total{direction="in",frontend="http"}`, 30},
		{`cairn_http_requests_total{code="2xx"}`, 1},
		{`cairn_events_ingested_total{stream="ev"}`, 6},
		{`cairn_view_backfill_target_events{view="per_k"}`, 4},
		{`cairn_view_backfill_done_events{view="per_k"}`, 0},
		{`cairn_disk_capacity_bytes`, 1},
		{`cairn_disk_available_bytes`, 1},
		{`cairn_raft_groups`, 3},
	} {
		v, ok := m[c.series]
		if !ok {
			t.Errorf("%s: not exposed", c.series)
		} else if v < c.min {
			t.Errorf("%s = %v, want at least %v", c.series, v, c.min)
		}
	}
	for _, zero := range []string{`cairn_raft_leaderless_groups{group_kind="stream"}`, `cairn_raft_leaderless_groups{group_kind="meta"}`, `cairn_peers{state="dead"}`} {
		if v, ok := m[zero]; !ok || v != 0 {
			t.Errorf("%s = %v (exposed %v), want 0", zero, v, ok)
		}
	}
	for s := range m {
		if strings.Contains(s, `group_kind="all"`) || strings.Contains(s, `group_kind="unknown"`) {
			t.Errorf("%s: proposals must be labelled by their group's kind", s)
		}
	}

	// The registry holds exactly the defined cairn_ metrics.
	described := describedNames(n.MetricsRegistry())
	for name, help := range described {
		if !strings.HasPrefix(name, "cairn_") {
			continue
		}
		if d, ok := metrics.Lookup(name); !ok {
			t.Errorf("%s is registered but not defined in internal/metrics/defs.go (so not documented)", name)
		} else if d.Help != help {
			t.Errorf("%s: registered with help %q, defined with %q", name, help, d.Help)
		}
	}
	series := map[string]bool{}
	for _, d := range metrics.Defs() {
		if _, ok := described[d.Name]; !ok && d.ServedByNode() {
			t.Errorf("%s is defined but a node does not register it", d.Name)
		}
		for _, s := range d.Series() {
			series[s] = true
		}
	}
	for name := range described {
		if !strings.HasPrefix(name, "cairn_") {
			series[name] = true // go_*, process_*, promhttp_*
		}
	}
	for s := range m {
		series[s[:strings.IndexAny(s+"{", "{ ")]] = true // histograms of the runtime, as exposed
	}

	// Every name in the rules and the dashboard is one of them.
	exprs, records := rulesExprs(t, filepath.Join("..", "..", "deploy", "prometheus", "cairn.rules.yaml"))
	dash := metrics.DashboardExprs()
	if len(exprs) < 20 || len(dash) < 40 {
		t.Fatalf("only %d rule and %d dashboard expressions", len(exprs), len(dash))
	}
	checked := 0
	for _, e := range append(exprs, dash...) {
		names, err := metrics.MetricNames(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			checked++
			if !series[name] && !records[name] && name != "up" {
				t.Errorf("%q names %s, which a node does not expose", e, name)
			}
		}
	}
	t.Logf("checked %d metric names in %d rule and %d dashboard expressions against %d series names", checked, len(exprs), len(dash), len(series))
}

// scrapeAll returns every sample of /metrics keyed by name{labels}.
func scrapeAll(t *testing.T, hc *http.Client, base string) map[string]float64 {
	t.Helper()
	resp, err := hc.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

var descName = regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*"), help: ("(?:[^"\\]|\\.)*")`)

// describedNames returns the metric names of every collector in reg, also
// those without series yet (a per-view gauge before any view exists),
// with their help.
func describedNames(reg *prometheus.Registry) map[string]string {
	ch := make(chan *prometheus.Desc)
	go func() { reg.Describe(ch); close(ch) }()
	out := map[string]string{}
	for d := range ch {
		m := descName.FindStringSubmatch(d.String())
		if m == nil {
			continue
		}
		name, err1 := strconv.Unquote(m[1])
		help, err2 := strconv.Unquote(m[2])
		if err1 == nil && err2 == nil {
			out[name] = help
		}
	}
	return out
}

// rulesExprs returns the expressions of a Prometheus rules file and the
// names it records.
func rulesExprs(t *testing.T, path string) ([]string, map[string]bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Record, Alert, Expr string
			}
		}
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var exprs []string
	records := map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			if r.Expr == "" || (r.Record == "") == (r.Alert == "") {
				t.Errorf("bad rule %+v", r)
			}
			exprs = append(exprs, r.Expr)
			if r.Record != "" {
				records[r.Record] = true
			}
		}
	}
	return exprs, records
}
