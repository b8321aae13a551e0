package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/testutil"
)

// The trade-off benchmark (`cairn bench --failover --ha raft,scheduled`):
// the same view over the same stream, once as a Raft view on 3 data
// nodes and once as a scheduled view on 3 data nodes and 1 compute node,
// under the same steady load; the view's holder (the Raft view's leader,
// the scheduled view's owner) is killed with SIGKILL again and again.

// HA models the trade-off benchmark measures.
const (
	HARaft      = "raft"
	HAScheduled = "scheduled"
)

// TradeoffOptions configures RunTradeoff.
type TradeoffOptions struct {
	HA        []string      // models to measure, in order (HARaft, HAScheduled)
	Kills     int           // SIGKILLs of the view's holder per model
	Clients   int           // concurrent COPY writers
	NoSync    bool          // nodes without fsync (not for published figures)
	DeadAfter time.Duration // the cluster setting dead_after in both runs
	Steady    time.Duration // steady ingest measured before the first kill
	Out       string        // JSON file; "-" for none
	Progress  io.Writer
}

// HAResult is one model's row of the trade-off table.
type HAResult struct {
	HA    string `json:"ha"`
	Shape string `json:"shape"` // the cluster
	Kills int    `json:"kills"`
	// Victims are the killed holders, in order; NewHolders who held the
	// view when it advanced again.
	Victims    []string `json:"victims"`
	NewHolders []string `json:"new_holders"`
	// FailoverMs, per kill: SIGKILL → a read of the view counts more
	// events than the last read before the kill (the view advances again).
	FailoverMs       []float64 `json:"failover_ms"`
	FailoverMedianMs float64   `json:"failover_median_ms"`
	FailoverMaxMs    float64   `json:"failover_max_ms"`
	// FirstReadMs, per kill: SIGKILL → the first successful read of the
	// view, whatever it counts.
	FirstReadMs []float64 `json:"first_read_ms"`
	// WriteGapMs, per kill: the longest time without an acknowledged
	// batch between the SIGKILL and the view advancing again (the stream's
	// own outage, which holds the view back too when it is long).
	WriteGapMs []float64 `json:"write_gap_ms"`
	// Replayed, per kill: events the view had folded as readers saw it
	// before the kill that had to be folded again after it. Scheduled:
	// the count of the last read before the kill minus the events the
	// committed checkpoint covers (the sum of its offsets), which the new
	// owner loads before replaying the streams. Raft: the count of the
	// last read before the kill minus that of the first linearizable
	// read after it (the new leader goes on from the committed state).
	Replayed       []int64 `json:"replayed_events"`
	ReplayedMedian int64   `json:"replayed_median"`
	ReplayedMax    int64   `json:"replayed_max"`
	// ViewReplicas is the view's replicas as the catalog has them
	// (cairn_cluster.views.replicas); ViewRaftReplicas the rows of
	// cairn_cluster.shards for the view (Raft replicas of its state).
	ViewReplicas     int64 `json:"view_replicas"`
	ViewRaftReplicas int64 `json:"view_raft_replicas"`
	// DiskBytes is every node's data dir plus the bucket's directory at
	// the end of the run; BucketBytes the bucket's part.
	DiskBytes   int64 `json:"disk_bytes"`
	BucketBytes int64 `json:"bucket_bytes"`
	// DataDirBytes is DiskBytes by node (the bucket excluded).
	DataDirBytes map[string]int64 `json:"data_dir_bytes"`
	// DiskBytesPerKEvent is DiskBytes per thousand events acknowledged:
	// the runs ingest different amounts (they last different times), and
	// the stream's replicas dominate the data dirs in both.
	DiskBytesPerKEvent float64 `json:"disk_bytes_per_kevent"`
	// ThroughputEPS is events acknowledged per second over the steady
	// window before the first kill.
	ThroughputEPS float64 `json:"steady_events_per_s"`
	EventsAcked   int64   `json:"events_acked"`
	EventsUnknown int64   `json:"events_unknown"` // in failed batches: may or may not be in
	EventsInView  int64   `json:"events_in_view"`
	Lost          int64   `json:"lost"`
	Duplicated    int64   `json:"duplicated"`
	Unexpected    int64   `json:"unexpected"`
	Verified      bool    `json:"verified"`
	Error         string  `json:"error,omitempty"`
}

