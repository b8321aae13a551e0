package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/testutil"
)

// rollingBatch is how many rows one writer batch (one COPY) carries.
const rollingBatch = 500

// rollingNode is what one node's step of a rolling restart cost.
type rollingNode struct {
	Node               string  `json:"node"`
	DrainOpID          int64   `json:"drain_op_id"`
	DrainMs            float64 `json:"drain_ms"`            // DRAIN issued → operation done
	MoveMs             float64 `json:"move_ms"`             // drain done → no writer session left on the node
	StopMs             float64 `json:"stop_ms"`             // SIGTERM → process exit
	StopExit           string  `json:"stop_exit,omitempty"` // the exit status, when not 0
	StartMs            float64 `json:"start_ms"`            // process start → accepts connections
	CatchUpMs          float64 `json:"catchup_ms"`          // accepts connections → live everywhere, replicas caught up
	WindowMs           float64 `json:"window_ms"`           // DRAIN issued → caught up
	WriteDisturbMs     float64 `json:"write_disturbance_ms"`
	BatchesAcked       int64   `json:"batches_acked"`
	BatchesFailed      int64   `json:"batches_failed"`
	SessionsRefused    int64   `json:"sessions_refused"` // 57P03 while the node was draining
	BatchesVia         int64   `json:"batches_via"`      // acked batches sent to this node over the whole run
	LeadersBeforeDrain int64   `json:"leaders_before_drain"`
}

// RollingResult is what `cairn bench --rolling-restart` reports.
type RollingResult struct {
	Nodes           int           `json:"nodes"`
	Writers         int           `json:"writers"`
	BatchRows       int           `json:"batch_rows"`
	PerNode         []rollingNode `json:"per_node"`
	DurationMs      float64       `json:"duration_ms"`
	MaxDisturbMs    float64       `json:"max_write_disturbance_ms"`
	BatchesAcked    int64         `json:"batches_acked"`
	BatchesFailed   int64         `json:"batches_failed"`
	SessionsRefused int64         `json:"sessions_refused"`
	EventsAcked     int64         `json:"events_acked"`
	EventsUnknown   int64         `json:"events_unknown"`      // in failed batches: may or may not be in
	UnknownInStream int64         `json:"unknown_in_stream"`   // of those, how many made it
	StreamRows      int64         `json:"stream_rows"`         // rows read back from the stream
	ViewCount       int64         `json:"view_count"`          // count(*) of the totals view
	ViewDeviceSum   int64         `json:"view_per_device_sum"` // sum(n) of the per-device view
	ViewMatches     bool          `json:"view_matches_stream"` // count and sum(id) equal the stream's
	Lost            int64         `json:"lost"`                // acknowledged ids missing from the stream
	Duplicated      int64         `json:"duplicated"`          // ids present more than once
	Unexpected      int64         `json:"unexpected"`          // ids the bench never sent
	Verified        bool          `json:"verified"`
	Error           string        `json:"error,omitempty"`
}

