package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairndb/cairn/internal/frontend/httpapi"
	"github.com/cairndb/cairn/internal/pgerr"
)

// reply is one scripted answer of the fake runner.
type reply struct {
	res *httpapi.SQLResult
	err error
}

// scriptRunner answers each statement from a script: the replies for a
// statement are used in order, the last one repeats. Unscripted statements
// fail with 42601, so a test notices SQL it did not expect.
type scriptRunner struct {
	mu     sync.Mutex
	script map[string][]reply
	got    []string
	users  []string // the user each statement ran as
}

func (s *scriptRunner) RunSQL(_ context.Context, user, sql string) (*httpapi.SQLResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, sql)
	s.users = append(s.users, user)
	rs := s.script[sql]
	if len(rs) == 0 {
		return nil, pgerr.New(pgerr.SyntaxError, "unscripted statement %q", sql)
	}
	r := rs[0]
	if len(rs) > 1 {
		s.script[sql] = rs[1:]
	}
	return r.res, r.err
}

func (s *scriptRunner) statements() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func sp(s string) *string { return &s }

func rows(cols []string, rs ...[]*string) *httpapi.SQLResult {
	return &httpapi.SQLResult{Columns: cols, Rows: rs, Tag: "SELECT"}
}

var opCols = []string{"op_id", "op_type", "target", "status", "progress", "current_step", "start_time", "end_time", "error"}

// opRowResult is one cairn_cluster.operations row.
func opRowResult(id, status, progress, errText string) *httpapi.SQLResult {
	var e *string
	if errText != "" {
		e = sp(errText)
	}
	return rows(opCols, []*string{sp(id), sp("drain"), sp("node n2"), sp(status), sp(progress), sp("moving leaders"), sp("2026-11-22 03:00:00"), nil, e})
}

func opQuery(id string) string {
	return "SELECT * FROM cairn_cluster.operations WHERE op_id = " + id
}

// startedOps is what a mutating statement returns.
func startedOps(ids ...string) *httpapi.SQLResult {
	res := &httpapi.SQLResult{Columns: []string{"op_id", "op_type", "target", "status"}, Tag: "ALTER NODE"}
	for _, id := range ids {
		res.Rows = append(res.Rows, []*string{sp(id), sp("drain"), sp("node n2"), sp("pending")})
	}
	return res
}

// runCLI runs the operator commands against an API server backed by r and
// returns stdout, stderr and the exit code main would use.
func runCLI(t *testing.T, r httpapi.SQLRunner, args ...string) (string, string, int, error) {
	t.Helper()
	srv := httptest.NewServer(apiServer(r, &apiBackend{}))
	defer srv.Close()
	return runCLIHost(t, append(args, "--host", srv.Listener.Addr().String())...)
}

func runCLIHost(t *testing.T, args ...string) (string, string, int, error) {
	t.Helper()
	old := opsPollInterval
	opsPollInterval = 5 * time.Millisecond
	defer func() { opsPollInterval = old }()
	root := &cobra.Command{Use: "cairn", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(Commands()...)
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := root.ExecuteContext(ctx)
	code := 0
	if err != nil {
		code = ExitUsage // what main does with an error that has no code
		var ee *ExitCode
		if errors.As(err, &ee) {
			code = ee.Code
		}
	}
	return out.String(), errb.String(), code, err
}

func TestNodeLsTable(t *testing.T) {
	r := &scriptRunner{script: map[string][]reply{
		"SELECT * FROM cairn_cluster.nodes": {{res: rows(
			[]string{"node_id", "address", "role", "state", "leaders", "last_heartbeat", "build"},
			[]*string{sp("n1"), sp("10.0.0.1:7480"), sp("data"), sp("live"), sp("12"), sp("2026-11-22 03:00:00"), sp("x")},
			[]*string{sp("node-two"), sp("10.0.0.2:7480"), sp("data"), sp("dead"), sp("0"), nil, sp("y")},
		)}},
	}}
	out, _, code, err := runCLI(t, r, "node", "ls")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, err)
	}
	want := "" +
		"NODE_ID   ADDRESS        ROLE  STATE  LEADERS  LAST_HEARTBEAT       BUILD\n" +
		"n1        10.0.0.1:7480  data  live   12       2026-11-22 03:00:00  x\n" +
		"node-two  10.0.0.2:7480  data  dead   0                             y\n"
	if out != want {
		t.Errorf("node ls printed\n%s\nwant\n%s", out, want)
	}

	// --json prints the API's reply itself.
	r.script["SELECT * FROM cairn_cluster.nodes"] = []reply{{res: rows([]string{"node_id"}, []*string{sp("n1")})}}
	out, _, code, _ = runCLI(t, r, "node", "ls", "--json")
	if code != 0 || out != `{"columns":["node_id"],"rows":[["n1"]],"tag":"SELECT"}`+"\n" {
		t.Errorf("node ls --json: exit %d, %q", code, out)
	}
}

