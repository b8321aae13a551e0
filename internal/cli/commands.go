package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairndb/cairn/internal/frontend/httpapi"
)

// group is a parent command whose subcommands share f's flags.
func group(f *adminFlags, use, short, long string) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Long: long, Args: cobra.NoArgs}
	f.register(cmd)
	return cmd
}

// listCmd prints a read-only route as a table.
func listCmd(f *adminFlags, use, short, path string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list(cmd, f, path, nil)
		},
	}
}

// mutation is a command that runs one mutating route: path and body are
// built from the arguments; with wait it takes --wait and --timeout.
type mutation struct {
	use, short, long string
	args             cobra.PositionalArgs
	method           string
	path             func(args []string) string
	body             func(args []string) any
	wait             bool
}

func mutateCmd(f *adminFlags, m mutation) *cobra.Command {
	var w *waitFlags
	if m.wait {
		w = &waitFlags{}
	}
	c := &cobra.Command{
		Use:   m.use,
		Short: m.short,
		Long:  m.long,
		Args:  m.args,
		RunE: func(cmd *cobra.Command, args []string) error {
			var body any
			if m.body != nil {
				body = m.body(args)
			}
			return mutate(cmd, f, w, m.method, m.path(args), body)
		},
	}
	if w != nil {
		w.register(c)
	}
	return c
}

// under returns a path function: prefix, the escaped first argument, suffix.
func under(prefix, suffix string) func([]string) string {
	return func(args []string) string { return prefix + url.PathEscape(args[0]) + suffix }
}

// fixed returns a path function for a route without arguments.
func fixed(path string) func([]string) string { return func([]string) string { return path } }

// required adds the required string flag name to c, whose value a
// mutation's body sends as {name: value}.
func required(c *cobra.Command, v *string, name, usage string) *cobra.Command {
	c.Flags().StringVar(v, name, "", usage)
	_ = c.MarkFlagRequired(name)
	return c
}

func nodeCmd() *cobra.Command {
	var f adminFlags
	cmd := group(&f, "node", "List the nodes of the cluster and take them offline, drain, decommission or remove them", "")
	cmd.AddCommand(listCmd(&f, "ls", "List nodes (SELECT * FROM cairn_cluster.nodes)", "/api/v1/nodes"))
	actions := []struct{ name, sql, short string }{
		{"offline", "OFFLINE", "Take a node out of service: it gives up its leaders, gets no new replicas, and its replicas move to other nodes"},
		{"recover", "RECOVER", "Return an offline, draining or decommissioning node to normal service"},
		{"drain", "DRAIN", "Move every leader off a node and stop new sessions on it; its replicas stay"},
		{"decommission", "DECOMMISSION", "Move every replica off a node; once that is done, `cairn node remove` deletes it"},
	}
	for _, a := range actions {
		m := mutation{use: a.name + " NAME", short: a.short,
			long: a.short + ".\n\nRuns ALTER NODE 'NAME' " + a.sql + " on the node at --host.",
			args: cobra.ExactArgs(1), method: http.MethodPost, path: under("/api/v1/nodes/", "/"+a.name), wait: true}
		if a.name == "drain" {
			selfDrain(&m)
		}
		cmd.AddCommand(mutateCmd(&f, m))
	}
	cmd.AddCommand(mutateCmd(&f, mutation{use: "remove NAME", short: "Delete a node that holds no replicas from the cluster (ALTER NODE 'NAME' REMOVE)",
		args: cobra.ExactArgs(1), method: http.MethodDelete, path: under("/api/v1/nodes/", ""), wait: true}))
	return cmd
}

// send calls a route and decodes its SQLResult; with --json it prints
// the reply as it came and returns a nil result.
func send(cmd *cobra.Command, f *adminFlags, method, path string, body any) (*httpapi.SQLResult, error) {
	res, raw, err := f.client(cmd).result(cmd.Context(), method, path, body)
	if err != nil || f.json {
		return nil, printRaw(cmd, raw, err)
	}
	return res, nil
}

