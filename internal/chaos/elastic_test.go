package chaos

import (
	"strings"
	"testing"
)

// schedViewsOf is what node answers when its chaos_sched folded rows.
func schedViewsOf(node string, rows, schedRows []Row) NodeViews {
	nv := viewsOf(node, rows)
	_, nv.Sched = ExpectedViews(schedRows)
	return nv
}

func TestCheckScheduledView(t *testing.T) {
	rows := goodRows()
	good := []NodeViews{schedViewsOf("n1", rows, rows), schedViewsOf("c1", rows, rows)}
	if r := CheckScheduledView(rows, good); !r.OK || r.Checked != 2 || r.Name != CheckNameScheduled {
		t.Fatalf("clean: %+v", r)
	}
	// A takeover that replayed an event already in the checkpoint
	// counts it twice; one that skipped one loses it.
	twice := append(append([]Row{}, rows...), rows[3])
	r := CheckScheduledView(rows, []NodeViews{schedViewsOf("n1", rows, twice), schedViewsOf("c1", rows, rows[1:])})
	if r.OK || r.Count != 2 {
		t.Fatalf("a duplicate and a loss: %+v", r)
	}
	if !strings.Contains(r.Examples[0], "chaos_sched k=") {
		t.Fatalf("examples name no key: %v", r.Examples)
	}
	// The Raft views' check does not look at chaos_sched.
	if v := CheckViews(rows, []NodeViews{schedViewsOf("n1", rows, twice)}); !v.OK {
		t.Fatalf("CheckViews judged chaos_sched: %+v", v)
	}
	// A node that did not read chaos_sched fails; so does one that
	// could not read the views at all.
	nv := viewsOf("n2", rows)
	if r := CheckScheduledView(rows, []NodeViews{nv}); r.OK {
		t.Fatal("a node without chaos_sched passed")
	}
	if r := CheckScheduledView(rows, []NodeViews{{Node: "n3", Err: "40001 owner unreachable"}}); r.OK {
		t.Fatal("an unreadable node passed")
	}
}

func TestCheckAllScheduled(t *testing.T) {
	h := sampleHistory()
	if got := len(CheckAll(h)); got != 7 {
		t.Fatalf("without a scheduled view: %d checks, want 7", got)
	}
	h.Scheduled = true
	for i := range h.Views {
		_, h.Views[i].Sched = ExpectedViews(h.Rows)
	}
	h.LogsScanned = 3
	checks := CheckAll(h)
	if len(checks) != 9 || checks[7].Name != CheckNameScheduled || checks[8].Name != CheckNameSecret {
		t.Fatalf("with a scheduled view: %+v", checks)
	}
	for _, c := range checks {
		if !c.OK {
			t.Fatalf("%s failed: %+v", c.Name, c)
		}
	}
	// chaos_sched read again after the final owner kill: a takeover
	// that replayed from the wrong offsets shows there.
	h.SchedAfterKill = []NodeViews{schedViewsOf("n1 (after the final owner kill)", h.Rows, h.Rows)}
	if c := CheckAll(h)[7]; !c.OK || c.Checked != len(h.Views)+1 {
		t.Fatalf("a good takeover: %+v", c)
	}
	h.SchedAfterKill = []NodeViews{schedViewsOf("n1 (after the final owner kill)", h.Rows, append(h.Rows, h.Rows[0]))}
	if c := CheckAll(h)[7]; c.OK || !strings.Contains(c.Examples[0], "after the final owner kill") {
		t.Fatalf("a takeover that folded an event twice: %+v", c)
	}
	h.SchedAfterKill = nil
	h.SecretLeaks = FindSecret("c1", "a\nCREATE DISK d (secret_access_key = 's3cr3t')\nb", "s3cr3t")
	rep := BuildReport(Config{Nodes: 3, Scheduled: true}, nil, h)
	if rep.Pass || len(h.SecretLeaks) != 1 || !strings.Contains(h.SecretLeaks[0], "c1.log line 2") || strings.Contains(h.SecretLeaks[0], "s3cr3t") {
		t.Fatalf("a leaked secret: pass %v, leaks %q", rep.Pass, h.SecretLeaks)
	}
	if r := CheckSecret(0, nil); r.OK {
		t.Fatal("no log scanned passed")
	}
}

func TestOwnersLine(t *testing.T) {
	rep := &Report{Begin: at(0), Config: Config{Scheduled: true},
		Owners: []OwnerChange{{At: at(1000), Owner: "c1"}, {At: at(23500), Owner: ""}, {At: at(30000), Owner: "n2"}},
		Moves:  map[string]int{"done": 2, "failed": 1}}
	want := "chaos_sched owned by c1 at 1.0s -> (none) at 23.5s -> n2 at 30.0s; move_scheduled_view operations: done 2, failed 1"
	if got := ownersLine(rep); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	rep.Owners, rep.Moves = nil, nil
	if got := ownersLine(rep); !strings.Contains(got, "nobody") || !strings.HasSuffix(got, "none") {
		t.Fatal(got)
	}
}
