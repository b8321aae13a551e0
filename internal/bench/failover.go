package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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

// FailoverResult is what `cairn bench --failover` reports.
type FailoverResult struct {
	Nodes          int       `json:"nodes"`
	Kills          int       `json:"kills"`
	WriteOutagesMs []float64 `json:"write_outages_ms"` // per kill: kill → first ack of a batch sent after it
	WriteMinMs     float64   `json:"write_min_ms"`
	WriteMedianMs  float64   `json:"write_median_ms"`
	WriteP99Ms     float64   `json:"write_p99_ms"`
	WriteMaxMs     float64   `json:"write_max_ms"`
	ReadGapsMs     []float64 `json:"read_gaps_ms"` // per kill: longest time without a successful follower read
	ReadMinMs      float64   `json:"read_min_ms"`
	ReadMedianMs   float64   `json:"read_median_ms"`
	ReadP99Ms      float64   `json:"read_p99_ms"`
	ReadMaxMs      float64   `json:"read_max_ms"`
	ReadsOK        int64     `json:"reads_ok"`
	ReadsFailed    int64     `json:"reads_failed"` // on a node that was not being killed
	// ReadsCut counts reads in flight on the node being killed when it
	// died: the node went away under them, no surviving node failed them.
	ReadsCut        int64  `json:"reads_cut_by_kill"`
	EventsAcked     int64  `json:"events_acked"`
	EventsUnknown   int64  `json:"events_unknown"` // in batches that failed: may or may not be in
	EventsInView    int64  `json:"events_in_view"`
	Lost            int64  `json:"lost"`       // acknowledged ids missing from the view
	Duplicated      int64  `json:"duplicated"` // ids counted more than once
	Unexpected      int64  `json:"unexpected"` // ids the bench never sent
	Verified        bool   `json:"verified"`
	ElectionTimeout string `json:"election_timeout"`
}

// pct returns the nearest-rank percentile of sorted xs.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	i := int(p*float64(len(xs))+0.999999) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