// printRaw prints a raw reply (--json), or fails with err.
func printRaw(cmd *cobra.Command, raw []byte, err error) error {
	if err != nil {
		return failed(err)
	}
	writeRaw(cmd.OutOrStdout(), raw)
	return nil
}

// list prints a read-only route as a table.
func list(cmd *cobra.Command, f *adminFlags, path string, formats map[string]cellFormat) error {
	res, err := send(cmd, f, http.MethodGet, path, nil)
	if res == nil {
		return err
	}
	printNotices(cmd, res)
	printTable(cmd.OutOrStdout(), res, formats)
	return nil
}

func shardCmd() *cobra.Command {
	var f adminFlags
	cmd := group(&f, "shard", "List shard replicas, move a shard's leader, or re-create a replica", `List shard replicas, move a shard's leader, or re-create a replica.

ID is the shard's raft group id: the group_id column of "cairn shard ls"
(group 1 is the meta group).`)
	var to, on string
	cmd.AddCommand(listCmd(&f, "ls", "List every shard replica (SELECT * FROM cairn_cluster.shards)", "/api/v1/shards"),
		required(mutateCmd(&f, mutation{use: "transfer-leader ID --to NODE", short: "Move a shard's leader to NODE (ALTER SHARD ID TRANSFER LEADER TO 'NODE')",
			args: cobra.ExactArgs(1), method: http.MethodPost, path: under("/api/v1/shards/", "/transfer-leader"),
			body: func([]string) any { return map[string]string{"to": to} }, wait: true}), &to, "to", "node to move the leader to"),
		required(mutateCmd(&f, mutation{use: "recover-replica ID --on NODE", short: "Re-create a shard's replica on NODE (ALTER SHARD ID RECOVER REPLICA ON 'NODE')",
			args: cobra.ExactArgs(1), method: http.MethodPost, path: under("/api/v1/shards/", "/recover-replica"),
			body: func([]string) any { return map[string]string{"on": on} }, wait: true}), &on, "on", "node to place the new replica on"))
	return cmd
}

func opsCmd() *cobra.Command {
	var f adminFlags
	cmd := group(&f, "ops", "List, wait for and cancel cluster operations", "")
	var all bool
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List operations: pending and running ones plus the last 20 finished (--all: every one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := send(cmd, &f, http.MethodGet, "/api/v1/operations", nil)
			if res == nil {
				return err
			}
			out := cmd.OutOrStdout()
			hidden := selectOps(res, all)
			if len(res.Rows) == 0 && hidden == 0 {
				fmt.Fprintln(out, "no operations")
				return nil
			}
			printTable(out, res, opFormats)
			if hidden > 0 {
				fmt.Fprintf(out, "(%d older finished operations not shown; --all shows every one)\n", hidden)
			}
			return nil
		},
	}
	ls.Flags().BoolVar(&all, "all", false, "show every operation the cluster remembers")
	var timeout time.Duration
	wait := &cobra.Command{
		Use:   "wait ID",
		Short: "Wait for an operation to finish: exit 0 when done, 1 when failed or cancelled, 2 on timeout",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			if f.json {
				out = cmd.ErrOrStderr()
			}
			raw, err := waitOps(cmd.Context(), f.client(cmd), args, timeout, out)
			if err != nil {
				return err
			}
			if f.json {
				writeRaw(cmd.OutOrStdout(), raw)
			}
			return nil
		},
	}
	wait.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait")
	cmd.AddCommand(ls, wait, mutateCmd(&f, mutation{use: "cancel ID", short: "Cancel a pending or running operation (CANCEL OPERATION ID)",
		args: cobra.ExactArgs(1), method: http.MethodPost, path: under("/api/v1/operations/", "/cancel")}))
	return cmd
}

