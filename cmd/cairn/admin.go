package main

// The operator commands (node, shard, ops, cluster, debug) talk to a node's
// admin HTTP API (internal/httpapi, /api/v1/...), which runs the matching
// SQL admin statement. The CLI only renders; every check lives server-side.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairndb/cairn/internal/httpapi"
)

const (
	// defaultAdminHost is a node's default --http-addr.
	defaultAdminHost = "127.0.0.1:8480"
	// exitWaitTimeout is the exit code of a wait that ran out of time.
	exitWaitTimeout = 2
	// finishedOpsShown is how many finished operations `ops ls` shows
	// without --all.
	finishedOpsShown = 20
	// progressBarWidth is the number of cells in a progress bar.
	progressBarWidth = 18
)

// opsPollInterval is how often a wait polls an operation (tests shorten it).
var opsPollInterval = 500 * time.Millisecond

// adminCmds returns the operator commands for the root command.
func adminCmds() []*cobra.Command {
	return []*cobra.Command{nodeCmd(), shardCmd(), opsCmd(), clusterCmd(), debugCmd()}
}

// adminFlags are the flags every operator command takes.
type adminFlags struct {
	host        string
	json        bool
	httpTimeout time.Duration
}

func (f *adminFlags) register(cmd *cobra.Command) {
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.host, "host", defaultAdminHost, "HTTP address of any node (its --http-addr); env CAIRN_HOST")
	pf.BoolVar(&f.json, "json", false, "print the raw JSON reply of the API")
	pf.DurationVar(&f.httpTimeout, "http-timeout", 10*time.Second, "timeout of each HTTP request")
}

// client returns an API client for cmd's --host (or CAIRN_HOST when the
// flag is not given).
func (f *adminFlags) client(cmd *cobra.Command) *apiClient {
	host := f.host
	if fl := cmd.Flag("host"); fl != nil && !fl.Changed {
		if env := os.Getenv("CAIRN_HOST"); env != "" {
			host = env
		}
	}
	base := host
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	timeout := f.httpTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	return &apiClient{
		base:    strings.TrimRight(base, "/"),
		host:    host,
		timeout: timeout,
		hc:      &http.Client{Timeout: timeout},
	}
}

// waitFlags are --wait and --timeout of a mutating command.
type waitFlags struct {
	wait    bool
	timeout time.Duration
}

func (w *waitFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&w.wait, "wait", false, "wait until every operation the command started has finished")
	cmd.Flags().DurationVar(&w.timeout, "timeout", 10*time.Minute, "with --wait: how long to wait (exit code 2 when it runs out)")
}

// apiClient calls one node's admin API.
type apiClient struct {
	base    string // http://host:port
	host    string // as the user gave it, for messages
	timeout time.Duration
	hc      *http.Client
}

// apiError is an error reply of the API; it prints like psql.
type apiError struct {
	httpapi.AdminError
	status int
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ERROR: %s (SQLSTATE %s)", e.Message, e.Code)
	if e.Detail != "" {
		b.WriteString("\nDETAIL: " + e.Detail)
	}
	if e.Hint != "" {
		b.WriteString("\nHINT: " + e.Hint)
	}
	return b.String()
}

// netError is a request that got no HTTP reply.
type netError struct{ msg string }

func (e *netError) Error() string { return e.msg }

// call sends one request and returns the reply body of a 2xx reply; other
// replies become *apiError, failed requests *netError.
func (c *apiClient) call(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		p, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(p)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("--host %q: %v", c.host, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.describe(err)
	}
	defer resp.Body.Close()
	// Replies are small; a bound keeps a wrong --host from filling memory.
	p, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, c.describe(err)
	}
	if resp.StatusCode/100 == 2 {
		return p, nil
	}
	var reply httpapi.AdminErrorReply
	if json.Unmarshal(p, &reply) == nil && reply.Error.Code != "" {
		return nil, &apiError{AdminError: reply.Error, status: resp.StatusCode}
	}
	text := strings.TrimSpace(string(p))
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	return nil, &apiError{status: resp.StatusCode, AdminError: httpapi.AdminError{
		Code:    "XX000",
		Message: fmt.Sprintf("HTTP %s from %s%s: %s", resp.Status, c.base, path, text),
		Hint:    "is --host the HTTP address (--http-addr) of a Cairn node of this version?",
	}}
}