func TestNodeActionsSQL(t *testing.T) {
	cases := []struct {
		args []string
		sql  string
	}{
		{[]string{"node", "offline", "n2"}, "ALTER NODE 'n2' OFFLINE"},
		{[]string{"node", "recover", "n2"}, "ALTER NODE 'n2' RECOVER"},
		{[]string{"node", "drain", "o'neil/1"}, "ALTER NODE 'o''neil/1' DRAIN"},
		{[]string{"node", "decommission", "n2"}, "ALTER NODE 'n2' DECOMMISSION"},
		{[]string{"node", "remove", "n2"}, "ALTER NODE 'n2' REMOVE"},
		{[]string{"shard", "transfer-leader", "17", "--to", "n3"}, "ALTER SHARD 17 TRANSFER LEADER TO 'n3'"},
		{[]string{"shard", "recover-replica", "17", "--on", "n3"}, "ALTER SHARD 17 RECOVER REPLICA ON 'n3'"},
		{[]string{"ops", "cancel", "9"}, "CANCEL OPERATION 9"},
		{[]string{"cluster", "failover", "--to", "n2"}, "ALTER SYSTEM FAILOVER TO 'n2'"},
		{[]string{"cluster", "rebalance"}, "ALTER SYSTEM REBALANCE"},
	}
	for _, c := range cases {
		r := &scriptRunner{script: map[string][]reply{c.sql: {{res: startedOps("7")}}}}
		out, _, code, err := runCLI(t, r, c.args...)
		if code != 0 {
			t.Errorf("%q: exit %d: %v", c.args, code, err)
			continue
		}
		if got := r.statements(); len(got) != 1 || got[0] != c.sql {
			t.Errorf("%q: SQL %q, want %q", c.args, got, c.sql)
		}
		if !strings.Contains(out, "OP_ID") || !strings.Contains(out, "pending") {
			t.Errorf("%q: output lacks the started operation:\n%s", c.args, out)
		}
	}

	// A statement that starts nothing says so.
	r := &scriptRunner{script: map[string][]reply{"ALTER SYSTEM REBALANCE": {{res: &httpapi.SQLResult{Columns: []string{"op_id"}, Tag: "ALTER SYSTEM"}}}}}
	out, _, code, _ := runCLI(t, r, "cluster", "rebalance", "--wait")
	if code != 0 || out != "ALTER SYSTEM: no operation started (nothing to do)\n" {
		t.Errorf("empty rebalance: exit %d, %q", code, out)
	}
}

func TestMutateWaitsForEveryOp(t *testing.T) {
	r := &scriptRunner{script: map[string][]reply{
		"ALTER NODE 'n2' DRAIN": {{res: startedOps("7", "8")}},
		opQuery("7"):            {{res: opRowResult("7", "running", "0.5", "")}, {res: opRowResult("7", "done", "1", "")}},
		opQuery("8"):            {{res: opRowResult("8", "done", "1", "")}},
	}}
	out, _, code, err := runCLI(t, r, "node", "drain", "n2", "--wait")
	if code != 0 {
		t.Fatalf("exit %d: %v\n%s", code, err, out)
	}
	want := []string{"ALTER NODE 'n2' DRAIN", opQuery("7"), opQuery("7"), opQuery("8")}
	if got := r.statements(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("SQL %q, want %q", got, want)
	}
	for _, line := range []string{
		"operation 7 (drain node n2): running  [#########---------]  50%  moving leaders\n",
		"operation 7 (drain node n2): done  [##################] 100%\n",
		"operation 8 (drain node n2): done  [##################] 100%\n",
	} {
		if !strings.Contains(out, line) {
			t.Errorf("output lacks %q:\n%s", line, out)
		}
	}
}