// selectOps orders res by op_id and, unless all, keeps pending and running
// operations plus the finishedOpsShown most recent finished ones. It
// returns how many rows it dropped.
func selectOps(res *httpapi.SQLResult, all bool) int {
	id, st := colIndex(res, "op_id"), colIndex(res, "status")
	num := func(row []*string) int64 {
		n, err := strconv.ParseInt(cell(row, id), 10, 64)
		if err != nil {
			return math.MaxInt64
		}
		return n
	}
	sort.SliceStable(res.Rows, func(a, b int) bool { return num(res.Rows[a]) < num(res.Rows[b]) })
	if all {
		return 0
	}
	keepFinished := finishedOpsShown
	keep := make([]bool, len(res.Rows))
	for i := len(res.Rows) - 1; i >= 0; i-- {
		if !finished(cell(res.Rows[i], st)) {
			keep[i] = true
		} else if keepFinished > 0 {
			keep[i] = true
			keepFinished--
		}
	}
	rows := res.Rows[:0:0]
	for i, row := range res.Rows {
		if keep[i] {
			rows = append(rows, row)
		}
	}
	hidden := len(res.Rows) - len(rows)
	res.Rows = rows
	return hidden
}

func clusterCmd() *cobra.Command {
	var f adminFlags
	cmd := group(&f, "cluster", "Cluster status, planned failover, rebalancing and cluster settings", "")
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the nodes and the pending or running operations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := f.client(cmd).call(cmd.Context(), http.MethodGet, "/api/v1/cluster/status", nil)
			if err != nil || f.json {
				return printRaw(cmd, raw, err)
			}
			out := cmd.OutOrStdout()
			var st httpapi.ClusterStatus
			if err := json.Unmarshal(raw, &st); err != nil || st.Nodes == nil || st.Operations == nil {
				return failed(fmt.Errorf("unexpected reply from GET /api/v1/cluster/status: %.200s", raw))
			}
			fmt.Fprintln(out, nodeSummary(st.Nodes))
			printTable(out, st.Nodes, nil)
			fmt.Fprintln(out)
			if len(st.Operations.Rows) == 0 {
				fmt.Fprintln(out, "no pending or running operations")
				return nil
			}
			fmt.Fprintf(out, "%d pending or running operations:\n", len(st.Operations.Rows))
			printTable(out, st.Operations, opFormats)
			return nil
		},
	}
	var to string
	failover := required(mutateCmd(&f, mutation{use: "failover --to NODE", short: "Planned failover: move every leader that can move to NODE (ALTER SYSTEM FAILOVER TO 'NODE')",
		args: cobra.NoArgs, method: http.MethodPost, path: fixed("/api/v1/cluster/failover"),
		body: func([]string) any { return map[string]string{"to": to} }, wait: true}), &to, "to", "node to move the leaders to")
	rebalance := mutateCmd(&f, mutation{use: "rebalance", short: "Spread replicas and leaders evenly over the live data nodes (ALTER SYSTEM REBALANCE)",
		args: cobra.NoArgs, method: http.MethodPost, path: fixed("/api/v1/cluster/rebalance"), wait: true})
	settings := listCmd(&f, "settings", "List cluster settings (SELECT * FROM cairn_cluster.settings)", "/api/v1/cluster/settings")
	set := &cobra.Command{
		Use:   "set NAME VALUE",
		Short: "Change a cluster setting (ALTER SYSTEM SET NAME = 'VALUE')",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := send(cmd, &f, http.MethodPost, "/api/v1/cluster/settings", map[string]string{"name": args[0], "value": args[1]})
			if res == nil {
				return err
			}
			out := cmd.OutOrStdout()
			printNotices(cmd, res)
			if len(res.Columns) > 0 && len(res.Rows) > 0 {
				printTable(out, res, nil)
				return nil
			}
			tag := res.Tag
			if tag == "" {
				tag = "ALTER SYSTEM"
			}
			fmt.Fprintf(out, "%s: %s = %s\n", tag, args[0], args[1])
			return nil
		},
	}
	cmd.AddCommand(status, failover, rebalance, settings, set)
	return cmd
}

