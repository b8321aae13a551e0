package parser

// reservedWords are PostgreSQL's reserved keywords plus its
// "type_func_name" keywords: none of them may be a bare column name,
// table name or alias (quote them to use them as names).
var reservedWords = setOf(
	// reserved
	"all", "analyse", "analyze", "and", "any", "array", "as", "asc",
	"asymmetric", "both", "case", "cast", "check", "collate", "column",
	"constraint", "create", "current_catalog", "current_date",
	"current_role", "current_time", "current_timestamp", "current_user",
	"default", "deferrable", "desc", "distinct", "do", "else", "end",
	"except", "false", "fetch", "for", "foreign", "from", "grant", "group",
	"having", "in", "initially", "intersect", "into", "lateral", "leading",
	"limit", "localtime", "localtimestamp", "not", "null", "offset", "on",
	"only", "or", "order", "placing", "primary", "references", "returning",
	"select", "session_user", "some", "symmetric", "table", "then", "to",
	"trailing", "true", "union", "unique", "user", "using", "variadic",
	"when", "where", "window", "with",
	// type_func_name
	"authorization", "binary", "collation", "concurrently", "cross",
	"current_schema", "freeze", "full", "ilike", "inner", "is", "isnull",
	"join", "left", "like", "natural", "notnull", "outer", "overlaps",
	"right", "similar", "tablesample", "verbose",
)

// funcNameOK are reserved words that may still name a function
// (PostgreSQL's type_func_name keywords), e.g. left(s, 2).
var funcNameOK = setOf("left", "right", "collation", "current_schema")

// specialWords have a meaning of their own in some position even though
// they may be used as names elsewhere; Format quotes them (and the
// reserved words) so printed SQL always re-parses to the same tree.
var specialWords = setOf(
	"between", "settings", "interval", "timestamp", "timestamptz", "date",
	"time", "timetz", "double", "character", "char", "varchar", "national",
	"exists", "over", "filter", "escape", "at", "nulls", "first", "last",
	"values", "bool", "boolean", "int", "integer", "int2", "int4", "int8",
	"bigint", "smallint", "real", "float", "float4", "float8", "numeric",
	"decimal", "text", "dec", "extract",
)

// typedLiteralTypes are the type names that may prefix a string to make a
// typed literal (timestamp '2024-01-01').
var typedLiteralTypes = setOf(
	"interval", "timestamp", "timestamptz", "date", "time", "timetz",
	"bool", "boolean", "int", "integer", "int2", "int4", "int8", "bigint",
	"smallint", "real", "float", "float4", "float8", "numeric", "decimal",
	"text", "varchar", "char", "character", "double", "json", "jsonb",
	"uuid", "bytea",
)

// unsupportedStatements are PostgreSQL statements Cairn does not run; they
// get 0A000 rather than a syntax error.
var unsupportedStatements = setOf(
	"update", "delete", "truncate", "discard", "listen",
	"notify", "unlisten", "vacuum", "analyze", "analyse", "values", "table",
	"lock", "savepoint", "release",
	"checkpoint", "comment", "do", "call", "import", "merge", "refresh",
	"security", "reindex", "cluster", "load", "reassign",
)

// unsupportedObjects are object kinds after CREATE/DROP/ALTER that
// PostgreSQL knows but Cairn does not.
var unsupportedObjects = setOf(
	"table", "index", "function", "procedure", "schema", "database", "role",
	"user", "sequence", "type", "extension", "trigger", "server", "domain",
	"aggregate", "operator", "policy", "publication", "subscription", "rule",
	"temp", "temporary", "unlogged", "unique", "tablespace", "language",
	"collation", "conversion", "group", "owned", "statistics", "event",
	"cast", "access", "text", "transform", "default", "column", "sink",
	"source", "external", "dictionary",
)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}
