// Package proxy is `cairn proxy`: a PostgreSQL wire protocol proxy that
// routes each new client session to a live, non-draining data node of a
// Cairn cluster by one of four modes, learns membership from the cluster
// itself, and closes idle sessions on a node that starts draining so
// that their clients reconnect elsewhere. See DESIGN.md and docs/proxy.md.
package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/pgerr"
)

// Config is a proxy's configuration (the flags of `cairn proxy`).
type Config struct {
	Listen   string   // client address
	Join     []string // PostgreSQL addresses of cluster nodes to learn membership from
	Mode     Mode
	HTTPAddr string // /metrics and /api/v1/backends; "" none
	// User and Database are what the proxy's membership queries log in
	// as (a password comes from PGPASSWORD).
	User, Database string
	Refresh        time.Duration // how often membership is read
	JoinTimeout    time.Duration // how long the first read may take before Run fails
	BackendTimeout time.Duration // dial and first answer of a node for a new session
	DownFor        time.Duration // how long a node that failed gets no new sessions
	Logger         *slog.Logger
}

// Proxy is a running proxy.
type Proxy struct {
	cfg Config
	log *slog.Logger
	m   *metrics.Proxy
	f   *fetcher

	ln     net.Listener
	httpLn net.Listener

	mu struct {
		sync.Mutex
		bal      *Balancer
		nodes    []Node
		minScore int64
		sessions map[string]int       // open sessions per node (with ones being set up)
		down     map[string]time.Time // node → until when it gets no new sessions
		open     map[*session]struct{}
		cancel   map[string]string // BackendKeyData → node address
		from     string            // who answered the last membership read
		lastErr  string            // the last failed read, "" after a good one
	}
}

// New checks cfg and fills in defaults.
func New(cfg Config) (*Proxy, error) {
	if len(cfg.Join) == 0 {
		return nil, errors.New("--join needs at least one node's PostgreSQL address")
	}
	if _, err := ParseMode(string(cfg.Mode)); err != nil {
		return nil, err
	}
	if cfg.User == "" {
		cfg.User = "cairn"
	}
	if cfg.Database == "" {
		cfg.Database = "cairn"
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Second
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = 10 * time.Second
	}
	if cfg.BackendTimeout <= 0 {
		cfg.BackendTimeout = 3 * time.Second
	}
	if cfg.DownFor <= 0 {
		cfg.DownFor = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	p := &Proxy{cfg: cfg, log: cfg.Logger, m: metrics.NewProxy()}
	p.f = &fetcher{user: cfg.User, database: cfg.Database, health: cfg.Mode == HealthBased, timeout: min(cfg.BackendTimeout, 5*time.Second)}
	p.mu.bal = NewBalancer(cfg.Mode)
	p.mu.sessions = map[string]int{}
	p.mu.down = map[string]time.Time{}
	p.mu.open = map[*session]struct{}{}
	p.mu.cancel = map[string]string{}
	return p, nil
}

// Start reads membership (retrying until JoinTimeout: a proxy pointed at
// a dead cluster fails here with every node's error), then listens.
func (p *Proxy) Start(ctx context.Context) error {
	deadline := time.Now().Add(p.cfg.JoinTimeout)
	var err error
	for attempt := 0; ; attempt++ {
		var m membership
		m, err = p.f.fetch(ctx, p.cfg.Join)
		if err == nil {
			p.apply(m)
			break
		}
		if errors.Is(err, errNoHealth) {
			return fmt.Errorf("--mode health_based needs health scores, but %v", err)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("no node in --join %v answered within %s: %v", p.cfg.Join, p.cfg.JoinTimeout, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(min(500*time.Millisecond, time.Until(deadline))):
		}
	}
	ln, err := net.Listen("tcp", p.cfg.Listen)
	if err != nil {
		p.f.close()
		return err
	}
	p.ln = ln
	if p.cfg.HTTPAddr != "" {
		hl, err := net.Listen("tcp", p.cfg.HTTPAddr)
		if err != nil {
			_ = ln.Close()
			p.f.close()
			return err
		}
		p.httpLn = hl
	}
	return nil
}

// Addr is the client address the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Serve runs the proxy until ctx ends; then it closes every session.
func (p *Proxy) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if p.httpLn != nil {
		srv := &http.Server{Handler: p.httpHandler(), ReadHeaderTimeout: 5 * time.Second}
		wg.Go(func() { _ = srv.Serve(p.httpLn) })
		wg.Go(func() { <-ctx.Done(); _ = srv.Close() })
	}
	wg.Go(func() { p.refreshLoop(ctx) })
	wg.Go(func() {
		<-ctx.Done()
		_ = p.ln.Close()
		p.mu.Lock()
		for s := range p.mu.open {
			s.close()
		}
		p.mu.Unlock()
	})
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		wg.Go(func() { p.handle(c) })
	}
}

