package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/cobra"

	"github.com/cairndb/cairn/internal/bench"
)

func benchCmd() *cobra.Command {
	var o bench.Options
	var noSync bool
	var nodes, kills int
	var failover, rolling, jsonOut bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run a workload against a node and report throughput, latency and view freshness",
		Long: `Run workload W1 (events of 10,000 devices in 8 regions, a per_device view)
against the node at --url, or against a node started in a temporary data dir
when --url is empty. Prints a table and writes the figures as JSON to --out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if rolling {
				if failover || o.URL != "" {
					return &exitErr{exitUsage, fmt.Errorf("--rolling-restart starts its own cluster and cannot be combined with --failover or --url")}
				}
				if !cmd.Flags().Changed("nodes") {
					nodes = 3
				}
				if nodes < 3 || nodes > 9 {
					return &exitErr{exitUsage, fmt.Errorf("--rolling-restart needs --nodes between 3 and 9, got %d", nodes)}
				}
				out := o.Out
				if !cmd.Flags().Changed("out") {
					out = "bench-rolling.json"
				}
				res, err := runRollingRestart(ctx, nodes, o.Clients, noSync, out, cmd.ErrOrStderr())
				if res != nil {
					printRolling(res, jsonOut, cmd.OutOrStdout(), cmd.ErrOrStderr())
				}
				if err != nil {
					return &exitErr{exitError, err}
				}
				return nil
			}
			if jsonOut {
				return &exitErr{exitUsage, fmt.Errorf("--json goes with --rolling-restart")}
			}
			if failover {
				if o.URL != "" {
					return &exitErr{exitUsage, fmt.Errorf("--failover starts its own cluster; drop --url")}
				}
				if !cmd.Flags().Changed("nodes") {
					nodes = 3
				}
				out := o.Out
				if !cmd.Flags().Changed("out") {
					out = "bench-failover.json"
				}
				res, err := runFailover(ctx, nodes, kills, o.Clients, noSync, out, cmd.ErrOrStderr())
				if res != nil {
					res.print(cmd.OutOrStdout())
				}
				if err != nil {
					return &exitErr{exitError, err}
				}
				return nil
			}
			o.Progress = cmd.ErrOrStderr()
			if nodes < 1 || nodes > 9 {
				return &exitErr{exitUsage, fmt.Errorf("--nodes must be between 1 and 9, got %d", nodes)}
			}
			o.StartNode = func(ctx context.Context) (string, func(), error) { return startTempCluster(ctx, nodes, noSync) }
			res, err := bench.Run(ctx, o)
			if res != nil {
				res.Print(cmd.OutOrStdout())
			}
			if err != nil {
				return &exitErr{exitError, err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Workload, "workload", "w1", "workload to run (w1)")
	f.IntVar(&o.Events, "events", 1_000_000, "events to send")
	f.IntVar(&o.Batch, "batch", 1000, "events per batch (one COPY or INSERT)")
	f.IntVar(&o.Clients, "clients", 4, "concurrent client connections")
	f.StringVar(&o.URL, "url", "", "postgres:// URL of a running node; empty starts one in a temp dir")
	f.StringVar(&o.Out, "out", "bench-w1.json", "JSON result file (- for none)")
	f.StringVar(&o.Mode, "mode", "binary", "ingest path: binary (binary COPY, encoded before the clock starts), copy (pgx CopyFrom, encoded by pgx while running), csv (COPY csv) or insert (multi-row INSERT)")
	f.BoolVar(&noSync, "unsafe-no-fsync", false, "start the temp node without fsync (not for published figures)")
	f.BoolVar(&failover, "failover", false, "kill the leader of a busy stream shard --kills times under load and report write and follower-read unavailability")
	f.BoolVar(&rolling, "rolling-restart", false, "drain, stop (SIGTERM) and restart every node of a local cluster in turn under load; report each step's write disturbance and verify no acknowledged event was lost or duplicated")
	f.BoolVar(&jsonOut, "json", false, "with --rolling-restart: print the result as JSON on stdout (the table goes to stderr)")
	f.IntVar(&kills, "kills", 10, "with --failover: how many leader kills")
	f.IntVar(&nodes, "nodes", 1, "without --url: how many local nodes to start (a cluster of separate processes; streams and views get min(3, nodes) replicas)")
	return cmd
}

// connect opens a connection to node i, bounded by 3 s.
func (c *tempCluster) connect(ctx context.Context, i int) (*pgconn.PgConn, error) {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return pgconn.Connect(cctx, c.url(i))
}

// freePort returns a loopback address with a port free right now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tempNode is one `cairn start` process of a temporary cluster.
type tempNode struct {
	name   string
	args   []string
	cmd    *exec.Cmd
	exited chan error
	pg     string
}

// tempCluster is a set of local `cairn start` processes in a temp dir.
type tempCluster struct {
	dir   string
	self  string
	nodes []*tempNode
}

// start (re)starts node i and waits until it accepts connections.
func (c *tempCluster) start(ctx context.Context, i int) error {
	p := c.nodes[i]
	cmd := exec.Command(c.self, p.args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	p.cmd, p.exited = cmd, make(chan error, 1)
	go func() { p.exited <- cmd.Wait() }()
	return waitPG(ctx, p)
}

// kill sends SIGKILL to node i and waits for it to exit.
func (c *tempCluster) kill(i int) {
	p := c.nodes[i]
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

func (c *tempCluster) url(i int) string {
	return fmt.Sprintf("postgres://cairn@%s/cairn?sslmode=disable", c.nodes[i].pg)
}

// stop ends every process and removes the temp dir.
func (c *tempCluster) stop() {
	for _, p := range c.nodes {
		if p.cmd != nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	for _, p := range c.nodes {
		if p.cmd == nil {
			continue
		}
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	os.RemoveAll(c.dir)
}

// newTempCluster starts n `cairn start` processes from this binary in a
// temp dir (the first bootstraps, the others join it) and waits until
// every node is live.
func newTempCluster(ctx context.Context, n int, noSync bool) (*tempCluster, error) {
	dir, err := os.MkdirTemp("", "cairn-bench-")
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	c := &tempCluster{dir: dir, self: self}
	var seed string
	for i := 0; i < n; i++ {
		var addrs [3]string
		for j := range addrs {
			if addrs[j], err = freePort(); err != nil {
				c.stop()
				return nil, err
			}
		}
		name := fmt.Sprintf("n%d", i+1)
		args := []string{"start", "--node-id", name, "--data-dir", filepath.Join(dir, name),
			"--pg-addr", addrs[0], "--http-addr", addrs[1], "--cluster-addr", addrs[2], "--log-level", "warn"}
		if i == 0 {
			seed = addrs[2]
		} else {
			args = append(args, "--join", seed)
		}
		if noSync {
			args = append(args, "--unsafe-no-fsync")
		}
		c.nodes = append(c.nodes, &tempNode{name: name, args: args, pg: addrs[0]})
		if err := c.start(ctx, i); err != nil {
			c.stop()
			return nil, err
		}
	}
	if n > 1 {
		if err := waitLive(ctx, c.url(0), n); err != nil {
			c.stop()
			return nil, err
		}
	}
	return c, nil
}

// startTempCluster is bench.Options.StartNode for a local cluster of n.
func startTempCluster(ctx context.Context, n int, noSync bool) (string, func(), error) {
	c, err := newTempCluster(ctx, n, noSync)
	if err != nil {
		return "", nil, err
	}
	return c.url(0), c.stop, nil
}

// waitPG waits until a node accepts PostgreSQL connections.
func waitPG(ctx context.Context, p *tempNode) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if conn, err := net.DialTimeout("tcp", p.pg, 200*time.Millisecond); err == nil {
			conn.Close()
			return nil
		}
		select {
		case err := <-p.exited:
			return fmt.Errorf("bench node exited during start: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("bench node did not accept connections on %s within 30s", p.pg)
}

// waitLive waits until the node at url sees n live nodes, and a little
// more for the meta group to promote its voters.
func waitLive(ctx context.Context, url string, n int) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := pgx.Connect(cctx, url)
		if err == nil {
			var live int
			err = c.QueryRow(cctx, "SELECT count(*) FROM cairn_cluster.nodes WHERE state = 'live'").Scan(&live)
			c.Close(context.Background())
			if err == nil && live == n {
				cancel()
				time.Sleep(2 * time.Second)
				return nil
			}
		}
		cancel()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("the bench cluster did not see %d live nodes within 30s", n)
}
