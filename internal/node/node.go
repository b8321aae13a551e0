// Package node is the one wiring point of a Cairn node: Start builds the
// data dir, listeners, transport, raft store and meta group, then the
// member, replica, router and operations parts and the front ends, and
// owns every goroutine's lifetime; Close takes them apart in reverse.
// DESIGN.md maps the packages and their arrows.
package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cairndb/cairn/internal/bugs"
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/clock"
	"github.com/cairndb/cairn/internal/cluster/member"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/cluster/ops"
	"github.com/cairndb/cairn/internal/disk"
	"github.com/cairndb/cairn/internal/frontend/console"
	"github.com/cairndb/cairn/internal/frontend/httpapi"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/memory"
	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/node/datadir"
	"github.com/cairndb/cairn/internal/node/faults"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/replica"
	"github.com/cairndb/cairn/internal/router"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/sched"
	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/session"
	"github.com/cairndb/cairn/internal/timing"
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
	// AdvertiseHost, if set, is the host (a DNS name or an address) other
	// nodes, clients and the catalog use for this node, with the ports it
	// listens on: a container listening on 0.0.0.0, or on an address that
	// changes at each restart, is reached by a stable name.
	AdvertiseHost string
	NodeID        string
	Join          []string // cluster addresses of live members to join through; empty bootstraps a new cluster
	Role          string   // data | compute
	Zone          string
	Region        string
	NoSync        bool // tests and benchmarks only: skip fsync
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
	DiskFaults *faults.Disk
	// Timing overrides intervals and timeouts (zero fields: defaults).
	// HeartbeatInterval and ElectionTimeout, when set, win over its raft
	// fields.
	Timing timing.Timing
	// Clock, if set, is the clock liveness, the scheduler and the
	// operations executor read; nil is the wall clock.
	Clock clock.Clock
	// Bugs are deliberate defects for checker self-tests (--unsafe-bug);
	// nil in any real deployment.
	Bugs   *bugs.Set
	Logger *slog.Logger
	// HTTPHosts are more names the HTTP API answers to (Host header),
	// e.g. a DNS name that resolves to this node (--http-host).
	HTTPHosts []string
	// MetricsAuth requires an authenticated user on GET /metrics
	// (--metrics-auth).
	MetricsAuth bool
	// CertsDir makes the node secure (tls.go): TLS on every port with the
	// certificates there, mutual TLS between nodes. Insecure says, with
	// no CertsDir, that listening insecurely beyond loopback is meant.
	// TLSMinVersion is the lowest TLS version (0: 1.3).
	CertsDir      string
	Insecure      bool
	TLSMinVersion uint16
	// AuthFailureLimit is how many failed SQL logins from one IP within a
	// minute make further attempts from it wait (0: 5). Loopback clients
	// of an insecure node, which are trusted, are not limited.
	AuthFailureLimit int
	// MaxMemory is the memory this node keeps to (--max-memory, bytes;
	// 0: MaxMemoryDefault). memory.go sizes Pebble and the budgets from
	// it and admits ingest under it.
	MaxMemory uint64
	// GoMemoryLimit lets the node set the Go GC's memory limit
	// (debug.SetMemoryLimit) from MaxMemory: cmd/cairn sets it, since the
	// limit is process-wide; an in-process test cluster does not.
	GoMemoryLimit bool
	// ViewCache is the byte budget of the cache of view rows shared by
	// this node's view shards (--view-cache); 0 means the view-cache
	// budget of MaxMemory (memory.Plan: a quarter of it).
	// Rows changed since a shard's last checkpoint are held apart from it.
	ViewCache int64
}

// ticks converts a duration to raft ticks of tick.
func ticks(d, tick time.Duration) int { return max(1, int(d/tick)) }

// ErrDataDir is wrapped by every data-dir ownership error.
var ErrDataDir = datadir.ErrDataDir

// ErrAddrInUse is wrapped when a listen address is taken.
var ErrAddrInUse = errors.New("address in use")