// RunRollingRestart drains, stops and restarts every node of a temporary
// cluster in turn under a steady write load, measures what each step cost
// the writers, and checks that every acknowledged id is in the stream
// exactly once and that the views agree with the stream.
func RunRollingRestart(ctx context.Context, nodes, writers int, noSync bool, out string, progress io.Writer) (*RollingResult, error) {
	if nodes < 3 {
		return nil, fmt.Errorf("--rolling-restart needs --nodes of at least 3, got %d", nodes)
	}
	if writers < 1 {
		return nil, fmt.Errorf("--clients must be at least 1, got %d", writers)
	}
	began := time.Now()
	fmt.Fprintf(progress, "rolling: starting %d nodes\n", nodes)
	c, err := startLocalCluster(ctx, nodes, noSync, false)
	if err != nil {
		return nil, err
	}
	defer c.Stop()
	connect := func(i int) (*pgconn.PgConn, error) { return c.connect(ctx, i) }
	query := func(from, skip int, sql string) ([][]string, error) { return c.query(ctx, from, skip, sql) }
	if _, err := query(0, -1, fmt.Sprintf(`CREATE STREAM rr_events (id int8, device_id int) WITH (shards = %d, replicas = 3, retention = '1 day');
		CREATE MATERIALIZED VIEW rr_total AS SELECT count(*) AS n, sum(id) AS ids FROM rr_events;
		CREATE MATERIALIZED VIEW rr_per_device AS SELECT device_id, count(*) AS n FROM rr_events GROUP BY device_id`, nodes)); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}

	// leaving is index+1 of the node about to stop, 0 for none: writers on
	// it finish their batch and move on, as behind a load balancer that
	// took the node out of rotation. on[w] is writer w's node, -1 for none.
	var leaving atomic.Int32
	on := make([]atomic.Int32, writers)
	batches := batchLog{size: rollingBatch}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		on[w].Store(-1)
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rollingWriter(ctx, w, nodes, connect, &leaving, &on[w], &batches, stop)
		}(w)
	}
	stopWriters := func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}
	defer stopWriters()

	res := &RollingResult{Nodes: nodes, Writers: writers, BatchRows: rollingBatch}
	fail := func(err error) (*RollingResult, error) {
		stopWriters()
		res.Error = err.Error()
		res.DurationMs = ms(time.Since(began))
		writeRollingJSON(res, out)
		return res, err
	}
	sleep := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	if err := sleep(2 * time.Second); err != nil { // steady load first
		return fail(err)
	}
	for i := 0; i < nodes; i++ {
		name := c.nodes[i].Name
		via := (i + 1) % nodes
		st := rollingNode{Node: name}
		if r, err := query(i, -1, fmt.Sprintf("SELECT leaders FROM cairn_cluster.nodes WHERE node_id = '%s'", name)); err == nil && len(r) == 1 {
			st.LeadersBeforeDrain, _ = strconv.ParseInt(r[0][0], 10, 64)
		}
		from := time.Now()
		r, err := query(via, i, fmt.Sprintf("ALTER NODE '%s' DRAIN", name))
		if err != nil || len(r) != 1 || len(r[0]) < 1 {
			return fail(fmt.Errorf("drain %s: %v (rows %d)", name, err, len(r)))
		}
		st.DrainOpID, _ = strconv.ParseInt(r[0][0], 10, 64)
		fmt.Fprintf(progress, "rolling: %s: DRAIN (operation %d) through %s\n", name, st.DrainOpID, c.nodes[via].Name)
		if err := waitSQLOp(ctx, query, via, i, st.DrainOpID, 60*time.Second); err != nil {
			return fail(fmt.Errorf("drain %s: %w", name, err))
		}
		drained := time.Now()
		st.DrainMs = ms(drained.Sub(from))
		fmt.Fprintf(progress, "rolling: %s: drained in %.0f ms\n", name, st.DrainMs)

		// Let the writers still on it finish their batch and leave.
		leaving.Store(int32(i + 1))
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			busy := false
			for w := range on {
				busy = busy || on[w].Load() == int32(i)
			}
			if !busy {
				break
			}
			if err := sleep(10 * time.Millisecond); err != nil {
				return fail(err)
			}
		}
		stopAt := time.Now()
		st.MoveMs = ms(stopAt.Sub(drained))
		_, exit, err := c.nodes[i].Terminate(30 * time.Second)
		if err != nil {
			return fail(err)
		}
		if exit != nil {
			st.StopExit = exit.Error()
		}
		startAt := time.Now()
		st.StopMs = ms(startAt.Sub(stopAt))
		if exit != nil {
			fmt.Fprintf(progress, "rolling: %s: stopped (SIGTERM) in %.0f ms, but not cleanly: %v\n", name, st.StopMs, exit)
		} else {
			fmt.Fprintf(progress, "rolling: %s: stopped (SIGTERM) in %.0f ms\n", name, st.StopMs)
		}
		if err := c.nodes[i].Start(ctx); err != nil {
			return fail(fmt.Errorf("restart %s: %w", name, err))
		}
		up := time.Now()
		st.StartMs = ms(up.Sub(startAt))
		leaving.Store(0)
		fmt.Fprintf(progress, "rolling: %s: restarted, accepts connections after %.0f ms\n", name, st.StartMs)
		if err := waitCaughtUp(ctx, c, query, i, 60*time.Second); err != nil {
			return fail(fmt.Errorf("%s after restart: %w", name, err))
		}
		to := time.Now()
		st.CatchUpMs, st.WindowMs = ms(to.Sub(up)), ms(to.Sub(from))
		gap, acked, failed, refused := batches.window(from, to)
		st.WriteDisturbMs, st.BatchesAcked, st.BatchesFailed, st.SessionsRefused = ms(gap), acked, failed, refused
		res.PerNode = append(res.PerNode, st)
		res.MaxDisturbMs = max(res.MaxDisturbMs, st.WriteDisturbMs)
		fmt.Fprintf(progress, "rolling: %s: live on every node and caught up after %.0f ms; window %.0f ms, longest write gap %.0f ms, %d failed batches\n",
			name, st.CatchUpMs, st.WindowMs, st.WriteDisturbMs, st.BatchesFailed)
	}
	if err := sleep(2 * time.Second); err != nil {
		return fail(err)
	}
	stopWriters()
	res.DurationMs = ms(time.Since(began))
	batches.mu.Lock()
	res.BatchesAcked, res.BatchesFailed, res.SessionsRefused = int64(len(batches.mu.ackAt)), int64(len(batches.mu.failAt)), int64(len(batches.mu.refused))
	for i := range res.PerNode {
		res.PerNode[i].BatchesVia = batches.mu.via[i]
	}
	batches.mu.Unlock()
	res.EventsAcked, res.EventsUnknown = res.BatchesAcked*rollingBatch, res.BatchesFailed*rollingBatch
	fmt.Fprintf(progress, "rolling: writers stopped: %d batches acknowledged, %d failed; verifying\n", res.BatchesAcked, res.BatchesFailed)

	if err := verifyRolling(ctx, c, query, batches.sent(), res, progress); err != nil {
		return fail(err)
	}
	writeRollingJSON(res, out)
	if !res.Verified {
		return res, fmt.Errorf("verification failed: %d lost, %d duplicated, %d unexpected ids; view count %d, stream rows %d",
			res.Lost, res.Duplicated, res.Unexpected, res.ViewCount, res.StreamRows)
	}
	return res, nil
}

