package e2e

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/minio/minio-go/v7"

	"github.com/cairndb/cairn/internal/objstore"
	"github.com/cairndb/cairn/internal/testutil"
)

// Tests of the elastic tier (issue 13) on real processes and a real S3
// server (versitygw): a scheduled view whose owner is killed, an object
// store outage, compute nodes added and drained under load, a stale owner
// that comes back, and bad input. Every scenario ends with the
// exactly-once check of the ops tests: every acknowledged id is in the
// stream once, and the scheduled view (count and sum of the ids) equals
// its stream recomputed, read through every running node.

// diskPrefix is where the tests' disk keeps its objects in the bucket.
const diskPrefix = "cairn"

// elasticCluster is an opsCluster whose data nodes n1… come first, then
// compute nodes c1…, with a versitygw and a disk d on it.
type elasticCluster struct {
	*opsCluster
	s3 *testutil.S3Server
}

// startElastic starts versitygw, data data nodes and compute compute
// nodes, sets dead_after to deadAfter, and creates disk d.
func startElastic(t *testing.T, data, compute int, deadAfter string) *elasticCluster {
	t.Helper()
	s3 := testutil.StartS3(t)
	c := &elasticCluster{opsCluster: startOpsCluster(t, data), s3: s3}
	for i := 1; i <= compute; i++ {
		c.addCompute(fmt.Sprintf("c%d", i))
	}
	c.waitLive(data + compute)
	c.must("ALTER SYSTEM SET dead_after = '" + deadAfter + "'")
	c.must(s3.CreateDiskSQL("d", diskPrefix))
	return c
}

