package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/testutil"
)

// fault posts a test fault to every node.
func fault(t *testing.T, procs []*Proc, body string) {
	t.Helper()
	for _, p := range procs {
		if err := p.PostFault(context.Background(), body); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPartitionedLeader cuts the leader of a stream shard away from the
// other two nodes: writes through the majority resume, writes through the
// cut-off leader fail with a retryable error instead of being acknowledged
// (no split brain), and after healing every acknowledged event is in the
// stream and the view exactly once on every node.
func TestPartitionedLeader(t *testing.T) {
	p1 := NewProc(t)
	// A tiny raft log: a node that falls behind catches up by snapshot.
	p1.Start("--unsafe-test-faults", "--unsafe-raft-log-entries", "8")
	p2, p3 := NewProc(t), NewProc(t)
	p2.Start("--node-id", "n2", "--join", p1.Cluster, "--unsafe-test-faults", "--unsafe-raft-log-entries", "8")
	p3.Start("--node-id", "n3", "--join", p1.Cluster, "--unsafe-test-faults", "--unsafe-raft-log-entries", "8")
	procs := []*Proc{p1, p2, p3}
	byName := map[string]*Proc{"n1": p1, "n2": p2, "n3": p3}
	for name, p := range byName {
		waitUntil(t, 30*time.Second, func() (bool, string) {
			out, err := queryText(p, "SELECT role FROM cairn_cluster.shards WHERE object = 'meta' AND node_id = '"+name+"'")
			return err == nil && (out == "leader" || out == "follower"), name + " meta role: " + out + errString(err)
		})
	}
	if _, err := queryText(p1, `CREATE STREAM ps (id int8) WITH (shards = 1, replicas = 3);
		CREATE MATERIALIZED VIEW psv AS SELECT count(*) AS n, sum(id) AS ids FROM ps`); err != nil {
		t.Fatal(err)
	}
	var leader string
	waitUntil(t, 20*time.Second, func() (bool, string) {
		for name, p := range byName {
			if out, err := queryText(p, "SELECT node_id FROM cairn_cluster.shards WHERE object = 'ps' AND role = 'leader'"); err == nil && out == name {
				leader = name
				return true, ""
			}
		}
		return false, "no leader of ps"
	})
	var other *Proc
	for name, p := range byName {
		if name != leader {
			other = p
		}
	}
	acked, unknown := map[int64]bool{}, map[int64]bool{}
	next := int64(1)
	write := func(p *Proc) error {
		id := next
		next++
		_, err := queryText(p, fmt.Sprintf("INSERT INTO ps VALUES (%d)", id))
		if err == nil {
			acked[id] = true
		} else {
			unknown[id] = true
		}
		return err
	}
	for i := 0; i < 20; i++ {
		if err := write(other); err != nil {
			t.Fatal(err)
		}
	}

	fault(t, procs, `{"isolate": "`+leader+`"}`)
	cut := time.Now()
	// The majority elects a new leader and takes writes again.
	waitUntil(t, 20*time.Second, func() (bool, string) {
		err := write(other)
		return err == nil, "write through the majority: " + errString(err)
	})
	t.Logf("writes through the majority resumed %s after the cut", time.Since(cut).Round(time.Millisecond))
	for i := 0; i < 20; i++ {
		if err := write(other); err != nil {
			t.Fatalf("write through the majority: %v", err)
		}
	}
	// The cut-off node acknowledges nothing: a write through it fails
	// with a retryable error, not a hang.
	start := time.Now()
	err := write(byName[leader])
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || (pe.Code != "40001" && pe.Code != "57014") {
		t.Fatalf("write through the cut-off node: %v, want a retryable error", err)
	}
	t.Logf("write through the cut-off node failed after %s: %s %s", time.Since(start).Round(time.Millisecond), pe.Code, pe.Message)

	fault(t, procs, `{"heal": true}`)
	for i := 0; i < 10; i++ {
		waitUntil(t, 20*time.Second, func() (bool, string) {
			err := write(byName[leader])
			return err == nil, "write through the healed node: " + errString(err)
		})
	}
	var wantN, wantIDs int64
	for id := range acked {
		wantN++
		wantIDs += id
	}
	for name, p := range byName {
		waitUntil(t, 20*time.Second, func() (bool, string) {
			out, err := queryText(p, "SET read_from = leader; SELECT count(*), count(DISTINCT id), sum(id) FROM ps")
			if err != nil {
				return false, err.Error()
			}
			var n, distinct, ids int64
			fmt.Sscanf(strings.ReplaceAll(out, "|", " "), "%d %d %d", &n, &distinct, &ids)
			if n != distinct {
				t.Fatalf("%s: %d events but %d distinct ids: duplicates", name, n, distinct)
			}
			// Every acknowledged id is in; unknown ones at most once.
			return n >= wantN && n <= wantN+int64(len(unknown)) && (n > wantN || ids == wantIDs), fmt.Sprintf("%s: stream %s, want %d events summing to %d", name, out, wantN, wantIDs)
		})
		waitUntil(t, 20*time.Second, func() (bool, string) {
			view, err1 := queryText(p, "SELECT n, ids FROM psv")
			stream, err2 := queryText(p, "SET read_from = leader; SELECT count(*), sum(id) FROM ps")
			return err1 == nil && err2 == nil && view == stream, name + ": view " + view + " vs stream " + stream
		})
	}
	// No acknowledged write is missing (checked by id).
	out, err := queryText(p1, "SET read_from = leader; SELECT id FROM ps")
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		have[l] = true
	}
	for id := range acked {
		if !have[fmt.Sprint(id)] {
			t.Fatalf("acknowledged event %d lost", id)
		}
	}
	// Kill -9 the leader of the view's shard 0, write on, restart it: the
	// view fails over (new leader resumes from the stored offsets) and
	// the restarted node catches up by snapshot (its log is long gone).
	var viewLeader string
	waitUntil(t, 20*time.Second, func() (bool, string) {
		for name, p := range byName {
			if out, err := queryText(p, "SELECT node_id FROM cairn_cluster.shards WHERE object = 'psv' AND shard = 0 AND role = 'leader'"); err == nil && out == name {
				viewLeader = name
				return true, ""
			}
		}
		return false, "no leader of psv"
	})
	var survivor *Proc
	for name, p := range byName {
		if name != viewLeader {
			survivor = p
		}
	}
	byName[viewLeader].Kill()
	for i := 0; i < 40; i++ {
		waitUntil(t, 20*time.Second, func() (bool, string) {
			err := write(survivor)
			return err == nil, "write with the view leader dead: " + errString(err)
		})
	}
	byName[viewLeader].Start("--node-id", viewLeader, "--unsafe-test-faults", "--unsafe-raft-log-entries", "8")
	wantN, wantIDs = 0, 0
	for id := range acked {
		wantN++
		wantIDs += id
	}
	for name, p := range byName {
		waitUntil(t, 30*time.Second, func() (bool, string) {
			view, err1 := queryText(p, "SET read_from = leader; SELECT n, ids FROM psv")
			stream, err2 := queryText(p, "SET read_from = leader; SELECT count(*), sum(id) FROM ps")
			var n int64
			fmt.Sscan(strings.Split(view, "|")[0], &n)
			return err1 == nil && err2 == nil && view == stream && n >= wantN && n <= wantN+int64(len(unknown)),
				fmt.Sprintf("%s after the view leader's restart: view %s vs stream %s (acked %d)", name, view, stream, wantN)
		})
	}
	checkOneLeaderPerTerm(t, byName)
	if out, err := queryText(p2, "SELECT count(*) > 0 FROM cairn_cluster.leader_terms WHERE node_id = 'n2'"); err != nil || out != "t" {
		t.Fatalf("cairn_cluster.leader_terms on n2: %q %v", out, err)
	}
}

// checkOneLeaderPerTerm reads every node's leader-terms.log (also of
// nodes that are down) and fails if two nodes led and committed in the
// same term of the same group: split brain.
func checkOneLeaderPerTerm(t *testing.T, procs map[string]*Proc) {
	t.Helper()
	terms := map[string]string{}
	for name, p := range procs {
		b, err := os.ReadFile(filepath.Join(p.DataDir, "leader-terms.log"))
		if err != nil {
			t.Fatal(err)
		}
		terms[name] = string(b)
	}
	r := testutil.CheckSplitBrain(terms)
	if !r.OK || r.Checked == 0 {
		t.Fatalf("%s", r)
	}
	t.Logf("%s, one leader each", r.Note)
}