func (p *Proxy) refreshLoop(ctx context.Context) {
	defer p.f.close()
	t := time.NewTicker(p.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m, err := p.f.fetch(ctx, p.addrs())
		if err != nil {
			p.m.RefreshFails.Inc()
			p.mu.Lock()
			first := p.mu.lastErr == ""
			p.mu.lastErr = err.Error()
			p.mu.Unlock()
			if first {
				p.log.Warn("membership read failed; routing by the last known membership", "err", err)
			}
			continue
		}
		p.apply(m)
	}
}

// addrs are the addresses to read membership from: the known data nodes'
// (live ones first), then --join.
func (p *Proxy) addrs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var live, rest []string
	for _, n := range p.mu.nodes {
		if n.State == "live" {
			live = append(live, n.Addr)
		} else {
			rest = append(rest, n.Addr)
		}
	}
	out := append(live, rest...)
	for _, j := range p.cfg.Join {
		seen := false
		for _, a := range out {
			seen = seen || a == j
		}
		if !seen {
			out = append(out, j)
		}
	}
	return out
}

// apply installs a membership read and starts closing idle sessions on
// draining nodes.
func (p *Proxy) apply(m membership) {
	p.mu.Lock()
	if p.mu.lastErr != "" {
		p.log.Info("membership read works again", "from", m.from)
	}
	p.mu.nodes, p.mu.minScore, p.mu.from, p.mu.lastErr = m.nodes, m.minScore, m.from, ""
	draining := map[string]bool{}
	eligible := 0
	v := p.viewLocked()
	for _, n := range m.nodes {
		if n.State == "draining" {
			draining[n.Name] = true
		}
		if p.mu.bal.ineligible(v, n) == "" {
			eligible++
		}
	}
	var drain []*session
	for s := range p.mu.open {
		if draining[s.node.Name] {
			drain = append(drain, s)
		}
	}
	p.mu.Unlock()
	p.m.EligibleNodes.Set(float64(eligible))
	for _, s := range drain {
		s.setDrain()
	}
}

// viewLocked is the balancer's view now.
func (p *Proxy) viewLocked() View {
	now := time.Now()
	down := map[string]bool{}
	for n, until := range p.mu.down {
		if now.Before(until) {
			down[n] = true
		} else {
			delete(p.mu.down, n)
		}
	}
	return View{Nodes: p.mu.nodes, Sessions: p.mu.sessions, Down: down, MinScore: p.mu.minScore}
}

// pick chooses a node and counts the session on it at once (so that
// concurrent picks under least_connections see it).
func (p *Proxy) pick() (Node, string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, why, ok := p.mu.bal.Pick(p.viewLocked())
	if ok {
		p.mu.sessions[n.Name]++
	}
	return n, why, ok
}

func (p *Proxy) unpick(n Node) {
	p.mu.Lock()
	p.mu.sessions[n.Name]--
	p.mu.Unlock()
}

func (p *Proxy) markDown(n Node, reason string, err error) {
	p.m.BackendFails.WithLabelValues(n.Name, reason).Inc()
	p.log.Warn("node failed for a new session; routing around it", "node", n.Name, "addr", n.Addr, "reason", reason, "err", err, "for", p.cfg.DownFor)
	p.mu.Lock()
	p.mu.down[n.Name] = time.Now().Add(p.cfg.DownFor)
	p.mu.Unlock()
}

func (p *Proxy) addCancelKey(key, addr string) {
	p.mu.Lock()
	p.mu.cancel[key] = addr
	p.mu.Unlock()
}

