package scalar

import (
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Column scopes of joins and subqueries (issue 11).
//
// A join's input row is every source's columns side by side (plus the
// merged columns of USING/NATURAL), so one Cols list can hold several
// columns of the same name. Meta, parallel to Cols, tells each column's
// qualifier (the FROM item's alias or name) and whether an unqualified
// name may find it: `a.x` looks only at a's columns, `x` at every column
// not marked QualOnly, and finding two is 42702.
//
// A subquery's compiler has Outer: a column its own scope does not know
// is looked up in the enclosing query's scope (a correlated reference);
// Outer returns a node that reads the value the enclosing query passes
// in (Ctx.Corr). Sub compiles subquery expressions (the planner of
// SELECTs lives in package exec, which imports this one).

// ColMeta describes one column of a multi-source scope.
type ColMeta struct {
	// Qual is the name that qualifies the column ("" for a merged USING
	// column, which has none).
	Qual string
	// QualOnly hides the column from unqualified names (a column merged
	// away by USING/NATURAL: `x` means the merged one, `a.x` this one).
	QualOnly bool
}

// OuterFunc resolves a column reference in an enclosing query's scope:
// ok=false when that scope does not know it either.
type OuterFunc func(r *parser.ColumnRef) (n *Node, ok bool, err error)

// SubFunc compiles a subquery expression (parser.Subquery, Exists,
// InSubquery, Quantified with a Select) in compiler c's scope.
type SubFunc func(c *Compiler, e parser.Expr) (*Node, error)

// resolveMeta is ResolveCol for a scope with Meta.
func (c *Compiler) resolveMeta(r *parser.ColumnRef) (int, error) {
	found := -1
	if r.Table != "" {
		known := false
		for i := range c.Cols {
			if c.Meta[i].Qual != r.Table {
				continue
			}
			known = true
			if c.Cols[i].Name == r.Name {
				if found >= 0 {
					return -1, pgerr.AmbiguousColumnRef.New(r.Table + "." + r.Name).WithPos(r.P)
				}
				found = i
			}
		}
		if !known && !contains(c.Quals, r.Table) {
			return -1, pgerr.MissingFromEntry.New(r.Table).WithPos(r.P)
		}
		return found, nil
	}
	for i := range c.Cols {
		if c.Cols[i].Name == r.Name && !c.Meta[i].QualOnly {
			if found >= 0 {
				return -1, pgerr.AmbiguousColumnRef.New(r.Name).WithPos(r.P)
			}
			found = i
		}
	}
	return found, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// outer tries the enclosing scope for a reference this scope does not
// resolve; err is what this scope found (returned when the outer scope
// does not know the name either).
func (c *Compiler) outer(r *parser.ColumnRef, err error) (*Node, bool, error) {
	if c.Outer == nil {
		return nil, false, err
	}
	n, ok, oerr := c.Outer(r)
	if oerr != nil {
		return nil, true, oerr
	}
	if !ok {
		return nil, false, err
	}
	return n, true, nil
}

// CorrNode reads correlation value k (Ctx.Corr), whose type is n's.
func CorrNode(k int, n *Node) *Node {
	return newNode(n.T, func(ec *Ctx, _ Input) (types.Datum, error) {
		return ec.Corr[k], nil
	})
}
