package pgerr

import "fmt"

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

// The client-facing errors, by name: every error Cairn builds for a client
// is declared here and built with New (pgerr.NodeNotFound.New(name)), so
// the words for one condition are written once and can be reviewed in one
// place. Code that must recognise one matches its Code (a SQLSTATE is what
// survives a trip between nodes); retries key on errkind kinds instead.
var (
	// Objects.

	StreamNotFound            = def("stream_not_found", UndefinedTable, "stream %q does not exist", "")
	ViewNotFound              = def("view_not_found", UndefinedTable, "view %q does not exist", "")
	ObjectNotFound            = def("object_not_found", UndefinedTable, "%s %q does not exist", "")
	RelationNotFound          = def("relation_not_found", UndefinedTable, "relation %q does not exist", "")
	RelationExists            = def("relation_exists", DuplicateTable, "relation %q already exists (a %s)", "")
	NotThatKind               = def("not_that_kind", WrongObjectType, "%q is a %s", "Use DROP %s to remove a %s.")
	ViewsDependOn             = def("views_depend_on_stream", DependentObjects, "cannot drop stream %q because views depend on it: %s", "Use DROP ... CASCADE to drop the dependent views too.")
	StreamRecreated           = def("stream_recreated", SerializationFailure, "stream %q was dropped and created again while the view was being created; retry", "")
	TypeNotFound              = def("type_not_found", UndefinedObject, "type %q does not exist", "")
	ColumnRepeated            = def("column_repeated", DuplicateColumn, "column %q specified more than once", "")
	StreamColNotFound         = def("stream_column_not_found", UndefinedColumn, "column %q of stream %q does not exist", "")
	QualifiedRelationNotFound = def("qualified_relation_not_found", UndefinedTable, "relation \"%s.%s\" does not exist", "")
	SystemTableNotFound       = def("system_table_not_found", UndefinedTable, "relation \"%s.%s\" does not exist", "cairn_cluster has: nodes, shards, operations, settings, streams, views, leader_terms.")

	// Nodes, shards and operations.

	NodeNotFound      = def("node_not_found", UndefinedObject, "node %q does not exist", "")
	NodeRemoved       = def("node_removed", ObjectNotInPrerequisiteState, "node %q (raft id %d) was removed from the cluster for good", "To bring this machine back, start it with an empty --data-dir: it joins as a new node.")
	NodeHoldsReplicas = def("node_holds_replicas", ObjectInUse, "node %q still holds %d shard replicas", "ALTER NODE '%s' DECOMMISSION moves them off; remove it once that operation is done.")
	ShardNotFound     = def("shard_not_found", UndefinedObject, "shard %d does not exist", "")
	ShardBusy         = def("shard_busy", ObjectInUse, "shard %d already has operation %d (%s) %s", "Wait for it (cairn ops wait %d) or cancel it (CANCEL OPERATION %d).")
	OperationNotFound = def("operation_not_found", UndefinedObject, "operation %d does not exist", "")
	OperationFinished = def("operation_finished", ObjectNotInPrerequisiteState, "operation %d is already %s", "")

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

	UnknownClusterSetting = def("unknown_cluster_setting", UndefinedObject, "unrecognized cluster setting %q", "")
	UnknownParameter      = def("unknown_parameter", UndefinedObject, "unrecognized configuration parameter %q", "")
	BadParameter          = def("bad_parameter_value", InvalidParameterValue, "invalid value for parameter %q: %q", "")

	// Availability: the statement did not happen; the client may retry.

	MetaNoLeader     = def("meta_no_leader", SerializationFailure, "the meta group has no leader right now; retry", "")
	MetaUnconfirmed  = def("meta_unconfirmed", SerializationFailure, "the catalog change was not confirmed within %s (the meta group may have lost its quorum); check and retry", "")
	GroupNoLeader    = def("group_no_leader", SerializationFailure, "group %d has no leader after %s; retry", "")
	StoreRetry       = def("store_retry", SerializationFailure, "%v; retry the statement", "")
	ShardNotReady    = def("shard_not_ready", SerializationFailure, "shard group %d is not ready yet; retry", "")
	NoLeaderToAppend = def("no_leader_to_append", SerializationFailure, "stream shard group %d has no leader this node can reach (no quorum?); retry", "")
	NoReplicas       = def("no_replicas", SerializationFailure, "stream shard group %d has no replicas (dropped?)", "")
	ShardMoved       = def("shard_moved", SerializationFailure, "the shard moved or its object was dropped meanwhile (%v); retry the statement", "")
	NodeShuttingDown = def("node_shutting_down", AdminShutdown, "the node is shutting down", "")
	AdminTerminated  = def("admin_terminated", AdminShutdown, "terminating connection due to administrator command", "")

	// Cancels and transactions.

	CanceledByUser   = def("canceled_by_user", QueryCanceled, "canceling statement due to user request", "")
	StatementTimeout = def("statement_timeout", QueryCanceled, "canceling statement due to statement timeout", "")
	TxAborted        = def("transaction_aborted", InFailedTx, "current transaction is aborted, commands ignored until end of transaction block", "")

	// Cluster administration: ALTER NODE, ALTER SHARD, operations.

	NodeAlreadyDecommissioned = def("node_already_decommissioned", ObjectNotInPrerequisiteState, "node %q is already decommissioned", "")
	NodeNotRemovable          = def("node_not_removable", ObjectNotInPrerequisiteState, "node %q is %s; only a decommissioned or dead node can be removed", "")
	NodeVotesInMeta           = def("node_votes_in_meta", ObjectInUse, "node %q still votes in the meta group", "")
	AlterNodeUnsupported      = def("alter_node_unsupported", FeatureNotSupported, "ALTER NODE … %s is not supported", "")
	ShardIDNotPositive        = def("shard_id_not_positive", InvalidParameterValue, "shard id must be positive, got %d", "")
	NodeHoldsNoReplica        = def("node_holds_no_replica", ObjectNotInPrerequisiteState, "node %q holds no replica of shard %d; its replicas are on %s", "")
	LeaderTargetNotLive       = def("leader_target_not_live", ObjectNotInPrerequisiteState, "node %q is %s; leadership can only move to a live node", "")
	MetaPlacesItself          = def("meta_places_itself", FeatureNotSupported, "the meta group places its replicas itself (every live node holds one)", "")
	RecoverTargetNotInService = def("recover_target_not_in_service", ObjectNotInPrerequisiteState, "node %q is %s; a replica can only be recovered on a live data node in service", "")
	AlterShardUnsupported     = def("alter_shard_unsupported", FeatureNotSupported, "ALTER SHARD … %s is not supported", "")
	LeadersTargetNotInService = def("leaders_target_not_in_service", ObjectNotInPrerequisiteState, "node %q is %s; leaders can only move to a live node in service", "")
	AdminOneStatement         = def("admin_one_statement", SyntaxError, "the admin API runs exactly one statement, got %d", "")
	AdminNoCopy               = def("admin_no_copy", FeatureNotSupported, "COPY is not available through the admin API; use a PostgreSQL client or POST /v1/streams/…/ingest", "")
	NothingToRecoverFrom      = def("nothing_to_recover_from", ObjectNotInPrerequisiteState, "no live node holds a replica of shard %d: nothing to recover from", "")
	NothingToForce            = def("nothing_to_force", ObjectNotInPrerequisiteState, "shard %d has a leader (%s): a quorum of its replicas is alive, nothing to force", "")
	MetaReplicaLeads          = def("meta_replica_leads", ObjectNotInPrerequisiteState, "the meta replica on %s leads; refusing to reset it", "")
	DestroyLeader             = def("destroy_leader", ObjectNotInPrerequisiteState, "the replica of shard %d on %s leads it; refusing to destroy it", "")
	RemoveLeaderRetry         = def("remove_leader_retry", SerializationFailure, "the leader of shard %d is the replica to remove; leadership is moving off it, retry", "")
	UnknownShardAction        = def("unknown_shard_action", FeatureNotSupported, "unknown shard action %q", "")
	ShardAdminFailed          = def("shard_admin_failed", SerializationFailure, "shard %d: %v", "")
	NoReplacementNode         = def("no_replacement_node", ObjectNotInPrerequisiteState, "no live data node can take a replica of shard %d (it is on %s)", "")
	CatchUpTimeout            = def("catch_up_timeout", SerializationFailure, "the replica on %s did not catch up within %s", "")
	LeaderHandoffFailed       = def("leader_handoff_failed", SerializationFailure, "shard %d did not hand its leadership to %s after 5 attempts", "")
	EvacuationStopped         = def("evacuation_stopped", ObjectNotInPrerequisiteState, "node %q is %s now; stopped moving replicas off it", "")
	NoLongerDraining          = def("no_longer_draining", ObjectNotInPrerequisiteState, "node %q is no longer draining", "")
	StillLeading              = def("still_leading", SerializationFailure, "node %q still leads shards after %s (no other live voter?)", "")
	NodeNotBack               = def("node_not_back", SerializationFailure, "node %q did not come back within %s", "")
	LeaderBalanceTimeout      = def("leader_balance_timeout", SerializationFailure, "%s leads %d of the %d shards it holds after %s", "")
	OperationEnded            = def("operation_ended", SerializationFailure, "operation %d %s: %s", "")

	// Statements: DDL options, INSERT, COPY, session parameters.

	IntOptionRange            = def("int_option_range", InvalidParameterValue, "%s must be an integer between %d and %d, got %q", "")
	UnknownOption             = def("unknown_option", InvalidParameterValue, "unrecognized %s option %q", "")
	ForeignServerUnsupported  = def("foreign_server_unsupported", FeatureNotSupported, "foreign server %q is not supported", "")
	StreamWithoutColumns      = def("stream_without_columns", SyntaxError, "a stream needs at least one column", "")
	ShardKeyNotAColumn        = def("shard_key_not_a_column", UndefinedColumn, "shard_key %q is not a column of stream %q", "")
	BadRetention              = def("bad_retention", InvalidParameterValue, "retention must be an interval such as '7 days', got %q", "")
	ViewNotFromStream         = def("view_not_from_stream", FeatureNotSupported, "a continuous view must read FROM a stream", "")
	TooFewNodesForReplicas    = def("too_few_nodes_for_replicas", InvalidParameterValue, "num_replicas=%d needs at least %d data nodes; the cluster has %d", "")
	BadViewStart              = def("bad_view_start", InvalidParameterValue, "start must be 'earliest' or 'latest', got %q", "")
	BadCheckpointInterval     = def("bad_checkpoint_interval", InvalidParameterValue, "checkpoint_interval must be a duration such as '5s', got %q", "")
	UnknownViewSetting        = def("unknown_view_setting", InvalidParameterValue, "unrecognized setting %q", "")
	UnknownCheckpointEntry    = def("unknown_checkpoint_entry", InvalidParameterValue, "checkpoint_settings: unrecognized entry %q", "")
	BadCheckpointValue        = def("bad_checkpoint_value", InvalidParameterValue, "checkpoint_settings: %s must be one of %s, got %q", "")
	ParameterReadOnly         = def("parameter_read_only", InvalidParameterValue, "parameter %q cannot be changed", "")
	DurationSettingRange      = def("duration_setting_range", InvalidParameterValue, "%s must be a duration between %s and %s such as '3s' or '500ms', got %q", "")
	ShowUnsupported           = def("show_unsupported", FeatureNotSupported, "SHOW %s is not supported yet", "")
	StreamChangedSincePrepare = def("stream_changed_since_prepare", FeatureNotSupported, "cached plan must not change result type: stream %q changed since the statement was prepared", "")
	NotInTxBlock              = def("not_in_tx_block", ActiveSQLTransaction, "%s cannot run inside a transaction block", "")
	InsertIntoView            = def("insert_into_view", WrongObjectType, "cannot insert into view %q", "")
	InsertArity               = def("insert_arity", SyntaxError, "INSERT has %s expressions than target columns", "")
	TxTooManyEvents           = def("tx_too_many_events", ProgramLimitExceeded, "a transaction block may buffer at most %d events; this one has %d", "")
	BadCopyOption             = def("bad_copy_option", SyntaxError, "invalid value for COPY option %q", "")
	CopyCharTooLong           = def("copy_char_too_long", FeatureNotSupported, "COPY %s must be a single one-byte character", "")
	UnknownCopyFormat         = def("unknown_copy_format", InvalidParameterValue, "COPY format %q not recognized", "")
	CopyHeaderNotBool         = def("copy_header_not_bool", InvalidParameterValue, "header requires a Boolean value", "")
	CopyEncoding              = def("copy_encoding", InvalidParameterValue, "COPY encoding %q is not supported: only UTF8", "")
	UnknownCopyOption         = def("unknown_copy_option", SyntaxError, "option %q not recognized", "")
	ParameterNotBool          = def("parameter_not_bool", InvalidParameterValue, "parameter %q requires a Boolean value", "")
	TimeZoneUnsupported       = def("time_zone_unsupported", InvalidParameterValue, "time zone %q is not supported: Cairn sessions run in UTC", "")
	ClientEncoding            = def("client_encoding", InvalidParameterValue, "client encoding %q is not supported: only UTF8", "")

	// The HTTP API: request bodies, names and routes.

	NameEmpty                  = def("name_empty", InvalidParameterValue, "%s must not be empty", "")
	NameNotUTF8                = def("name_not_utf8", CharacterNotInRepertoire, "%s is not valid UTF-8", "")
	NameHasNUL                 = def("name_has_nul", InvalidParameterValue, "%s must not contain a NUL byte", "")
	BadIDParam                 = def("bad_id_param", InvalidParameterValue, "invalid %s id %q: must be a positive integer", "")
	BodyReadFailed             = def("body_read_failed", InvalidParameterValue, "reading the request body: %v", "")
	BodyTooLarge               = def("body_too_large", InvalidParameterValue, "request body exceeds %d bytes", "")
	BodyOverLimit              = def("body_over_limit", ProgramLimitExceeded, "request body exceeds the limit of %d bytes", "send the events in several requests")
	BodyEmpty                  = def("body_empty", InvalidParameterValue, "request body is empty; send a JSON object", "")
	BadJSONBody                = def("bad_json_body", InvalidParameterValue, "invalid JSON body: %s", "")
	JSONTrailingData           = def("json_trailing_data", InvalidParameterValue, "invalid JSON body: data after the object", "")
	BodyNeedsNode              = def("body_needs_node", InvalidParameterValue, "the request body needs {%q: \"node name\"}", "")
	NoSQLGiven                 = def("no_sql_given", SyntaxError, "no SQL statement given", "")
	BadSettingName             = def("bad_setting_name", InvalidParameterValue, "invalid setting name %q", "")
	SettingBodyNeeded          = def("setting_body_needed", InvalidParameterValue, `the request body needs {"name": "...", "value": "..."}`, "")
	BadSettingValue            = def("bad_setting_value", InvalidParameterValue, `"value" must be a JSON string, boolean or number`, "")
	SettingValueNUL            = def("setting_value_nul", InvalidParameterValue, `"value" must not contain a NUL byte`, "")
	NoAdminRoute               = def("no_admin_route", UndefinedObject, "no admin API route %s %s", "")
	MethodNotAllowed           = def("method_not_allowed", FeatureNotSupported, "method %s is not allowed on %s", "")
	UnknownAction              = def("unknown_admin_action", UndefinedObject, "unknown %s action %q", "")
	ContentEncodingUnsupported = def("content_encoding_unsupported", FeatureNotSupported, "Content-Encoding %q is not supported; send plain NDJSON", "")
	IngestBodyReadFailed       = def("ingest_body_read_failed", ConnectionFailure, "reading request body: %v", "")

	// The PostgreSQL wire protocol and COPY.

	MessageTooLarge         = def("message_too_large", ProgramLimitExceeded, "message of %d bytes exceeds the maximum message size of %d bytes", "")
	BadFrontendMessage      = def("bad_frontend_message", ProtocolViolation, "invalid frontend message: %v", "")
	FunctionCallUnsupported = def("function_call_unsupported", FeatureNotSupported, "function call messages are not supported", "")
	UnexpectedMessage       = def("unexpected_message", ProtocolViolation, "unexpected message %T", "")
	NoParameter1            = def("no_parameter_1", UndefinedParameter, "there is no parameter $1", "")
	MultiCommandPrepare     = def("multi_command_prepare", SyntaxError, "cannot insert multiple commands into a prepared statement", "")
	PreparedNotFound        = def("prepared_statement_not_found", InvalidSQLStatementName, "prepared statement \"%s\" does not exist", "")
	PreparedExists          = def("prepared_statement_exists", DuplicatePreparedStatement, "prepared statement \"%s\" already exists", "")
	PortalNotFound          = def("portal_not_found", InvalidCursorName, "portal \"%s\" does not exist", "")
	BadFormatCode           = def("unsupported_format_code", ProtocolViolation, "unsupported format code: %d", "")
	ServerStopping          = def("server_shutting_down", CannotConnectNow, "the database system is shutting down", "")
	BindParamCount          = def("bind_param_count", ProtocolViolation, "bind message supplies %d parameters, but prepared statement \"%s\" requires %d", "")
	BindParamFormats        = def("bind_param_formats", ProtocolViolation, "bind message has %d parameter formats but %d parameters", "")
	BindResultFormats       = def("bind_result_formats", ProtocolViolation, "bind message has %d result formats but query has %d columns", "")
	CopyStartedTwice        = def("copy_started_twice", ProtocolViolation, "COPY started twice in one statement", "")
	CopyFormatUnsupported   = def("copy_format_unsupported", FeatureNotSupported, "COPY format %d is not supported", "")
	CopyUnexpectedEOF       = def("copy_unexpected_eof", BadCopyFileFormat, "unexpected EOF in COPY data", "")
	CopyRowTooLarge         = def("copy_row_too_large", ProgramLimitExceeded, "COPY row exceeds the maximum size of %d bytes", "")
	CopyFailed              = def("copy_failed", QueryCanceled, "COPY from stdin failed: %s", "")
	CopyUnexpectedMessage   = def("copy_unexpected_message", ProtocolViolation, "unexpected message type 0x%02X during COPY from stdin", "")
	CopyBadSignature        = def("copy_bad_signature", BadCopyFileFormat, "COPY file signature not recognized", "")
	CopyWithOIDs            = def("copy_with_oids", BadCopyFileFormat, "COPY binary data with OIDs is not supported", "")
	CopyFieldCount          = def("copy_field_count", BadCopyFileFormat, "row field count is %d, expected %d", "")
	CopyFieldSize           = def("copy_field_size", BadCopyFileFormat, "invalid field size", "")
	CopyMissingColumn       = def("copy_missing_column", BadCopyFileFormat, "missing data for column %d", "")
	CopyExtraData           = def("copy_extra_data", BadCopyFileFormat, "extra data after last expected column", "")
	CopyUnterminatedQuote   = def("copy_unterminated_quote", BadCopyFileFormat, "unterminated CSV quoted field", "")

	// Expressions and functions.

	OperatorNotFound        = def("operator_not_found", UndefinedFunction, "operator does not exist: %s %s %s", "No operator matches the given name and argument types. You might need to add explicit type casts.")
	UnaryOperatorNotFound   = def("unary_operator_not_found", UndefinedFunction, "operator does not exist: %s %s", "No operator matches the given name and argument type. You might need to add an explicit type cast.")
	FunctionNotFound        = def("function_not_found", UndefinedFunction, "function %s does not exist", "No function matches the given name and argument types. You might need to add explicit type casts.")
	UnsupportedOperator     = def("unsupported_operator", FeatureNotSupported, "unsupported operator %s", "")
	UnsupportedExpression   = def("unsupported_expression", FeatureNotSupported, "unsupported expression %T", "")
	UnsupportedLiteral      = def("unsupported_literal", FeatureNotSupported, "unsupported literal", "")
	SubqueryInExpression    = def("subquery_in_expression", FeatureNotSupported, "subqueries in expressions are not supported", "")
	ParameterNotFound       = def("parameter_not_found", UndefinedParameter, "there is no parameter $%d", "")
	ColumnNotFound          = def("column_not_found", UndefinedColumn, "column %q does not exist", "")
	QualifiedColumnNotFound = def("qualified_column_not_found", UndefinedColumn, "column %s.%s does not exist", "")
	AmbiguousColumnRef      = def("ambiguous_column_reference", AmbiguousColumn, "column reference %q is ambiguous", "")
	MissingFromEntry        = def("missing_from_entry", UndefinedTable, "missing FROM-clause entry for table %q", "")
	ArgumentNotBoolean      = def("argument_not_boolean", DatatypeMismatch, "argument of %s must be type boolean, not type %s", "")
	ColumnTypeMismatch      = def("column_type_mismatch", DatatypeMismatch, "column is of type %s but expression is of type %s", "You will need to rewrite or cast the expression.")
	ExpressionTypeMismatch  = def("expression_type_mismatch", DatatypeMismatch, "expression of type %s cannot be used as type %s", "You will need to rewrite or cast the expression.")
	TypesCannotMatch        = def("types_cannot_match", DatatypeMismatch, "%s types %s and %s cannot be matched", "")
	NestedAggregate         = def("nested_aggregate", GroupingError, "aggregate function calls cannot be nested", "")
	AggregateNotAllowed     = def("aggregate_not_allowed", GroupingError, "aggregate functions are not allowed in %s", "")
	DivideByZero            = def("division_by_zero", DivisionByZero, "division by zero", "")
	ZeroToNegativePower     = def("zero_to_negative_power", "2201F", "zero raised to a negative power is undefined", "")
	ComplexPowerResult      = def("complex_power_result", "2201F", "a negative number raised to a non-integer power yields a complex result", "")
	SqrtOfNegative          = def("sqrt_of_negative", "2201F", "cannot take square root of a negative number", "")
	LogOfNonPositive        = def("log_of_non_positive", "2201E", "cannot take logarithm of a non-positive number", "")
	NegativeSubstringLength = def("negative_substring_length", "22011", "negative substring length not allowed", "")
	UnitNotRecognized       = def("unit_not_recognized", InvalidParameterValue, "unit %q not recognized for type %s", "")
	TypeOutOfRange          = def("type_out_of_range", NumericOutOfRange, "%s out of range", "")
	FloatOverflow           = def("float_overflow", NumericOutOfRange, "value out of range: overflow", "")
	TimestampOutOfRange     = def("timestamp_out_of_range", DatetimeFieldOverflow, "timestamp out of range", "")

	// Types and casts.

	CannotAssign             = def("cannot_assign", DatatypeMismatch, "cannot assign a value of type %s to type %s", "You will need to rewrite or cast the expression.")
	CannotCast               = def("cannot_cast", "42846", "cannot cast type %s to %s", "")
	InvalidCastInput         = def("invalid_cast_input", InvalidTextRep, "invalid input syntax for type %s: %q", "")
	NumericFieldOverflow     = def("numeric_field_overflow", NumericOutOfRange, "numeric field overflow", "")
	CannotReadType           = def("cannot_read_type", InvalidTextRep, "cannot read values of type %s", "")
	InvalidUTF8              = def("invalid_utf8", CharacterNotInRepertoire, "invalid byte sequence for encoding \"UTF8\": %s", "")
	InvalidTextInput         = def("invalid_text_input", InvalidTextRep, "invalid input syntax for type %s: \"%s\"", "")
	InvalidDatetimeInput     = def("invalid_datetime_input", InvalidDatetimeFormat, "invalid input syntax for type %s: \"%s\"", "")
	ValueOutOfRange          = def("value_out_of_range", NumericOutOfRange, "value \"%s\" is out of range for type %s", "")
	InputOutOfRange          = def("input_out_of_range", NumericOutOfRange, "\"%s\" is out of range for type %s", "")
	NumericOverflow          = def("numeric_overflow", NumericOutOfRange, "value overflows numeric format", "")
	DatetimeFieldOutOfRange  = def("datetime_field_out_of_range", DatetimeFieldOverflow, "date/time field value out of range: \"%s\"", "")
	TimestampInputOutOfRange = def("timestamp_input_out_of_range", DatetimeFieldOverflow, "timestamp out of range: \"%s\"", "")
	DateInputOutOfRange      = def("date_input_out_of_range", DatetimeFieldOverflow, "date out of range: \"%s\"", "")
	IntervalFieldOutOfRange  = def("interval_field_out_of_range", DatetimeFieldOverflow, "interval field value out of range: \"%s\"", "")
	BadBinaryLength          = def("bad_binary_length", "22P03", "incorrect binary data format: %d bytes for type %s", "")
	BadNumericSign           = def("bad_numeric_sign", "22P03", "invalid sign in external \"numeric\" value", "")
	BadNumericDigit          = def("bad_numeric_digit", "22P03", "invalid digit in external \"numeric\" value", "")

	// Queries: SELECT lists, GROUP BY, ORDER BY, LIMIT and OFFSET.

	PositionNotInSelectList = def("position_not_in_select_list", InvalidColumnRef, "%s position %s is not in select list", "")
	AmbiguousOrderBy        = def("ambiguous_order_by", AmbiguousColumn, "ORDER BY %q is ambiguous", "")
	DistinctOrderBy         = def("distinct_order_by", InvalidColumnRef, "for SELECT DISTINCT, ORDER BY expressions must appear in select list", "")
	ArgumentNotBigint       = def("argument_not_bigint", DatatypeMismatch, "argument of %s must be type bigint, not type %s", "")
	NegativeLimit           = def("negative_limit", "2201W", "LIMIT must not be negative", "")
	NegativeOffset          = def("negative_offset", "2201X", "OFFSET must not be negative", "")
	ColumnNotGrouped        = def("column_not_grouped", GroupingError, "column %q must appear in the GROUP BY clause or be used in an aggregate function", "")

	// Continuous views.

	ViewUnsupported    = def("view_unsupported", FeatureNotSupported, "%s is not supported in a continuous view", "Put it in the SELECT that reads the view, e.g. SELECT * FROM view ORDER BY ... LIMIT ...")
	ViewMustAggregate  = def("view_must_aggregate", FeatureNotSupported, "continuous views must aggregate; add count(*), sum, min, max or avg (with GROUP BY for per-key rows)", "")
	StarNotAllowedHere = def("star_not_allowed_here", SyntaxError, "syntax error at or near \"*\"", "")
	StarWithoutTables  = def("star_without_tables", SyntaxError, "SELECT * with no tables specified is not valid", "")

	ViewFromSubquery = def("view_from_subquery", FeatureNotSupported, "a continuous view cannot read FROM a subquery", "")
	ViewKeyArity     = def("view_key_arity", InvalidParameterValue, "view key has %d columns, got %d values", "")
	CorruptViewState = def("corrupt_view_state", DataCorrupted, "corrupt encoded view state", "")

	// Replicas and routing: reads and appends that reach no replica, or the wrong one.

	GroupNoReplicas      = def("group_no_replicas", SerializationFailure, "group %d has no replicas (dropped meanwhile?); retry", "")
	NoReplicaAnswered    = def("no_replica_answered", SerializationFailure, "no replica of group %d answered: %v", "Retry; the shard may be failing over.")
	GroupNotOnNode       = def("group_not_on_node", CannotConnectNow, "%s shard group %d is not on this node", "")
	StreamGroupNotOnNode = def("stream_group_not_on_node", SerializationFailure, "stream shard group %d is not on this node; retry", "")
	ReplicaMovedOff      = def("replica_moved_off", SerializationFailure, "the replica of group %d on %s was moved off while it was read; retry", "")
	ReplicaCatchingUp    = def("replica_catching_up", CannotConnectNow, "the replica of group %d on %s is still catching up", "")

	// Internal: a bug or a broken invariant, reported rather than hidden.

	CatalogUndecodable = def("catalog_undecodable", InternalError, "catalog: undecodable command at index %d: %v", "")
	CatalogUnknownCmd  = def("catalog_unknown_command", InternalError, "catalog: unknown command %q", "")
	CatalogIncomplete  = def("catalog_incomplete_command", InternalError, "catalog: command %q without its %s", "")
	Internal           = def("internal", InternalError, "%v", "")
	Panic              = def("panic", InternalError, "internal error: %v", "")
	BadReply           = def("bad_internal_reply", InternalError, "%s reply: %v", "")
	BadApplyResult     = def("bad_apply_result", InternalError, "catalog: unexpected apply result %T", "")
	UnknownRPC         = def("unknown_internal_method", FeatureNotSupported, "unknown internal method %q", "")
	UnsupportedStmt    = def("unsupported_statement", FeatureNotSupported, "statement %T is not supported", "")
	CatalogIO          = def("catalog_io", IOError, "catalog: %v", "")
	AppendFailed       = def("append_failed", InternalError, "append: %v", "")
	AppendBadResult    = def("append_bad_result", InternalError, "append: unexpected result %T", "")

	// issue 10: aggregates
	NotAnAggregate        = def("not_an_aggregate", WrongObjectType, "%s specified, but %s is not an aggregate function", "")
	WithinGroupRequired   = def("within_group_required", WrongObjectType, "WITHIN GROUP is required for ordered-set aggregate %s", "Add WITHIN GROUP (ORDER BY x) after the call, e.g. percentile_cont(0.5) WITHIN GROUP (ORDER BY x).")
	WithinGroupNotAllowed = def("within_group_not_allowed", WrongObjectType, "%s is not an ordered-set aggregate, so it cannot have WITHIN GROUP", "")
	DistinctWithinGroup   = def("distinct_within_group", FeatureNotSupported, "cannot use DISTINCT with WITHIN GROUP", "")
	AggDirectArgNotConst  = def("aggregate_direct_arg_not_constant", FeatureNotSupported, "the %s argument of %s must be a constant", "Write it as a literal, e.g. 0.5 or 12.")
	PercentileRange       = def("percentile_out_of_range", InvalidParameterValue, "percentile value %v is not between 0 and 1", "")
	AggNotInView          = def("aggregate_not_in_view", FeatureNotSupported, "%s is not supported in a continuous view", "%s")
	ByteaBadHexDigit      = def("bytea_bad_hex_digit", InvalidParameterValue, "invalid hexadecimal digit: %q", "Write bytea as \\x followed by pairs of hex digits, e.g. '\\x0aff'.")
	ByteaOddHex           = def("bytea_odd_hex", InvalidParameterValue, "invalid hexadecimal data: odd number of digits", "")
	ByteaStreamColumn     = def("bytea_stream_column", FeatureNotSupported, "column %q: bytea stream columns are not supported", "bytea values come from sketch aggregates (hll_agg, dist_agg); store raw bytes as text, e.g. hex.")
	NotASketch            = def("not_a_sketch", InvalidParameterValue, "%s: the value is not a %s sketch", "Pass a value made by the matching aggregate: hll_agg for HyperLogLog, dist_agg for t-digest.")
	SketchParam           = def("sketch_parameter", InvalidParameterValue, "%s", "")
	JSONNullKey           = def("json_null_key", "22004", "field name must not be null", "")
	FirstValuesRange      = def("first_values_range", InvalidParameterValue, "first_values count %d is out of range: valid range is 1..%d", "")
	CombineUnsupported    = def("combine_unsupported", FeatureNotSupported, "combine() is not supported: Cairn reads a view's finalized rows, not its partial states", "Aggregate the view's columns instead, e.g. SELECT region, sum(n) FROM v GROUP BY region.")

	// issue 10: exact numeric

	NumericNaNToInt       = def("numeric_nan_to_int", FeatureNotSupported, "cannot convert NaN to %s", "")
	NumericInfToInt       = def("numeric_inf_to_int", FeatureNotSupported, "cannot convert infinity to %s", "")
	NumericBadTypmod      = def("numeric_bad_typmod", InvalidParameterValue, "invalid NUMERIC type modifier", "Write numeric(precision) or numeric(precision, scale).")
	NumericPrecisionRange = def("numeric_precision_range", InvalidParameterValue, "NUMERIC precision %d must be between 1 and 1000", "")
	NumericScaleRange     = def("numeric_scale_range", InvalidParameterValue, "NUMERIC scale %d must be between -1000 and 1000", "")
	LogOfNegative         = def("log_of_negative", "2201E", "cannot take logarithm of a negative number", "")
	LogOfZero             = def("log_of_zero", "2201E", "cannot take logarithm of zero", "")

	// issue 10: json/jsonb

	JSONNulEscape            = def("json_nul_escape", "22P05", "unsupported Unicode escape sequence", "")
	BadJSONBVersion          = def("bad_jsonb_version", "22P03", "unsupported jsonb version number", "")
	JSONArrayLengthOf        = def("json_array_length_of", InvalidParameterValue, "cannot get array length of %s", "")
	MalformedArray           = def("malformed_array", InvalidTextRep, "malformed array literal: \"%s\"", "")
	MultiDimArray            = def("multidim_array", FeatureNotSupported, "multidimensional arrays are not supported", "Use a one-dimensional array.")
	WrongArrayElemType       = def("wrong_array_elem_type", "42804", "wrong element type for %s", "")
	EmptyArrayType           = def("empty_array_type", "42P18", "cannot determine type of empty array", "Explicitly cast to the desired type, for example '{}'::integer[].")
	ArraySliceUnsupported    = def("array_slice_unsupported", FeatureNotSupported, "array slices are not supported", "Read single elements, arr[i].")
	FeatureNotSupportedArray = def("array_of_type_unsupported", FeatureNotSupported, "arrays of %s are not supported", "Arrays of boolean, smallint, integer, bigint, real, double precision, numeric and text are.")
	NotAnArray               = def("not_an_array", "42804", "cannot subscript type %s because it does not support subscripting", "")
	ArraySubscriptType       = def("array_subscript_type", "42804", "array subscript must have type integer", "")
	JSONTypeUnknown          = def("json_type_unknown", "42P18", "could not determine data type of the argument", "Cast it, e.g. to_jsonb('text'::text).")

	// issue 10: session settings (TimeZone, DateStyle, search_path, pipelinedb.*)

	TimeZoneInvalid       = def("time_zone_invalid", InvalidParameterValue, "invalid value for parameter \"TimeZone\": %q", "Use an IANA zone name such as 'Europe/Berlin', a number of hours east of UTC such as '-5', a POSIX zone such as 'UTC+3' (hours west), or 'UTC'.")
	DateStyleInvalid      = def("datestyle_invalid", InvalidParameterValue, "invalid value for parameter \"DateStyle\": %q", "Give an output style (ISO, SQL, Postgres, German) and/or a field order (DMY, MDY, YMD; European, US), e.g. 'SQL, DMY'.")
	ExtraFloatDigitsRange = def("extra_float_digits_range", InvalidParameterValue, "%s is outside the valid range for parameter \"extra_float_digits\" (-15 .. 3)", "")
	SchemaNotFound        = def("schema_not_found", "3F000", "schema %q does not exist", "CREATE SCHEMA makes one; \\dn lists them.")
	PipelineDBSetting     = def("pipelinedb_setting", FeatureNotSupported, "PipelineDB setting %q is not supported by Cairn", "")
	ZoneNotRecognized     = def("zone_not_recognized", InvalidParameterValue, "time zone %q not recognized", "Use an IANA zone name such as 'Europe/Berlin' or a POSIX zone such as 'UTC+3' (hours west of UTC).")
	SetLocalUnsupported   = def("set_local_unsupported", FeatureNotSupported, "SET LOCAL is not supported: Cairn has no transaction-scoped settings", "Use SET (for the session) and RESET afterwards.")
	ViewDependsOnTimeZone = def("view_depends_on_time_zone", FeatureNotSupported, "continuous view %q depends on the session time zone (%s), but continuous views are evaluated in UTC", "SET TIME ZONE 'UTC' before CREATE VIEW and write the zone into the definition (e.g. date_trunc('day', ts + interval '2 hours')), or read the view's results from a session in any zone: timestamptz results are shown in the reader's zone.")

	// issue 10: ddl (back-fill wait, stream_targets, CREATE options)

	BackfillWaitCanceled       = def("backfill_wait_canceled", QueryCanceled, "%s while waiting for the back-fill of view %q; the view was created and its back-fill goes on in the background", "")
	StreamTargetNotFound       = def("stream_target_not_found", UndefinedTable, "pipelinedb.stream_targets names view %q, which does not exist", "SET pipelinedb.stream_targets to views over the stream you insert into, or RESET it to feed every view.")
	StreamTargetOtherStream    = def("stream_target_other_stream", InvalidParameterValue, "pipelinedb.stream_targets names view %q, which reads stream %q, not %q", "SET pipelinedb.stream_targets to views over the stream you insert into, or RESET it to feed every view.")
	CheckpointIntervalTwice    = def("checkpoint_interval_twice", InvalidParameterValue, "the checkpoint interval is given twice", "Give it once: SETTINGS checkpoint_interval = 5, or checkpoint_settings = 'interval=5'.")
	ViewReplaceUnsupported     = def("view_replace_unsupported", FeatureNotSupported, "CREATE OR REPLACE cannot replace continuous view %q", "")
	CheckpointEntryUnsupported = def("checkpoint_entry_unsupported", FeatureNotSupported, "checkpoint_settings: %s is not supported: %s", "")

	// issue 10: views over views, transforms, HAVING/ORDER BY/LIMIT in a view

	ViewOverAggregate    = def("view_over_aggregate", FeatureNotSupported, "a view cannot read the aggregating view %q yet", "Define the new view over stream %q (or over a transform: a view without aggregates); output_of() of an aggregating view, its change stream, is not supported yet.")
	OutputOfNotTransform = def("output_of_not_transform", FeatureNotSupported, "output_of(%q): only a transform (a view that does not aggregate) has an output stream here", "Read streams and views by name: FROM %s.")
	TransformClause      = def("transform_clause", FeatureNotSupported, "%s is not supported in a transform (a view that does not aggregate)", "Put it in the SELECT that reads the transform.")
	TransformOption      = def("transform_option", InvalidParameterValue, "option %q does not apply to a transform: a view that does not aggregate keeps no state", "A transform reads its stream's retained history through its query when it is read; remove the option.")
	TransformAction      = def("transform_action", FeatureNotSupported, "WITH (action = %s) is not supported", "CREATE VIEW name AS SELECT ... without aggregates makes a transform that is read through; to feed another stream, INSERT INTO it from the client.")
	ViewsDependOnView    = def("views_depend_on_view", DependentObjects, "cannot drop view %q because other views depend on it: %s", "Use DROP VIEW ... CASCADE to drop the dependent views too.")
	ViewReadsItself      = def("view_reads_itself", UndefinedTable, "relation %q does not exist", "A view cannot read itself; name a stream or another view in FROM.")
	ViewChainChanged     = def("view_chain_changed", SerializationFailure, "view %q was dropped or replaced while a view over it was created; retry", "")
	MaterializedNoState  = def("materialized_transform", FeatureNotSupported, "a materialized view must aggregate: this query keeps no state to materialize", "Use CREATE VIEW for a transform (read through the stream as long as it retains rows), or add aggregates (count(*), ...) with GROUP BY.")
	OutputOfArgs         = def("output_of_args", InvalidParameterValue, "output_of() takes one view name as a string", "Write output_of('view').")
	ViewSubqueryExpr     = def("view_subquery_expr", FeatureNotSupported, "subqueries are not supported in a view over a transform", "")
)

