package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// queryText runs a query on a fresh connection and returns the rows as
// "a|b" lines, or the error.
func queryText(p *Proc, sql string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := pgconn.Connect(ctx, p.URL())
	if err != nil {
		return "", err
	}
	defer c.Close(context.Background())
	res, err := c.Exec(ctx, sql).ReadAll()
	if err != nil {
		return "", err
	}
	var lines []string
	for _, r := range res {
		for _, row := range r.Rows {
			vals := make([]string, len(row))
			for i, v := range row {
				vals[i] = string(v)
			}
			lines = append(lines, strings.Join(vals, "|"))
		}
	}
	return strings.Join(lines, "\n"), nil
}

// TestClusterMembership starts three real nodes (two join through the
// first), checks that every node sees every other live and that the meta
// group has three voters, runs DDL through a follower, kills the first
// node (the meta leader) with SIGKILL and checks DDL still works, then
// restarts it and checks it catches up.
func TestClusterMembership(t *testing.T) {
	p1 := NewProc(t)
	p1.Start()
	p2, p3 := NewProc(t), NewProc(t)
	p2.Start("--node-id", "n2", "--join", p1.Cluster)
	p3.Start("--node-id", "n3", "--join", p1.Cluster, "--zone", "z3")
	procs := []*Proc{p1, p2, p3}
	names := []string{"n1", "n2", "n3"}

	for i, p := range procs {
		waitUntil(t, 30*time.Second, func() (bool, string) {
			out, err := queryText(p, "SELECT node_id, state FROM cairn_cluster.nodes ORDER BY node_id")
			return err == nil && out == "n1|live\nn2|live\nn3|live", names[i] + " sees: " + out + errString(err)
		})
		waitUntil(t, 30*time.Second, func() (bool, string) {
			out, err := queryText(p, "SELECT role FROM cairn_cluster.shards WHERE object = 'meta' AND node_id = '"+names[i]+"'")
			return err == nil && (out == "leader" || out == "follower"), names[i] + " meta role: " + out + errString(err)
		})
	}
	if out, err := queryText(p3, "SELECT zone FROM cairn_cluster.nodes WHERE node_id = 'n3'"); err != nil || out != "z3" {
		t.Fatalf("zone of n3: %q %v", out, err)
	}

	// DDL through a follower of the meta group; the stream lives on n2.
	if _, err := queryText(p2, "CREATE STREAM s (k int8); SET stream_insert_level = sync_commit; CREATE MATERIALIZED VIEW sv AS SELECT k, count(*) AS n FROM s GROUP BY k"); err != nil {
		t.Fatal(err)
	}
	if _, err := queryText(p2, "SET stream_insert_level = sync_commit; INSERT INTO s VALUES (1), (1), (2)"); err != nil {
		t.Fatal(err)
	}
	if out, err := queryText(p2, "SELECT k, n FROM sv ORDER BY k"); err != nil || out != "1|2\n2|1" {
		t.Fatalf("view on n2: %q %v", out, err)
	}
	waitUntil(t, 10*time.Second, func() (bool, string) {
		out, err := queryText(p3, "SELECT name FROM cairn_cluster.streams")
		return err == nil && out == "s", "n3 streams: " + out + errString(err)
	})
	_, err := queryText(p1, "INSERT INTO s VALUES (3)")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "0A000" || !strings.Contains(pe.Message, "lives on node n2") {
		t.Fatalf("insert on a node without the shard: %v", err)
	}
	if _, err := queryText(p1, "CREATE STREAM r (k int8) WITH (replicas = 3)"); !errors.As(err, &pe) || pe.Code != "0A000" {
		t.Fatalf("replicas = 3: %v", err)
	}

	// Kill the meta leader; the other two elect one and DDL keeps working.
	p1.Kill()
	waitUntil(t, 20*time.Second, func() (bool, string) {
		_, err := queryText(p3, "CREATE STREAM IF NOT EXISTS after_kill (k int8)")
		return err == nil, "DDL after the kill: " + errString(err)
	})
	waitUntil(t, 20*time.Second, func() (bool, string) {
		out, err := queryText(p2, "SELECT state FROM cairn_cluster.nodes WHERE node_id = 'n1'")
		return err == nil && out == "suspect", "n1 as seen by n2: " + out + errString(err)
	})
	// Data on n2 is unaffected.
	if out, err := queryText(p2, "SELECT count(*) FROM s"); err != nil || out != "3" {
		t.Fatalf("stream on n2 after the kill: %q %v", out, err)
	}

	// The killed node comes back with its raft id and catches up.
	p1.Start()
	waitUntil(t, 30*time.Second, func() (bool, string) {
		out, err := queryText(p1, "SELECT name FROM cairn_cluster.streams ORDER BY name")
		return err == nil && out == "after_kill\ns", "n1 streams after restart: " + out + errString(err)
	})
	waitUntil(t, 30*time.Second, func() (bool, string) {
		out, err := queryText(p2, "SELECT state FROM cairn_cluster.nodes WHERE node_id = 'n1'")
		return err == nil && out == "live", "n1 as seen by n2 after restart: " + out + errString(err)
	})
	_ = pgx.Identifier{}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}
