package console

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/cairndb/cairn/internal/frontend/httpapi"
	"github.com/cairndb/cairn/internal/pgerr"
)

// Row is one row of a cluster table, by column name (nil: NULL).
type Row map[string]*string

// Snapshot is what a page shows, pushed as one JSON object.
type Snapshot struct {
	Node string    `json:"node"` // the node that built it
	At   time.Time `json:"at"`
	// The cluster tables (cairn_cluster.*) as this node sees them.
	Nodes      []Row `json:"nodes"`
	Health     []Row `json:"health"` // nil: this build has no cairn_cluster.health
	Shards     []Row `json:"shards"`
	Operations []Row `json:"operations"`
	Views      []Row `json:"views"`
	// ViewLag is this node's view lag gauges, by view.
	ViewLag  map[string]Lag `json:"view_lag"`
	Timeline []Event        `json:"timeline"`
	Series   Series         `json:"series"`
	Clients  int            `json:"clients"` // live connections to this node's console
	// Errors says, per section, why it could not be read this time.
	Errors map[string]string `json:"errors,omitempty"`
}

// Lag is one view's lag on this node.
type Lag struct {
	Events  float64 `json:"events"`
	Seconds float64 `json:"seconds"`
}

// sections are the cluster tables a snapshot reads, in order.
var sections = []struct{ name, sql string }{
	{"nodes", "SELECT * FROM cairn_cluster.nodes"},
	{"health", "SELECT * FROM cairn_cluster.health"},
	{"shards", "SELECT * FROM cairn_cluster.shards"},
	{"operations", "SELECT * FROM cairn_cluster.operations ORDER BY op_id DESC LIMIT 50"},
	{"views", "SELECT name, stream, kind, shards, replicas, backfill_target, backfill_done, backfilled, watermark, late_events, ha, owner_node, last_checkpoint_at FROM cairn_cluster.views"},
}

// rowsOf turns a result into rows by column name.
func rowsOf(res *httpapi.SQLResult) []Row {
	out := make([]Row, 0, len(res.Rows))
	for _, r := range res.Rows {
		row := make(Row, len(res.Columns))
		for i, c := range res.Columns {
			if i < len(r) {
				row[c] = r[i]
			}
		}
		out = append(out, row)
	}
	return out
}

// client is one live connection: at most one unsent snapshot waits in ch.
type client struct {
	ch   chan []byte
	done chan struct{} // closed when the console closes
}

// hub builds snapshots and hands them to the live connections.
type hub struct {
	cfg     Config
	b       Backend
	sampler *sampler
	done    <-chan struct{}

	build sync.Mutex // one build at a time; callers that waited reuse it

	mu struct {
		sync.Mutex
		clients map[*client]bool
		last    []byte    // the latest snapshot's JSON
		lastAt  time.Time // when it was built
		seq     uint64    // the latest timeline event it holds
	}
}

func newHub(ctx context.Context, cfg Config, b Backend) *hub {
	h := &hub{cfg: cfg, b: b, sampler: newSampler(cfg.Gatherer, 120), done: ctx.Done()}
	h.mu.clients = map[*client]bool{}
	return h
}

func (h *hub) clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.mu.clients)
}

// join adds a live connection, or refuses it when MaxClients are open.
func (h *hub) join() (*client, error) {
	select {
	case <-h.done:
		return nil, pgerr.ConsoleShuttingDown.New(h.b.NodeID())
	default:
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.mu.clients) >= h.cfg.MaxClients {
		return nil, pgerr.ConsoleTooManySSE.New(h.cfg.MaxClients, h.b.NodeID())
	}
	c := &client{ch: make(chan []byte, 1), done: make(chan struct{})}
	h.mu.clients[c] = true
	return c, nil
}

func (h *hub) leave(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.mu.clients, c)
}

// broadcast offers b to every connection, replacing what it had not sent.
func (h *hub) broadcast(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.mu.clients {
		select {
		case <-c.ch: // a slow browser skips the snapshot it did not take
		default:
		}
		c.ch <- b // the hub is the only sender and ch has room now
	}
}

