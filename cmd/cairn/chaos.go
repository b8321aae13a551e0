package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairndb/cairn/internal/chaos"
)

// exitChaosViolation is the exit code when a safety check failed.
const exitChaosViolation = 5

func chaosCmd() *cobra.Command {
	var cfg chaos.Config
	var faults string
	var seed int64
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "chaos",
		Short: "Run a fault campaign against a local cluster and check it lost, duplicated and invented nothing",
		Long: `Start a local cluster of --nodes real processes, write uniquely numbered
events through every node while injecting faults on a schedule decided by
--seed (kill, pause, partition, restart, membership, disk, compute,
objstore), then heal everything and check: no acknowledged event lost,
none duplicated, none that was never sent, both views equal their stream
on every node, no linearizable read missed an acknowledged write, one
leader per Raft (group, term), and a node whose disk failed stopped
serving.

With --scheduled, or the compute or objstore faults, the workload also
has the elastic tier: a versitygw object store, a disk on it, --compute
compute nodes and a scheduled view (chaos_sched, checkpointed to the
disk) beside the Raft views, and the checks judge it too. compute kills,
pauses or restarts a compute node or the scheduled view's owner; objstore
stops versitygw for 5-15 s or pauses it for 2-6 s.

Writes report.json, report.html, history.jsonl and every node's log to --out.
Exits 0 when every safety check holds, 5 when one fails. See docs/chaos.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			kinds, err := chaos.ParseKinds(faults)
			if err != nil {
				return exitWith(exitUsage, fmt.Errorf("--faults: %v", err))
			}
			if len(kinds) == 0 {
				return exitWith(exitUsage, fmt.Errorf("--faults names no fault"))
			}
			if cfg.Rate < time.Second {
				return exitWith(exitUsage, fmt.Errorf("--rate must be at least 1s, got %s", cfg.Rate))
			}
			if _, err := chaos.ParseGateways(cfg.Gateways); err != nil {
				return exitWith(exitUsage, err)
			}
			if !cmd.Flags().Changed("seed") {
				seed = time.Now().UnixNano()
			}
			elastic := cfg.Scheduled
			for _, k := range chaos.ElasticKinds {
				elastic = elastic || slices.Contains(kinds, k)
			}
			if cmd.Flags().Changed("compute") && !elastic {
				return exitWith(exitUsage, fmt.Errorf("--compute needs the elastic tier: add --scheduled or the compute or objstore faults"))
			}
			if cfg.Compute < 0 || cfg.Compute > 4 {
				return exitWith(exitUsage, fmt.Errorf("--compute must be between 0 and 4, got %d", cfg.Compute))
			}
			cfg.Kinds, cfg.Seed = kinds, uint64(seed)
			if cfg.Out == "" {
				if cfg.Out, err = os.MkdirTemp("", "cairn-chaos-"); err != nil {
					return exitWith(exitError, err)
				}
			}
			cfg.Progress = cmd.ErrOrStderr()
			fmt.Fprintf(cmd.ErrOrStderr(), "cairn chaos: seed %d (rerun with --seed %d), output in %s\n", seed, seed, cfg.Out)
			rep, err := chaos.Run(ctx, cfg)
			if err != nil && rep == nil {
				if ctx.Err() != nil {
					return exitWith(exitError, fmt.Errorf("interrupted; every node this campaign started is stopped (logs in %s)", cfg.Out))
				}
				return exitWith(exitError, err)
			}
			if jsonOut {
				b, _ := json.MarshalIndent(rep, "", "  ")
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
				chaos.PrintSummary(cmd.ErrOrStderr(), rep)
			} else {
				chaos.PrintSummary(cmd.OutOrStdout(), rep)
			}
			if err != nil {
				return exitWith(exitError, err)
			}
			if !rep.Pass {
				var failed []string
				for _, c := range rep.Checks {
					if !c.OK {
						failed = append(failed, c.Name)
					}
				}
				return exitWith(exitChaosViolation, fmt.Errorf("safety violated: %s (seed %d)", strings.Join(failed, ", "), seed))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Nodes, "nodes", 5, "nodes to start (3 to 9)")
	f.DurationVar(&cfg.Duration, "duration", 2*time.Minute, "how long the workload runs under faults")
	f.Int64Var(&seed, "seed", 0, "seed of the fault schedule (default: from the clock, printed)")
	f.StringVar(&faults, "faults", strings.Join(chaos.DefaultKinds, ","), "faults to inject: "+strings.Join(chaos.AllKinds, ","))
	f.DurationVar(&cfg.Rate, "rate", 10*time.Second, "mean time between fault starts")
	f.IntVar(&cfg.Clients, "clients", 4, "concurrent writers")
	f.IntVar(&cfg.BatchSize, "batch", 100, "events per INSERT")
	f.StringVar(&cfg.Gateways, "gateways", chaos.GatewaysLeastBusy, "how a writer picks the node of its next batch: least-busy (fewest statements in flight, like a least-request load balancer) or round-robin (every node in turn)")
	f.StringVar(&cfg.Out, "out", "", "directory for the report, history and node logs (default: a new temp dir, printed)")
	f.BoolVar(&jsonOut, "json", false, "print report.json on stdout (the summary goes to stderr)")
	f.BoolVar(&cfg.Scheduled, "scheduled", false, "add the elastic tier to the workload: versitygw, a disk, compute nodes and a scheduled view (implied by the compute and objstore faults)")
	f.IntVar(&cfg.Compute, "compute", 2, "with the elastic tier: compute nodes to start (0 to 4)")
	f.BoolVar(&cfg.Secure, "secure", false, "run a secure cluster: certificates made for the run, TLS on every connection, client-certificate logins")
	f.StringVar(&cfg.UnsafeBug, "unsafe-bug", "", "pass --unsafe-bug NAME to every node (checker self-tests)")
	_ = f.MarkHidden("unsafe-bug")
	return cmd
}
