package alert

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
)

func TestNewCondition(t *testing.T) {
	for _, tc := range []struct{ metric, op, value, kind, want string }{
		{"node.state", "=", "dead", ValueString, "node.state = 'dead'"},
		{"NODE.STATE", "=", "Suspect", ValueString, "node.state = 'suspect'"},
		{"cluster.has_quorum", "=", "false", ValueBool, "cluster.has_quorum = false"},
		{"replication.lag_ms", ">", "5000.0", ValueNumber, "replication.lag_ms > 5000"},
		{"node.health_score", "<", "40", ValueNumber, "node.health_score < 40"},
		{"disk.used_pct", ">", "90.5", ValueNumber, "disk.used_pct > 90.5"},
		{"cert.expires_in", "<", "7 days", ValueInterval, "cert.expires_in < interval '7 days'"},
	} {
		a, err := NewCondition(tc.metric, tc.op, tc.value, tc.kind)
		if err != nil || a.Condition != tc.want {
			t.Errorf("NewCondition(%s %s %s) = %v, %v; want %s", tc.metric, tc.op, tc.value, a, err, tc.want)
		}
	}
	for _, tc := range []struct{ metric, op, value, kind, code string }{
		{"node.cpu", ">", "90", ValueNumber, "42601"},
		{"node.state", "=", "asleep", ValueString, "22023"},
		{"node.state", "<>", "dead", ValueString, "22023"},
		{"cluster.has_quorum", "=", "true", ValueBool, "22023"},
		{"replication.lag_ms", ">", "-1", ValueNumber, "22023"},
		{"replication.lag_ms", ">", "5s", ValueString, "22023"},
		{"disk.used_pct", ">", "101", ValueNumber, "22023"},
		{"cert.expires_in", "<", "-1 day", ValueInterval, "22023"},
		{"cert.expires_in", "<", "7", ValueNumber, "22023"},
	} {
		if _, err := NewCondition(tc.metric, tc.op, tc.value, tc.kind); err == nil || err.Code != tc.code {
			t.Errorf("NewCondition(%s %s %s): %v, want SQLSTATE %s", tc.metric, tc.op, tc.value, err, tc.code)
		}
	}
	for target, ok := range map[string]bool{
		"webhook:http://127.0.0.1:9000/hook": true, "webhook:https://hooks.example.com/x?token=1": true,
		"http://127.0.0.1/": false, "webhook:ftp://h/": false, "webhook:http://": false, "webhook:": false, "": false,
	} {
		if err := CheckTarget(target); (err == nil) != ok {
			t.Errorf("CheckTarget(%q) = %v, want ok=%v", target, err, ok)
		}
	}
}

func TestEvaluate(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	f := Facts{Now: now,
		Nodes: []NodeFacts{
			{Name: "n1", State: "live", Score: 95, DiskUsedPct: 50, CertExpiresAt: now.Add(30 * 24 * time.Hour).Unix()},
			{Name: "n2", State: "dead", Score: 0, DiskUsedPct: -1, CertExpiresAt: now.Add(2 * 24 * time.Hour).Unix()},
			{Name: "n3", State: "unknown", Score: -1, DiskUsedPct: 97},
		},
		Groups: []GroupFacts{{ID: 1, Label: "meta", Voters: 3, Live: 2, HasQuorum: true}, {ID: 7, Label: "stream s/0", Voters: 3, Live: 1, LagMs: 9000}},
	}
	cond := func(metric, op, value, kind string) *catalog.Alert {
		a, err := NewCondition(metric, op, value, kind)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, tc := range []struct {
		a    *catalog.Alert
		want map[string]Observation
	}{
		{cond("node.state", "=", "dead", ValueString), map[string]Observation{
			"node:n1": {false, "live"}, "node:n2": {true, "dead"}}}, // unknown: no word
		{cond("node.state", "=", "suspect", ValueString), map[string]Observation{
			"node:n1": {false, "live"}, "node:n2": {true, "dead"}}}, // suspect or worse
		{cond("node.health_score", "<", "50", ValueNumber), map[string]Observation{
			"node:n1": {false, "95"}, "node:n2": {true, "0"}}},
		{cond("disk.used_pct", ">", "90", ValueNumber), map[string]Observation{
			"node:n1": {false, "50.0"}, "node:n3": {true, "97.0"}}},
		{cond("replication.lag_ms", ">", "5000", ValueNumber), map[string]Observation{
			"group:1": {false, "0"}, "group:7": {true, "9000"}}},
		{cond("cluster.has_quorum", "=", "false", ValueBool), map[string]Observation{
			"cluster": {true, "false: no live majority in group 7 (stream s/0: 1 of 3 voters live)"}}},
		{cond("cert.expires_in", "<", "7 days", ValueInterval), map[string]Observation{
			"node:n1": {false, "720h0m0s"}, "node:n2": {true, "48h0m0s"}}},
	} {
		got := Evaluate(tc.a, f)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v, want %v", tc.a.Condition, got, tc.want)
			continue
		}
		for k, w := range tc.want {
			if got[k] != w {
				t.Errorf("%s: %s = %+v, want %+v", tc.a.Condition, k, got[k], w)
			}
		}
	}
}

