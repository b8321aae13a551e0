package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestExposition(t *testing.T) {
	m := New()
	m.Proposed(GroupStream)
	m.Proposed(GroupStream)
	m.Committed(GroupView, 3*time.Millisecond)
	m.Fsynced(200 * time.Microsecond)
	m.Ingested("events", 1000)
	m.SetViewLag("per_device", 42, 1500*time.Millisecond)
	out := scrape(t, m)
	for _, want := range []string{
		`cairn_raft_proposals_total{group_kind="stream"} 2`,
		`cairn_raft_proposals_total{group_kind="meta"} 0`,
		`cairn_raft_commit_latency_seconds_count{group_kind="view"} 1`,
		`cairn_fsync_latency_seconds_count 1`,
		`cairn_events_ingested_total{stream="events"} 1000`,
		`cairn_view_lag_events{view="per_device"} 42`,
		`cairn_view_lag_seconds{view="per_device"} 1.5`,
		`go_goroutines`,
		`process_`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	m.DropView("per_device")
	m.DropStream("events")
	out = scrape(t, m)
	if strings.Contains(out, `view="per_device"`) || strings.Contains(out, `stream="events"`) {
		t.Errorf("dropped series still exposed")
	}
}

// Two nodes in one process must not share or clash on registrations.
func TestIndependentRegistries(t *testing.T) {
	a, b := New(), New()
	a.Ingested("s", 5)
	if out := scrape(t, b); strings.Contains(out, `stream="s"`) {
		t.Errorf("node b shows node a's counter")
	}
}

func TestNilSafe(t *testing.T) {
	var m *Metrics
	m.Proposed(GroupMeta)
	m.Committed(GroupMeta, time.Second)
	m.Fsynced(time.Second)
	m.Ingested("s", 1)
	m.SetViewLag("v", 1, time.Second)
	m.DropView("v")
	m.DropStream("s")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("nil metrics handler: status %d, want 404", rec.Code)
	}
}

func TestCertExpirations(t *testing.T) {
	m := New()
	m.SetCertExpirations([]CertExpiry{{Kind: "ca", Name: "Cairn CA", NotAfter: time.Unix(2000000000, 0)}, {Kind: "node", Name: "node.crt", NotAfter: time.Unix(1900000000, 0)}})
	out := scrape(t, m)
	for _, want := range []string{`cairn_cert_expiration_seconds{kind="ca",name="Cairn CA"} 2e+09`, `cairn_cert_expiration_seconds{kind="node",name="node.crt"} 1.9e+09`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
	// A reload replaces the set: a certificate no longer in use goes away.
	m.SetCertExpirations([]CertExpiry{{Kind: "node", Name: "node.crt", NotAfter: time.Unix(1950000000, 0)}})
	out = scrape(t, m)
	if strings.Contains(out, `kind="ca"`) || !strings.Contains(out, `cairn_cert_expiration_seconds{kind="node",name="node.crt"} 1.95e+09`) {
		t.Errorf("after the second set:\n%s", out)
	}
	var nilM *Metrics
	nilM.SetCertExpirations(nil)
}
