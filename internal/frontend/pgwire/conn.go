package pgwire

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

var (
	errServerClosed   = errors.New("pgwire: server closed")
	errClientGone     = errors.New("pgwire: client disconnected")
	errCanceledByUser = errors.New("pgwire: statement canceled by user request")
)

// flushThreshold is how many buffered output bytes trigger a write while
// rows stream out.
const flushThreshold = 32 << 10

// conn is one client connection. Everything but mu's fields is owned by
// the connection goroutine.
type conn struct {
	s      *Server
	raw    net.Conn // the TCP connection; never reassigned (kill closes it)
	nc     net.Conn // raw, or the TLS connection over it once negotiated
	rd     *connReader
	be     *pgproto3.Backend
	sess   Session
	pid    uint32
	secret []byte

	// tlsState is the negotiated TLS state (nil: plaintext), for
	// authentication: the verified client certificate chain is in
	// PeerCertificates. serverCertDER is the certificate this server
	// presented, for channelBinding.
	tlsState        *tls.ConnectionState
	serverCertDER   []byte
	startupDeadline time.Time // bounds the startup phase, TLS handshake included

	ctx     context.Context // ends when the client goes away or the server closes
	ctxStop context.CancelCauseFunc

	stmts          map[string]*prepared
	portals        map[string]*portal
	ignoreTillSync bool
	pending        int // output bytes buffered in be since the last flush
	dr             dataRowMsg
	settings       map[string]string // last reported ParameterStatus values
	query          string            // the last Query or Parse text: errors hide its secrets (redact.go)
	rowsOut        int64             // DataRows sent since the last statement's metrics (metrics.go)

	mu struct {
		sync.Mutex
		idle       bool                    // blocked waiting for a message after ReadyForQuery
		stmtCancel context.CancelCauseFunc // cancels the running Execute
	}
}

// prepared is a prepared statement; st is nil for an empty query.
type prepared struct {
	st         Stmt
	text       string
	offset     int // character offset of text within the client's query
	paramTypes []types.T
	declared   []uint32 // the parameter type OIDs the client sent with Parse
	cols       []Column
	copyTable  string
	kind       string // statement type for metrics (metrics.go)
}

// paramOID is the type OID ParameterDescription reports for parameter i:
// the one the client declared when it maps to the type the statement
// uses (varchar, bpchar and name stay themselves rather than becoming
// text, as drivers such as pgjdbc insist), else the statement's type.
func (ps *prepared) paramOID(i int) uint32 {
	t := ps.paramTypes[i]
	if t == types.Unknown {
		t = types.Text
	}
	if i < len(ps.declared) && ps.declared[i] != 0 {
		if dt, ok := types.FromOID(ps.declared[i]); ok && dt == t {
			return ps.declared[i]
		}
	}
	return t.OID()
}

// portal is a bound statement, possibly partly executed.
type portal struct {
	ps      *prepared
	params  []types.Datum
	formats []int16 // one per result column

	// Set once a row-limited Execute started the statement (portal.go);
	// tag is its command tag once it finished.
	run *portalRun
	tag string
}

func newConn(s *Server, nc net.Conn) *conn {
	nc = s.countBytes(nc) // metrics.go
	c := &conn{s: s, raw: nc, nc: nc, stmts: map[string]*prepared{}, portals: map[string]*portal{}}
	c.ctx, c.ctxStop = context.WithCancelCause(withPeer(context.Background(), nc.RemoteAddr()))
	// Until startup completes the connection counts as idle: Shutdown may
	// close it.
	c.mu.idle = true
	return c
}

func (s *Server) serveConn(c *conn) {
	c.startupDeadline = time.Now().Add(s.cfg.StartupTimeout)
	c.raw.SetDeadline(c.startupDeadline)
	defer func() {
		c.ctxStop(errClientGone)
		c.nc.Close()
		c.raw.Close()
		if c.rd != nil {
			c.rd.stop()
		}
		c.closeAllPortals()
		if c.sess != nil {
			c.sess.Close()
			s.cfg.Metrics.SessionClosed(metrics.FrontendPGWire)
		}
		s.unregister(c)
	}()
	defer func() {
		// A bug in a session must not take the whole server down: report
		// it to this client and drop only this connection.
		if r := recover(); r != nil {
			s.log.Error("pgwire: panic serving connection", "remote", c.raw.RemoteAddr(), "panic", r, "stack", string(debug.Stack()))
			if c.be != nil {
				c.sendFatal(pgerr.Panic.New(r))
			}
		}
	}()
	if !c.startup() {
		return
	}
	c.raw.SetDeadline(time.Time{})
	c.loop()
}