// Node is one running Cairn node.
type Node struct {
	cfg     Config
	log     *slog.Logger
	id      *datadir.Identity
	lock    *os.File
	store   *raftstore.Store
	meta    *catalog.MetaSM
	metrics *metrics.Metrics
	kinds   groupKinds // group_kind of raft metrics (raftgroups.go)

	pgLn, httpLn, clusterLn net.Listener
	tr                      *transport.Transport
	faults                  *transport.Faults // non-nil with Config.TestFaults
	leaderLog               *os.File          // leader-terms.log, appended by the raft loop
	seeds                   sync.Map          // raft id -> cluster addr, from the join reply
	live                    *membership.Tracker
	clock                   clock.Clock
	timing                  timing.Timing
	member                  *member.Member // joins, heartbeats, catalog proposals, meta growth, leader balance
	pg                      *pgwire.Server
	http                    *httpapi.Server
	console                 *console.Console // the web console (console.go)
	timeline                timeline         // what the console's timeline shows (timeline.go)

	reconcileCh chan struct{}
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	ready       atomic.Bool   // store and meta group are up: peers' messages can be handled
	ops         *ops.Executor // cluster operations, run while this node leads the meta group
	rpcs        rpc.Gate      // running RPC handlers

	replicas *replica.Manager // this node's data-shard replicas
	router   *router.Router   // where reads and writes go

	certs      *security.Certs // nil when insecure (tls.go)
	registered atomic.Bool     // the node's record is in the catalog: reloads update it
	audit      *auditor        // batches audit events into the meta group (audit.go)
	disks      *disk.Registry  // one open store per catalog disk (disk.go)
	sched      *sched.Runner   // the scheduled views this node owns (sched.go)
	bk         backupParts     // BACKUP and RESTORE (backup.go)
	// schedWake is sched once built: poke (called from the meta group's
	// apply loop, which starts first) reads it.
	schedWake atomic.Pointer[sched.Runner]

	mem        *memory.Accountant // budgets and ingest admission (memory.go)
	memMetrics *metrics.Memory
	stall      viewStall    // test knob: POST /debug/views stalls view tasks
	health     *healthParts // health reports and the alert evaluator (alerts.go)
}

