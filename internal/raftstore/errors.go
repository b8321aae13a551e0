package raftstore

import "github.com/cairndb/cairn/internal/pgerr"

// Error is a raftstore error with a SQLSTATE, so that pgerr.From keeps the
// code when one reaches a client. The sentinels below are compared with
// errors.Is; wrapped forms carry the group id in the message.
type Error struct {
	code string
	msg  string
}

func (e *Error) Error() string { return e.msg }

// SQLState returns the PostgreSQL error code (read by pgerr.From).
func (e *Error) SQLState() string { return e.code }

// Sentinel errors. The retryable ones (the client should retry, possibly on
// another node) carry SQLSTATE 40001.
var (
	// ErrNotLeader: this replica is not the group's leader; retry on the leader.
	ErrNotLeader error = &Error{pgerr.SerializationFailure, "raft group leader is not on this node; retry"}
	// ErrGroupNotFound: the group is not running on this store.
	ErrGroupNotFound error = &Error{pgerr.SerializationFailure, "raft group not found on this node; retry"}
	// ErrStopped: the store is closing.
	ErrStopped error = &Error{pgerr.AdminShutdown, "raft store is shutting down"}
	// ErrProposalDropped: raft dropped the proposal or a new leader replaced
	// its log entry; it was not applied.
	ErrProposalDropped error = &Error{pgerr.SerializationFailure, "raft proposal dropped (leader change?); retry"}
	// ErrGroupRemoved: the group was destroyed on this store (tombstoned).
	ErrGroupRemoved error = &Error{pgerr.SerializationFailure, "raft group was removed from this node; retry"}
)