// issue 10: windows
var (
	WindowFixedLength   = def("window_fixed_length", InvalidParameterValue, "%s must have a fixed length: use days, hours, minutes or seconds, not months or years", "")
	WindowNotPositive   = def("window_not_positive", InvalidParameterValue, "%s must be longer than zero", "")
	BadWindowOption     = def("bad_window_option", InvalidParameterValue, "invalid value for %s: %q", "Use an interval such as '5 minutes' or '1 day'.")
	WindowNotTime       = def("window_not_time", DatatypeMismatch, "window column %q is of type %s, not a timestamp", "Use a timestamp or timestamptz column, or arrival_timestamp.")
	WindowTwice         = def("window_twice", FeatureNotSupported, "a continuous view has at most one window", "Use one of: a sliding WHERE t > clock_timestamp() - interval '...', WITH (sw = ...), tumble() or hop().")
	WindowOptionWithout = def("window_option_without", InvalidParameterValue, "option %s applies only to a view with %s", "")
	StepFactorRange     = def("step_factor_range", InvalidParameterValue, "step_factor must be a number from 1 to 50 (percent of the window), not %q", "")
	ViewNowInWhere      = def("view_now_in_where", FeatureNotSupported, "the current time can only be used in a continuous view as a sliding window", "Write WHERE t > clock_timestamp() - interval '5 minutes' (t a timestamp column or arrival_timestamp) or WITH (sw = '5 minutes'); elsewhere it would be evaluated once per event, when the event is folded, not when the view is read.")
	TableFuncInView     = def("table_func_in_view", FeatureNotSupported, "table function %s is not supported in a continuous view", "FROM takes a stream, tumble(stream, t, size) or hop(stream, t, slide, size).")
	WindowArgs          = def("window_args", UndefinedFunction, "%s() takes (stream, time column, interval...)", "tumble(stream, t, interval '1 minute') or hop(stream, t, interval '1 minute' /* slide */, interval '5 minutes' /* size */).")
	HopSlideTooBig      = def("hop_slide_too_big", InvalidParameterValue, "hop() slide must not be longer than the window size", "")
	HopTooManyWindows   = def("hop_too_many_windows", InvalidParameterValue, "hop() puts every event into %d windows; at most 1000", "Use a larger slide.")
	TTLNeedsBoth        = def("ttl_needs_both", InvalidParameterValue, "ttl and ttl_column go together", "WITH (ttl = '1 day', ttl_column = 'minute') expires groups whose minute is older than a day.")
	TTLColumnNotTime    = def("ttl_column_not_time", DatatypeMismatch, "ttl_column %q is of type %s, not a timestamp or date", "")
	TTLColumnNotKey     = def("ttl_column_not_key", InvalidParameterValue, "ttl_column %q is not a group key output by the view", "Name an output column that is one of the GROUP BY keys, of a timestamp type.")
	TableFuncInSelect   = def("table_func_in_select", FeatureNotSupported, "table function %s is not supported in FROM", "tumble() and hop() window continuous views: CREATE VIEW v AS SELECT window_start, count(*) FROM tumble(stream, t, interval '1 minute') GROUP BY window_start.")
	StreamTypmod        = def("stream_typmod", FeatureNotSupported, "column %q: type modifiers such as %s(n) are not supported on stream columns", "Declare the column without the modifier and cast where you read it, e.g. sum(x)::numeric(12, 2) or left(name, 20).")
	TumbleNoWindowKey   = def("tumble_no_window_key", GroupingError, "a view over %s() must GROUP BY window_start or window_end", "")
)

