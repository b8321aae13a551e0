// Package server wires one Cairn node: the multi-raft store, the catalog,
// the stream and view shard groups, the view tasks, and the PostgreSQL
// and HTTP front ends.
package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/exec"
	"github.com/cairndb/cairn/internal/httpapi"
	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/parser"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/pgwire"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/transport"
	"github.com/cairndb/cairn/internal/viewsm"
)

// Version is the Cairn version, set by cmd/cairn.
var Version = "0.1.0-dev"

// Config configures a node.
type Config struct {
	DataDir     string
	PGAddr      string
	HTTPAddr    string
	ClusterAddr string
	NodeID      string
	Join        []string // cluster addresses of live members to join through; empty bootstraps a new cluster
	Role        string   // data | compute
	Zone        string
	Region      string
	NoSync      bool // tests and benchmarks only: skip fsync
	// Raft timing: a heartbeat every HeartbeatInterval, an election after
	// ElectionTimeout without one (randomized up to twice that). Zero
	// means the defaults, 100ms and 1s: write recovery in about a second.
	HeartbeatInterval time.Duration
	ElectionTimeout   time.Duration
	// TestFaults enables POST /debug/faults, which cuts this node's
	// traffic to chosen peers: fault tests only, never in production.
	TestFaults bool
	// RaftLogEntries, if set, replaces both the log truncation threshold
	// and the entries kept for lagging followers (tests use a tiny value to
	// force catch-up by snapshot).
	RaftLogEntries uint64
	// Faults, if set, is the fault injector this node's transport obeys:
	// an in-process test cluster shares one among its nodes.
	Faults *transport.Faults
	// DiskFaults, if set, fails or stalls this node's synced raft writes
	// on command (POST /debug/faults {"disk":...}); Start makes one when
	// TestFaults is on.
	DiskFaults *DiskFaults
	// Bugs are deliberate defects for checker self-tests (--unsafe-bug);
	// nil in any real deployment.
	Bugs   *Bugs
	Logger *slog.Logger
}

// raftTick is the raft clock's tick.
const raftTick = 50 * time.Millisecond

// ticks converts a duration (or its default when zero) to raft ticks.
func ticks(d, def time.Duration) int {
	if d <= 0 {
		d = def
	}
	return max(1, int(d/raftTick))
}

// ErrAddrInUse is wrapped when a listen address is taken.
var ErrAddrInUse = errors.New("address in use")

// Node is one running Cairn node.
type Node struct {
	cfg     Config
	log     *slog.Logger
	id      *Identity
	lock    *os.File
	store   *raftstore.Store
	meta    *catalog.MetaSM
	metrics *metrics.Metrics

	pgLn, httpLn, clusterLn net.Listener
	tr                      *transport.Transport
	faults                  *transport.Faults // non-nil with Config.TestFaults
	leaderLog               *os.File          // leader-terms.log, appended by the raft loop
	seeds                   sync.Map          // raft id -> cluster addr, from the join reply
	live                    liveness
	membershipCh            chan struct{}
	pg                      *pgwire.Server
	http                    *httpapi.Server

	reconcileCh chan struct{}
	opsCh       chan struct{}
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	rr          atomic.Uint64 // round-robin shard choice for streams without a shard key
	ready       atomic.Bool   // store and meta group are up: peers' messages can be handled
	started     time.Time
	ops         opRunner
	rpcs        inflight // running RPC handlers

	mu struct {
		sync.Mutex
		groups map[uint64]*group
	}
}

// group is one running data group on this node.
type group struct {
	id     uint64
	ref    catalog.GroupRef
	stream *streamsm.SM
	view   *viewsm.SM
	desc   *catalog.View
	leader chan struct{} // poked on leadership changes
	stop   context.CancelFunc
	done   chan struct{}
	// remote marks a stand-in for a view shard with no replica here: reads
	// go to a replica on another node, planned with plan.
	remote bool
	plan   *exec.ViewPlan
}

