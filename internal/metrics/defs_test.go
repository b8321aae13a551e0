package metrics

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// The committed docs and dashboard are what the generator makes from
// the definitions: run `go generate ./internal/metrics` after a change.
func TestGeneratedFilesUpToDate(t *testing.T) {
	dash, err := Dashboard()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string][]byte{DocsPath: Markdown(), DashboardPath: dash} {
		got, err := os.ReadFile(filepath.Join("..", "..", path))
		if err != nil {
			t.Fatalf("%s: %v (run go generate ./internal/metrics)", path, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the generator makes: run go generate ./internal/metrics", path)
		}
	}
}

// Names follow Prometheus conventions and every Def is documented.
func TestDefsConventions(t *testing.T) {
	docs := string(Markdown())
	seen := map[string]bool{}
	for _, d := range Defs() {
		if seen[d.Name] {
			t.Errorf("%s defined twice", d.Name)
		}
		seen[d.Name] = true
		if !strings.HasPrefix(d.Name, "cairn_") {
			t.Errorf("%s: not cairn_", d.Name)
		}
		if (d.Type == Counter) != strings.HasSuffix(d.Name, "_total") {
			t.Errorf("%s: a %s; only counters end in _total", d.Name, d.Type)
		}
		for _, bad := range []string{"_ms", "_millis", "_kb", "_mb", "_count", "_sum", "_bucket"} {
			if strings.HasSuffix(strings.TrimSuffix(d.Name, "_total"), bad) {
				t.Errorf("%s: use base units and leave %s to Prometheus", d.Name, bad)
			}
		}
		if d.Help == "" || d.Section == "" {
			t.Errorf("%s: no help or section", d.Name)
		}
		if !strings.Contains(docs, "`"+d.Name+"`") {
			t.Errorf("%s missing from the docs", d.Name)
		}
	}
}

// Every collector the package makes matches its Def: name, type, help
// and labels. (The node registers a few more from Defs; the node-level
// test checks a real node's registry against the Defs.)
func TestCollectorsMatchDefs(t *testing.T) {
	m := New()
	m.NewMemory().Set(map[string]uint64{"go_other": 1}, 2)
	s := m.NewSched()
	s.SetLag("v", 1)
	s.SetOwned(1)
	m.RegisterSnapshots(func() (uint64, uint64, int64) { return 1, 2, 0 })
	m.RegisterViewCache(func() (int64, uint64, uint64) { return 1, 2, 3 })
	m.RegisterGroupStates(func() GroupCounts {
		return GroupCounts{Leaderless: map[string]int{GroupStream: 1}, Leaders: map[string]int{}, MaxLag: map[string]int{}}
	})
	m.RegisterPeers(func() map[string]int { return map[string]int{"live": 2} })
	m.RegisterOperations(func() map[OpKey]int { return map[OpKey]int{{"drain", "done"}: 1} })
	m.RegisterDisk(t.TempDir())
	m.Ingested("s", 1)
	m.SetViewLag("v", 1, time.Second)
	m.SetViewLate("v", 1)
	m.SetBackfill("v", 10, 5)
	m.Trimmed("s", 3)
	m.SetCertExpirations([]CertExpiry{{Kind: "ca", Name: "x", NotAfter: time.Now()}})
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	// cairn proxy's metrics live in its own registry (proxy.go).
	px := NewProxy()
	px.Sessions.WithLabelValues("n1").Inc()
	px.Routed.WithLabelValues("n1").Inc()
	px.Decisions.WithLabelValues("round_robin", "routed").Inc()
	px.BackendFails.WithLabelValues("n1", "dial").Inc()
	px.DrainCloses.WithLabelValues("n1").Inc()
	pfams, err := px.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams = append(fams, pfams...)
	types := map[dto.MetricType]Type{dto.MetricType_COUNTER: Counter, dto.MetricType_GAUGE: Gauge, dto.MetricType_HISTOGRAM: Histogram}
	got := map[string]bool{}
	for _, f := range fams {
		name := f.GetName()
		if !strings.HasPrefix(name, "cairn_") {
			continue
		}
		got[name] = true
		d, ok := Lookup(name)
		if !ok {
			t.Errorf("%s is exposed but has no Def", name)
			continue
		}
		if types[f.GetType()] != d.Type || f.GetHelp() != d.Help {
			t.Errorf("%s: exposed as %s %q, defined as %s %q", name, f.GetType(), f.GetHelp(), d.Type, d.Help)
		}
		for _, mm := range f.GetMetric() {
			var names []string
			for _, l := range mm.GetLabel() {
				names = append(names, l.GetName())
			}
			if strings.Join(names, ",") != strings.Join(d.Labels, ",") && !sameSet(names, d.Labels) {
				t.Errorf("%s: labels %v, defined %v", name, names, d.Labels)
			}
		}
	}
	for _, d := range Defs() {
		if !got[d.Name] && d.Name != DefRaftGroups.Name && d.Name != DefRaftQuiesced.Name && d.Name != DefAuthFailures.Name && d.Name != DefAuditDropped.Name && d.Name != DefConsoleConnections.Name {
			t.Errorf("%s is defined but this package never exposes it", d.Name)
		}
	}
	if !got["cairn_disk_capacity_bytes"] {
		t.Fatal("no disk metrics")
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	in := map[string]bool{}
	for _, x := range a {
		in[x] = true
	}
	for _, x := range b {
		if !in[x] {
			return false
		}
	}
	return true
}

// The dashboard names only defined metrics (or the Go runtime's and the
// process's, which every node also exposes).
func TestDashboardNamesDefinedMetrics(t *testing.T) {
	series := map[string]bool{}
	for _, d := range Defs() {
		for _, s := range d.Series() {
			series[s] = true
		}
	}
	n := 0
	for _, e := range DashboardExprs() {
		names, err := MetricNames(e)
		if err != nil {
			t.Fatal(err)
		}
		if len(names) == 0 {
			t.Errorf("%s names no metric", e)
		}
		for _, name := range names {
			n++
			if !series[name] && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
				t.Errorf("dashboard query %s names %s, which is not defined", e, name)
			}
		}
	}
	if n < 40 {
		t.Errorf("only %d metric names in the dashboard", n)
	}
}

func TestDiskSpace(t *testing.T) {
	ds, err := StatDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if ds.Capacity == 0 || ds.Available > ds.Capacity || ds.Used > ds.Capacity {
		t.Errorf("implausible disk space %+v", ds)
	}
}