// fakeEnv is a node for the evaluator: a catalog the proposals apply to.
type fakeEnv struct {
	mu     sync.Mutex
	cat    *catalog.Catalog
	facts  Facts
	leader bool
}

func (e *fakeEnv) Catalog() *catalog.Catalog { e.mu.Lock(); defer e.mu.Unlock(); return e.cat }
func (e *fakeEnv) IsEvaluator() bool         { e.mu.Lock(); defer e.mu.Unlock(); return e.leader }
func (e *fakeEnv) Facts() Facts              { e.mu.Lock(); defer e.mu.Unlock(); return e.facts }
func (e *fakeEnv) Propose(_ context.Context, c catalog.Command) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	next, res := catalog.Apply(e.cat, c)
	if res.Err != nil {
		return res.Err
	}
	e.cat = next
	return nil
}

func (e *fakeEnv) set(fn func()) { e.mu.Lock(); defer e.mu.Unlock(); fn() }

// receiver answers 500 to the first fail requests.
type receiver struct {
	mu   sync.Mutex
	fail int
	got  []Notification
	code []int
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	var n Notification
	_ = json.Unmarshal(b, &n)
	r.mu.Lock()
	defer r.mu.Unlock()
	code := 200
	if len(r.got) < r.fail {
		code = 500
	}
	if req.Header.Get("Idempotency-Key") != n.ID {
		code = 400
	}
	r.got, r.code = append(r.got, n), append(r.code, code)
	w.WriteHeader(code)
}

