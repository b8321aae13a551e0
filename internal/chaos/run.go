package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/testutil"
)

// Config is a campaign's configuration.
type Config struct {
	Nodes     int           `json:"nodes"`
	Duration  time.Duration `json:"duration_ns"`
	Seed      uint64        `json:"seed"`
	Kinds     []string      `json:"faults"`
	Rate      time.Duration `json:"rate_ns"` // mean time between fault starts
	Clients   int           `json:"clients"`
	BatchSize int           `json:"batch_size"`
	// Gateways is how a writer picks the node of its next batch
	// (GatewaysLeastBusy or GatewaysRoundRobin; "" is least-busy).
	Gateways string `json:"gateways"`
	Out      string `json:"out"`
	// Secure runs every node with --certs-dir: certificates made for the
	// run (CA, node cert for 127.0.0.1 and localhost, client.cairn) in
	// its temp dir; every connection (SQL, HTTP, between nodes) is TLS
	// and the workload logs in with client certificates.
	Secure bool `json:"secure,omitempty"`
	// Scheduled adds the elastic tier to the workload (implied by the
	// compute and objstore faults): a versitygw object store, a disk on
	// it, Compute compute nodes and a scheduled view (chaos_sched) beside
	// the Raft views, checked the same way.
	Scheduled bool `json:"scheduled,omitempty"`
	Compute   int  `json:"compute,omitempty"`
	// UnsafeBug is passed to every node as --unsafe-bug (checker self-tests).
	UnsafeBug string `json:"unsafe_bug,omitempty"`
	// Binary is the cairn executable to run; empty means this one.
	Binary string `json:"-"`
	// Progress gets a line every 5 s and notes on faults; nil discards.
	Progress io.Writer `json:"-"`
}

// Timeouts of the workload and the final phase.
const (
	attemptTimeout = 5 * time.Second  // one INSERT or read, connect included
	settleTimeout  = 60 * time.Second // all nodes live after healing
	viewTimeout    = 60 * time.Second // views caught up on every node
	readEvery      = 200 * time.Millisecond
	readers        = 2
)