// Start opens the data dir, listens on every address, recovers every
// group and starts serving. It returns once the node accepts clients.
func Start(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := CheckSecurity(cfg); err != nil {
		return nil, err
	}
	if cfg.TestFaults && cfg.DiskFaults == nil {
		cfg.DiskFaults = &faults.Disk{}
	}
	n := &Node{cfg: cfg, log: cfg.Logger, reconcileCh: make(chan struct{}, 1), metrics: metrics.New()}
	n.clock = cfg.Clock
	if n.clock == nil {
		n.clock = clock.Real{}
	}
	n.live = membership.NewTracker(n.clock)
	n.timing = cfg.Timing.WithDefaults()
	if cfg.HeartbeatInterval > 0 {
		n.timing.RaftHeartbeat = cfg.HeartbeatInterval
	}
	if cfg.ElectionTimeout > 0 {
		n.timing.RaftElection = cfg.ElectionTimeout
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	if err := n.newMemory(); err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			n.Close()
		}
	}()
	id, lock, err := datadir.Open(cfg.DataDir, cfg.NodeID, "", Version)
	if err != nil {
		return nil, err
	}
	n.id, n.lock = id, lock
	if err := n.loadCerts(); err != nil {
		return nil, err
	}
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
	// The join RPC dials the seeds with the transport's client TLS, so a
	// node joins through the same (mutual) TLS as all its later traffic.
	trCfg := transport.Config{Resolve: n.resolve, Handler: n, Logger: cfg.Logger,
		ServerTLS: n.tlsConf((*security.Certs).PeerServer), ClientTLS: n.tlsConf((*security.Certs).PeerClient)}
	bootstrap := false
	if n.id.RaftID == 0 {
		if len(cfg.Join) == 0 {
			n.id.RaftID, bootstrap = 1, true
		} else {
			rep, seed, err := member.Join(n.ctx, transport.CallAddrTLS(trCfg.ClientTLS), cfg.Join, n.selfNode(), n.timing)
			if err != nil {
				return nil, err
			}
			n.id.RaftID, n.id.ClusterID = rep.Node.ID, rep.ClusterID
			for _, m := range rep.Members {
				n.seeds.Store(m.ID, m.ClusterAddr)
			}
			n.log.Info("joined the cluster", "cluster_id", rep.ClusterID, "raft_id", rep.Node.ID, "through", seed)
		}
		if err := datadir.Save(cfg.DataDir, n.id); err != nil {
			return nil, err
		}
	}
	netFaults := cfg.Faults
	if netFaults == nil && cfg.TestFaults {
		netFaults = transport.NewFaults()
	}
	n.faults = netFaults
	trCfg.NodeID, trCfg.Faults = n.id.RaftID, netFaults
	n.tr = transport.New(trCfg)
	n.registerSnapshotMetrics() // snapshot.go
	go func() { _ = n.tr.Serve(n.clusterLn) }()
	// Every (group, term) this node led and committed in, across restarts:
	// cairn_cluster.leader_terms, for checking no two nodes led one term.
	n.leaderLog, err = os.OpenFile(filepath.Join(cfg.DataDir, "leader-terms.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", datadir.ErrDataDir, cfg.DataDir, err)
	}
	n.newHealth() // alerts.go
	storeCfg := raftstore.Config{
		OnLeader: func(gid, term uint64) {
			fmt.Fprintf(n.leaderLog, "%d %d %d\n", gid, term, time.Now().UnixMicro())
		},
		Dir:       filepath.Join(cfg.DataDir, "store"),
		NodeID:    n.id.RaftID,
		Transport: n.tr,
		// Heartbeats and elections are whole ticks.
		TickInterval:   n.timing.RaftTick,
		HeartbeatTicks: ticks(n.timing.RaftHeartbeat, n.timing.RaftTick),
		ElectionTicks:  ticks(n.timing.RaftElection, n.timing.RaftTick),
		NoSync:         cfg.NoSync,
		// A short log lets truncation delete entries while they are still
		// in the memtable, so most of the raft log is never flushed or
		// compacted (each entry is also in its state machine).
		MaxLogEntries:    cmp.Or(cfg.RaftLogEntries, 256),
		MaxRetainEntries: cfg.RaftLogEntries, // 0: the store's default
		Logger:           cfg.Logger,
		SyncFault:        cfg.DiskFaults.Hook(),
		MemTableSize:     n.mem.Budgets().MemTable,
		BlockCacheSize:   int64(n.mem.Budgets().BlockCache),
	}
	n.raftHooks(&storeCfg) // raftgroups.go: metrics by kind of group
	n.store, err = raftstore.Open(storeCfg)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	registerRaftGroupGauges(n.metrics.Registry, n.store) // raftgroups.go
	n.registerNodeMetrics()                              // raftgroups.go
	n.startMemory()
	n.meta = catalog.NewMetaSM(raftstore.DataKey(catalog.MetaGroupID, []byte("catalog")), n.poke)
	n.disks = disk.NewRegistry(n.meta.Catalog)
	var metaPeers []uint64
	if bootstrap {
		metaPeers = []uint64{1}
	}
	// A node that just joined starts the meta group empty; the leader adds
	// it as a learner and sends a snapshot.
	if err := n.store.StartGroup(catalog.MetaGroupID, n.meta, metaPeers); err != nil {
		return nil, fmt.Errorf("start meta group: %w", err)
	}
	n.member = member.New(n.ctx, member.Config{Self: n.id.RaftID, Name: cfg.NodeID, Meta: n.meta, Raft: raftStore{n}, Caller: n.tr,
		Tracker: n.live, Clock: n.clock, Timing: n.timing, Logger: cfg.Logger, StoreErr: replica.StoreErr, Led: func() []uint64 { return n.replicas.Led() },
		Health: n.healthReport, OnHealth: n.onHealth, OnRTT: n.health.sampler.ObserveRTT})
	viewCache := viewsm.NewCache(cmp.Or(cfg.ViewCache, int64(n.mem.Budgets().ViewCache)))
	n.metrics.RegisterViewCache(viewCache.Stats)
	n.mem.SetGauge(memory.ViewCache, true, func() uint64 { b, _, _ := viewCache.Stats(); return uint64(max(b, 0)) })
	n.replicas = replica.New(n.ctx, replica.Config{Self: n.id.RaftID, Name: cfg.NodeID, Store: n.store, Meta: n.meta, Logger: cfg.Logger,
		Timing: n.timing, Bugs: cfg.Bugs, Live: n.liveSnapshot, Metrics: n.metrics, ViewCache: viewCache,
		ViewOffsets: func(ctx context.Context, gid uint64) []uint64 { return n.router.RemoteViewOffsets(ctx, gid) },
		Sources:     func(groups []uint64) viewsm.Source { return n.router.StreamShards(groups) },
		Snapshots:   n.snapshotsOf,
		// Enrichment views look their table up linearizably: each event
		// joins the rows acknowledged before its lookup.
		Table:          func(t *catalog.Table) exec.KeyedSource { return n.router.TableSource(t, true) },
		MaxDeltaEvents: n.mem.Budgets().ViewDeltaEvents(), BeforeDelta: n.stall.wait})
	n.router = router.New(n.ctx, router.Config{Self: n.id.RaftID, Name: cfg.NodeID, Meta: n.meta, Store: n.store, Replicas: n.replicas,
		Caller: n.tr, Local: n.HandleRPC, Live: n.liveSnapshot, Metrics: n.metrics, Timing: n.timing,
		Sched: schedOwner{n}, Disk: n.diskOf, Admit: n.admitIngest})
	n.newSched()
	n.ops = ops.New(n.ctx, ops.Config{Cluster: opsCluster{Parts: ops.Parts{Meta: n.member, Shards: n.router}, n: n}, Clock: n.clock, Timing: n.timing, Logger: cfg.Logger, Started: n.live.Started()})
	n.audit = newAuditor(func(ctx context.Context, c catalog.Command) error {
		_, err := n.proposeMeta(ctx, c)
		return err
	}, n.log, n.metrics.Registry)
	n.ready.Store(true)
	n.wg.Add(3)
	go n.every(n.timing.Heartbeat, nil, n.member.SendHeartbeats)
	go n.every(n.timing.Heartbeat, n.member.Wake(), n.member.GrowMeta)
	go n.every(n.timing.LeaderBalance, nil, n.member.BalanceLeaders)
	if err := n.waitLeader(catalog.MetaGroupID, n.timing.MetaLeaderWait); err != nil {
		return nil, err
	}
	if err := n.member.Register(n.selfNode(), n.id.ClusterID); err != nil {
		return nil, err
	}
	n.registered.Store(true)
	n.watchCerts()
	n.replicas.DestroyOrphans()
	n.replicas.Reconcile()
	n.sched.Start()
	n.wg.Add(4)
	go n.every(n.timing.Schedule, n.ops.Wake(), n.ops.Round)
	go n.every(n.timing.Reconcile, n.reconcileCh, func() { n.applySnapshotRate(); n.replicas.Reconcile() })
	go n.every(n.timing.Retention, nil, n.replicas.TrimExpired)
	go n.every(n.timing.Lag, nil, n.replicas.LagUpdater())
	n.wg.Add(1)
	go n.every(scheduleTick, nil, n.runSchedules) // schedules.go
	n.wg.Add(2)                                   // alerts.go
	n.health.sampler.Sample()
	go n.every(n.timing.Heartbeat, nil, func() { n.health.sampler.Sample() })
	go n.every(n.timing.Heartbeat, nil, n.health.eval.Round)

	auth := newNodeAuth(n.meta.Catalog, n.id.ClusterID, n.certs == nil, n.metrics.Registry, n.log)
	auth.audit = func(user, source, method, reason string) {
		n.Audit(n.ctx, catalog.AuditEvent{User: user, Source: source, Kind: "login", What: "login (" + method + ")", Outcome: "failed: " + reason})
	}
	n.pg = pgwire.NewServer(pgwire.Config{Addr: cfg.PGAddr, Logger: cfg.Logger, ServerVersion: session.ServerVersion,
		TLS: n.tlsConf((*security.Certs).PGServer), RequireTLS: n.certs != nil,
		Auth: auth, AuthFailureLimit: cfg.AuthFailureLimit, AuthFailureExempt: auth.exemptFromLimit, Metrics: n.metrics.FrontendMetrics()}, n)
	// Loopback clients are trusted only on an insecure node, and only over
	// plain HTTP (httpapi checks r.TLS too).
	n.http = httpapi.New(httpapi.Config{Metrics: n.metrics.Handler(), FrontendMetrics: n.metrics.FrontendMetrics(), Logger: cfg.Logger, TLS: n.tlsConf((*security.Certs).HTTPServer),
		Hosts: n.httpHosts(), MoreHosts: n.certHosts, TrustLoopback: n.certs == nil, MetricsAuth: cfg.MetricsAuth}, httpBackend{n})
	n.http.Handle(httpapi.AdminPrefix, httpapi.NewAdminHandler(n, httpBackend{n}))
	n.startConsole() // console.go
	n.http.Handle("/debug/pprof/", http.HandlerFunc(pprof.Index))
	n.http.Handle("/debug/pprof/profile", http.HandlerFunc(pprof.Profile))
	n.http.Handle("GET /debug/pebble", http.HandlerFunc(n.servePebble))
	if cfg.TestFaults {
		n.http.Handle("POST /debug/faults", faults.Handler(n.faults, cfg.DiskFaults, func(name string) (uint64, bool) {
			if nd := n.meta.Catalog().Nodes[name]; nd != nil {
				return nd.ID, true
			}
			return 0, false
		}, n.log))
		n.http.Handle("POST /debug/views", http.HandlerFunc(n.stall.serve)) // memory.go
	}
	go func() { _ = n.pg.Serve(n.pgLn) }()
	go func() { _ = n.http.Serve(n.httpLn) }()
	ok = true
	n.log.Info("cairn node started", "node_id", cfg.NodeID, "cluster_id", n.id.ClusterID,
		"pg_addr", n.pgLn.Addr().String(), "http_addr", n.httpLn.Addr().String(), "data_dir", cfg.DataDir, "security", n.Security())
	return n, nil
}