// kill closes the connection from another goroutine.
func (c *conn) kill(cause error) {
	c.ctxStop(cause)
	c.raw.Close()
}

// closeIfIdle closes the connection if it waits for a new command.
func (c *conn) closeIfIdle() {
	c.mu.Lock()
	idle := c.mu.idle
	c.mu.Unlock()
	if idle {
		c.kill(errServerClosed)
	}
}

func (c *conn) cancelStatement() {
	c.mu.Lock()
	if c.mu.stmtCancel != nil {
		c.mu.stmtCancel(errCanceledByUser)
	}
	c.mu.Unlock()
}

// startup runs the startup phase; false means close the connection.
// Messages are read straight from the socket (readStartupMessage) until
// the StartupMessage; then the reader goroutine and pgproto3's Backend
// take over the (possibly TLS) connection.
func (c *conn) startup() bool {
	// The first byte tells a TLS ClientHello (sslnegotiation=direct)
	// from the length of a startup message.
	first := make([]byte, 1)
	if _, err := io.ReadFull(c.nc, first); err != nil {
		return false
	}
	if first[0] == tlsRecordHandshake {
		if c.s.cfg.TLS == nil {
			return false // not TLS-capable: a TLS client cannot read an ErrorResponse
		}
		if err := c.handshakeTLS(&prefixConn{Conn: c.nc, prefix: first}, true); err != nil {
			c.s.log.Debug("pgwire: TLS handshake failed", "remote", c.raw.RemoteAddr(), "err", err)
			return false
		}
		first = nil
	}
	for range 4 { // SSLRequest and GSSENCRequest may precede the startup message
		msg, err := readStartupMessage(c.nc, first)
		first = nil
		if err != nil {
			var pe *pgerr.Error
			if errors.As(err, &pe) {
				c.startupFatal(pe)
			}
			return false
		}
		switch m := msg.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			if c.tlsState != nil {
				c.startupFatal(pgerr.TLSNegotiatedTwice.New())
				return false
			}
			_, isSSL := m.(*pgproto3.SSLRequest)
			if !isSSL || c.s.cfg.TLS == nil {
				if _, err := c.nc.Write([]byte{'N'}); err != nil {
					return false
				}
				continue
			}
			if _, err := c.nc.Write([]byte{'S'}); err != nil {
				return false
			}
			if err := c.handshakeTLS(c.nc, false); err != nil {
				c.s.log.Debug("pgwire: TLS handshake failed", "remote", c.raw.RemoteAddr(), "err", err)
				return false
			}
		case *pgproto3.CancelRequest:
			c.s.cancel(m.ProcessID, m.SecretKey)
			return false
		case *pgproto3.StartupMessage:
			c.rd = newConnReader(c.nc, func() { c.ctxStop(errClientGone) })
			c.be = pgproto3.NewBackend(c.rd, c.nc)
			c.be.SetMaxBodyLen(c.s.cfg.MaxMessageSize)
			if c.s.cfg.RequireTLS && c.tlsState == nil {
				c.sendFatal(pgerr.TLSRequired.New())
				return false
			}
			return c.startSession(m)
		default:
			return false
		}
	}
	return false
}

// startupFatal sends a FATAL error before the Backend exists.
func (c *conn) startupFatal(e *pgerr.Error) {
	be := pgproto3.NewBackend(bytes.NewReader(nil), c.nc)
	be.Send(errorResponse(e, "FATAL", 0))
	be.Flush()
}