// issue 11: query memory
var (
	QueryMemoryExceeded = def("query_memory_exceeded", OutOfMemory, "query exceeded its memory limit of %s", "Narrow the query (WHERE, LIMIT, fewer groups), or raise the limit: SET max_query_memory = '1GB'.")
)

// issue 11: protocol (cursors, PREPARE, COPY TO)
var (
	PrepareStmtKind       = def("prepare_stmt_kind", SyntaxError, "%s cannot be prepared", "PREPARE takes a query, INSERT or other single statement.")
	ExecuteArgCount       = def("execute_arg_count", SyntaxError, "wrong number of parameters for prepared statement \"%s\": expected %d, got %d", "")
	FetchZero             = def("fetch_zero", FeatureNotSupported, "FETCH 0 (the current row again) is not supported", "Cursors read forward only: FETCH n with n > 0, or ALL.")
	CursorNeedsQuery      = def("cursor_needs_query", SyntaxError, "DECLARE CURSOR needs a query that returns rows, not %s", "")
	CursorOutsideBlock    = def("cursor_outside_block", NoActiveSQLTransaction, "DECLARE CURSOR can only be used in transaction blocks", "Run BEGIN first, or declare the cursor WITH HOLD.")
	CursorExists          = def("cursor_exists", "42P03", "cursor \"%s\" already exists", "")
	CursorNotFound        = def("cursor_not_found", InvalidCursorName, "cursor \"%s\" does not exist", "")
	CopyNeedsQuery        = def("copy_needs_query", FeatureNotSupported, "COPY (%s) TO is not supported: the statement returns no rows", "COPY (query) TO STDOUT takes a SELECT.")
	CopyOutUnavailable    = def("copy_out_unavailable", FeatureNotSupported, "COPY TO STDOUT needs a PostgreSQL client connection", "Use psql, or a driver's COPY support.")
	CopyOptionInBinary    = def("copy_option_in_binary", SyntaxError, "cannot specify %s in BINARY mode", "")
	CopyOptionUnsupported = def("copy_option_unsupported", FeatureNotSupported, "COPY option %s is not supported", "COPY options: format, delimiter, null, header, quote, escape, encoding.")
	CopyOptionCSVOnly     = def("copy_option_csv_only", FeatureNotSupported, "COPY %s available only in CSV mode", "")
	CopyBadDelimiter      = def("copy_bad_delimiter", InvalidParameterValue, "COPY delimiter cannot be %q", "")
	CopyDelimiterInNull   = def("copy_delimiter_in_null", InvalidParameterValue, "COPY delimiter must not appear in the NULL specification", "")
	CopyDelimiterIsQuote  = def("copy_delimiter_is_quote", InvalidParameterValue, "COPY delimiter and quote must be different", "")
)

