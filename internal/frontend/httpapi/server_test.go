package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/types"
)

// fakeBackend records inserts; its readiness and insert error are settable.
type fakeBackend struct {
	mu struct {
		sync.Mutex
		notReady  error
		insertErr error
		inserts   []*types.Batch
		calls     int
		audit     []AuditEvent
		pwChecks  int // PasswordMatches calls
	}
	streams map[string][]Column
	// users maps a login role to its SCRAM verifier; admins and inserters
	// (user/stream) hold privileges. Set before the server runs.
	users      map[string]string
	validUntil map[string]time.Time
	admins     map[string]bool
	inserters  map[string]bool
}

func newFake() *fakeBackend {
	return &fakeBackend{streams: map[string][]Column{
		"events": {
			{"ts", types.TimestampTZ}, {"device_id", types.Int4},
			{"region", types.Text}, {"value", types.Float8},
		},
		"misc": {
			{"b", types.Bool}, {"s", types.Int2}, {"l", types.Int8}, {"r", types.Float4},
		},
	}}
}

func (f *fakeBackend) NodeID() string { return "n1" }

func (f *fakeBackend) Ready() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.notReady
}

func (f *fakeBackend) StreamColumns(name string) ([]Column, error) {
	cols, ok := f.streams[name]
	if !ok {
		return nil, pgerr.UndefinedTableErr("stream", name)
	}
	return cols, nil
}

func (f *fakeBackend) Insert(ctx context.Context, stream string, b *types.Batch) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.calls++
	if f.mu.insertErr != nil {
		return 0, f.mu.insertErr
	}
	f.mu.inserts = append(f.mu.inserts, b)
	return b.N, nil
}

// LoginRole knows cairn (no password), the users of f.users, and
// "nologin" (a role that may not log in).
func (f *fakeBackend) LoginRole(name string) (LoginRole, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch name {
	case "cairn":
		return LoginRole{Login: true}, true
	case "nologin":
		return LoginRole{Login: false, Verifier: f.users["alice"]}, true
	}
	v, ok := f.users[name]
	return LoginRole{Login: ok, Verifier: v, ValidUntil: f.validUntil[name]}, ok
}

// Authorize grants everything to cairn and to members of f.admins, and
// INSERT on a stream to the users in f.inserters.
func (f *fakeBackend) Authorize(user string, priv Privilege, obj Object) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if user == "cairn" || f.admins[user] || (priv == PrivInsert && f.inserters[user+"/"+obj.Name]) {
		return nil
	}
	if priv == PrivAdmin {
		return pgerr.PermissionDeniedAdmin.New(obj.Name, user)
	}
	return pgerr.New(pgerr.InsufficientPrivilege, "permission denied for %s %s", obj.Kind, obj.Name)
}

func (f *fakeBackend) PasswordMatches(verifier, password string) bool {
	f.mu.Lock()
	f.mu.pwChecks++
	f.mu.Unlock()
	if verifier == "" {
		return false
	}
	v, err := security.ParseVerifier(verifier)
	return err == nil && v.CheckPassword(password)
}

func (f *fakeBackend) Audit(_ context.Context, ev AuditEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.audit = append(f.mu.audit, ev)
}

func (f *fakeBackend) audits() []AuditEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]AuditEvent(nil), f.mu.audit...)
}

// loopbackRequest is a request from a loopback client to 127.0.0.1:8480.
func loopbackRequest(method, path string, body io.Reader) *http.Request {
	req := httptest.NewRequest(method, path, body)
	req.RemoteAddr = "127.0.0.1:40000"
	req.Host = "127.0.0.1:8480"
	return req
}

func (f *fakeBackend) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mu.calls
}

type reply struct {
	status int
	body   map[string]any
	header http.Header
}

func do(t *testing.T, s *Server, method, path, body string) reply {
	t.Helper()
	rec := httptest.NewRecorder()
	req := loopbackRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-ndjson")
	s.Handler().ServeHTTP(rec, req)
	r := reply{status: rec.Code, header: rec.Header(), body: map[string]any{}}
	if err := json.Unmarshal(rec.Body.Bytes(), &r.body); err != nil && method != "GET" {
		t.Fatalf("%s %s: reply is not JSON: %q", method, path, rec.Body.String())
	}
	return r
}