func (c *conn) startSession(m *pgproto3.StartupMessage) bool {
	params := make(map[string]string, len(m.Parameters)+2)
	var unknownOpts []string
	for k, v := range m.Parameters {
		if strings.HasPrefix(k, "_pq_.") {
			unknownOpts = append(unknownOpts, k)
			continue
		}
		params[k] = v
	}
	if params["user"] == "" {
		params["user"] = "cairn"
	}
	if params["database"] == "" {
		params["database"] = params["user"]
	}
	if m.ProtocolVersion != pgproto3.ProtocolVersion30 || len(unknownOpts) > 0 {
		sort.Strings(unknownOpts)
		c.be.Send(&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: unknownOpts})
	}
	if !c.authenticate(params["user"], params["database"]) {
		return false
	}
	// The secret is set before register publishes c to cancel requests.
	c.secret = make([]byte, 4)
	if _, err := rand.Read(c.secret); err != nil {
		return false
	}
	if !c.s.register(c) {
		c.sendFatal(pgerr.ServerStopping.New())
		return false
	}
	sess, err := c.s.h.NewSession(c.ctx, params)
	if err != nil {
		c.sendFatal(pgerr.From(err))
		return false
	}
	c.sess = sess
	c.s.cfg.Metrics.SessionOpened(metrics.FrontendPGWire)
	c.be.Send(&pgproto3.AuthenticationOk{})
	c.settings = map[string]string{
		"server_version":              c.s.cfg.ServerVersion,
		"server_encoding":             "UTF8",
		"client_encoding":             "UTF8",
		"DateStyle":                   "ISO, MDY",
		"IntervalStyle":               "postgres",
		"TimeZone":                    "UTC",
		"integer_datetimes":           "on",
		"standard_conforming_strings": "on",
		"session_authorization":       params["user"],
		"application_name":            params["application_name"],
	}
	for k, v := range sess.Settings() {
		c.settings[k] = v
	}
	names := make([]string, 0, len(c.settings))
	for k := range c.settings {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		c.be.Send(&pgproto3.ParameterStatus{Name: k, Value: c.settings[k]})
	}
	c.be.Send(&pgproto3.BackendKeyData{ProcessID: c.pid, SecretKey: c.secret})
	return c.readyForQuery() && c.setIdle()
}

// readyForQuery sends ReadyForQuery and flushes.
func (c *conn) readyForQuery() bool {
	c.be.Send(&pgproto3.ReadyForQuery{TxStatus: c.sess.TxStatus()})
	return c.flush() == nil
}

func (c *conn) flush() error {
	c.pending = 0
	if err := c.be.Flush(); err != nil {
		return &writeErr{err: err}
	}
	return nil
}

// send queues msg and writes out when enough output is buffered.
func (c *conn) send(msg pgproto3.BackendMessage) error {
	c.be.Send(msg)
	c.pending += 64 // rough size; exact for data rows, see dataRowMsg
	if c.pending >= flushThreshold {
		return c.flush()
	}
	return nil
}

func (c *conn) sendFatal(e *pgerr.Error) {
	c.be.Send(errorResponse(e, "FATAL", 0))
	c.flush()
}

// errorResponse converts e, shifting its position by off characters.
func errorResponse(e *pgerr.Error, severity string, off int) *pgproto3.ErrorResponse {
	if e.Severity != "" {
		severity = e.Severity
	}
	code := e.Code
	if code == "" {
		code = pgerr.InternalError
	}
	r := &pgproto3.ErrorResponse{
		Severity:            severity,
		SeverityUnlocalized: severity,
		Code:                code,
		Message:             e.Message,
		Detail:              e.Detail,
		Hint:                e.Hint,
	}
	if e.Position > 0 {
		r.Position = int32(e.Position + off)
	}
	return r
}

// loop reads and handles messages until the connection ends.
func (c *conn) loop() {
	for {
		msg, err := c.be.Receive()
		c.mu.Lock()
		c.mu.idle = false
		c.mu.Unlock()
		if err != nil {
			var tooBig *pgproto3.ExceededMaxBodyLenErr
			switch {
			case errors.As(err, &tooBig):
				c.sendFatal(pgerr.MessageTooLarge.New(tooBig.ActualBodyLen, tooBig.MaxExpectedBodyLen))
				c.drain(int64(tooBig.ActualBodyLen))
			case c.ctx.Err() == nil && !isEOF(err):
				c.s.log.Debug("pgwire: protocol violation", "remote", c.nc.RemoteAddr(), "err", err)
				c.sendFatal(pgerr.BadFrontendMessage.New(err))
			}
			return
		}
		if !c.handle(msg) {
			return
		}
	}
}

