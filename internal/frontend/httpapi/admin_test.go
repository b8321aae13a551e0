package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
)

// fakeRunner records every statement and answers from a table keyed by the
// exact SQL text; statements not in the table get an op result.
type fakeRunner struct {
	mu      sync.Mutex
	got     []string
	results map[string]*SQLResult
	errs    map[string]error
	users   []string // the user of each statement
}

// allowAll grants every privilege.
type allowAll struct{}

func (allowAll) Authorize(string, Privilege, Object) error { return nil }

// asCairn runs h as if Server had authenticated the superuser.
func asCairn(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(withUser(r.Context(), "cairn")))
	})
}

func (f *fakeRunner) RunSQL(_ context.Context, user, sql string) (*SQLResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, sql)
	f.users = append(f.users, user)
	if err := f.errs[sql]; err != nil {
		return nil, err
	}
	if res, ok := f.results[sql]; ok {
		return res, nil
	}
	return &SQLResult{Columns: []string{"op_id", "op_type", "target", "status"},
		Rows: [][]*string{{sp("7"), sp("drain"), sp("n2"), sp("pending")}}, Tag: "ALTER NODE"}, nil
}

func (f *fakeRunner) statements() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func sp(s string) *string { return &s }

// call sends one request to a fresh handler and returns the status, the
// decoded body and the statements the runner saw.
func call(t *testing.T, f *fakeRunner, method, path, body string) (int, map[string]any, []string) {
	t.Helper()
	h := asCairn(NewAdminHandler(f, allowAll{}))
	var req *http.Request
	if body == "" {
		req = httptest.NewRequest(method, path, nil)
	} else {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q, want application/json", method, path, ct)
	}
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: reply is not a JSON object: %v: %q", method, path, err, rec.Body.String())
	}
	return rec.Code, out, f.statements()
}

func TestAdminRoutesSQL(t *testing.T) {
	cases := []struct {
		method, path, body string
		want               []string
	}{
		{"POST", "/api/v1/sql", `{"sql":"SHOW NODES"}`, []string{"SHOW NODES"}},
		{"GET", "/api/v1/nodes", "", []string{"SELECT * FROM cairn_cluster.nodes"}},
		{"POST", "/api/v1/nodes/n2/offline", "", []string{"ALTER NODE 'n2' OFFLINE"}},
		{"POST", "/api/v1/nodes/n2/recover", "", []string{"ALTER NODE 'n2' RECOVER"}},
		{"POST", "/api/v1/nodes/n2/drain", "", []string{"ALTER NODE 'n2' DRAIN"}},
		{"POST", "/api/v1/nodes/n2/decommission", "", []string{"ALTER NODE 'n2' DECOMMISSION"}},
		{"DELETE", "/api/v1/nodes/n2", "", []string{"ALTER NODE 'n2' REMOVE"}},
		// A quote in a name is doubled; a slash arrives path-escaped.
		{"POST", "/api/v1/nodes/it's/drain", "", []string{"ALTER NODE 'it''s' DRAIN"}},
		{"DELETE", "/api/v1/nodes/a%2Fb'%20'c", "", []string{"ALTER NODE 'a/b'' ''c' REMOVE"}},
		{"GET", "/api/v1/shards", "", []string{"SELECT * FROM cairn_cluster.shards"}},
		{"POST", "/api/v1/shards/17/transfer-leader", `{"to":"n3"}`, []string{"ALTER SHARD 17 TRANSFER LEADER TO 'n3'"}},
		{"POST", "/api/v1/shards/17/transfer-leader", `{"to":"o'neil"}`, []string{"ALTER SHARD 17 TRANSFER LEADER TO 'o''neil'"}},
		{"POST", "/api/v1/shards/4/recover-replica", `{"on":"n3"}`, []string{"ALTER SHARD 4 RECOVER REPLICA ON 'n3'"}},
		{"POST", "/api/v1/shards/4/force-recover", `{"confirm_data_loss":false}`, []string{"ALTER SHARD 4 FORCE RECOVER"}},
		{"POST", "/api/v1/shards/4/force-recover", "", []string{"ALTER SHARD 4 FORCE RECOVER"}},
		{"POST", "/api/v1/shards/1/force-recover", `{"confirm_data_loss":true}`, []string{"ALTER SHARD 1 FORCE RECOVER CONFIRM DATA LOSS"}},
		{"GET", "/api/v1/operations", "", []string{"SELECT * FROM cairn_cluster.operations"}},
		{"GET", "/api/v1/operations/12", "", []string{"SELECT * FROM cairn_cluster.operations WHERE op_id = 12"}},
		{"POST", "/api/v1/operations/12/cancel", "", []string{"CANCEL OPERATION 12"}},
		{"GET", "/api/v1/cluster/settings", "", []string{"SELECT * FROM cairn_cluster.settings"}},
		{"POST", "/api/v1/cluster/settings", `{"name":"auto_failover","value":"off"}`, []string{"ALTER SYSTEM SET auto_failover = 'off'"}},
		{"POST", "/api/v1/cluster/settings", `{"name":"auto_failover","value":false}`, []string{"ALTER SYSTEM SET auto_failover = 'false'"}},
		{"POST", "/api/v1/cluster/settings", `{"name":"x","value":"it's"}`, []string{"ALTER SYSTEM SET x = 'it''s'"}},
		{"POST", "/api/v1/cluster/failover", `{"to":"n2"}`, []string{"ALTER SYSTEM FAILOVER TO 'n2'"}},
		{"POST", "/api/v1/cluster/rebalance", "", []string{"ALTER SYSTEM REBALANCE"}},
		{"POST", "/api/v1/cluster/rebalance", "{}", []string{"ALTER SYSTEM REBALANCE"}},
		{"GET", "/api/v1/cluster/status", "", []string{"SELECT * FROM cairn_cluster.nodes",
			"SELECT * FROM cairn_cluster.operations WHERE status IN ('pending','running')"}},
	}
	for _, c := range cases {
		f := &fakeRunner{}
		code, _, got := call(t, f, c.method, c.path, c.body)
		if code != http.StatusOK {
			t.Errorf("%s %s %s: status %d, want 200", c.method, c.path, c.body, code)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s %s %s: SQL %q, want %q", c.method, c.path, c.body, got, c.want)
		}
	}
}