// describe turns a transport error into a message that names --host.
func (c *apiClient) describe(err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return &netError{fmt.Sprintf("cannot connect to a Cairn node at %s: connection refused\n"+
			"HINT: is the node running? --host (or CAIRN_HOST) must be a node's HTTP address (--http-addr, default %s)", c.base, defaultAdminHost)}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return &netError{fmt.Sprintf("no reply from %s within %s (--http-timeout); check --host", c.base, c.timeout)}
	case errors.Is(err, context.Canceled):
		return &netError{"interrupted"}
	}
	return &netError{fmt.Sprintf("request to %s failed: %v (check --host)", c.base, err)}
}

// result calls the API and decodes an SQLResult; raw is the reply body.
func (c *apiClient) result(ctx context.Context, method, path string, body any) (res *httpapi.SQLResult, raw []byte, err error) {
	raw, err = c.call(ctx, method, path, body)
	if err != nil {
		return nil, nil, err
	}
	res = &httpapi.SQLResult{}
	if err := json.Unmarshal(raw, res); err != nil {
		return nil, nil, fmt.Errorf("unexpected reply from %s%s: %v", c.base, path, err)
	}
	return res, raw, nil
}

// failed wraps err with exit code 1.
func failed(err error) error {
	var ee *exitErr
	if errors.As(err, &ee) {
		return err
	}
	return &exitErr{exitError, err}
}

// writeRaw prints an API reply as it came, ending in a newline.
func writeRaw(w io.Writer, raw []byte) {
	w.Write(raw)
	if len(raw) == 0 || raw[len(raw)-1] != '\n' {
		io.WriteString(w, "\n")
	}
}

// ---- rendering ----

// colIndex returns the position of column name in res, or -1.
func colIndex(res *httpapi.SQLResult, name string) int {
	for i, c := range res.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// cell returns row[i] as text ("" for NULL or a missing cell).
func cell(row []*string, i int) string {
	if i < 0 || i >= len(row) || row[i] == nil {
		return ""
	}
	return *row[i]
}

// cellFormat renders one cell of a column; nil means NULL.
type cellFormat func(v *string) string

// printTable prints res as an aligned table in the server's column order,
// so columns this CLI does not know are shown too. NULL prints empty.
func printTable(w io.Writer, res *httpapi.SQLResult, formats map[string]cellFormat) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, c := range res.Columns {
		if i > 0 {
			io.WriteString(tw, "\t")
		}
		io.WriteString(tw, strings.ToUpper(c))
	}
	io.WriteString(tw, "\n")
	for _, row := range res.Rows {
		for i, c := range res.Columns {
			if i > 0 {
				io.WriteString(tw, "\t")
			}
			var v *string
			if i < len(row) {
				v = row[i]
			}
			s := ""
			if f := formats[c]; f != nil {
				s = f(v)
			} else if v != nil {
				s = *v
			}
			io.WriteString(tw, tableSafe(s))
		}
		io.WriteString(tw, "\n")
	}
	tw.Flush()
}

// tableSafe keeps a cell on one line and in one column.
func tableSafe(s string) string {
	if !strings.ContainsAny(s, "\t\n\r") {
		return s
	}
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

// progressBar renders a progress fraction ("0.45") as
// "[########----------]  45%"; text that is not a number prints as is.
func progressBar(v *string) string {
	if v == nil || *v == "" {
		return ""
	}
	f, err := strconv.ParseFloat(*v, 64)
	if err != nil || math.IsNaN(f) {
		return *v
	}
	f = math.Max(0, math.Min(1, f))
	filled := int(math.Floor(f*progressBarWidth + 1e-9))
	return fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("#", filled),
		strings.Repeat("-", progressBarWidth-filled), int(math.Round(f*100)))
}

// opFormats renders the progress column of cairn_cluster.operations.
var opFormats = map[string]cellFormat{"progress": progressBar}

// op is one row of cairn_cluster.operations by column name.
type op map[string]string

func opRow(res *httpapi.SQLResult, row []*string) op {
	o := op{}
	for i, c := range res.Columns {
		o[c] = cell(row, i)
	}
	return o
}

// finished reports whether status is terminal.
func finished(status string) bool {
	return status == "done" || status == "failed" || status == "cancelled"
}