// RunFailover kills the leader of a busy stream shard `kills` times under
// load and measures how long writes and follower reads of a view were
// unavailable each time. Every event carries an id and its batch number;
// at the end the ids counted by fo_batches are judged by the exactly-once
// checker (the stream itself keeps only 20 s, so a catch-up snapshot
// stays small), and fo_per_device must count the same events.
func RunFailover(ctx context.Context, nodes, kills, clients int, noSync bool, out string, progress io.Writer) (*FailoverResult, error) {
	if nodes < 3 {
		return nil, fmt.Errorf("--failover needs --nodes of at least 3, got %d", nodes)
	}
	c, err := startLocalCluster(ctx, nodes, noSync, false)
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	connect := func(i int) (*pgconn.PgConn, error) { return c.connect(ctx, i) }
	setup, err := connect(0)
	if err != nil {
		return nil, err
	}
	_, err = setup.Exec(ctx, `CREATE STREAM fo_events (ts timestamptz, device_id int, region text, value float8, id int8, b int8) WITH (shards = 1, retention = '20 seconds');
		CREATE MATERIALIZED VIEW fo_per_device AS SELECT device_id, count(*) AS n FROM fo_events GROUP BY device_id;
		CREATE MATERIALIZED VIEW fo_batches AS SELECT b, count(*) AS n, sum(id) AS ids FROM fo_events GROUP BY b`).ReadAll()
	setup.Close(ctx)
	if err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}

	var down atomic.Int32 // index+1 of the node being killed, 0 for none
	down.Store(0)
	type ack struct{ start, end time.Time }
	var mu sync.Mutex
	var acks []ack
	batches := batchLog{size: foBatch}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var conn *pgconn.PgConn
			defer func() { closeConn(conn) }()
			var body strings.Builder
			node := w % nodes
			for testutil.Pace(ctx, stop, 0) {
				if conn == nil {
					if int(down.Load()) == node+1 {
						node = (node + 1) % nodes
					}
					var err error
					if conn, err = connect(node); err != nil {
						conn = nil
						node = (node + 1) % nodes
						time.Sleep(20 * time.Millisecond)
						continue
					}
				}
				n, first := batches.take()
				body.Reset()
				for i := int64(0); i < foBatch; i++ {
					fmt.Fprintf(&body, "2026-01-01 00:00:00+00,%d,eu,1.5,%d,%d\n", i%100, first+i, n)
				}
				start := time.Now()
				cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				tag, err := conn.CopyFrom(cctx, strings.NewReader(body.String()), "COPY fo_events FROM STDIN (FORMAT csv)")
				cancel()
				ok := err == nil && tag.RowsAffected() == foBatch
				batches.done(n, node, ok, time.Now())
				if !ok {
					conn.Close(context.Background())
					conn = nil
					node = (node + 1) % nodes
					continue
				}
				mu.Lock()
				acks = append(acks, ack{start, time.Now()})
				mu.Unlock()
			}
		}(w)
	}
	type read struct {
		at time.Time
		ok bool
	}
	var reads []read
	var readsOK, readsFailed, readsCut atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		var conn *pgconn.PgConn
		defer func() { closeConn(conn) }()
		node := nodes - 1
		for testutil.Pace(ctx, stop, 20*time.Millisecond) {
			if d := int(down.Load()); d == node+1 || conn == nil {
				closeConn(conn)
				for node = (node + 1) % nodes; int(down.Load()) == node+1; node = (node + 1) % nodes {
				}
				var err error
				if conn, err = connect(node); err != nil {
					conn = nil
					continue
				}
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err := conn.Exec(cctx, "SELECT sum(n) FROM fo_per_device").ReadAll()
			cancel()
			mu.Lock()
			reads = append(reads, read{time.Now(), err == nil})
			mu.Unlock()
			if err != nil && int(down.Load()) == node+1 {
				readsCut.Add(1)
				fmt.Fprintf(progress, "\nfollower read on n%d cut by its kill: %v\n", node+1, err)
				conn.Close(context.Background())
				conn = nil
			} else if err != nil {
				readsFailed.Add(1)
				fmt.Fprintf(progress, "\nfollower read failed on n%d: %v\n", node+1, err)
				conn.Close(context.Background())
				conn = nil
			} else {
				readsOK.Add(1)
			}
		}
	}()

	res := &FailoverResult{Nodes: nodes, Kills: kills, ElectionTimeout: "500ms"}
	leaderOf := func() int {
		for i := range c.nodes {
			if int(down.Load()) == i+1 || !c.nodes[i].Running() {
				continue
			}
			conn, err := connect(i)
			if err != nil {
				continue
			}
			r, err := conn.Exec(ctx, "SELECT node_id FROM cairn_cluster.shards WHERE object = 'fo_events' AND role = 'leader'").ReadAll()
			conn.Close(ctx)
			if err == nil && len(r) == 1 && len(r[0].Rows) == 1 {
				name := string(r[0].Rows[0][0])
				for j, n := range c.nodes {
					if n.Name == name {
						return j
					}
				}
			}
		}
		return -1
	}
	for k := 0; k < kills; k++ {
		time.Sleep(2 * time.Second) // steady load
		victim := -1
		for deadline := time.Now().Add(10 * time.Second); victim < 0 && time.Now().Before(deadline); {
			if victim = leaderOf(); victim < 0 {
				time.Sleep(100 * time.Millisecond)
			}
		}
		if victim < 0 {
			close(stop)
			wg.Wait()
			return nil, fmt.Errorf("kill %d: no leader of fo_events found", k+1)
		}
		down.Store(int32(victim + 1))
		killAt := time.Now()
		_ = c.nodes[victim].Kill()
		// Wait for writes to resume, then a little more, then restart.
		var outage time.Duration
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			for _, a := range acks {
				if a.start.After(killAt) && (outage == 0 || a.end.Sub(killAt) < outage) {
					outage = a.end.Sub(killAt)
				}
			}
			mu.Unlock()
			if outage > 0 {
				break
			}
		}
		if outage == 0 {
			close(stop)
			wg.Wait()
			return nil, fmt.Errorf("kill %d: writes did not resume within 30s", k+1)
		}
		time.Sleep(time.Second)
		// Longest gap between successful follower reads around the kill.
		mu.Lock()
		last, gap := killAt, time.Duration(0)
		for _, r := range reads {
			if r.at.Before(killAt) || !r.ok {
				continue
			}
			gap = max(gap, r.at.Sub(last))
			last = r.at
		}
		mu.Unlock()
		res.WriteOutagesMs = append(res.WriteOutagesMs, float64(outage.Microseconds())/1000)
		res.ReadGapsMs = append(res.ReadGapsMs, float64(gap.Microseconds())/1000)
		fmt.Fprintf(progress, "kill %d/%d: %s (leader of fo_events) — writes back after %.0f ms, longest follower-read gap %.0f ms\n",
			k+1, kills, c.nodes[victim].Name, float64(outage.Microseconds())/1000, float64(gap.Microseconds())/1000)
		if err := c.nodes[victim].Start(ctx); err != nil {
			close(stop)
			wg.Wait()
			return nil, fmt.Errorf("restart %s: %w", c.nodes[victim].Name, err)
		}
		// Like an operator, let the restarted node catch up (a linearizable
		// read through it needs its replica to reach the leader's commit)
		// before the next kill, so each kill costs one node, not two.
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			conn, err := connect(victim)
			if err != nil {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			_, err = conn.Exec(cctx, "SET read_from = leader; SELECT sum(n) FROM fo_per_device; SELECT count(*) FROM fo_events WHERE false").ReadAll()
			cancel()
			conn.Close(ctx)
			if err == nil {
				break
			}
		}
		down.Store(0)
	}
	close(stop)
	wg.Wait()

	// Every acknowledged event must be counted once (failed batches: at most once).
	ackedN, failedN := batches.counts()
	res.EventsAcked, res.EventsUnknown = ackedN*foBatch, failedN*foBatch
	v, err := verifyFailover(ctx, c, &batches, res)
	if err != nil {
		return res, err
	}
	res.Lost, res.Duplicated, res.Unexpected = v.lost, v.duplicated, v.unexpected
	res.Verified = testutil.Failed(v.checks) == ""
	res.ReadsOK, res.ReadsFailed, res.ReadsCut = readsOK.Load(), readsFailed.Load(), readsCut.Load()
	w := slices.Clone(res.WriteOutagesMs)
	slices.Sort(w)
	r := slices.Clone(res.ReadGapsMs)
	slices.Sort(r)
	res.WriteMinMs, res.WriteMedianMs, res.WriteP99Ms, res.WriteMaxMs = w[0], pct(w, 0.5), pct(w, 0.99), w[len(w)-1]
	res.ReadMinMs, res.ReadMedianMs, res.ReadP99Ms, res.ReadMaxMs = r[0], pct(r, 0.5), pct(r, 0.99), r[len(r)-1]
	if out != "-" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(out, b, 0o644); err != nil {
			return res, err
		}
	}
	if !res.Verified {
		return res, fmt.Errorf("views hold %d events; acknowledged %d, unknown %d: %s", res.EventsInView, res.EventsAcked, res.EventsUnknown, testutil.Failed(v.checks))
	}
	return res, nil
}

