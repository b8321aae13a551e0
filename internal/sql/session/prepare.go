package session

import (
	"context"
	"fmt"
	"strings"

	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// protoState is a session's SQL-level prepared statements and cursors,
// and whether this transaction block was told its DDL is applied at once.
type protoState struct {
	stmts     map[string]*prepared // PREPARE name AS ...
	cursors   map[string]*cursor   // DECLARE name CURSOR ...
	ddlWarned bool
}

// prepareProto prepares the statements drivers send besides queries:
// PREPARE/EXECUTE/DEALLOCATE, cursors and COPY TO. ok is false for any
// other statement.
func (s *Session) prepareProto(ctx context.Context, stmt parser.Statement, oids []uint32) (p *prepared, ok bool, err error) {
	switch st := stmt.(type) {
	case *parser.Prepare:
		p, err = s.preparePrepare(ctx, st)
	case *parser.Execute:
		p, err = s.prepareExecute(st, oids)
	case *parser.Deallocate:
		p, err = s.prepareDeallocate(st)
	case *parser.Declare:
		p, err = s.prepareDeclare(ctx, st, oids)
	case *parser.Fetch:
		p, err = s.prepareFetch(st)
	case *parser.CloseCursor:
		p, err = s.prepareClose(st)
	case *parser.CopyTo:
		p, err = s.prepareCopyTo(ctx, st, oids)
	default:
		return nil, false, nil
	}
	return p, true, err
}

// appliedAtOnce reports whether a statement changes shared state at once
// rather than being buffered by a transaction block (INSERT and COPY
// FROM into streams, and table writes, wait for COMMIT) or touching only
// the session: DDL of every kind, and the administration statements.
func appliedAtOnce(stmt parser.Statement) bool {
	switch stmt.(type) {
	case *parser.Select, *parser.Explain, *parser.Insert, *parser.Copy, *parser.CopyTo,
		*parser.Set, *parser.Reset, *parser.Show, *parser.ShowObjects, *parser.ShowRoles, *parser.ShowGrants,
		*parser.Begin, *parser.Commit, *parser.Rollback, *parser.Empty,
		*parser.Prepare, *parser.Execute, *parser.Deallocate,
		*parser.Declare, *parser.Fetch, *parser.CloseCursor,
		// table writes in a block are deferred to COMMIT (table.go)
		*parser.Update, *parser.Delete, *parser.Truncate:
		return false
	}
	return true
}

// stmtName names a statement in messages: its first words, as a tag.
func stmtName(stmt parser.Statement) string {
	if n := ddlName(stmt); n != "this statement" {
		return n
	}
	f := strings.Fields(parser.Format(stmt))
	if len(f) > 2 {
		f = f[:2]
	}
	return strings.Join(f, " ")
}

// warnAppliedAtOnce wraps the run of a statement that is applied at once:
// inside a transaction block the first such statement says (NOTICE) that
// ROLLBACK will not undo it.
func (s *Session) warnAppliedAtOnce(stmt parser.Statement, p *prepared) {
	run := p.run
	name := stmtName(stmt)
	p.run = func(ctx context.Context, params []types.Datum, w pgwire.ResultWriter) (string, error) {
		if s.tx == txOpen && !s.proto.ddlWarned {
			s.proto.ddlWarned = true
			w.Notice(fmt.Sprintf("%s is applied at once, not at COMMIT: ROLLBACK will not undo it", name))
		}
		return run(ctx, params, w)
	}
}

// txEnded is called when a transaction block ends (committed or not):
// cursors without HOLD close, and a ROLLBACK also closes the cursors the
// block declared WITH HOLD, as in PostgreSQL.
func (s *Session) txEnded(committed bool) {
	s.proto.ddlWarned = false
	for name, c := range s.proto.cursors {
		if !c.hold || (!committed && c.inBlock) {
			c.release()
			delete(s.proto.cursors, name)
			continue
		}
		c.inBlock = false
	}
}

// closeProto releases cursors when the session ends.
func (s *Session) closeProto() {
	for _, c := range s.proto.cursors {
		c.release()
	}
	s.proto = protoState{}
}

// innerAllowed reports whether stmt may be PREPAREd, DECLAREd or COPYed.
func innerAllowed(stmt parser.Statement) bool {
	switch stmt.(type) {
	case *parser.Begin, *parser.Commit, *parser.Rollback, *parser.Prepare, *parser.Execute,
		*parser.Deallocate, *parser.Declare, *parser.Fetch, *parser.CloseCursor,
		*parser.Copy, *parser.CopyTo, *parser.Empty:
		return false
	}
	return true
}

func (s *Session) preparePrepare(ctx context.Context, st *parser.Prepare) (*prepared, error) {
	if !innerAllowed(st.Stmt) {
		return nil, pgerr.PrepareStmtKind.New(stmtName(st.Stmt)).WithPos(st.P)
	}
	oids := make([]uint32, len(st.Types))
	for i, tn := range st.Types {
		t, ok := types.FromName(tn.Name)
		if !ok {
			return nil, pgerr.TypeNotFound.New(tn.Name).WithPos(tn.P)
		}
		oids[i] = t.OID()
	}
	return &prepared{run: func(ctx context.Context, _ []types.Datum, _ pgwire.ResultWriter) (string, error) {
		if _, ok := s.proto.stmts[st.Name]; ok {
			return "", pgerr.PreparedExists.New(st.Name)
		}
		inner, err := s.prepare(ctx, st.Stmt, oids)
		if err != nil {
			return "", err
		}
		inner.s = s
		// A declared type the statement did not use still counts ($n
		// that appears nowhere takes the declared type).
		for i, oid := range oids {
			if i >= len(inner.params) {
				t, _ := types.FromOID(oid)
				inner.params = append(inner.params, t)
			}
		}
		if s.proto.stmts == nil {
			s.proto.stmts = map[string]*prepared{}
		}
		s.proto.stmts[st.Name] = inner
		return "PREPARE", nil
	}}, nil
}

func (s *Session) prepareExecute(st *parser.Execute, oids []uint32) (*prepared, error) {
	inner, ok := s.proto.stmts[st.Name]
	if !ok {
		return nil, pgerr.PreparedNotFound.New(st.Name).WithPos(st.P)
	}
	if len(st.Args) != len(inner.params) {
		return nil, pgerr.ExecuteArgCount.New(st.Name, len(inner.params), len(st.Args)).WithPos(st.P)
	}
	pt := s.paramTypes(oids)
	args := make([]*exec.Expr, len(st.Args))
	for i, a := range st.Args {
		ce, err := exec.Compile(a, nil, pt)
		if err != nil {
			return nil, err
		}
		args[i] = ce
	}
	return &prepared{params: pt.Types, cols: inner.cols, run: func(ctx context.Context, params []types.Datum, w pgwire.ResultWriter) (string, error) {
		if s.proto.stmts[st.Name] != inner {
			return "", pgerr.PreparedNotFound.New(st.Name)
		}
		ec := s.execCtx(params)
		vals := make([]types.Datum, len(args))
		for i, a := range args {
			d, err := a.EvalRow(ec, nil)
			if err != nil {
				return "", err
			}
			t := inner.params[i]
			if t == types.Unknown {
				t = types.Text
			}
			if d, err = exec.CoerceStyle(d, t, ec.Style); err != nil {
				return "", pgerr.From(err).WithPos(st.Args[i].Pos())
			}
			vals[i] = d
		}
		return inner.run(ctx, vals, w)
	}}, nil
}

func (s *Session) prepareDeallocate(st *parser.Deallocate) (*prepared, error) {
	return &prepared{run: func(context.Context, []types.Datum, pgwire.ResultWriter) (string, error) {
		if st.All {
			s.proto.stmts = nil
			return "DEALLOCATE ALL", nil
		}
		if _, ok := s.proto.stmts[st.Name]; !ok {
			return "", pgerr.PreparedNotFound.New(st.Name).WithPos(st.P)
		}
		delete(s.proto.stmts, st.Name)
		return "DEALLOCATE", nil
	}}, nil
}