// Start opens the data dir, listens on every address, recovers every
// group and starts serving. It returns once the node accepts clients.
func Start(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TestFaults && cfg.DiskFaults == nil {
		cfg.DiskFaults = &DiskFaults{}
	}
	n := &Node{cfg: cfg, log: cfg.Logger, reconcileCh: make(chan struct{}, 1), opsCh: make(chan struct{}, 1), membershipCh: make(chan struct{}, 1), metrics: metrics.New()}
	n.mu.groups = map[uint64]*group{}
	n.started = time.Now()
	n.ctx, n.cancel = context.WithCancel(context.Background())
	ok := false
	defer func() {
		if !ok {
			n.Close()
		}
	}()
	id, lock, err := openDataDir(cfg.DataDir, cfg.NodeID, "", Version)
	if err != nil {
		return nil, err
	}
	n.id, n.lock = id, lock
	listen := func(what, addr string) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("%w: %s %s is already taken by another process: stop it or choose another --%s", ErrAddrInUse, what, addr, what)
			}
			return nil, fmt.Errorf("listen on %s %s: %w", what, addr, err)
		}
		return ln, nil
	}
	if n.pgLn, err = listen("pg-addr", cfg.PGAddr); err != nil {
		return nil, err
	}
	if n.httpLn, err = listen("http-addr", cfg.HTTPAddr); err != nil {
		return nil, err
	}
	if n.clusterLn, err = listen("cluster-addr", cfg.ClusterAddr); err != nil {
		return nil, err
	}
	bootstrap := false
	if n.id.RaftID == 0 {
		if len(cfg.Join) == 0 {
			n.id.RaftID, bootstrap = 1, true
		} else if err := n.joinCluster(); err != nil {
			return nil, err
		}
		if err := saveIdentity(cfg.DataDir, n.id); err != nil {
			return nil, err
		}
	}
	faults := cfg.Faults
	if faults == nil && cfg.TestFaults {
		faults = transport.NewFaults()
	}
	n.faults = faults
	n.tr = transport.New(transport.Config{NodeID: n.id.RaftID, Resolve: n.resolve, Handler: n, Logger: cfg.Logger, Faults: faults})
	go func() { _ = n.tr.Serve(n.clusterLn) }()
	// Every (group, term) this node led and committed in, across restarts:
	// cairn_cluster.leader_terms, for checking no two nodes led one term.
	n.leaderLog, err = os.OpenFile(filepath.Join(cfg.DataDir, "leader-terms.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrDataDir, cfg.DataDir, err)
	}
	n.store, err = raftstore.Open(raftstore.Config{
		OnLeader: func(gid, term uint64) {
			fmt.Fprintf(n.leaderLog, "%d %d %d\n", gid, term, time.Now().UnixMicro())
		},
		Dir:       filepath.Join(cfg.DataDir, "store"),
		NodeID:    n.id.RaftID,
		Transport: n.tr,
		// Ticks of 50ms; heartbeats and elections are whole ticks.
		TickInterval:   raftTick,
		HeartbeatTicks: ticks(cfg.HeartbeatInterval, 100*time.Millisecond),
		ElectionTicks:  ticks(cfg.ElectionTimeout, time.Second),
		NoSync:         cfg.NoSync,
		// A short log lets truncation delete entries while they are still
		// in the memtable, so most of the raft log is never flushed or
		// compacted (each entry is also in its state machine).
		MaxLogEntries:    cmp.Or(cfg.RaftLogEntries, 256),
		MaxRetainEntries: cfg.RaftLogEntries, // 0: the store's default
		Logger:           cfg.Logger,
		OnFsync:          n.metrics.Fsynced,
		OnCommit:         func(d time.Duration) { n.metrics.Committed("all", d) },
		OnPropose:        func() { n.metrics.Proposed("all") },
		SyncFault:        cfg.DiskFaults.syncFault(),
	})
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	n.meta = catalog.NewMetaSM(raftstore.DataKey(catalog.MetaGroupID, []byte("catalog")), n.poke)
	var metaPeers []uint64
	if bootstrap {
		metaPeers = []uint64{1}
	}
	// A node that just joined starts the meta group empty; the leader adds
	// it as a learner and sends a snapshot.
	if err := n.store.StartGroup(catalog.MetaGroupID, n.meta, metaPeers); err != nil {
		return nil, fmt.Errorf("start meta group: %w", err)
	}
	n.ready.Store(true)
	n.wg.Add(3)
	go n.every(heartbeatInterval, nil, n.sendHeartbeats)
	go n.every(heartbeatInterval, n.membershipCh, n.growMetaLogged)
	go n.every(balanceInterval, nil, n.balanceLeaders)
	if err := n.waitLeader(catalog.MetaGroupID, 30*time.Second); err != nil {
		return nil, err
	}
	if err := n.registerSelf(); err != nil {
		return nil, err
	}
	n.destroyOrphans()
	n.reconcile()
	n.wg.Add(4)
	go n.every(time.Second, n.opsCh, n.schedule)
	go n.every(time.Second, n.reconcileCh, n.reconcile)
	go n.every(retentionInterval, nil, n.trimExpired)
	go n.every(lagInterval, nil, n.lagUpdater())

	n.pg = pgwire.NewServer(pgwire.Config{Addr: cfg.PGAddr, Logger: cfg.Logger, ServerVersion: ServerVersion}, n)
	n.http = httpapi.New(httpapi.Config{Metrics: n.metrics.Handler(), Logger: cfg.Logger}, httpBackend{n})
	n.http.Handle(httpapi.AdminPrefix, httpapi.NewAdminHandler(n))
	n.http.Handle("/debug/pprof/", http.HandlerFunc(pprof.Index))
	n.http.Handle("/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	if cfg.TestFaults {
		n.http.Handle("POST /debug/faults", http.HandlerFunc(n.serveFaults))
	}
	go func() { _ = n.pg.Serve(n.pgLn) }()
	go func() { _ = n.http.Serve(n.httpLn) }()
	ok = true
	n.log.Info("cairn node started", "node_id", cfg.NodeID, "cluster_id", n.id.ClusterID,
		"pg_addr", n.pgLn.Addr().String(), "http_addr", n.httpLn.Addr().String(), "data_dir", cfg.DataDir)
	return n, nil
}