func TestIngestGood(t *testing.T) {
	f := newFake()
	s := New(Config{TrustLoopback: true}, f)
	body := `{"ts": 1700000000.5, "device_id": 42, "region": "eu", "value": 1.5}

{"device_id":7,"region":"us\u00e9\n","value":-2e3, "ts": "2026-01-02T03:04:05.5+02:00"}
  {"value": null, "region": "x\"y", "device_id": 5.0}
{}
`
	r := do(t, s, "POST", "/v1/streams/events/events", body)
	if r.status != 200 || r.body["accepted"] != float64(4) {
		t.Fatalf("got %d %v", r.status, r.body)
	}
	if f.calls() != 1 {
		t.Fatalf("Insert called %d times, want 1", f.calls())
	}
	b := f.mu.inserts[0]
	var got []string
	for i := 0; i < b.N; i++ {
		var row []string
		for c := range b.Cols {
			d := b.Cols[c].Datum(i)
			switch {
			case d.Null:
				row = append(row, "NULL")
			case d.T == types.Text:
				row = append(row, fmt.Sprintf("%q", d.S))
			case d.T.IsFloat():
				row = append(row, fmt.Sprint(d.F))
			default:
				row = append(row, fmt.Sprint(d.I))
			}
		}
		got = append(got, strings.Join(row, " "))
	}
	want := []string{
		`1700000000500000 42 "eu" 1.5`,
		`1767315845500000 7 "usé\n" -2000`,
		`NULL 5 "x\"y" NULL`,
		`NULL NULL NULL NULL`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestIngestTypes(t *testing.T) {
	f := newFake()
	s := New(Config{TrustLoopback: true}, f)
	r := do(t, s, "POST", "/v1/streams/misc/events",
		`{"b": true, "s": -32768, "l": -9223372036854775808, "r": 0.25}`+"\n"+
			`{"b": false, "s": "12", "l": "9223372036854775807", "r": "1e3"}`)
	if r.status != 200 {
		t.Fatalf("got %d %v", r.status, r.body)
	}
	b := f.mu.inserts[0]
	if b.Cols[0].I[0] != 1 || b.Cols[0].I[1] != 0 || b.Cols[1].I[0] != -32768 || b.Cols[1].I[1] != 12 ||
		b.Cols[2].I[0] != -1<<63 || b.Cols[2].I[1] != 1<<63-1 || b.Cols[3].F[0] != 0.25 || b.Cols[3].F[1] != 1000 {
		t.Errorf("decoded %+v", b.Cols)
	}
}

func TestIngestBadLine(t *testing.T) {
	cases := []struct {
		stream, body string
		line         int
		code, msg    string
	}{
		{"events", `{"value": 1}` + "\n\n" + `{"value": "abc"}`, 3, pgerr.InvalidTextRep,
			`line 3: column "value": invalid input syntax for type double precision: "abc"`},
		{"events", `{"value": 1}` + "\n" + `{"nope": 1}`, 2, pgerr.UndefinedColumn,
			`line 2: column "nope" of stream "events" does not exist`},
		{"events", `{"value": 1, "value": 2}`, 1, pgerr.DuplicateColumn,
			`line 1: column "value" specified more than once`},
		{"events", `{"device_id": 3000000000}`, 1, pgerr.NumericOutOfRange,
			`line 1: column "device_id": value "3000000000" is out of range for type integer`},
		{"events", `{"device_id": 1.5}`, 1, pgerr.InvalidTextRep,
			`line 1: column "device_id": invalid input syntax for type integer: "1.5"`},
		{"misc", `{"s": 40000}`, 1, pgerr.NumericOutOfRange,
			`line 1: column "s": value "40000" is out of range for type smallint`},
		{"events", `[1,2]`, 1, pgerr.InvalidTextRep, `line 1: expected a JSON object, found '['`},
		{"events", `{"value": 1`, 1, pgerr.InvalidTextRep, `line 1: invalid JSON: expected ',' or '}' at byte 12, found end of line`},
		{"events", `{"value": 1} x`, 1, pgerr.InvalidTextRep, `line 1: invalid JSON: unexpected 'x' after the object (one object per line)`},
		{"events", `{"value": 01}`, 1, pgerr.InvalidTextRep, `line 1: column "value": invalid JSON number "01"`},
		{"events", `{"value": 12abc}`, 1, pgerr.InvalidTextRep, `line 1: column "value": invalid JSON number "12abc"`},
		{"events", `{"region": {"a": 1}}`, 1, pgerr.DatatypeMismatch, `line 1: column "region": nested JSON objects and arrays are not supported; send a text`},
		{"events", `{"region": "a\u0000"}`, 1, pgerr.CharacterNotInRepertoire, `line 1: column "region": invalid byte sequence for encoding "UTF8": 0x00`},
		{"events", "{\"region\": \"a\xff\"}", 1, pgerr.CharacterNotInRepertoire, `line 1: column "region": invalid byte sequence for encoding "UTF8": 0xff`},
		{"events", `{"ts": "yesterday-ish"}`, 1, pgerr.InvalidDatetimeFormat,
			`line 1: column "ts": invalid input syntax for type timestamp with time zone: "yesterday-ish"`},
		{"events", `{"region": "abc}`, 1, pgerr.InvalidTextRep, `line 1: invalid JSON: unterminated string`},
		{"events", `{"region": tru}`, 1, pgerr.InvalidTextRep, `line 1: column "region": invalid JSON: unexpected 't'`},
		{"events", `{"device_id": true}`, 1, pgerr.InvalidTextRep, `line 1: column "device_id": invalid input syntax for type integer: "true"`},
	}
	for _, tc := range cases {
		f := newFake()
		s := New(Config{TrustLoopback: true}, f)
		r := do(t, s, "POST", "/v1/streams/"+tc.stream+"/events", tc.body)
		if r.status != 400 || r.body["code"] != tc.code || r.body["error"] != tc.msg || r.body["line"] != float64(tc.line) {
			t.Errorf("body %q:\n got %d %v\nwant 400 %s line %d %q", tc.body, r.status, r.body, tc.code, tc.line, tc.msg)
		}
		if f.calls() != 0 {
			t.Errorf("body %q: Insert called despite a bad line", tc.body)
		}
	}
}

func TestIngestUnknownStream(t *testing.T) {
	f := newFake()
	r := do(t, New(Config{TrustLoopback: true}, f), "POST", "/v1/streams/evnts/events", `{"value": 1}`)
	if r.status != 404 || r.body["code"] != pgerr.UndefinedTable || r.body["error"] != `stream "evnts" does not exist` {
		t.Errorf("got %d %v", r.status, r.body)
	}
}

func TestIngestBodyLimit(t *testing.T) {
	f := newFake()
	s := New(Config{TrustLoopback: true, MaxBodyBytes: 1000}, f)
	body := strings.Repeat(`{"value": 1.25, "device_id": 1}`+"\n", 100)
	// Declared length over the limit: refused before reading.
	r := do(t, s, "POST", "/v1/streams/events/events", body)
	if r.status != 413 || r.body["code"] != pgerr.ProgramLimitExceeded {
		t.Errorf("got %d %v", r.status, r.body)
	}
	// Chunked body (length unknown) that runs over: refused while reading.
	rec := httptest.NewRecorder()
	req := loopbackRequest("POST", "/v1/streams/events/events", io.MultiReader(strings.NewReader(body)))
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.ContentLength = -1
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 413 || !strings.Contains(rec.Body.String(), "exceeds the limit of 1000 bytes") {
		t.Errorf("chunked: got %d %s", rec.Code, rec.Body.String())
	}
	if f.calls() != 0 {
		t.Errorf("Insert called for an oversized body")
	}
}

// A line longer than the reader's buffer is reassembled, not split.
func TestIngestLongLine(t *testing.T) {
	f := newFake()
	s := New(Config{TrustLoopback: true}, f)
	long := strings.Repeat("x", 200<<10)
	r := do(t, s, "POST", "/v1/streams/events/events", `{"region": "`+long+`"}`+"\n"+`{"region": "y"}`)
	if r.status != 200 || r.body["accepted"] != float64(2) {
		t.Fatalf("got %d %v", r.status, r.body)
	}
	b := f.mu.inserts[0]
	if string(b.Cols[2].StrBytes(0)) != long || string(b.Cols[2].StrBytes(1)) != "y" {
		t.Errorf("long line mangled")
	}
}

func TestIngestBackendErrors(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{pgerr.New(pgerr.CannotConnectNow, "no quorum for shard 3"), 503, pgerr.CannotConnectNow},
		{pgerr.New(pgerr.NotNullViolation, "null value"), 400, pgerr.NotNullViolation},
		{errors.New("disk on fire"), 500, pgerr.InternalError},
	} {
		f := newFake()
		f.mu.insertErr = tc.err
		quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
		r := do(t, New(Config{TrustLoopback: true, Logger: quiet}, f), "POST", "/v1/streams/events/events", `{"value": 1}`)
		if r.status != tc.status || r.body["code"] != tc.code || r.body["error"] != tc.err.Error() {
			t.Errorf("%v: got %d %v", tc.err, r.status, r.body)
		}
		if tc.status == 503 && r.header.Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
	}
}

func TestEmptyBody(t *testing.T) {
	f := newFake()
	r := do(t, New(Config{TrustLoopback: true}, f), "POST", "/v1/streams/events/events", "\n\n")
	if r.status != 200 || r.body["accepted"] != float64(0) || f.calls() != 0 {
		t.Errorf("got %d %v, %d calls", r.status, r.body, f.calls())
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	f := newFake()
	m := metrics.New()
	m.Ingested("events", 3)
	s := New(Config{TrustLoopback: true, Metrics: m.Handler()}, f)

	r := do(t, s, "GET", "/health", "")
	if r.status != 200 || r.body["status"] != "ok" || r.body["node_id"] != "n1" {
		t.Errorf("health: %d %v", r.status, r.body)
	}
	if r := do(t, s, "GET", "/ready", ""); r.status != 200 {
		t.Errorf("ready: %d %v", r.status, r.body)
	}
	f.mu.Lock()
	f.mu.notReady = errors.New("meta group has no leader")
	f.mu.Unlock()
	if r := do(t, s, "GET", "/ready", ""); r.status != 503 || r.body["reason"] != "meta group has no leader" {
		t.Errorf("not ready: %d %v", r.status, r.body)
	}
	f.mu.Lock()
	f.mu.notReady = nil
	f.mu.Unlock()
	if r := do(t, s, "GET", "/ready", ""); r.status != 200 {
		t.Errorf("ready again: %d %v", r.status, r.body)
	}

	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, loopbackRequest("GET", "/metrics", nil))
	out := rec.Body.String()
	for _, name := range []string{"cairn_raft_proposals_total", "cairn_raft_commit_latency_seconds",
		"cairn_fsync_latency_seconds", `cairn_events_ingested_total{stream="events"} 3`, "go_goroutines"} {
		if !strings.Contains(out, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	// Wrong method on a known route.
	if r := do(t, s, "GET", "/v1/streams/events/events", ""); r.status != 405 {
		t.Errorf("GET ingest: %d", r.status)
	}
}

// The server really serves on a listener and stops cleanly.
func TestServeShutdown(t *testing.T) {
	f := newFake()
	s := New(Config{TrustLoopback: true}, f)
	s.Handle("GET /v1/extra", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "extra") }))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	resp, err := http.Post(base+"/v1/streams/events/events", "application/x-ndjson", bytes.NewBufferString(`{"value": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"accepted":1}` {
		t.Errorf("POST: %d %s", resp.StatusCode, b)
	}
	resp, err = http.Get(base + "/v1/extra")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "extra" {
		t.Errorf("extra route: %q", b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after Shutdown")
	}
}