func (r *receiver) calls() ([]Notification, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Notification(nil), r.got...), append([]int(nil), r.code...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEvaluator: a node dies → a firing transition is recorded and
// delivered through two refused attempts with one id; it comes back →
// resolved; a new evaluator (after failover) delivers a transition the
// old one recorded but never sent.
func TestEvaluator(t *testing.T) {
	rcv := &receiver{fail: 2}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	a, _ := NewCondition("node.state", "=", "dead", ValueString)
	a.Name, a.Target = "down", "webhook:"+srv.URL+"/hook"
	cat, res := catalog.Apply(catalog.New(), &catalog.CreateAlert{Alert: a})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	now := time.Unix(2_000_000, 0)
	env := &fakeEnv{cat: cat, leader: true, facts: Facts{Now: now, Nodes: []NodeFacts{{Name: "n1", State: "live"}, {Name: "n2", State: "live"}}}}
	retry := Retry{Attempts: 5, First: time.Millisecond, Max: 4 * time.Millisecond, Timeout: time.Second}
	ev := NewEvaluator(context.Background(), env, srv.Client(), retry, nil)
	ev.Round()
	if got, _ := rcv.calls(); len(got) != 0 || len(env.Catalog().Alerts["down"].Subjects) != 0 {
		t.Fatalf("all live: calls %v, subjects %v", got, env.Catalog().Alerts["down"].Subjects)
	}

	env.set(func() { env.facts.Nodes[1].State = "dead" })
	subj := func() *catalog.AlertSubject { return env.Catalog().Alerts["down"].Subjects["node:n2"] }
	ev.Round()
	waitFor(t, "the firing delivery", func() bool { s := subj(); return s != nil && s.DeliveredSeq == 1 })
	got, codes := rcv.calls()
	if len(got) != 3 || codes[0] != 500 || codes[1] != 500 || codes[2] != 200 {
		t.Fatalf("calls %v codes %v: want two refusals, then the delivery", got, codes)
	}
	for _, n := range got {
		if n.ID != got[0].ID || n.State != "firing" || n.Subject["node"] != "n2" || n.Value != "dead" || n.Alert != "down" {
			t.Fatalf("call %+v: want every attempt the same firing notification", n)
		}
	}
	if s := subj(); !s.Firing || s.Attempts != 3 || s.LastResult != "delivered" || len(s.Pending) != 0 {
		t.Fatalf("subject %+v", s)
	}
	ev.Round() // still dead: nothing new
	time.Sleep(20 * time.Millisecond)
	if got, _ := rcv.calls(); len(got) != 3 {
		t.Fatalf("a steady state sent again: %v", got)
	}

	// Failover: the old evaluator records the resolution but loses the
	// leadership before delivering; the new one delivers it.
	env.set(func() { env.facts.Nodes[1].State = "live" })
	oldEnv := &noDeliverEnv{fakeEnv: env, sent: make(chan struct{})}
	old := NewEvaluator(context.Background(), oldEnv, srv.Client(), retry, nil)
	old.Round()
	select {
	case <-oldEnv.sent:
	case <-time.After(5 * time.Second):
		t.Fatal("the old evaluator did not try to deliver")
	}
	if s := subj(); s.Firing || len(s.Pending) != 1 {
		t.Fatalf("after the old evaluator's round: %+v", s)
	}
	ev.Round()
	waitFor(t, "the resolved delivery", func() bool { return subj().DeliveredSeq == 2 })
	// The old evaluator sent it too before it could record that: the
	// receiver got it twice, with one id.
	got, _ = rcv.calls()
	id := NotificationID(env.Catalog().Alerts["down"].ID, "node:n2", 2)
	resolved := 0
	for _, n := range got[3:] {
		if n.State != "resolved" || n.ID != id {
			t.Fatalf("notification %+v, want the resolution %s", n, id)
		}
		resolved++
	}
	if resolved != 2 {
		t.Fatalf("%d resolved deliveries, want 2 (the old evaluator's and the new one's)", resolved)
	}

	// A receiver that never accepts: given up after Attempts, recorded.
	rcv.mu.Lock()
	rcv.fail = 1 << 30
	rcv.mu.Unlock()
	env.set(func() { env.facts.Nodes[0].State = "dead" })
	ev.Round()
	s1 := func() *catalog.AlertSubject { return env.Catalog().Alerts["down"].Subjects["node:n1"] }
	waitFor(t, "giving up", func() bool { s := s1(); return s != nil && len(s.Pending) == 0 })
	if s := s1(); s.Attempts != 5 || !strings.HasPrefix(s.LastResult, "gave up after 5 attempts") || s.DeliveredSeq != 1 {
		t.Fatalf("after giving up: %+v", s)
	}

	// Not the evaluator: no transitions.
	env.set(func() { env.leader = false; env.facts.Nodes[0].State = "live" })
	ev.Round()
	if s := s1(); !s.Firing {
		t.Fatalf("a node that does not lead the meta group recorded a transition: %+v", s)
	}
}

// noDeliverEnv records transitions but is no longer the evaluator by the
// time deliveries start (it loses leadership mid-round).
type noDeliverEnv struct {
	*fakeEnv
	sent chan struct{} // closed at its first delivery's record
	once sync.Once
}

func (e *noDeliverEnv) Propose(ctx context.Context, c catalog.Command) error {
	if _, ok := c.(*catalog.AlertDelivery); ok {
		e.once.Do(func() { close(e.sent) })
		return context.Canceled
	}
	return e.fakeEnv.Propose(ctx, c)
}
