// Package httpapi is Cairn's HTTP front door: health and readiness probes,
// Prometheus metrics, and NDJSON event ingest. Later issues add the admin
// API and the dashboard through Handle.
//
// The package depends on the node only through Backend, which cmd/cairn
// implements, so it can be tested with a fake.
//
// With Config.TLS it serves HTTPS only; handlers find a verified client
// certificate in r.TLS.
package httpapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// DefaultMaxBodyBytes is the default limit on one ingest request body.
const DefaultMaxBodyBytes = 64 << 20

// Backend is what the HTTP API needs from the node.
type Backend interface {
	// NodeID names this node in /health replies.
	NodeID() string
	// Ready returns nil when the node can serve reads and writes, else the
	// reason it cannot (no quorum for the meta group, still starting, …).
	Ready() error
	// StreamColumns returns a stream's columns in order; a missing stream
	// is a *pgerr.Error with code 42P01.
	StreamColumns(name string) ([]Column, error)
	// Insert appends the batch to the stream atomically and returns the
	// number of events accepted once they are durable. Errors should be
	// *pgerr.Error so the reply carries the right status and SQLSTATE.
	Insert(ctx context.Context, stream string, b *types.Batch) (int, error)

	// LoginRole returns what authentication needs of the role name; ok
	// is false when there is no such role.
	LoginRole(name string) (r LoginRole, ok bool)
	// PasswordMatches reports whether password matches verifier, a
	// role's stored SCRAM-SHA-256 verifier. With verifier "" (no role, no
	// password) it returns false after as much work as a real check, so
	// that a failure's timing does not tell whether the user exists.
	PasswordMatches(verifier, password string) bool
	// Authorize returns nil when user holds priv on obj, else a
	// *pgerr.Error with SQLSTATE 42501.
	Authorize(user string, priv Privilege, obj Object) error
	// Audit reports an event to the cluster's audit log; it must not
	// block for long and never fails the request.
	Audit(ctx context.Context, ev AuditEvent)
}

// Config tunes the server. The zero value is usable.
type Config struct {
	// MaxBodyBytes limits one ingest request body (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Metrics serves GET /metrics, normally metrics.(*Metrics).Handler();
	// nil answers 404.
	Metrics http.Handler
	// FrontendMetrics, if set, counts requests, bytes, ingested rows and
	// login sessions (metrics.go).
	FrontendMetrics *metrics.Frontend
	// Logger receives internal (500) errors; nil uses slog.Default().
	Logger *slog.Logger
	// Hosts are the names and addresses of this node a Host header may
	// carry (ports ignored); localhost, 127.0.0.1 and ::1 always may.
	Hosts []string
	// MoreHosts, if set, is asked for further names when a Host header
	// is none of Hosts: names that change at run time, like those of a
	// reloadable node certificate.
	MoreHosts func() []string
	// TrustLoopback treats a loopback client without credentials as the
	// superuser cairn over plain HTTP: an insecure node, as SQL trusts.
	TrustLoopback bool
	// MetricsAuth requires an authenticated user on GET /metrics.
	MetricsAuth bool
	// SessionTTL is how long a login token lives (0: DefaultSessionTTL).
	SessionTTL time.Duration
	// Now is the clock of token expiry and login rate limits (nil: the
	// wall clock).
	Now func() time.Time
	// TLS, when set, makes Serve speak HTTPS only, with this config (used
	// as given, its callbacks kept, so reloaded certificates take
	// effect). A plain HTTP request to the port gets Go's 400 "client sent
	// an HTTP request to an HTTPS server" and reaches no handler. A
	// client certificate the config verified is in r.TLS.VerifiedChains
	// (r.TLS.PeerCertificates[0] is the client's) for authentication.
	TLS *tls.Config
}

// Server is the HTTP API of one node.
type Server struct {
	cfg      Config
	b        Backend
	mux      *http.ServeMux
	srv      *http.Server
	hosts    map[string]bool // Host header names accepted (cfg.Hosts and loopback)
	sessions sessions        // login tokens
	limit    limiter         // failed authentications per source
	public   []string        // paths served without authentication (HandlePublic)
}

// New returns a server whose routes are registered; call Serve to start it.
func New(cfg Config, b Backend) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, b: b, mux: http.NewServeMux(), hosts: allowedHosts(cfg.Hosts)}
	s.mux.HandleFunc("GET /health", s.health)
	s.mux.HandleFunc("POST "+AdminPrefix+"login", s.login)
	s.mux.HandleFunc("POST "+AdminPrefix+"logout", s.logout)
	s.mux.HandleFunc("GET /ready", s.ready)
	if cfg.Metrics != nil {
		s.mux.Handle("GET /metrics", cfg.Metrics)
	}
	s.mux.HandleFunc("POST /v1/streams/{name}/events", s.ingest)
	s.srv = &http.Server{
		Handler: s.counted(s.guard(s.mux)), // metrics.go
		// No ReadTimeout: an ingest body of 64 MiB on a slow link may take
		// long; a header that never arrives may not.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// ReadHeaderTimeout also bounds the TLS handshake (net/http uses
		// the smallest of its timeouts for it).
		TLSConfig: cfg.TLS,
	}
	return s
}

