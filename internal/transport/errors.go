package transport

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairndb/cairn/internal/pgerr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Error is a transport failure (as opposed to an error returned by the
// remote handler, which Call returns as the *pgerr.Error it carried). It has
// a SQLSTATE for pgerr.From and unwraps to its cause, so errors.Is works
// with ErrUnreachable, ErrClosed, context.DeadlineExceeded and
// context.Canceled.
type Error struct {
	Code string // SQLSTATE
	Msg  string
	Err  error // cause
}

func (e *Error) Error() string { return e.Msg }

// SQLState returns the PostgreSQL error code (read by pgerr.From).
func (e *Error) SQLState() string { return e.Code }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Sentinel causes, compared with errors.Is.
var (
	// ErrUnreachable: the peer could not be reached (down, unknown address,
	// or it answered as a different node). Retry, maybe elsewhere.
	ErrUnreachable = errors.New("node unreachable")
	// ErrClosed: this transport is closed.
	ErrClosed = errors.New("transport closed")
)

// callError turns a failed gRPC call into an *Error with a SQLSTATE.
func callError(node uint64, method string, err error) error {
	st, _ := status.FromError(err)
	switch st.Code() {
	case codes.DeadlineExceeded:
		return &Error{pgerr.QueryCanceled, fmt.Sprintf("call %s on node %d: deadline exceeded", method, node), context.DeadlineExceeded}
	case codes.Canceled:
		return &Error{pgerr.QueryCanceled, fmt.Sprintf("call %s on node %d: canceled", method, node), context.Canceled}
	case codes.ResourceExhausted:
		return &Error{pgerr.ProgramLimitExceeded, fmt.Sprintf("call %s on node %d: %s", method, node, st.Message()), err}
	case codes.Unavailable, codes.FailedPrecondition:
		return &Error{pgerr.ConnectionFailure, fmt.Sprintf("node %d unreachable: %s", node, st.Message()), ErrUnreachable}
	default:
		return &Error{pgerr.InternalError, fmt.Sprintf("call %s on node %d: %s", method, node, st.Message()), err}
	}
}

// ctxError is the error for a call that ended because ctx did.
func ctxError(node uint64, method string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{pgerr.QueryCanceled, fmt.Sprintf("call %s on node %d: deadline exceeded", method, node), context.DeadlineExceeded}
	}
	return &Error{pgerr.QueryCanceled, fmt.Sprintf("call %s on node %d: canceled", method, node), context.Canceled}
}
