package session

import (
	"context"
	"errors"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// readOnlyStatement reports whether running st can change nothing: a
// query (its WITH clauses hold only queries), EXPLAIN of one, or a SHOW.
// Cairn's functions have no side effects, so a SELECT reads only.
func readOnlyStatement(st parser.Statement) bool {
	switch st.(type) {
	case *parser.Select, *parser.Explain, *parser.Show, *parser.ShowObjects,
		*parser.ShowRoles, *parser.ShowGrants, *parser.ShowBackups, *parser.ShowSchedules:
		return true
	}
	return false
}

// errRowLimit stops a read-only statement once it produced enough rows.
var errRowLimit = errors.New("row limit reached")

// limitWriter collects at most max rows.
type limitWriter struct {
	collectWriter
	max       int
	truncated bool
}

func (w *limitWriter) Row(row []types.Datum) error {
	if len(w.res.Rows) >= w.max {
		w.truncated = true
		return errRowLimit
	}
	return w.collectWriter.Row(row)
}

// RunReadOnly runs one statement of user like RunOne, but only one that
// reads (readOnlyStatement): anything else is refused with 25006 before it
// is planned. It keeps at most maxRows rows and reports whether there
// were more. The web console's SQL page runs its statements here, so the
// refusal is the server's, whatever the browser sends.
func RunReadOnly(ctx context.Context, b Backend, user, sql string, maxRows int) (*Result, bool, error) {
	res, more, err := runReadOnly(ctx, b, user, sql, maxRows)
	return res, more, parser.RedactError(sql, err)
}

func runReadOnly(ctx context.Context, b Backend, user, sql string, maxRows int) (*Result, bool, error) {
	stmts, _, err := parser.Parse(sql)
	if err != nil {
		return nil, false, pgerr.From(err)
	}
	var real []parser.Statement
	for _, st := range stmts {
		if _, empty := st.(*parser.Empty); !empty {
			real = append(real, st)
		}
	}
	switch {
	case len(real) == 0:
		return nil, false, pgerr.ConsoleNoSQL.New()
	case len(real) != 1:
		return nil, false, pgerr.ConsoleOneStatement.New(len(real))
	case !readOnlyStatement(real[0]):
		return nil, false, pgerr.ConsoleReadOnly.New(stmtName(real[0]))
	}
	s := New(b, user, nil)
	defer s.Close()
	p, err := s.Prepare(ctx, real[0], sql, nil)
	if err != nil {
		return nil, false, err
	}
	res := &Result{}
	for _, c := range p.Columns() {
		res.Columns = append(res.Columns, c.Name)
	}
	w := &limitWriter{collectWriter: collectWriter{res: res}, max: max(maxRows, 1)}
	tag, err := p.Execute(ctx, nil, w)
	if err != nil && !w.truncated { // the limit stops the run with errRowLimit
		return nil, false, err
	}
	res.Tag = tag
	return res, w.truncated, nil
}
