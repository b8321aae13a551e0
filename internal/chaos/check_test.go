package chaos

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// rowsOf returns the stream rows for ids, with the k and v a writer sends.
func rowsOf(ids ...int64) []Row {
	var out []Row
	for _, id := range ids {
		out = append(out, Row{ID: id, K: KeyOf(id), V: ValueOf(id)})
	}
	return out
}

func span(first, n int64) []int64 {
	var out []int64
	for id := first; id < first+n; id++ {
		out = append(out, id)
	}
	return out
}

// history: batch 1..10 acked, 11..20 failed (not in), 21..30 acked.
func baseBatches() []Batch {
	return []Batch{
		{Node: "n1", First: 1, Count: 10, Start: at(0), End: at(100), OK: true},
		{Node: "n2", First: 11, Count: 10, Start: at(50), End: at(5050), Err: "timeout"},
		{Node: "n3", First: 21, Count: 10, Start: at(200), End: at(300), OK: true},
		{Node: "n1", Start: at(300), End: at(310), Err: "connect: refused"},
	}
}

func goodRows() []Row { return rowsOf(append(span(1, 10), span(21, 10)...)...) }

func TestCheckLost(t *testing.T) {
	if r := CheckLost(baseBatches(), goodRows()); !r.OK || r.Checked != 20 {
		t.Fatalf("clean history: %+v", r)
	}
	// A failed batch partly in is fine: it may or may not be in.
	if r := CheckLost(baseBatches(), append(goodRows(), rowsOf(11, 12)...)); !r.OK {
		t.Fatalf("failed batch partly in: %+v", r)
	}
	rows := goodRows()[1:] // id 1 missing
	r := CheckLost(baseBatches(), rows)
	if r.OK || r.Count != 1 || !strings.Contains(r.Examples[0], "id 1 ") {
		t.Fatalf("lost id 1: %+v", r)
	}
}

func TestCheckDuplicates(t *testing.T) {
	if r := CheckDuplicates(goodRows()); !r.OK {
		t.Fatalf("clean: %+v", r)
	}
	r := CheckDuplicates(append(goodRows(), rowsOf(5, 5, 22)...))
	if r.OK || r.Count != 2 || !strings.Contains(r.Examples[0], "id 5 is in the stream 3 times") {
		t.Fatalf("duplicates: %+v", r)
	}
}

func TestCheckNeverSent(t *testing.T) {
	if r := CheckNeverSent(baseBatches(), append(goodRows(), rowsOf(15)...)); !r.OK {
		t.Fatalf("clean (15 was attempted): %+v", r)
	}
	r := CheckNeverSent(baseBatches(), append(goodRows(), rowsOf(31, 1000)...))
	if r.OK || r.Count != 2 {
		t.Fatalf("never sent: %+v", r)
	}
	bad := goodRows()
	bad[0].V++
	if r := CheckNeverSent(baseBatches(), bad); r.OK || !strings.Contains(r.Examples[0], "sent k=") {
		t.Fatalf("changed v: %+v", r)
	}
}

func viewsOf(node string, rows []Row) NodeViews {
	tot, perK := ExpectedViews(rows)
	return NodeViews{Node: node, Totals: tot, PerK: perK}
}

func TestCheckViews(t *testing.T) {
	rows := goodRows()
	good := []NodeViews{viewsOf("n1", rows), viewsOf("n2", rows)}
	if r := CheckViews(rows, good); !r.OK || r.Checked != 2 {
		t.Fatalf("clean: %+v", r)
	}
	// n2 missed an event in both views.
	bad := []NodeViews{viewsOf("n1", rows), viewsOf("n2", rows[1:])}
	r := CheckViews(rows, bad)
	if r.OK || r.Count != 2 || !strings.Contains(r.Examples[0], "n2: chaos_totals") || !strings.Contains(r.Examples[1], "chaos_per_k") {
		t.Fatalf("lagging n2: %+v", r)
	}
	// An extra key in the per-k view only.
	extra := viewsOf("n1", rows)
	extra.PerK[99] = PerK{N: 1, S: 1}
	if r := CheckViews(rows, []NodeViews{extra}); r.OK || !strings.Contains(r.Examples[0], "k=99") {
		t.Fatalf("extra key: %+v", r)
	}
	if r := CheckViews(rows, []NodeViews{{Node: "n3", Err: "timeout"}}); r.OK {
		t.Fatalf("unreadable node: %+v", r)
	}
	if r := CheckViews(rows, nil); r.OK {
		t.Fatal("no node answered but the check passed")
	}
}

