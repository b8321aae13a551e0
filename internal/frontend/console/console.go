// Package console is Cairn's web console: a page at / on the node's HTTP
// port (assets embedded, no CDN, no build step) that shows the cluster
// live. Its data routes sit behind httpapi's authentication; a snapshot of
// the cluster tables, this node's timeline and its sampled counters is
// pushed to every open page as server-sent events about once a second.
//
// The package reaches the node only through Backend. See DESIGN.md.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairndb/cairn/internal/frontend/httpapi"
	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/pgerr"
)

//go:embed assets
var assets embed.FS

// Event is one entry of a node's timeline: an election or leader change
// it saw, a node changing state, an operation starting, finishing or
// failing.
type Event struct {
	Seq     uint64    `json:"seq"`     // increases by one per event on this node
	At      time.Time `json:"at"`      // when the node noticed it
	Kind    string    `json:"kind"`    // election, leader, node, operation
	Subject string    `json:"subject"` // what it concerns: a shard, a node, an operation
	Detail  string    `json:"detail"`  // one line for a person
}

// Backend is what the console needs from the node.
type Backend interface {
	// NodeID is this node's name.
	NodeID() string
	// RunSQL runs one statement as user (the snapshot's cluster tables).
	RunSQL(ctx context.Context, user, sql string) (*httpapi.SQLResult, error)
	// RunReadOnly runs one statement as user and refuses, with 25006,
	// anything that is not a query; it keeps at most maxRows rows and
	// reports whether there were more.
	RunReadOnly(ctx context.Context, user, sql string, maxRows int) (*httpapi.SQLResult, bool, error)
	// Timeline is the node's recent events, oldest first.
	Timeline() []Event
}

// Config tunes the console. The zero value is usable.
type Config struct {
	// Interval is how often a snapshot is pushed (0: 1 s).
	Interval time.Duration
	// MaxClients bounds the live (SSE) connections (0: 32).
	MaxClients int
	// WriteTimeout bounds one push to one browser: a browser that does
	// not read for this long is disconnected (0: 10 s).
	WriteTimeout time.Duration
	// Gatherer, when set, is sampled every Interval for the throughput
	// and latency charts and the views' lag (the node's own metrics).
	Gatherer prometheus.Gatherer
	// Registerer, when set, gets cairn_console_connections.
	Registerer prometheus.Registerer
	// SnapshotUser runs the snapshot's statements ("": cairn). They read
	// only cairn_cluster tables every logged-in user may read, so one
	// snapshot serves every browser.
	SnapshotUser string
	// MaxRows bounds the rows the SQL page returns (0: 1000).
	MaxRows int
	// Logger (nil: slog.Default()).
	Logger *slog.Logger
}

// Console serves the page, the snapshot and the SQL page of one node.
type Console struct {
	cfg  Config
	b    Backend
	hub  *hub
	stop context.CancelFunc
	wg   sync.WaitGroup
}

// New starts the console's sampler and push loop; Close ends them.
func New(cfg Config, b Backend) *Console {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 32
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.SnapshotUser == "" {
		cfg.SnapshotUser = "cairn"
	}
	if cfg.MaxRows <= 0 {
		cfg.MaxRows = 1000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, stop := context.WithCancel(context.Background())
	c := &Console{cfg: cfg, b: b, stop: stop}
	c.hub = newHub(ctx, cfg, b)
	if cfg.Registerer != nil {
		_ = cfg.Registerer.Register(prometheus.NewGaugeFunc(metrics.DefConsoleConnections.GaugeOpts(),
			func() float64 { return float64(c.hub.clients()) }))
	}
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.hub.run(ctx) }()
	return c
}

// Close stops the loops and ends every live connection.
func (c *Console) Close() {
	c.stop()
	c.wg.Wait()
}

// Routes are where the console mounts itself.
type Routes interface {
	// HandlePublic serves a GET route without authentication.
	HandlePublic(path string, h http.Handler)
	// Handle serves a route behind authentication.
	Handle(pattern string, h http.Handler)
}

// Paths of the console.
const (
	AssetPrefix  = "/console/assets/"
	SnapshotPath = "/console/api/snapshot"
	EventsPath   = "/console/api/events"
	SQLPath      = "/console/api/sql"
	WhoamiPath   = "/console/api/whoami"
)

// Mount registers the page and its assets (public: the page must load to
// show a login form) and the data routes (authenticated) on s.
func (c *Console) Mount(s Routes) {
	sub, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(sub)
	s.HandlePublic("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveIndex(w, r, sub)
	}))
	s.HandlePublic(AssetPrefix, noCache(http.StripPrefix(AssetPrefix, files)))
	s.Handle("GET "+SnapshotPath, http.HandlerFunc(c.snapshot))
	s.Handle("GET "+EventsPath, http.HandlerFunc(c.events))
	s.Handle("POST "+SQLPath, http.HandlerFunc(c.sql))
	s.Handle("GET "+WhoamiPath, http.HandlerFunc(c.whoami))
}

// whoami handles GET /console/api/whoami: the user, and whether the
// request carried a login session (the page then offers to log out).
func (c *Console) whoami(w http.ResponseWriter, r *http.Request) {
	u, ok := c.user(w, r)
	if !ok {
		return
	}
	ck, err := r.Cookie(httpapi.SessionCookie)
	writeJSON(w, http.StatusOK, map[string]any{"user": u, "node": c.b.NodeID(), "session": err == nil && ck.Value != ""})
}

