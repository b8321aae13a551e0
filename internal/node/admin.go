package node

import (
	"context"
	"fmt"

	"github.com/cairndb/cairn/internal/frontend/httpapi"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/sql/session"
	"github.com/cairndb/cairn/internal/types"
)

// RunSQL implements httpapi.SQLRunner: one statement in a fresh session
// of user (the admin API). It works on a draining node too.
func (n *Node) RunSQL(ctx context.Context, user, sql string) (*httpapi.SQLResult, error) {
	r, err := session.RunOne(ctx, sessionBackend{n}, user, sql)
	if err != nil {
		return nil, err
	}
	return (*httpapi.SQLResult)(r), nil
}

// forceRecover runs ALTER SHARD … FORCE RECOVER (ops.ForceRecover) and
// answers with its row.
func (n *Node) forceRecover(ctx context.Context, gid uint64, confirm bool, w pgwire.ResultWriter) ([]types.Datum, error) {
	r, err := n.ops.ForceRecover(ctx, gid, confirm, w.Notice)
	if err != nil {
		return nil, err
	}
	cat := n.meta.Catalog()
	return []types.Datum{txt(fmt.Sprint(gid)), txt(cat.BareName(r.Survivor)), txt(fmt.Sprint(r.Applied)), txt(r.Holds), txt(cat.NodeNames(r.Lost)), txt(r.Outcome)}, nil
}
