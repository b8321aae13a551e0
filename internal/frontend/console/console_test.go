package console

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairndb/cairn/internal/frontend/httpapi"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// fakeNode is both backends: httpapi's (authentication: user alice with
// password alice-pw) and the console's (fixed cluster tables, a
// timeline, and a read-only runner that refuses what is not a SELECT, as
// session.RunReadOnly does; that function has its own test).
type fakeNode struct {
	mu      sync.Mutex
	runs    int
	events  []Event
	refused []string
}

func (f *fakeNode) NodeID() string { return "n1" }
func (f *fakeNode) Ready() error   { return nil }
func (f *fakeNode) StreamColumns(name string) ([]httpapi.Column, error) {
	return nil, pgerr.RelationNotFound.New(name)
}
func (f *fakeNode) Insert(context.Context, string, *types.Batch) (int, error) { return 0, nil }
func (f *fakeNode) LoginRole(name string) (httpapi.LoginRole, bool) {
	if name != "alice" {
		return httpapi.LoginRole{}, false
	}
	return httpapi.LoginRole{Login: true, Verifier: "v-alice"}, true
}
func (f *fakeNode) PasswordMatches(verifier, password string) bool {
	return verifier == "v-alice" && password == "alice-pw"
}
func (f *fakeNode) Authorize(string, httpapi.Privilege, httpapi.Object) error { return nil }
func (f *fakeNode) Audit(context.Context, httpapi.AuditEvent)                 {}

func text(s string) *string { return &s }

func (f *fakeNode) RunSQL(_ context.Context, user, sql string) (*httpapi.SQLResult, error) {
	f.mu.Lock()
	f.runs++
	f.mu.Unlock()
	switch {
	case strings.Contains(sql, "cairn_cluster.nodes"):
		return &httpapi.SQLResult{Columns: []string{"node_id", "state", "zone", "region"},
			Rows: [][]*string{{text("n1"), text("live"), text("a"), text("r1")}, {text("n2"), text("dead"), nil, nil}}}, nil
	case strings.Contains(sql, "cairn_cluster.health"):
		return nil, pgerr.SystemTableNotFound.New("cairn_cluster", "health")
	case strings.Contains(sql, "cairn_cluster.shards"):
		return &httpapi.SQLResult{Columns: []string{"object", "shard", "node_id", "role"},
			Rows: [][]*string{{text("s"), text("0"), text("n1"), text("leader")}}}, nil
	}
	return &httpapi.SQLResult{Columns: []string{"x"}}, nil
}

func (f *fakeNode) RunReadOnly(_ context.Context, user, sql string, maxRows int) (*httpapi.SQLResult, bool, error) {
	if !strings.HasPrefix(strings.ToUpper(strings.TrimSpace(sql)), "SELECT") {
		f.mu.Lock()
		f.refused = append(f.refused, sql)
		f.mu.Unlock()
		return nil, false, pgerr.ConsoleReadOnly.New("INSERT")
	}
	return &httpapi.SQLResult{Columns: []string{"user"}, Rows: [][]*string{{text(user)}}, Tag: "SELECT 1"}, false, nil
}

func (f *fakeNode) Timeline() []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Event(nil), f.events...)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// env is a node's HTTP server with the console mounted, secure (no
// loopback trust) or not.
func env(t *testing.T, secure bool, cfg Config) (*httptest.Server, *fakeNode, *Console) {
	t.Helper()
	f := &fakeNode{}
	s := httpapi.New(httpapi.Config{TrustLoopback: !secure, Logger: quiet()}, f)
	cfg.Logger = quiet()
	c := New(cfg, f)
	c.Mount(s)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); c.Close() })
	return ts, f, c
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func postJSON(t *testing.T, url, body string, header ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp, m
}

// TestAssets: the page and its assets are served from the binary with
// the right content types; a missing asset is 404.
func TestAssets(t *testing.T) {
	ts, _, _ := env(t, true, Config{})
	for _, c := range []struct{ path, ctype, contains string }{
		{"/", "text/html; charset=utf-8", `<script src="/console/assets/console.js"`},
		{"/console/assets/console.js", "text/javascript; charset=utf-8", "new EventSource"},
		{"/console/assets/console.css", "text/css; charset=utf-8", ".node"},
	} {
		resp, body := get(t, ts.URL+c.path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != c.ctype || !strings.Contains(body, c.contains) {
			t.Errorf("GET %s: %d %q, body has %q: %v", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), c.contains, strings.Contains(body, c.contains))
		}
	}
	if resp, _ := get(t, ts.URL+"/"); !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("the page has no content security policy: %q", resp.Header.Get("Content-Security-Policy"))
	}
	if resp, _ := get(t, ts.URL+"/console/assets/nope.js"); resp.StatusCode != 404 {
		t.Errorf("missing asset: %d", resp.StatusCode)
	}
	// Only the page and assets are public: other paths still need a user.
	if resp, _ := get(t, ts.URL+"/nope"); resp.StatusCode != 401 {
		t.Errorf("GET /nope on a secure node: %d, want 401", resp.StatusCode)
	}
	// The Host check applies to the public page too (DNS rebinding).
	req, _ := http.NewRequest("GET", ts.URL+"/", nil)
	req.Host = "evil.example:80"
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("foreign Host: %v %v", resp, err)
	}
}

