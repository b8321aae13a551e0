// Package parser holds Cairn's SQL dialect: a lexer following
// PostgreSQL's lexical rules, a recursive-descent parser with precedence
// climbing, and the AST it produces.
package parser

// Statement is a parsed SQL statement.
type Statement interface{ stmt() }

// Expr is a parsed scalar expression. Pos is the 1-based character offset
// of the expression's first token in the statement text (PostgreSQL's
// ErrorResponse position convention).
type Expr interface {
	expr()
	Pos() int
}

// ---- expressions ----

// ColumnRef is a possibly qualified column name: [Table.]Name.
type ColumnRef struct {
	P     int
	Table string
	Name  string
}

// Star is `*` or `t.*` in a select list, and the `*` of count(*).
type Star struct {
	P     int
	Table string
}

// LitKind says what kind of literal a Literal holds.
type LitKind uint8

// Literal kinds.
const (
	LitNull LitKind = iota
	LitBool
	LitInt    // Val is the decimal digits; may not fit in int64 (then numeric)
	LitFloat  // Val contains '.' or an exponent
	LitString // Val is the unescaped string; a typed literal (`interval '1 day'`) is a Cast of a LitString
)

// Literal is a constant as written.
type Literal struct {
	P    int
	Kind LitKind
	Val  string
}

// Param is a positional parameter $N (N >= 1).
type Param struct {
	P int
	N int
}

// Unary is a prefix operator: "-", "+", "NOT".
type Unary struct {
	P  int
	Op string
	X  Expr
}

// Binary is an infix operator. Op is one of
// "+", "-", "*", "/", "%", "^", "||", "=", "<>", "<", "<=", ">", ">=",
// "AND", "OR", "LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE" ("!=" is
// normalized to "<>").
type Binary struct {
	P  int
	Op string
	L  Expr
	R  Expr
}

// IsNull is `X IS [NOT] NULL`.
type IsNull struct {
	P   int
	X   Expr
	Not bool
}

// IsBool is `X IS [NOT] TRUE|FALSE`.
type IsBool struct {
	P   int
	X   Expr
	Not bool
	Val bool
}

// InList is `X [NOT] IN (a, b, ...)`.
type InList struct {
	P    int
	X    Expr
	List []Expr
	Not  bool
}

// Between is `X [NOT] BETWEEN Lo AND Hi`.
type Between struct {
	P   int
	X   Expr
	Lo  Expr
	Hi  Expr
	Not bool
}

// TypeName is a type as written: Name is lower-case with multiword names
// joined by one space ("double precision", "timestamp with time zone",
// "character varying"); Mods are the numbers in parentheses
// (varchar(10), numeric(10,2)).
type TypeName struct {
	P    int
	Name string
	Mods []int
}

// Cast is `X::T`, `CAST(X AS T)`, or a typed literal `T 'string'`.
type Cast struct {
	P    int
	X    Expr
	Type TypeName
}

// ArrayFunc and SubscriptFunc name the Funcs that ARRAY[a, b] and x[i]
// parse to (names no SQL function call can have).
const (
	ArrayFunc     = "array"
	SubscriptFunc = "[]"
)

// Func is a function call. Name is lower-cased (unless quoted). Star is
// set for count(*). Distinct for agg(DISTINCT x).
type Func struct {
	P        int
	Name     string
	Args     []Expr
	Star     bool
	Distinct bool
	// WithinGroup is the ORDER BY of `agg(direct args) WITHIN GROUP
	// (ORDER BY ...)`; nil when absent.
	WithinGroup []OrderItem
	// Filter is the condition of `agg(...) FILTER (WHERE cond)`; nil when
	// absent.
	Filter Expr
}

// When is one WHEN ... THEN ... arm of a CASE.
type When struct {
	Cond Expr
	Then Expr
}

// Case is `CASE [Operand] WHEN ... THEN ... [ELSE ...] END`.
type Case struct {
	P       int
	Operand Expr
	Whens   []When
	Else    Expr
}

// Subquery is a parenthesised SELECT used as an expression (reserved for
// later; the parser may reject it).
type Subquery struct {
	P      int
	Select *Select
}

func (e *ColumnRef) Pos() int { return e.P }
func (e *Star) Pos() int      { return e.P }
func (e *Literal) Pos() int   { return e.P }
func (e *Param) Pos() int     { return e.P }
func (e *Unary) Pos() int     { return e.P }
func (e *Binary) Pos() int    { return e.P }
func (e *IsNull) Pos() int    { return e.P }
func (e *IsBool) Pos() int    { return e.P }
func (e *InList) Pos() int    { return e.P }
func (e *Between) Pos() int   { return e.P }
func (e *Cast) Pos() int      { return e.P }
func (e *Func) Pos() int      { return e.P }
func (e *Case) Pos() int      { return e.P }
func (e *Subquery) Pos() int  { return e.P }

