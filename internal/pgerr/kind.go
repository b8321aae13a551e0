package pgerr

import "github.com/cairndb/cairn/internal/errkind"

// kindCodes is the SQLSTATE a client is told for an internal error of
// each kind. Kinds not listed (errkind.Unknown) become XX000.
var kindCodes = map[errkind.Kind]string{
	errkind.Retryable:    SerializationFailure,
	errkind.NotLeader:    SerializationFailure,
	errkind.NoQuorum:     SerializationFailure,
	errkind.Unavailable:  CannotConnectNow,
	errkind.ShuttingDown: AdminShutdown,
	errkind.Cancelled:    QueryCanceled,
}

// codeKinds is the kind of an error that reached this node as a SQLSTATE
// only (a remote node's error, a transport failure): the inverse of
// kindCodes, with the connection failure of an unreachable node.
var codeKinds = map[string]errkind.Kind{
	SerializationFailure: errkind.Retryable,
	CannotConnectNow:     errkind.Unavailable,
	ConnectionFailure:    errkind.Unavailable,
	AdminShutdown:        errkind.ShuttingDown,
	QueryCanceled:        errkind.Cancelled,
}

// KindOf returns the kind of any error: its own kind when it has one
// (errkind.Of), else the kind its SQLSTATE stands for, which is how an
// error from another node or from the transport is classified.
func KindOf(err error) errkind.Kind {
	if err == nil {
		return errkind.Unknown
	}
	if k := errkind.Of(err); k != errkind.Unknown {
		return k
	}
	return codeKinds[Code(err)]
}

// IsKind is errkind.Is for any error, classified as KindOf does.
func IsKind(err error, k errkind.Kind) bool { return KindOf(err).Is(k) }
