package pgerr

import (
	"fmt"
	"strings"
)

// Def declares one client-facing error: a stable name, its SQLSTATE and
// the format of its message, and of its hint when every occurrence has
// one. Code builds errors from the table by name (StreamNotFound.New(n)),
// so the words a client sees for one condition are written once.
type Def struct {
	Name   string // snake_case, unique
	Code   string // SQLSTATE
	Format string // message; its verbs take New's first arguments
	Hint   string // "" or the hint; its verbs take the arguments after the message's

	nargs int // verbs in Format
}

// table holds every Def, in declaration order (for tests).
var table []*Def

func def(name, code, format, hint string) *Def {
	d := &Def{Name: name, Code: code, Format: format, Hint: hint, nargs: countVerbs(format)}
	table = append(table, d)
	return d
}

// New returns the error, its message (and hint) formatted from args.
func (d *Def) New(args ...any) *Error {
	n := min(d.nargs, len(args))
	e := &Error{Code: d.Code, Message: fmt.Sprintf(d.Format, args[:n]...)}
	if d.Hint != "" {
		e.Hint = fmt.Sprintf(d.Hint, args[n:]...)
	} else if n < len(args) {
		e.Message = fmt.Sprintf(d.Format, args...) // shows the extra arguments, as fmt does
	}
	return e
}

// countVerbs counts the formatting verbs in a format ("%%" is none).
func countVerbs(format string) int {
	n := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		if i+1 < len(format) && format[i+1] == '%' {
			i++
			continue
		}
		n++
	}
	return n
}