func TestAdminResultPassThrough(t *testing.T) {
	f := &fakeRunner{results: map[string]*SQLResult{
		"SELECT * FROM cairn_cluster.nodes": {
			Columns: []string{"node_id", "state", "last_heartbeat"},
			Rows:    [][]*string{{sp("n1"), sp("live"), nil}},
			Tag:     "SELECT 1",
			Notices: []string{"hello"},
		},
	}}
	code, body, _ := call(t, f, "GET", "/api/v1/nodes", "")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	want := map[string]any{
		"columns": []any{"node_id", "state", "last_heartbeat"},
		"rows":    []any{[]any{"n1", "live", nil}},
		"tag":     "SELECT 1",
		"notices": []any{"hello"},
	}
	if !reflect.DeepEqual(body, want) {
		t.Fatalf("body %#v, want %#v", body, want)
	}

	// A result with no columns and no rows still has [] members.
	f = &fakeRunner{results: map[string]*SQLResult{"ALTER SYSTEM REBALANCE": {Tag: "ALTER SYSTEM"}}}
	_, body, _ = call(t, f, "POST", "/api/v1/cluster/rebalance", "")
	if cols, ok := body["columns"].([]any); !ok || len(cols) != 0 {
		t.Errorf("columns %#v, want []", body["columns"])
	}
	if rows, ok := body["rows"].([]any); !ok || len(rows) != 0 {
		t.Errorf("rows %#v, want []", body["rows"])
	}
}

func TestAdminClusterStatus(t *testing.T) {
	f := &fakeRunner{results: map[string]*SQLResult{
		"SELECT * FROM cairn_cluster.nodes": {Columns: []string{"node_id"}, Rows: [][]*string{{sp("n1")}, {sp("n2")}}},
		"SELECT * FROM cairn_cluster.operations WHERE status IN ('pending','running')": {
			Columns: []string{"op_id", "status"}, Rows: [][]*string{{sp("3"), sp("running")}}},
	}}
	code, body, _ := call(t, f, "GET", "/api/v1/cluster/status", "")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	nodes, _ := body["nodes"].(map[string]any)
	ops, _ := body["operations"].(map[string]any)
	if nodes == nil || len(nodes["rows"].([]any)) != 2 {
		t.Errorf("nodes %#v", body["nodes"])
	}
	if ops == nil || !reflect.DeepEqual(ops["rows"], []any{[]any{"3", "running"}}) {
		t.Errorf("operations %#v", body["operations"])
	}
}

func TestAdminOperationNotFound(t *testing.T) {
	f := &fakeRunner{results: map[string]*SQLResult{
		"SELECT * FROM cairn_cluster.operations WHERE op_id = 99": {Columns: []string{"op_id"}},
	}}
	code, body, _ := call(t, f, "GET", "/api/v1/operations/99", "")
	if code != http.StatusNotFound {
		t.Errorf("status %d, want 404", code)
	}
	e := errorOf(t, body)
	if e["code"] != "42704" || !strings.Contains(e["message"].(string), "operation 99 does not exist") {
		t.Errorf("error %#v", e)
	}
}