// TradeoffResult is what `cairn bench --failover --ha …` reports.
type TradeoffResult struct {
	At        time.Time  `json:"at"`
	DeadAfter string     `json:"dead_after"`
	SteadyS   float64    `json:"steady_s"`
	Clients   int        `json:"clients"`
	BatchRows int        `json:"batch_rows"`
	NoFsync   bool       `json:"unsafe_no_fsync,omitempty"`
	Query     string     `json:"query"`
	Results   []HAResult `json:"results"`
}

// tradeoffQuery is the view of both runs: per batch, its events and the
// sum of their ids, so the exactly-once checker can judge it by id.
const tradeoffQuery = "SELECT b, count(*) AS n, sum(id) AS ids FROM to_events GROUP BY b"

// RunTradeoff measures each model of o.HA in its own cluster and writes
// the results to o.Out. A model whose run fails keeps its error in its
// row; the error returned is the first.
func RunTradeoff(ctx context.Context, o TradeoffOptions) (*TradeoffResult, error) {
	if o.Kills < 1 || o.Kills > 100 {
		return nil, fmt.Errorf("--kills must be between 1 and 100, got %d", o.Kills)
	}
	if o.Clients < 1 || o.Clients > 64 {
		return nil, fmt.Errorf("--clients must be between 1 and 64, got %d", o.Clients)
	}
	if len(o.HA) == 0 {
		return nil, fmt.Errorf("--ha names no model (want raft, scheduled or both)")
	}
	for _, ha := range o.HA {
		if ha != HARaft && ha != HAScheduled {
			return nil, fmt.Errorf("--ha: unknown model %q (want raft, scheduled or both)", ha)
		}
	}
	if o.DeadAfter < time.Second {
		return nil, fmt.Errorf("--dead-after must be at least 1s, got %s", o.DeadAfter)
	}
	if o.Steady <= 0 {
		o.Steady = 10 * time.Second
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	res := &TradeoffResult{At: time.Now().UTC(), DeadAfter: o.DeadAfter.String(), SteadyS: o.Steady.Seconds(), Clients: o.Clients,
		BatchRows: foBatch, NoFsync: o.NoSync, Query: tradeoffQuery}
	var first error
	for _, ha := range o.HA {
		r, err := runHA(ctx, o, ha)
		if err != nil {
			r.Error = err.Error()
			if first == nil {
				first = fmt.Errorf("%s: %w", ha, err)
			}
		}
		res.Results = append(res.Results, *r)
		if ctx.Err() != nil {
			break
		}
	}
	if o.Out != "-" && o.Out != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(o.Out, b, 0o644); err != nil && first == nil {
			first = err
		}
	}
	return res, first
}

// sample is one read of the view's event count, started at start and
// answered at at.
type sample struct {
	start, at time.Time
	ok        bool
	count     int64
}

