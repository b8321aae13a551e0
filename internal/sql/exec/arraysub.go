package exec

import (
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/types"
)

// arraySubquery is ARRAY(subquery): the subquery's values, in the order
// it returns them, as an array of its column's type (psql's \du and \d
// use it over pg_roles).
func arraySubquery(sq *subquery, t types.T, pos int) (*scalar.Node, error) {
	at, ok := types.ArrayOf(t)
	if !ok {
		return nil, pgerr.FeatureNotSupportedArray.New(t).WithPos(pos)
	}
	return scalar.VirtualNode(at, func(ec *Ctx, in scalar.Input) (types.Datum, error) {
		r, err := sq.result(ec, in)
		if err != nil {
			return types.Datum{}, err
		}
		return types.Datum{T: at, S: string(types.AppendArray(nil, r.vals))}, nil
	}), nil
}