// issue 11: olap (window functions, grouping sets, DISTINCT ON, set-returning functions)
var (
	WindowFuncNotAllowed  = def("window_func_not_allowed", "42P20", "window functions are not allowed in %s", "Compute the window function in a subquery and filter or group its result in the outer query.")
	WindowFuncNested      = def("window_func_nested", "42P20", "window function calls cannot be nested", "")
	WindowInAggregate     = def("window_in_aggregate", GroupingError, "aggregate function calls cannot contain window function calls", "")
	WindowNotDefined      = def("window_not_defined", UndefinedObject, "window %q does not exist", "Define it in the query's WINDOW clause: WINDOW %s AS (PARTITION BY ...).")
	WindowDuplicate       = def("window_duplicate", "42P20", "window %q is already defined", "")
	WindowOverride        = def("window_override", "42P20", "cannot override %s clause of window %q", "")
	WindowCopyFrame       = def("window_copy_frame", "42P20", "cannot copy window %q because it has a frame clause", "Omit the parentheses in this OVER clause: OVER %s.")
	NotWindowFunc         = def("not_window_func", WrongObjectType, "OVER specified, but %s is not a window function nor an aggregate function", "")
	WindowFrameInvalid    = def("window_frame_invalid", "42P20", "frame %s", "")
	WindowFrameOffsetType = def("window_frame_offset_type", DatatypeMismatch, "argument of %s must be type bigint, not type %s", "")
	WindowFrameOffsetVars = def("window_frame_offset_vars", InvalidColumnRef, "argument of %s must not contain variables", "")
	WindowGroupsNoOrder   = def("window_groups_no_order", "42P20", "GROUPS mode requires an ORDER BY clause", "")
	WindowFrameOffsetNull = def("window_frame_offset_null", "22004", "frame %s offset must not be null", "")
	WindowFrameOffsetNeg  = def("window_frame_offset_negative", "22013", "frame %s offset must not be negative", "")
	WindowDistinct        = def("window_distinct", FeatureNotSupported, "DISTINCT is not implemented for window functions", "Aggregate the DISTINCT values with GROUP BY in a subquery.")
	WindowOrderedSet      = def("window_ordered_set", FeatureNotSupported, "OVER is not supported for ordered-set aggregate %s", "")
	NtileArg              = def("ntile_arg", "22014", "argument of ntile must be greater than zero", "")
	NthValueArg           = def("nth_value_arg", "22016", "argument of nth_value must be greater than zero", "")
	DistinctOnOrder       = def("distinct_on_order", InvalidColumnRef, "SELECT DISTINCT ON expressions must match initial ORDER BY expressions", "Start ORDER BY with the DISTINCT ON expressions, e.g. DISTINCT ON (a) ... ORDER BY a, b.")
	GroupingArgs          = def("grouping_args", GroupingError, "arguments to GROUPING must be grouping expressions of the associated query level", "")
	GroupingTooManyArgs   = def("grouping_too_many_args", "54023", "GROUPING must have fewer than 32 arguments", "")
	GroupingNotAllowed    = def("grouping_not_allowed", GroupingError, "grouping operations are not allowed in %s", "")
	TooManyGroupingSets   = def("too_many_grouping_sets", "54001", "too many grouping sets present (maximum 4096)", "")
	CubeTooLarge          = def("cube_too_large", "54011", "CUBE is limited to 12 elements", "")
	SRFAmbiguous          = def("srf_ambiguous", "42725", "function %s(unknown, unknown) is not unique", "Could not choose a best candidate function. You might need to add explicit type casts, e.g. generate_series(1, 10) or generate_series('2024-01-01'::timestamptz, '2024-01-02', interval '1 hour').")
	SRFNotAllowed         = def("srf_not_allowed", FeatureNotSupported, "set-returning functions are not allowed in %s", "Call %s in FROM (FROM generate_series(...) AS g(i)) or at the top level of the select list.")
	SRFNested             = def("srf_nested", FeatureNotSupported, "set-returning function calls cannot be nested in the arguments of %s", "Call the inner function in FROM: SELECT ... FROM generate_series(...) AS g(i).")
	SRFInAggregate        = def("srf_in_aggregate", FeatureNotSupported, "%s function calls cannot contain set-returning function calls", "Move the set-returning function into FROM (a subquery) and aggregate its rows in the outer query.")
	SRFStepZero           = def("srf_step_zero", InvalidParameterValue, "step size cannot equal zero", "")
	SRFStepInfinite       = def("srf_step_infinite", InvalidParameterValue, "step size cannot be infinite", "")
	TableFuncOptions      = def("table_func_options", FeatureNotSupported, "WITH ORDINALITY and column aliases are supported only for generate_series and unnest in FROM", "")
	RangeOffsetOneKey     = def("range_offset_one_key", "42P20", "RANGE with offset PRECEDING/FOLLOWING requires exactly one ORDER BY column", "")
	RangeOffsetType       = def("range_offset_type", FeatureNotSupported, "RANGE with offset PRECEDING/FOLLOWING is not supported for column type %s", "Order by a number, a timestamp or an interval, or use ROWS.")
	RangeOffsetType2      = def("range_offset_type2", FeatureNotSupported, "RANGE with offset PRECEDING/FOLLOWING is not supported for column type %s and offset type %s", "Give the offset the key's type (an interval for timestamps).")
	RangeOffsetVars       = def("range_offset_vars", InvalidColumnRef, "argument of RANGE must not contain variables", "")
	RangeOffsetNegative   = def("range_offset_negative", "22013", "invalid preceding or following size in window function", "")
	OlapInView            = def("olap_in_view", FeatureNotSupported, "%s is not supported in a continuous view", "Run it in a SELECT that reads the view, e.g. SELECT ..., row_number() OVER (...) FROM view.")
)

