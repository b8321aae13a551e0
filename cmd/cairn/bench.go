package main

import (
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairndb/cairn/internal/bench"
)

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func benchCmd() *cobra.Command {
	var o bench.Options
	var noSync bool
	var nodes, kills int
	var failover, rolling, jsonOut, secure bool
	var haModels string
	var deadAfter, steady time.Duration
	var viewCache, maxMemory string
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run a workload against a node and report throughput, latency and view freshness",
		Long: `Run workload W1 (events of 10,000 devices in 8 regions, a per_device view;
--devices changes the number)
or W2 (the same events into three views at once: per device per minute with
tumble(), distinct devices per region per minute with approx_count_distinct,
and the 99th percentile of value per region over a 5-minute sliding window)
or W1join (W1 with its view joined to a 10,000-row device table)
against the node at --url, or against a node started in a temporary data dir
when --url is empty. Prints a table and writes the figures as JSON to --out
(default bench-<workload>.json).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if secure && (o.URL != "" || failover || rolling) {
				return exitWith(exitUsage, fmt.Errorf("--secure starts the local nodes secure and works only without --url, --failover and --rolling-restart; against a running secure node, give --url with sslmode=verify-full, sslrootcert, sslcert and sslkey"))
			}
			if rolling {
				if failover || o.URL != "" {
					return exitWith(exitUsage, fmt.Errorf("--rolling-restart starts its own cluster and cannot be combined with --failover or --url"))
				}
				if !cmd.Flags().Changed("nodes") {
					nodes = 3
				}
				if nodes < 3 || nodes > 9 {
					return exitWith(exitUsage, fmt.Errorf("--rolling-restart needs --nodes between 3 and 9, got %d", nodes))
				}
				out := o.Out
				if !cmd.Flags().Changed("out") {
					out = "bench-rolling.json"
				}
				res, err := bench.RunRollingRestart(ctx, nodes, o.Clients, noSync, out, cmd.ErrOrStderr())
				if res != nil {
					res.Print(jsonOut, cmd.OutOrStdout(), cmd.ErrOrStderr())
				}
				if err != nil {
					return exitWith(exitError, err)
				}
				return nil
			}
			if haModels != "" && !failover {
				return exitWith(exitUsage, fmt.Errorf("--ha goes with --failover: cairn bench --failover --ha raft,scheduled"))
			}
			if failover && haModels != "" {
				if o.URL != "" || cmd.Flags().Changed("nodes") {
					return exitWith(exitUsage, fmt.Errorf("--failover --ha starts its own clusters (3 data nodes; + 1 compute node for scheduled): drop --url and --nodes"))
				}
				out := o.Out
				if !cmd.Flags().Changed("out") {
					out = "bench-tradeoff.json"
				}
				res, err := bench.RunTradeoff(ctx, bench.TradeoffOptions{HA: splitList(haModels), Kills: kills, Clients: o.Clients, NoSync: noSync,
					DeadAfter: deadAfter, Steady: steady, Out: out, Progress: cmd.ErrOrStderr()})
				if res != nil {
					res.Print(jsonOut, cmd.OutOrStdout(), cmd.ErrOrStderr())
				}
				if err != nil {
					if res == nil {
						return exitWith(exitUsage, err)
					}
					return exitWith(exitError, err)
				}
				return nil
			}
			if cmd.Flags().Changed("dead-after") || cmd.Flags().Changed("steady") {
				return exitWith(exitUsage, fmt.Errorf("--dead-after and --steady go with --failover --ha"))
			}
			if jsonOut {
				return exitWith(exitUsage, fmt.Errorf("--json goes with --rolling-restart or --failover --ha"))
			}
			if failover {
				if o.URL != "" {
					return exitWith(exitUsage, fmt.Errorf("--failover starts its own cluster; drop --url"))
				}
				if !cmd.Flags().Changed("nodes") {
					nodes = 3
				}
				out := o.Out
				if !cmd.Flags().Changed("out") {
					out = "bench-failover.json"
				}
				res, err := bench.RunFailover(ctx, nodes, kills, o.Clients, noSync, out, cmd.ErrOrStderr())
				if res != nil {
					res.Print(cmd.OutOrStdout())
				}
				if err != nil {
					return exitWith(exitError, err)
				}
				return nil
			}
			o.Progress = cmd.ErrOrStderr()
			if !cmd.Flags().Changed("out") {
				o.Out = "bench-" + o.Workload + ".json"
			}
			if nodes < 1 || nodes > 9 {
				return exitWith(exitUsage, fmt.Errorf("--nodes must be between 1 and 9, got %d", nodes))
			}
			if o.Rate < 0 {
				return exitWith(exitUsage, fmt.Errorf("--rate must be 0 (unpaced) or a positive number of events per second, got %d", o.Rate))
			}
			var nodeArgs []string
			if viewCache != "" {
				if o.URL != "" {
					return exitWith(exitUsage, fmt.Errorf("--view-cache sets the local nodes' cache; a node at --url has its own (cairn start --view-cache)"))
				}
				if _, err := parseByteSize(viewCache); err != nil {
					return exitWith(exitUsage, fmt.Errorf("--view-cache: %v", err))
				}
				nodeArgs = append(nodeArgs, "--view-cache", viewCache)
			}
			if maxMemory != "" {
				if o.URL != "" {
					return exitWith(exitUsage, fmt.Errorf("--max-memory sets the local nodes' limit; a node at --url has its own (cairn start --max-memory)"))
				}
				if _, err := parseByteSize(maxMemory); err != nil {
					return exitWith(exitUsage, fmt.Errorf("--max-memory: %v", err))
				}
				nodeArgs = append(nodeArgs, "--max-memory", maxMemory)
			}
			o.StartNode, o.PeakRSS = bench.LocalClusterStats(nodes, noSync, secure, nodeArgs...)
			res, err := bench.Run(ctx, o)
			if res != nil {
				res.Print(cmd.OutOrStdout())
			}
			if err != nil {
				return exitWith(exitError, err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Workload, "workload", "w1", "workload to run: w1, w2 or w1join")
	f.BoolVar(&o.SkipIDCheck, "skip-id-check", false, "do not read every event back by id after the run (for runs too long to hold the ids in memory); the view's count is still checked")
	f.IntVar(&o.Events, "events", 1_000_000, "events to send")
	f.IntVar(&o.Batch, "batch", 1000, "events per batch (one COPY or INSERT)")
	f.IntVar(&o.Clients, "clients", 4, "concurrent client connections")
	f.IntVar(&o.Devices, "devices", 10_000, "w1: distinct device ids the events draw from, i.e. the groups of the view")
	f.BoolVar(&o.DistinctDevices, "distinct-devices", false, "w1: give event k device id (a permutation of) k mod --devices instead of a random one, so --events = --devices builds a view of exactly that many groups")
	f.IntVar(&o.Lookups, "lookups", 1000, "w1: point lookups of random devices (SELECT n FROM w1_per_device WHERE device_id = $1) timed after the run; 0: none")
	f.StringVar(&viewCache, "view-cache", "", "without --url: --view-cache of the local nodes (e.g. 32MiB; default: the node's)")
	f.StringVar(&maxMemory, "max-memory", "", "without --url: --max-memory of the local nodes (e.g. 2GiB; default: the node's)")
	f.IntVar(&o.Rate, "rate", 0, "pace the clients to this many events per second in total (0: as fast as acks come), to measure freshness at a given load")
	f.StringVar(&o.URL, "url", "", "postgres:// URL of a running node; empty starts one in a temp dir")
	f.StringVar(&o.Out, "out", "bench-w1.json", "JSON result file (- for none; default bench-<workload>.json)")
	f.StringVar(&o.Mode, "mode", "binary", "ingest path: binary (binary COPY, encoded before the clock starts), copy (pgx CopyFrom, encoded by pgx while running), csv (COPY csv) or insert (multi-row INSERT)")
	f.BoolVar(&secure, "secure", false, "without --url: start the local nodes secure (certificates made for the run, TLS on every connection, client-certificate login), to measure the cost of TLS")
	f.BoolVar(&noSync, "unsafe-no-fsync", false, "start the temp node without fsync (not for published figures)")
	f.BoolVar(&failover, "failover", false, "kill the leader of a busy stream shard --kills times under load and report write and follower-read unavailability")
	f.BoolVar(&rolling, "rolling-restart", false, "drain, stop (SIGTERM) and restart every node of a local cluster in turn under load; report each step's write disturbance and verify no acknowledged event was lost or duplicated")
	f.BoolVar(&jsonOut, "json", false, "with --rolling-restart: print the result as JSON on stdout (the table goes to stderr)")
	f.IntVar(&kills, "kills", 10, "with --failover: how many leader kills (with --ha: kills of the view's holder per model)")
	f.StringVar(&haModels, "ha", "", "with --failover: measure the trade-off of view HA models instead (raft, scheduled or raft,scheduled): the same view as a Raft view on 3 data nodes and as a scheduled view on 3 data + 1 compute node, SIGKILL of its leader or owner --kills times; failover time, events replayed, replicas, disk bytes and steady ingest")
	f.DurationVar(&deadAfter, "dead-after", 5*time.Second, "with --failover --ha: the cluster setting dead_after of both runs (how soon a killed owner's views move)")
	f.DurationVar(&steady, "steady", 10*time.Second, "with --failover --ha: how long steady ingest is measured before the first kill")
	f.IntVar(&nodes, "nodes", 1, "without --url: how many local nodes to start (a cluster of separate processes; streams and views get min(3, nodes) replicas)")
	return cmd
}