// rollingWriter sends batches of fresh ids until stop closes, moving to the
// next node when a batch fails, a session is refused, or its node is
// leaving. Every 20 batches it moves anyway, to spread the load and to
// exercise new sessions.
func rollingWriter(ctx context.Context, w, nodes int, connect func(int) (*pgconn.PgConn, error), leaving *atomic.Int32, on *atomic.Int32, b *batchLog, stop chan struct{}) {
	var conn *pgconn.PgConn
	node := w % nodes
	sent := 0
	closeConn := func() {
		if conn != nil {
			conn.Close(context.Background())
			conn = nil
		}
		on.Store(-1)
	}
	defer closeConn()
	var body strings.Builder
	for misses := 0; ; {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		if conn != nil && (int(leaving.Load()) == node+1 || sent%20 == 19) {
			closeConn()
			node = (node + 1) % nodes
		}
		if conn == nil {
			if int(leaving.Load()) == node+1 {
				node = (node + 1) % nodes
			}
			var err error
			if conn, err = connect(node); err != nil {
				conn = nil
				var pe *pgconn.PgError
				if errors.As(err, &pe) && pe.Code == "57P03" {
					b.refusedAt(time.Now())
				}
				node = (node + 1) % nodes
				if misses++; misses%nodes == 0 {
					time.Sleep(20 * time.Millisecond)
				}
				continue
			}
			misses = 0
			on.Store(int32(node))
		}
		n, first := b.take()
		body.Reset()
		for id := first; id < first+rollingBatch; id++ {
			body.WriteString(strconv.FormatInt(id, 10))
			body.WriteByte(',')
			body.WriteString(strconv.FormatInt(id%100, 10))
			body.WriteByte('\n')
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		tag, err := conn.CopyFrom(cctx, strings.NewReader(body.String()), "COPY rr_events FROM STDIN (FORMAT csv)")
		cancel()
		ok := err == nil && tag.RowsAffected() == rollingBatch
		b.done(n, node, ok, time.Now())
		sent++
		if !ok {
			closeConn()
			node = (node + 1) % nodes
		}
	}
}

// waitSQLOp waits until operation id is done; failed or cancelled is an error.
func waitSQLOp(ctx context.Context, query func(int, int, string) ([][]string, error), via, skip int, id int64, bound time.Duration) error {
	var last string
	for deadline := time.Now().Add(bound); time.Now().Before(deadline); {
		r, err := query(via, skip, fmt.Sprintf("SELECT status, coalesce(error, '') FROM cairn_cluster.operations WHERE op_id = %d", id))
		if err == nil && len(r) == 1 {
			last = r[0][0]
			switch last {
			case "done":
				return nil
			case "failed", "cancelled":
				return fmt.Errorf("operation %d %s: %s", id, last, r[0][1])
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("operation %d not done within %s (status %q)", id, bound, last)
}

// waitCaughtUp waits until every node sees node i live and each of i's
// replicas answers (leader, follower or learner) close to the most
// advanced replica of its group.
func waitCaughtUp(ctx context.Context, c *localCluster, query func(int, int, string) ([][]string, error), i int, bound time.Duration) error {
	const maxBehind = 100 // entries; the groups take many per second under load
	name := c.nodes[i].Name
	why := "not checked yet"
	for deadline := time.Now().Add(bound); time.Now().Before(deadline); {
		if why = caughtUp(c, query, i, name, maxBehind); why == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("not live and caught up within %s: %s", bound, why)
}

// caughtUp returns "" when node i is live everywhere and caught up, or why not.
func caughtUp(c *localCluster, query func(int, int, string) ([][]string, error), i int, name string, maxBehind int64) string {
	for j := range c.nodes {
		r, err := query(j, -1, fmt.Sprintf("SELECT state FROM cairn_cluster.nodes WHERE node_id = '%s'", name))
		switch {
		case err != nil:
			return fmt.Sprintf("%s: %v", c.nodes[j].Name, err)
		case len(r) != 1 || r[0][0] != "live":
			return fmt.Sprintf("%s does not see %s live yet", c.nodes[j].Name, name)
		}
	}
	r, err := query(i, -1, "SELECT group_id, node_id, role, applied_index, lag FROM cairn_cluster.shards")
	if err != nil {
		return err.Error()
	}
	top := map[string]int64{}
	type replica struct {
		group, role  string
		applied, lag int64
	}
	var mine []replica
	for _, row := range r {
		applied, _ := strconv.ParseInt(row[3], 10, 64)
		top[row[0]] = max(top[row[0]], applied)
		if row[1] == name {
			lag, _ := strconv.ParseInt(row[4], 10, 64)
			mine = append(mine, replica{row[0], row[2], applied, lag})
		}
	}
	if len(mine) == 0 {
		return name + " holds no replicas"
	}
	for _, m := range mine {
		switch {
		case m.role != "leader" && m.role != "follower" && m.role != "learner": // a 4th node is a learner of the meta group
			return fmt.Sprintf("%s's replica of group %s is %s", name, m.group, m.role)
		case m.lag > maxBehind || top[m.group]-m.applied > maxBehind:
			return fmt.Sprintf("%s's replica of group %s is %d entries behind", name, m.group, max(m.lag, top[m.group]-m.applied))
		}
	}
	return ""
}

// verifyRolling waits until the views have caught up with the stream,
// then reads every id back and fills in res's verification fields.
func verifyRolling(ctx context.Context, c *localCluster, query func(int, int, string) ([][]string, error), sent []testutil.Batch, res *RollingResult, progress io.Writer) error {
	const q = `SET read_from = leader; SELECT count(*), coalesce(sum(id), 0) FROM rr_events;
		SELECT coalesce(sum(n), 0), coalesce(sum(ids), 0) FROM rr_total;
		SELECT coalesce(sum(n), 0) FROM rr_per_device`
	var rows, sum, vn, vsum, vdev int64
	report := time.Now().Add(5 * time.Second)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if time.Now().After(report) {
			fmt.Fprintf(progress, "rolling: waiting for the views: stream %d rows, rr_total %d, rr_per_device %d\n", rows, vn, vdev)
			report = report.Add(5 * time.Second)
		}
		conn, err := pgconn.Connect(ctx, c.nodes[0].URL())
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			r, err := conn.Exec(cctx, q).ReadAll()
			cancel()
			conn.Close(context.Background())
			if err == nil && len(r) == 4 && len(r[1].Rows) == 1 && len(r[2].Rows) == 1 && len(r[3].Rows) == 1 {
				rows, _ = strconv.ParseInt(string(r[1].Rows[0][0]), 10, 64)
				sum, _ = strconv.ParseInt(string(r[1].Rows[0][1]), 10, 64)
				vn, _ = strconv.ParseInt(string(r[2].Rows[0][0]), 10, 64)
				vsum, _ = strconv.ParseInt(string(r[2].Rows[0][1]), 10, 64)
				vdev, _ = strconv.ParseInt(string(r[3].Rows[0][0]), 10, 64)
				if rows == vn && sum == vsum && rows == vdev {
					break
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	res.ViewCount, res.ViewDeviceSum = vn, vdev
	res.ViewMatches = rows == vn && sum == vsum && rows == vdev
	if !res.ViewMatches {
		// Show where the views stand, to tell a stuck view task from a slow one.
		if r, err := query(0, -1, "SELECT object, shard, node_id, role, applied_index, commit_index FROM cairn_cluster.shards WHERE object LIKE 'rr_%' ORDER BY object, shard, node_id"); err == nil {
			fmt.Fprintf(progress, "rolling: the views did not catch up within 30s; their replicas:\n")
			for _, row := range r {
				fmt.Fprintf(progress, "  %s\n", strings.Join(row, " "))
			}
		}
	}

	// Read every id back and judge them.
	conn, err := pgconn.Connect(ctx, c.nodes[0].URL())
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	defer conn.Close(context.Background())
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := conn.Exec(cctx, "SET read_from = leader").ReadAll(); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	rr := conn.ExecParams(cctx, "SELECT id FROM rr_events", nil, nil, nil, nil)
	var ids []int64
	var unparsable int64
	for rr.NextRow() {
		id, err := strconv.ParseInt(string(rr.Values()[0]), 10, 64)
		if err != nil {
			unparsable++
			continue
		}
		ids = append(ids, id)
	}
	if _, err := rr.Close(); err != nil {
		return fmt.Errorf("verify: read ids back: %w", err)
	}
	res.StreamRows = int64(len(ids)) + unparsable
	if res.StreamRows != rows {
		res.ViewMatches = false // the scan and count(*) disagree
	}
	var idSum int64
	for _, id := range ids {
		idSum += id
	}
	v := judge(sent, ids)
	res.Lost, res.Duplicated, res.Unexpected, res.UnknownInStream = v.lost, v.duplicated, v.unexpected+unparsable, v.unknownIn
	want := []testutil.ViewRow{{Key: "rr_total", Value: fmt.Sprintf("n=%d ids=%d", len(ids), idSum)}, {Key: "rr_per_device sum(n)", Value: fmt.Sprint(len(ids))}}
	got := []testutil.ViewRow{{Key: "rr_total", Value: fmt.Sprintf("n=%d ids=%d", vn, vsum)}, {Key: "rr_per_device sum(n)", Value: fmt.Sprint(vdev)}}
	views := testutil.CheckViews(want, []testutil.NodeView{{Node: c.nodes[0].Name, Rows: got}})
	res.ViewMatches = res.ViewMatches && views.OK
	res.Verified = res.Lost == 0 && res.Duplicated == 0 && res.Unexpected == 0 && res.ViewMatches
	return nil
}

func writeRollingJSON(res *RollingResult, out string) {
	if out == "-" || out == "" {
		return
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		res.Error = err.Error()
	}
}

// print writes the per-node table, the totals and the verdict.
func (r *RollingResult) print(w io.Writer) {
	fmt.Fprintf(w, "rolling restart  %d nodes one at a time (DRAIN, SIGTERM, start, catch up), %d writers, %d-row batches\n\n", r.Nodes, r.Writers, r.BatchRows)
	fmt.Fprintf(w, "%-5s %8s %8s %8s %8s %9s %9s %12s %9s %8s %8s %8s\n", "node", "drain", "move", "stop", "start", "catch-up", "window", "write gap", "acked", "failed", "refused", "via")
	for _, n := range r.PerNode {
		fmt.Fprintf(w, "%-5s %6.0fms %6.0fms %6.0fms %6.0fms %7.0fms %7.0fms %10.0fms %9d %8d %8d %8d\n", n.Node, n.DrainMs, n.MoveMs, n.StopMs, n.StartMs,
			n.CatchUpMs, n.WindowMs, n.WriteDisturbMs, n.BatchesAcked, n.BatchesFailed, n.SessionsRefused, n.BatchesVia)
	}
	fmt.Fprintf(w, "\ntotal          %.1f s, longest write gap %.0f ms; %d batches acknowledged, %d failed; %d new sessions refused (57P03)\n",
		r.DurationMs/1000, r.MaxDisturbMs, r.BatchesAcked, r.BatchesFailed, r.SessionsRefused)
	fmt.Fprintf(w, "events         %d acknowledged, %d in failed batches (%d of them in the stream); %d rows in the stream, view count %d, per-device sum %d\n",
		r.EventsAcked, r.EventsUnknown, r.UnknownInStream, r.StreamRows, r.ViewCount, r.ViewDeviceSum)
	var verdict []string
	if r.Lost > 0 {
		verdict = append(verdict, fmt.Sprintf("LOST %d", r.Lost))
	}
	if r.Duplicated > 0 {
		verdict = append(verdict, fmt.Sprintf("DUPLICATED %d", r.Duplicated))
	}
	if r.Unexpected > 0 {
		verdict = append(verdict, fmt.Sprintf("UNEXPECTED %d", r.Unexpected))
	}
	if !r.ViewMatches && r.Error == "" {
		verdict = append(verdict, "VIEW MISMATCH")
	}
	if r.Error != "" {
		verdict = append(verdict, "ERROR: "+r.Error)
	}
	if r.Verified && len(verdict) == 0 {
		verdict = []string{"verified"}
	}
	fmt.Fprintf(w, "result         %s\n", strings.Join(verdict, ", "))
}

// Print prints the table on stdout, or with asJSON the JSON on stdout
// and the table on stderr.
func (r *RollingResult) Print(asJSON bool, stdout, stderr io.Writer) {
	if !asJSON {
		r.print(stdout)
		return
	}
	r.print(stderr)
	b, _ := json.MarshalIndent(r, "", "  ")
	fmt.Fprintf(stdout, "%s\n", b)
}