// Handle registers an extra route (same pattern syntax as http.ServeMux,
// e.g. "GET /v1/nodes"). Call it before Serve.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HandlePublic registers a GET route that needs no authentication (the
// web console's page and assets: a secure node must serve the login form
// to a browser that has no session yet). path "/" is the root alone; a
// path ending in "/" is a subtree. Host and Origin checks still apply.
// Call it before Serve.
func (s *Server) HandlePublic(path string, h http.Handler) {
	s.public = append(s.public, path)
	if path == "/" {
		s.mux.Handle("GET /{$}", h)
		return
	}
	s.mux.Handle("GET "+path, h)
}

// isPublic reports whether a GET or HEAD of path needs no authentication.
func (s *Server) isPublic(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	for _, p := range s.public {
		if r.URL.Path == p || (p != "/" && strings.HasSuffix(p, "/") && strings.HasPrefix(r.URL.Path, p)) {
			return true
		}
	}
	return false
}

// Mux returns the router, for registering routes; requests that reach it
// directly skip the checks of Handler.
func (s *Server) Mux() *http.ServeMux { return s.mux }

// Handler returns the server's root handler, with its authentication
// and request checks (for httptest).
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Serve accepts connections on ln until Close or Shutdown; it then
// returns nil.
func (s *Server) Serve(ln net.Listener) error {
	serve := s.srv.Serve
	if s.cfg.TLS != nil {
		// Certificates come from TLSConfig (its Certificates or callbacks).
		serve = func(ln net.Listener) error { return s.srv.ServeTLS(ln, "", "") }
	}
	if err := serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Close stops the server at once, dropping requests in flight.
func (s *Server) Close() error { return s.srv.Close() }

// Shutdown stops accepting and waits for requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errorReply is the body of every error response.
type errorReply struct {
	Error string `json:"error"`
	Code  string `json:"code"`
	Line  int    `json:"line,omitempty"`
	Hint  string `json:"hint,omitempty"`
}

// statusFor maps a SQLSTATE to an HTTP status.
func statusFor(code string) int {
	switch code {
	case pgerr.UndefinedTable:
		return http.StatusNotFound
	case pgerr.InsufficientPrivilege:
		return http.StatusForbidden
	case pgerr.ProgramLimitExceeded:
		return http.StatusRequestEntityTooLarge
	case pgerr.CannotConnectNow, pgerr.AdminShutdown, pgerr.ConnectionFailure,
		pgerr.TooManyConnections, pgerr.SerializationFailure, pgerr.QueryCanceled,
		pgerr.OutOfMemory: // ingest paused for memory (internal/memory)
		return http.StatusServiceUnavailable // retryable
	}
	switch code[:2] {
	case "22", "23", "42", "0A", "25":
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// writeError replies with err's SQLSTATE and the matching status.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, line int, err error) {
	e := pgerr.From(err)
	code := e.Code
	if len(code) != 5 {
		code = pgerr.InternalError
	}
	status := statusFor(code)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if status == http.StatusInternalServerError {
		s.cfg.Logger.Error("http request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, errorReply{Error: e.Message, Code: code, Line: line, Hint: e.Hint})
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "node_id": s.b.NodeID()})
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	if err := s.b.Ready(); err != nil {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{
			"status": "not ready", "node_id": s.b.NodeID(), "reason": err.Error(),
		})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "node_id": s.b.NodeID()})
}

// ingest handles POST /v1/streams/{name}/events: the whole body becomes
// one batch and one Insert, so a request is applied entirely or not at all.
func (s *Server) ingest(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	cols, err := s.b.StreamColumns(name)
	if err != nil {
		s.writeError(w, r, 0, err)
		return
	}
	if err := s.b.Authorize(UserFrom(r.Context()), PrivInsert, Object{Kind: "stream", Name: name}); err != nil {
		s.writeError(w, r, 0, err)
		return
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		s.writeError(w, r, 0, pgerr.ContentEncodingUnsupported.New(ce))
		return
	}
	if r.ContentLength > s.cfg.MaxBodyBytes {
		// Refuse before reading; the client learns the limit at once.
		s.writeError(w, r, 0, pgerr.BodyOverLimit.New(s.cfg.MaxBodyBytes))
		return
	}
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	d := newDecoder(name, cols)
	if err := d.readAll(body); err != nil {
		var de *decodeError
		if errors.As(err, &de) {
			s.writeError(w, r, de.Line, de.Err)
		} else {
			s.writeError(w, r, 0, err)
		}
		return
	}
	if d.batch.N == 0 {
		writeJSON(w, http.StatusOK, map[string]int{"accepted": 0})
		return
	}
	n, err := s.b.Insert(r.Context(), name, d.batch)
	if err != nil {
		s.writeError(w, r, 0, err)
		return
	}
	s.cfg.FrontendMetrics.RowsIn(metrics.FrontendHTTP, int64(n))
	writeJSON(w, http.StatusOK, map[string]int{"accepted": n})
}
