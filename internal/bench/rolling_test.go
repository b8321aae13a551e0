package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestRollingBatchesWindow checks the write-disturbance arithmetic: the
// longest gap counts the window's edges, and only events inside it count.
func TestRollingBatchesWindow(t *testing.T) {
	b := batchLog{size: rollingBatch}
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	b.done(0, 0, true, at(50))   // before the window
	b.done(1, 0, true, at(120))  // 20 ms after its start
	b.done(3, 0, false, at(150)) // failed
	b.done(2, 0, true, at(400))  // 280 ms gap
	b.done(4, 0, true, at(450))
	b.refusedAt(at(130))
	b.refusedAt(at(700)) // after the window
	gap, acked, failed, refused := b.window(at(100), at(600))
	if gap != 280*time.Millisecond || acked != 3 || failed != 1 || refused != 1 {
		t.Fatalf("window: gap %v, acked %d, failed %d, refused %d", gap, acked, failed, refused)
	}
	// No ack inside: the whole window is the gap.
	if gap, acked, _, _ := b.window(at(460), at(900)); gap != 440*time.Millisecond || acked != 0 {
		t.Fatalf("empty window: gap %v, acked %d", gap, acked)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if want := []bool{true, true, true, false, true}; len(b.mu.acked) != len(want) || b.mu.acked[3] || !b.mu.acked[2] {
		t.Fatalf("acked %v, want %v", b.mu.acked, want)
	}
}

// TestRollingVerdict checks the last line names what went wrong.
func TestRollingVerdict(t *testing.T) {
	for _, tc := range []struct {
		r    RollingResult
		want string
	}{
		{RollingResult{Verified: true, ViewMatches: true}, "result         verified\n"},
		{RollingResult{Lost: 3, Duplicated: 2, ViewMatches: true}, "result         LOST 3, DUPLICATED 2\n"},
		{RollingResult{ViewMatches: false}, "result         VIEW MISMATCH\n"},
		{RollingResult{Error: "drain n2: boom"}, "result         ERROR: drain n2: boom\n"},
	} {
		var out bytes.Buffer
		tc.r.print(&out)
		if !strings.HasSuffix(out.String(), tc.want) {
			t.Fatalf("got %q, want suffix %q", out.String(), tc.want)
		}
	}
}