// Security is "secure" (--certs-dir) or "insecure".
func (n *Node) Security() string {
	sec, _ := n.securityReport()
	return sec
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
		ctx, cancel := context.WithTimeout(context.Background(), n.timing.ShutdownGrace/2)
		_ = n.pg.Shutdown(ctx)
		cancel()
	} else if n.pgLn != nil {
		n.pgLn.Close()
	}
	if n.http != nil {
		_ = n.http.Close()
		if n.console != nil {
			n.console.Close()
		}
	} else if n.httpLn != nil {
		n.httpLn.Close()
	}
	// The front ends are closed: record the audit events they left.
	n.audit.close()
	if n.tr != nil {
		defer n.tr.Close() // after the store: the raft loop may still send
	} else if n.clusterLn != nil {
		n.clusterLn.Close()
	}
	n.wg.Wait()
	if n.sched != nil {
		n.sched.Wait()
	}
	if n.ops != nil {
		n.ops.Wait()
	}
	if n.replicas != nil {
		n.replicas.Stop()
	}
	n.rpcs.CloseAndWait(n.timing.ShutdownGrace)
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
	n.schedWake.Load().Wake() // nil-safe
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

// waitLeader waits up to timeout until group gid has a leader.
func (n *Node) waitLeader(gid uint64, timeout time.Duration) error {
	return n.member.WaitLeader(gid, timeout)
}

// proposeMeta proposes a catalog change (member.Propose).
func (n *Node) proposeMeta(ctx context.Context, c catalog.Command) (*catalog.Result, error) {
	return n.member.Propose(ctx, c)
}
