package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRollingRestartBench runs `cairn bench --rolling-restart`: a local
// 3-node cluster under a steady write load whose nodes are drained,
// stopped with SIGTERM and restarted one at a time; the bench reads every
// id back and checks each acknowledged one is in the stream exactly once.
func TestRollingRestartBench(t *testing.T) {
	out := filepath.Join(t.TempDir(), "rolling.json")
	code, log := runCairnTimeout(t, 90*time.Second, "bench", "--rolling-restart", "--nodes", "3", "--clients", "2", "--unsafe-no-fsync", "--out", out)
	if code != 0 || !strings.Contains(log, "result         verified") {
		t.Fatalf("bench --rolling-restart: exit %d\n%s", code, log)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Nodes   int `json:"nodes"`
		PerNode []struct {
			Node           string  `json:"node"`
			DrainMs        float64 `json:"drain_ms"`
			WindowMs       float64 `json:"window_ms"`
			WriteDisturbMs float64 `json:"write_disturbance_ms"`
			BatchesAcked   int64   `json:"batches_acked"`
		} `json:"per_node"`
		EventsAcked     int64 `json:"events_acked"`
		EventsUnknown   int64 `json:"events_unknown"`
		UnknownInStream int64 `json:"unknown_in_stream"`
		StreamRows      int64 `json:"stream_rows"`
		ViewCount       int64 `json:"view_count"`
		ViewMatches     bool  `json:"view_matches_stream"`
		Lost            int64 `json:"lost"`
		Duplicated      int64 `json:"duplicated"`
		Unexpected      int64 `json:"unexpected"`
		Verified        bool  `json:"verified"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	if !res.Verified || res.Lost != 0 || res.Duplicated != 0 || res.Unexpected != 0 || !res.ViewMatches {
		t.Fatalf("not verified: %s", b)
	}
	if res.EventsAcked <= 0 || res.StreamRows != res.EventsAcked+res.UnknownInStream || res.ViewCount != res.StreamRows {
		t.Fatalf("acked %d, unknown in stream %d, stream rows %d, view count %d: %s",
			res.EventsAcked, res.UnknownInStream, res.StreamRows, res.ViewCount, b)
	}
	if res.Nodes != 3 || len(res.PerNode) != 3 {
		t.Fatalf("want one entry per node of 3: %s", b)
	}
	for i, n := range res.PerNode {
		if want := []string{"n1", "n2", "n3"}[i]; n.Node != want {
			t.Fatalf("entry %d is %q, want %q: %s", i, n.Node, want, b)
		}
		// Writes continue through every step: some batch is acknowledged
		// inside each window, and the longest gap stays well below it.
		if n.DrainMs <= 0 || n.WindowMs < n.DrainMs || n.BatchesAcked <= 0 || n.WriteDisturbMs <= 0 || n.WriteDisturbMs > 15000 {
			t.Fatalf("node %s figures out of bounds: %s", n.Node, b)
		}
	}
}

// TestRollingRestartBenchFlags checks the combinations --rolling-restart
// refuses before starting anything.
func TestRollingRestartBenchFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--failover"}, "--failover or --url"},
		{[]string{"--url", "postgres://cairn@127.0.0.1:1/cairn"}, "--failover or --url"},
		{[]string{"--nodes", "2"}, "--nodes between 3 and 9"},
	} {
		code, log := runCairn(t, nil, append([]string{"bench", "--rolling-restart"}, tc.args...)...)
		if code != 2 || !strings.Contains(log, tc.want) {
			t.Fatalf("bench --rolling-restart %v: exit %d, want 2 and %q\n%s", tc.args, code, tc.want, log)
		}
	}
}
