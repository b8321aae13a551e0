package main

import (
	"context"

	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/cairndb/cairn/internal/testutil"
)

// demoConfig is what `cairn demo` starts.
type demoConfig struct {
	Nodes    int
	Rate     int    // events per second of the load generator (0: none)
	HTTPPort int    // n1's HTTP port; node i listens on HTTPPort+i-1 (0: any free port)
	PGPort   int    // n1's PostgreSQL port, likewise
	Keep     bool   // leave the data dir and logs behind
	Bin      string // the cairn binary (default: this one)
}

func demoCmd() *cobra.Command {
	var cfg demoConfig
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start a local cluster with a demo stream, a view and a load generator, and print the console's address",
		Long: `Start --nodes local cairn nodes (real 'cairn start' processes of this binary,
insecure, on 127.0.0.1) with their data in a new temp dir, create the stream
demo_clicks and the view demo_pages, and insert --rate events a second
through the nodes in turn. Prints the web console's URL and a psql
connection string. Ctrl-C stops the load and every node it started (by
PID) and removes the temp dir (--keep leaves it, with each node's log).
See docs/console.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.Nodes < 1 || cfg.Nodes > 9 {
				return exitWith(exitUsage, fmt.Errorf("--nodes must be between 1 and 9, got %d", cfg.Nodes))
			}
			if cfg.Rate < 0 || cfg.Rate > 100000 {
				return exitWith(exitUsage, fmt.Errorf("--rate must be between 0 and 100000 events a second, got %d", cfg.Rate))
			}
			for _, p := range []struct {
				flag string
				port int
			}{{"--http-port", cfg.HTTPPort}, {"--pg-port", cfg.PGPort}} {
				if p.port != 0 && (p.port < 1024 || p.port+cfg.Nodes-1 > 65535) {
					return exitWith(exitUsage, fmt.Errorf("%s must be 0 (any free port) or a port from 1024 that leaves room for %d nodes, got %d", p.flag, cfg.Nodes, p.port))
				}
			}
			if cfg.Bin == "" {
				exe, err := os.Executable()
				if err != nil {
					return exitWith(exitError, fmt.Errorf("finding the cairn binary: %v", err))
				}
				cfg.Bin = exe
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Nodes, "nodes", 3, "nodes to start (1 to 9)")
	f.IntVar(&cfg.Rate, "rate", 100, "events a second the load generator inserts (0: no load)")
	f.IntVar(&cfg.HTTPPort, "http-port", 8480, "HTTP port of n1 (the console); node i gets http-port+i-1; 0 picks free ports")
	f.IntVar(&cfg.PGPort, "pg-port", 5480, "PostgreSQL port of n1; node i gets pg-port+i-1; 0 picks free ports")
	f.BoolVar(&cfg.Keep, "keep", false, "keep the data dir and the nodes' logs when the demo ends")
	return cmd
}

// demoSchema is the demo's stream and view.
const demoSchema = `CREATE STREAM demo_clicks (page text, country text, ms int8) WITH (shards = 3, replicas = %d);
CREATE MATERIALIZED VIEW demo_pages AS SELECT page, count(*) AS clicks, avg(ms) AS avg_ms, max(ms) AS max_ms FROM demo_clicks GROUP BY page`

// portFree reports whether addr can be listened on now.
func portFree(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ln.Close()
}

// runDemo starts the cluster, runs the load until ctx ends, then stops
// everything it started.
func runDemo(ctx context.Context, cfg demoConfig, out, errOut io.Writer) (err error) {
	dir, err := os.MkdirTemp("", "cairn-demo-")
	if err != nil {
		return exitWith(exitError, err)
	}
	var nodes []*testutil.Node
	defer func() {
		fmt.Fprintf(errOut, "cairn demo: stopping %d nodes\n", len(nodes))
		for _, n := range nodes {
			if n.Running() {
				_, _, _ = n.Terminate(10 * time.Second)
			}
		}
		if cfg.Keep {
			fmt.Fprintf(errOut, "cairn demo: data and logs kept in %s\n", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	for i := 1; i <= cfg.Nodes; i++ {
		name := fmt.Sprintf("n%d", i)
		n, err := testutil.NewNode(cfg.Bin, name, filepath.Join(dir, name))
		if err != nil {
			return exitWith(exitError, err)
		}
		if cfg.HTTPPort != 0 {
			n.HTTP = fmt.Sprintf("127.0.0.1:%d", cfg.HTTPPort+i-1)
		}
		if cfg.PGPort != 0 {
			n.PGAddr = fmt.Sprintf("127.0.0.1:%d", cfg.PGPort+i-1)
		}
		for _, a := range []struct{ flag, addr string }{{"--http-port", n.HTTP}, {"--pg-port", n.PGAddr}} {
			if err := portFree(a.addr); err != nil {
				return exitWith(exitAddrInUse, fmt.Errorf("%s of %s is taken (%v): pass another %s, or 0 for free ports", a.addr, name, err, a.flag))
			}
		}
		n.Args = []string{"--log-level", "warn"}
		if i > 1 {
			n.Args = append(n.Args, "--join", nodes[0].Cluster)
		}
		n.LogPath = filepath.Join(dir, name+".log")
		n.Label = "demo"
		// Its own process group: a terminal's Ctrl-C reaches only the
		// demo, which stops the nodes itself.
		n.OwnGroup = true
		nodes = append(nodes, n)
		fmt.Fprintf(errOut, "cairn demo: starting %s (pg %s, http %s)\n", name, n.PGAddr, n.HTTP)
		if err := n.Start(ctx); err != nil {
			return exitWith(exitError, fmt.Errorf("starting %s: %v (log: %s)", name, err, n.LogPath))
		}
	}
	url := nodes[0].URL()
	if err := waitDemoLive(ctx, url, cfg.Nodes); err != nil {
		return exitWith(exitError, err)
	}
	if _, err := testutil.Query(ctx, url, 30*time.Second, fmt.Sprintf(demoSchema, min(3, cfg.Nodes))); err != nil {
		return exitWith(exitError, fmt.Errorf("creating the demo stream and view: %v", err))
	}
	fmt.Fprintf(out, "Cairn demo: %d nodes, %d events/s into demo_clicks, view demo_pages\n", cfg.Nodes, cfg.Rate)
	fmt.Fprintf(out, "  console:  http://%s/\n", nodes[0].HTTP)
	host, port, _ := net.SplitHostPort(nodes[0].PGAddr)
	fmt.Fprintf(out, "  psql:     psql 'postgres://cairn@%s:%s/cairn?sslmode=disable'\n", host, port)
	fmt.Fprintf(out, "  try:      SELECT * FROM demo_pages ORDER BY clicks DESC;\n")
	fmt.Fprintf(out, "  data:     %s\n", dir)
	fmt.Fprintf(out, "Press Ctrl-C to stop.\n")
	load(ctx, nodes, cfg.Rate, errOut)
	return nil
}

// waitDemoLive waits until n1 sees every node live.
func waitDemoLive(ctx context.Context, url string, n int) error {
	want := fmt.Sprint(n)
	deadline := time.Now().Add(60 * time.Second)
	last := ""
	for time.Now().Before(deadline) {
		rows, err := testutil.Query(ctx, url, 2*time.Second, "SELECT count(*) FROM cairn_cluster.nodes WHERE state = 'live'")
		if err == nil && len(rows) == 1 && rows[0][0] == want {
			return nil
		}
		last = fmt.Sprint(rows, err)
		if err := testutil.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("the demo cluster did not see %d live nodes within 60 s: %s", n, last)
}

// demoPage picks a page for a number in [0, 100): some pages are far
// more popular than others, so the view's counts differ.
func demoPage(p int) string {
	for _, c := range []struct {
		below int
		page  string
	}{{35, "/"}, {55, "/docs"}, {70, "/pricing"}, {80, "/blog"}, {88, "/signup"}, {95, "/login"}} {
		if p < c.below {
			return c.page
		}
	}
	return "/about"
}

var demoCountries = []string{"de", "us", "fr", "jp", "br", "in"}

// load inserts rate events a second, ten batches a second, through the
// running nodes in turn, until ctx ends. A failed batch (a node just
// killed) is reported once per node and the next node is tried.
func load(ctx context.Context, nodes []*testutil.Node, rate int, errOut io.Writer) {
	if rate == 0 {
		<-ctx.Done()
		return
	}
	conns := map[string]*pgx.Conn{}
	defer func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	}()
	per := max(1, rate/10)
	t := time.NewTicker(time.Second * time.Duration(per) / time.Duration(rate))
	defer t.Stop()
	failing := map[string]bool{}
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := nodes[i%len(nodes)]
		if !n.Running() {
			continue
		}
		c := conns[n.Name]
		if c == nil {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			var err error
			c, err = pgx.Connect(cctx, n.URL())
			cancel()
			if err != nil {
				continue
			}
			conns[n.Name] = c
		}
		var sb strings.Builder
		sb.WriteString("INSERT INTO demo_clicks VALUES ")
		for j := range per {
			if j > 0 {
				sb.WriteByte(',')
			}
			k := (i*per + j) * 7919
			page := demoPage(k % 100)
			fmt.Fprintf(&sb, "('%s','%s',%d)", page, demoCountries[k%len(demoCountries)], 5+k%250)
		}
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.Exec(ictx, sb.String())
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing[n.Name] {
				fmt.Fprintf(errOut, "cairn demo: insert through %s failed: %v\n", n.Name, err)
				failing[n.Name] = true
			}
			c.Close(context.Background())
			delete(conns, n.Name)
		case err == nil && failing[n.Name]:
			fmt.Fprintf(errOut, "cairn demo: inserts through %s work again\n", n.Name)
			failing[n.Name] = false
		}
	}
}