// line is the one-line progress report of a wait.
func (o op) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "operation %s", o["op_id"])
	if what := strings.TrimSpace(o["op_type"] + " " + o["target"]); what != "" {
		b.WriteString(" (" + what + ")")
	}
	b.WriteString(": " + o["status"])
	if p := o["progress"]; p != "" {
		b.WriteString("  " + progressBar(&p))
	}
	if s := o["current_step"]; s != "" && !finished(o["status"]) {
		b.WriteString("  " + tableSafe(s))
	}
	return b.String()
}

// printOpsResult prints what a mutating statement returned: the
// operations it started, or that there was nothing to do.
func printOpsResult(w io.Writer, res *httpapi.SQLResult) {
	if len(res.Rows) == 0 {
		tag := res.Tag
		if tag == "" {
			tag = "OK"
		}
		fmt.Fprintf(w, "%s: no operation started (nothing to do)\n", tag)
		return
	}
	printTable(w, res, opFormats)
}

// printNotices shows server notices on stderr, like psql.
func printNotices(cmd *cobra.Command, res *httpapi.SQLResult) {
	for _, n := range res.Notices {
		fmt.Fprintln(cmd.ErrOrStderr(), "NOTICE: "+n)
	}
}

// ---- waiting ----

// isTerminal reports whether w is a terminal, where a wait redraws one
// progress line instead of printing a line per change. A variable so tests
// can pretend.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// waitOps waits for each operation in turn, within timeout overall. The
// last operation's reply body is returned for --json.
func waitOps(ctx context.Context, c *apiClient, ids []string, timeout time.Duration, out io.Writer) ([]byte, error) {
	if timeout <= 0 {
		return nil, &exitErr{exitUsage, fmt.Errorf("--timeout must be positive, got %s", timeout)}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var raw []byte
	for _, id := range ids {
		var err error
		if raw, err = waitOp(ctx, c, id, timeout, out); err != nil {
			return nil, err
		}
	}
	return raw, nil
}

// waitOp polls one operation until it finishes, ctx ends or the API
// answers with an error that retrying cannot fix. Unavailability (503, or
// no connection once the node has answered) is retried: a wait often
// spans a failover or a node restart.
func waitOp(ctx context.Context, c *apiClient, id string, timeout time.Duration, out io.Writer) ([]byte, error) {
	tty := isTerminal(out)
	tick := time.NewTicker(opsPollInterval)
	defer tick.Stop()
	var last string
	var o op
	answered := false
	endLine := func() {
		if tty && last != "" {
			io.WriteString(out, "\n")
		}
	}
	for {
		res, raw, err := c.result(ctx, http.MethodGet, "/api/v1/operations/"+url.PathEscape(id), nil)
		switch {
		case err != nil && ctx.Err() != nil:
			// Reported below as a timeout or an interrupt.
		case err != nil:
			var ae *apiError
			var ne *netError
			retry := errors.As(err, &ae) && ae.status == http.StatusServiceUnavailable ||
				errors.As(err, &ne) && answered
			if !retry {
				endLine()
				return nil, failed(err)
			}
		case len(res.Rows) == 0:
			endLine()
			return nil, failed(fmt.Errorf("operation %s: the API returned no row", id))
		default:
			answered = true
			o = opRow(res, res.Rows[0])
			line := o.line()
			if tty {
				fmt.Fprintf(out, "\r\033[K%s", line)
			} else if line != last {
				fmt.Fprintln(out, line)
			}
			last = line
			switch o["status"] {
			case "done":
				endLine()
				return raw, nil
			case "failed", "cancelled":
				endLine()
				msg := o["error"]
				if msg == "" {
					msg = "no error recorded"
				}
				return nil, failed(fmt.Errorf("operation %s (%s %s) %s: %s", id, o["op_type"], o["target"], o["status"], msg))
			}
		}
		select {
		case <-ctx.Done():
			endLine()
			if ctx.Err() == context.Canceled {
				return nil, failed(fmt.Errorf("interrupted while waiting for operation %s; it keeps running", id))
			}
			state := "status unknown"
			if o != nil {
				state = "status " + o["status"]
				if p := o["progress"]; p != "" {
					state += ", progress " + p
				}
			}
			return nil, &exitErr{exitWaitTimeout, fmt.Errorf("timed out after %s waiting for operation %s (%s); it keeps running: `cairn ops wait %s` waits again", timeout, id, state, id)}
		case <-tick.C:
		}
	}
}

// opIDs returns the op_id values of a mutating statement's result.
func opIDs(res *httpapi.SQLResult) []string {
	i := colIndex(res, "op_id")
	var ids []string
	for _, row := range res.Rows {
		if id := cell(row, i); id != "" {
			ids = append(ids, id)
		}
	}
	return ids
}

// mutate runs one mutating route, prints what it started and, with
// --wait, waits for every operation it returned.
func mutate(cmd *cobra.Command, f *adminFlags, w *waitFlags, method, path string, body any) error {
	c := f.client(cmd)
	res, raw, err := c.result(cmd.Context(), method, path, body)
	if err != nil {
		return failed(err)
	}
	out := cmd.OutOrStdout()
	printNotices(cmd, res)
	progress := out
	if f.json {
		writeRaw(out, raw)
		progress = cmd.ErrOrStderr()
	} else {
		printOpsResult(out, res)
	}
	if w == nil || !w.wait {
		return nil
	}
	ids := opIDs(res)
	if len(ids) == 0 {
		return nil
	}
	_, err = waitOps(cmd.Context(), c, ids, w.timeout, progress)
	return err
}

// ---- commands ----

func nodeCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "node",
		Short: "List the nodes of the cluster and take them offline, drain, decommission or remove them",
		Args:  cobra.NoArgs,
	}
	f.register(cmd)
	cmd.AddCommand(&cobra.Command{
		Use:   "ls",
		Short: "List nodes (SELECT * FROM cairn_cluster.nodes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list(cmd, &f, "/api/v1/nodes", nil)
		},
	})
	actions := []struct{ name, sql, short string }{
		{"offline", "OFFLINE", "Take a node out of service: it gives up its leaders, gets no new replicas, and its replicas move to other nodes"},
		{"recover", "RECOVER", "Return an offline, draining or decommissioning node to normal service"},
		{"drain", "DRAIN", "Move every leader off a node and stop new sessions on it; its replicas stay"},
		{"decommission", "DECOMMISSION", "Move every replica off a node; once that is done, `cairn node remove` deletes it"},
	}
	for _, a := range actions {
		var w waitFlags
		c := &cobra.Command{
			Use:   a.name + " NAME",
			Short: a.short,
			Long:  a.short + ".\n\nRuns ALTER NODE 'NAME' " + a.sql + " on the node at --host.",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return mutate(cmd, &f, &w, http.MethodPost, "/api/v1/nodes/"+url.PathEscape(args[0])+"/"+a.name, nil)
			},
		}
		w.register(c)
		cmd.AddCommand(c)
	}
	var w waitFlags
	rm := &cobra.Command{
		Use:   "remove NAME",
		Short: "Delete a node that holds no replicas from the cluster (ALTER NODE 'NAME' REMOVE)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return mutate(cmd, &f, &w, http.MethodDelete, "/api/v1/nodes/"+url.PathEscape(args[0]), nil)
		},
	}
	w.register(rm)
	cmd.AddCommand(rm)
	return cmd
}

