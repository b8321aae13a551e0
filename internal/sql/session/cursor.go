package session

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// cursorMem bounds the rows a WITH HOLD cursor holds when the statement's
// own memory budget is unbounded.
const cursorMem = 256 << 20

// errCursorClosed stops the query of a cursor closed midway.
var errCursorClosed = errors.New("session: cursor closed")

// cursor is a DECLAREd cursor. A cursor without HOLD streams: its query
// runs on its own goroutine (a pump) and pauses between FETCHes, so no
// rows are held. A WITH HOLD cursor outlives its transaction, so its
// query runs to the end at DECLARE and the rows are held, charged to a
// memory budget, until fetched or closed.
type cursor struct {
	cols    []pgwire.Column
	hold    bool
	inBlock bool // declared in the transaction block now open

	pump *rowPump // without HOLD

	rows    [][]types.Datum // WITH HOLD: rows[pos:] are still to be fetched
	pos     int
	mem     *scalar.Budget
	charged int64
}

// release stops the query and gives back the memory of unfetched rows.
func (c *cursor) release() {
	if c.pump != nil {
		c.pump.stop()
	}
	c.mem.Shrink(c.charged)
	c.charged, c.rows = 0, nil
}

// fetch sends up to n rows (all with all) to w (nil: discard, for MOVE)
// and returns how many there were.
func (c *cursor) fetch(ctx context.Context, w pgwire.ResultWriter, n int64, all bool) (int64, error) {
	if c.pump != nil {
		return c.pump.fetch(ctx, w, n, all)
	}
	left := int64(len(c.rows) - c.pos)
	if !all && left > n {
		left = n
	}
	end := c.pos + int(left)
	for _, row := range c.rows[c.pos:end] {
		if w != nil {
			if err := w.Row(row); err != nil {
				return 0, err
			}
		}
		sz := scalar.RowSize(row)
		c.mem.Shrink(sz)
		c.charged -= sz
	}
	clear(c.rows[c.pos:end])
	c.pos = end
	return left, nil
}

// rowPump runs a statement on its own goroutine and hands its rows out a
// FETCH at a time. The goroutine and the session's take turns (each
// waits on a channel while the other runs), so the session is never used
// by both at once.
type rowPump struct {
	resume chan fetchReq
	yield  chan error // nil: paused after the rows asked for; else finished (errPumpDone if cleanly)
	cancel context.CancelFunc
	done   bool
}

var errPumpDone = errors.New("session: cursor query finished")

// fetchReq asks the pump for rows: up to n (or all) sent to w.
type fetchReq struct {
	w   pgwire.ResultWriter
	n   int64
	all bool
}

// pumpWriter is the ResultWriter the pumped statement writes to: it
// forwards to the current FETCH's writer and pauses when that has its
// rows.
type pumpWriter struct {
	p    *rowPump
	req  fetchReq
	sent int64
}

func (w *pumpWriter) Row(row []types.Datum) error {
	for !w.req.all && w.sent == w.req.n {
		w.p.yield <- nil
		req, ok := <-w.p.resume
		if !ok {
			return errCursorClosed
		}
		w.req, w.sent = req, 0
	}
	w.sent++
	return w.req.w.Row(row)
}

func (w *pumpWriter) Notice(msg string) {
	if w.req.w != nil {
		w.req.w.Notice(msg)
	}
}

func (w *pumpWriter) ParameterStatus(name, value string) {
	if w.req.w != nil {
		w.req.w.ParameterStatus(name, value)
	}
}

func (w *pumpWriter) CopyIn(pgwire.CopyOptions, []types.T) (pgwire.CopySource, error) {
	return nil, pgerr.CopyStartedTwice.New()
}

// startPump starts run on its own goroutine and waits until it paused
// before its first row, or finished (an error then is the DECLARE's), or
// until ctx (the DECLARE's) ends, which stops it.
func startPump(ctx context.Context, run func(ctx context.Context, w pgwire.ResultWriter) error) (*rowPump, error) {
	declareCtx := ctx
	ctx, cancel := context.WithCancel(context.Background())
	p := &rowPump{resume: make(chan fetchReq), yield: make(chan error), cancel: cancel}
	w := &pumpWriter{p: p}
	go func() {
		err := errPumpDone
		defer func() {
			if r := recover(); r != nil {
				err = pgerr.Panic.New(fmt.Sprintf("%v\n%s", r, debug.Stack()))
			}
			cancel()
			p.yield <- err
		}()
		if rerr := run(ctx, w); rerr != nil {
			err = rerr
		}
	}()
	select {
	case err := <-p.yield:
		if err != nil {
			p.done = true
			if err != errPumpDone {
				return nil, err
			}
		}
	case <-declareCtx.Done():
		p.stopWaiting()
		return nil, declareCtx.Err()
	}
	return p, nil
}