// issue 11: tables
const (
	UniqueViolation      = "23505" // unique_violation
	CardinalityViolation = "21000" // cardinality_violation
)

var (
	TableNotFound       = def("table_not_found", UndefinedTable, "table %q does not exist", "")
	TableNoPrimaryKey   = def("table_no_primary_key", FeatureNotSupported, "table %q has no primary key", "Declare one: CREATE TABLE t (id int PRIMARY KEY, ...) or PRIMARY KEY (a, b) after the columns; rows are stored and sharded by it.")
	ViewsDependOnTable  = def("views_depend_on_table", DependentObjects, "cannot drop table %q (or its columns) because views depend on it: %s", "Use DROP ... CASCADE to drop the dependent views too.")
	NotATable           = def("not_a_table", WrongObjectType, "%q is a %s, not a table", "")
	ColumnExists        = def("table_column_exists", DuplicateColumn, "column %q of relation %q already exists", "")
	TableColumnNotFound = def("table_column_not_found", UndefinedColumn, "column %q of relation %q does not exist", "")
	DropKeyColumn       = def("drop_key_column", FeatureNotSupported, "cannot drop column %q of table %q: it is part of the primary key", "Create a new table with the key you want and INSERT INTO it SELECT from this one.")
	AddNotNullNoDefault = def("add_not_null_no_default", NotNullViolation, "column %q of relation %q contains null values", "Give the new NOT NULL column a DEFAULT, which the existing rows take.")
	DuplicateKey        = def("duplicate_key", UniqueViolation, "duplicate key value violates unique constraint %q", "")
	NullInColumn        = def("null_in_column", NotNullViolation, "null value in column %q of relation %q violates not-null constraint", "")
)

// issue 11: catalog
var (
	InvalidRegex       = def("invalid_regex", "2201B", "invalid regular expression: %s", "Cairn runs POSIX regular expressions with Go's RE2 syntax: back-references and look-around are not supported.")
	RegTypeNotFound    = def("reg_type_not_found", UndefinedObject, "type %q does not exist", "")
	RegSchemaNotFound  = def("reg_schema_not_found", "3F000", "schema %q does not exist", "")
	RegRoleNotFound    = def("reg_role_not_found", UndefinedObject, "role %q does not exist", "")
	RegProcNotFound    = def("reg_proc_not_found", UndefinedFunction, "function %q does not exist", "")
	NoCatalogHere      = def("no_catalog_here", FeatureNotSupported, "%s needs the catalog, which is not available here", "Call it in a query, not in a continuous view.")
	UnknownEncoding    = def("unknown_encoding", InvalidParameterValue, "encoding %d is not known", "")
	SchemaExists       = def("schema_exists", "42P06", "schema %q already exists", "")
	SchemaNameReserved = def("schema_name_reserved", "42939", "unacceptable schema name %q", "The prefix \"pg_\" is reserved for system schemas.")
	SchemaBuiltin      = def("schema_builtin", DependentObjects, "cannot drop schema %q because it is required by the database system", "")
	SchemaNotEmpty     = def("schema_not_empty", DependentObjects, "cannot drop schema %q because other objects depend on it: %s", "Use DROP SCHEMA ... CASCADE to drop them too.")
	NoSchemaSelected   = def("no_schema_selected", "3F000", "no schema has been selected to create in", "Name the schema (CREATE STREAM s.name ...) or SET search_path to public or a schema made with CREATE SCHEMA.")
	SchemaInName       = def("schema_in_name", "3F000", "schema %q cannot hold %s", "Streams and views live in public or in a schema made with CREATE SCHEMA.")
)

// issue 11: join
var (
	QueryShapeUnsupported = def("query_shape_unsupported", FeatureNotSupported, "%s is not supported yet", "")
	SetOpWidth            = def("setop_width", SyntaxError, "each %s query must have the same number of columns", "")
	SetOpTypes            = def("setop_types", DatatypeMismatch, "%s types %s and %s cannot be matched", "")
	TooManyColumnAliases  = def("too_many_column_aliases", "42P10", "table %q has %d columns available but %d columns specified", "")
	RecursiveTypes        = def("recursive_types", DatatypeMismatch, "recursive query %q column %d has type %s in non-recursive term but type %s overall", "Cast the output of the non-recursive term to the correct type.")
	RecursionLimit        = def("recursion_limit", ProgramLimitExceeded, "recursive query %q did not finish within %d iterations", "Make the recursive term stop adding rows (a WHERE bound), or use UNION instead of UNION ALL so repeated rows end it.")
	DuplicateTableName    = def("duplicate_table_name", "42712", "table name %q specified more than once", "Give one of them an alias: FROM t AS a JOIN t AS b ON ...")
	UsingTypes            = def("using_types", DatatypeMismatch, "JOIN/USING types %s and %s cannot be matched", "")
	UsingAmbiguous        = def("using_ambiguous", AmbiguousColumn, "common column name %q appears more than once in %s table", "")
	UsingMissing          = def("using_missing", UndefinedColumn, "column %q specified in USING clause does not exist in %s table", "")
	SubqueryColumns       = def("subquery_columns", SyntaxError, "subquery must return only one column", "")
	SubqueryTooManyRows   = def("subquery_too_many_rows", "21000", "more than one row returned by a subquery used as an expression", "")
	MemorySettingRange    = def("memory_setting_range", InvalidParameterValue, "%s is outside the valid range for parameter %q (64kB .. 1TB)", "")
	NoArrayType           = def("no_array_type", UndefinedObject, "could not find array type for data type %s", "")
	QuantifiedNotArray    = def("quantified_not_array", DatatypeMismatch, "op ANY/ALL (array) requires array on right side, not %s", "")
	QuantifiedNotBool     = def("quantified_not_bool", DatatypeMismatch, "op ANY/ALL (array) requires operator %s to yield boolean", "")
)

// issue 11: tables (data)
var (
	UpdateKeyColumn = def("update_key_column", FeatureNotSupported, "cannot change primary key column %q with UPDATE", "DELETE the row and INSERT it with the new key.")
	ConflictTwice   = def("conflict_twice", CardinalityViolation, "ON CONFLICT DO UPDATE command cannot affect row a second time", "Ensure that no rows proposed for insertion within the same command have duplicate constrained values.")
)

// issue 11: tables (statements)
var (
	OnConflictStream     = def("on_conflict_stream", FeatureNotSupported, "ON CONFLICT is not supported on stream %q", "A stream has no keys; use a table for rows with a primary key.")
	TableTypmod          = def("table_typmod", FeatureNotSupported, "column %q: type modifiers such as %s(n) are not supported on table columns", "Declare the column without the modifier.")
	DefaultNotConstant   = def("default_not_constant", FeatureNotSupported, "DEFAULT of column %q must be a constant", "Write a literal such as DEFAULT 0 or DEFAULT 'x'; functions such as now() are evaluated once per row in PostgreSQL, which tables do not do.")
	MultiplePrimaryKeys  = def("multiple_primary_keys", InvalidTableDefinition, "multiple primary keys for table %q are not allowed", "")
	KeyColumnNotFound    = def("key_column_not_found", UndefinedColumn, "column %q named in key does not exist", "")
	KeyColumnType        = def("key_column_type", FeatureNotSupported, "column %q of type %s cannot be part of a primary key", "Use an integer, numeric, text, uuid, date, time or timestamp key.")
	MultipleAssignments  = def("multiple_assignments", SyntaxError, "multiple assignments to same column %q", "")
	NoConflictConstraint = def("no_conflict_constraint", InvalidColumnRef, "there is no unique or exclusion constraint matching the ON CONFLICT specification", "Name the primary key columns: ON CONFLICT (%s).")
	TableWriteTooLarge   = def("table_write_too_large", ProgramLimitExceeded, "statement writes more than %d MiB of rows to one shard of table %q", "Split it, or use COPY, which applies 16,384 rows at a time.")
	TableVolatileFunc    = def("table_volatile_func", FeatureNotSupported, "%s() cannot be used in %s of a table: each replica of a shard evaluates the expression", "Compute the value in the client or a SELECT and pass it as a parameter; now() and current_timestamp are fine.")
	ValuesLength         = def("values_length", SyntaxError, "VALUES lists must all be the same length", "")
	TableSubquery        = def("table_subquery", FeatureNotSupported, "subqueries are not supported in %s", "")
)

