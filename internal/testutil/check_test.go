package testutil

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestExactlyOnce(t *testing.T) {
	batches := []Batch{
		{Node: "n1", First: 1, Count: 3, OK: true},  // 1 2 3
		{Node: "n2", First: 4, Count: 2, OK: false}, // 4 5: may be in or not
		{Node: "n1", First: 6, Count: 2, OK: true},  // 6 7
	}
	names := func(cs []CheckResult) (out []string) {
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	good := ExactlyOnce(batches, []int64{7, 1, 2, 4, 3, 6})
	if msg := Failed(good); msg != "" || strings.Join(names(good), ",") != "lost,duplicated,never_sent" {
		t.Fatalf("a good stream: %s %v", msg, good)
	}
	// One lost and one duplicated id keep the count right; the checker
	// still names both (a count comparison would pass them).
	bad := ExactlyOnce(batches, []int64{1, 2, 3, 6, 6, 99})
	for i, want := range []string{"id 7 acknowledged by n1", "id 6 is in the stream 2 times", "id 99 is in the stream but was never sent"} {
		if bad[i].OK || bad[i].Count != 1 || !strings.Contains(bad[i].Examples[0], want) {
			t.Errorf("check %s: %+v, want one violation like %q", bad[i].Name, bad[i], want)
		}
	}
	if msg := Failed(bad); !strings.Contains(msg, "lost: 1 of 5") || !strings.Contains(msg, "never_sent: 1 of 6") {
		t.Errorf("Failed: %q", msg)
	}
}

func TestCheckViews(t *testing.T) {
	want := []ViewRow{{"v k=1", "n=2"}, {"v k=2", "n=1"}}
	ok := NodeView{Node: "n1", Rows: []ViewRow{{"v k=2", "n=1"}, {"v k=1", "n=2"}}}
	if r := CheckViews(want, []NodeView{ok}); !r.OK || r.Checked != 1 {
		t.Fatalf("equal views: %+v", r)
	}
	bad := NodeView{Node: "n2", Rows: []ViewRow{{"v k=1", "n=3"}, {"v k=9", "n=1"}}}
	r := CheckViews(want, []NodeView{ok, bad, {Node: "n3", Err: "timeout"}})
	if r.OK || r.Count != 4 {
		t.Fatalf("got %+v, want 4 violations (k=1 differs, k=2 missing, k=9 extra, n3 unreadable)", r)
	}
	for i, want := range []string{"n2: v k=1 n=3, the stream gives n=2", "n2: v k=2 no such row", "n2: v k=9 n=1, the stream gives no such row", "n3: views unreadable"} {
		if !strings.Contains(r.Examples[i], want) {
			t.Errorf("example %d: %q, want %q", i, r.Examples[i], want)
		}
	}
	if r := CheckViews(want, nil); r.OK {
		t.Errorf("no node answered: %+v", r)
	}
}

func TestCheckSplitBrain(t *testing.T) {
	r := CheckSplitBrain(map[string]string{"n1": "5 3 100\n6 1 100\n", "n2": "5 3 200\n"})
	if r.OK || r.Count != 1 || !strings.Contains(r.Examples[0], "group 5 term 3 was led by both n1 and n2") {
		t.Fatalf("%+v", r)
	}
}

func TestPace(t *testing.T) {
	stop := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	if !Pace(ctx, stop, 0) || !Pace(ctx, stop, time.Millisecond) {
		t.Fatal("Pace stopped a running loop")
	}
	cancel()
	if Pace(ctx, stop, time.Hour) {
		t.Fatal("Pace went on after ctx was done")
	}
	close(stop)
	if Pace(context.Background(), stop, 0) {
		t.Fatal("Pace went on after stop closed")
	}
}