// addCompute starts compute node name, joining through a running member.
func (c *elasticCluster) addCompute(name string) *Proc {
	c.t.Helper()
	up := c.upNames()
	if len(up) == 0 {
		c.t.Fatal("no running node to join")
	}
	n, err := c.cl.AddRole(context.Background(), name, c.cl.Node(up[0]).Cluster, testutil.RoleCompute)
	if n != nil {
		c.mu.Lock()
		c.ps[name] = testutil.Own(c.t, n)
		c.mu.Unlock()
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return c.p(name)
}

// isCompute reports whether node is one of the test's compute nodes.
func isCompute(node string) bool { return strings.HasPrefix(node, "c") }

// schedSchema is a stream s of ids and a scheduled view sv over it of the
// shape checkExactlyOnce reads, checkpointing every interval.
const schedSchema = `CREATE STREAM s (id int8) WITH (shards = 2, replicas = %d);
	CREATE MATERIALIZED VIEW sv WITH (ha = 'scheduled', disk = 'd', checkpoint_interval = '%s') AS SELECT count(*) AS n, sum(id) AS ids FROM s`

// schedInfo is a scheduled view's row in cairn_cluster.views.
type schedInfo struct {
	ha, owner, disk string
	epoch           uint64
	lastCheckpoint  string // last_checkpoint_at as text; "" before the first
	offsets         string // checkpoint_offsets as text
}

func (i schedInfo) String() string {
	return fmt.Sprintf("ha %s, owner %q at epoch %d, disk %q, last checkpoint %q at offsets %q", i.ha, i.owner, i.epoch, i.disk, i.lastCheckpoint, i.offsets)
}

// sched reads view's row of cairn_cluster.views.
func (c *elasticCluster) sched(view string) (schedInfo, error) {
	out, err := c.query(`SELECT ha, coalesce(owner_node, ''), coalesce(checkpoint_disk, ''), coalesce(epoch, 0),
		coalesce(last_checkpoint_at::text, ''), coalesce(checkpoint_offsets::text, '')
		FROM cairn_cluster.views WHERE name = '` + view + `'`)
	if err != nil {
		return schedInfo{}, err
	}
	f := strings.Split(out, "|")
	if len(f) != 6 {
		return schedInfo{}, fmt.Errorf("cairn_cluster.views row of %s: %q", view, out)
	}
	epoch, err := strconv.ParseUint(f[3], 10, 64)
	if err != nil {
		return schedInfo{}, fmt.Errorf("epoch of %s: %q", view, f[3])
	}
	return schedInfo{ha: f[0], owner: f[1], disk: f[2], epoch: epoch, lastCheckpoint: f[4], offsets: f[5]}, nil
}

// waitSched waits until view's row satisfies cond and returns it.
func (c *elasticCluster) waitSched(view string, timeout time.Duration, what string, cond func(schedInfo) bool) schedInfo {
	c.t.Helper()
	var info schedInfo
	waitUntil(c.t, timeout, func() (bool, string) {
		var err error
		info, err = c.sched(view)
		return err == nil && cond(info), what + ": " + info.String() + errString(err)
	})
	return info
}

// waitOwned waits until scheduled view view has an owner that runs.
func (c *elasticCluster) waitOwned(view string) schedInfo {
	c.t.Helper()
	info := c.waitSched(view, 30*time.Second, view+" owned", func(i schedInfo) bool {
		return i.owner != "" && i.epoch > 0 && c.p(i.owner) != nil
	})
	if info.ha != "scheduled" || info.disk != "d" {
		c.t.Fatalf("%s: %s, want a scheduled view on disk d", view, info)
	}
	return info
}

// foldedSome reports whether checkpoint_offsets text names an offset
// above zero.
func foldedSome(offsets string) bool {
	for _, f := range strings.FieldsFunc(offsets, func(r rune) bool { return r < '0' || r > '9' }) {
		if n, err := strconv.ParseUint(f, 10, 64); err == nil && n > 0 {
			return true
		}
	}
	return false
}

// waitCheckpoint waits until the owner of since's epoch committed a
// checkpoint newer than the one since shows.
func (c *elasticCluster) waitCheckpoint(view string, since schedInfo, timeout time.Duration) schedInfo {
	c.t.Helper()
	return c.waitSched(view, timeout, fmt.Sprintf("a new checkpoint of %s by %s at epoch %d", view, since.owner, since.epoch), func(i schedInfo) bool {
		return i.owner == since.owner && i.epoch == since.epoch && i.lastCheckpoint != "" && i.lastCheckpoint != since.lastCheckpoint
	})
}

// waitMoveOp waits until there are at least atLeast operations
// move_scheduled_view of view and the last is done, and checks that its
// last step says how the new owner took over (how: "after the final
// checkpoint of <node>" for a hand-off, "replaying from the last
// checkpoint" after a failure).
func (c *elasticCluster) waitMoveOp(view string, atLeast int, how string) {
	c.t.Helper()
	var last string
	waitUntil(c.t, 30*time.Second, func() (bool, string) {
		out, err := c.query("SELECT status, current_step FROM cairn_cluster.operations WHERE op_type = 'move_scheduled_view' AND target = 'view " + view + "' ORDER BY op_id")
		lines := strings.Split(out, "\n")
		if out == "" {
			lines = nil
		}
		if len(lines) > 0 {
			last = lines[len(lines)-1]
		}
		return err == nil && len(lines) >= atLeast && strings.HasPrefix(last, "done|"),
			fmt.Sprintf("move_scheduled_view operations of %s: %q, want %d or more, the last done", view, lines, atLeast) + errString(err)
	})
	if !strings.Contains(last, how) {
		c.t.Errorf("the last move of %s: %q, want its step to say %q", view, last, how)
	}
}

// metric sums the samples of metric name on node whose labels contain
// label ("" for all) and reports whether there was one.
func (c *elasticCluster) metric(node, name, label string) (float64, bool, error) {
	resp, err := http.Get("http://" + c.p(node).HTTP + "/metrics")
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, false, err
	}
	var sum float64
	found := false
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		series, val, ok := strings.Cut(line, " ")
		if !ok || !strings.Contains(series, label) {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return 0, false, fmt.Errorf("%s: %q", name, line)
		}
		sum += v
		found = true
	}
	return sum, found, nil
}