// runHA measures one model in a new cluster.
func runHA(ctx context.Context, o TradeoffOptions, ha string) (*HAResult, error) {
	res := &HAResult{HA: ha, Kills: o.Kills, Shape: "3 data nodes"}
	if ha == HAScheduled {
		res.Shape = "3 data nodes + 1 compute node"
	}
	fmt.Fprintf(o.Progress, "tradeoff %s: starting %s\n", ha, res.Shape)
	c, err := startLocalCluster(ctx, 3, o.NoSync, false)
	if err != nil {
		return res, err
	}
	defer c.Stop()
	var bucket string
	setup := []string{fmt.Sprintf("ALTER SYSTEM SET dead_after = '%s'", o.DeadAfter),
		"CREATE STREAM to_events (id int8, b int8) WITH (shards = 1, replicas = 3)"}
	// One shard and one leader, as the scheduled view has one owner.
	view := "CREATE MATERIALIZED VIEW to_view WITH (shards = 1, replicas = 3) AS " + tradeoffQuery
	if ha == HAScheduled {
		bucket = filepath.Join(c.Dir, "s3")
		if err := os.MkdirAll(bucket, 0o755); err != nil {
			return res, err
		}
		s3, err := testutil.StartS3Server(ctx, bucket)
		if err != nil {
			return res, fmt.Errorf("object store (versitygw): %w", err)
		}
		defer s3.Stop()
		if err := addCompute(ctx, c, "c1"); err != nil {
			return res, err
		}
		if err := c.WaitLive(ctx, 4, 60*time.Second); err != nil {
			return res, err
		}
		setup = append(setup, s3.CreateDiskSQL("bench_disk", "bench"))
		view = "CREATE MATERIALIZED VIEW to_view WITH (ha = 'scheduled', disk = 'bench_disk', checkpoint_interval = '2s') AS " + tradeoffQuery
	}
	for _, sql := range append(setup, view) {
		if _, err := c.query(ctx, 0, -1, sql); err != nil {
			return res, fmt.Errorf("%s: %w", strings.SplitN(sql, "secret_access_key", 2)[0], err)
		}
	}
	data := 3 // writers and readers use the data nodes n1…n3 (indices 0…2)

	var down atomic.Int32 // index+1 of the killed node, 0 for none
	batches := batchLog{size: foBatch}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < o.Clients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			copyWriter(ctx, c, w%data, data, &down, &batches, stop)
		}()
	}
	readSQL := "SELECT coalesce(sum(n), 0) FROM to_view"
	if ha == HARaft {
		// Linearizable: a new leader's committed state, never a lagging
		// follower's.
		readSQL = "SET read_from = leader; " + readSQL
	}
	var smu sync.Mutex
	var samples []sample
	wg.Add(1)
	go func() {
		defer wg.Done()
		var conn *pgconn.PgConn
		defer func() { closeConn(conn) }()
		node := 0
		for testutil.Pace(ctx, stop, 20*time.Millisecond) {
			if conn == nil || int(down.Load()) == node+1 {
				closeConn(conn)
				conn = nil
				node = (node + 1) % data
				if int(down.Load()) == node+1 {
					continue
				}
				var err error
				if conn, err = c.connect(ctx, node); err != nil {
					conn = nil
					continue
				}
			}
			start := time.Now()
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			rows, err := testutil.ExecConn(cctx, conn, readSQL)
			cancel()
			s := sample{start: start, at: time.Now(), ok: err == nil && len(rows) == 1}
			if s.ok {
				s.count, _ = strconv.ParseInt(rows[0][0], 10, 64)
			} else {
				closeConn(conn)
				conn = nil
			}
			smu.Lock()
			samples = append(samples, s)
			smu.Unlock()
		}
	}()
	finish := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	defer finish()
	// lastOK returns the newest successful sample.
	lastOK := func() sample {
		smu.Lock()
		defer smu.Unlock()
		for i := len(samples) - 1; i >= 0; i-- {
			if samples[i].ok {
				return samples[i]
			}
		}
		return sample{}
	}
	// The view must be running before the clock starts.
	for deadline := time.Now().Add(60 * time.Second); lastOK().count == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return res, fmt.Errorf("the view counted nothing within 60s of the load starting")
		}
	}
	t0 := time.Now()
	if err := testutil.Sleep(ctx, o.Steady); err != nil {
		return res, err
	}
	_, acked, _, _ := batches.window(t0, time.Now())
	res.ThroughputEPS = float64(acked*foBatch) / time.Since(t0).Seconds()
	fmt.Fprintf(o.Progress, "tradeoff %s: steady ingest %.0f events/s\n", ha, res.ThroughputEPS)

	for k := 0; k < o.Kills; k++ {
		victim, name, err := holder(ctx, c, ha)
		if err != nil {
			return res, fmt.Errorf("kill %d: %w", k+1, err)
		}
		before := lastOK()
		down.Store(int32(victim + 1))
		killAt := time.Now()
		if err := c.nodes[victim].Kill(); err != nil {
			return res, fmt.Errorf("kill %d of %s: %w", k+1, name, err)
		}
		var ckpt int64
		if ha == HAScheduled {
			// The committed checkpoint the next owner loads: the killed
			// owner can commit no other.
			rows, err := c.query(ctx, (victim+1)%data, victim, "SELECT checkpoint_offsets FROM cairn_cluster.views WHERE name = 'to_view'")
			if err != nil || len(rows) != 1 {
				return res, fmt.Errorf("kill %d: read the committed checkpoint: %v %v", k+1, rows, err)
			}
			ckpt = sumOffsets(rows[0][0])
		}
		var first, advanced sample
		for deadline := killAt.Add(120 * time.Second); advanced.at.IsZero(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return res, fmt.Errorf("kill %d of %s: the view did not advance within 120s", k+1, name)
			}
			smu.Lock()
			first, advanced = afterKill(samples, killAt, before.count)
			smu.Unlock()
		}
		replayed := before.count - first.count
		if ha == HAScheduled {
			replayed = before.count - ckpt
		}
		_, newName, _ := holder(ctx, c, ha)
		res.Victims = append(res.Victims, name)
		res.NewHolders = append(res.NewHolders, newName)
		res.FailoverMs = append(res.FailoverMs, msOf(advanced.at.Sub(killAt)))
		res.FirstReadMs = append(res.FirstReadMs, msOf(first.at.Sub(killAt)))
		gap, _, _, _ := batches.window(killAt, advanced.at)
		res.WriteGapMs = append(res.WriteGapMs, msOf(gap))
		res.Replayed = append(res.Replayed, max(0, replayed))
		fmt.Fprintf(o.Progress, "tradeoff %s: kill %d/%d of %s: first read after %.0f ms, advancing after %.0f ms (now %s), %d events replayed, longest write gap %.0f ms\n",
			ha, k+1, o.Kills, name, msOf(first.at.Sub(killAt)), msOf(advanced.at.Sub(killAt)), newName, max(0, replayed), msOf(gap))
		if err := c.nodes[victim].Start(ctx); err != nil {
			return res, fmt.Errorf("restart %s: %w", name, err)
		}
		down.Store(0)
		// Let the restarted node catch up and a rebalance settle, so each
		// kill starts from a whole cluster.
		if err := c.WaitLive(ctx, len(c.nodes), 60*time.Second); err != nil {
			return res, err
		}
		if err := settle(ctx, c, ha); err != nil {
			return res, fmt.Errorf("after kill %d: %w", k+1, err)
		}
	}
	finish()

	ackedN, failedN := batches.counts()
	res.EventsAcked, res.EventsUnknown = ackedN*foBatch, failedN*foBatch
	v, inView, err := verifyView(ctx, c, &batches, res.EventsAcked, ha)
	if err != nil {
		return res, err
	}
	res.EventsInView = inView
	res.Lost, res.Duplicated, res.Unexpected = v.lost, v.duplicated, v.unexpected
	res.Verified = testutil.Failed(v.checks) == ""
	if rows, err := c.query(ctx, 0, -1, "SELECT replicas FROM cairn_cluster.views WHERE name = 'to_view'"); err == nil && len(rows) == 1 {
		res.ViewReplicas, _ = strconv.ParseInt(rows[0][0], 10, 64)
	}
	if rows, err := c.query(ctx, 0, -1, "SELECT count(*) FROM cairn_cluster.shards WHERE object = 'to_view'"); err == nil && len(rows) == 1 {
		res.ViewRaftReplicas, _ = strconv.ParseInt(rows[0][0], 10, 64)
	}
	res.DataDirBytes = map[string]int64{}
	for _, n := range c.nodes {
		b := dirBytes(n.DataDir)
		res.DataDirBytes[n.Name] = b
		res.DiskBytes += b
	}
	if bucket != "" {
		res.BucketBytes = dirBytes(bucket)
		res.DiskBytes += res.BucketBytes
	}
	if res.EventsAcked > 0 {
		res.DiskBytesPerKEvent = float64(res.DiskBytes) / (float64(res.EventsAcked) / 1000)
	}
	res.summarize()
	if !res.Verified {
		return res, fmt.Errorf("the view holds %d events; acknowledged %d, unknown %d: %s", res.EventsInView, res.EventsAcked, res.EventsUnknown, testutil.Failed(v.checks))
	}
	return res, nil
}

