package parser

// AST of the relational parts of a query (issue 11): joins, subquery
// expressions, WITH, set operations, VALUES and EXPLAIN.
//
// Shape. A query is always a *Select, so every place that holds a query
// (Subquery, TableRef.Subquery, CTE.Query, CreateView.Query, Explain.Query)
// keeps one type. A *Select is exactly one of three bodies:
//
//   - a simple SELECT: Items (and From, Where, GroupBy, Having) are set;
//   - a VALUES list: Values is non-nil (Items empty);
//   - a set operation: SetOp is non-nil (Items empty); its operands are
//     *Select themselves, so `a UNION b INTERSECT c` is a tree with
//     INTERSECT binding tighter, as in PostgreSQL.
//
// With, OrderBy, Limit and Offset apply to the body whichever it is (for a
// set operation: to the whole result, as `SELECT ... UNION SELECT ...
// ORDER BY 1` means in PostgreSQL). Code that only handles simple SELECTs
// must check IsSimple and refuse the rest.
//
// FROM. Select.From stays one *TableRef: `FROM a, b` is a tree of Joins
// (a comma is a JoinCross with Comma set), `a JOIN b ON c` a TableRef with
// Join set, and a parenthesised join is just that node (its Alias, if
// any, names the join).

// JoinKind is the kind of a join.
type JoinKind uint8

// Join kinds.
const (
	JoinInner JoinKind = iota // [INNER] JOIN
	JoinLeft                  // LEFT [OUTER] JOIN
	JoinRight                 // RIGHT [OUTER] JOIN
	JoinFull                  // FULL [OUTER] JOIN
	JoinCross                 // CROSS JOIN, and the comma of a FROM list
)

// String is the SQL of the join kind ("INNER JOIN", ...).
func (k JoinKind) String() string {
	switch k {
	case JoinInner:
		return "INNER JOIN"
	case JoinLeft:
		return "LEFT JOIN"
	case JoinRight:
		return "RIGHT JOIN"
	case JoinFull:
		return "FULL JOIN"
	case JoinCross:
		return "CROSS JOIN"
	}
	return "JOIN"
}

// Join is the join of two FROM items. At most one of On, Using and
// Natural is set; none of them for JoinCross.
type Join struct {
	Kind        JoinKind
	Left, Right *TableRef
	On          Expr
	Using       []string
	// UsingPos are the positions of the USING names (for errors).
	UsingPos []int
	Natural  bool
	// Comma is set when the join was written as `a, b` (Kind JoinCross).
	Comma bool
}

// Exists is `EXISTS (query)`; NOT EXISTS parses as a Unary NOT of it.
type Exists struct {
	P      int
	Select *Select
}

// InSubquery is `X [NOT] IN (query)`.
type InSubquery struct {
	P      int
	X      Expr
	Select *Select
	Not    bool
}

// Quantified is `X op ANY|SOME|ALL (query)` or `X op ANY|ALL (array)`:
// exactly one of Select and Array is set. Op is a comparison operator as
// in Binary ("=", "<>", "<", ...); SOME is written as ANY (All false).
type Quantified struct {
	P      int
	Op     string
	All    bool
	X      Expr
	Select *Select
	Array  Expr
}

// ArraySubquery is `ARRAY(query)`: the query's one column as an array.
type ArraySubquery struct {
	P      int
	Select *Select
}

func (e *ArraySubquery) Pos() int { return e.P }
func (*ArraySubquery) expr()      {}

func (e *Exists) Pos() int     { return e.P }
func (e *InSubquery) Pos() int { return e.P }
func (e *Quantified) Pos() int { return e.P }

func (*Exists) expr()     {}
func (*InSubquery) expr() {}
func (*Quantified) expr() {}

// SetOpKind is UNION, INTERSECT or EXCEPT.
type SetOpKind uint8

// Set operations.
const (
	SetUnion SetOpKind = iota
	SetIntersect
	SetExcept
)

// String is the SQL keyword.
func (k SetOpKind) String() string {
	switch k {
	case SetIntersect:
		return "INTERSECT"
	case SetExcept:
		return "EXCEPT"
	}
	return "UNION"
}

// SetOp is `Left UNION|INTERSECT|EXCEPT [ALL] Right` (DISTINCT, the
// default, when All is false).
type SetOp struct {
	P           int
	Op          SetOpKind
	All         bool
	Left, Right *Select
}

// With is a WITH [RECURSIVE] clause.
type With struct {
	P         int
	Recursive bool
	CTEs      []CTE
}

// CTE is one `name [(cols)] AS (query)` of a WITH clause.
type CTE struct {
	P     int
	Name  string
	Cols  []string
	Query *Select
}

// IsSimple reports whether s is a plain SELECT (no WITH, set operation or
// VALUES body).
func (s *Select) IsSimple() bool { return s.With == nil && s.SetOp == nil && s.Values == nil }

// Explain is `EXPLAIN [ANALYZE] [VERBOSE] query` or `EXPLAIN (option
// [value], ...) query`. Options the parser accepts: ANALYZE and VERBOSE
// (booleans), COSTS OFF (Cairn prints no cost estimates) and FORMAT TEXT;
// anything else is refused with 0A000.
type Explain struct {
	P       int
	Analyze bool
	Verbose bool
	Query   *Select
}

func (*Explain) stmt() {}
