package httpapi

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The HTTP front end counts requests by status class, body bytes both
// ways and ingested rows.
func TestFrontendMetrics(t *testing.T) {
	m := metrics.New()
	f := m.FrontendMetrics()
	s := New(Config{TrustLoopback: true, FrontendMetrics: f, Metrics: m.Handler()}, newFake())
	body := "{\"value\": 1}\n{\"value\": 2}\n{\"value\": 3}\n"
	if r := do(t, s, "POST", "/v1/streams/events/events", body); r.status != 200 {
		t.Fatalf("ingest: %d %v", r.status, r.body)
	}
	if r := do(t, s, "POST", "/v1/streams/evnts/events", `{"value": 1}`); r.status != 404 {
		t.Fatalf("unknown stream: %d %v", r.status, r.body)
	}
	if v := counterValue(f.Rows.WithLabelValues("http", "in")); v != 3 {
		t.Errorf("rows in = %v, want 3", v)
	}
	if v := counterValue(f.HTTPRequests.WithLabelValues("2xx")); v != 1 {
		t.Errorf("2xx = %v, want 1", v)
	}
	if v := counterValue(f.HTTPRequests.WithLabelValues("4xx")); v != 1 {
		t.Errorf("4xx = %v, want 1", v)
	}
	// The refused request's body was never read.
	if v := counterValue(f.Bytes.WithLabelValues("http", "in")); v != float64(len(body)) {
		t.Errorf("bytes in = %v, want %d", v, len(body))
	}
	if v := counterValue(f.Bytes.WithLabelValues("http", "out")); v <= 0 {
		t.Errorf("bytes out = %v, want > 0", v)
	}
	// The exposition shows them.
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, loopbackRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `cairn_rows_total{direction="in",frontend="http"} 3`) {
		t.Errorf("exposition lacks the ingested rows:\n%s", rec.Body.String())
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
