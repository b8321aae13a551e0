package pgwire

import (
	"context"
	"errors"
	"runtime/debug"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/cairndb/cairn/internal/pgerr"
)

// errPortalClosed stops a suspended statement whose portal was closed.
var errPortalClosed = errors.New("pgwire: portal closed")

// portalRun is a statement started by a row-limited Execute. It runs on
// its own goroutine so it can pause between rows without holding the
// rest of its result in memory: that goroutine and the connection's take
// turns (each waits on a channel while the other runs), so the session
// and the connection are never used by both at once.
type portalRun struct {
	resume chan int        // connection → statement: send up to n more rows (0: all)
	yield  chan portalStop // statement → connection: paused, or finished
	cancel context.CancelCauseFunc
	done   bool // finished was received
}

// portalStop is why a running portal handed control back.
type portalStop struct {
	paused bool
	tag    string
	err    error
}

// startPortal starts p's statement on its own goroutine, paused until
// the first resume.
func (c *conn) startPortal(p *portal) {
	ctx, cancel := context.WithCancelCause(c.ctx)
	pr := &portalRun{resume: make(chan int), yield: make(chan portalStop), cancel: cancel}
	p.run = pr
	w := &execWriter{c: c, cols: p.ps.cols, formats: p.formats, copyTable: p.ps.copyTable}
	w.pause = func() error {
		pr.yield <- portalStop{paused: true}
		n, ok := <-pr.resume
		if !ok {
			return errPortalClosed
		}
		w.limit, w.sent = n, 0
		return nil
	}
	go func() {
		stop := portalStop{}
		defer func() {
			if r := recover(); r != nil {
				c.s.log.Error("pgwire: panic in a portal's statement", "panic", r, "stack", string(debug.Stack()))
				stop = portalStop{err: pgerr.Panic.New(r)}
			}
			cancel(nil)
			pr.yield <- stop
		}()
		n, ok := <-pr.resume
		if !ok {
			stop.err = errPortalClosed
			return
		}
		w.limit = n
		stop.tag, stop.err = c.executeStmtCtx(ctx, p, w)
	}()
}

// resumePortal lets p's statement send up to maxRows more rows (0: all)
// and waits until it pauses or finishes, then sends PortalSuspended or
// CommandComplete.
func (c *conn) resumePortal(p *portal, maxRows int) error {
	pr := p.run
	if pr.done {
		// Finished at an earlier Execute: PostgreSQL answers again with
		// the empty remainder.
		return c.send(&pgproto3.CommandComplete{CommandTag: []byte(p.tag)})
	}
	c.mu.Lock()
	c.mu.stmtCancel = pr.cancel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.mu.stmtCancel = nil
		c.mu.Unlock()
	}()
	pr.resume <- maxRows
	stop := <-pr.yield
	if stop.paused {
		return c.send(&pgproto3.PortalSuspended{})
	}
	pr.done = true
	if stop.err != nil {
		return stop.err
	}
	p.tag = stop.tag
	return c.send(&pgproto3.CommandComplete{CommandTag: []byte(stop.tag)})
}

// closePortal stops p's statement if it is paused midway and waits for
// its goroutine to end.
func (c *conn) closePortal(p *portal) {
	if p == nil || p.run == nil || p.run.done {
		return
	}
	pr := p.run
	pr.done = true
	pr.cancel(errPortalClosed)
	close(pr.resume)
	<-pr.yield
}

// dropPortal closes and forgets the portal called name.
func (c *conn) dropPortal(name string) {
	c.closePortal(c.portals[name])
	delete(c.portals, name)
}

// endTxPortals drops every portal once no transaction block is open (at
// Sync and after a simple Query), as PostgreSQL does at the end of a
// transaction; a paused statement is stopped.
func (c *conn) endTxPortals() {
	if c.sess == nil || c.sess.TxStatus() != 'I' {
		return
	}
	for name, p := range c.portals {
		if p.run != nil {
			c.dropPortal(name)
		}
	}
}

// closeAllPortals stops every paused statement (the connection ends).
func (c *conn) closeAllPortals() {
	for name := range c.portals {
		c.dropPortal(name)
	}
}