// list prints a read-only route as a table.
func list(cmd *cobra.Command, f *adminFlags, path string, formats map[string]cellFormat) error {
	res, raw, err := f.client(cmd).result(cmd.Context(), http.MethodGet, path, nil)
	if err != nil {
		return failed(err)
	}
	if f.json {
		writeRaw(cmd.OutOrStdout(), raw)
		return nil
	}
	printNotices(cmd, res)
	printTable(cmd.OutOrStdout(), res, formats)
	return nil
}

func shardCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "shard",
		Short: "List shard replicas, move a shard's leader, or re-create a replica",
		Long: `List shard replicas, move a shard's leader, or re-create a replica.

ID is the shard's raft group id: the group_id column of "cairn shard ls"
(group 1 is the meta group).`,
		Args: cobra.NoArgs,
	}
	f.register(cmd)
	cmd.AddCommand(&cobra.Command{
		Use:   "ls",
		Short: "List every shard replica (SELECT * FROM cairn_cluster.shards)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list(cmd, &f, "/api/v1/shards", nil)
		},
	})
	var tw waitFlags
	var to string
	tl := &cobra.Command{
		Use:   "transfer-leader ID --to NODE",
		Short: "Move a shard's leader to NODE (ALTER SHARD ID TRANSFER LEADER TO 'NODE')",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return mutate(cmd, &f, &tw, http.MethodPost, "/api/v1/shards/"+url.PathEscape(args[0])+"/transfer-leader", map[string]string{"to": to})
		},
	}
	tl.Flags().StringVar(&to, "to", "", "node to move the leader to")
	_ = tl.MarkFlagRequired("to")
	tw.register(tl)
	var rw waitFlags
	var on string
	rr := &cobra.Command{
		Use:   "recover-replica ID --on NODE",
		Short: "Re-create a shard's replica on NODE (ALTER SHARD ID RECOVER REPLICA ON 'NODE')",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return mutate(cmd, &f, &rw, http.MethodPost, "/api/v1/shards/"+url.PathEscape(args[0])+"/recover-replica", map[string]string{"on": on})
		},
	}
	rr.Flags().StringVar(&on, "on", "", "node to place the new replica on")
	_ = rr.MarkFlagRequired("on")
	rw.register(rr)
	cmd.AddCommand(tl, rr)
	return cmd
}

