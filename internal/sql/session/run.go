package session

import (
	"context"

	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Result is one statement's answer as text: the admin API's reply.
type Result struct {
	Columns []string    `json:"columns"`
	Rows    [][]*string `json:"rows"` // text format, nil = NULL
	Tag     string      `json:"tag"`  // command tag, e.g. "ALTER NODE"
	Notices []string    `json:"notices,omitempty"`
}

// RunOne runs one statement in a fresh session of user on b (the admin
// API) and collects its rows as text.
func RunOne(ctx context.Context, b Backend, user, sql string) (*Result, error) {
	res, err := runOne(ctx, b, user, sql)
	// The reply (and whatever logs it) must not quote a password.
	return res, parser.RedactError(sql, err)
}

func runOne(ctx context.Context, b Backend, user, sql string) (*Result, error) {
	stmts, _, err := parser.Parse(sql)
	if err != nil {
		return nil, pgerr.From(err)
	}
	if len(stmts) != 1 {
		return nil, pgerr.AdminOneStatement.New(len(stmts))
	}
	s := New(b, user, nil)
	defer s.Close()
	p, err := s.Prepare(ctx, stmts[0], sql, nil)
	if err != nil {
		return nil, err
	}
	res := &Result{}
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
	res *Result
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
