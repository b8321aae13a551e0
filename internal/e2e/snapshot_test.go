package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// stagedSnapshots lists the snapshot staging dirs in a node's data dir
// and how many chunk SSTs the fullest one holds.
func stagedSnapshots(p *Proc) (dirs []string, chunks int) {
	root := filepath.Join(p.DataDir, "store", "snapshots")
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		dirs = append(dirs, e.Name())
		files, _ := os.ReadDir(filepath.Join(root, e.Name()))
		n := 0
		for _, f := range files {
			if strings.HasSuffix(f.Name(), ".sst") && f.Name() != "raft.sst" {
				n++
			}
		}
		chunks = max(chunks, n)
	}
	return dirs, chunks
}

// TestSnapshotReceiverKilledMidway: a node catching up by a slow
// (snapshot_rate) snapshot is killed with SIGKILL while chunks are being
// staged; restarted, it holds no staged leftovers and no half-installed
// shard, the snapshot is sent again and the shard's data is exact.
func TestSnapshotReceiverKilledMidway(t *testing.T) {
	c := startOpsCluster(t, 3, "--unsafe-raft-log-entries", "64")
	c.must("ALTER SYSTEM SET snapshot_rate = '1MB'")
	if out := c.must("SELECT value FROM cairn_cluster.settings WHERE name = 'snapshot_rate'"); out != "1MB" {
		t.Fatalf("snapshot_rate = %q", out)
	}
	c.must("CREATE STREAM s (id int8, pad text) WITH (shards = 1, replicas = 3)")
	pad := strings.Repeat("p", 1000)
	next := int64(1)
	insert := func(batches int) {
		for range batches {
			var sb strings.Builder
			sb.WriteString("INSERT INTO s VALUES ")
			for j := range 80 {
				if j > 0 {
					sb.WriteByte(',')
				}
				fmt.Fprintf(&sb, "(%d, '%s')", next, pad)
				next++
			}
			c.must(sb.String())
		}
	}
	t0 := time.Now()
	insert(5)
	c.stop("n3")
	// ~6.4 MB in all (two chunks of 4 MiB), 75 entries of 80 KB after the
	// stop: the leader keeps at most 64 entries (--unsafe-raft-log-entries)
	// for a follower, so n3 needs a snapshot.
	insert(75)
	t.Logf("inserted %d rows in %s", next-1, time.Since(t0).Round(time.Millisecond))
	n3 := c.p("n3")
	// Launch, not Start: the kill must land while the snapshot is still
	// arriving, whatever the node is doing meanwhile.
	n3.Launch()
	t0 = time.Now()

	// Wait until n3 stages chunks of the (rate-limited) snapshot, then kill it.
	var before []string
	snapMetrics := func() string {
		var out []string
		for _, name := range []string{"n1", "n2", "n3"} {
			resp, err := http.Get("http://" + c.p(name).HTTP + "/metrics")
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "cairn_snapshot") {
					out = append(out, name+" "+l)
				}
			}
		}
		st, _ := c.query("SELECT node_id, role, applied_index FROM cairn_cluster.shards")
		return strings.Join(out, "\n") + "\n" + st
	}
	waitUntil(t, 20*time.Second, func() (bool, string) {
		dirs, chunks := stagedSnapshots(n3)
		before = dirs
		return chunks >= 1, fmt.Sprintf("staging dirs %v, %d chunks; metrics:\n%s", dirs, chunks, snapMetrics())
	})
	c.kill("n3")
	t.Logf("killed n3 with staged snapshot chunks %s after its start", time.Since(t0).Round(time.Millisecond))
	if dirs, _ := stagedSnapshots(n3); len(dirs) == 0 {
		t.Fatal("the killed node's staging dir vanished before the restart")
	}
	c.restart("n3")
	t0 = time.Now()
	if dirs, _ := stagedSnapshots(n3); slices.ContainsFunc(dirs, func(d string) bool { return slices.Contains(before, d) }) {
		t.Fatalf("staging dirs of the killed run survived the restart: %v (before the kill %v)", dirs, before)
	}
	// n3 catches up (a new snapshot) and holds exactly the stream's rows.
	want := fmt.Sprintf("%d|%d|%d", next-1, (next-1)*next/2, (next-1)*1000)
	waitUntil(t, 90*time.Second, func() (bool, string) {
		out, err := queryText(n3, "SELECT count(*), sum(id), sum(length(pad)) FROM s")
		if err != nil {
			return false, err.Error()
		}
		st, _ := queryText(n3, "SELECT node_id, role, applied_index FROM cairn_cluster.shards WHERE object = 's'")
		return out == want, fmt.Sprintf("n3 reads %s, want %s (replicas %s)", out, want, st)
	})
	t.Logf("n3 caught up %s after its restart", time.Since(t0).Round(time.Millisecond))
	if dirs, _ := stagedSnapshots(n3); len(dirs) != 0 {
		t.Fatalf("staging dirs left after the snapshot was installed: %v", dirs)
	}
	// The metrics show the snapshot traffic.
	resp, err := http.Get("http://" + n3.HTTP + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if body := string(b); !strings.Contains(body, `cairn_snapshot_bytes_total{direction="received"}`) || !strings.Contains(body, "cairn_snapshots_in_flight") {
		t.Fatalf("metrics lack the snapshot series")
	}
}
