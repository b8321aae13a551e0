package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchAgainstNode runs `cairn bench` in every mode against a real
// node and checks it verified the view against what it sent.
func TestBenchAgainstNode(t *testing.T) {
	p := NewProc(t)
	p.Start()
	for _, mode := range []string{"binary", "copy", "csv", "insert"} {
		out := filepath.Join(t.TempDir(), "bench.json")
		code, log := runCairn(t, nil, "bench", "--url", p.URL(), "--events", "20000", "--batch", "500", "--clients", "2", "--mode", mode, "--out", out)
		if code != 0 || !strings.Contains(log, "verified") {
			t.Fatalf("bench --mode %s: exit %d\n%s", mode, code, log)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var res map[string]any
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		if res["verified"] != true || res["events"] != float64(20000) || res["tls"] != false {
			t.Fatalf("bench --mode %s result: %s", mode, b)
		}
		for _, k := range []string{"events_per_sec", "mb_per_sec", "ack_p50_ms", "ack_p99_ms", "fresh_p50_ms", "fresh_p99_ms"} {
			if v, ok := res[k].(float64); !ok || v <= 0 {
				t.Fatalf("bench --mode %s: %s = %v in %s", mode, k, res[k], b)
			}
		}
	}
}

// TestBenchSecure runs `cairn bench --secure`: its own node started with
// certificates made for the run, every connection TLS with client.cairn,
// the view verified, and the result says TLS.
func TestBenchSecure(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.json")
	code, log := runCairn(t, nil, "bench", "--secure", "--events", "20000", "--batch", "500", "--clients", "2", "--out", out)
	if code != 0 || !strings.Contains(log, "over TLS") || !strings.Contains(log, "verified") {
		t.Fatalf("bench --secure: exit %d\n%s", code, log)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res["verified"] != true || res["tls"] != true {
		t.Fatalf("bench --secure result: %s", b)
	}
	// --secure starts its own nodes: with --url it is refused.
	if code, log := runCairn(t, nil, "bench", "--secure", "--url", "postgres://cairn@127.0.0.1:1/cairn", "--out", "-"); code != 2 || !strings.Contains(log, "--secure starts the local nodes") {
		t.Errorf("bench --secure --url: exit %d\n%s", code, log)
	}
}

// TestFailoverBench runs `cairn bench --failover`: a local 3-node cluster
// under load whose stream-shard leader is killed with SIGKILL and
// restarted twice (the restarted node catches up from the log or, when the
// log was truncated meanwhile, from a snapshot); the bench itself checks
// that every acknowledged event is in the view exactly once.
func TestFailoverBench(t *testing.T) {
	out := filepath.Join(t.TempDir(), "failover.json")
	code, log := runCairnTimeout(t, 150*time.Second, "bench", "--failover", "--kills", "2", "--clients", "2", "--out", out)
	if code != 0 || !strings.Contains(log, "verified true") {
		t.Fatalf("bench --failover: exit %d\n%s", code, log)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]any
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res["verified"] != true || res["reads_failed"] != float64(0) || len(res["write_outages_ms"].([]any)) != 2 {
		t.Fatalf("bench --failover result: %s\n%s", b, log)
	}
	if m := res["write_max_ms"].(float64); m <= 0 || m > 15000 {
		t.Fatalf("write outage %v ms out of bounds", m)
	}
}
