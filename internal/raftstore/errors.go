package raftstore

import "github.com/cairndb/cairn/internal/errkind"

// Sentinel errors, compared with errors.Is; wrapped forms carry the group
// id in the message. Each has an error kind (errkind.Of): the retryable
// ones (the caller should retry, possibly on another node) are
// errkind.Retryable or errkind.NotLeader. What a client is told is decided
// at the edge (pgerr), not here.
var (
	// ErrNotLeader: this replica is not the group's leader; retry on the leader.
	ErrNotLeader error = errkind.New(errkind.NotLeader, "raft group leader is not on this node; retry")
	// ErrGroupNotFound: the group is not running on this store.
	ErrGroupNotFound error = errkind.New(errkind.Retryable, "raft group not found on this node; retry")
	// ErrStopped: the store is closing.
	ErrStopped error = errkind.New(errkind.ShuttingDown, "raft store is shutting down")
	// ErrProposalDropped: raft dropped the proposal or a new leader replaced
	// its log entry; it was not applied.
	ErrProposalDropped error = errkind.New(errkind.Retryable, "raft proposal dropped (leader change?); retry")
	// ErrGroupRemoved: the group was destroyed on this store (tombstoned).
	ErrGroupRemoved error = errkind.New(errkind.Retryable, "raft group was removed from this node; retry")
)
