package raftstore_test

import (
	"fmt"
	"testing"

	"github.com/cairndb/cairn/internal/errkind"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
)

// The store's errors carry kinds, and the edge (pgerr) turns them into the
// SQLSTATEs and messages clients have always seen.
func TestErrorKindsAndClientCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind errkind.Kind
		code string
	}{
		{raftstore.ErrNotLeader, errkind.NotLeader, pgerr.SerializationFailure},
		{raftstore.ErrProposalDropped, errkind.Retryable, pgerr.SerializationFailure},
		{raftstore.ErrGroupNotFound, errkind.Retryable, pgerr.SerializationFailure},
		{raftstore.ErrGroupRemoved, errkind.Retryable, pgerr.SerializationFailure},
		{raftstore.ErrStopped, errkind.ShuttingDown, pgerr.AdminShutdown},
	} {
		err := fmt.Errorf("group 3: %w", tc.err)
		if k := errkind.Of(err); k != tc.kind {
			t.Errorf("%v: kind %v, want %v", tc.err, k, tc.kind)
		}
		if got := errkind.Is(err, errkind.Retryable); got != (tc.code == pgerr.SerializationFailure) {
			t.Errorf("%v: retryable = %v", tc.err, got)
		}
		e := pgerr.From(err)
		if e.Code != tc.code || e.Message != err.Error() {
			t.Errorf("%v: client error %s %q, want %s %q", tc.err, e.Code, e.Message, tc.code, err.Error())
		}
	}
}
