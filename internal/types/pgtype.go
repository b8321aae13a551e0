package types

// PGType is one row of pg_catalog.pg_type as PostgreSQL 15 has it, for
// the types Cairn has (Types' column types, arrays of them, and the
// types its catalogs use: oid, name, "char", regclass, ...). Array types
// Cairn lacks are left out, and a listed type's Array is 0 then.
type PGType struct {
	OID       uint32
	Name      string
	Len       int16
	ByVal     bool
	Type      byte // b base, p pseudo
	Category  byte
	Preferred bool
	Elem      uint32
	Array     uint32
	Input     string
	Output    string
	Receive   string
	Send      string
	Align     byte
	Storage   byte
	Collation uint32
}

// PGTypes lists the types in OID order.
var PGTypes = []PGType{
	{16, "bool", 1, true, 'b', 'B', true, 0, 1000, "boolin", "boolout", "boolrecv", "boolsend", 'c', 'p', 0},
	{17, "bytea", -1, false, 'b', 'U', false, 0, 0, "byteain", "byteaout", "bytearecv", "byteasend", 'i', 'x', 0},
	{18, "char", 1, true, 'b', 'Z', false, 0, 1002, "charin", "charout", "charrecv", "charsend", 'c', 'p', 0},
	{19, "name", 64, false, 'b', 'S', false, 18, 1003, "namein", "nameout", "namerecv", "namesend", 'c', 'p', 950},
	{20, "int8", 8, true, 'b', 'N', false, 0, 1016, "int8in", "int8out", "int8recv", "int8send", 'd', 'p', 0},
	{21, "int2", 2, true, 'b', 'N', false, 0, 1005, "int2in", "int2out", "int2recv", "int2send", 's', 'p', 0},
	{22, "int2vector", -1, false, 'b', 'A', false, 21, 0, "int2vectorin", "int2vectorout", "int2vectorrecv", "int2vectorsend", 'i', 'p', 0},
	{23, "int4", 4, true, 'b', 'N', false, 0, 1007, "int4in", "int4out", "int4recv", "int4send", 'i', 'p', 0},
	{24, "regproc", 4, true, 'b', 'N', false, 0, 0, "regprocin", "regprocout", "regprocrecv", "regprocsend", 'i', 'p', 0},
	{25, "text", -1, false, 'b', 'S', true, 0, 1009, "textin", "textout", "textrecv", "textsend", 'i', 'x', 100},
	{26, "oid", 4, true, 'b', 'N', true, 0, 1028, "oidin", "oidout", "oidrecv", "oidsend", 'i', 'p', 0},
	{30, "oidvector", -1, false, 'b', 'A', false, 26, 0, "oidvectorin", "oidvectorout", "oidvectorrecv", "oidvectorsend", 'i', 'p', 0},
	{114, "json", -1, false, 'b', 'U', false, 0, 0, "json_in", "json_out", "json_recv", "json_send", 'i', 'x', 0},
	{194, "pg_node_tree", -1, false, 'b', 'Z', false, 0, 0, "pg_node_tree_in", "pg_node_tree_out", "pg_node_tree_recv", "pg_node_tree_send", 'i', 'x', 100},
	{700, "float4", 4, true, 'b', 'N', false, 0, 1021, "float4in", "float4out", "float4recv", "float4send", 'i', 'p', 0},
	{701, "float8", 8, true, 'b', 'N', true, 0, 1022, "float8in", "float8out", "float8recv", "float8send", 'd', 'p', 0},
	{705, "unknown", -2, false, 'p', 'X', false, 0, 0, "unknownin", "unknownout", "unknownrecv", "unknownsend", 'c', 'p', 0},
	{1000, "_bool", -1, false, 'b', 'A', false, 16, 0, "array_in", "array_out", "array_recv", "array_send", 'i', 'x', 0},
	{1002, "_char", -1, false, 'b', 'A', false, 18, 0, "array_in", "array_out", "array_recv", "array_send", 'i', 'x', 0},
	{1003, "_name", -1, false, 'b', 'A', false, 19, 0, "array_in", "array_out", "array_recv", "array_send", 'i', 'x', 950},
	{1005, "_int2", -1, false, 'b', 'A', false, 21, 0, "array_in", "array_out", "array_recv", "array_send", 'i', 'x', 0},
	{1007, "_int4", -1, false, 'b', 'A', false, 23, 0, "array_in", "array_out", "array_recv", "array_send", 'i', 'x', 0},
	{1009, "_text", -1, false, 'b', 'A', false, 25, 0, "array_in", "array_out", "array_recv", "array_send", 'i', 'x', 100},
	{1014, "_bpchar", -1, false, 'b', 'A', false, 1042, 0, "array_in", "array_out", "array_recv", "array_send", 'i', 'x', 100},
	{1015, "_varchar", -1, false, 'b', 'A', false, 1043, 0, "array_in", "array_out", "array_recv", "array_send", 'i', 'x', 100},
	{1016, "_int8", -1, false, 'b', 'A', false, 20, 0, "array_in", "array_out", "array_recv", "array_send", 'd', 'x', 0},
	{1021, "_float4", -1, false, 'b', 'A', false, 700, 0, "array_in", "array_out", "array_recv", "array_send", 'i', 'x', 0},
	{1022, "_float8", -1, false, 'b', 'A', false, 701, 0, "array_in", "array_out", "array_recv", "array_send", 'd', 'x', 0},
	{1028, "_oid", -1, false, 'b', 'A', false, 26, 0, "array_in", "array_out", "array_recv", "array_send", 'i', 'x', 0},
	{1033, "aclitem", 12, false, 'b', 'U', false, 0, 1034, "aclitemin", "aclitemout", "-", "-", 'i', 'p', 0},
	{1034, "_aclitem", -1, false, 'b', 'A', false, 1033, 0, "array_in", "array_out", "array_recv", "array_send", 'i', 'x', 0},
	{1042, "bpchar", -1, false, 'b', 'S', false, 0, 1014, "bpcharin", "bpcharout", "bpcharrecv", "bpcharsend", 'i', 'x', 100},
	{1043, "varchar", -1, false, 'b', 'S', false, 0, 1015, "varcharin", "varcharout", "varcharrecv", "varcharsend", 'i', 'x', 100},
	{1082, "date", 4, true, 'b', 'D', false, 0, 0, "date_in", "date_out", "date_recv", "date_send", 'i', 'p', 0},
	{1114, "timestamp", 8, true, 'b', 'D', false, 0, 0, "timestamp_in", "timestamp_out", "timestamp_recv", "timestamp_send", 'd', 'p', 0},
	{1184, "timestamptz", 8, true, 'b', 'D', true, 0, 0, "timestamptz_in", "timestamptz_out", "timestamptz_recv", "timestamptz_send", 'd', 'p', 0},
	{1186, "interval", 16, false, 'b', 'T', true, 0, 0, "interval_in", "interval_out", "interval_recv", "interval_send", 'd', 'p', 0},
	{1231, "_numeric", -1, false, 'b', 'A', false, 1700, 0, "array_in", "array_out", "array_recv", "array_send", 'i', 'x', 0},
	{1700, "numeric", -1, false, 'b', 'N', false, 0, 1231, "numeric_in", "numeric_out", "numeric_recv", "numeric_send", 'i', 'm', 0},
	{2205, "regclass", 4, true, 'b', 'N', false, 0, 0, "regclassin", "regclassout", "regclassrecv", "regclasssend", 'i', 'p', 0},
	{2206, "regtype", 4, true, 'b', 'N', false, 0, 0, "regtypein", "regtypeout", "regtyperecv", "regtypesend", 'i', 'p', 0},
	{2249, "record", -1, false, 'p', 'P', false, 0, 0, "record_in", "record_out", "record_recv", "record_send", 'd', 'x', 0},
	{2950, "uuid", 16, false, 'b', 'U', false, 0, 0, "uuid_in", "uuid_out", "uuid_recv", "uuid_send", 'c', 'p', 0},
	{3802, "jsonb", -1, false, 'b', 'U', false, 0, 0, "jsonb_in", "jsonb_out", "jsonb_recv", "jsonb_send", 'i', 'x', 0},
	{4089, "regnamespace", 4, true, 'b', 'N', false, 0, 0, "regnamespacein", "regnamespaceout", "regnamespacerecv", "regnamespacesend", 'i', 'p', 0},
	{4096, "regrole", 4, true, 'b', 'N', false, 0, 0, "regrolein", "regroleout", "regrolerecv", "regrolesend", 'i', 'p', 0},
}

// PGTypeByOID returns the pg_type row of oid.
func PGTypeByOID(oid uint32) (*PGType, bool) {
	for i := range PGTypes {
		if PGTypes[i].OID == oid {
			return &PGTypes[i], true
		}
	}
	return nil, false
}
