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
	// A user that does not exist and a wrong password get one answer.
	for _, login := range []string{`{"user":"bob","password":"x"}`, `{"user":"carl","password":"x"}`} {
		code, body := call("POST", "/api/v1/login", js, "", login)
		if e, _ := body["error"].(map[string]any); code != 401 || e["code"] != "28P01" || !strings.HasPrefix(e["message"].(string), "password authentication failed for user") {
			t.Errorf("login %s: %d %v", login, code, body)
		}
		if login == `{"user":"bob","password":"x"}` {
			// Now make bob, for the rest of the test.
			if code, body := call("POST", "/api/v1/sql", js, "", `{"sql":"CREATE USER bob WITH PASSWORD 'bob-pw'"}`); code != 200 {
				t.Fatalf("create user: %d %v", code, body)
			}
		}
	}
	// bob logs in with the catalog's verifier, and acts as bob.
	code, body := call("POST", "/api/v1/login", js, "", `{"user":"bob","password":"bob-pw"}`)
	tok, _ := body["token"].(string)
	if code != 200 || tok == "" {
		t.Fatalf("login bob: %d %v", code, body)
	}
	asBob := func(method, path, ctype, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
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
	if code, body := asBob("POST", "/api/v1/nodes/n1/drain", js, ""); code != 403 {
		t.Errorf("bob drains: %d %v", code, body)
	}
	if code, body := asBob("POST", "/api/v1/sql", js, `{"sql":"DROP STREAM s1"}`); code != 403 {
		t.Errorf("bob drops a stream he does not own: %d %v", code, body)
	}
	if code, body := asBob("POST", "/v1/streams/s1/events", "application/x-ndjson", `{"a": 2}`); code != 403 || body["code"] != "42501" {
		t.Errorf("bob ingests without INSERT: %d %v", code, body)
	}
	if code, body := call("POST", "/api/v1/sql", js, "", `{"sql":"GRANT INSERT ON s1 TO bob"}`); code != 200 {
		t.Fatalf("grant: %d %v", code, body)
	}
	if code, body := asBob("POST", "/v1/streams/s1/events", "application/x-ndjson", `{"a": 2}`); code != 200 {
		t.Errorf("bob ingests with INSERT: %d %v", code, body)
	}
	if code, body := asBob("GET", "/api/v1/nodes", "", ""); code != 200 {
		t.Errorf("bob lists nodes: %d %v", code, body)
	}
	// The API's changes and failed logins reach cairn_cluster.audit_log
	// (batched: wait for them, boundedly).
	want := []string{
		"login|bob|127.0.0.1|http POST /api/v1/login|28P01 no such role",
		"login|carl|127.0.0.1|http POST /api/v1/login|28P01 no such role",
		"login|bob|127.0.0.1|http POST /api/v1/login|ok",
		"api|bob|127.0.0.1|POST /api/v1/nodes/n1/drain|42501 permission denied: POST /api/v1/nodes/n1/drain needs the admin role",
		"api|bob|127.0.0.1|POST /api/v1/sql|42501 must be owner of stream s1",
	}
	var got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		code, body := call("POST", "/api/v1/sql", js, "", `{"sql":"SELECT kind, user_name, source, what, outcome FROM cairn_cluster.audit_log WHERE kind IN ('api', 'login') AND user_name IN ('bob', 'carl') ORDER BY id"}`)
		if code != 200 {
			t.Fatalf("audit log: %d %v", code, body)
		}
		got = got[:0]
		rows, _ := body["rows"].([]any)
		for _, r := range rows {
			var cells []string
			for _, c := range r.([]any) {
				v, _ := c.(string)
				cells = append(cells, v)
			}
			got = append(got, strings.Join(cells, "|"))
		}
		if len(got) >= len(want) {
			break
		}
	}
	// (Ingest is not audited: it is data, not a change to the cluster.)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
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
