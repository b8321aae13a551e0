package exec

import (
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
)

// refuseQueryShape refuses the parts of a query PlanSelect does not plan:
// WITH, set operations, VALUES, joins and FROM column aliases.
func refuseQueryShape(sel *parser.Select) error {
	switch {
	case sel.With != nil:
		return pgerr.QueryShapeUnsupported.New("WITH").WithPos(sel.With.P)
	case sel.SetOp != nil:
		return pgerr.QueryShapeUnsupported.New(sel.SetOp.Op.String()).WithPos(sel.SetOp.P)
	case sel.Values != nil:
		return pgerr.QueryShapeUnsupported.New("VALUES").WithPos(sel.P)
	}
	if f := sel.From; f != nil {
		if f.Join != nil {
			return pgerr.QueryShapeUnsupported.New("JOIN").WithPos(f.P)
		}
		if len(f.ColAliases) > 0 {
			return pgerr.QueryShapeUnsupported.New("a column alias list in FROM").WithPos(f.P)
		}
	}
	return nil
}