// fetch resumes the statement until it sent the rows asked for or ended.
// If ctx ends first (a cancel, statement_timeout), the cursor's query is
// stopped and the FETCH fails.
func (p *rowPump) fetch(ctx context.Context, w pgwire.ResultWriter, n int64, all bool) (int64, error) {
	if p.done || (!all && n == 0) {
		return 0, nil
	}
	// The FETCH's writer, counting (and for MOVE discarding) the rows.
	cw := &countWriter{ResultWriter: w, discard: w == nil}
	req := fetchReq{w: cw, n: n, all: all}
	p.resume <- req
	select {
	case err := <-p.yield:
		if err != nil {
			p.done = true
			if err != errPumpDone {
				return cw.n, err
			}
		}
		return cw.n, nil
	case <-ctx.Done():
		p.stopWaiting()
		return cw.n, ctx.Err()
	}
}

// stop ends a paused (or running) statement and waits for its goroutine.
func (p *rowPump) stop() {
	if p.done {
		return
	}
	p.done = true
	p.cancel()
	close(p.resume)
	<-p.yield
}

// stopWaiting stops the statement while a fetch is running it.
func (p *rowPump) stopWaiting() {
	p.done = true
	p.cancel()
	close(p.resume)
	for err := range p.yield {
		if err != nil {
			return
		}
	}
}

// countWriter counts the rows a FETCH receives; with discard (MOVE) it
// only counts.
type countWriter struct {
	pgwire.ResultWriter
	n       int64
	discard bool
}

func (w *countWriter) Row(row []types.Datum) error {
	w.n++
	if w.discard {
		return nil
	}
	return w.ResultWriter.Row(row)
}

func (w *countWriter) Notice(msg string) {
	if w.ResultWriter != nil {
		w.ResultWriter.Notice(msg)
	}
}

func (w *countWriter) ParameterStatus(name, value string) {
	if w.ResultWriter != nil {
		w.ResultWriter.ParameterStatus(name, value)
	}
}

// rowCollector is the ResultWriter a WITH HOLD cursor's query runs with:
// rows are kept, charged to mem; notices pass through.
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
		cols := inner.cols
		if d.Binary {
			cols = make([]pgwire.Column, len(inner.cols))
			for i, col := range inner.cols {
				col.Binary = true
				cols[i] = col
			}
		}
		c := &cursor{cols: cols, hold: d.Hold, inBlock: s.tx == txOpen}
		if d.Hold {
			c.mem = s.execCtx(params).Mem
			if c.mem == nil {
				c.mem = scalar.NewBudget(cursorMem)
			}
			rc := &rowCollector{ResultWriter: w, mem: c.mem}
			if _, err := inner.run(ctx, params, rc); err != nil {
				c.mem.Shrink(rc.charged)
				return "", err
			}
			c.rows, c.charged = rc.rows, rc.charged
		} else {
			params = append([]types.Datum(nil), params...)
			pump, err := startPump(ctx, func(ctx context.Context, pw pgwire.ResultWriter) error {
				_, err := inner.run(ctx, params, pw)
				return err
			})
			if err != nil {
				return "", err
			}
			c.pump = pump
		}
		if s.proto.cursors == nil {
			s.proto.cursors = map[string]*cursor{}
		}
		s.proto.cursors[d.Name] = c
		return "DECLARE CURSOR", nil
	}}, nil
}

func (s *Session) prepareFetch(f *parser.Fetch) (*prepared, error) {
	c, ok := s.proto.cursors[f.Name]
	if !ok {
		return nil, pgerr.CursorNotFound.New(f.Name).WithPos(f.P)
	}
	if !f.All && f.Count == 0 {
		return nil, pgerr.FetchZero.New().WithPos(f.P)
	}
	p := &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		if s.proto.cursors[f.Name] != c {
			return "", pgerr.CursorNotFound.New(f.Name)
		}
		if f.Move {
			w = nil
		}
		n, err := c.fetch(ctx, w, f.Count, f.All)
		if err != nil {
			return "", err
		}
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