func opsCmd() *cobra.Command {
	var f adminFlags
	cmd := &cobra.Command{
		Use:   "ops",
		Short: "List, wait for and cancel cluster operations",
		Args:  cobra.NoArgs,
	}
	f.register(cmd)
	var all bool
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List operations: pending and running ones plus the last 20 finished (--all: every one)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, raw, err := f.client(cmd).result(cmd.Context(), http.MethodGet, "/api/v1/operations", nil)
			if err != nil {
				return failed(err)
			}
			out := cmd.OutOrStdout()
			if f.json {
				writeRaw(out, raw)
				return nil
			}
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
	cmd.AddCommand(ls, wait, &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a pending or running operation (CANCEL OPERATION ID)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return mutate(cmd, &f, nil, http.MethodPost, "/api/v1/operations/"+url.PathEscape(args[0])+"/cancel", nil)
		},
	})
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
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Cluster status, planned failover, rebalancing and cluster settings",
		Args:  cobra.NoArgs,
	}
	f.register(cmd)
	status := &cobra.Command{
		Use:   "status",
		Short: "Show the nodes and the pending or running operations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := f.client(cmd).call(cmd.Context(), http.MethodGet, "/api/v1/cluster/status", nil)
			if err != nil {
				return failed(err)
			}
			out := cmd.OutOrStdout()
			if f.json {
				writeRaw(out, raw)
				return nil
			}
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
	var fw waitFlags
	var to string
	failover := &cobra.Command{
		Use:   "failover --to NODE",
		Short: "Planned failover: move every leader that can move to NODE (ALTER SYSTEM FAILOVER TO 'NODE')",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return mutate(cmd, &f, &fw, http.MethodPost, "/api/v1/cluster/failover", map[string]string{"to": to})
		},
	}
	failover.Flags().StringVar(&to, "to", "", "node to move the leaders to")
	_ = failover.MarkFlagRequired("to")
	fw.register(failover)
	var rw waitFlags
	rebalance := &cobra.Command{
		Use:   "rebalance",
		Short: "Spread replicas and leaders evenly over the live data nodes (ALTER SYSTEM REBALANCE)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return mutate(cmd, &f, &rw, http.MethodPost, "/api/v1/cluster/rebalance", nil)
		},
	}
	rw.register(rebalance)
	settings := &cobra.Command{
		Use:   "settings",
		Short: "List cluster settings (SELECT * FROM cairn_cluster.settings)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return list(cmd, &f, "/api/v1/cluster/settings", nil)
		},
	}
	set := &cobra.Command{
		Use:   "set NAME VALUE",
		Short: "Change a cluster setting (ALTER SYSTEM SET NAME = 'VALUE')",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, raw, err := f.client(cmd).result(cmd.Context(), http.MethodPost, "/api/v1/cluster/settings",
				map[string]string{"name": args[0], "value": args[1]})
			if err != nil {
				return failed(err)
			}
			out := cmd.OutOrStdout()
			if f.json {
				writeRaw(out, raw)
				return nil
			}
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
	cmd := &cobra.Command{
		Use:   "debug",
		Short: "Last-resort repair commands",
		Args:  cobra.NoArgs,
	}
	f.register(cmd)
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
				return &exitErr{exitUsage, errors.New("give exactly one of --shard ID or --meta")}
			}
			id := shard
			what := fmt.Sprintf("shard %d", shard)
			again := fmt.Sprintf("--shard %d", shard)
			if meta {
				id, what, again = 1, "the meta group (group 1)", "--meta"
			}
			if id <= 0 {
				return &exitErr{exitUsage, fmt.Errorf("--shard must be a positive raft group id, got %d", id)}
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
