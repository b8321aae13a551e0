package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSumOffsets(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "NULL": 0, "{12,30}": 42, "[12, 30, 8]": 50, "7": 7, "{0}": 0} {
		if got := sumOffsets(in); got != want {
			t.Errorf("sumOffsets(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestAfterKill: failover ends at the first read after the kill that
// counts more than the last read before it, not at the first read that
// answers (a new owner answers from its checkpoint, behind).
func TestAfterKill(t *testing.T) {
	kill := time.Unix(100, 0)
	at := func(ms int) time.Time { return kill.Add(time.Duration(ms) * time.Millisecond) }
	samples := []sample{
		{start: at(-60), at: at(-40), ok: true, count: 5000},
		{start: at(-30), at: at(-20), ok: true, count: 6000},
		{start: at(-10), at: at(4), ok: true, count: 6100}, // in flight at the kill
		{start: at(10), at: at(20), ok: false},
		{start: at(30), at: at(900), ok: false},
		{start: at(1490), at: at(1500), ok: true, count: 4000}, // loaded the checkpoint, replaying
		{start: at(1590), at: at(1600), ok: true, count: 6000},
		{start: at(1690), at: at(1700), ok: true, count: 6500},
		{start: at(1790), at: at(1800), ok: true, count: 7000},
	}
	first, adv := afterKill(samples, kill, 6000)
	if !first.at.Equal(at(1500)) || first.count != 4000 || !adv.at.Equal(at(1700)) {
		t.Fatalf("first %v advanced %v", first, adv)
	}
	if _, adv := afterKill(samples[:7], kill, 6000); !adv.at.IsZero() {
		t.Fatalf("advanced %v before the view passed its count at the kill", adv)
	}
}

func TestSummarize(t *testing.T) {
	r := HAResult{FailoverMs: []float64{900, 100, 500, 300}, Replayed: []int64{10, 0, 40}}
	r.summarize()
	if r.FailoverMedianMs != 400 || r.FailoverMaxMs != 900 || r.ReplayedMedian != 10 || r.ReplayedMax != 40 {
		t.Fatalf("%+v", r)
	}
	if r.FailoverMs[0] != 900 {
		t.Fatal("summarize reordered the per-kill figures")
	}
}

func TestDirBytes(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{"x": 100, "a/y": 20, "a/b/z": 3} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := dirBytes(dir); got != 123 {
		t.Fatalf("dirBytes = %d, want 123", got)
	}
	if got := dirBytes(filepath.Join(dir, "missing")); got != 0 {
		t.Fatalf("a missing dir: %d", got)
	}
}

func TestTradeoffOutput(t *testing.T) {
	res := &TradeoffResult{DeadAfter: "5s", Clients: 4, BatchRows: foBatch, Query: tradeoffQuery, Results: []HAResult{
		{HA: HARaft, Shape: "3 data nodes", FailoverMs: []float64{700, 800}, FailoverMedianMs: 750, FailoverMaxMs: 800, ViewReplicas: 3, ViewRaftReplicas: 3, DiskBytes: 12_500_000, ThroughputEPS: 20000, Verified: true},
		{HA: HAScheduled, Shape: "3 data nodes + 1 compute node", FailoverMs: []float64{6000}, FailoverMedianMs: 6000, FailoverMaxMs: 6000, ReplayedMedian: 9000, ReplayedMax: 9000, ViewReplicas: 1, DiskBytes: 9_000_000, Error: "kill 2: boom"},
	}}
	var out, errOut bytes.Buffer
	res.Print(false, &out, &errOut)
	table := out.String()
	for _, want := range []string{"raft", "750ms", "3 (3 raft)", "12.5", "scheduled", "6000ms", "9000", "1 (0 raft)", "error: kill 2: boom", "raft per kill: failover ms 700 800;"} {
		if !strings.Contains(table, want) {
			t.Errorf("the table lacks %q:\n%s", want, table)
		}
	}
	out.Reset()
	errOut.Reset()
	res.Print(true, &out, &errOut)
	var back TradeoffResult
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || len(back.Results) != 2 || back.Results[1].ReplayedMax != 9000 || !strings.Contains(errOut.String(), "scheduled") {
		t.Fatalf("JSON %v: %s", err, out.String())
	}
}

func TestTradeoffRefusesBadOptions(t *testing.T) {
	for _, o := range []TradeoffOptions{
		{HA: []string{"raft"}, Kills: 0, Clients: 1, DeadAfter: time.Second},
		{HA: []string{"paxos"}, Kills: 1, Clients: 1, DeadAfter: time.Second},
		{HA: nil, Kills: 1, Clients: 1, DeadAfter: time.Second},
		{HA: []string{"scheduled"}, Kills: 1, Clients: 1, DeadAfter: 10 * time.Millisecond},
		{HA: []string{"scheduled"}, Kills: 1, Clients: 0, DeadAfter: time.Second},
	} {
		if res, err := RunTradeoff(context.Background(), o); err == nil || res != nil {
			t.Errorf("%+v: %v %v, want a refusal before any node starts", o, res, err)
		}
	}
}
