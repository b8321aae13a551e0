package scalar

import (
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
)

// Misuse of window functions, set-returning functions and GROUPING
// (issue 11: olap). The SELECT planner resolves them where they are
// allowed (package exec); a compiler meeting one anywhere else refuses
// it with PostgreSQL's error.

// IsSRFName reports whether the lower-case name is a set-returning
// function Cairn runs (in FROM and in a SELECT's select list).
func IsSRFName(name string) bool {
	return name == "generate_series" || name == "unnest" || name == ExpandArrayName
}

// ExpandArrayName is the set-returning function PostgreSQL's
// information_schema uses to number an array's elements (issue 11:
// pkeys); pgjdbc reads primary keys with it.
const ExpandArrayName = "information_schema._pg_expandarray"

// olapMisuse returns the error for a window call, a set-returning
// function or GROUPING where the compiler's scope does not allow it;
// nil for any other function.
func (c *Compiler) olapMisuse(e parser.Expr, name string) error {
	if wf, ok := e.(*parser.WindowFunc); ok {
		if c.NoAgg == "" {
			return pgerr.WindowInAggregate.New().WithPos(wf.P)
		}
		return pgerr.WindowFuncNotAllowed.New(c.NoAgg).WithPos(wf.P)
	}
	switch {
	case IsSRFName(name):
		if c.NoAgg == "" {
			return pgerr.SRFInAggregate.New("aggregate").WithPos(e.Pos())
		}
		return pgerr.SRFNotAllowed.New(c.NoAgg, name).WithPos(e.Pos())
	case name == "grouping":
		where := c.NoAgg
		if where == "" {
			where = "aggregate function arguments"
		}
		return pgerr.GroupingNotAllowed.New(where).WithPos(e.Pos())
	}
	return nil
}
