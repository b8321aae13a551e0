package membership

import (
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/clock"
)

func TestClassify(t *testing.T) {
	t0 := time.Unix(10000, 0)
	const suspect, dead = 3 * time.Second, 30 * time.Second
	for _, tc := range []struct {
		name      string
		now, last time.Duration // after t0
		heard     bool
		want      State
	}{
		{"never heard, just started", 5 * time.Second, 0, false, Unknown},
		{"never heard, past dead_after", 31 * time.Second, 0, false, Dead},
		{"heard recently", 40 * time.Second, 38 * time.Second, true, Live},
		{"silent past suspect_after", 40 * time.Second, 36 * time.Second, true, Suspect},
		{"silent past dead_after", 80 * time.Second, 40 * time.Second, true, Dead},
	} {
		if got := Classify(t0.Add(tc.now), t0, t0.Add(tc.last), tc.heard, suspect, dead); got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestTrackerMovesWithTheClock(t *testing.T) {
	c := clock.NewManual(time.Unix(5000, 0))
	tr := NewTracker(c)
	const suspect, dead = 3 * time.Second, 30 * time.Second
	if s := tr.State(1, 2, suspect, dead); s != Unknown {
		t.Fatalf("fresh tracker: %s, want unknown", s)
	}
	if s := tr.State(1, 1, suspect, dead); s != Live {
		t.Fatalf("self: %s, want live", s)
	}
	tr.Saw(2)
	c.Advance(time.Second)
	if s := tr.State(1, 2, suspect, dead); s != Live {
		t.Fatalf("after a heartbeat: %s, want live", s)
	}
	c.Advance(5 * time.Second)
	if s := tr.State(1, 2, suspect, dead); s != Suspect {
		t.Fatalf("6s silent: %s, want suspect", s)
	}
	c.Advance(30 * time.Second)
	tr.SetLeaders(2, 4)
	snap := tr.Snapshot(1, []uint64{1, 2, 3}, suspect, dead)
	if snap.Of(2) != Dead || snap.Of(3) != Dead || snap.Of(1) != Live || snap.Of(9) != Dead {
		t.Fatalf("snapshot: %+v", snap)
	}
	if n := snap.Leaders[2]; n != 4 {
		t.Fatalf("leaders of 2: %d, want 4", n)
	}
}