// drain reads and discards up to n bytes the client is still sending
// (the rest of an oversized message), until it pauses for a second or
// 30 seconds have passed, so that a client blocked sending it reads the
// FATAL error rather than a connection reset.
func (c *conn) drain(n int64) {
	buf := make([]byte, 64<<10)
	end := time.Now().Add(30 * time.Second)
	for n > 0 && time.Now().Before(end) {
		_ = c.nc.SetReadDeadline(time.Now().Add(time.Second))
		k, err := c.nc.Read(buf[:min(int64(len(buf)), n)])
		n -= int64(k)
		if err != nil {
			return
		}
	}
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// setIdle marks the connection as waiting for a new command (after
// ReadyForQuery), when Shutdown may close it.
func (c *conn) setIdle() bool {
	c.mu.Lock()
	c.mu.idle = true
	c.mu.Unlock()
	if c.s.shuttingDown.Load() {
		c.sendFatal(pgerr.AdminTerminated.New())
		return false
	}
	return true
}

// handle processes one message; false means close the connection.
func (c *conn) handle(msg pgproto3.FrontendMessage) bool {
	switch m := msg.(type) {
	case *pgproto3.Terminate:
		return false
	case *pgproto3.Sync:
		c.ignoreTillSync = false
		c.endTxPortals()
		return c.readyForQuery() && c.setIdle()
	case *pgproto3.Query:
		c.ignoreTillSync = false
		if !c.simpleQuery(m.String) {
			return false
		}
		c.endTxPortals()
		return c.readyForQuery() && c.setIdle()
	case *pgproto3.CopyData, *pgproto3.CopyDone, *pgproto3.CopyFail:
		// Left over from a COPY that already failed: ignore, as PostgreSQL does.
		return true
	case *pgproto3.Flush:
		return c.flush() == nil
	}
	if c.ignoreTillSync {
		return true
	}
	var err error
	switch m := msg.(type) {
	case *pgproto3.Parse:
		err = c.parse(m)
	case *pgproto3.Bind:
		err = c.bind(m)
	case *pgproto3.Describe:
		err = c.describe(m)
	case *pgproto3.Execute:
		err = c.execute(m)
	case *pgproto3.Close:
		if m.ObjectType == 'S' {
			delete(c.stmts, m.Name)
		} else {
			c.dropPortal(m.Name)
		}
		err = c.send(&pgproto3.CloseComplete{})
	case *pgproto3.FunctionCall:
		err = pgerr.FunctionCallUnsupported.New()
	default:
		err = pgerr.UnexpectedMessage.New(msg)
	}
	if err != nil {
		if c.connErr(err) {
			return false
		}
		c.ignoreTillSync = true
		return c.sendError(err, 0)
	}
	return true
}

// connErr reports whether err means the connection is unusable.
func (c *conn) connErr(err error) bool {
	var we *writeErr
	return errors.As(err, &we) || c.ctx.Err() != nil
}

// writeErr marks a failure to write to the client.
type writeErr struct{ err error }

func (e *writeErr) Error() string { return e.err.Error() }

// sendError sends err as an ErrorResponse, its position shifted by off.
func (c *conn) sendError(err error, off int) bool {
	// Any error inside a transaction block fails the transaction, even
	// one the session never saw (a syntax error, a bad parameter at Bind).
	if a, ok := c.sess.(TxAborter); ok {
		a.AbortTx()
	}
	c.be.Send(errorResponse(pgerr.From(redactError(c.query, err)), "ERROR", off))
	return c.flush() == nil
}

// parseError converts a parser error.
func parseError(err error) *pgerr.Error {
	var pe *parser.Error
	if errors.As(err, &pe) {
		code := pe.Code
		if code == "" {
			code = pgerr.SyntaxError
		}
		return &pgerr.Error{Code: code, Message: pe.Msg, Hint: pe.Hint, Position: pe.Pos}
	}
	return pgerr.From(err)
}

// statementOffsets finds each statement text in q, returning the
// character (not byte) offset of each.
func statementOffsets(q string, texts []string) []int {
	offs := make([]int, len(texts))
	pos, chars := 0, 0
	for i, t := range texts {
		idx := strings.Index(q[pos:], t)
		if idx < 0 {
			offs[i] = chars
			continue
		}
		chars += utf8.RuneCountInString(q[pos : pos+idx])
		offs[i] = chars
		chars += utf8.RuneCountInString(t)
		pos += idx + len(t)
	}
	return offs
}

func isEmpty(st parser.Statement) bool {
	_, ok := st.(*parser.Empty)
	return ok || st == nil
}

func copyTableOf(st parser.Statement) string {
	if cp, ok := st.(*parser.Copy); ok {
		return cp.Table
	}
	return ""
}

// simpleQuery runs a Query message; false means close the connection.
func (c *conn) simpleQuery(q string) bool {
	c.query = q
	if err := types.CheckUTF8(q); err != nil {
		return c.sendError(err, 0)
	}
	stmts, texts, err := parseSQL(q)
	if err != nil {
		return c.sendError(parseError(err), 0)
	}
	offs := statementOffsets(q, texts)
	ran := false
	for i, st := range stmts {
		if isEmpty(st) {
			continue
		}
		ran = true
		text := ""
		if i < len(texts) {
			text = texts[i]
		}
		ps, err := c.prepare(st, text, nil)
		if err != nil {
			return c.sendError(err, offs[i])
		}
		ps.offset = offs[i]
		if len(ps.paramTypes) > 0 {
			return c.sendError(pgerr.NoParameter1.New(), 0)
		}
		formats := simpleFormats(ps.cols)
		if ps.cols != nil {
			if err := c.send(rowDescription(ps.cols, formats)); err != nil {
				return false
			}
		}
		p := &portal{ps: ps, formats: formats}
		if err := c.run(p, 0); err != nil {
			if c.connErr(err) {
				return false
			}
			return c.sendError(err, ps.offset)
		}
	}
	if !ran {
		return c.send(&pgproto3.EmptyQueryResponse{}) == nil
	}
	return true
}

func (c *conn) prepare(st parser.Statement, text string, oids []uint32) (*prepared, error) {
	ps := &prepared{text: text, copyTable: copyTableOf(st)}
	if isEmpty(st) {
		return ps, nil
	}
	ps.kind = statementType(st)
	s, err := c.sess.Prepare(c.ctx, st, text, oids)
	if err != nil {
		return nil, err
	}
	ps.st = s
	ps.paramTypes = s.ParamTypes()
	ps.cols = s.Columns()
	return ps, nil
}

func (c *conn) parse(m *pgproto3.Parse) error {
	if m.Name != "" {
		if _, ok := c.stmts[m.Name]; ok {
			return pgerr.PreparedExists.New(m.Name)
		}
	}
	c.query = m.Query
	if err := types.CheckUTF8(m.Query); err != nil {
		return err
	}
	stmts, texts, err := parseSQL(m.Query)
	if err != nil {
		return parseError(err)
	}
	var st parser.Statement
	text := ""
	n := 0
	for i, s := range stmts {
		if isEmpty(s) {
			continue
		}
		n++
		st = s
		if i < len(texts) {
			text = texts[i]
		}
	}
	if n > 1 {
		return pgerr.MultiCommandPrepare.New()
	}
	off := 0
	if n == 1 {
		off = statementOffsets(m.Query, []string{text})[0]
	}
	ps, err := c.prepare(st, text, m.ParameterOIDs)
	if err != nil {
		e := pgerr.From(err)
		if e.Position > 0 && off > 0 {
			cp := *e
			cp.Position += off
			return &cp
		}
		return e
	}
	ps.offset = off
	ps.declared = m.ParameterOIDs
	c.stmts[m.Name] = ps
	return c.send(&pgproto3.ParseComplete{})
}

// formatFor picks the format of item i from a Bind format list.
func formatFor(codes []int16, i int) int16 {
	switch len(codes) {
	case 0:
		return 0
	case 1:
		return codes[0]
	}
	if i < len(codes) {
		return codes[i]
	}
	return 0
}

func (c *conn) bind(m *pgproto3.Bind) error {
	ps, ok := c.stmts[m.PreparedStatement]
	if !ok {
		return pgerr.PreparedNotFound.New(m.PreparedStatement)
	}
	if len(m.Parameters) != len(ps.paramTypes) {
		return pgerr.BindParamCount.New(
			len(m.Parameters), m.PreparedStatement, len(ps.paramTypes))
	}
	if len(m.ParameterFormatCodes) > 1 && len(m.ParameterFormatCodes) != len(m.Parameters) {
		return pgerr.BindParamFormats.New(len(m.ParameterFormatCodes), len(m.Parameters))
	}
	if len(m.ResultFormatCodes) > 1 && len(m.ResultFormatCodes) != len(ps.cols) {
		return pgerr.BindResultFormats.New(len(m.ResultFormatCodes), len(ps.cols))
	}
	params := make([]types.Datum, len(m.Parameters))
	for i, raw := range m.Parameters {
		t := ps.paramTypes[i]
		if t == types.Unknown {
			t = types.Text
		}
		if raw == nil {
			params[i] = types.NullOf(t)
			continue
		}
		var d types.Datum
		var err error
		switch formatFor(m.ParameterFormatCodes, i) {
		case 0:
			d, err = types.ParseTextStyle(t, string(raw), c.textStyle())
		case 1:
			d, err = types.ParseBinary(t, raw)
		default:
			return pgerr.BadFormatCode.New(formatFor(m.ParameterFormatCodes, i))
		}
		if err != nil {
			e := pgerr.From(err)
			cp := *e
			cp.Message = fmt.Sprintf("%s (parameter $%d)", e.Message, i+1)
			return &cp
		}
		params[i] = d
	}
	formats := make([]int16, len(ps.cols))
	for i := range formats {
		f := formatFor(m.ResultFormatCodes, i)
		if f != 0 && f != 1 {
			return pgerr.BadFormatCode.New(f)
		}
		formats[i] = f
	}
	c.dropPortal(m.DestinationPortal)
	c.portals[m.DestinationPortal] = &portal{ps: ps, params: params, formats: formats}
	return c.send(&pgproto3.BindComplete{})
}

// simpleFormats are the result formats of the simple query protocol:
// text, but binary for the columns a statement marks Binary (FETCH from
// a BINARY cursor).
func simpleFormats(cols []Column) []int16 {
	formats := make([]int16, len(cols))
	for i, col := range cols {
		if col.Binary {
			formats[i] = 1
		}
	}
	return formats
}

func rowDescription(cols []Column, formats []int16) *pgproto3.RowDescription {
	fields := make([]pgproto3.FieldDescription, len(cols))
	for i, col := range cols {
		f := int16(0)
		if formats != nil {
			f = formats[i]
		}
		t := col.T
		if t == types.Unknown {
			t = types.Text
		}
		fields[i] = pgproto3.FieldDescription{
			Name:         []byte(col.Name),
			DataTypeOID:  t.OID(),
			DataTypeSize: t.Size(),
			TypeModifier: -1,
			Format:       f,
		}
	}
	return &pgproto3.RowDescription{Fields: fields}
}

func (c *conn) describe(m *pgproto3.Describe) error {
	if m.ObjectType == 'S' {
		ps, ok := c.stmts[m.Name]
		if !ok {
			return pgerr.PreparedNotFound.New(m.Name)
		}
		oids := make([]uint32, len(ps.paramTypes))
		for i := range ps.paramTypes {
			oids[i] = ps.paramOID(i)
		}
		if err := c.send(&pgproto3.ParameterDescription{ParameterOIDs: oids}); err != nil {
			return err
		}
		if ps.cols == nil {
			return c.send(&pgproto3.NoData{})
		}
		return c.send(rowDescription(ps.cols, nil))
	}
	p, ok := c.portals[m.Name]
	if !ok {
		return pgerr.PortalNotFound.New(m.Name)
	}
	if p.ps.cols == nil {
		return c.send(&pgproto3.NoData{})
	}
	return c.send(rowDescription(p.ps.cols, p.formats))
}

func (c *conn) execute(m *pgproto3.Execute) error {
	p, ok := c.portals[m.Portal]
	if !ok {
		return pgerr.PortalNotFound.New(m.Portal)
	}
	if err := c.run(p, int(m.MaxRows)); err != nil {
		if c.connErr(err) {
			return err
		}
		e := pgerr.From(err)
		if e.Position > 0 && p.ps.offset > 0 {
			cp := *e
			cp.Position += p.ps.offset
			return &cp
		}
		return e
	}
	return nil
}

// run executes portal p, sending at most maxRows rows (0: all) and then
// PortalSuspended or CommandComplete.
func (c *conn) run(p *portal, maxRows int) error {
	if p.ps.st == nil {
		return c.send(&pgproto3.EmptyQueryResponse{})
	}
	if p.run == nil && maxRows == 0 {
		w := &execWriter{c: c, cols: p.ps.cols, formats: p.formats, copyTable: p.ps.copyTable}
		tag, err := c.executeStmt(p, w)
		if err != nil {
			return err
		}
		return c.send(&pgproto3.CommandComplete{CommandTag: []byte(tag)})
	}
	if p.run == nil {
		c.startPortal(p)
	}
	return c.resumePortal(p, maxRows)
}

// executeStmt runs the statement with a cancellable context and turns
// cancellation into the errors PostgreSQL reports.
func (c *conn) executeStmt(p *portal, w *execWriter) (string, error) {
	ctx, cancel := context.WithCancelCause(c.ctx)
	c.mu.Lock()
	c.mu.stmtCancel = cancel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.mu.stmtCancel = nil
		c.mu.Unlock()
		cancel(nil)
	}()
	return c.executeStmtCtx(ctx, p, w)
}