// errorOf returns the "error" object of a reply and checks its shape.
func errorOf(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	e, ok := body["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %#v", body)
	}
	if c, _ := e["code"].(string); len(c) != 5 {
		t.Errorf("error code %q is not a SQLSTATE", e["code"])
	}
	if m, _ := e["message"].(string); m == "" {
		t.Errorf("error without a message: %#v", e)
	}
	return e
}

func TestAdminRejectsBadInput(t *testing.T) {
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		// Ids must be positive integers before they reach SQL.
		{"POST", "/api/v1/shards/abc/transfer-leader", `{"to":"n3"}`, 400, "22023"},
		{"POST", "/api/v1/shards/0/transfer-leader", `{"to":"n3"}`, 400, "22023"},
		{"POST", "/api/v1/shards/-3/force-recover", ``, 400, "22023"},
		{"POST", "/api/v1/shards/+3/force-recover", ``, 400, "22023"},
		{"POST", "/api/v1/shards/1;DROP/force-recover", ``, 400, "22023"},
		{"POST", "/api/v1/shards/99999999999999999999/force-recover", ``, 400, "22023"},
		{"GET", "/api/v1/operations/1.5", "", 400, "22023"},
		{"POST", "/api/v1/operations/x/cancel", "", 400, "22023"},
		// Bodies.
		{"POST", "/api/v1/sql", ``, 400, "22023"},
		{"POST", "/api/v1/sql", `{"sql":`, 400, "22023"},
		{"POST", "/api/v1/sql", `{"sql":"  "}`, 400, "42601"},
		{"POST", "/api/v1/sql", `{}`, 400, "42601"},
		{"POST", "/api/v1/sql", `{"sql":1}`, 400, "22023"},
		{"POST", "/api/v1/sql", `{"sql":"SELECT 1"} {}`, 400, "22023"},
		{"POST", "/api/v1/sql", `["SELECT 1"]`, 400, "22023"},
		{"POST", "/api/v1/shards/2/transfer-leader", ``, 400, "22023"},
		{"POST", "/api/v1/shards/2/transfer-leader", `{}`, 400, "22023"},
		{"POST", "/api/v1/shards/2/transfer-leader", `{"too":"n3"}`, 400, "22023"},
		{"POST", "/api/v1/shards/2/transfer-leader", `{"on":"n3"}`, 400, "22023"},
		{"POST", "/api/v1/shards/2/transfer-leader", `{"to":""}`, 400, "22023"},
		{"POST", "/api/v1/shards/2/transfer-leader", `{"to":"a\u0000b"}`, 400, "22023"},
		{"POST", "/api/v1/shards/2/recover-replica", `{"to":"n3"}`, 400, "22023"},
		{"POST", "/api/v1/shards/2/force-recover", `{"confirm_data_loss":"yes"}`, 400, "22023"},
		{"POST", "/api/v1/shards/2/force-recover", `{"confirm":true}`, 400, "22023"},
		{"POST", "/api/v1/cluster/failover", `{"to":5}`, 400, "22023"},
		{"POST", "/api/v1/cluster/rebalance", `{"now":true}`, 400, "22023"},
		// Setting names go into SQL unquoted: only ^[a-z_][a-z0-9_]*$.
		{"POST", "/api/v1/cluster/settings", `{"name":"auto_failover; DROP STREAM s","value":"off"}`, 400, "22023"},
		{"POST", "/api/v1/cluster/settings", `{"name":"Auto","value":"off"}`, 400, "22023"},
		{"POST", "/api/v1/cluster/settings", `{"name":"1x","value":"off"}`, 400, "22023"},
		{"POST", "/api/v1/cluster/settings", `{"name":"","value":"off"}`, 400, "22023"},
		{"POST", "/api/v1/cluster/settings", `{"value":"off"}`, 400, "22023"},
		{"POST", "/api/v1/cluster/settings", `{"name":"x"}`, 400, "22023"},
		{"POST", "/api/v1/cluster/settings", `{"name":"x","value":null}`, 400, "22023"},
		{"POST", "/api/v1/cluster/settings", `{"name":"x","value":{"a":1}}`, 400, "22023"},
		// Routing.
		{"POST", "/api/v1/nodes/n2/online", ``, 404, "42704"},
		{"POST", "/api/v1/shards/2/split", ``, 404, "42704"},
		{"GET", "/api/v1/nope", ``, 404, "42704"},
		{"GET", "/api/v1/sql", ``, 405, "0A000"},
		{"PUT", "/api/v1/nodes/n2", ``, 405, "0A000"},
	}
	for _, c := range cases {
		f := &fakeRunner{}
		code, body, got := call(t, f, c.method, c.path, c.body)
		if code != c.status {
			t.Errorf("%s %s %s: status %d, want %d (%v)", c.method, c.path, c.body, code, c.status, body)
		}
		if e := errorOf(t, body); e["code"] != c.code {
			t.Errorf("%s %s %s: code %v, want %s (%v)", c.method, c.path, c.body, e["code"], c.code, e["message"])
		}
		if len(got) != 0 {
			t.Errorf("%s %s %s: rejected request still ran %q", c.method, c.path, c.body, got)
		}
	}
}