// run samples the metrics and, while a page is open, pushes a snapshot
// every Interval, and sooner when the timeline has a new event.
func (h *hub) run(ctx context.Context) {
	defer func() {
		h.mu.Lock()
		for c := range h.mu.clients {
			close(c.done)
			delete(h.mu.clients, c)
		}
		h.mu.Unlock()
	}()
	poll := min(h.cfg.Interval, 250*time.Millisecond)
	t := time.NewTicker(poll)
	defer t.Stop()
	lastSample := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if now.Sub(lastSample) >= h.cfg.Interval-poll/2 {
				h.sampler.sample(now)
				lastSample = now
			}
			if h.clients() == 0 {
				continue
			}
			h.mu.Lock()
			age, seq := now.Sub(h.mu.lastAt), h.mu.seq
			h.mu.Unlock()
			changed := false
			if ev := h.b.Timeline(); len(ev) > 0 && ev[len(ev)-1].Seq != seq {
				changed = true
			}
			if age < h.cfg.Interval-poll/2 && !changed {
				continue
			}
			b, err := h.refresh(ctx)
			if err != nil {
				continue
			}
			h.broadcast(b)
		}
	}
}

// current returns a snapshot no older than Interval, building one if
// needed.
func (h *hub) current(ctx context.Context) ([]byte, error) {
	h.mu.Lock()
	b, at := h.mu.last, h.mu.lastAt
	h.mu.Unlock()
	if b != nil && time.Since(at) < h.cfg.Interval {
		return b, nil
	}
	return h.refresh(ctx)
}

// snapshotTimeout bounds one build: a section that cannot be read in time
// (a node that just died holds up cairn_cluster.shards) says so in Errors.
const snapshotTimeout = 3 * time.Second

// refresh builds a snapshot now (or takes one built while it waited).
func (h *hub) refresh(ctx context.Context) ([]byte, error) {
	asked := time.Now()
	h.build.Lock()
	defer h.build.Unlock()
	h.mu.Lock()
	if h.mu.last != nil && h.mu.lastAt.After(asked) {
		b := h.mu.last
		h.mu.Unlock()
		return b, nil
	}
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, snapshotTimeout)
	defer cancel()
	s := h.buildSnapshot(ctx)
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("console snapshot: %w", err)
	}
	h.mu.Lock()
	h.mu.last, h.mu.lastAt = b, time.Now()
	if n := len(s.Timeline); n > 0 {
		h.mu.seq = s.Timeline[n-1].Seq
	}
	h.mu.Unlock()
	return b, nil
}

// buildSnapshot reads every section; one that fails is reported in
// Errors and left empty (health: nil, which the page shows as "—").
func (h *hub) buildSnapshot(ctx context.Context) *Snapshot {
	s := &Snapshot{Node: h.b.NodeID(), At: time.Now().UTC(), Errors: map[string]string{}}
	for _, sec := range sections {
		res, err := h.b.RunSQL(ctx, h.cfg.SnapshotUser, sec.sql)
		var rows []Row
		if err != nil {
			if e := pgerr.From(err); sec.name != "health" || e.Code != pgerr.UndefinedTable {
				s.Errors[sec.name] = e.Message
			}
		} else {
			rows = rowsOf(res)
		}
		switch sec.name {
		case "nodes":
			s.Nodes = rows
		case "health":
			s.Health = rows
		case "shards":
			s.Shards = rows
		case "operations":
			s.Operations = rows
		case "views":
			s.Views = rows
		}
	}
	if s.Nodes == nil {
		s.Nodes = []Row{}
	}
	if s.Shards == nil {
		s.Shards = []Row{}
	}
	if s.Operations == nil {
		s.Operations = []Row{}
	}
	if s.Views == nil {
		s.Views = []Row{}
	}
	s.Timeline = h.b.Timeline()
	if s.Timeline == nil {
		s.Timeline = []Event{}
	}
	s.Series, s.ViewLag = h.sampler.series()
	s.Clients = h.clients()
	if len(s.Errors) == 0 {
		s.Errors = nil
	}
	return s
}