// InvalidTableDefinition is SQLSTATE 42P16.
const InvalidTableDefinition = "42P16"

// issue 11: joins in continuous views
var (
	ViewJoinShape         = def("view_join_shape", FeatureNotSupported, "a continuous view can join a stream to a table only", "Write FROM stream s JOIN table t ON s.col = t.col (or LEFT JOIN); the stream comes first.")
	ViewJoinSameName      = def("view_join_same_name", "42712", "table name %q specified more than once", "Give one side an alias: FROM events e JOIN devices d ON ...")
	ViewJoinNoEquality    = def("view_join_no_equality", FeatureNotSupported, "a join in a continuous view needs an equality between a stream column and a table column", "Write ON s.col = t.col; further conditions may follow with AND.")
	ViewJoinLeftOn        = def("view_join_left_on", FeatureNotSupported, "a LEFT JOIN in a continuous view takes only equalities between stream and table columns in ON", "Filter the stream in WHERE, or use an inner JOIN for the other conditions.")
	ViewJoinKeyType       = def("view_join_key_type", FeatureNotSupported, "join condition %s = %s compares %s with %s: a continuous view joins on values of the same type", "")
	ViewJoinTableChanged  = def("view_join_table_changed", UndefinedColumn, "table %q no longer has the column %q (of the type) the view joins on or reads", "Drop the view and create it again over the table as it is now.")
	ViewJoinStreams       = def("view_join_streams", FeatureNotSupported, "a continuous view cannot join stream %q to itself", "Join two different streams (or the stream to a table); to pair a stream's own events, copy them into a second stream.")
	ViewJoinView          = def("view_join_view", FeatureNotSupported, "a continuous view cannot join the view %q", "Join a stream to a table; to combine views, join them in the SELECT that reads them.")
	ViewJoinMany          = def("view_join_many", FeatureNotSupported, "a continuous view joins one stream to one table", "Join the other tables in the SELECT that reads the view, or widen the table.")
	ViewJoinBound         = def("view_join_bound", FeatureNotSupported, "a join of two streams in a continuous view needs a time bound on both sides", "Bound the right stream's time by the left one's, e.g. ON a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + interval '5 minutes'.")
	ViewJoinEmptyBound    = def("view_join_empty_bound", InvalidParameterValue, "the join's time bound admits no pair: its lower end is after its upper end", "")
	ViewJoinUsingMissing  = def("view_join_using_missing", UndefinedColumn, "column %q specified in USING clause does not exist in %s table", "")
	ViewJoinTableTooLarge = def("view_join_table_too_large", ProgramLimitExceeded, "table %q has more than %d rows: a continuous view joining it on columns other than its primary key holds it in memory", "Join on the table's primary key, which reads only the rows the events name.")
	ViewJoinKind          = def("view_join_kind", FeatureNotSupported, "%s JOIN is not supported in a continuous view", "Use JOIN or LEFT JOIN with the stream on the left.")
)

// issue 11: pkeys (records and field selection)
var (
	RecordInput        = def("record_input", FeatureNotSupported, "input of anonymous composite types is not implemented", "")
	RecordCorrupt      = def("record_corrupt", "22P03", "invalid binary representation of a record", "")
	RecordNoField      = def("record_no_field", UndefinedColumn, "column %q not found in data type %s", "")
	FieldSelNotRecord  = def("field_sel_not_record", "42809", "column notation .%s applied to type %s, which is not a composite type", "")
	RecordUntypedField = def("record_untyped_field", FeatureNotSupported, "could not identify column %q in record data type", "Select the field from a set-returning function with a known row type, such as (information_schema._pg_expandarray(a)).x.")
	TooManyKeyColumns  = def("too_many_key_columns", "54011", "cannot use more than %d columns in an index", "")
)

// issue 11: harden
var (
	AppendOutcomeUnknown = def("append_outcome_unknown", SerializationFailure, "shard group %d did not confirm the write in time: it may or may not have been applied", "Read the rows back before retrying: a retried INSERT may fail with 23505, or add a stream's rows twice.")
	InsertTooFewExprs    = def("insert_too_few_exprs", SyntaxError, "INSERT has more target columns than expressions", "")
	CopyHeaderMatch      = def("copy_header_match", FeatureNotSupported, "COPY HEADER MATCH is not supported", "Use HEADER true: COPY FROM then skips the first line without checking it.")
)

// issue 12: authz (roles, grants, privileges)
var (
	RoleNameEmpty         = def("role_name_empty", "42602", "zero-length role name is not allowed", "")
	RoleNameReserved      = def("role_name_reserved", "42939", "role name %q is reserved", "Names starting with pg_, and public, none and node (the name of node certificates), are reserved.")
	RoleExists            = def("role_exists", DuplicateObject, "role %q already exists", "")
	RoleNotFound          = def("role_not_found", UndefinedObject, "role %q does not exist", "SHOW ROLES lists the roles.")
	RoleBuiltin           = def("role_builtin", FeatureNotSupported, "role %q is built in: %s is not allowed", "The built-in roles cairn, admin and public always exist as they are; make a role of your own.")
	RoleOwnsObjects       = def("role_owns_objects", DependentObjects, "role %q cannot be dropped because some objects depend on it: it owns %s", "Drop those objects first (REASSIGN OWNED is not supported).")
	RoleMembershipCycle   = def("role_membership_cycle", "0LP01", "role %q is a member of role %q", "Granting it would make a membership cycle.")
	GrantKindUnknown      = def("grant_kind_unknown", FeatureNotSupported, "privileges on %s objects are not supported", "Grant on a STREAM, VIEW, TABLE, SCHEMA or DATABASE.")
	GrantInvalidPrivilege = def("grant_invalid_privilege", "0LP01", "invalid privilege type %s for %s", "")
	DatabaseNotFound      = def("database_not_found", "3D000", "database %q does not exist", "The one database is \"cairn\".")
	PermissionDenied      = def("permission_denied", InsufficientPrivilege, "permission denied for %s %s", "")
	PermissionDeniedAdmin = def("permission_denied_admin", InsufficientPrivilege, "permission denied: %s needs the admin role", "An admin can run GRANT admin TO %s.")
	RoleIsCurrent         = def("role_is_current", ObjectInUse, "current user cannot be %s", "Connect as another admin to do it.")
	RoleBadVerifier       = def("role_bad_verifier", InvalidParameterValue, "invalid SCRAM-SHA-256 verifier: %v", "Give the password itself, or a verifier as pg_authid.rolpassword shows it.")
	RoleMD5Password       = def("role_md5_password", FeatureNotSupported, "MD5 password hashes are not supported", "Give the password itself (it is stored as a SCRAM-SHA-256 verifier), or a SCRAM-SHA-256 verifier.")
	UnknownPrivilege      = def("unknown_privilege", InvalidParameterValue, "unrecognized privilege type: %q", "")
	MustBeOwner           = def("must_be_owner", InsufficientPrivilege, "must be owner of %s %s", "The owner, or a member of admin, may change or drop it.")
)

// issue 12: tlswire
var (
	TLSRequired        = def("tls_required", InvalidAuthorization, "connection requires TLS", "This node accepts only encrypted connections: connect with sslmode=require, or sslmode=verify-full and sslrootcert=<certs-dir>/ca.crt.")
	TLSNegotiatedTwice = def("tls_negotiated_twice", ProtocolViolation, "SSLRequest or GSSENCRequest after the connection's encryption was negotiated", "")
	BadStartupLength   = def("bad_startup_length", ProtocolViolation, "invalid length of startup packet: %d bytes", "")
	DirectTLSRefused   = def("direct_tls_refused", ProtocolViolation, "direct TLS connection without ALPN protocol \"postgresql\"", "Use sslnegotiation=postgres, or a client that sends ALPN \"postgresql\" with sslnegotiation=direct.")
)

// issue 12: authn
var (
	PasswordAuthFailed = def("password_auth_failed", InvalidPassword, "password authentication failed for user %q", "")
	CertAuthFailed     = def("cert_auth_failed", InvalidAuthorization, "certificate authentication failed for user %q", "%s")
	SCRAMMalformed     = def("scram_malformed", ProtocolViolation, "malformed SCRAM message: %v", "")
	SCRAMBinding       = def("scram_binding", ProtocolViolation, "%v", "Connect with channel_binding=prefer or require over TLS, and check that nothing between client and server terminates TLS.")
	AuthRateLimited    = def("auth_rate_limited", TooManyConnections, "too many failed login attempts from %s", "Wait %s, then connect with the right password or client certificate.")
	AuthTimeout        = def("auth_timeout", QueryCanceled, "canceling authentication due to timeout", "")
	AuthUnexpected     = def("auth_unexpected", ProtocolViolation, "expected a SASL response, got message type %q", "")
)

// InvalidPassword is SQLSTATE 28P01.
const InvalidPassword = "28P01"

// issue 12: audit
var (
	AuditMaxRange = def("audit_max_range", InvalidParameterValue, "audit_log_max_events must be an integer from %d to %d, got %q", "Every node keeps the whole audit log in memory; the default is 10000 events.")
)

// issue 12: httpauth (who may call the HTTP API)
var (
	HTTPAuthRequired    = def("http_auth_required", InvalidAuthorization, "authentication required", "Send a client certificate, a session token from POST /api/v1/login (Authorization: Bearer …), or HTTP Basic credentials over HTTPS.")
	HTTPCertUserUnknown = def("http_cert_user_unknown", InvalidAuthorization, "certificate authentication failed for user %q", "The client certificate's CN must name a role that may log in (CREATE USER or ALTER ROLE … LOGIN).")
	HTTPTokenInvalid    = def("http_token_invalid", InvalidAuthorization, "session token is invalid or expired", "Log in again with POST /api/v1/login.")
	HTTPBasicNeedsTLS   = def("http_basic_needs_tls", InvalidAuthorization, "HTTP Basic authentication is refused over plain HTTP: it would send the password with every request", "Use HTTPS (a node started with --certs-dir), or, on the node's own machine, get a session token with POST /api/v1/login.")
	HTTPBadAuthHeader   = def("http_bad_auth_header", InvalidAuthorization, "malformed Authorization header: %s", "Send \"Authorization: Bearer <token>\", or \"Authorization: Basic <base64 of user:password>\" over HTTPS.")
	HTTPTooManyFailures = def("http_too_many_failures", InvalidAuthorization, "too many failed logins from %s", "Wait %d seconds before trying again.")
	HTTPLoginBody       = def("http_login_body", InvalidParameterValue, "POST /api/v1/login needs {\"user\": \"…\", \"password\": \"…\"}", "")
	HTTPLogoutNoToken   = def("http_logout_no_token", InvalidParameterValue, "this request carries no session token to log out", "POST /api/v1/logout ends the session whose token is sent as Authorization: Bearer or the cairn_session cookie.")
	HTTPContentType     = def("http_content_type", FeatureNotSupported, "Content-Type %q is not accepted by %s %s; send %s", "Browsers may send plain-text and form posts across sites without asking; only JSON bodies are accepted so that a web page cannot call this API.")
	HTTPHostRefused     = def("http_host_refused", InvalidAuthorization, "Host %q is not an address of this node", "Call the node by one of its addresses, or add the name with cairn start --http-host.")
	HTTPOriginRefused   = def("http_origin_refused", InvalidAuthorization, "cross-origin request from Origin %q refused", "The HTTP API answers only requests from its own origin.")
)

// issue 12: merger
var (
	HTTPLoginNeedsTLS    = def("http_login_needs_tls", InvalidAuthorization, "POST /api/v1/login is refused over plain HTTP from another machine: it would send the password in the clear", "Use HTTPS (a node started with --certs-dir), or log in from the node's own machine (loopback).")
	RoleNonASCIIPassword = def("role_non_ascii_password", FeatureNotSupported, "passwords with non-ASCII characters are not supported", "Clients normalize such passwords (SASLprep) before hashing them, which Cairn does not do yet: choose a password of ASCII characters, or give a SCRAM-SHA-256 verifier made elsewhere.")
)