// RaftID returns this node's raft replica id.
func (n *Node) RaftID() uint64 { return n.id.RaftID }

// PGAddr returns the PostgreSQL listen address.
func (n *Node) PGAddr() string { return n.pgLn.Addr().String() }

// HTTPAddr returns the HTTP listen address.
func (n *Node) HTTPAddr() string { return n.httpLn.Addr().String() }

// Close stops the node: front ends first, then view tasks, then the store.
func (n *Node) Close() error {
	if n.cancel != nil {
		n.cancel()
	}
	if n.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = n.pg.Shutdown(ctx)
		cancel()
	} else if n.pgLn != nil {
		n.pgLn.Close()
	}
	if n.http != nil {
		_ = n.http.Close()
	} else if n.httpLn != nil {
		n.httpLn.Close()
	}
	if n.tr != nil {
		defer n.tr.Close() // after the store: the raft loop may still send
	} else if n.clusterLn != nil {
		n.clusterLn.Close()
	}
	n.wg.Wait()
	// Stop view tasks without holding mu: a task may need it (getGroup)
	// on its way out.
	n.mu.Lock()
	groups := make([]*group, 0, len(n.mu.groups))
	for _, g := range n.mu.groups {
		groups = append(groups, g)
	}
	n.mu.Unlock()
	for _, g := range groups {
		if g.stop != nil {
			g.stop()
			<-g.done
		}
	}
	n.rpcs.closeAndWait(10 * time.Second)
	var err error
	if n.store != nil {
		err = n.store.Close()
	}
	if n.leaderLog != nil {
		n.leaderLog.Close()
	}
	if n.lock != nil {
		n.lock.Close()
	}
	return err
}

func (n *Node) poke() {
	select {
	case n.reconcileCh <- struct{}{}:
	default:
	}
}

// every runs fn every interval, and whenever wake fires (nil: never),
// until the node stops. Each background loop of the node is one of these.
func (n *Node) every(interval time.Duration, wake <-chan struct{}, fn func()) {
	defer n.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		case <-wake:
		}
		fn()
	}
}