func TestCheckStaleReads(t *testing.T) {
	b := baseBatches()
	reads := []Read{
		{Node: "n2", ID: 3, Start: at(150), End: at(160), Result: 1},
		{Node: "n3", ID: 25, Start: at(400), End: at(420), Result: 1},
		// Read started before the ack: not judged even though 0.
		{Node: "n3", ID: 25, Start: at(250), End: at(260), Result: 0},
		// Failed batch, failed read: not judged.
		{Node: "n1", ID: 12, Start: at(6000), End: at(6001), Result: 0},
		{Node: "n1", ID: 4, Start: at(6000), End: at(6001), Err: "timeout"},
	}
	r := CheckStaleReads(b, reads)
	if !r.OK || r.Checked != 2 {
		t.Fatalf("clean: %+v", r)
	}
	reads = append(reads, Read{Node: "n2", ID: 7, Start: at(101), End: at(120), Result: 0})
	r = CheckStaleReads(b, reads)
	if r.OK || r.Count != 1 || !strings.Contains(r.Examples[0], "id 7 through n2") {
		t.Fatalf("stale read: %+v", r)
	}
}

func TestCheckSplitBrain(t *testing.T) {
	terms := map[string]string{
		"n1": "1 1 100\n5 2 200\n",
		"n2": "1 2 300\n5 3 400\ngarbage\n",
		"n3": "",
	}
	if r := CheckSplitBrain(terms); !r.OK || r.Checked != 4 {
		t.Fatalf("clean: %+v", r)
	}
	// The same node twice in one term (a restart) is not split brain.
	terms["n1"] += "1 1 150\n"
	if r := CheckSplitBrain(terms); !r.OK {
		t.Fatalf("same node twice: %+v", r)
	}
	terms["n3"] = "5 3 401\n"
	r := CheckSplitBrain(terms)
	if r.OK || r.Count != 1 || !strings.Contains(r.Examples[0], "group 5 term 3 was led by both n2 and n3") {
		t.Fatalf("split brain: %+v", r)
	}
	if r := CheckSplitBrain(map[string]string{"n1": "", "n2": ""}); r.OK {
		t.Fatalf("no leadership at all passed: %+v", r)
	}
}

func TestCheckDiskFail(t *testing.T) {
	yes, no := true, false
	f := Fault{Kind: KindDisk, Sub: SubFail, Targets: []string{"n2"}, Start: at(1000), End: at(20000)}
	late := Batch{Node: "n2", First: 100, Count: 1, Start: at(1000 + 10_500), End: at(11_600), OK: true}
	early := Batch{Node: "n2", First: 101, Count: 1, Start: at(1500), End: at(1600), OK: true}
	other := Batch{Node: "n1", First: 102, Count: 1, Start: at(12_000), End: at(12_100), OK: true}
	f.Exited = &yes
	if r := CheckDiskFail([]Fault{f}, []Batch{early, other}); !r.OK || r.Checked != 1 {
		t.Fatalf("exited: %+v", r)
	}
	f.Exited = &no
	// Acks within the grace, or through other nodes, are fine.
	if r := CheckDiskFail([]Fault{f}, []Batch{early, other}); !r.OK {
		t.Fatalf("no late ack: %+v", r)
	}
	r := CheckDiskFail([]Fault{f}, []Batch{early, late, other})
	if r.OK || r.Count != 1 || !strings.Contains(r.Examples[0], "n2 did not exit") {
		t.Fatalf("kept serving: %+v", r)
	}
	f.Unsupported = true
	if r := CheckDiskFail([]Fault{f}, []Batch{late}); !r.OK || r.Checked != 0 {
		t.Fatalf("unsupported fault judged: %+v", r)
	}
}

func TestAvailability(t *testing.T) {
	h := &History{Begin: at(0), End: at(10_000)}
	// Acks every 500 ms except a gap 3000..7000 ms.
	for ms := 0; ms < 10_000; ms += 500 {
		if ms > 3000 && ms < 7000 {
			h.Batches = append(h.Batches, Batch{Node: "n1", First: int64(ms), Count: 0, Start: at(ms), End: at(ms + 100), Err: "down"})
			continue
		}
		h.Batches = append(h.Batches, Batch{Node: "n1", First: int64(ms), Count: 10, Start: at(ms), End: at(ms + 100), OK: true})
	}
	h.Faults = []Fault{{Seq: 1, Kind: KindKill, Targets: []string{"n1"}, Start: at(3200), End: at(6000)},
		{Seq: 2, Kind: KindPause, Skipped: true, Start: at(4000), End: at(4000)}}
	a := ComputeAvailability(h)
	if len(a.Seconds) != 10 {
		t.Fatalf("%d seconds, want 10", len(a.Seconds))
	}
	if a.Seconds[0].Acked != 20 || a.Seconds[0].P50Ms != 100 || a.Seconds[0].P99Ms != 100 {
		t.Fatalf("second 0: %+v", a.Seconds[0])
	}
	if a.Seconds[4].Acked != 0 || a.Seconds[4].Errors != 2 {
		t.Fatalf("second 4: %+v", a.Seconds[4])
	}
	// Last ack before the gap ends at 3100, next at 7100.
	if a.LongestGapMs != 4000 || a.LongestGapAt != 3.1 {
		t.Fatalf("gap %v at %v", a.LongestGapMs, a.LongestGapAt)
	}
	if len(a.Outages) != 1 || a.Outages[0].OutageMs != 3900 || !a.Outages[0].Recovered {
		t.Fatalf("outages %+v", a.Outages)
	}
}

