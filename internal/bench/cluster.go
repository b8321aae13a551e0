package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/testutil"
)

// localCluster is a cluster of n `cairn start` processes of this binary
// in a temp dir (n1 bootstraps, the others join it), live on every node.
// Their output goes to stderr; Stop ends them and removes the dir.
type localCluster struct {
	*testutil.Cluster
	nodes []*testutil.Node
}

// startLocalCluster starts the cluster of n nodes. A secure one gets
// certificates made for the run in its temp dir
// (testutil.CreateCerts) and every node --certs-dir; clients then connect
// with TLS and client.cairn.
func startLocalCluster(ctx context.Context, n int, noSync, secure bool, nodeArgs ...string) (*localCluster, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := &testutil.Cluster{Bin: self, Args: []string{"--log-level", "warn"}, Echo: os.Stderr}
	if noSync {
		c.Args = append(c.Args, "--unsafe-no-fsync")
	}
	c.Args = append(c.Args, nodeArgs...)
	if secure {
		if c.Dir, err = os.MkdirTemp("", "cairn-cluster-"); err != nil {
			return nil, err
		}
		c.CertsDir = filepath.Join(c.Dir, "certs")
		if err := testutil.CreateCerts(c.CertsDir); err != nil {
			os.RemoveAll(c.Dir)
			return nil, fmt.Errorf("certificates for --secure: %w", err)
		}
	}
	if err := testutil.StartCluster(ctx, c, n); err != nil {
		return nil, err
	}
	return &localCluster{Cluster: c, nodes: c.Nodes()}, nil
}

// LocalCluster is Options.StartNode for a local cluster of n nodes
// (without fsync with noSync: not for published figures; secure: TLS on
// every connection, see startLocalCluster).
func LocalCluster(n int, noSync, secure bool) func(ctx context.Context) (string, func(), error) {
	start, _ := LocalClusterStats(n, noSync, secure)
	return start
}

// LocalClusterStats is LocalCluster with more flags for every node
// (e.g. --view-cache), plus Options.PeakRSS for the nodes it starts.
func LocalClusterStats(n int, noSync, secure bool, nodeArgs ...string) (start func(ctx context.Context) (string, func(), error), peakRSS func() []int64) {
	var mu sync.Mutex
	var nodes []*testutil.Node
	start = func(ctx context.Context) (string, func(), error) {
		c, err := startLocalCluster(ctx, n, noSync, secure, nodeArgs...)
		if err != nil {
			return "", nil, err
		}
		mu.Lock()
		nodes = c.nodes
		mu.Unlock()
		return c.nodes[0].URL(), func() { c.printPebble(); c.Stop() }, nil
	}
	peakRSS = func() []int64 {
		mu.Lock()
		defer mu.Unlock()
		out := make([]int64, len(nodes))
		for i, nd := range nodes {
			out[i], _ = nd.PeakRSS() // 0: not running, or not Linux
		}
		return out
	}
	return start, peakRSS
}