// reconcile starts the groups the catalog has and this node lacks, and
// destroys the groups of dropped objects. Streams start before views
// because a view reads its stream's shards.
func (n *Node) reconcile() {
	cat := n.meta.Catalog()
	want := cat.Groups()
	n.mu.Lock()
	var drop []*group
	for id, g := range n.mu.groups {
		// Dropped objects, and replicas moved off this node (an operation
		// removes a replica from the raft group before the placement).
		if ref, ok := want[id]; !ok || !slices.Contains(ref.Nodes, n.id.RaftID) {
			drop = append(drop, g)
			delete(n.mu.groups, id)
		}
	}
	n.mu.Unlock()
	for _, g := range drop {
		if g.stop != nil {
			g.stop()
			<-g.done
		}
		if err := n.store.DestroyGroup(g.id); err != nil {
			n.log.Warn("destroy group", "group", g.id, "err", err)
		}
	}
	for _, s := range cat.SortedStreams() {
		for i, gid := range s.Groups {
			peers, ok := n.startPeers(cat, want, gid)
			if !ok {
				continue
			}
			sm := streamsm.New(gid, raftstore.DataPrefix(gid))
			if err := n.store.StartGroup(gid, sm, peers); err != nil {
				n.log.Error("start stream shard", "stream", s.Name, "shard", i, "group", gid, "err", err)
				continue
			}
			n.addGroup(&group{id: gid, ref: catalog.GroupRef{Kind: catalog.GroupStream, Object: s.Name, Shard: i}, stream: sm})
		}
	}
	for _, v := range cat.SortedViews() {
		s := cat.Streams[v.Stream]
		if s == nil {
			continue
		}
		plan, err := planStoredView(v, s)
		if err != nil {
			n.log.Error("plan view", "view", v.Name, "err", err)
			continue
		}
		for i, gid := range v.Groups {
			peers, ok := n.startPeers(cat, want, gid)
			if !ok {
				continue
			}
			g := &group{id: gid, ref: catalog.GroupRef{Kind: catalog.GroupView, Object: v.Name, Shard: i}, desc: v,
				leader: make(chan struct{}, 1), done: make(chan struct{})}
			g.view = viewsm.New(raftstore.DataPrefix(gid), plan, v.Start, func(bool, uint64) {
				select {
				case g.leader <- struct{}{}:
				default:
				}
			})
			if err := n.store.StartGroup(gid, g.view, peers); err != nil {
				n.log.Error("start view shard", "view", v.Name, "shard", i, "group", gid, "err", err)
				continue
			}
			ctx, cancel := context.WithCancel(n.ctx)
			g.stop = cancel
			n.addGroup(g)
			go n.superviseView(ctx, g, s)
		}
	}
}

// startPeers says whether this node should start group gid and with
// which initial voters: the placement for a group's first replicas, none
// for a replica added to a running group (it waits for a snapshot; a
// tombstone left by an earlier removal from the same group is cleared).
func (n *Node) startPeers(cat *catalog.Catalog, want map[uint64]catalog.GroupRef, gid uint64) ([]uint64, bool) {
	peers := want[gid].Nodes
	if n.hasGroup(gid) || !slices.Contains(peers, n.id.RaftID) {
		return nil, false
	}
	if !slices.Contains(cat.Added[gid], n.id.RaftID) {
		return peers, true
	}
	if tomb, err := n.store.IsTombstoned(gid); err == nil && tomb {
		if err := n.store.ClearTombstone(gid); err != nil {
			n.log.Warn("clear tombstone to rejoin a group", "group", gid, "err", err)
			return nil, false
		}
	}
	return nil, true
}

// destroyOrphans removes groups persisted on this node whose object the
// catalog no longer has (dropped while the node was down or before the
// reconciler got to them).
func (n *Node) destroyOrphans() {
	// Only a current catalog may say a replica is no longer wanted: a
	// restarted node's copy can lag (a replica added to it, or an object
	// created, after the version it holds), and deleting a replica the
	// group still counts on would put committed entries at risk. A
	// ReadIndex barrier on the meta group brings it up to date; without
	// one nothing is deleted (a later restart cleans up).
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	if err := n.readIndex(ctx, catalog.MetaGroupID); err != nil {
		n.log.Info("not cleaning up replicas moved off this node: the catalog could not be brought up to date", "err", err)
		return
	}
	persisted, err := n.store.PersistedGroups()
	if err != nil {
		n.log.Warn("list persisted groups", "err", err)
		return
	}
	want := n.meta.Catalog().Groups()
	for _, gid := range persisted {
		if ref, ok := want[gid]; (ok && slices.Contains(ref.Nodes, n.id.RaftID)) || gid == catalog.MetaGroupID {
			continue
		}
		if err := n.store.DestroyGroup(gid); err != nil {
			n.log.Warn("destroy orphan group", "group", gid, "err", err)
		} else {
			n.log.Info("destroyed a replica of a dropped object, or one moved off this node", "group", gid)
		}
	}
}