// executeStmtCtx runs the statement under ctx (which the caller cancels).
func (c *conn) executeStmtCtx(ctx context.Context, p *portal, w *execWriter) (string, error) {
	c.dr.style = c.textStyle()
	start := time.Now()
	tag, err := p.ps.st.Execute(ctx, p.params, w)
	defer func() { c.recordStatement(p, w, tag, err, time.Since(start)) }()
	if w.copy != nil && !w.copy.done {
		// The statement stopped before the end of the copy data: discard
		// the rest so the protocol stays in step.
		if derr := w.copy.drain(); derr != nil && c.connErr(derr) {
			return "", derr
		}
	}
	if err == nil && w.out != nil {
		err = w.out.finish()
		if err != nil {
			return "", err
		}
	}
	if err == nil {
		return tag, nil
	}
	if w.werr != nil {
		return "", w.werr
	}
	switch context.Cause(ctx) {
	case errCanceledByUser:
		// The statement's detail stays (a COPY into a table says how
		// many rows it applied before the cancel).
		e := pgerr.CanceledByUser.New()
		if d := pgerr.From(err).Detail; d != "" {
			e = e.WithDetail("%s", d)
		}
		return "", e
	case errPortalClosed:
		return "", errPortalClosed
	case errServerClosed:
		return "", pgerr.AdminTerminated.New()
	case errClientGone:
		return "", &writeErr{err: errClientGone}
	}
	return "", err
}