// ParseKinds parses a comma-separated --faults value.
func ParseKinds(s string) ([]string, error) {
	var out []string
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if !slices.Contains(AllKinds, k) {
			return nil, fmt.Errorf("unknown fault %q (want some of %s)", k, strings.Join(AllKinds, ","))
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// runner is the state of one campaign.
type runner struct {
	cfg   Config
	c     *testutil.Cluster
	begin time.Time
	prog  io.Writer
	gw    *gateways // the writers' choice of node

	mu struct {
		sync.Mutex
		batches     []Batch
		acked       []Batch // the OK ones, for the reader to pick from
		reads       []Read
		faults      []Fault
		faulted     map[string]string // node → the fault holding it
		decom       map[string]bool   // decommissioning or decommissioned
		partitioned bool              // a partition is in force
		decomBusy   bool              // a decommission is running
		diskFaulted map[string]bool   // a disk fault is in force
		objstore    bool              // an objstore fault is in force
		owners      []OwnerChange     // chaos_sched's owner as the watcher saw it change
	}
	// compute names the compute nodes (set in setup, read-only after).
	compute  map[string]bool
	s3       *testutil.S3Server // the elastic tier's object store; nil without it
	dataRoot string
	nextID   atomic.Int64
	acked    atomic.Int64
	failed   atomic.Int64
	readsN   atomic.Int64
	progMu   sync.Mutex
	runCtx   context.Context // the campaign's: cancelled on Ctrl-C
}

func (r *runner) logf(format string, args ...any) {
	r.progMu.Lock()
	defer r.progMu.Unlock()
	fmt.Fprintf(r.prog, "chaos %6.1fs  "+format+"\n", append([]any{time.Since(r.begin).Seconds()}, args...)...)
}

// Run starts a cluster, runs the workload under the seeded faults, heals,
// checks and writes the report into cfg.Out. The error is about the
// campaign itself (the cluster did not start); safety violations are in
// the report (Report.Pass).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Nodes < 3 || cfg.Nodes > MaxNodes {
		return nil, fmt.Errorf("--nodes must be between 3 and %d, got %d", MaxNodes, cfg.Nodes)
	}
	if cfg.Clients < 1 || cfg.Clients > 64 {
		return nil, fmt.Errorf("--clients must be between 1 and 64, got %d", cfg.Clients)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	var err error
	if cfg.Gateways, err = ParseGateways(cfg.Gateways); err != nil {
		return nil, err
	}
	if cfg.Duration <= 0 || cfg.Duration > 24*time.Hour {
		return nil, fmt.Errorf("--duration must be positive and at most 24h, got %s", cfg.Duration)
	}
	for _, k := range ElasticKinds {
		cfg.Scheduled = cfg.Scheduled || slices.Contains(cfg.Kinds, k)
	}
	if !cfg.Scheduled {
		cfg.Compute = 0
	}
	if cfg.Compute < 0 || cfg.Compute > maxCompute {
		return nil, fmt.Errorf("--compute must be between 0 and %d, got %d", maxCompute, cfg.Compute)
	}
	if cfg.Binary == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cfg.Binary = self
	}
	prog := cfg.Progress
	if prog == nil {
		prog = io.Discard
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	// Under Out, so a test that fails a campaign on purpose (its Out is a
	// temp dir) does not leave gigabytes behind.
	dataRoot, err := os.MkdirTemp(cfg.Out, "data-")
	if err != nil {
		return nil, err
	}
	// The data dirs go when the campaign passes; after a failure they stay
	// for a post-mortem (their path is in the report's notes).
	keepData := false
	defer func() {
		if !keepData {
			os.RemoveAll(dataRoot)
		}
	}()
	var extra []string
	if cfg.UnsafeBug != "" {
		extra = append(extra, "--unsafe-bug", cfg.UnsafeBug)
	}
	certsDir := ""
	if cfg.Secure {
		if certsDir, err = makeCerts(dataRoot); err != nil {
			return nil, err
		}
	}
	plan := Plan(PlanConfig{Seed: cfg.Seed, Nodes: cfg.Nodes, Duration: cfg.Duration, Rate: cfg.Rate, Kinds: cfg.Kinds, Compute: cfg.Compute})
	r := &runner{cfg: cfg, c: newCluster(cfg.Binary, dataRoot, cfg.Out, certsDir, extra), begin: time.Now(), prog: prog, gw: newGateways(cfg.Gateways), runCtx: ctx, dataRoot: dataRoot}
	r.mu.faulted, r.mu.decom, r.mu.diskFaulted = map[string]string{}, map[string]bool{}, map[string]bool{}
	r.compute = map[string]bool{}
	defer r.c.StopAll(10 * time.Second)
	defer r.stopS3()
	security := "insecure"
	if cfg.Secure {
		security = "secure (TLS, certificates in " + certsDir + ")"
	}
	elastic := ""
	if cfg.Scheduled {
		elastic = fmt.Sprintf(", %d compute nodes and a scheduled view on versitygw", cfg.Compute)
	}
	fmt.Fprintf(prog, "chaos: seed %d, %d nodes%s, %s, faults %s, %s, writers pick nodes %s, out %s\n", cfg.Seed, cfg.Nodes, elastic, cfg.Duration, strings.Join(cfg.Kinds, ","), security, cfg.Gateways, cfg.Out)
	for _, p := range plan {
		fmt.Fprintf(prog, "chaos: plan %s\n", p)
	}

	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	h := r.campaign(ctx, plan)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	r.final(ctx, h)
	r.c.StopAll(10 * time.Second)
	r.stopS3()
	for _, n := range r.c.Names() {
		if b, err := os.ReadFile(r.c.Node(n).LogPath); err == nil {
			h.Crashes = append(h.Crashes, FindCrashes(n, string(b))...)
			if r.s3 != nil {
				h.LogsScanned++
				h.SecretLeaks = append(h.SecretLeaks, FindSecret(n, string(b), r.s3.SecretKey)...)
			}
		}
	}
	rep := BuildReport(cfg, plan, h)
	if !rep.Pass {
		keepData = true
		rep.Notes = append(rep.Notes, "node data dirs kept for a post-mortem: "+dataRoot)
	}
	if err := WriteReport(cfg.Out, rep, h); err != nil {
		return rep, err
	}
	return rep, nil
}

// setup starts the nodes, waits until they are live and creates the
// stream and views.
func (r *runner) setup(ctx context.Context) error {
	seed := ""
	for i := 1; i <= r.cfg.Nodes; i++ {
		name := fmt.Sprintf("n%d", i)
		p, err := r.c.Add(ctx, name, seed)
		if err != nil {
			return err
		}
		if seed == "" {
			seed = p.Cluster
		}
	}
	if err := r.waitLive(ctx, r.cfg.Nodes, settleTimeout); err != nil {
		return err
	}
	// One statement at a time, each retried; "already exists" means an
	// earlier attempt got through before its answer was lost.
	for _, ddl := range []string{
		fmt.Sprintf("CREATE STREAM chaos_events (id int8, k int4, v int8) WITH (shards = %d, replicas = 3)", r.cfg.Nodes),
		"CREATE MATERIALIZED VIEW chaos_totals AS SELECT count(*) AS n, sum(id) AS ids FROM chaos_events",
		"CREATE MATERIALIZED VIEW chaos_per_k AS SELECT k, count(*) AS n, sum(v) AS s FROM chaos_events GROUP BY k",
	} {
		_, err := r.retry(ctx, 60*time.Second, ddl)
		var pe *pgconn.PgError
		if err != nil && !(errors.As(err, &pe) && pe.Code == "42P07") {
			return fmt.Errorf("%s: %w", ddl, err)
		}
	}
	if r.cfg.Scheduled {
		if err := r.setupElastic(ctx, seed); err != nil {
			return err
		}
	}
	// The stream must take writes before the clock starts.
	if _, err := r.retry(ctx, 30*time.Second, "SET read_from = leader; SELECT count(*) FROM chaos_events"); err != nil {
		return fmt.Errorf("the stream did not become readable: %w", err)
	}
	return nil
}

// exec runs sql on a node with the attempt timeout and returns the rows
// of the last result as text.
func (r *runner) exec(ctx context.Context, node, sql string) ([][]string, error) {
	timeout := attemptTimeout
	if strings.HasPrefix(sql, "CREATE") || strings.HasPrefix(sql, "SET read_from = leader; SELECT id, k, v") {
		timeout = 30 * time.Second // DDL and the full read-back are slow
	}
	return testutil.Query(ctx, r.url(node), timeout, sql)
}

// retry runs sql on the running nodes in turn until it succeeds or
// timeout passes.
func (r *runner) retry(ctx context.Context, timeout time.Duration, sql string) ([][]string, error) {
	deadline := time.Now().Add(timeout)
	var lastErr error = errors.New("no node is running")
	for i := 0; time.Now().Before(deadline); i++ {
		if up := r.c.Up(); len(up) > 0 {
			rows, err := r.exec(ctx, up[i%len(up)], sql)
			if err == nil {
				return rows, nil
			}
			lastErr = err
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "42P07" {
				return nil, err // already exists: retrying cannot help
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil, lastErr
}

// waitLive waits until a node sees at least n nodes live.
func (r *runner) waitLive(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	got := "?"
	for time.Now().Before(deadline) {
		rows, err := r.retry(ctx, time.Until(deadline), "SELECT count(*) FROM cairn_cluster.nodes WHERE state = 'live'")
		if err != nil {
			return fmt.Errorf("wait for %d live nodes: %w", n, err)
		}
		if len(rows) == 1 {
			got = rows[0][0]
			if live, _ := strconv.Atoi(got); live >= n {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s of %d nodes live after %s", got, n, timeout)
}

// campaign runs writers, the reader and the faults for the duration and
// returns the history (without the final reads).
func (r *runner) campaign(ctx context.Context, plan []PlannedFault) *History {
	r.begin = time.Now()
	h := &History{Begin: r.begin}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < r.cfg.Clients; w++ {
		wg.Add(1)
		go func() { defer wg.Done(); r.writer(ctx, w, stop) }()
	}
	for i := 0; i < readers; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); r.reader(ctx, i, stop) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); r.progress(stop) }()
	if r.cfg.Scheduled {
		wg.Add(1)
		go func() { defer wg.Done(); r.watchOwner(ctx, stop) }()
	}

	// Faults: each at its planned offset, in its own goroutine, healed
	// after its duration or at once when the campaign ends.
	fctx, fcancel := context.WithCancel(ctx)
	var fwg sync.WaitGroup
	timer := time.NewTimer(r.cfg.Duration)
	defer timer.Stop()
	next := 0
	for done := false; !done; {
		var wait <-chan time.Time
		if next < len(plan) {
			wait = time.After(time.Until(r.begin.Add(plan[next].At)))
		}
		select {
		case <-ctx.Done():
			done = true
		case <-timer.C:
			done = true
		case <-wait:
			p := plan[next]
			next++
			fwg.Add(1)
			go func() { defer fwg.Done(); r.inject(fctx, p) }()
		}
	}
	close(stop)
	wg.Wait()
	h.End = time.Now()
	fcancel()
	fwg.Wait()
	r.mu.Lock()
	h.Batches, h.Reads, h.Faults, h.Owners = r.mu.batches, r.mu.reads, r.mu.faults, r.mu.owners
	r.mu.Unlock()
	h.Scheduled = r.cfg.Scheduled
	slices.SortFunc(h.Faults, func(a, b Fault) int { return a.Seq - b.Seq })
	return h
}

func (r *runner) progress(stop chan struct{}) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		r.mu.Lock()
		var active []string
		for n, f := range r.mu.faulted {
			active = append(active, n+":"+f)
		}
		r.mu.Unlock()
		slices.Sort(active)
		r.logf("acked %d events, %d in failed batches, %d reads; faulted now: %s",
			r.acked.Load(), r.failed.Load(), r.readsN.Load(), orNone(active))
	}
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, " ")
}

// writer inserts batches of new ids through the running nodes, picked
// under cfg.Gateways.
// A failed batch is recorded and never resent.
func (r *runner) writer(ctx context.Context, w int, stop chan struct{}) {
	conns := testutil.Conns{}
	defer conns.Close()
	var sb strings.Builder
	for i := 0; i < 100_000_000 && testutil.Pace(ctx, stop, 0); i++ {
		up := r.c.Up()
		if len(up) == 0 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		node := r.gw.acquire(up, w, i)
		start := time.Now()
		cn, err := conns.Get(ctx, node, r.url(node), attemptTimeout)
		if err != nil {
			r.gw.release(node)
			r.record(Batch{Client: w, Node: node, Start: start, End: time.Now(), Err: "connect: " + err.Error()})
			time.Sleep(20 * time.Millisecond)
			continue
		}
		start = time.Now()
		n := r.cfg.BatchSize
		first := r.nextID.Add(int64(n)) - int64(n) + 1
		sb.Reset()
		sb.WriteString("INSERT INTO chaos_events VALUES ")
		for id := first; id < first+int64(n); id++ {
			if id > first {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, "(%d,%d,%d)", id, KeyOf(id), ValueOf(id))
		}
		cctx, cancel := context.WithTimeout(ctx, attemptTimeout)
		_, err = cn.Exec(cctx, sb.String()).ReadAll()
		cancel()
		r.gw.release(node)
		b := Batch{Client: w, Node: node, First: first, Count: n, Start: start, End: time.Now(), OK: err == nil}
		if err != nil {
			b.Err = err.Error()
			conns.Drop(node)
		}
		r.record(b)
	}
}

func (r *runner) record(b Batch) {
	if b.OK {
		r.acked.Add(int64(b.Count))
	} else {
		r.failed.Add(int64(b.Count))
	}
	r.mu.Lock()
	r.mu.batches = append(r.mu.batches, b)
	if b.OK {
		r.mu.acked = append(r.mu.acked, b)
	}
	r.mu.Unlock()
}

// reader reads, every readEvery, an id whose batch was acknowledged
// before the read starts, with read_from = leader, through the running
// nodes in turn. Three reads in four are of the newest acknowledged
// batch: a replica that lags (and a read that wrongly trusts it) shows
// on fresh writes, not on old ones every replica has.
func (r *runner) reader(ctx context.Context, reader int, stop chan struct{}) {
	rng := rand.New(rand.NewPCG(r.cfg.Seed, uint64(7+reader)))
	conns := testutil.Conns{}
	defer conns.Close()
	for i := 0; i < 100_000_000 && testutil.Pace(ctx, stop, readEvery); i++ {
		r.mu.Lock()
		var b Batch
		if n := len(r.mu.acked); n > 0 {
			if rng.IntN(4) == 0 {
				b = r.mu.acked[rng.IntN(n)]
			} else {
				b = r.mu.acked[n-1]
			}
		}
		r.mu.Unlock()
		up := r.c.Up()
		if b.Count == 0 || len(up) == 0 {
			continue
		}
		id := b.First + rng.Int64N(int64(b.Count))
		node := up[(i+reader)%len(up)]
		rd := Read{Node: node, ID: id, Start: time.Now()}
		cctx, cancel := context.WithTimeout(ctx, attemptTimeout)
		cn, err := conns.Get(cctx, node, r.url(node), attemptTimeout)
		var rows [][]string
		if err == nil {
			rows, err = testutil.ExecConn(cctx, cn, fmt.Sprintf("SET read_from = leader; SELECT count(*) FROM chaos_events WHERE id = %d", id))
			if err != nil {
				conns.Drop(node)
			}
		}
		cancel()
		rd.End = time.Now()
		if err == nil {
			if len(rows) != 1 || len(rows[0]) != 1 {
				err = fmt.Errorf("unexpected answer %v", rows)
			} else {
				rd.Result, err = strconv.ParseInt(rows[0][0], 10, 64)
			}
		}
		if err != nil {
			rd.Err = err.Error()
		}
		r.readsN.Add(1)
		r.mu.Lock()
		r.mu.reads = append(r.mu.reads, rd)
		r.mu.Unlock()
	}
}