func (n *Node) hasGroup(id uint64) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	_, ok := n.mu.groups[id]
	return ok
}

func (n *Node) addGroup(g *group) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mu.groups[g.id] = g
}

func (n *Node) getGroup(id uint64) *group {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.mu.groups[id]
}

// planStoredView re-plans a view from its stored query text.
func planStoredView(v *catalog.View, s *catalog.Stream) (*exec.ViewPlan, error) {
	stmts, _, err := parser.Parse(v.Query)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, fmt.Errorf("view %q: stored query is not one statement", v.Name)
	}
	sel, ok := stmts[0].(*parser.Select)
	if !ok {
		return nil, fmt.Errorf("view %q: stored query is not a SELECT", v.Name)
	}
	return exec.PlanView(sel, streamColumns(s))
}

func streamColumns(s *catalog.Stream) []exec.Column {
	cols := make([]exec.Column, len(s.Cols))
	for i, c := range s.Cols {
		cols[i] = exec.Column{Name: c.Name, T: c.T}
	}
	return cols
}

// Pacing of view deltas (see viewsm.TaskConfig): a 10,000-key delta
// waits 40 ms before the next one, a 10-key delta 40 µs.
const (
	viewMaxPause    = 40 * time.Millisecond
	viewPausePerKey = 4 * time.Microsecond
)