// addCompute adds a compute node to c. The harness gives every node the
// cluster's Args and a node keeps them across restarts, so the role goes
// into them for this one Add (nothing else adds nodes meanwhile).
func addCompute(ctx context.Context, c *localCluster, name string) error {
	_, err := c.AddRole(ctx, name, c.nodes[0].Cluster, testutil.RoleCompute)
	c.nodes = c.Nodes()
	return err
}

// copyWriter COPYs numbered batches into to_events through the data
// nodes (indices below data), moving on when a node fails or is down.
func copyWriter(ctx context.Context, c *localCluster, node, data int, down *atomic.Int32, batches *batchLog, stop chan struct{}) {
	var conn *pgconn.PgConn
	defer func() { closeConn(conn) }()
	var body strings.Builder
	for testutil.Pace(ctx, stop, 0) {
		if conn == nil {
			if int(down.Load()) == node+1 {
				node = (node + 1) % data
			}
			var err error
			if conn, err = c.connect(ctx, node); err != nil {
				conn = nil
				node = (node + 1) % data
				time.Sleep(20 * time.Millisecond)
				continue
			}
		}
		n, first := batches.take()
		body.Reset()
		for i := int64(0); i < foBatch; i++ {
			fmt.Fprintf(&body, "%d,%d\n", first+i, n)
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		tag, err := conn.CopyFrom(cctx, strings.NewReader(body.String()), "COPY to_events FROM STDIN (FORMAT csv)")
		cancel()
		ok := err == nil && tag.RowsAffected() == foBatch
		batches.done(n, node, ok, time.Now())
		if !ok {
			closeConn(conn)
			conn = nil
			node = (node + 1) % data
		}
	}
}

// holder returns the node that holds the view: the Raft view's leader or
// the scheduled view's owner (its index in c.nodes and its name).
func holder(ctx context.Context, c *localCluster, ha string) (int, string, error) {
	sql := "SELECT node_id FROM cairn_cluster.shards WHERE object = 'to_view' AND role = 'leader'"
	if ha == HAScheduled {
		sql = "SELECT coalesce(owner_node, '') FROM cairn_cluster.views WHERE name = 'to_view'"
	}
	last := "no answer"
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; time.Sleep(100 * time.Millisecond) {
		rows, err := c.query(ctx, 0, -1, sql)
		if err != nil {
			last = err.Error()
			continue
		}
		if len(rows) != 1 || rows[0][0] == "" {
			last = fmt.Sprintf("%v", rows)
			continue
		}
		for i, n := range c.nodes {
			if n.Name == rows[0][0] && n.Running() {
				return i, n.Name, nil
			}
		}
		last = rows[0][0] + " is not running"
	}
	return -1, "", fmt.Errorf("no %s holder of to_view found: %s", ha, last)
}

// settle waits 3 s, then (scheduled) until no move of the view is
// pending or running: the restarted compute node may take the view back
// (a rebalance hand-off), and the next kill should find one owner.
func settle(ctx context.Context, c *localCluster, ha string) error {
	if err := testutil.Sleep(ctx, 3*time.Second); err != nil || ha != HAScheduled {
		return err
	}
	last := "no answer"
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		rows, err := c.query(ctx, 0, -1, "SELECT status FROM cairn_cluster.operations WHERE op_type = 'move_scheduled_view'")
		if err == nil {
			busy := 0
			for _, r := range rows {
				if len(r) == 1 && (r[0] == "pending" || r[0] == "running") {
					busy++
				}
			}
			if busy == 0 {
				return nil
			}
			last = fmt.Sprintf("%d moves of the view pending or running", busy)
		} else {
			last = err.Error()
		}
		if err := testutil.Sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("the scheduled view did not settle within 60s: %s", last)
}

// afterKill returns the first successful read started after killAt and
// the first that counts more than before (zero samples when none yet).
// A read in flight at the kill proves nothing about the view after it.
func afterKill(samples []sample, killAt time.Time, before int64) (first, advanced sample) {
	for _, s := range samples {
		if !s.ok || !s.start.After(killAt) {
			continue
		}
		if first.at.IsZero() {
			first = s
		}
		if s.count > before {
			return first, s
		}
	}
	return first, sample{}
}

// sumOffsets adds up the numbers in a rendered offsets column ("{12,30}",
// "[12, 30]" or "12,30"); "" or NULL is 0 (no checkpoint yet).
func sumOffsets(s string) int64 {
	var sum, cur int64
	in := false
	for _, r := range s + " " {
		if r >= '0' && r <= '9' {
			cur, in = cur*10+int64(r-'0'), true
			continue
		}
		if in {
			sum += cur
		}
		cur, in = 0, false
	}
	return sum
}

// dirBytes is the size of every regular file under dir.
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed while walking
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// summarize fills the medians and maxima.
func (r *HAResult) summarize() {
	if len(r.FailoverMs) > 0 {
		f := slices.Clone(r.FailoverMs)
		slices.Sort(f)
		r.FailoverMedianMs, r.FailoverMaxMs = median(f), f[len(f)-1]
	}
	if len(r.Replayed) > 0 {
		p := slices.Clone(r.Replayed)
		slices.Sort(p)
		m := len(p) / 2
		r.ReplayedMedian, r.ReplayedMax = p[m], p[len(p)-1]
		if len(p)%2 == 0 {
			r.ReplayedMedian = (p[m-1] + p[m]) / 2
		}
	}
}

// median of sorted xs (the mean of the middle two for an even count).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	m := len(xs) / 2
	if len(xs)%2 == 0 {
		return (xs[m-1] + xs[m]) / 2
	}
	return xs[m]
}