// printPebble prints each node's engine write figures (GET /debug/pebble)
// to stderr: how many bytes compaction rewrote against what came in.
func (c *localCluster) printPebble() {
	for _, n := range c.nodes {
		if !n.Running() {
			continue
		}
		hc, err := n.HTTPClient(5 * time.Second)
		if err != nil {
			continue
		}
		resp, err := hc.Get(n.HTTPBase() + "/debug/pebble")
		if err != nil {
			fmt.Fprintf(os.Stderr, "pebble %s: %v\n", n.Name, err)
			continue
		}
		var st struct {
			WAL       uint64  `json:"wal_bytes"`
			Flushed   uint64  `json:"flushed_bytes"`
			Compacted uint64  `json:"compacted_bytes"`
			Ingested  uint64  `json:"ingested_bytes"`
			WriteAmp  float64 `json:"write_amp"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "pebble %s: %v\n", n.Name, err)
			continue
		}
		mb := func(b uint64) float64 { return float64(b) / 1e6 }
		fmt.Fprintf(os.Stderr, "pebble %-4s WAL %.1f MB, flushed %.1f MB, compacted %.1f MB, ingested %.1f MB, write amp %.2f\n",
			n.Name, mb(st.WAL), mb(st.Flushed), mb(st.Compacted), mb(st.Ingested), st.WriteAmp)
	}
}

// connect opens a connection to node i, bounded by 3 s.
func (c *localCluster) connect(ctx context.Context, i int) (*pgconn.PgConn, error) {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return pgconn.Connect(cctx, c.nodes[i].URL())
}

// closeConn closes conn if it is open.
func closeConn(conn *pgconn.PgConn) {
	if conn != nil {
		conn.Close(context.Background())
	}
}

// query runs sql on the first running node in order (starting at from,
// skipping skip) that answers, and returns the last result's rows.
func (c *localCluster) query(ctx context.Context, from, skip int, sql string) ([][]string, error) {
	var last error
	for k := range c.nodes {
		i := (from + k) % len(c.nodes)
		if i == skip || !c.nodes[i].Running() {
			continue
		}
		rows, err := testutil.Query(ctx, c.nodes[i].URL(), 10*time.Second, sql)
		if err == nil {
			return rows, nil
		}
		last = err
	}
	if last == nil {
		last = errors.New("no node to ask")
	}
	return nil, last
}

// batchLog numbers the batches of a load and records, per batch number,
// whether it was acknowledged. Batch n carries ids n*size+1 … (n+1)*size,
// so every id is sent once: a failed batch is never resent, and
// duplicates in the stream can only come from the server.
type batchLog struct {
	size int64
	next atomic.Int64
	mu   struct {
		sync.Mutex
		acked   []bool
		via     map[int]int64 // acked batches by the node they were sent to
		ackAt   []time.Time   // end of every acknowledged batch, in ack order
		failAt  []time.Time
		refused []time.Time // new sessions refused with 57P03
	}
}

// take returns the next batch number and its first id.
func (b *batchLog) take() (n, first int64) {
	n = b.next.Add(1) - 1
	return n, n*b.size + 1
}

func (b *batchLog) done(n int64, node int, ok bool, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.via == nil {
		b.mu.via = map[int]int64{}
	}
	for int64(len(b.mu.acked)) <= n {
		b.mu.acked = append(b.mu.acked, false)
	}
	b.mu.acked[n] = ok
	if ok {
		b.mu.via[node]++
		b.mu.ackAt = append(b.mu.ackAt, at)
	} else {
		b.mu.failAt = append(b.mu.failAt, at)
	}
}

func (b *batchLog) refusedAt(at time.Time) {
	b.mu.Lock()
	b.mu.refused = append(b.mu.refused, at)
	b.mu.Unlock()
}

// sent is every batch as the exactly-once checker takes them.
func (b *batchLog) sent() []testutil.Batch {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]testutil.Batch, len(b.mu.acked))
	for n, ok := range b.mu.acked {
		out[n] = testutil.Batch{First: int64(n)*b.size + 1, Count: int(b.size), OK: ok}
	}
	return out
}

// counts returns the acknowledged and failed batches.
func (b *batchLog) counts() (acked, failed int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return int64(len(b.mu.ackAt)), int64(len(b.mu.failAt))
}

// window reports, for [from, to], the longest time without an ack, and
// the acked and failed batches and refused sessions inside it.
func (b *batchLog) window(from, to time.Time) (gap time.Duration, acked, failed, refused int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	last := from
	for _, at := range b.mu.ackAt {
		if at.Before(from) || at.After(to) {
			continue
		}
		gap = max(gap, at.Sub(last))
		last = at
		acked++
	}
	gap = max(gap, to.Sub(last))
	in := func(ts []time.Time) (n int64) {
		for _, at := range ts {
			if !at.Before(from) && !at.After(to) {
				n++
			}
		}
		return n
	}
	return gap, acked, in(b.mu.failAt), in(b.mu.refused)
}

// verdict is what the exactly-once checker found.
type verdict struct {
	lost, duplicated, unexpected int64 // acked ids missing; ids there twice or more; ids never sent
	unknownIn                    int64 // ids of failed batches that made it
	checks                       []testutil.CheckResult
}

// judge runs the exactly-once checker over the ids read back (sorted in
// place) and counts the ids of failed batches that made it.
func judge(batches []testutil.Batch, ids []int64) verdict {
	checks := testutil.ExactlyOnce(batches, ids)
	v := verdict{lost: int64(checks[0].Count), duplicated: int64(checks[1].Count), unexpected: int64(checks[2].Count), checks: checks}
	for _, b := range batches {
		if b.OK {
			continue
		}
		for id := b.First; id < b.First+int64(b.Count); id++ {
			if _, ok := slices.BinarySearch(ids, id); ok {
				v.unknownIn++
			}
		}
	}
	return v
}
