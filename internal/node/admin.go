package node

import (
	"context"
	"fmt"

	"github.com/cairndb/cairn/internal/frontend/httpapi"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/sql/session"
	"github.com/cairndb/cairn/internal/types"
)

// Admin statements: ALTER NODE, ALTER SHARD, ALTER SYSTEM FAILOVER /
// REBALANCE and CANCEL OPERATION. Each records an operation (or changes
// one) and answers with its row: op_id, op_type, target, status. The
// scheduler on the meta leader does the work; SHOW OPERATIONS follows it.

// RunSQL implements httpapi.SQLRunner: one statement in a fresh session
// (the admin API). It works on a draining node too.
func (n *Node) RunSQL(ctx context.Context, sql string) (*httpapi.SQLResult, error) {
	stmts, _, err := parser.Parse(sql)
	if err != nil {
		return nil, pgerr.From(err)
	}
	if len(stmts) != 1 {
		return nil, pgerr.AdminOneStatement.New(len(stmts))
	}
	s := session.New(sessionBackend{n}, "cairn", nil)
	defer s.Close()
	p, err := s.Prepare(ctx, stmts[0], sql, nil)
	if err != nil {
		return nil, err
	}
	res := &httpapi.SQLResult{}
	for _, c := range p.Columns() {
		res.Columns = append(res.Columns, c.Name)
	}
	w := &collectWriter{res: res}
	tag, err := p.Execute(ctx, nil, w)
	if err != nil {
		return nil, err
	}
	res.Tag = tag
	return res, nil
}

// collectWriter gathers a statement's rows as text for the admin API.
type collectWriter struct {
	res *httpapi.SQLResult
	buf []byte
}

func (w *collectWriter) Row(row []types.Datum) error {
	out := make([]*string, len(row))
	for i, d := range row {
		if d.Null {
			continue
		}
		w.buf = types.AppendText(w.buf[:0], d)
		s := string(w.buf)
		out[i] = &s
	}
	w.res.Rows = append(w.res.Rows, out)
	return nil
}

func (w *collectWriter) Notice(msg string)           { w.res.Notices = append(w.res.Notices, msg) }
func (w *collectWriter) ParameterStatus(_, _ string) {}
func (w *collectWriter) CopyIn(pgwire.CopyOptions, []types.T) (pgwire.CopySource, error) {
	return nil, pgerr.AdminNoCopy.New()
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
