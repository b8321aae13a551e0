package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// hookReceiver is a local webhook receiver that answers 500 to the first
// failFirst requests and records every body.
type hookReceiver struct {
	mu        sync.Mutex
	failFirst int
	got       []hookCall
	srv       *httptest.Server
}

type hookCall struct {
	at     time.Time
	status int
	n      hookNotification
}

type hookNotification struct {
	ID        string         `json:"id"`
	Alert     string         `json:"alert"`
	Condition string         `json:"condition"`
	State     string         `json:"state"`
	Subject   map[string]any `json:"subject"`
	Value     string         `json:"value"`
	At        time.Time      `json:"at"`
}

func newHookReceiver(t *testing.T, failFirst int) *hookReceiver {
	h := &hookReceiver{failFirst: failFirst}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n hookNotification
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &n); err != nil || r.Method != http.MethodPost {
			t.Errorf("webhook got %s %s", r.Method, b)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		status := http.StatusOK
		if len(h.got) < h.failFirst {
			status = http.StatusInternalServerError
		}
		h.got = append(h.got, hookCall{at: time.Now(), status: status, n: n})
		w.WriteHeader(status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// delivered returns the notifications answered 200 with state and node.
func (h *hookReceiver) delivered(state, node string) []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hookCall
	for _, c := range h.got {
		if c.status == http.StatusOK && c.n.State == state && c.n.Subject["node"] == node {
			out = append(out, c)
		}
	}
	return out
}

func (h *hookReceiver) all() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.got...)
}

// TestAlerts: three nodes, their health (cairn_cluster.health, GET
// /api/v1/health, checkHealth), and a local webhook receiver that fails the
// first two requests (500). CREATE ALERT down WHEN node.state = 'dead';
// SIGKILL a node that does not lead the meta group: a firing notification
// for it reaches the receiver within 5 s of the kill despite the failures
// (retries), every attempt of it carries the same id, and SHOW ALERTS
// shows it firing with the delivery's result; restart the node: a
// resolved notification (another id) arrives and SHOW ALERTS shows ok.
// Then the meta leader, which evaluates the alerts, is killed: the new
// leader's evaluator reports it.
func TestAlerts(t *testing.T) {
	c := startOpsCluster(t, 3)
	hook := newHookReceiver(t, 2)
	c.must("ALTER SYSTEM SET suspect_after = '1s'; ALTER SYSTEM SET dead_after = '2s'; ALTER SYSTEM SET auto_failover = off")
	c.must("CREATE STREAM hs (x int8) WITH (shards = 1, replicas = 3)")
	checkHealth(t, c)
	c.must("CREATE ALERT down WHEN node.state = 'dead' NOTIFY 'webhook:" + hook.srv.URL + "/hook'")
	if out := c.must("SELECT name, state, subject FROM cairn_cluster.alerts"); out != "down|ok|" {
		t.Fatalf("SHOW ALERTS before any death: %s", out)
	}
	metaLeader := c.must("SELECT node_id FROM cairn_cluster.shards WHERE group_id = 1 AND role = 'leader'")
	victim := "n3"
	if metaLeader == victim {
		victim = "n2"
	}
	c.kill(victim)
	killed := time.Now()
	waitUntil(t, 20*time.Second, func() (bool, string) {
		return len(hook.delivered("firing", victim)) > 0, fmt.Sprintf("webhook calls: %+v", hook.all())
	})
	calls := hook.all()
	first, delivered := calls[0].at.Sub(killed), hook.delivered("firing", victim)[0].at.Sub(killed)
	t.Logf("%s killed: first webhook attempt after %s, delivered (after %d failed attempts) after %s",
		victim, first.Round(10*time.Millisecond), 2, delivered.Round(10*time.Millisecond))
	if delivered > 5*time.Second {
		t.Errorf("the firing notification arrived %s after the kill, want within 5s", delivered.Round(10*time.Millisecond))
	}
	// Every attempt is the same notification: same id, alert, subject.
	id := calls[0].n.ID
	for _, call := range calls {
		if call.n.ID != id || call.n.State != "firing" || call.n.Alert != "down" || call.n.Subject["node"] != victim ||
			call.n.Condition != "node.state = 'dead'" || call.n.Value != "dead" {
			t.Fatalf("webhook call %+v, want the firing notification %s for %s", call.n, id, victim)
		}
	}
	if len(calls) < 3 || calls[0].status != 500 || calls[1].status != 500 {
		t.Fatalf("webhook calls %+v: want two refused attempts, then the delivery", calls)
	}
	waitUntil(t, 10*time.Second, func() (bool, string) {
		out, err := c.query("SELECT state, subject, value, last_delivery, attempts, pending FROM cairn_cluster.alerts")
		return err == nil && out == "firing|node:"+victim+"|dead|delivered|3|0", "SHOW ALERTS: " + out + errString(err)
	})
	// The dead node scores 0; two of three voters keep every quorum.
	if out := c.must("SELECT score FROM cairn_cluster.health WHERE node = '" + victim + "'"); out != "0" {
		t.Fatalf("%s's score while dead: %s", victim, out)
	}
	if out := c.must("SELECT object, voters, live_voters, has_quorum FROM cairn_cluster.quorum WHERE object IN ('cluster', 'stream hs/0')"); out != "cluster|2|2|t\nstream hs/0|3|2|t" {
		t.Fatalf("cairn_cluster.quorum with %s dead:\n%s", victim, out)
	}

	back := time.Now()
	c.restart(victim)
	waitUntil(t, 30*time.Second, func() (bool, string) {
		return len(hook.delivered("resolved", victim)) > 0, fmt.Sprintf("webhook calls: %+v", hook.all())
	})
	res := hook.delivered("resolved", victim)[0]
	t.Logf("%s restarted: resolved notification after %s", victim, res.at.Sub(back).Round(10*time.Millisecond))
	if res.n.ID == id || res.n.Value == "dead" {
		t.Fatalf("resolved notification %+v: want a new id (firing was %s) and the node's new state", res.n, id)
	}
	waitUntil(t, 10*time.Second, func() (bool, string) {
		out, err := c.query("SELECT state, subject, transitions, pending FROM cairn_cluster.alerts")
		return err == nil && out == "ok|node:"+victim+"|2|0", "SHOW ALERTS: " + out + errString(err)
	})
	for _, call := range hook.all() {
		if call.n.Subject["node"] != victim {
			t.Fatalf("a notification for a node that did not die: %+v", call.n)
		}
	}

	// The evaluator itself dies: the meta leader. A new leader evaluates
	// from the catalog and reports the old one dead. First the meta group
	// must have its three voters back (the restarted node may still be a
	// learner), or two nodes would be left without a majority.
	waitUntil(t, 40*time.Second, func() (bool, string) {
		out, err := c.query("SELECT voters, live_voters FROM cairn_cluster.quorum WHERE object = 'meta'")
		return err == nil && out == "3|3", "meta voters|live: " + out + errString(err)
	})
	metaLeader = c.must("SELECT node_id FROM cairn_cluster.shards WHERE group_id = 1 AND role = 'leader'")
	c.kill(metaLeader)
	killed = time.Now()
	waitUntil(t, 30*time.Second, func() (bool, string) {
		return len(hook.delivered("firing", metaLeader)) > 0, fmt.Sprintf("webhook calls: %+v", hook.all())
	})
	t.Logf("the meta leader %s killed: firing notification from the new evaluator after %s", metaLeader,
		hook.delivered("firing", metaLeader)[0].at.Sub(killed).Round(10*time.Millisecond))
	waitUntil(t, 10*time.Second, func() (bool, string) {
		out, err := c.query("SELECT state FROM cairn_cluster.alerts WHERE subject = 'node:" + metaLeader + "'")
		return err == nil && out == "firing", "SHOW ALERTS for " + metaLeader + ": " + out + errString(err)
	})
}