// foBatch is how many events one failover writer batch (one COPY) carries.
const foBatch = 500

// verifyFailover waits (at most 30 s) until fo_batches counts every
// acknowledged event, then judges the ids it counts, and checks that
// fo_per_device counts the same events.
func verifyFailover(ctx context.Context, c *localCluster, log *batchLog, res *FailoverResult) (verdict, error) {
	const q = `SET read_from = leader; SELECT b, n, ids FROM fo_batches; SELECT coalesce(sum(n), 0) FROM fo_per_device`
	var rows [][][]byte
	var perDevice, inView int64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		conn, err := c.connect(ctx, 0)
		if err != nil {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		r, err := conn.Exec(cctx, q).ReadAll()
		cancel()
		conn.Close(ctx)
		if err != nil || len(r) != 3 || len(r[2].Rows) != 1 {
			continue
		}
		rows = r[1].Rows
		perDevice, _ = strconv.ParseInt(string(r[2].Rows[0][0]), 10, 64)
		inView = 0
		for _, row := range rows {
			n, _ := strconv.ParseInt(string(row[1]), 10, 64)
			inView += n
		}
		if inView >= res.EventsAcked && perDevice == inView {
			break
		}
	}
	res.EventsInView = inView
	var ids []int64
	for _, row := range rows {
		b, _ := strconv.ParseInt(string(row[0]), 10, 64)
		n, _ := strconv.ParseInt(string(row[1]), 10, 64)
		sum, _ := strconv.ParseInt(string(row[2]), 10, 64)
		ids = append(ids, batchIDs(b, n, sum)...)
	}
	v := judge(log.sent(), ids)
	views := testutil.CheckViews([]testutil.ViewRow{{Key: "fo_per_device sum(n)", Value: strconv.FormatInt(inView, 10)}},
		[]testutil.NodeView{{Node: c.nodes[0].Name, Rows: []testutil.ViewRow{{Key: "fo_per_device sum(n)", Value: strconv.FormatInt(perDevice, 10)}}}})
	v.checks = append(v.checks, views)
	return v, nil
}

// batchIDs returns the ids that fo_batches' row (b, n, sum(id)) stands
// for: batch b sent ids b*foBatch+1 … (b+1)*foBatch, so n events summing
// to k times their sum are k copies of each. A torn batch (any other
// count or sum) cannot say which ids it lacks or repeats: it stands for
// its first n ids in turn, and with a whole count but a wrong sum, one of
// them missing and another twice, so the checker fails it either way.
func batchIDs(b, n, sum int64) []int64 {
	first := b*foBatch + 1
	whole := foBatch*first + foBatch*(foBatch-1)/2
	ids := make([]int64, 0, n)
	for i := int64(0); i < n; i++ {
		ids = append(ids, first+i%foBatch)
	}
	if n > 0 && n%foBatch == 0 && sum != n/foBatch*whole {
		ids[len(ids)-1] = first
	}
	return ids
}

// Print writes the result as a few lines of text.
func (r *FailoverResult) Print(w io.Writer) {
	fmt.Fprintf(w, "failover       %d kills of the leader of a busy stream shard, %d nodes, election timeout %s\n", r.Kills, r.Nodes, r.ElectionTimeout)
	fmt.Fprintf(w, "writes         unavailable min %.0f ms, median %.0f ms, p99 %.0f ms, max %.0f ms\n", r.WriteMinMs, r.WriteMedianMs, r.WriteP99Ms, r.WriteMaxMs)
	fmt.Fprintf(w, "follower reads longest gap min %.0f ms, median %.0f ms, p99 %.0f ms, max %.0f ms; %d ok, %d failed, %d cut by the kill of their node\n", r.ReadMinMs, r.ReadMedianMs, r.ReadP99Ms, r.ReadMaxMs, r.ReadsOK, r.ReadsFailed, r.ReadsCut)
	fmt.Fprintf(w, "events         %d acknowledged, %d in failed batches, %d in the view; verified %v\n", r.EventsAcked, r.EventsUnknown, r.EventsInView, r.Verified)
}