// TestLoginRequired: on a secure node the data routes refuse a request
// without a session (401, JSON), the page still loads (it shows the
// login form), and after POST /api/v1/login the session cookie opens
// them.
func TestLoginRequired(t *testing.T) {
	ts, _, _ := env(t, true, Config{})
	if resp, body := get(t, ts.URL+"/"); resp.StatusCode != 200 || !strings.Contains(body, `id="login-form"`) {
		t.Fatalf("page: %d", resp.StatusCode)
	}
	for _, p := range []string{SnapshotPath, EventsPath, WhoamiPath} {
		if resp, body := get(t, ts.URL+p); resp.StatusCode != 401 || !strings.Contains(body, `"code":"28000"`) {
			t.Errorf("GET %s without login: %d %s", p, resp.StatusCode, body)
		}
	}
	if resp, m := postJSON(t, ts.URL+SQLPath, `{"sql":"SELECT 1"}`); resp.StatusCode != 401 {
		t.Errorf("POST sql without login: %d %v", resp.StatusCode, m)
	}
	if resp, m := postJSON(t, ts.URL+"/api/v1/login", `{"user":"alice","password":"wrong"}`); resp.StatusCode != 401 {
		t.Errorf("wrong password: %d %v", resp.StatusCode, m)
	}
	resp, m := postJSON(t, ts.URL+"/api/v1/login", `{"user":"alice","password":"alice-pw"}`)
	tok, _ := m["token"].(string)
	if resp.StatusCode != 200 || tok == "" {
		t.Fatalf("login: %d %v", resp.StatusCode, m)
	}
	cookie := httpapi.SessionCookie + "=" + tok
	if resp, body := get(t, ts.URL+SnapshotPath, "Cookie", cookie); resp.StatusCode != 200 || !strings.Contains(body, `"node":"n1"`) {
		t.Errorf("snapshot after login: %d %s", resp.StatusCode, body)
	}
	if _, body := get(t, ts.URL+WhoamiPath, "Cookie", cookie); !strings.Contains(body, `"user":"alice"`) || !strings.Contains(body, `"session":true`) {
		t.Errorf("whoami: %s", body)
	}
	// The SQL page runs as the logged-in user.
	if resp, m := postJSON(t, ts.URL+SQLPath, `{"sql":"SELECT current_user"}`, "Cookie", cookie); resp.StatusCode != 200 || fmt.Sprint(m["rows"]) != "[[alice]]" {
		t.Errorf("SQL as alice: %d %v", resp.StatusCode, m)
	}
}

// TestSQLRefusesWrites: a write is refused with 25006 and its hint as a
// JSON error; bad bodies get clear errors too.
func TestSQLRefusesWrites(t *testing.T) {
	ts, f, _ := env(t, false, Config{})
	resp, m := postJSON(t, ts.URL+SQLPath, `{"sql":"INSERT INTO s VALUES (1)"}`)
	e, _ := m["error"].(map[string]any)
	if resp.StatusCode != 400 || e["code"] != "25006" || !strings.Contains(fmt.Sprint(e["message"]), "read-only") || e["hint"] == "" {
		t.Errorf("INSERT: %d %v", resp.StatusCode, m)
	}
	if len(f.refused) != 1 {
		t.Errorf("the runner saw %d refused statements, want 1", len(f.refused))
	}
	for _, c := range []struct{ body, code string }{
		{`{"sql":""}`, pgerr.SyntaxError},
		{`{"query":"SELECT 1"}`, "22P02"},
		{`not json`, "22P02"},
	} {
		resp, m := postJSON(t, ts.URL+SQLPath, c.body)
		e, _ := m["error"].(map[string]any)
		if resp.StatusCode != 400 || e["code"] == nil || e["message"] == "" {
			t.Errorf("%s: %d %v", c.body, resp.StatusCode, m)
		}
	}
	resp, m = postJSON(t, ts.URL+SQLPath, `{"sql":"SELECT 1"}`)
	if resp.StatusCode != 200 || m["tag"] != "SELECT 1" {
		t.Errorf("SELECT: %d %v", resp.StatusCode, m)
	}
}

// readEvent reads one SSE event's data line.
func readEvent(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading events: %v", err)
		}
		if d, ok := strings.CutPrefix(line, "data: "); ok {
			return d
		}
	}
}