// handle serves one client connection.
func (p *Proxy) handle(c net.Conn) {
	defer c.Close()
	cr := bufio.NewReaderSize(c, 32<<10)
	cw := bufio.NewWriterSize(c, 32<<10)
	fail := func(e *pgerr.Error) {
		_, _ = cw.Write(errorResponse("FATAL", e))
		_ = cw.Flush()
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	var startup []byte
	for range 3 { // SSLRequest and GSSENCRequest, then the startup packet
		code, pkt, err := readStartup(cr)
		if err != nil {
			fail(pgerr.ProxyBadStartup.New(err.Error()))
			return
		}
		switch code {
		case sslRequest, gssRequest:
			// No TLS termination: the client may go on in plain text
			// (sslmode=prefer) or give up (sslmode=require).
			if _, err := c.Write([]byte{'N'}); err != nil {
				return
			}
			continue
		case cancelCode:
			p.forwardCancel(pkt)
			return
		case protocolV3:
			startup = pkt
		default:
			fail(pgerr.ProxyBadStartup.New(fmt.Sprintf("unsupported frontend protocol %d.%d: cairn proxy speaks 3.0", code>>16, code&0xffff)))
			return
		}
		break
	}
	if startup == nil {
		fail(pgerr.ProxyBadStartup.New("no startup packet after SSL/GSS requests"))
		return
	}
	_ = c.SetDeadline(time.Time{})
	mode := string(p.cfg.Mode)
	// Try nodes until one answers; the client has seen nothing yet.
	for attempt := 0; ; attempt++ {
		n, why, ok := p.pick()
		if !ok {
			p.m.Decisions.WithLabelValues(mode, "no_backend").Inc()
			fail(pgerr.ProxyNoBackend.New(why))
			return
		}
		sc, sr, first, hdr, reason, err := dialNode(n, startup, p.cfg.BackendTimeout)
		if err != nil {
			p.unpick(n)
			p.markDown(n, reason, err)
			p.m.Decisions.WithLabelValues(mode, "retried").Inc()
			if attempt >= 8 {
				fail(pgerr.ProxyBackendFailed.New(n.Name, n.Addr, err))
				return
			}
			continue
		}
		p.m.Decisions.WithLabelValues(mode, "routed").Inc()
		p.m.Routed.WithLabelValues(n.Name).Inc()
		s := &session{p: p, client: c, server: sc, node: n, cw: cw}
		p.register(s)
		s.relay(cr, sr, first, hdr)
		p.unregister(s)
		return
	}
}

func (p *Proxy) register(s *session) {
	p.mu.Lock()
	p.mu.open[s] = struct{}{}
	draining := false
	for _, n := range p.mu.nodes {
		draining = draining || n.Name == s.node.Name && n.State == "draining"
	}
	p.mu.Unlock()
	p.m.Sessions.WithLabelValues(s.node.Name).Inc()
	if draining { // it began draining while this session was set up
		s.setDrain()
	}
}

func (p *Proxy) unregister(s *session) {
	p.mu.Lock()
	delete(p.mu.open, s)
	p.mu.sessions[s.node.Name]--
	if s.cancelKey != "" {
		delete(p.mu.cancel, s.cancelKey)
	}
	p.mu.Unlock()
	p.m.Sessions.WithLabelValues(s.node.Name).Dec()
}

// forwardCancel sends a CancelRequest to the node that issued its key.
func (p *Proxy) forwardCancel(pkt []byte) {
	p.mu.Lock()
	addr := p.mu.cancel[cancelKeyOf(pkt)]
	p.mu.Unlock()
	if addr == "" {
		return // like PostgreSQL: an unknown key is ignored
	}
	c, err := net.DialTimeout("tcp", addr, p.cfg.BackendTimeout)
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = c.Write(pkt)
}

// BackendRow is one node as GET /api/v1/backends shows it.
type BackendRow struct {
	Node     string `json:"node"`
	Address  string `json:"address"`
	State    string `json:"state"`
	Weight   int64  `json:"weight"`
	Score    *int64 `json:"score"`
	Sessions int    `json:"sessions"`
	Eligible bool   `json:"eligible"`
	Why      string `json:"why,omitempty"`
}

// Backends is the proxy's view of the nodes.
func (p *Proxy) Backends() []BackendRow {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.viewLocked()
	var rows []BackendRow
	for _, n := range p.mu.nodes {
		r := BackendRow{Node: n.Name, Address: n.Addr, State: n.State, Weight: n.Weight, Sessions: p.mu.sessions[n.Name]}
		if n.Score >= 0 {
			sc := n.Score
			r.Score = &sc
		}
		r.Why = p.mu.bal.ineligible(v, n)
		r.Eligible = r.Why == ""
		rows = append(rows, r)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Node < rows[j].Node })
	return rows
}

func (p *Proxy) httpHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(p.m.Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /api/v1/backends", func(w http.ResponseWriter, _ *http.Request) {
		p.mu.Lock()
		from, lastErr := p.mu.from, p.mu.lastErr
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"mode": p.cfg.Mode, "membership_from": from, "membership_error": lastErr, "rows": p.Backends()})
	})
	return mux
}