// store opens the disk's bucket as Cairn does (every Get checks the
// object's checksum).
func (c *elasticCluster) store() objstore.Store {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: c.s3.Endpoint, Bucket: c.s3.Bucket, Region: c.s3.Region,
		AccessKeyID: c.s3.AccessKey, SecretAccessKey: c.s3.SecretKey, Prefix: diskPrefix})
	if err != nil {
		c.t.Fatal(err)
	}
	return st
}

// checkpointObjects reads every object under views/ and returns the
// SHA-256 of each payload by key; an object that fails its checksum
// fails the test. A key listed and then gone (deleted by its owner as
// obsolete) is left out.
func (c *elasticCluster) checkpointObjects() map[string][32]byte {
	c.t.Helper()
	st := c.store()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys, err := st.List(ctx, "views/")
	if err != nil {
		c.t.Fatal(err)
	}
	out := map[string][32]byte{}
	for _, k := range keys {
		b, err := st.Get(ctx, k)
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			c.t.Fatalf("checkpoint object %s: %v", k, err)
		}
		out[k] = sha256.Sum256(b)
	}
	return out
}

// objectEpoch is the epoch in a checkpoint object's name
// (views/<view id>/<epoch 16 hex>-<seq 16 hex>.…).
func objectEpoch(key string) (uint64, error) {
	base := path.Base(key)
	if len(base) < 33 || base[16] != '-' {
		return 0, fmt.Errorf("checkpoint object %q is not named <epoch>-<seq>", key)
	}
	return strconv.ParseUint(base[:16], 16, 64)
}