func TestAdminMethodNotAllowedHasAllow(t *testing.T) {
	rec := httptest.NewRecorder()
	asCairn(NewAdminHandler(&fakeRunner{}, allowAll{})).ServeHTTP(rec, httptest.NewRequest("PUT", "/api/v1/nodes/n2", nil))
	if got := rec.Header().Get("Allow"); got != "DELETE" {
		t.Errorf("Allow %q, want DELETE", got)
	}
}

func TestAdminErrorMapping(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{pgerr.New("55000", "node \"n2\" is already draining").WithDetail("d").WithHint("h"), 409, "55000"},
		{pgerr.New("55006", "in use"), 409, "55006"},
		{pgerr.New(pgerr.DuplicateObject, "exists"), 409, "42710"},
		{pgerr.New(pgerr.UndefinedObject, "node \"n9\" does not exist"), 404, "42704"},
		{pgerr.New(pgerr.UndefinedTable, "no table"), 404, "42P01"},
		{pgerr.New(pgerr.SyntaxError, "syntax error at or near \"x\""), 400, "42601"},
		{pgerr.New(pgerr.InvalidParameterValue, "bad"), 400, "22023"},
		{pgerr.New(pgerr.SerializationFailure, "retry"), 503, "40001"},
		{pgerr.New(pgerr.CannotConnectNow, "no quorum"), 503, "57P03"},
		{pgerr.New(pgerr.ConnectionFailure, "lost"), 503, "08006"},
		{pgerr.New(pgerr.InternalError, "boom"), 500, "XX000"},
		{pgerr.New(pgerr.IOError, "disk"), 500, "58030"},
		{errors.New("plain"), 500, "XX000"},
		{&pgerr.Error{Code: "bad", Message: "short code"}, 500, "XX000"},
	}
	for _, c := range cases {
		f := &fakeRunner{errs: map[string]error{"ALTER NODE 'n2' DRAIN": c.err}}
		h := asCairn(NewAdminHandler(f, allowAll{}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "/api/v1/nodes/n2/drain", nil))
		if rec.Code != c.status {
			t.Errorf("%v: status %d, want %d", c.err, rec.Code, c.status)
		}
		var reply AdminErrorReply
		if err := json.Unmarshal(rec.Body.Bytes(), &reply); err != nil {
			t.Fatalf("%v: %v", c.err, err)
		}
		if reply.Error.Code != c.code || reply.Error.Message != c.err.Error() {
			t.Errorf("%v: reply %+v, want code %s", c.err, reply.Error, c.code)
		}
		if (c.status == 503) != (rec.Header().Get("Retry-After") != "") {
			t.Errorf("%v: Retry-After %q with status %d", c.err, rec.Header().Get("Retry-After"), c.status)
		}
	}
	// Detail and hint travel in the reply.
	f := &fakeRunner{errs: map[string]error{"ALTER SYSTEM REBALANCE": pgerr.New("55000", "busy").WithDetail("op 4 runs").WithHint("wait")}}
	_, body, _ := call(t, f, "POST", "/api/v1/cluster/rebalance", "")
	e := errorOf(t, body)
	if e["detail"] != "op 4 runs" || e["hint"] != "wait" {
		t.Errorf("error %#v lacks detail/hint", e)
	}
}

func TestAdminMountedUnderPrefix(t *testing.T) {
	// The node mounts the handler on its own mux at AdminPrefix; routes
	// outside it must stay the node's.
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	f := &fakeRunner{}
	mux.Handle(AdminPrefix, asCairn(NewAdminHandler(f, allowAll{})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/api/v1/nodes/n1/drain", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !reflect.DeepEqual(f.statements(), []string{"ALTER NODE 'n1' DRAIN"}) {
		t.Errorf("status %d, SQL %q", resp.StatusCode, f.statements())
	}
	resp, err = http.Get(srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/health status %d", resp.StatusCode)
	}
}
