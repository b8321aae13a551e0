package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHealth checks cairn_cluster.health and GET /api/v1/health on a
// three-node cluster: every node reports real measurements and scores
// between 1 and 100; a killed node turns dead with score 0, and the
// cluster keeps quorum (cairn_cluster.quorum) with two of three voters.
func TestHealth(t *testing.T) {
	c := startOpsCluster(t, 3)
	c.must("ALTER SYSTEM SET dead_after = '2s'")
	c.must("CREATE STREAM hs (x int8) WITH (shards = 1, replicas = 3)")
	waitUntil(t, 20*time.Second, func() (bool, string) {
		out, err := c.query("SELECT node, state, score, disk_used_pct > 0, heartbeat_rtt_ms IS NOT NULL, cpu_pct IS NOT NULL FROM cairn_cluster.health ORDER BY node")
		ok := err == nil && strings.Count(out, "|live|") == 3 && strings.Count(out, "|t|t|t") == 3
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
		if r.Score == nil || *r.Score <= 0 || r.State != "live" || r.NodeID == 0 || r.Disk <= 0 {
			t.Fatalf("GET /api/v1/health row %+v; body %s", r, body)
		}
	}

	c.kill("n3")
	c.waitState("n3", "dead", 20*time.Second)
	waitUntil(t, 10*time.Second, func() (bool, string) {
		out, err := c.query("SELECT score FROM cairn_cluster.health WHERE node = 'n3'")
		return err == nil && out == "0", "n3's score: " + out + errString(err)
	})
	out := c.must("SELECT object, voters, live_voters, has_quorum FROM cairn_cluster.quorum WHERE object IN ('cluster', 'stream hs/0')")
	if out != "cluster|2|2|t\nstream hs/0|3|2|t" {
		t.Fatalf("cairn_cluster.quorum with n3 dead:\n%s", out)
	}
}

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
