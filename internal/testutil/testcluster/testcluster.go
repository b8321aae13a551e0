// Package testcluster runs a cluster of real Cairn nodes inside one test
// process: each node is a node.Node on 127.0.0.1 with its own temp data
// dir, and all of them obey one transport.Faults, so a test can drop,
// delay and partition traffic between chosen nodes, and stop and restart
// nodes. Running every node in one process puts the whole cluster under
// the race detector.
package testcluster

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairndb/cairn/internal/node"
	"github.com/cairndb/cairn/internal/testutil"
	"github.com/cairndb/cairn/internal/transport"
)

// Cluster is a running in-process cluster.
type Cluster struct {
	t      testing.TB
	Faults *transport.Faults
	cfgs   []node.Config
	nodes  []*node.Node // nil while stopped
}

func freeAddr(t testing.TB) string {
	t.Helper()
	addr, err := testutil.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// Start starts n nodes (the first bootstraps, the others join it) and
// waits until each sees all n live. Nodes are stopped at test end.
func Start(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Faults: transport.NewFaults()}
	for i := 0; i < n; i++ {
		cfg := node.Config{
			DataDir:     filepath.Join(t.TempDir(), fmt.Sprintf("n%d", i+1)),
			PGAddr:      freeAddr(t),
			HTTPAddr:    freeAddr(t),
			ClusterAddr: freeAddr(t),
			NodeID:      fmt.Sprintf("n%d", i+1),
			NoSync:      true,
			Faults:      c.Faults,
			Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
		if i > 0 {
			cfg.Join = []string{c.cfgs[0].ClusterAddr}
		}
		c.cfgs = append(c.cfgs, cfg)
		c.nodes = append(c.nodes, nil)
		c.Restart(i)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.Stop(i)
		}
	})
	for i := range c.nodes {
		c.WaitFor(30*time.Second, func() (bool, string) {
			var live int
			err := c.QueryRow(i, "SELECT count(*) FROM cairn_cluster.nodes WHERE state = 'live'").Scan(&live)
			return err == nil && live == n, fmt.Sprintf("n%d sees %d live nodes (%v)", i+1, live, err)
		})
	}
	return c
}

// Restart starts node i (again, on the same data dir and addresses).
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	nd, err := node.Start(c.cfgs[i])
	if err != nil {
		c.t.Fatalf("start n%d: %v", i+1, err)
	}
	c.nodes[i] = nd
}

// Stop stops node i cleanly (no-op if stopped).
func (c *Cluster) Stop(i int) {
	if c.nodes[i] != nil {
		_ = c.nodes[i].Close()
		c.nodes[i] = nil
	}
}

// ID is node i's raft id.
func (c *Cluster) ID(i int) uint64 { return c.nodes[i].RaftID() }

// Name is node i's node id ("n1", ...).
func (c *Cluster) Name(i int) string { return c.cfgs[i].NodeID }

// URL is node i's PostgreSQL URL.
func (c *Cluster) URL(i int) string {
	return "postgres://cairn@" + c.cfgs[i].PGAddr + "/cairn?sslmode=disable"
}

// Exec runs statements on node i (simple protocol) with a 15 s bound.
func (c *Cluster) Exec(i int, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL(i))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	return err
}

// QueryRow runs one query on node i.
func (c *Cluster) QueryRow(i int, sql string) pgx.Row {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	conn, err := pgx.Connect(ctx, c.URL(i))
	if err != nil {
		cancel()
		return errRow{err}
	}
	return closingRow{conn.QueryRow(ctx, sql), conn, cancel}
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type closingRow struct {
	pgx.Row
	conn   *pgx.Conn
	cancel context.CancelFunc
}

func (r closingRow) Scan(dst ...any) error {
	defer r.cancel()
	defer r.conn.Close(context.Background())
	return r.Row.Scan(dst...)
}

// WaitFor polls cond every 20 ms until it holds or timeout passes.
func (c *Cluster) WaitFor(timeout time.Duration, cond func() (bool, string)) {
	c.t.Helper()
	testutil.WaitUntil(c.t, timeout, cond)
}

// Node is node i (nil while stopped), for tests that drive it directly.
func (c *Cluster) Node(i int) *node.Node { return c.nodes[i] }
