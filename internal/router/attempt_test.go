package router

import (
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
)

// A large write gets longer per attempt: a 22 MB INSERT on a busy disk
// used to time out after 2s, be proposed again, and report a failure
// although it had been applied.
func TestAttemptTimeoutGrowsWithSize(t *testing.T) {
	base := time.Second
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{
		{0, time.Second},
		{1<<20 - 1, time.Second},
		{2 << 20, 2 * time.Second},
		{22 << 20, 12 * time.Second},
	} {
		if got := attemptTimeout(base, tc.n); got != tc.want {
			t.Errorf("attemptTimeout(%v, %d) = %v, want %v", base, tc.n, got, tc.want)
		}
	}
}

// An append whose outcome is unknown says so and does not tell the
// client simply to retry.
func TestAppendOutcomeUnknownMessage(t *testing.T) {
	e := pgerr.AppendOutcomeUnknown.New(uint64(5))
	if e.Code != pgerr.SerializationFailure {
		t.Errorf("code %s", e.Code)
	}
	if want := "shard group 5 did not confirm the write in time: it may or may not have been applied"; e.Message != want {
		t.Errorf("message %q, want %q", e.Message, want)
	}
	if e.Hint == "" {
		t.Error("no hint")
	}
}