// superviseView runs the view task while this replica leads the view shard.
func (n *Node) superviseView(ctx context.Context, g *group, s *catalog.Stream) {
	defer close(g.done)
	src := &streamShardSource{n: n, groups: s.Groups}
	backoff := 10 * time.Millisecond
	for ctx.Err() == nil {
		st, ok := n.store.Status(g.id)
		if !ok || !st.IsLeader {
			select {
			case <-ctx.Done():
				return
			case <-g.leader:
			case <-time.After(100 * time.Millisecond):
			}
			continue
		}
		err := n.runViewTask(ctx, viewsm.TaskConfig{
			SM: g.view, Shard: g.ref.Shard, NumShards: len(g.desc.Groups), Src: src, MaxPause: viewMaxPause, PausePerKey: viewPausePerKey,
			Propose: func(ctx context.Context, cmd []byte) (any, error) {
				return n.store.Propose(ctx, g.id, n.cfg.Bugs.bugDropDelta(g.view.Plan(), cmd))
			},
			OnSkip: func(offset uint64, err error) {
				n.log.Warn("view skips an event it cannot fold", "view", g.desc.Name, "stream", s.Name, "offset", offset, "err", err)
			},
		})
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			n.log.Warn("view task stopped; restarting", "view", g.ref.Object, "shard", g.ref.Shard, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < time.Second {
			backoff *= 2
		}
	}
}

// runViewTask runs one view task, turning a panic (a bug, or data no
// plan can read) into an error so the node and its other views keep
// serving; superviseView logs it and retries with backoff.
func (n *Node) runViewTask(ctx context.Context, c viewsm.TaskConfig) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("view task panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return viewsm.RunTask(ctx, c)
}

func (n *Node) waitLeader(gid uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if st, ok := n.store.Status(gid); ok && st.Leader != 0 {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return pgerr.GroupNoLeader.New(gid, timeout)
}

// proposeMeta proposes a catalog change and returns its result.
func (n *Node) proposeMeta(ctx context.Context, c catalog.Command) (*catalog.Result, error) {
	// Bounded: a meta leader cut off from its quorum would otherwise keep
	// the proposal pending until it hears of a new leader.
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := n.store.Propose(pctx, catalog.MetaGroupID, catalog.Encode(c))
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return nil, pgerr.MetaUnconfirmed.New()
	}
	if errors.Is(err, raftstore.ErrNotLeader) {
		return n.forwardMeta(ctx, c)
	}
	if err != nil {
		return nil, storeErr(err)
	}
	r, ok := res.(*catalog.Result)
	if !ok {
		return nil, pgerr.BadApplyResult.New(res)
	}
	if r.Err != nil {
		return nil, r.Err
	}
	return r, nil
}

// forwardMeta sends a catalog change to the meta leader, then waits until
// this node's catalog has it (so the session reads its own writes).
func (n *Node) forwardMeta(ctx context.Context, c catalog.Command) (*catalog.Result, error) {
	var leader uint64
	for deadline := time.Now().Add(5 * time.Second); ; {
		if st, ok := n.store.Status(catalog.MetaGroupID); ok && st.Leader != 0 && st.Leader != n.id.RaftID {
			leader = st.Leader
			break
		}
		if time.Now().After(deadline) {
			return nil, pgerr.MetaNoLeader.New()
		}
		select {
		case <-ctx.Done():
			return nil, storeErr(ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	out, err := n.tr.Call(ctx, leader, rpcMetaPropose, catalog.Encode(c))
	if err != nil {
		return nil, err
	}
	var r catalog.Result
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, pgerr.BadReply.New("meta leader", err)
	}
	if r.Err != nil {
		return nil, r.Err
	}
	if err := n.readIndex(ctx, catalog.MetaGroupID); err != nil {
		return nil, storeErr(err)
	}
	return &r, nil
}

// registerSelf records this node (and, on a new cluster, the cluster id)
// in the catalog, or updates its addresses after a restart.
func (n *Node) registerSelf() error {
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	defer cancel()
	me := n.selfNode()
	if n.id.RaftID != 1 {
		// A member's entry was written before it was let in: wait until the
		// catalog (from the leader's snapshot or log) has it.
		for n.meta.Catalog().Nodes[me.Name] == nil {
			select {
			case <-ctx.Done():
				return fmt.Errorf("catch up the catalog: %w", ctx.Err())
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	cat := n.meta.Catalog()
	if cat.ClusterID == "" {
		v := n.id.ClusterID
		_, err := n.proposeMeta(ctx, &catalog.Init{ClusterID: v, Node: &me})
		return err
	}
	old := cat.Nodes[me.Name]
	if old == nil || old.ClusterAddr != me.ClusterAddr || old.PGAddr != me.PGAddr || old.HTTPAddr != me.HTTPAddr || old.State == catalog.NodeDraining {
		// Key "restart": a drain ends with the process it drained (the
		// rolling-restart recipe is drain, restart, wait for live); other
		// operator states survive the restart.
		_, err := n.proposeMeta(ctx, &catalog.AddNode{Node: &me, Restart: true})
		return err
	}
	return nil
}

// storeErr maps store errors to client errors.
func storeErr(err error) error {
	var pe *pgerr.Error
	if errors.As(err, &pe) {
		return pe
	}
	switch {
	case errors.Is(err, context.Canceled):
		return pgerr.CanceledByUser.New().
			WithDetail("A write already handed to Raft may still be applied.")
	case errors.Is(err, context.DeadlineExceeded):
		return pgerr.StatementTimeout.New().
			WithDetail("A write already handed to Raft may still be applied.")
	case errors.Is(err, raftstore.ErrNotLeader), errors.Is(err, raftstore.ErrProposalDropped):
		return pgerr.StoreRetry.New(err)
	case errors.Is(err, raftstore.ErrStopped):
		return pgerr.NodeShuttingDown.New()
	case errors.Is(err, raftstore.ErrGroupNotFound), errors.Is(err, raftstore.ErrGroupRemoved):
		return pgerr.ShardMoved.New(err)
	}
	return pgerr.Internal.New(err)
}

// newBatchID returns a random batch id for dedupe of retried appends.
func newBatchID() (id [streamsm.BatchIDLen]byte) {
	_, _ = rand.Read(id[:])
	return id
}