func TestFindCrashes(t *testing.T) {
	log := `time=2026-11-22T03:24:23.952Z level=WARN msg="view task stopped"
time=2026-11-22T03:24:24.171Z level=INFO msg="shutting down" signal=terminated
panic: pebble: closed

goroutine 10771 [running]:
github.com/cockroachdb/pebble/v2.(*DB).newIter(0xb8?)
	/root/go/pkg/mod/github.com/cockroachdb/pebble/v2@v2.1.7/db.go:1062 +0x612
github.com/cairndb/cairn/internal/streamsm.Scan({0x1578e20})
=== chaos: n4 exited at 2026-11-22T03:24:24.226369386Z: exit status 2
`
	got := FindCrashes("n4", log)
	if len(got) != 1 || !strings.Contains(got[0], "n4 after 2026-11-22T03:24:24.171Z: panic: pebble: closed in github.com/cairndb/cairn/internal/streamsm.Scan") {
		t.Fatalf("%q", got)
	}
	if got := FindCrashes("n1", `time=x level=INFO msg="a panic: in a message"`); len(got) != 0 {
		t.Fatalf("false crash: %q", got)
	}
}

func TestOutOfService(t *testing.T) {
	for err, want := range map[string]bool{
		`server error: FATAL: node "n2" is decommissioned and accepts no new sessions (SQLSTATE 57P03)`:        true,
		`server error: FATAL: node "n2" was removed from the cluster and accepts no sessions (SQLSTATE 57P03)`: true,
		`server error: FATAL: node "n2" is draining and accepts no new sessions (SQLSTATE 57P03)`:              false,
		`connection refused`: false,
		``:                   false,
	} {
		if got := outOfService(err); got != want {
			t.Errorf("outOfService(%q) = %v, want %v", err, got, want)
		}
	}
}

// The outage distribution has an "all" row and one per kind, with
// nearest-rank percentiles, and counts faults of a second or more and
// those never recovered.
func TestOutageDistribution(t *testing.T) {
	var os []FaultOutage
	for i := 1; i <= 10; i++ {
		os = append(os, FaultOutage{Kind: KindKill, OutageMs: float64(100 * i), Recovered: true})
	}
	os = append(os, FaultOutage{Kind: KindPause, OutageMs: 5000, Overlapped: true})
	d := OutageDistribution(os)
	if len(d) != 4 || d[0].Kind != "all" || d[1].Kind != "alone" || d[2].Kind != KindKill || d[3].Kind != KindPause {
		t.Fatalf("rows %+v", d)
	}
	if a := d[0]; a.N != 11 || a.P50Ms != 600 || a.P90Ms != 1000 || a.P99Ms != 5000 || a.MaxMs != 5000 || a.Over1s != 2 || a.NotRecovered != 1 {
		t.Fatalf("all: %+v", a)
	}
	if a := d[1]; a.N != 10 || a.MaxMs != 1000 || a.NotRecovered != 0 {
		t.Fatalf("alone (the overlapped pause left out): %+v", a)
	}
	if k := d[2]; k.N != 10 || k.P50Ms != 500 || k.P90Ms != 900 || k.P99Ms != 1000 || k.Over1s != 1 || k.NotRecovered != 0 {
		t.Fatalf("kill: %+v", k)
	}
	if OutageDistribution(nil) != nil {
		t.Fatal("no faults: want no rows")
	}
	if got := outageDistLine(d[3]); got != "1 faults: p50 5000 ms, p90 5000 ms, p99 5000 ms, max 5000 ms; 1 of a second or more, 1 not recovered before the workload stopped" {
		t.Fatalf("line %q", got)
	}
}

// A fault is "overlapped" when another one is in force between its start
// and the end of its outage; faults apart from each other are not.
func TestOutageOverlap(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return base.Add(time.Duration(ms) * time.Millisecond) }
	h := &History{Begin: at(0), End: at(20_000)}
	for ms := 0; ms < 20_000; ms += 500 {
		if ms > 3000 && ms < 7000 {
			continue // no batch acknowledged: the outage of the kill and the restart
		}
		h.Batches = append(h.Batches, Batch{Node: "n1", First: int64(ms), Count: 10, Start: at(ms), End: at(ms + 100), OK: true})
	}
	h.Faults = []Fault{
		{Seq: 1, Kind: KindKill, Targets: []string{"n1"}, Start: at(3200), End: at(6000)},
		{Seq: 2, Kind: KindRestart, Targets: []string{"n2"}, Start: at(5000), End: at(5500)},
		{Seq: 3, Kind: KindPause, Targets: []string{"n3"}, Start: at(12_000), End: at(13_000)},
	}
	a := ComputeAvailability(h)
	got := map[int]bool{}
	for _, o := range a.Outages {
		got[o.Seq] = o.Overlapped
	}
	if !got[1] || !got[2] || got[3] {
		t.Fatalf("overlapped by fault: %v, want 1 and 2 overlapped, 3 alone", got)
	}
	if d := a.OutageDist; len(d) < 2 || d[1].Kind != "alone" || d[1].N != 1 {
		t.Fatalf("distribution %+v: want an alone row of one fault", d)
	}
}