// verifyView waits (at most 60 s) until to_view counts every
// acknowledged event, then judges the ids it stands for.
func verifyView(ctx context.Context, c *localCluster, log *batchLog, acked int64, ha string) (verdict, int64, error) {
	q := "SELECT b, n, ids FROM to_view"
	if ha == HARaft {
		q = "SET read_from = leader; " + q
	}
	var rows [][]string
	var inView int64
	var lastErr error
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		r, err := c.query(ctx, 0, -1, q)
		if err != nil {
			lastErr = err
			continue
		}
		rows, inView = r, 0
		for _, row := range rows {
			n, _ := strconv.ParseInt(row[1], 10, 64)
			inView += n
		}
		if inView >= acked {
			break
		}
	}
	if rows == nil && lastErr != nil {
		return verdict{}, 0, fmt.Errorf("read to_view: %w", lastErr)
	}
	var ids []int64
	for _, row := range rows {
		b, _ := strconv.ParseInt(row[0], 10, 64)
		n, _ := strconv.ParseInt(row[1], 10, 64)
		sum, _ := strconv.ParseInt(row[2], 10, 64)
		ids = append(ids, batchIDs(b, n, sum)...)
	}
	slices.Sort(ids)
	return judge(log.sent(), ids), inView, nil
}

// Print writes the trade-off table; as JSON on stdout with asJSON (the
// table then goes to stderr).
func (t *TradeoffResult) Print(asJSON bool, stdout, stderr io.Writer) {
	if !asJSON {
		t.table(stdout)
		return
	}
	t.table(stderr)
	b, _ := json.MarshalIndent(t, "", "  ")
	fmt.Fprintf(stdout, "%s\n", b)
}