func TestOpsWait(t *testing.T) {
	t.Run("done", func(t *testing.T) {
		r := &scriptRunner{script: map[string][]reply{opQuery("4"): {
			{res: opRowResult("4", "pending", "0", "")},
			{res: opRowResult("4", "running", "0.45", "")},
			{res: opRowResult("4", "running", "0.45", "")},
			{res: opRowResult("4", "done", "1", "")},
		}}}
		out, _, code, err := runCLI(t, r, "ops", "wait", "4")
		if code != 0 {
			t.Fatalf("exit %d: %v", code, err)
		}
		// Not a terminal: one plain line per change, no redraws.
		want := "" +
			"operation 4 (drain node n2): pending  [------------------]   0%  moving leaders\n" +
			"operation 4 (drain node n2): running  [########----------]  45%  moving leaders\n" +
			"operation 4 (drain node n2): done  [##################] 100%\n"
		if out != want {
			t.Errorf("printed\n%s\nwant\n%s", out, want)
		}
		if n := len(r.statements()); n != 4 {
			t.Errorf("polled %d times, want 4", n)
		}
	})
	t.Run("failed", func(t *testing.T) {
		r := &scriptRunner{script: map[string][]reply{opQuery("4"): {
			{res: opRowResult("4", "running", "0.2", "")},
			{res: opRowResult("4", "failed", "0.2", "no live node can take the replica")},
		}}}
		_, _, code, err := runCLI(t, r, "ops", "wait", "4")
		if code != 1 || err == nil || !strings.Contains(err.Error(), "failed: no live node can take the replica") {
			t.Errorf("exit %d, err %v; want 1 with the operation's error", code, err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		r := &scriptRunner{script: map[string][]reply{opQuery("4"): {{res: opRowResult("4", "cancelled", "0.2", "cancelled by an operator")}}}}
		_, _, code, err := runCLI(t, r, "ops", "wait", "4")
		if code != 1 || err == nil || !strings.Contains(err.Error(), "cancelled by an operator") {
			t.Errorf("exit %d, err %v", code, err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		r := &scriptRunner{script: map[string][]reply{opQuery("4"): {{res: opRowResult("4", "running", "0.3", "")}}}}
		start := time.Now()
		_, _, code, err := runCLI(t, r, "ops", "wait", "4", "--timeout", "100ms")
		if code != ExitWaitTimeout || err == nil || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("exit %d, err %v; want %d", code, err, ExitWaitTimeout)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("a 100ms wait took %s", d)
		}
	})
	t.Run("unknown", func(t *testing.T) {
		r := &scriptRunner{script: map[string][]reply{opQuery("5"): {{res: rows(opCols)}}}}
		_, _, code, err := runCLI(t, r, "ops", "wait", "5")
		if code != 1 || err == nil || err.Error() != "ERROR: operation 5 does not exist (SQLSTATE 42704)\nHINT: cairn ops ls (GET /api/v1/operations) lists the operations the cluster remembers" {
			t.Errorf("exit %d, err %v", code, err)
		}
		if n := len(r.statements()); n != 1 {
			t.Errorf("a missing operation was polled %d times", n)
		}
	})
	t.Run("unavailable is retried", func(t *testing.T) {
		r := &scriptRunner{script: map[string][]reply{opQuery("4"): {
			{err: pgerr.New(pgerr.CannotConnectNow, "the meta group has no leader")},
			{res: opRowResult("4", "done", "1", "")},
		}}}
		_, _, code, err := runCLI(t, r, "ops", "wait", "4")
		if code != 0 {
			t.Errorf("exit %d, err %v", code, err)
		}
	})
	t.Run("terminal", func(t *testing.T) {
		old := isTerminal
		isTerminal = func(io.Writer) bool { return true }
		defer func() { isTerminal = old }()
		r := &scriptRunner{script: map[string][]reply{opQuery("4"): {
			{res: opRowResult("4", "running", "0.45", "")},
			{res: opRowResult("4", "done", "1", "")},
		}}}
		out, _, code, err := runCLI(t, r, "ops", "wait", "4")
		// One line, redrawn in place, ended by a newline.
		want := "\r\033[Koperation 4 (drain node n2): running  [########----------]  45%  moving leaders" +
			"\r\033[Koperation 4 (drain node n2): done  [##################] 100%\n"
		if code != 0 || out != want {
			t.Errorf("exit %d (%v), printed %q, want %q", code, err, out, want)
		}
	})
	t.Run("json", func(t *testing.T) {
		r := &scriptRunner{script: map[string][]reply{opQuery("4"): {{res: opRowResult("4", "done", "1", "")}}}}
		out, errOut, code, _ := runCLI(t, r, "ops", "wait", "4", "--json")
		if code != 0 || !strings.HasPrefix(out, `{"columns":["op_id"`) || !strings.Contains(errOut, "operation 4") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
}

func TestOpsLs(t *testing.T) {
	var rs [][]*string
	// 25 finished, then 2 active, listed newest first to check the order.
	for i := 27; i >= 1; i-- {
		st, p := "done", "1"
		if i > 25 {
			st, p = "running", "0.45"
		}
		rs = append(rs, []*string{sp(strconv.Itoa(i)), sp("rebalance"), sp("cluster"), sp(st), sp(p), nil, nil, nil, nil})
	}
	r := &scriptRunner{script: map[string][]reply{"SELECT * FROM cairn_cluster.operations": {{res: rows(opCols, rs...)}}}}
	out, _, code, err := runCLI(t, r, "ops", "ls")
	if code != 0 {
		t.Fatalf("exit %d: %v", code, err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	// Header, 20 finished (6..25), 2 running, the note.
	if len(lines) != 24 {
		t.Fatalf("%d lines, want 24:\n%s", len(lines), out)
	}
	if !strings.HasPrefix(lines[1], "6 ") || !strings.HasPrefix(lines[22], "27 ") {
		t.Errorf("rows not 6..27 in op_id order:\n%s", out)
	}
	if !strings.Contains(lines[22], "[########----------]  45%") {
		t.Errorf("no progress bar in %q", lines[22])
	}
	if lines[23] != "(5 older finished operations not shown; --all shows every one)" {
		t.Errorf("last line %q", lines[23])
	}
	r.script["SELECT * FROM cairn_cluster.operations"] = []reply{{res: rows(opCols, rs...)}}
	out, _, _, _ = runCLI(t, r, "ops", "ls", "--all")
	if n := strings.Count(out, "\n"); n != 28 {
		t.Errorf("--all printed %d lines, want 28", n)
	}
}

func TestProgressBar(t *testing.T) {
	for in, want := range map[string]string{
		"0":    "[------------------]   0%",
		"0.45": "[########----------]  45%",
		"0.5":  "[#########---------]  50%",
		"1":    "[##################] 100%",
		"1.7":  "[##################] 100%",
		"-1":   "[------------------]   0%",
		"n/a":  "n/a",
		"":     "",
	} {
		if got := progressBar(&in); got != want {
			t.Errorf("progressBar(%q) = %q, want %q", in, got, want)
		}
	}
	if got := progressBar(nil); got != "" {
		t.Errorf("progressBar(NULL) = %q", got)
	}
}

func TestDebugRecover(t *testing.T) {
	plan := rows([]string{"group_id", "node_id", "applied_index", "action"},
		[]*string{sp("7"), sp("n1"), sp("120"), sp("keep as the only voter")},
		[]*string{sp("7"), sp("n3"), nil, sp("drop (node dead)")})
	t.Run("dry run", func(t *testing.T) {
		r := &scriptRunner{script: map[string][]reply{"ALTER SHARD 7 FORCE RECOVER": {{res: plan}}}}
		out, _, code, err := runCLI(t, r, "debug", "recover", "--shard", "7")
		if code != 0 {
			t.Fatalf("exit %d: %v", code, err)
		}
		if got := r.statements(); len(got) != 1 || got[0] != "ALTER SHARD 7 FORCE RECOVER" {
			t.Errorf("SQL %q: a dry run must not send CONFIRM DATA LOSS", got)
		}
		for _, s := range []string{"keep as the only voter", "DRY RUN: nothing was changed", "cairn debug recover --shard 7 --confirm-data-loss"} {
			if !strings.Contains(out, s) {
				t.Errorf("output lacks %q:\n%s", s, out)
			}
		}
	})
	t.Run("confirmed", func(t *testing.T) {
		r := &scriptRunner{script: map[string][]reply{"ALTER SHARD 7 FORCE RECOVER CONFIRM DATA LOSS": {{res: plan}}}}
		out, _, code, err := runCLI(t, r, "debug", "recover", "--shard", "7", "--confirm-data-loss")
		if code != 0 || strings.Contains(out, "DRY RUN") || !strings.Contains(out, "keep as the only voter") {
			t.Errorf("exit %d (%v):\n%s", code, err, out)
		}
	})
	t.Run("meta", func(t *testing.T) {
		r := &scriptRunner{script: map[string][]reply{"ALTER SHARD 1 FORCE RECOVER": {{res: plan}}}}
		out, _, code, err := runCLI(t, r, "debug", "recover", "--meta")
		if code != 0 || !strings.Contains(out, "meta group") || !strings.Contains(out, "cairn debug recover --meta --confirm-data-loss") {
			t.Errorf("exit %d (%v):\n%s", code, err, out)
		}
	})
	for _, args := range [][]string{{"debug", "recover"}, {"debug", "recover", "--meta", "--shard", "3"}, {"debug", "recover", "--shard", "0"}} {
		r := &scriptRunner{script: map[string][]reply{}}
		_, _, code, _ := runCLI(t, r, args...)
		if code != ExitUsage || len(r.statements()) != 0 {
			t.Errorf("%q: exit %d, SQL %q; want a usage error and no request", args, code, r.statements())
		}
	}
}

func TestClusterCommands(t *testing.T) {
	r := &scriptRunner{script: map[string][]reply{
		"SELECT * FROM cairn_cluster.nodes": {{res: rows([]string{"node_id", "state"},
			[]*string{sp("n1"), sp("live")}, []*string{sp("n2"), sp("live")}, []*string{sp("n3"), sp("dead")})}},
		"SELECT * FROM cairn_cluster.operations WHERE status IN ('pending','running')": {{res: opRowResult("3", "running", "0.45", "")}},
		"ALTER SYSTEM SET auto_failover = 'off'":                                       {{res: &httpapi.SQLResult{Tag: "ALTER SYSTEM"}}},
		"SELECT * FROM cairn_cluster.settings": {{res: rows([]string{"name", "value"},
			[]*string{sp("auto_failover"), sp("off")})}},
	}}
	out, _, code, err := runCLI(t, r, "cluster", "status")
	if code != 0 {
		t.Fatalf("status: exit %d: %v", code, err)
	}
	for _, s := range []string{"3 nodes: 2 live, 1 dead\n", "NODE_ID  STATE\n", "n3       dead\n", "1 pending or running operations:\n", "[########----------]  45%"} {
		if !strings.Contains(out, s) {
			t.Errorf("status lacks %q:\n%s", s, out)
		}
	}
	out, _, code, _ = runCLI(t, r, "cluster", "set", "auto_failover", "off")
	if code != 0 || out != "ALTER SYSTEM: auto_failover = off\n" {
		t.Errorf("set: exit %d, %q", code, out)
	}
	out, _, code, _ = runCLI(t, r, "cluster", "settings")
	if code != 0 || out != "NAME           VALUE\nauto_failover  off\n" {
		t.Errorf("settings: exit %d, %q", code, out)
	}
	// The server refuses a bad setting name; the CLI shows its error.
	_, _, code, err = runCLI(t, r, "cluster", "set", "Bad-Name", "x")
	if code != 1 || err == nil || !strings.Contains(err.Error(), "(SQLSTATE 22023)") {
		t.Errorf("bad name: exit %d, %v", code, err)
	}
}

func TestAdminErrorOutput(t *testing.T) {
	r := &scriptRunner{script: map[string][]reply{"ALTER NODE 'n2' REMOVE": {{err: pgerr.New("55006", `node "n2" still holds 4 shard replicas`).
		WithDetail("4 replicas").WithHint("ALTER NODE 'n2' DECOMMISSION moves them off.")}}}}
	_, _, code, err := runCLI(t, r, "node", "remove", "n2")
	want := "ERROR: node \"n2\" still holds 4 shard replicas (SQLSTATE 55006)\nDETAIL: 4 replicas\nHINT: ALTER NODE 'n2' DECOMMISSION moves them off."
	if code != 1 || err == nil || err.Error() != want {
		t.Errorf("exit %d, error %q; want 1, %q", code, err, want)
	}
}

func TestConnectionRefusedNamesHost(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, _, code, err := runCLIHost(t, "node", "ls", "--host", addr)
	if code != 1 || err == nil || !regexp.MustCompile(`connection refused[\s\S]*--host`).MatchString(err.Error()) {
		t.Errorf("exit %d, error %v", code, err)
	}
	// CAIRN_HOST is used when --host is not given.
	t.Setenv("CAIRN_HOST", addr)
	_, _, _, err = runCLIHost(t, "cluster", "settings")
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("CAIRN_HOST ignored: %v", err)
	}
}
