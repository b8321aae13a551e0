package session

import (
	"context"
	"fmt"

	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// cursorMem bounds the rows one cursor holds when the statement's own
// memory budget is unbounded.
const cursorMem = 256 << 20

// cursor is a DECLAREd cursor. Its query runs to completion at DECLARE
// and the rows are held (charged to a memory budget) until FETCHed or
// closed: Cairn's plans push rows, so a cursor cannot pause one midway
// without holding a shard read open across statements.
type cursor struct {
	cols    []pgwire.Column
	rows    [][]types.Datum // rows[pos:] are still to be fetched
	pos     int
	hold    bool
	inBlock bool // declared in the transaction block now open
	mem     *scalar.Budget
	charged int64
}

// release gives back the memory of the rows not yet fetched.
func (c *cursor) release() {
	c.mem.Shrink(c.charged)
	c.charged, c.rows = 0, nil
}

// rowCollector is the ResultWriter a cursor's query runs with: rows are
// kept, charged to mem; notices pass through.
type rowCollector struct {
	pgwire.ResultWriter
	mem     *scalar.Budget
	rows    [][]types.Datum
	charged int64
}

func (r *rowCollector) Row(row []types.Datum) error {
	n := scalar.RowSize(row)
	if err := r.mem.Grow(n); err != nil {
		return err
	}
	r.charged += n
	r.rows = append(r.rows, append([]types.Datum(nil), row...))
	return nil
}

func (r *rowCollector) CopyIn(pgwire.CopyOptions, []types.T) (pgwire.CopySource, error) {
	return nil, pgerr.CopyStartedTwice.New()
}

func (s *Session) prepareDeclare(ctx context.Context, d *parser.Declare, oids []uint32) (*prepared, error) {
	if d.Binary {
		return nil, pgerr.BinaryCursor.New().WithPos(d.P)
	}
	if !innerAllowed(d.Query) {
		return nil, pgerr.CursorNeedsQuery.New(stmtName(d.Query)).WithPos(d.P)
	}
	inner, err := s.prepare(ctx, d.Query, oids)
	if err != nil {
		return nil, err
	}
	if inner.cols == nil {
		return nil, pgerr.CursorNeedsQuery.New(stmtName(d.Query)).WithPos(d.P)
	}
	return &prepared{params: inner.params, run: func(ctx context.Context, params []types.Datum, w pgwire.ResultWriter) (string, error) {
		if s.tx != txOpen && !d.Hold {
			return "", pgerr.CursorOutsideBlock.New()
		}
		if _, ok := s.proto.cursors[d.Name]; ok {
			return "", pgerr.CursorExists.New(d.Name)
		}
		mem := s.execCtx(params).Mem
		if mem == nil {
			mem = scalar.NewBudget(cursorMem)
		}
		rc := &rowCollector{ResultWriter: w, mem: mem}
		if _, err := inner.run(ctx, params, rc); err != nil {
			mem.Shrink(rc.charged)
			return "", err
		}
		if s.proto.cursors == nil {
			s.proto.cursors = map[string]*cursor{}
		}
		s.proto.cursors[d.Name] = &cursor{cols: inner.cols, rows: rc.rows, hold: d.Hold, inBlock: s.tx == txOpen, mem: mem, charged: rc.charged}
		return "DECLARE CURSOR", nil
	}}, nil
}

func (s *Session) prepareFetch(f *parser.Fetch) (*prepared, error) {
	c, ok := s.proto.cursors[f.Name]
	if !ok {
		return nil, pgerr.CursorNotFound.New(f.Name).WithPos(f.P)
	}
	p := &prepared{run: func(_ context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		if s.proto.cursors[f.Name] != c {
			return "", pgerr.CursorNotFound.New(f.Name)
		}
		n := len(c.rows) - c.pos
		if !f.All && int64(n) > f.Count {
			n = int(f.Count)
		}
		for _, row := range c.rows[c.pos : c.pos+n] {
			if !f.Move {
				if err := w.Row(row); err != nil {
					return "", err
				}
			}
			sz := scalar.RowSize(row)
			c.mem.Shrink(sz)
			c.charged -= sz
		}
		clear(c.rows[c.pos : c.pos+n])
		c.pos += n
		if f.Move {
			return fmt.Sprintf("MOVE %d", n), nil
		}
		return fmt.Sprintf("FETCH %d", n), nil
	}}
	if !f.Move {
		p.cols = c.cols
	}
	return p, nil
}

func (s *Session) prepareClose(cl *parser.CloseCursor) (*prepared, error) {
	return &prepared{run: func(context.Context, []types.Datum, pgwire.ResultWriter) (string, error) {
		if cl.All {
			for name, c := range s.proto.cursors {
				c.release()
				delete(s.proto.cursors, name)
			}
			return "CLOSE CURSOR ALL", nil
		}
		c, ok := s.proto.cursors[cl.Name]
		if !ok {
			return "", pgerr.CursorNotFound.New(cl.Name).WithPos(cl.P)
		}
		c.release()
		delete(s.proto.cursors, cl.Name)
		return "CLOSE CURSOR", nil
	}}, nil
}