// noCache makes the browser revalidate assets: a node upgraded in place
// must not run an old script against a new snapshot.
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

func serveIndex(w http.ResponseWriter, r *http.Request, sub fs.FS) {
	b, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		http.Error(w, "console page missing from the binary", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	// Everything the page needs is its own: no inline script, no other
	// origin, no framing by another site.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(b)
}

// errorReply is the body of an error: the admin API's shape.
type errorReply struct {
	Error httpapi.AdminError `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// statusFor maps a SQLSTATE to the HTTP status of a console reply.
func statusFor(code string) int {
	switch {
	case code == pgerr.InsufficientPrivilege:
		return http.StatusForbidden
	case code == pgerr.TooManyConnections, code == pgerr.AdminShutdown, code == pgerr.CannotConnectNow,
		code == pgerr.SerializationFailure, strings.HasPrefix(code, "08"):
		return http.StatusServiceUnavailable
	case code == pgerr.InternalError, strings.HasPrefix(code, "XX"), strings.HasPrefix(code, "58"):
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}

func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
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
		c.cfg.Logger.Error("console request failed", "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, errorReply{Error: httpapi.AdminError{Code: code, Message: e.Message, Detail: e.Detail, Hint: e.Hint}})
}

// user is the authenticated user; the routes are mounted behind
// httpapi's guard, which sets it. Without one the request is refused.
func (c *Console) user(w http.ResponseWriter, r *http.Request) (string, bool) {
	u := httpapi.UserFrom(r.Context())
	if u == "" {
		writeJSON(w, http.StatusUnauthorized, errorReply{Error: httpapi.AdminError{Code: pgerr.InvalidAuthorization, Message: pgerr.HTTPAuthRequired.New().Message}})
		return "", false
	}
	return u, true
}

// snapshot handles GET /console/api/snapshot: the latest snapshot, built
// now if none is fresh.
func (c *Console) snapshot(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.user(w, r); !ok {
		return
	}
	b, err := c.hub.current(r.Context())
	if err != nil {
		c.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}

// SQLReply is the body of a successful POST /console/api/sql.
type SQLReply struct {
	Columns   []string    `json:"columns"`
	Rows      [][]*string `json:"rows"`
	Tag       string      `json:"tag"`
	Notices   []string    `json:"notices,omitempty"`
	Truncated bool        `json:"truncated"` // more rows than the page shows
	Millis    float64     `json:"ms"`
}

// maxSQLBody bounds the SQL page's request body.
const maxSQLBody = 1 << 20

// sqlTimeout bounds one statement of the SQL page.
const sqlTimeout = 30 * time.Second

// sql handles POST /console/api/sql {"sql": "..."}: one read-only
// statement as the logged-in user.
func (c *Console) sql(w http.ResponseWriter, r *http.Request) {
	user, ok := c.user(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSQLBody+1))
	if err != nil {
		c.fail(w, r, pgerr.BodyReadFailed.New(err))
		return
	}
	if len(body) > maxSQLBody {
		c.fail(w, r, pgerr.BodyTooLarge.New(maxSQLBody))
		return
	}
	var req struct {
		SQL *string `json:"sql"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		c.fail(w, r, pgerr.BadJSONBody.New(strings.TrimPrefix(err.Error(), "json: ")))
		return
	}
	if req.SQL == nil || strings.TrimSpace(*req.SQL) == "" {
		c.fail(w, r, pgerr.ConsoleNoSQL.New())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), sqlTimeout)
	defer cancel()
	start := time.Now()
	res, more, err := c.b.RunReadOnly(ctx, user, *req.SQL, c.cfg.MaxRows)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	out := SQLReply{Columns: res.Columns, Rows: res.Rows, Tag: res.Tag, Notices: res.Notices, Truncated: more,
		Millis: float64(time.Since(start).Microseconds()) / 1000}
	if out.Columns == nil {
		out.Columns = []string{}
	}
	if out.Rows == nil {
		out.Rows = [][]*string{}
	}
	writeJSON(w, http.StatusOK, out)
}

// events handles GET /console/api/events: server-sent events, one
// "snapshot" event at once and then one per push, until the browser goes
// or the console closes. Each connection holds at most one unsent
// snapshot (a newer one replaces it), so a slow browser costs no memory;
// one that does not read for WriteTimeout is disconnected.
func (c *Console) events(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.user(w, r); !ok {
		return
	}
	cl, err := c.hub.join()
	if err != nil {
		c.fail(w, r, err)
		return
	}
	defer c.hub.leave(cl)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(b []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
		if _, err := io.WriteString(w, "event: snapshot\ndata: "); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		if _, err := io.WriteString(w, "\n\n"); err != nil {
			return err
		}
		return rc.Flush()
	}
	// The browser reconnects by itself after a drop; tell it how soon.
	if _, err := io.WriteString(w, "retry: 2000\n\n"); err != nil {
		return
	}
	if b, err := c.hub.current(r.Context()); err == nil {
		if send(b) != nil {
			return
		}
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-cl.done:
			return
		case b := <-cl.ch:
			if send(b) != nil {
				return
			}
		}
	}
}