func (*ColumnRef) expr() {}
func (*Star) expr()      {}
func (*Literal) expr()   {}
func (*Param) expr()     {}
func (*Unary) expr()     {}
func (*Binary) expr()    {}
func (*IsNull) expr()    {}
func (*IsBool) expr()    {}
func (*InList) expr()    {}
func (*Between) expr()   {}
func (*Cast) expr()      {}
func (*Func) expr()      {}
func (*Case) expr()      {}
func (*Subquery) expr()  {}

// ---- statements ----

// Option is one `key = value` of a WITH (...) or SETTINGS clause, or of
// COPY's option list. Key is lower-cased. Value is a Literal (numbers,
// strings, booleans), or a ColumnRef for a bare word (`shard_key =
// device_id`, `FORMAT csv`); nil when the option has no value
// (`COPY ... (HEADER)`).
type Option struct {
	P     int
	Key   string
	Value Expr
}

// ColumnDef is one column of CREATE STREAM.
type ColumnDef struct {
	P    int
	Name string
	Type TypeName
}

// CreateStream is `CREATE STREAM [IF NOT EXISTS] name (cols) [WITH (...)]`
// or `CREATE FOREIGN TABLE name (cols) SERVER server [OPTIONS (...)]`
// (Foreign set, Server holds the server name).
type CreateStream struct {
	P           int
	Name        string
	IfNotExists bool
	Cols        []ColumnDef
	With        []Option
	Foreign     bool
	Server      string
}

// ViewKind records which seed syntax created a view.
type ViewKind uint8

// View kinds.
const (
	ViewMaterialized ViewKind = iota // CREATE MATERIALIZED VIEW
	ViewContinuous                   // CREATE CONTINUOUS VIEW (PipelineDB)
	ViewPlain                        // CREATE VIEW (continuous when FROM is a stream)
)

// CreateView is any of the three CREATE ... VIEW forms. Query is the
// defining SELECT; QueryText is its source text (from SELECT to the end
// of the select, excluding a trailing SETTINGS clause) so the catalog can
// store and re-parse it.
type CreateView struct {
	P           int
	Name        string
	Kind        ViewKind
	IfNotExists bool
	OrReplace   bool
	With        []Option
	Query       *Select
	QueryText   string
	Settings    []Option // Timeplus: SETTINGS key = 'value', ...
}

// ObjectKind is the kind of object a DROP or SHOW names.
type ObjectKind uint8

// Object kinds.
const (
	ObjStream ObjectKind = iota // DROP STREAM, DROP FOREIGN TABLE
	ObjView                     // DROP VIEW, DROP MATERIALIZED VIEW, DROP CONTINUOUS VIEW
)

// Drop is `DROP STREAM|FOREIGN TABLE|[MATERIALIZED|CONTINUOUS] VIEW
// [IF EXISTS] name [, ...] [CASCADE|RESTRICT]`.
type Drop struct {
	P        int
	Kind     ObjectKind
	Names    []string
	IfExists bool
	Cascade  bool
}

// Insert is `INSERT INTO name [(cols)] VALUES (...), (...)` or `INSERT
// INTO name [(cols)] SELECT ...` (Select set), with an optional ON
// CONFLICT clause (tables only).
type Insert struct {
	P          int
	Table      string
	Cols       []string
	Rows       [][]Expr
	Select     *Select
	OnConflict *OnConflict
}

// Copy is `COPY name [(cols)] FROM STDIN [[WITH] (options)]`, also the
// legacy forms `... FROM STDIN CSV [HEADER]`, `... WITH CSV`,
// `... BINARY`, which are normalized into Options (format = csv|binary,
// header = true, delimiter = ',', null = the empty string).
type Copy struct {
	P       int
	Table   string
	Cols    []string
	Options []Option
}

// TableRef is the FROM item: a (possibly schema-qualified) name, a
// subquery, a table function, or a join of two TableRefs (see
// ast_query.go).
type TableRef struct {
	P        int
	Schema   string
	Name     string
	Alias    string
	Subquery *Select
	// Func is a table function in FROM (tumble(s, ts, interval '1
	// minute')); Name is then the function's name.
	Func *Func
	// Join is set when this item is `Left JOIN Right ...` (or `a, b`).
	Join *Join
	// Ordinality is a table function's WITH ORDINALITY.
	Ordinality bool
	// ColAliases are the column aliases of `AS t(x, y)`.
	ColAliases []string
}

// SelectItem is one output column; Alias is empty unless written.
type SelectItem struct {
	Expr  Expr
	Alias string
}

// OrderItem is one ORDER BY key.
type OrderItem struct {
	Expr Expr
	Desc bool
	// NullsFirst is nil unless NULLS FIRST/LAST was written.
	NullsFirst *bool
}