// The client-facing errors, by name. Add an error here when a condition
// is reported from more than one place, or when code elsewhere needs to
// know it (then it is matched by SQLSTATE, which is what survives a trip
// between nodes).
var (
	// Objects.

	StreamNotFound    = def("stream_not_found", UndefinedTable, "stream %q does not exist", "")
	ViewNotFound      = def("view_not_found", UndefinedTable, "view %q does not exist", "")
	RelationNotFound  = def("relation_not_found", UndefinedTable, "relation %q does not exist", "")
	RelationExists    = def("relation_exists", DuplicateTable, "relation %q already exists (a %s)", "")
	NotThatKind       = def("not_that_kind", WrongObjectType, "%q is a %s", "Use DROP %s to remove a %s.")
	ViewsDependOn     = def("views_depend_on_stream", DependentObjects, "cannot drop stream %q because views depend on it: %s", "Use DROP ... CASCADE to drop the dependent views too.")
	StreamRecreated   = def("stream_recreated", SerializationFailure, "stream %q was dropped and created again while the view was being created; retry", "")
	TypeNotFound      = def("type_not_found", UndefinedObject, "type %q does not exist", "")
	ColumnRepeated    = def("column_repeated", DuplicateColumn, "column %q specified more than once", "")
	StreamColNotFound = def("stream_column_not_found", UndefinedColumn, "column %q of stream %q does not exist", "")

	// Nodes, shards and operations.

	NodeNotFound      = def("node_not_found", UndefinedObject, "node %q does not exist", "")
	NodeRemoved       = def("node_removed", ObjectNotInPrerequisiteState, "node %q (raft id %d) was removed from the cluster for good", "To bring this machine back, start it with an empty --data-dir: it joins as a new node.")
	NodeHoldsReplicas = def("node_holds_replicas", ObjectInUse, "node %q still holds %d shard replicas", "ALTER NODE '%s' DECOMMISSION moves them off; remove it once that operation is done.")
	ShardNotFound     = def("shard_not_found", UndefinedObject, "shard %d does not exist", "")
	ShardBusy         = def("shard_busy", ObjectInUse, "shard %d already has operation %d (%s) %s", "Wait for it (cairn ops wait %d) or cancel it (CANCEL OPERATION %d).")
	OperationNotFound = def("operation_not_found", UndefinedObject, "operation %d does not exist", "")
	OperationFinished = def("operation_finished", ObjectNotInPrerequisiteState, "operation %d is already %s", "")

	UnknownAction     = def("unknown_admin_action", UndefinedObject, "unknown %s action %q", "")
	NowhereToMove     = def("nowhere_to_move", ObjectNotInPrerequisiteState, "node %q is the only data node in service; there is nowhere to move its %s", "")
	NoReplicaOnNode   = def("no_replica_on_node", UndefinedObject, "node %s holds no replica of shard %d", "")
	NotAVoter         = def("not_a_voter", ObjectNotInPrerequisiteState, "%s holds no voting replica of shard %d", "")
	NotALearner       = def("not_a_learner", ObjectNotInPrerequisiteState, "%s is not a learner of shard %d", "")
	OperationVanished = def("operation_vanished", UndefinedObject, "operation %d vanished", "")
	OperationTimeout  = def("operation_timeout", SerializationFailure, "operation %d did not finish within %s", "")

	// Cluster membership and sessions.

	NodeStarting    = def("node_starting", CannotConnectNow, "node %s is starting", "")
	NodeStopping    = def("node_stopping", AdminShutdown, "node %s is shutting down", "")
	WrongCluster    = def("wrong_cluster", InvalidParameterValue, "node %q belongs to cluster %s, not %s", "")
	NodeIDTaken     = def("node_id_taken", DuplicateObject, "node id %q is taken by a live node at %s; pick another --node-id", "")
	NodeGone        = def("node_gone", CannotConnectNow, "node %q was removed from the cluster and accepts no sessions", "Connect to another node; stop this one.")
	NodeNoSessions  = def("node_no_sessions", CannotConnectNow, "node %q is %s and accepts no new sessions", "Connect to another node (SHOW NODES lists them), or ALTER NODE '%s' RECOVER.")
	MetaNoLeaderYet = def("meta_no_leader_yet", CannotConnectNow, "the meta group has no leader yet", "")
	NoLiveDataNode  = def("no_live_data_node", CannotConnectNow, "no live data node to place shards on", "")
	TooFewDataNodes = def("too_few_data_nodes", InvalidParameterValue, "replicas=%d needs at least %d data nodes; the cluster has %d", "")
	TooFewLiveNodes = def("too_few_live_nodes", InvalidParameterValue, "replicas=%d needs %d live data nodes; %d of the cluster's %d data nodes are live", "")

	// Settings.

	SettingBodyNeeded = def("setting_body_needed", InvalidParameterValue, `the request body needs {"name": "...", "value": "..."}`, "")

	UnknownClusterSetting = def("unknown_cluster_setting", UndefinedObject, "unrecognized cluster setting %q", "")
	UnknownParameter      = def("unknown_parameter", UndefinedObject, "unrecognized configuration parameter %q", "")
	BadParameter          = def("bad_parameter_value", InvalidParameterValue, "invalid value for parameter %q: %q", "")

	// Availability: the statement did not happen; the client may retry.

	MetaNoLeader     = def("meta_no_leader", SerializationFailure, "the meta group has no leader right now; retry", "")
	MetaUnconfirmed  = def("meta_unconfirmed", SerializationFailure, "the catalog change was not confirmed within 10s (the meta group may have lost its quorum); check and retry", "")
	GroupNoLeader    = def("group_no_leader", SerializationFailure, "group %d has no leader after %s; retry", "")
	StoreRetry       = def("store_retry", SerializationFailure, "%v; retry the statement", "")
	ShardNotReady    = def("shard_not_ready", SerializationFailure, "shard group %d is not ready yet; retry", "")
	NoLeaderToAppend = def("no_leader_to_append", SerializationFailure, "stream shard group %d has no leader this node can reach (no quorum?); retry", "")
	NoReplicas       = def("no_replicas", SerializationFailure, "stream shard group %d has no replicas (dropped?)", "")
	ShardMoved       = def("shard_moved", SerializationFailure, "the shard moved or its object was dropped meanwhile (%v); retry the statement", "")
	NodeShuttingDown = def("node_shutting_down", AdminShutdown, "the node is shutting down", "")
	AdminTerminated  = def("admin_terminated", AdminShutdown, "terminating connection due to administrator command", "")

	// Statements and sessions.

	CanceledByUser   = def("canceled_by_user", QueryCanceled, "canceling statement due to user request", "")
	StatementTimeout = def("statement_timeout", QueryCanceled, "canceling statement due to statement timeout", "")
	PreparedNotFound = def("prepared_statement_not_found", InvalidSQLStatementName, "prepared statement \"%s\" does not exist", "")
	PreparedExists   = def("prepared_statement_exists", DuplicatePreparedStatement, "prepared statement \"%s\" already exists", "")
	PortalNotFound   = def("portal_not_found", InvalidCursorName, "portal \"%s\" does not exist", "")
	BadFormatCode    = def("unsupported_format_code", ProtocolViolation, "unsupported format code: %d", "")
	ServerStopping   = def("server_shutting_down", CannotConnectNow, "the database system is shutting down", "")
	TxAborted        = def("transaction_aborted", InFailedTx, "current transaction is aborted, commands ignored until end of transaction block", "")

	// Internal: a bug or a broken invariant, reported rather than hidden.

	CatalogUndecodable = def("catalog_undecodable", InternalError, "catalog: undecodable command at index %d: %v", "")
	CatalogUnknownCmd  = def("catalog_unknown_command", InternalError, "catalog: unknown command %q", "")
	CatalogIncomplete  = def("catalog_incomplete_command", InternalError, "catalog: command %q without its %s", "")
	CatalogIO          = def("catalog_io", IOError, "catalog: %v", "")
)

// verbsOK reports whether a format uses only plain verbs (no argument
// indexes or * widths), which New's argument split relies on.
func verbsOK(format string) bool {
	return !strings.Contains(format, "%[") && !strings.Contains(format, "*")
}