// textStyle is the session's text style (nil: PostgreSQL's defaults in
// UTC), read once per statement.
func (c *conn) textStyle() *types.Style {
	if st, ok := c.sess.(Styler); ok {
		return st.TextStyle()
	}
	return nil
}

// sendRow sends one DataRow.
func (c *conn) sendRow(row []types.Datum, cols []Column, formats []int16) error {
	c.dr.row, c.dr.cols, c.dr.formats, c.dr.size = row, cols, formats, &c.pending
	c.be.Send(&c.dr)
	c.rowsOut++
	c.dr.row = nil
	if c.pending >= flushThreshold {
		return c.flush()
	}
	return nil
}

// dataRowMsg encodes a DataRow straight from datums, with no
// intermediate [][]byte.
type dataRowMsg struct {
	row     []types.Datum
	cols    []Column // the described types; values are encoded as these
	formats []int16
	style   *types.Style // the session's text style for this statement
	size    *int         // set to the encoded buffer's length
}

func (*dataRowMsg) Backend() {}

func (*dataRowMsg) Decode([]byte) error { return errors.New("pgwire: DataRow is send-only") }

func (m *dataRowMsg) Encode(dst []byte) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 'D', 0, 0, 0, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(m.row)))
	for i, d := range m.row {
		if d.Null {
			dst = binary.BigEndian.AppendUint32(dst, 0xFFFFFFFF)
			continue
		}
		if i < len(m.cols) && d.T != m.cols[i].T {
			d = coerce(d, m.cols[i].T, m.style)
		}
		lp := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		if i < len(m.formats) && m.formats[i] == 1 {
			dst = types.AppendBinary(dst, d)
		} else {
			dst = types.AppendTextStyle(dst, d, m.style)
		}
		binary.BigEndian.PutUint32(dst[lp:], uint32(len(dst)-lp-4))
	}
	binary.BigEndian.PutUint32(dst[start+1:], uint32(len(dst)-start-1))
	if m.size != nil {
		*m.size = len(dst)
	}
	return dst, nil
}

