package node_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/node"
	"github.com/cairndb/cairn/internal/testutil"
)

// A real node's HTTP API: the checks of httpapi are wired in front of the
// admin routes, ingest and metrics, and a loopback client of an insecure
// node is cairn.
func TestNodeHTTPAuth(t *testing.T) {
	addr := func() string {
		a, err := testutil.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	cfg := node.Config{DataDir: filepath.Join(t.TempDir(), "n1"), PGAddr: addr(), HTTPAddr: addr(), ClusterAddr: addr(),
		NodeID: "n1", NoSync: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		HTTPHosts: []string{"db.example"}, MetricsAuth: true}
	n, err := node.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	base := "http://" + n.HTTPAddr()
	hc := &http.Client{Timeout: 30 * time.Second}
	call := func(method, path, ctype, host, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	const js = "application/json"
	// The attack of the issue: a text/plain post (or one from a page whose
	// name points here) does nothing.
	if code, body := call("POST", "/api/v1/sql", "text/plain", "", `{"sql":"CREATE STREAM s1 (a int)"}`); code != 415 {
		t.Errorf("text/plain: %d %v", code, body)
	}
	if code, body := call("POST", "/api/v1/sql", js, "evil.example:8480", `{"sql":"CREATE STREAM s1 (a int)"}`); code != 421 {
		t.Errorf("foreign Host: %d %v", code, body)
	}
	if code, _ := call("POST", "/v1/streams/s1/events", "application/x-ndjson", "", `{"a": 1}`); code != 404 {
		t.Fatalf("a refused request created the stream (ingest answers %d)", code)
	}
	// JSON from loopback runs as cairn; the configured name works.
	if code, body := call("POST", "/api/v1/sql", js, "db.example", `{"sql":"CREATE STREAM s1 (a int)"}`); code != 200 {
		t.Fatalf("create: %d %v", code, body)
	}
	if code, body := call("POST", "/v1/streams/s1/events", "application/x-ndjson", "", `{"a": 1}`); code != 200 || body["accepted"] != float64(1) {
		t.Errorf("ingest: %d %v", code, body)
	}
	if code, body := call("GET", "/api/v1/nodes", "", "localhost", ""); code != 200 {
		t.Errorf("nodes: %d %v", code, body)
	}
	// A user that does not exist gets the answer a wrong password gets.
	code, body := call("POST", "/api/v1/login", js, "", `{"user":"bob","password":"x"}`)
	if e, _ := body["error"].(map[string]any); code != 401 || e["code"] != "28P01" || e["message"] != `password authentication failed for user "bob"` {
		t.Errorf("login bob: %d %v", code, body)
	}
	// cairn has no password: it logs in by certificate or loopback trust.
	code, body = call("POST", "/api/v1/login", js, "", `{"user":"cairn","password":""}`)
	if e, _ := body["error"].(map[string]any); code != 401 || e["code"] != "28P01" {
		t.Errorf("login cairn: %d %v", code, body)
	}
	// --metrics-auth: loopback trust is authentication enough.
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(p), "cairn_") {
		t.Errorf("metrics: %d", resp.StatusCode)
	}
	if code, _ := call("GET", "/health", "", "evil.example", ""); code != 200 {
		t.Errorf("health: %d", code)
	}
}