// issue 13: the elastic tier (catalog contract)
var (
	DiskExists       = def("disk_exists", DuplicateObject, "disk %q already exists", "")
	DiskNotFound     = def("disk_not_found", UndefinedObject, "disk %q does not exist", "SHOW DISKS lists the disks; CREATE DISK makes one.")
	DiskInUse        = def("disk_in_use", ObjectInUse, "disk %q is in use by %s", "Drop what uses it first (DROP VIEW, DROP SCHEDULE).")
	ViewNotScheduled = def("view_not_scheduled", ObjectNotInPrerequisiteState, "view %q is not a scheduled view", "")
	CheckpointFenced = def("checkpoint_fenced", ObjectNotInPrerequisiteState, "view %q: epoch %d is no longer current (now %d): another node owns the view", "")
	ScheduleExists   = def("schedule_exists", DuplicateObject, "schedule %q already exists", "")
	ScheduleNotFound = def("schedule_not_found", UndefinedObject, "schedule %q does not exist", "SHOW SCHEDULES lists the schedules.")
)

// issue 13: disks
var (
	DiskOptionsMissing = def("disk_options_missing", SyntaxError, "CREATE DISK needs its options in parentheses", "For example: %s, or %s.")
	DiskOptionRepeated = def("disk_option_repeated", SyntaxError, "conflicting or redundant options: %q is given more than once", "")
	DiskTypeMissing    = def("disk_type_missing", InvalidParameterValue, "CREATE DISK needs type = 's3' or type = 'file'", "For example: %s, or %s.")
	DiskTypeUnknown    = def("disk_type_unknown", InvalidParameterValue, "unknown disk type %s", "type is 's3' (an S3-compatible bucket) or 'file' (a directory every node mounts at the same path).")
	DiskOptionNotFor   = def("disk_option_not_for", InvalidParameterValue, "option %q does not apply to a disk of type '%s'", "A disk of type '%s' takes: %s.")
	DiskOptionUnknown  = def("disk_option_unknown", InvalidParameterValue, "unrecognized disk option %q", "A disk of type '%s' takes: %s.")
	DiskOptionType     = def("disk_option_type", InvalidParameterValue, "disk option %q takes %s, not %s", "")
	DiskOptionEmpty    = def("disk_option_empty", InvalidParameterValue, "disk option %q must not be empty", "")
	DiskOptionRequired = def("disk_option_required", InvalidParameterValue, "a disk of type '%s' needs the option %s", "For example: %s.")
	DiskPathRelative   = def("disk_path_relative", InvalidParameterValue, "disk path %q is not absolute", "Give the absolute path of the shared directory, the same on every node, e.g. '/mnt/shared/cairn'.")
	DiskEndpointForm   = def("disk_endpoint_form", InvalidParameterValue, "endpoint %q is not host:port", "Give the host and port only, without a scheme or a path: endpoint = %s, tls = %s (tls = true for https, false for http, the default).")
	DiskBucketName     = def("disk_bucket_name", InvalidParameterValue, "invalid bucket name %q", "S3 bucket names are 3 to 63 characters: lower-case letters, digits, dots and hyphens, beginning and ending with a letter or digit.")
	DiskPrefixForm     = def("disk_prefix_form", InvalidParameterValue, "invalid prefix %q", "A prefix is names separated by '/', without a leading or trailing '/' and without empty, '.' or '..' parts, e.g. 'prod/cairn'.")
)

// issue 13: disks (CREATE DISK's probe of the store). An endpoint that
// cannot be reached is 58030 (io_error), not class 08: class 08 says the
// client's own connection failed, and drivers and pools drop a
// connection that reports it.
var (
	DiskUnreachable    = def("disk_unreachable", IOError, "could not reach %s: %s", "Check that endpoint is the host:port of an S3 server this node can reach. Nothing was created.")
	DiskTLSMismatch    = def("disk_tls_mismatch", IOError, "could not talk to %s over %s: %s", "Use tls = %s. Nothing was created.")
	DiskKeyRefused     = def("disk_key_refused", InvalidAuthorization, "the access key was refused by %s", "Check access_key_id (%s) and secret_access_key. Nothing was created.")
	DiskNoBucket       = def("disk_no_bucket", UndefinedObject, "bucket %q does not exist at %s", "Create the bucket first: Cairn does not create buckets. Nothing was created.")
	DiskNoRead         = def("disk_no_read", InsufficientPrivilege, "cannot read bucket %q at %s: access denied", "Give the access key s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on the bucket. Nothing was created.")
	DiskNoWrite        = def("disk_no_write", InsufficientPrivilege, "cannot write to bucket %q at %s: access denied", "The access key may list the bucket but not %s objects: give it s3:PutObject, s3:GetObject and s3:DeleteObject. Nothing was created.")
	DiskDirMissing     = def("disk_dir_missing", UndefinedFile, "directory %q does not exist on node %s", "Mount the shared directory at this path on every node (Cairn does not create it), then run CREATE DISK again.")
	DiskNotDir         = def("disk_not_dir", IOError, "%q on node %s is not a directory", "Give the path of the shared directory.")
	DiskDirNotWritable = def("disk_dir_not_writable", InsufficientPrivilege, "cannot write to directory %q on node %s: %s", "Every node's cairn process must be able to create, read and delete files there. Nothing was created.")
	DiskDirGone        = def("disk_dir_gone", UndefinedFile, "disk %q: directory %q is missing or not a directory on this node", "Mount the shared directory at this path on every node; Cairn does not create it.")
	DiskProbeFailed    = def("disk_probe_failed", IOError, "disk %q does not work: %v", "Nothing was created: fix the store and run CREATE DISK again.")
)

// UndefinedFile is SQLSTATE 58P01.
const UndefinedFile = "58P01"

// issue 13: schedrun
var (
	SchedViewNotHere      = def("sched_view_not_here", SerializationFailure, "scheduled view %q is not running on node %s at epoch %d", "The view is being loaded or moved to another node; retry in a moment.")
	SchedOwnerUnavailable = def("sched_owner_unavailable", SerializationFailure, "scheduled view %q: its owner %s cannot be read: %v", "Retry once the view has a live owner again, or SET skip_unavailable = on to read its last committed checkpoint instead.")
	SchedNoOwner          = def("sched_no_owner", SerializationFailure, "scheduled view %q has no owner yet", "The scheduler assigns one within seconds; retry, or SET skip_unavailable = on to read its last committed checkpoint.")
	SchedCheckpointRead   = def("sched_checkpoint_read", SerializationFailure, "scheduled view %q: its last checkpoint %s cannot be read: %v", "Check that disk %q is reachable (SHOW DISKS).")
	SchedNoCheckpoint     = def("sched_no_checkpoint", SerializationFailure, "scheduled view %q has no committed checkpoint to read while its owner is unavailable", "Retry once the view has a live owner again.")
)

// issue 13: schedplace (placing and moving scheduled views)
var (
	ViewMoveBusy          = def("view_move_busy", ObjectInUse, "view %q is being moved by operation %d (%s)", "Wait for it to finish (SHOW OPERATIONS), or CANCEL OPERATION it.")
	ViewMoveRaced         = def("view_move_raced", SerializationFailure, "view %q: its epoch changed under the move %d times", "Another assignment kept winning; the scheduler decides again in its next round.")
	NoViewOwner           = def("no_view_owner", ObjectNotInPrerequisiteState, "no live node can own scheduled view %q", "A scheduled view runs on a live node that is not draining, offline or decommissioning; start a node (cairn start --role compute adds one that holds no data).")
	ViewNotStarted        = def("view_not_started", ObjectNotInPrerequisiteState, "view %q was assigned to %s at epoch %d, which has not reported it running within %s", "The new owner may be failing to load the view's checkpoint: see its log; cairn_cluster.views shows the owner and the last checkpoint.")
	BadViewHA             = def("bad_view_ha", InvalidParameterValue, "ha must be 'raft' or 'scheduled', got %q", "ha = 'raft' (the default) replicates the view's state with Raft; ha = 'scheduled' runs it on one node that checkpoints to a disk (WITH (ha = 'scheduled', disk = '…')).")
	SharedDiskNeedsShared = def("shared_disk_needs_shared", InvalidParameterValue, "shared_disk=%s needs storage_type=shared", "checkpoint_settings = 'storage_type=shared;shared_disk=<disk>' makes a scheduled view.")
	RaftViewDisk          = def("raft_view_disk", InvalidParameterValue, "a view with ha = 'raft' checkpoints into its Raft replicas, not to a disk", "Use ha = 'scheduled' to checkpoint to a disk, or leave out the disk.")
	DiskNeedsScheduled    = def("disk_needs_scheduled", InvalidParameterValue, "disk = '%s' needs ha = 'scheduled'", "WITH (ha = 'scheduled', disk = '…') makes a scheduled view; Raft views keep their state in their replicas.")
	ViewHADisagree        = def("view_ha_disagree", InvalidParameterValue, "%s and %s disagree", "Say it once: WITH (ha = 'scheduled', disk = '…') or SETTINGS checkpoint_settings = 'storage_type=shared;shared_disk=…'.")
	ScheduledNeedsDisk    = def("scheduled_needs_disk", InvalidParameterValue, "a scheduled view needs a disk for its checkpoints", "Name one: WITH (ha = 'scheduled', disk = '…'), or shared_disk=… in checkpoint_settings; SHOW DISKS lists them.")
	ScheduledNoShards     = def("scheduled_no_shards", FeatureNotSupported, "option %q does not apply to a scheduled view: it runs as one task on one node", "Leave it out, or make a Raft view (ha = 'raft') to shard and replicate the view.")
	ViewNotAssigned       = def("view_not_assigned", ObjectNotInPrerequisiteState, "no node took scheduled view %q within %s", "A scheduled view runs on a live node that is not draining, offline or decommissioning; the scheduler keeps trying. SHOW OPERATIONS and cairn_cluster.views show where it stands.")
	ComputeLeadsNothing   = def("compute_leads_nothing", ObjectNotInPrerequisiteState, "node %q is a compute node: it holds no replicas, so it cannot lead shards", "FAILOVER TO a data node; compute nodes run scheduled views and queries.")
	StillOwnsViews        = def("still_owns_views", SerializationFailure, "node %q still owns %d scheduled views after %s", "SHOW OPERATIONS shows the move_scheduled_view operations handing them off.")
)