// Select is a query: a simple SELECT, or (see ast_query.go) a VALUES
// list or a set operation, with an optional WITH. From is nil for
// `SELECT 1`.
type Select struct {
	P        int
	Distinct bool
	// DistinctOn holds the expressions of DISTINCT ON (...); nil otherwise.
	DistinctOn []Expr
	Items      []SelectItem
	From       *TableRef
	Where      Expr
	GroupBy    []Expr
	Having     Expr
	Windows    []NamedWindow // the WINDOW clause
	OrderBy    []OrderItem
	Limit      Expr
	Offset     Expr
	// With is the query's WITH clause; nil when absent.
	With *With
	// SetOp is set when the body is a UNION/INTERSECT/EXCEPT.
	SetOp *SetOp
	// Values is set when the body is `VALUES (...), (...)`.
	Values [][]Expr
}

// Set is `SET [SESSION|LOCAL] name {=|TO} value[, ...]`, `SET name TO
// DEFAULT` (Default set), and `SET TIME ZONE x` (Name "timezone").
// Values holds the raw value words/literals as text.
type Set struct {
	P       int
	Name    string
	Values  []string
	Default bool
	Local   bool
}

// AlterSystemSet is `ALTER SYSTEM SET name {=|TO} value` (cluster
// settings); `ALTER SYSTEM RESET name` sets Reset.
type AlterSystemSet struct {
	P     int
	Name  string
	Value string
	Reset bool
}

// Show is `SHOW name` and `SHOW ALL` (Name "all").
type Show struct {
	P    int
	Name string
}

// ShowObjects is `SHOW STREAMS` / `SHOW VIEWS` (and later SHOW NODES,
// SHOW SHARDS, SHOW OPERATIONS: Kind holds the lower-cased word).
type ShowObjects struct {
	P    int
	Kind string
}

// Reset is `RESET name` or `RESET ALL`.
type Reset struct {
	P    int
	Name string
	All  bool
}

// Begin is BEGIN / START TRANSACTION. ReadOnly: READ ONLY was given
// (the session then refuses statements that write until COMMIT).
type Begin struct {
	P        int
	ReadOnly bool
}

// Commit is COMMIT / END.
type Commit struct{ P int }

// Rollback is ROLLBACK / ABORT.
type Rollback struct{ P int }

// Empty is an empty statement (only comments or whitespace).
type Empty struct{ P int }

func (*CreateStream) stmt()   {}
func (*CreateView) stmt()     {}
func (*Drop) stmt()           {}
func (*Insert) stmt()         {}
func (*Copy) stmt()           {}
func (*Select) stmt()         {}
func (*Set) stmt()            {}
func (*AlterSystemSet) stmt() {}
func (*Show) stmt()           {}
func (*ShowObjects) stmt()    {}
func (*Reset) stmt()          {}
func (*Begin) stmt()          {}
func (*Commit) stmt()         {}
func (*Rollback) stmt()       {}
func (*Empty) stmt()          {}

// Error is a syntax error. Pos is the 1-based character offset of the
// offending token (0 when unknown); Code is the SQLSTATE (42601 for
// syntax errors, 22021 for invalid UTF-8, 54000 when the text is too long).
type Error struct {
	Pos  int
	Code string
	Msg  string
	Hint string // optional, for errors that say what to do instead
}

func (e *Error) Error() string { return e.Msg }

// Parse parses one or more semicolon-separated statements. Each returned
// statement's source text is in the matching element of texts.
//
// Implemented in parser.go.
var _ = Parse

// ---- cluster administration (added with the parser) ----

// AlterNode is `ALTER NODE 'n2' OFFLINE|ONLINE|RECOVER|DRAIN|DECOMMISSION|REMOVE`
// (the node may also be written as a bare word). Action is lower-cased.
// `ALTER NODE 'n2' SET WEIGHT 3` is Action "set_weight" (weight.go).
type AlterNode struct {
	P      int
	Node   string
	Action string
	Weight int64 // Action "set_weight": the proxy's load-balancing weight
}

// AlterShard is one of
//
//	ALTER SHARD 17 TRANSFER LEADER TO 'n3'     (Action "transfer_leader")
//	ALTER SHARD 17 RECOVER REPLICA ON 'n3'     (Action "recover_replica")
//	ALTER SHARD 17 FORCE RECOVER [CONFIRM DATA LOSS]  (Action "force_recover")
//
// Shard is a raft group id (cairn_cluster.shards.group_id; 1 is the meta
// group).
type AlterShard struct {
	P       int
	Shard   int64
	Action  string
	Node    string
	Confirm bool // CONFIRM DATA LOSS
}

// Rebalance is `ALTER SYSTEM REBALANCE`.
type Rebalance struct {
	P int
}

// CancelOperation is `CANCEL OPERATION 12`.
type CancelOperation struct {
	P  int
	ID int64
}

// Failover is `ALTER SYSTEM FAILOVER TO 'n2'`: move every leader that can
// move to the named node.
type Failover struct {
	P    int
	Node string
}

func (*AlterNode) stmt()  {}
func (*AlterShard) stmt() {}
func (*Failover) stmt()   {}
func (*Rebalance) stmt()  {}

func (*CancelOperation) stmt() {}