// coerce converts d to the numeric type t the column was described with,
// so that a session returning, say, an int8 count for an int4 column
// cannot send a client 8 bytes where RowDescription promised 4.
func coerce(d types.Datum, t types.T, st *types.Style) types.Datum {
	switch {
	case t == types.Unknown || d.T == types.Unknown:
	case t.IsInt() && d.T.IsInt():
		d.T = t
	case t.IsFloat() && d.T.IsFloat():
		d.T = t
	case t.IsFloat() && d.T.IsInt():
		d.T, d.F = t, float64(d.I)
	case t.IsInt() && d.T.IsFloat():
		d.T, d.I = t, int64(math.Round(d.F))
	case t == types.Numeric && d.T.IsInt():
		d = types.NumericFromInt(d.I)
	case t == types.Numeric && d.T.IsFloat():
		d = types.NumericFromFloat(d.F, 15)
	case t.IsFloat() && d.T == types.Numeric:
		d = types.NewFloat(t, d.Float())
	case t == types.Text:
		d = types.Datum{T: types.Text, S: string(types.AppendTextStyle(nil, d, st))}
	}
	return d
}

// execWriter is the ResultWriter of one Execute.
type execWriter struct {
	c         *conn
	cols      []Column
	formats   []int16
	copyTable string
	// A row-limited portal's statement (portal.go) calls pause before the
	// row past limit; limit 0 is no limit.
	pause       func() error
	limit, sent int
	copy        *copyIn
	out         *copyOut // set once the statement started a COPY TO
	werr        error    // the write error that stopped the statement
}