// checkHealth checks cairn_cluster.health and GET /api/v1/health on a
// live three-node cluster: every node reports real measurements and
// scores between 1 and 100.
func checkHealth(t *testing.T, c *opsCluster) {
	t.Helper()
	waitUntil(t, 20*time.Second, func() (bool, string) {
		out, err := c.query("SELECT node, state, score, disk_used_pct > 0, heartbeat_rtt_ms > 0, cpu_pct IS NOT NULL, mem_pct IS NOT NULL FROM cairn_cluster.health ORDER BY node")
		ok := err == nil && strings.Count(out, "|live|") == 3 && strings.Count(out, "|t|t|t|t") == 3
		for _, line := range strings.Split(out, "\n") {
			f := strings.Split(line, "|")
			if len(f) < 3 {
				ok = false
				continue
			}
			s, err := strconv.Atoi(f[2])
			ok = ok && err == nil && s > 0 && s <= 100
		}
		return ok, "health:\n" + out + errString(err)
	})
	// The elections that made the leaders were counted somewhere.
	if out := c.must("SELECT sum(elections) > 0, sum(leader_changes) > 0 FROM cairn_cluster.health"); out != "t|t" {
		t.Fatalf("elections and leader changes counted: %s", out)
	}
	full, _ := c.query("SELECT * FROM cairn_cluster.health ORDER BY node")
	t.Logf("cairn_cluster.health:\n%s", full)

	// The HTTP route: the same rows as JSON objects.
	resp, err := http.Get("http://" + c.p("n1").HTTP + "/api/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var got struct {
		Rows []struct {
			Node   string  `json:"node"`
			NodeID int64   `json:"node_id"`
			State  string  `json:"state"`
			Score  *int64  `json:"score"`
			Disk   float64 `json:"disk_used_pct"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(body, &got); err != nil || len(got.Rows) != 3 {
		t.Fatalf("GET /api/v1/health: %d %s (%v)", resp.StatusCode, body, err)
	}
	for _, r := range got.Rows {
		if r.Score == nil || *r.Score <= 0 || r.State != "live" || r.NodeID == 0 || r.Disk <= 0 || r.Node == "" {
			t.Fatalf("GET /api/v1/health row %+v; body %s", r, body)
		}
	}
}
