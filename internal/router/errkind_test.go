package router

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/cairndb/cairn/internal/errkind"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/transport"
)

// The retry decisions that key on error kinds decide as the SQLSTATE
// checks they replaced did, for local store errors, errors from other
// nodes (a *pgerr.Error) and transport failures.
func TestRetryDecisionsByKind(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("group 9: %w", err) }
	for _, tc := range []struct {
		err       error
		retryable bool // retryableAppend
	}{
		{wrap(raftstore.ErrNotLeader), true},
		{wrap(raftstore.ErrProposalDropped), true},
		{wrap(raftstore.ErrGroupNotFound), true},
		{wrap(raftstore.ErrGroupRemoved), true},
		{raftstore.ErrStopped, true},
		{errNotLeaderHere, true},
		{pgerr.New(pgerr.SerializationFailure, "retry"), true},
		{pgerr.New(pgerr.CannotConnectNow, "starting"), true},
		{pgerr.New(pgerr.AdminShutdown, "stopping"), true},
		{pgerr.New(pgerr.ConnectionFailure, "gone"), true},
		{&transport.Error{Code: pgerr.ConnectionFailure, Msg: "node 2 unreachable", Err: transport.ErrUnreachable}, true},
		{&transport.Error{Code: pgerr.AdminShutdown, Msg: "node transport is shutting down", Err: transport.ErrClosed}, true},
		{&transport.Error{Code: pgerr.QueryCanceled, Msg: "deadline exceeded", Err: context.DeadlineExceeded}, false},
		{pgerr.New(pgerr.QueryCanceled, "canceled"), false},
		{pgerr.StreamNotFound.New("ev"), false},
		{errors.New("plain"), false},
		{context.DeadlineExceeded, false},
	} {
		if got := retryableAppend(tc.err); got != tc.retryable {
			t.Errorf("retryableAppend(%v) = %v, want %v", tc.err, got, tc.retryable)
		}
		// The operations executor retries what was 40001, and an append
		// attempt timed out when its error was 57014.
		code := pgerr.Code(tc.err)
		if got, want := pgerr.IsKind(tc.err, errkind.Retryable), code == pgerr.SerializationFailure; got != want {
			t.Errorf("%v: retryable kind %v, but SQLSTATE %s", tc.err, got, code)
		}
		if got, want := pgerr.KindOf(tc.err) == errkind.Cancelled, code == pgerr.QueryCanceled; got != want {
			t.Errorf("%v: cancelled kind %v, but SQLSTATE %s", tc.err, got, code)
		}
	}
}