// viewCount reads n of view sv through node (any error: -1).
func viewCount(p *Proc, sql string) int64 {
	out, err := queryText(p, sql)
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(out, 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// TestScheduledViewOwnerKilled: 3 data and 2 compute nodes; a scheduled
// view goes to a compute node; under ingest its owner is killed with
// SIGKILL. Reads meanwhile fail with 40001 naming skip_unavailable, or
// with skip_unavailable on are served from the last checkpoint with a
// NOTICE. After dead_after the scheduler moves the view (an operation)
// to the other compute node, which resumes from the last checkpoint, and
// the view equals its stream recomputed, exactly once. Nothing else moves
// or stops: a scheduled view on the other compute node keeps its owner
// and epoch and goes on checkpointing, and a Raft view over the same
// stream is right too.
func TestScheduledViewOwnerKilled(t *testing.T) {
	t.Parallel()
	c := startElastic(t, 3, 2, "6s")
	c.must(fmt.Sprintf(schedSchema, 3, "1s") + `;
		CREATE MATERIALIZED VIEW rv AS SELECT count(*) AS n, sum(id) AS ids FROM s;
		CREATE MATERIALIZED VIEW other WITH (ha = 'scheduled', disk = 'd', checkpoint_interval = '1s') AS SELECT count(*) AS n, sum(id) AS ids FROM s`)
	first := c.waitOwned("sv")
	if !isCompute(first.owner) {
		t.Fatalf("sv went to %s with two idle compute nodes: compute nodes come first", first.owner)
	}
	// Compute nodes hold no replica of any stream or view shard: the
	// data nodes hold them all.
	if out := c.must("SELECT DISTINCT node_id FROM cairn_cluster.shards WHERE object <> 'meta' ORDER BY node_id"); out != "n1\nn2\nn3" {
		t.Errorf("the nodes holding stream and view shard replicas: %q, want the data nodes n1, n2, n3 only", out)
	}
	bystander := c.waitOwned("other")
	if !isCompute(bystander.owner) || bystander.owner == first.owner {
		t.Fatalf("other went to %s, sv to %s: want the other compute node (the one with fewer views)", bystander.owner, first.owner)
	}
	w := startWriter(c.opsCluster, "s", 50)
	w.waitAcks(t, 20, 20*time.Second)
	ck := c.waitCheckpoint("sv", first, 15*time.Second)
	bystander = c.waitCheckpoint("other", bystander, 15*time.Second)
	w.waitAcks(t, 10, 20*time.Second)
	// The stale read below must have folded events to show: under -race
	// on a loaded machine the first checkpoints can precede any fold.
	c.waitSched("sv", 15*time.Second, "a checkpoint of sv that folded events", func(i schedInfo) bool {
		return i.owner == first.owner && i.epoch == first.epoch && foldedSome(i.offsets)
	})

	c.kill(first.owner)
	killed := time.Now()
	// Until dead_after passes the view has no owner to read from.
	var pe *pgconn.PgError
	reader := c.p("n1")
	_, err := queryText(reader, "SELECT n FROM sv")
	if !errors.As(err, &pe) || pe.Code != "40001" || !strings.Contains(pe.Hint, "skip_unavailable") {
		t.Errorf("a read of sv with its owner killed: %v (hint %q), want 40001 with a hint naming SET skip_unavailable = on", err, hintOf(err))
	}
	notices, out, err := queryNotices(reader, "SET skip_unavailable = on; SELECT n FROM sv")
	stale, _ := strconv.ParseInt(out, 10, 64)
	if err != nil || stale <= 0 || len(notices) != 1 || !strings.Contains(notices[0], "checkpoint") {
		t.Errorf("a read of sv from its last checkpoint (skip_unavailable on): %q %v, notices %q; want the checkpoint's rows and one NOTICE saying how old they are", out, err, notices)
	}
	t.Logf("read from the checkpoint: n = %d, NOTICE %q", stale, notices)
	if time.Since(killed) > 5*time.Second {
		t.Logf("the stale reads took until %s after the kill; dead_after is 6s", time.Since(killed).Round(time.Millisecond))
	}

	next := c.waitSched("sv", 40*time.Second, "sv moved off "+first.owner, func(i schedInfo) bool {
		return i.owner != "" && i.owner != first.owner && i.epoch > first.epoch
	})
	moved := time.Since(killed)
	if !isCompute(next.owner) {
		t.Errorf("sv moved to %s, not to the live compute node", next.owner)
	}
	c.waitMoveOp("sv", 1, "replaying from the last checkpoint")
	resumed := c.waitCheckpoint("sv", next, 20*time.Second)
	t.Logf("killed %s, the owner of sv at epoch %d (last checkpoint %s); %s owns it at epoch %d %s after the kill and checkpointed at %s",
		first.owner, first.epoch, ck.lastCheckpoint, next.owner, next.epoch, moved.Round(100*time.Millisecond), resumed.lastCheckpoint)
	// Only the dead node's view moved: the other kept its owner and epoch
	// and went on checkpointing.
	if i, err := c.sched("other"); err != nil || i.owner != bystander.owner || i.epoch != bystander.epoch || i.lastCheckpoint == bystander.lastCheckpoint {
		t.Errorf("the view on the surviving compute node: %s %v; before the kill: %s", i, err, bystander)
	}
	w.waitAcks(t, 10, 20*time.Second)
	c.checkExactlyOnce(w, "sv")
	c.checkSame("rv", "s")
	c.checkSame("other", "s")
}

// hintOf is the hint of a PostgreSQL error.
func hintOf(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Hint
	}
	return ""
}

// checkSame waits until view (count n and sum ids) equals stream
// recomputed, on every running node; the writer must be stopped.
func (c *elasticCluster) checkSame(view, stream string) {
	c.t.Helper()
	want := c.must("SET read_from = leader; SELECT count(*), sum(id) FROM " + stream)
	for _, name := range c.upNames() {
		p := c.p(name)
		waitUntil(c.t, 30*time.Second, func() (bool, string) {
			out, err := queryText(p, "SELECT n, ids FROM "+view)
			return err == nil && out == want, fmt.Sprintf("%s on %s: %q, the stream recomputed %q%s", view, name, out, want, errString(err))
		})
	}
}

// TestScheduledViewObjectStoreDown: the object store is down for 10 s
// under ingest. Writes go on, the view keeps folding and answering, no
// checkpoint commits (nothing can be written); once the store is back a
// checkpoint commits. Then the owner is killed: the view resumes on the
// data node from the checkpoint written after the outage and equals its
// recomputation: nothing was lost.
func TestScheduledViewObjectStoreDown(t *testing.T) {
	t.Parallel()
	c := startElastic(t, 1, 1, "2s")
	c.must(fmt.Sprintf(schedSchema, 1, "1s"))
	first := c.waitOwned("sv")
	w := startWriter(c.opsCluster, "s", 50)
	w.waitAcks(t, 20, 20*time.Second)
	ck := c.waitCheckpoint("sv", first, 15*time.Second)

	c.s3.Stop()
	down := time.Now()
	reader := c.p("n1")
	before := viewCount(reader, "SELECT n FROM sv")
	// A checkpoint whose objects were written just before the stop may
	// still commit; after that none can.
	time.Sleep(1500 * time.Millisecond)
	ck, err := c.sched("sv")
	if err != nil {
		t.Fatal(err)
	}
	for time.Since(down) < 10*time.Second {
		time.Sleep(time.Second)
		info, err := c.sched("sv")
		if err != nil {
			t.Fatalf("cairn_cluster.views with the store down: %v", err)
		}
		if info.lastCheckpoint != ck.lastCheckpoint || info.epoch != ck.epoch {
			t.Fatalf("a checkpoint committed with the object store down: %s; 1.5 s after it went down: %s", info, ck)
		}
	}
	during := viewCount(reader, "SELECT n FROM sv")
	if before < 0 || during <= before {
		t.Fatalf("sv read %d events when the store went down and %d 10 s later: the owner must fold on without the store", before, during)
	}
	if err := c.s3.Start(); err != nil {
		t.Fatal(err)
	}
	after := c.waitCheckpoint("sv", ck, 30*time.Second)
	t.Logf("store down %s; sv folded %d → %d events meanwhile; checkpoint %s after it came back", time.Since(down).Round(100*time.Millisecond), before, during, after.lastCheckpoint)
	// The owner counted the attempts the outage failed (and retried),
	// and the commits before and after it.
	for outcome, least := range map[string]float64{"failed": 1, "committed": 2} {
		if v, ok, err := c.metric(first.owner, "cairn_checkpoints_total", `outcome="`+outcome+`"`); err != nil || !ok || v < least {
			t.Errorf("cairn_checkpoints_total{outcome=%q} on %s: %v (found %v, %v), want at least %v", outcome, first.owner, v, ok, err, least)
		}
	}
	w.waitAcks(t, 10, 20*time.Second)

	// The checkpoint written after the outage is whole: a new owner
	// resumes from it.
	c.kill(first.owner)
	next := c.waitSched("sv", 30*time.Second, "sv moved off "+first.owner, func(i schedInfo) bool {
		return i.owner != "" && i.owner != first.owner && i.epoch > first.epoch
	})
	c.waitMoveOp("sv", 1, "replaying from the last checkpoint")
	c.waitCheckpoint("sv", next, 20*time.Second)
	w.waitAcks(t, 10, 20*time.Second)
	c.checkExactlyOnce(w, "sv")
}

// TestScheduledViewScaleOutIn: one data node owns two scheduled views
// (one made WITH (ha = 'scheduled'), one with SETTINGS
// checkpoint_settings). A compute node added under load takes both
// (auto_rebalance pulls scheduled views off data nodes onto compute
// nodes), each by a move_scheduled_view operation that hands the view off
// with a final checkpoint. Then the compute node is drained: the drain
// ends only once both views are handed back, the node owns none, and
// both views equal their stream recomputed.
func TestScheduledViewScaleOutIn(t *testing.T) {
	t.Parallel()
	c := startElastic(t, 1, 0, "2s")
	c.must(fmt.Sprintf(schedSchema, 1, "1s") + `;
		CREATE MATERIALIZED VIEW sv2 AS SELECT count(*) AS n, sum(id) AS ids FROM s
			SETTINGS checkpoint_settings = 'storage_type=shared;shared_disk=d;interval=1'`)
	views := []string{"sv", "sv2"}
	was := map[string]schedInfo{}
	for _, v := range views {
		i := c.waitOwned(v)
		if i.owner != "n1" {
			t.Fatalf("with one node: %s on %s", v, i.owner)
		}
		was[v] = i
	}
	w := startWriter(c.opsCluster, "s", 50)
	w.waitAcks(t, 20, 20*time.Second)

	// Scale out.
	c.addCompute("c1")
	c.waitLive(2)
	added := time.Now()
	for _, v := range views {
		on := c.waitSched(v, 60*time.Second, v+" moved to c1", func(i schedInfo) bool { return i.owner == "c1" && i.epoch > was[v].epoch })
		c.waitMoveOp(v, 1, "after the final checkpoint of n1")
		was[v] = c.waitCheckpoint(v, on, 20*time.Second)
		t.Logf("%s moved to the new compute node c1 at epoch %d and checkpointed there %s after it joined", v, on.epoch, time.Since(added).Round(100*time.Millisecond))
	}
	if v, ok, err := c.metric("c1", "cairn_scheduled_views", ""); err != nil || !ok || v != 2 {
		t.Errorf("cairn_scheduled_views on c1: %v (found %v, %v), want 2", v, ok, err)
	}
	w.waitAcks(t, 10, 20*time.Second)

	// Scale in: drain c1; the drain ends once its views are handed off.
	id := c.op("ALTER NODE 'c1' DRAIN")
	took := c.waitOp(id, 60*time.Second)
	for _, v := range views {
		back, err := c.sched(v)
		if err != nil || back.owner != "n1" || back.epoch <= was[v].epoch {
			t.Fatalf("after the drain of c1 (%s): %s: %s %v, want n1 at a newer epoch than %d", took.Round(100*time.Millisecond), v, back, err, was[v].epoch)
		}
		c.waitMoveOp(v, 2, "after the final checkpoint of c1")
		c.waitCheckpoint(v, back, 20*time.Second)
	}
	t.Logf("the drain of c1 handed both views back to n1 in %s", took.Round(100*time.Millisecond))
	if v, ok, err := c.metric("c1", "cairn_scheduled_views", ""); err != nil || !ok || v != 0 {
		t.Errorf("cairn_scheduled_views on the drained c1: %v (found %v, %v), want 0", v, ok, err)
	}
	w.waitAcks(t, 10, 20*time.Second)
	c.stop("c1")
	c.checkExactlyOnce(w, "sv")
	c.checkSame("sv2", "s")
}

// TestScheduledViewStaleOwner: the owner of a scheduled view is paused
// (SIGSTOP) past dead_after; the view moves to the other compute node,
// which checkpoints at the next epoch. Then the old owner continues
// (SIGCONT): it cannot commit a checkpoint (the view stays at the new
// owner's epoch and its checkpoints go on), no object of the new epoch
// is overwritten, every object still passes its checksum, and the view
// equals its recomputation.
func TestScheduledViewStaleOwner(t *testing.T) {
	t.Parallel()
	c := startElastic(t, 1, 2, "2s")
	c.must(fmt.Sprintf(schedSchema, 1, "500ms"))
	first := c.waitOwned("sv")
	w := startWriter(c.opsCluster, "s", 50)
	w.waitAcks(t, 20, 20*time.Second)
	c.waitCheckpoint("sv", first, 15*time.Second)

	stale := c.p(first.owner)
	if err := stale.Pause(); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	next := c.waitSched("sv", 30*time.Second, "sv moved off the paused "+first.owner, func(i schedInfo) bool {
		return i.owner != "" && i.owner != first.owner && i.epoch > first.epoch
	})
	moved := time.Since(paused)
	c.waitMoveOp("sv", 1, "replaying from the last checkpoint")
	// The new owner checkpoints once something changed, and the writer
	// may sit up to 15 s on a batch sent to the paused node meanwhile.
	next = c.waitCheckpoint("sv", next, 30*time.Second)
	committed := time.Since(paused)
	objs := c.checkpointObjects()
	ours := 0
	for k := range objs {
		if e, err := objectEpoch(k); err != nil {
			t.Fatal(err)
		} else if e == next.epoch {
			ours++
		}
	}
	if ours == 0 {
		t.Fatalf("no object of the new owner's epoch %d among %d checkpoint objects", next.epoch, len(objs))
	}
	if err := stale.Resume(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s paused for %s; %s took sv over at epoch %d %s after the pause, committed a checkpoint after %s, and wrote %d objects",
		first.owner, time.Since(paused).Round(100*time.Millisecond), next.owner, next.epoch, moved.Round(100*time.Millisecond), committed.Round(100*time.Millisecond), ours)

	// Several checkpoint intervals with the stale owner running again.
	time.Sleep(4 * time.Second)
	now, err := c.sched("sv")
	if err != nil || now.owner != next.owner || now.epoch != next.epoch {
		t.Fatalf("after the old owner came back: %s %v, want %s at epoch %d", now, err, next.owner, next.epoch)
	}
	if now.lastCheckpoint == next.lastCheckpoint {
		t.Errorf("the new owner committed no checkpoint in the 4 s after the old owner came back: %s", now)
	}
	after := c.checkpointObjects()
	for k, sum := range objs {
		if got, ok := after[k]; ok && got != sum {
			t.Errorf("checkpoint object %s changed after the stale owner came back", k)
		}
	}
	if v, ok, err := c.metric(first.owner, "cairn_scheduled_views", ""); err != nil || !ok || v != 0 {
		t.Errorf("cairn_scheduled_views on the stale owner %s: %v (found %v, %v), want 0", first.owner, v, ok, err)
	}
	fenced, _, _ := c.metric(first.owner, "cairn_checkpoints_total", `outcome="fenced"`)
	t.Logf("the stale owner %s had %v checkpoint commits refused as fenced (0: it saw the new owner in the catalog first)", first.owner, fenced)
	w.waitAcks(t, 10, 20*time.Second)
	c.checkExactlyOnce(w, "sv")
}

// TestElasticBadInput: every bad disk or scheduled view is refused with a
// clear SQLSTATE and message, and leaves nothing behind: no disk, no
// view, no object in the bucket. A backup to a missing disk and a restore
// into a cluster that is not empty are refused too, and a disk in use
// cannot be dropped.
func TestElasticBadInput(t *testing.T) {
	t.Parallel()
	s3 := testutil.StartS3(t)
	p := NewProc(t)
	p.Start()
	unreachable, err := testutil.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s3.ReadOnlyUser(ctx, "reader", "reader-secret-1234"); err != nil {
		t.Fatal(err)
	}
	disk := func(name, endpoint, bucket, access, secret string) string {
		return fmt.Sprintf("CREATE DISK %s (type = 's3', endpoint = '%s', bucket = '%s', region = '%s', access_key_id = '%s', secret_access_key = '%s')",
			name, endpoint, bucket, s3.Region, access, secret)
	}
	if _, err := queryText(p, "CREATE STREAM s (id int8)"); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, sql string
		code      string // the SQLSTATE
		msg       string // a part of the message
	}{
		{"view on a missing disk", `CREATE MATERIALIZED VIEW v1 WITH (ha = 'scheduled', disk = 'nosuch') AS SELECT count(*) AS n FROM s`,
			"42704", `disk "nosuch" does not exist`},
		{"checkpoint_settings naming a missing disk", `CREATE MATERIALIZED VIEW v2 AS SELECT count(*) AS n FROM s SETTINGS checkpoint_settings = 'storage_type=shared;shared_disk=nosuch'`,
			"42704", `disk "nosuch" does not exist`},
		{"wrong credentials", disk("bad_key", s3.Endpoint, s3.Bucket, s3.AccessKey, "not-the-secret"),
			"28000", "the access key was refused"},
		{"unreachable endpoint", disk("bad_host", unreachable, s3.Bucket, s3.AccessKey, s3.SecretKey),
			"58030", "could not reach " + unreachable},
		{"missing bucket", disk("bad_bucket", s3.Endpoint, "no-such-bucket", s3.AccessKey, s3.SecretKey),
			"42704", `bucket "no-such-bucket" does not exist`},
		{"no write permission", disk("read_only", s3.Endpoint, s3.Bucket, "reader", "reader-secret-1234"),
			"42501", `cannot write to bucket "` + s3.Bucket + `"`},
	} {
		start := time.Now()
		_, err := queryText(p, tc.sql)
		took := time.Since(start)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != tc.code || !strings.Contains(pe.Message, tc.msg) {
			t.Errorf("%s: %s\n  got %v, want SQLSTATE %s and a message containing %q", tc.name, tc.sql, err, tc.code, tc.msg)
			continue
		}
		if all := pe.Message + pe.Detail + pe.Hint; strings.Contains(all, s3.SecretKey) || strings.Contains(all, "not-the-secret") || strings.Contains(all, "reader-secret") {
			t.Errorf("%s: the error quotes the secret: %v", tc.name, err)
		}
		if took > 10*time.Second {
			t.Errorf("%s: refused after %s, want within 10 s", tc.name, took.Round(100*time.Millisecond))
		}
		t.Logf("%s: %s %s (hint %q) in %s", tc.name, pe.Code, pe.Message, pe.Hint, took.Round(time.Millisecond))
	}
	// Nothing half-created.
	for q, want := range map[string]string{
		"SELECT count(*) FROM cairn_cluster.disks": "0",
		"SELECT count(*) FROM cairn_cluster.views": "0",
	} {
		if out, err := queryText(p, q); err != nil || out != want {
			t.Errorf("%s: %q %v, want %s", q, out, err, want)
		}
	}
	cl, err := s3.Client()
	if err != nil {
		t.Fatal(err)
	}
	for o := range cl.ListObjects(ctx, s3.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		t.Errorf("the bucket holds %q (%v) after refused statements", o.Key, o.Err)
	}

	// A backup to a missing disk; a restore into a cluster that has a
	// stream (from a backup that exists) changes nothing.
	if _, err := queryText(p, s3.CreateDiskSQL("d", diskPrefix)); err != nil {
		t.Fatal(err)
	}
	var pe *pgconn.PgError
	if _, err := queryText(p, "BACKUP ALL TO DISK nosuch"); !errors.As(err, &pe) || pe.Code != "42704" || !strings.Contains(pe.Message, `disk "nosuch" does not exist`) {
		t.Errorf("BACKUP to a missing disk: %v, want 42704", err)
	}
	if out, err := queryText(p, "BACKUP ALL TO DISK d"); err != nil || !strings.Contains(out, "|done|") {
		t.Fatalf("BACKUP ALL TO DISK d: %q %v", out, err)
	}
	if _, err := queryText(p, "RESTORE ALL FROM DISK d"); !errors.As(err, &pe) || pe.Code != "55000" || !strings.Contains(pe.Message, "RESTORE needs an empty cluster") {
		t.Errorf("RESTORE into a cluster with a stream: %v, want 55000 RESTORE needs an empty cluster", err)
	}
	if out, err := queryText(p, "SELECT (SELECT count(*) FROM cairn_cluster.streams), (SELECT count(*) FROM cairn_cluster.views)"); err != nil || out != "1|0" {
		t.Errorf("streams|views after the refused RESTORE: %q %v, want 1|0", out, err)
	}

	// A disk in use cannot be dropped; the view keeps working.
	if _, err := queryText(p, `CREATE MATERIALIZED VIEW sv WITH (ha = 'scheduled', disk = 'd') AS SELECT count(*) AS n FROM s`); err != nil {
		t.Fatal(err)
	}
	_, err = queryText(p, "DROP DISK d")
	if !errors.As(err, &pe) || pe.Code != "55006" || !strings.Contains(pe.Message, "sv") {
		t.Errorf("DROP DISK d under view sv: %v, want 55006 naming sv", err)
	}
	if out, err := queryText(p, "SET stream_insert_level = sync_commit; INSERT INTO s VALUES (1), (2); SELECT n FROM sv"); err != nil || out != "2" {
		t.Errorf("sv after the refused DROP DISK: %q %v, want 2", out, err)
	}
}