// CopyOut implements CopyOuter.
func (w *execWriter) CopyOut(opts CopyOptions, cols []Column) (CopySink, error) {
	if w.copy != nil || w.out != nil {
		return nil, pgerr.CopyStartedTwice.New()
	}
	cp, err := newCopyOut(w.c, opts, cols)
	if err != nil {
		return nil, err
	}
	w.out = cp
	return cp, nil
}

func (w *execWriter) Row(row []types.Datum) error {
	if w.werr != nil {
		return w.werr
	}
	if w.limit > 0 && w.sent == w.limit {
		if err := w.pause(); err != nil {
			w.werr = err
			return err
		}
	}
	w.sent++
	if err := w.c.sendRow(row, w.cols, w.formats); err != nil {
		w.werr = err
		return err
	}
	return nil
}

func (w *execWriter) Notice(msg string) {
	w.c.be.Send(&pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: pgerr.SuccessfulCompletion, Message: msg})
	// Sent at once: a long statement's progress NOTICEs (CREATE VIEW's
	// back-fill) are worth seeing while it runs. A write error surfaces
	// with the statement's next message.
	_ = w.c.flush()
}

func (w *execWriter) ParameterStatus(name, value string) {
	if w.c.settings[name] == value {
		return
	}
	w.c.settings[name] = value
	w.c.be.Send(&pgproto3.ParameterStatus{Name: name, Value: value})
}

func (w *execWriter) CopyIn(opts CopyOptions, cols []types.T) (CopySource, error) {
	if w.copy != nil {
		return nil, pgerr.CopyStartedTwice.New()
	}
	cp, err := newCopyIn(w.c, opts, cols, w.copyTable)
	if err != nil {
		return nil, err
	}
	w.copy = cp
	return cp, nil
}
