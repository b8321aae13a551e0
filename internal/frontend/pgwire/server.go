// Package pgwire serves the PostgreSQL wire protocol (v3) on top of
// pgproto3's Backend: startup, simple and extended query, COPY FROM STDIN
// and cancel requests. It knows nothing of SQL semantics: a Handler makes
// Sessions that prepare and execute statements.
package pgwire

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/sql/parser"
)

// Config configures a Server.
type Config struct {
	// Addr is the listen address of ListenAndServe (default 127.0.0.1:5480).
	Addr string
	// MaxMessageSize bounds one client message (default 64 MiB); a larger
	// message gets a FATAL 54000 error and the connection is closed.
	MaxMessageSize int
	// Logger receives connection-level events (default slog.Default()).
	Logger *slog.Logger
	// ServerVersion is reported as server_version unless the session's
	// Settings has one (default "16.0").
	ServerVersion string
	// TLS, when set, answers SSLRequest with 'S' and serves the
	// connection over TLS with this config (also to clients that start
	// with a TLS ClientHello and ALPN "postgresql", PostgreSQL 17's
	// sslnegotiation=direct). It is used as given, never copied from, so
	// certificates it reloads through callbacks take effect. nil answers
	// 'N'.
	TLS *tls.Config
	// RequireTLS refuses a startup message that did not come over TLS
	// (FATAL 28000 "connection requires TLS"). It needs TLS.
	RequireTLS bool
	// StartupTimeout bounds the startup phase of a connection, TLS
	// handshake included, up to the start of its session (default 30s).
	StartupTimeout time.Duration
	// Metrics, if set, counts sessions, statements by type with their
	// latency, rows and bytes (metrics.go).
	Metrics *metrics.Frontend
	// Auth decides how each connection authenticates (auth.go); nil lets
	// every startup in as the user it names (unit tests).
	Auth Authenticator
	// AuthFailureLimit failed logins from one IP within AuthFailureWindow
	// make further attempts from it wait, refused with 53300, until the
	// window ends (defaults 5 and one minute).
	AuthFailureLimit  int
	AuthFailureWindow time.Duration
	// AuthFailureExempt, if set, names client addresses the limit does
	// not apply to.
	AuthFailureExempt func(net.Addr) bool
}

// parseSQL is the parser; tests substitute a splitter so the package can
// be tested without depending on the SQL grammar.
var parseSQL = parser.Parse

// Server accepts PostgreSQL connections and runs one goroutine per
// connection.
type Server struct {
	cfg       Config
	h         Handler
	log       *slog.Logger
	authLimit *failureLimiter // failed logins per source IP (auth.go)

	shuttingDown atomic.Bool
	wg           sync.WaitGroup // one per connection goroutine

	mu struct {
		sync.Mutex
		ln      net.Listener
		closed  bool
		conns   map[*conn]struct{}
		byPID   map[uint32]*conn
		nextPID uint32
	}
}

// NewServer returns a server that hands sessions to h.
func NewServer(cfg Config, h Handler) *Server {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:5480"
	}
	if cfg.MaxMessageSize <= 0 {
		cfg.MaxMessageSize = 64 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.StartupTimeout <= 0 {
		cfg.StartupTimeout = 30 * time.Second
	}
	if cfg.ServerVersion == "" {
		cfg.ServerVersion = "16.0"
	}
	s := &Server{cfg: cfg, h: h, log: cfg.Logger, authLimit: newFailureLimiter(cfg.AuthFailureLimit, cfg.AuthFailureWindow)}
	s.mu.conns = make(map[*conn]struct{})
	s.mu.byPID = make(map[uint32]*conn)
	return s
}

// ListenAndServe listens on cfg.Addr and serves until Close.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Addr returns the listener's address (nil before Serve).
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.ln == nil {
		return nil
	}
	return s.mu.ln.Addr()
}

// Serve accepts connections on ln until Close or Shutdown; it then
// returns nil (or the accept error that stopped it).
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.mu.ln = ln
	s.mu.Unlock()
	backoff := 5 * time.Millisecond
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.mu.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(backoff)
				backoff = min(2*backoff, time.Second)
				continue
			}
			return err
		}
		backoff = 5 * time.Millisecond
		s.mu.Lock()
		if s.mu.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		c := newConn(s, nc)
		s.mu.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
		}()
	}
}

// stopAccepting closes the listener; later Serve calls return at once.
func (s *Server) stopAccepting() {
	s.mu.Lock()
	s.mu.closed = true
	ln := s.mu.ln
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
}

// Close stops accepting, closes every connection (cancelling running
// statements) and waits for the connection goroutines to end.
func (s *Server) Close() error {
	s.stopAccepting()
	s.mu.Lock()
	for c := range s.mu.conns {
		c.kill(errServerClosed)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// Shutdown stops accepting, closes idle connections at once and the
// others when their running statement (up to the next ReadyForQuery)
// finishes. When ctx ends first it closes what is left, like Close, and
// returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shuttingDown.Store(true)
	s.stopAccepting()
	s.mu.Lock()
	for c := range s.mu.conns {
		c.closeIfIdle()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		<-done
		return ctx.Err()
	}
}

// register assigns a process id and makes c reachable by cancel
// requests; false when the server is closing.
func (s *Server) register(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return false
	}
	for {
		s.mu.nextPID++
		if s.mu.nextPID == 0 {
			continue
		}
		if _, ok := s.mu.byPID[s.mu.nextPID]; !ok {
			break
		}
	}
	c.pid = s.mu.nextPID
	s.mu.byPID[c.pid] = c
	return true
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.conns, c)
	if s.mu.byPID[c.pid] == c {
		delete(s.mu.byPID, c.pid)
	}
}

// cancel handles a CancelRequest: a matching pid and secret cancel that
// connection's running statement. Mismatches are ignored silently, as in
// PostgreSQL, so a stranger learns nothing.
func (s *Server) cancel(pid uint32, secret []byte) {
	s.mu.Lock()
	c := s.mu.byPID[pid]
	s.mu.Unlock()
	if c == nil || len(secret) != len(c.secret) {
		return
	}
	var diff byte
	for i := range secret {
		diff |= secret[i] ^ c.secret[i]
	}
	if diff == 0 {
		c.cancelStatement()
	}
}
