package errkind

import (
	"errors"
	"fmt"
	"testing"
)

func TestIs(t *testing.T) {
	notLeader := New(NotLeader, "not the leader")
	wrapped := fmt.Errorf("group 3: %w", notLeader)
	for _, tc := range []struct {
		err  error
		kind Kind
		want bool
	}{
		{wrapped, NotLeader, true},
		{wrapped, Retryable, true},
		{fmt.Errorf("x: %w", New(NoQuorum, "q")), Retryable, true},
		{New(Retryable, "r"), Retryable, true},
		{New(Retryable, "r"), NotLeader, false},
		{New(ShuttingDown, "s"), Retryable, false},
		{New(ShuttingDown, "s"), ShuttingDown, true},
		{New(Cancelled, "c"), Cancelled, true},
		{errors.New("plain"), Unknown, false},
		{errors.New("plain"), Retryable, false},
		{nil, Retryable, false},
	} {
		if got := Is(tc.err, tc.kind); got != tc.want {
			t.Errorf("Is(%v, %v) = %v, want %v", tc.err, tc.kind, got, tc.want)
		}
	}
	if !errors.Is(wrapped, notLeader) {
		t.Error("a kinded error is not its own sentinel")
	}
	if Of(errors.New("plain")) != Unknown || Of(wrapped) != NotLeader {
		t.Error("Of")
	}
	if NoQuorum.String() != "no quorum" || Kind(200).String() != "unknown" {
		t.Error("String")
	}
}