// issue 13: backup (BACKUP, RESTORE, SHOW BACKUPS, schedules)
var (
	BackupOption         = def("backup_option", FeatureNotSupported, "BACKUP option %q is not supported", "BACKUP accepts WITH (incremental = true|false).")
	BackupOptionValue    = def("backup_option_value", InvalidParameterValue, "BACKUP option %q must be true or false, got %s", "")
	BackupObjectNotFound = def("backup_object_not_found", UndefinedTable, "%s %q does not exist", "")
	BackupNothing        = def("backup_nothing", ObjectNotInPrerequisiteState, "there is nothing to back up: the cluster has no streams, views or tables", "")
	BackupNoBase         = def("backup_no_base", ObjectNotInPrerequisiteState, "an incremental backup of %s needs an earlier backup of it on disk %q", "Take a full backup first: BACKUP … TO DISK … without WITH (incremental = true).")
	BackupBaseTrimmed    = def("backup_base_trimmed", ObjectNotInPrerequisiteState, "stream %q shard %d no longer holds the events after the base backup %q (offset %d; the shard starts at %d)", "Retention trimmed them: take a full backup.")
	BackupGroupFailed    = def("backup_group_failed", IOError, "backing up %s shard %d (group %d) failed: %v", "")
	BackupDiskIO         = def("backup_disk_io", IOError, "disk %q: %v", "Check the disk: SHOW DISKS, its endpoint, credentials and bucket.")
	BackupCorrupt        = def("backup_corrupt", DataCorrupted, "backup %q on disk %q is damaged: %v", "Restore an older backup (SHOW BACKUPS FROM DISK …; RESTORE … BACKUP '<id>').")
	BackupNotFound       = def("backup_not_found", UndefinedObject, "disk %q: %v", "SHOW BACKUPS FROM DISK … lists the backups on a disk.")
	BackupBadAsOf        = def("backup_bad_as_of", InvalidDatetimeFormat, "AS OF %q is not a timestamp", "Write it like '2026-12-06 15:00:00+00'.")
	RestoreNotEmpty      = def("restore_not_empty", ObjectNotInPrerequisiteState, "RESTORE needs an empty cluster; this one has %s %q", "Restore into a new cluster, or drop its streams, views and tables first.")
	RestoreSchedDisk     = def("restore_sched_disk", UndefinedObject, "backup %q holds the scheduled view %q, which checkpoints to disk %q; this cluster has no such disk", "CREATE DISK %s … first, then RESTORE again.")
	RestoreSchedTrimmed  = def("restore_sched_trimmed", ObjectNotInPrerequisiteState, "the scheduled view %q is restored by folding its stream again from the view's start, but stream %q shard %d holds events only from offset %d (the view starts at %d)", "Restore from a backup taken before retention trimmed the stream, or restore the streams alone (RESTORE STREAM …) and create the view again.")
	RestoreFailed        = def("restore_failed", IOError, "restoring %s shard %d failed: %v", "The objects are created but partly loaded: drop them (DROP STREAM … CASCADE, DROP TABLE …) and run RESTORE again.")
	ScheduleEvery        = def("schedule_every", InvalidParameterValue, "EVERY %q is not an interval of at least 10 seconds", "Write it like '1 hour' or '15 minutes'.")
)

// issue 14: memory (--max-memory, ingest backpressure)
var (
	IngestMemoryShort = def("ingest_memory_short", OutOfMemory, "ingest is paused: node %q is using %s of its %s memory limit", "Retry in a moment, or slow the writers down (the refused rows were not applied).%s Raise --max-memory if the machine has room; cairn_memory_bytes on /metrics shows where the memory goes.")
	IngestBacklog     = def("ingest_backlog", OutOfMemory, "ingest is paused: a view of this stream is %d events behind, folding them may need %s, and node %q already uses %s of its %s memory limit", "Retry in a moment, or slow the writers down (the refused rows were not applied); ingest resumes as the view catches up.%s")
	IngestBudgetFull  = def("ingest_budget_full", OutOfMemory, "ingest is paused: node %q has %s of appends in flight, the most its ingest budget of %s allows, and none finished within %s", "The disk or the replicas are not keeping up: retry in a moment, or slow the writers down (the refused rows were not applied).%s")
)

// issue 14: snap (streamed snapshots)
var (
	SnapshotRateRange = def("snapshot_rate_range", InvalidParameterValue, "snapshot_rate must be 0 (unlimited) or a rate between 1MB and 1TB per second, got %q", "Write it like '64MB', '512MB' or '1GB' (units kB, MB, GB, TB are 1024-based); 0 turns the limit off.")
)

// issue 14: avail (write availability: hedged appends)
var (
	AppendNoAnswer = def("append_no_answer", SerializationFailure, "no replica of shard group %d answered for %s: this node may be cut off from the cluster; the write may or may not have been applied", "Read the rows back before retrying, through another node.")
)

// issue 15: alerts (CREATE ALERT, health)
var (
	AlertExists      = def("alert_exists", DuplicateObject, "alert %q already exists", "Pick another name, or DROP ALERT it first.")
	AlertNotFound    = def("alert_not_found", UndefinedObject, "alert %q does not exist", "SHOW ALERTS lists the alerts.")
	AlertUnknownCond = def("alert_unknown_condition", SyntaxError, "unknown alert condition %q", "An alert watches one of: "+AlertConditions+".")
	AlertCondValue   = def("alert_condition_value", InvalidParameterValue, "alert condition %s needs %s, got %s", "An alert watches one of: "+AlertConditions+".")
	AlertTargetBad   = def("alert_target_bad", InvalidParameterValue, "alert target %q is not a webhook URL", "Write NOTIFY 'webhook:http://host:port/path' or NOTIFY 'webhook:https://…'.")
	AlertNoCondition = def("alert_no_condition", SyntaxError, "CREATE ALERT needs WHEN <condition> NOTIFY '<target>'", "For example: CREATE ALERT down WHEN node.state = 'dead' NOTIFY 'webhook:http://127.0.0.1:9000/hook'. Conditions: "+AlertConditions+".")
)

// AlertConditions lists the conditions an alert may watch, for hints.
const AlertConditions = "cluster.has_quorum = false, node.state = 'dead' (or 'suspect'), replication.lag_ms > N, node.health_score < N, disk.used_pct > N, cert.expires_in < interval '…'"

// issue 15: proxy (cairn proxy, ALTER NODE … SET WEIGHT, lb_min_health_score)
var (
	NodeWeightRange    = def("node_weight_range", InvalidParameterValue, "WEIGHT must be a whole number from 0 to %d, got %s", "0 sends the node no new sessions through cairn proxy; the default is 1.")
	HealthScoreRange   = def("health_score_range", InvalidParameterValue, "lb_min_health_score must be a whole number from 0 to 100, got %q", "cairn proxy --mode health_based routes only to nodes whose cairn_cluster.health score is at least this.")
	ProxyNodeDraining  = def("proxy_node_draining", AdminShutdown, "terminating connection: node %q is draining", "Reconnect: cairn proxy sends new sessions to the other nodes.")
	ProxyNoBackend     = def("proxy_no_backend", CannotConnectNow, "cairn proxy has no node to send this session to: %s", "Check the cluster (cairn_cluster.nodes, ALTER NODE … RECOVER, SET WEIGHT) or the proxy's --mode; retry in a moment.")
	ProxyBackendFailed = def("proxy_backend_failed", ConnectionFailure, "cairn proxy could not reach node %q at %s: %v", "Retry: the proxy tries the other nodes for new sessions and stops routing to a node it cannot reach.")
	ProxyBadStartup    = def("proxy_bad_startup", ProtocolViolation, "cairn proxy: %s", "")
)

// issue 15: console (the web console's SQL page and live updates)
var (
	ConsoleReadOnly     = def("console_read_only", "25006", "the console's SQL page runs read-only statements; %s writes or changes the cluster", "Run it with psql or another PostgreSQL client, or through POST /api/v1/sql.")
	ConsoleOneStatement = def("console_one_statement", SyntaxError, "the console's SQL page runs one statement at a time, got %d", "Run them one by one.")
	ConsoleNoSQL        = def("console_no_sql", SyntaxError, "no statement to run", `Type a query such as SELECT * FROM cairn_cluster.nodes.`)
	ConsoleTooManySSE   = def("console_too_many_sse", TooManyConnections, "the console already has %d live connections on node %q, the most it serves", "Close other console tabs, or open the console on another node.")
	ConsoleShuttingDown = def("console_shutting_down", AdminShutdown, "node %q is shutting down", "Open the console on another node.")
)

// issue 15: regions (regions/primary_region, FAILOVER REGION)
var (
	RegionUnknown        = def("region_unknown", UndefinedObject, "region %q has no data nodes", "The cluster's regions: %s (nodes get theirs from --region).")
	RegionNoneInCluster  = def("region_none_in_cluster", InvalidParameterValue, "%s needs nodes labelled with regions; no data node of this cluster has one", "Start nodes with --region (and --zone) to place replicas by region.")
	RegionsOnlyPrimary   = def("regions_only_primary", InvalidParameterValue, "regions = '%s' lists no region besides the primary region %q, so there is nowhere to put a learner", "List at least two regions, e.g. regions = '%s,<other region>'; the cluster's regions: %s.")
	RegionRepeated       = def("region_repeated", InvalidParameterValue, "region %q is listed twice in regions", "")
	RegionsNeedPrimary   = def("regions_need_primary", InvalidParameterValue, "regions needs primary_region, the region that holds the voters", "Add primary_region = one of %s.")
	PrimaryNeedsRegions  = def("primary_needs_regions", InvalidParameterValue, "primary_region needs regions, the regions that hold replicas", "Add regions = '%s,<other region>'.")
	PrimaryNotInRegions  = def("primary_not_in_regions", InvalidParameterValue, "primary_region %q is not one of regions (%s)", "")
	RegionTooFewNodes    = def("region_too_few_nodes", InvalidParameterValue, "region %q needs %d live data nodes for this placement; %d of its data nodes are live", "Lower replicas (voters, in the primary region) or learners_per_region, or add nodes to the region.")
	RegionsScheduledView = def("regions_scheduled_view", FeatureNotSupported, "%s is not supported on a scheduled view (ha = 'scheduled'): it has no replicas to place", "Leave out ha = 'scheduled' for a regional view, or leave out the region options.")
	FailoverNoRegional   = def("failover_no_regional", ObjectNotInPrerequisiteState, "no regional stream, view or table lists region %q with another region as its primary", "Objects are made regional WITH (regions = …, primary_region = …); cairn_cluster.shards shows their voters and learners.")
	FailoverQuorumLeft   = def("failover_quorum_left", ObjectNotInPrerequisiteState, "primary region %q still has a quorum of %s (live voters %s): a failover would throw away writes it can still serve", "Wait for the region to come back, or use ALTER SYSTEM FAILOVER REGION TO '%s' FORCE if it is lost for good.")
	FailoverNoLearner    = def("failover_no_learner", ObjectNotInPrerequisiteState, "%s has no learner in region %q that answers (its learners: %s)", "The region cannot take over this shard; bring a node of the region back, or recover the shard with ALTER SHARD %d FORCE RECOVER.")
	FailoverStillLeads   = def("failover_still_leads", ObjectNotInPrerequisiteState, "%s still has a leader (%s): its primary region is not lost", "Use FORCE only when the region is gone for good; its replicas still elect a leader.")
)

// issue 15: reroute (on_shard_unavailable)
var (
	BadOnShardUnavailable = def("bad_on_shard_unavailable", InvalidParameterValue, "on_shard_unavailable must be 'wait' or 'reroute', got %q", "'wait' (the default) fails a write whose shard has no quorum; 'reroute' sends that shard's part of the batch to the next shard.")
	RerouteOneShard       = def("reroute_one_shard", InvalidParameterValue, "on_shard_unavailable = 'reroute' needs a stream with at least 2 shards (this one has %d)", "Add shards = 3 (say) to the WITH list.")
	RerouteFailed         = def("reroute_failed", SerializationFailure, "stream %q: shard %d did not take its part of the batch in time, and shard %d, where it was rerouted, did not either: %v", "The part may or may not have been applied: read the rows back before retrying.")
	RerouteViewOrder      = def("reroute_view_order", FeatureNotSupported, "view %q cannot read stream %q, which reroutes writes around an unavailable shard (on_shard_unavailable = 'reroute'): %s", "A rerouted event is folded later and in another shard than its own; only count, sum, min, max and avg (without DISTINCT, windows, ttl or joins) give the same result whatever the order. Create the view over a stream with on_shard_unavailable = 'wait'.")
)

// issue 15: READ ONLY transaction blocks (the console's read-only SQL and BEGIN READ ONLY)
var (
	ReadOnlyTransaction = def("read_only_transaction", "25006", "cannot execute %s in a read-only transaction", "The block was started with BEGIN READ ONLY (or SET TRANSACTION READ ONLY): end it with COMMIT or ROLLBACK and run the statement outside it.")
)

// issue 15: joining a cluster whose first node is still starting
var (
	ClusterStarting = def("cluster_starting", SerializationFailure, "the cluster is still starting: its first node has not registered itself yet; retry", "cairn start --join retries this by itself.")
)