// TestEventsPushAndStop: the stream sends a snapshot at once and then
// about every Interval (a new timeline event is in the next one); when the
// browser goes, its connection is released; beyond MaxClients a new one is
// refused with 503 and a JSON error.
func TestEventsPushAndStop(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts, f, c := env(t, false, Config{Interval: 100 * time.Millisecond, MaxClients: 2, Registerer: reg, Gatherer: reg})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+EventsPath, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	r := bufio.NewReader(resp.Body)
	var s Snapshot
	if err := json.Unmarshal([]byte(readEvent(t, r)), &s); err != nil || s.Node != "n1" || len(s.Nodes) != 2 || s.Health != nil {
		t.Fatalf("first snapshot: %+v %v", s, err)
	}
	if len(s.Errors) != 0 {
		t.Errorf("a missing cairn_cluster.health is not an error to show: %v", s.Errors)
	}
	f.mu.Lock()
	f.events = append(f.events, Event{Seq: 1, At: time.Now(), Kind: "node", Subject: "n2", Detail: "live → dead"})
	f.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var s Snapshot
		if err := json.Unmarshal([]byte(readEvent(t, r)), &s); err != nil {
			t.Fatal(err)
		}
		if len(s.Timeline) == 1 && s.Timeline[0].Detail == "live → dead" && s.Clients == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no snapshot with the new event: %+v", s)
		}
	}
	if got := c.hub.clients(); got != 1 {
		t.Fatalf("%d clients, want 1", got)
	}
	// A second and a third browser: the third is refused.
	req2, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+EventsPath, nil)
	resp2, err := http.DefaultClient.Do(req2)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return c.hub.clients() == 2 })
	third, body := get(t, ts.URL+EventsPath)
	if third.StatusCode != 503 || !strings.Contains(body, `"code":"53300"`) {
		t.Errorf("third browser: %d %s", third.StatusCode, body)
	}
	mfs, _ := reg.Gather()
	if len(mfs) != 1 || mfs[0].GetName() != "cairn_console_connections" || mfs[0].GetMetric()[0].GetGauge().GetValue() != 2 {
		t.Errorf("cairn_console_connections: %v", mfs)
	}
	cancel()
	resp.Body.Close()
	resp2.Body.Close()
	waitFor(t, func() bool { return c.hub.clients() == 0 })
	// With nobody watching, no snapshots are built.
	f.mu.Lock()
	runs := f.runs
	f.mu.Unlock()
	time.Sleep(400 * time.Millisecond)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.runs != runs {
		t.Errorf("%d statements ran with no browser connected", f.runs-runs)
	}
}

// TestSlowBrowser: a connection that does not take its snapshots holds
// one, the newest, however many are pushed.
func TestSlowBrowser(t *testing.T) {
	f := &fakeNode{}
	h := newHub(context.Background(), Config{MaxClients: 1, Interval: time.Second}, f)
	cl, err := h.join()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		h.broadcast([]byte(fmt.Sprint(i)))
	}
	if len(cl.ch) != 1 || string(<-cl.ch) != "999" {
		t.Fatalf("pending %d", len(cl.ch))
	}
	if _, err := h.join(); pgerr.From(err).Code != pgerr.TooManyConnections {
		t.Fatalf("second client of 1: %v", err)
	}
	h.leave(cl)
	if _, err := h.join(); err != nil {
		t.Fatalf("after leave: %v", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition not met within 5 s")
}

// TestSamplerDerive: the rate is the counter's increase per second, the
// mean and p99 those of the commits between two gathers, and a counter
// that went back (a restart) counts from zero.
func TestSamplerDerive(t *testing.T) {
	t0 := time.Unix(100, 0)
	prev := &totals{at: t0, ingest: 100, count: 10, sum: 0.010, buckets: map[float64]uint64{0.001: 8, 0.01: 10, 0.1: 10}}
	cur := &totals{at: t0.Add(2 * time.Second), ingest: 300, count: 110, sum: 0.010 + 100*0.002, buckets: map[float64]uint64{0.001: 8, 0.01: 108, 0.1: 110}}
	p := derive(prev, cur)
	if p.rate != 100 || p.avgMS < 1.99 || p.avgMS > 2.01 || p.p99MS != 100 {
		t.Fatalf("point %+v, want rate 100, mean 2 ms, p99 100 ms", p)
	}
	restarted := &totals{at: t0.Add(4 * time.Second), ingest: 50, count: 110, sum: cur.sum, buckets: cur.buckets}
	if p := derive(cur, restarted); p.rate != 25 || p.avgMS != 0 {
		t.Fatalf("after a restart: %+v", p)
	}
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: ingestMetric, Help: "x"}, []string{"stream"})
	lag := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: lagEvMetric, Help: "x"}, []string{"view"})
	reg.MustRegister(c, lag)
	s := newSampler(reg, 3)
	for i := range 6 {
		c.WithLabelValues("a").Add(10)
		lag.WithLabelValues("v").Set(float64(i))
		s.sample(t0.Add(time.Duration(i) * time.Second))
	}
	se, lags := s.series()
	if len(se.At) != 3 || se.EventsPerSec[2] != 10 || lags["v"].Events != 5 {
		t.Fatalf("series %+v lags %v", se, lags)
	}
}