func (t *TradeoffResult) table(w io.Writer) {
	fmt.Fprintf(w, "trade-off: the same view (%s), SIGKILL of its holder under load; dead_after %s, %d writers of %d-row COPY batches\n",
		t.Query, t.DeadAfter, t.Clients, t.BatchRows)
	fmt.Fprintf(w, "%-10s %-30s %6s %12s %12s %14s %14s %12s %9s %12s %14s %s\n",
		"ha", "shape", "kills", "failover p50", "failover max", "replayed p50", "replayed max", "replicas", "disk MB", "B/kevent", "ingest ev/s", "exactly once")
	for _, r := range t.Results {
		once := fmt.Sprintf("%v", r.Verified)
		if r.Error != "" {
			once = "error: " + r.Error
		}
		fmt.Fprintf(w, "%-10s %-30s %6d %10.0fms %10.0fms %14d %14d %12s %9.1f %12.0f %14.0f %s\n",
			r.HA, r.Shape, len(r.FailoverMs), r.FailoverMedianMs, r.FailoverMaxMs, r.ReplayedMedian, r.ReplayedMax,
			fmt.Sprintf("%d (%d raft)", r.ViewReplicas, r.ViewRaftReplicas), float64(r.DiskBytes)/1e6, r.DiskBytesPerKEvent, r.ThroughputEPS, once)
	}
	for _, r := range t.Results {
		fmt.Fprintf(w, "%s per kill: failover ms %s; replayed %s; longest write gap ms %s; bucket %d bytes\n",
			r.HA, joinFloats(r.FailoverMs), joinInts(r.Replayed), joinFloats(r.WriteGapMs), r.BucketBytes)
	}
}

func joinFloats(xs []float64) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strconv.FormatFloat(x, 'f', 0, 64)
	}
	return strings.Join(out, " ")
}

func joinInts(xs []int64) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strconv.FormatInt(x, 10)
	}
	return strings.Join(out, " ")
}