// nodeSummary is "3 nodes: 2 live, 1 dead" from cairn_cluster.nodes.
func nodeSummary(res *httpapi.SQLResult) string {
	st := colIndex(res, "state")
	counts := map[string]int{}
	var order []string
	for _, row := range res.Rows {
		s := cell(row, st)
		if s == "" {
			s = "unknown"
		}
		if counts[s] == 0 {
			order = append(order, s)
		}
		counts[s]++
	}
	noun := "nodes"
	if len(res.Rows) == 1 {
		noun = "node"
	}
	parts := make([]string, len(order))
	for i, s := range order {
		parts[i] = fmt.Sprintf("%d %s", counts[s], s)
	}
	if len(parts) == 0 || st < 0 {
		return fmt.Sprintf("%d %s", len(res.Rows), noun)
	}
	return fmt.Sprintf("%d %s: %s", len(res.Rows), noun, strings.Join(parts, ", "))
}

func debugCmd() *cobra.Command {
	var f adminFlags
	cmd := group(&f, "debug", "Last-resort repair commands", "")
	var shard int64
	var meta, confirm bool
	rec := &cobra.Command{
		Use:   "recover (--shard ID | --meta) [--confirm-data-loss]",
		Short: "Force a shard that lost its quorum back into service (ALTER SHARD ID FORCE RECOVER)",
		Long: `Force a shard whose raft group lost its quorum for good back into service,
from the replicas that are left. Writes that only the lost replicas had are
gone. --meta recovers the meta group (group 1), which holds the catalog,
node registry, placement and operations.

Without --confirm-data-loss this is a dry run: it prints the plan and
changes nothing. With it, the plan is carried out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if meta == cmd.Flags().Changed("shard") {
				return Exit(ExitUsage, errors.New("give exactly one of --shard ID or --meta"))
			}
			id := shard
			what := fmt.Sprintf("shard %d", shard)
			again := fmt.Sprintf("--shard %d", shard)
			if meta {
				id, what, again = 1, "the meta group (group 1)", "--meta"
			}
			if id <= 0 {
				return Exit(ExitUsage, fmt.Errorf("--shard must be a positive raft group id, got %d", id))
			}
			c := f.client(cmd)
			res, raw, err := c.result(cmd.Context(), http.MethodPost, fmt.Sprintf("/api/v1/shards/%d/force-recover", id),
				map[string]bool{"confirm_data_loss": confirm})
			if err != nil {
				return failed(err)
			}
			out, note := cmd.OutOrStdout(), cmd.OutOrStdout()
			if f.json {
				writeRaw(out, raw)
				note = cmd.ErrOrStderr()
			}
			printNotices(cmd, res)
			if confirm {
				if !f.json {
					fmt.Fprintf(out, "Forced recovery of %s:\n", what)
					printTable(out, res, nil)
				}
				return nil
			}
			if !f.json {
				fmt.Fprintf(out, "Plan to force-recover %s:\n", what)
				printTable(out, res, nil)
				fmt.Fprintln(out)
			}
			host := ""
			if cmd.Flag("host").Changed {
				host = " --host " + c.host
			}
			fmt.Fprintf(note, "DRY RUN: nothing was changed.\n"+
				"To carry out this plan, accepting that writes only the lost replicas had are gone, run:\n"+
				"  cairn debug recover %s --confirm-data-loss%s\n", again, host)
			return nil
		},
	}
	rec.Flags().Int64Var(&shard, "shard", 0, `raft group id of the shard (the group_id column of "cairn shard ls")`)
	rec.Flags().BoolVar(&meta, "meta", false, "recover the meta group (group 1)")
	rec.Flags().BoolVar(&confirm, "confirm-data-loss", false, "carry out the plan (without it: dry run)")
	cmd.AddCommand(rec)
	return cmd
}
