package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/testutil"
)

// proxyProc is a `cairn proxy` process owned by a test.
type proxyProc struct {
	addr, http string
	cmd        *exec.Cmd
	log        *testutil.SyncBuffer
	exited     chan struct{}
}

// startProxy starts `cairn proxy` and waits until it serves /api/v1/backends.
func startProxy(t *testing.T, join, mode string, extra ...string) *proxyProc {
	t.Helper()
	p := launchProxy(t, join, mode, extra...)
	testutil.WaitUntil(t, 20*time.Second, func() (bool, string) {
		select {
		case <-p.exited:
			t.Fatalf("proxy exited: %s", p.log.String())
		default:
		}
		resp, err := http.Get("http://" + p.http + "/api/v1/backends")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	return p
}

func launchProxy(t *testing.T, join, mode string, extra ...string) *proxyProc {
	t.Helper()
	addr, err1 := testutil.FreeAddr()
	httpAddr, err2 := testutil.FreeAddr()
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	p := &proxyProc{addr: addr, http: httpAddr, log: &testutil.SyncBuffer{}, exited: make(chan struct{})}
	args := append([]string{"proxy", "--listen", addr, "--http-addr", httpAddr, "--join", join, "--mode", mode, "--refresh", "200ms"}, extra...)
	p.cmd = exec.Command(Binary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL) // by PID: the process this test started
		<-p.exited
		if t.Failed() {
			t.Logf("proxy %s (%s) log:\n%s", mode, addr, p.log.String())
		}
	})
	return p
}

func (p *proxyProc) url() string { return "postgres://cairn@" + p.addr + "/cairn?sslmode=disable" }

// backends is the proxy's /api/v1/backends.
func (p *proxyProc) backends(t *testing.T) []map[string]any {
	t.Helper()
	resp, err := http.Get("http://" + p.http + "/api/v1/backends")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Rows []map[string]any `json:"rows"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Rows
}

// proxyConn is a client session through a proxy and the node it landed on.
type proxyConn struct {
	c    *pgx.Conn
	node string
}

func dialProxy(ctx context.Context, url string) (*proxyConn, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(cctx, url)
	if err != nil {
		return nil, err
	}
	var node string
	if err := c.QueryRow(cctx, "SHOW cairn.node").Scan(&node); err != nil {
		c.Close(context.Background())
		return nil, err
	}
	return &proxyConn{c: c, node: node}, nil
}

// openN opens n sessions through url, kept open until the test ends, and
// counts them by node.
func openN(t *testing.T, url string, n int) ([]*proxyConn, map[string]int) {
	t.Helper()
	var conns []*proxyConn
	count := map[string]int{}
	for range n {
		pc, err := dialProxy(context.Background(), url)
		if err != nil {
			t.Fatalf("session %d through the proxy: %v", len(conns)+1, err)
		}
		conns = append(conns, pc)
		count[pc.node]++
	}
	t.Cleanup(func() { closeAll(conns) })
	return conns, count
}

func closeAll(conns []*proxyConn) {
	for _, pc := range conns {
		pc.c.Close(context.Background())
	}
}

// TestProxy runs three nodes and `cairn proxy` in each mode in front of
// them: 300 sessions spread exactly evenly by round_robin (also across
// two proxies side by side), within one by least_connections while they
// stay open, 3:1:1 by weight, and not at all to a node below
// lb_min_health_score under health_based; a draining node gets no new
// sessions, its idle ones are closed with 57P01 and its session in a
// transaction finishes first; against a killed cluster a running proxy
// answers 57P03 and a new one exits with a clear error.
func TestProxy(t *testing.T) {
	p1 := NewProc(t)
	p1.Start()
	p2, p3 := NewProc(t), NewProc(t)
	p2.Start("--node-id", "n2", "--join", p1.Cluster)
	p3.Start("--node-id", "n3", "--join", p1.Cluster)
	procs := []*Proc{p1, p2, p3}
	waitUntil(t, 30*time.Second, func() (bool, string) {
		out, err := queryText(p1, "SELECT node_id, state, weight FROM cairn_cluster.nodes ORDER BY node_id")
		return err == nil && out == "n1|live|1\nn2|live|1\nn3|live|1", out + errString(err)
	})
	join := p1.PGAddr + "," + p2.PGAddr
	want100 := "map[n1:100 n2:100 n3:100]"

	t.Run("round_robin", func(t *testing.T) {
		px := startProxy(t, join, "round_robin")
		conns, got := openN(t, px.url(), 300)
		if fmt.Sprint(got) != want100 {
			t.Fatalf("300 sessions by round_robin: %v", got)
		}
		closeAll(conns)
		// Two proxies side by side each take their own turns.
		a, b := startProxy(t, join, "round_robin"), startProxy(t, p3.PGAddr, "round_robin")
		total := map[string]int{}
		for _, px := range []*proxyProc{a, b} {
			_, got := openN(t, px.url(), 150)
			if fmt.Sprint(got) != "map[n1:50 n2:50 n3:50]" {
				t.Fatalf("150 sessions through one of two proxies: %v", got)
			}
			for k, v := range got {
				total[k] += v
			}
		}
		if fmt.Sprint(total) != want100 {
			t.Fatal(total)
		}
		metrics := httpGet(t, "http://"+a.http+"/metrics")
		for _, m := range []string{`cairn_proxy_sessions{backend="n1"} 50`, `cairn_proxy_sessions_routed_total{backend="n3"} 50`,
			`cairn_proxy_routing_decisions_total{mode="round_robin",outcome="routed"} 150`} {
			if !strings.Contains(metrics, m) {
				t.Errorf("/metrics lacks %s", m)
			}
		}
	})

	t.Run("least_connections", func(t *testing.T) {
		px := startProxy(t, join, "least_connections")
		conns, got := openN(t, px.url(), 300)
		for n, c := range got {
			if c < 99 || c > 101 {
				t.Fatalf("300 open sessions by least_connections: %v (%s)", got, n)
			}
		}
		// Close 60 of n1's: the next 60 all go to n1, the least loaded.
		closed := 0
		for _, pc := range conns {
			if pc.node == "n1" && closed < 60 {
				pc.c.Close(context.Background())
				closed++
			}
		}
		waitUntil(t, 5*time.Second, func() (bool, string) {
			for _, r := range px.backends(t) {
				if r["node"] == "n1" {
					return r["sessions"] == float64(got["n1"]-60), fmt.Sprint(r)
				}
			}
			return false, "no n1"
		})
		_, again := openN(t, px.url(), 60)
		if fmt.Sprint(again) != "map[n1:60]" {
			t.Fatalf("60 sessions after closing 60 on n1: %v", again)
		}
	})

	t.Run("weighted", func(t *testing.T) {
		px := startProxy(t, join, "weighted")
		if _, err := queryText(p2, "ALTER NODE 'n1' SET WEIGHT 3"); err != nil {
			t.Fatal(err)
		}
		var pe *pgconn.PgError
		for _, bad := range []string{"101", "-1", "1.5", "'heavy'"} {
			_, err := queryText(p1, "ALTER NODE 'n1' SET WEIGHT "+bad)
			if !errors.As(err, &pe) || pe.Code != "22023" || !strings.Contains(pe.Message, "WEIGHT must be a whole number from 0 to 100") {
				t.Fatalf("SET WEIGHT %s: %v", bad, err)
			}
		}
		if _, err := queryText(p1, "ALTER NODE 'n9' SET WEIGHT 2"); !errors.As(err, &pe) || pe.Code != "42704" {
			t.Fatalf("SET WEIGHT of an unknown node: %v", err)
		}
		waitUntil(t, 10*time.Second, func() (bool, string) {
			out, err := queryText(p3, "SELECT node_id, weight FROM cairn_cluster.nodes ORDER BY node_id")
			return err == nil && out == "n1|3\nn2|1\nn3|1", out + errString(err)
		})
		waitUntil(t, 5*time.Second, func() (bool, string) {
			r := px.backends(t)
			return len(r) == 3 && r[0]["weight"] == float64(3), fmt.Sprint(r)
		})
		conns, got := openN(t, px.url(), 300)
		if got["n1"] < 175 || got["n1"] > 185 || got["n2"] < 57 || got["n2"] > 63 || got["n3"] < 57 || got["n3"] > 63 {
			t.Fatalf("300 sessions weighted 3:1:1: %v", got)
		}
		closeAll(conns)
		// Weight 0: no new sessions.
		if _, err := queryText(p1, "ALTER NODE 'n3' SET WEIGHT 0"); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 5*time.Second, func() (bool, string) {
			r := px.backends(t)
			return len(r) == 3 && r[2]["weight"] == float64(0) && r[2]["eligible"] == false, fmt.Sprint(r)
		})
		conns, got = openN(t, px.url(), 40)
		if got["n3"] != 0 || got["n1"] != 30 || got["n2"] != 10 {
			t.Fatalf("40 sessions with n1=3 n2=1 n3=0: %v", got)
		}
		closeAll(conns)
		for _, q := range []string{"ALTER NODE 'n1' SET WEIGHT 1", "ALTER NODE 'n3' SET WEIGHT 1"} {
			if _, err := queryText(p1, q); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("health_based", func(t *testing.T) {
		var pe *pgconn.PgError
		if _, err := queryText(p1, "ALTER SYSTEM SET lb_min_health_score = 101"); !errors.As(err, &pe) || pe.Code != "22023" {
			t.Fatalf("lb_min_health_score = 101: %v", err)
		}
		if _, err := queryText(p1, "ALTER SYSTEM SET lb_min_health_score = 60"); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 10*time.Second, func() (bool, string) { // n2's catalog follows the meta group's
			out, err := queryText(p2, "SHOW lb_min_health_score")
			return err == nil && out == "60", out + errString(err)
		})
		healthBased(t, join, p1, p3)
	})

	t.Run("client_multihost", func(t *testing.T) { clientMultiHost(t, procs) })

	t.Run("drain", func(t *testing.T) {
		px := startProxy(t, join, "round_robin")
		conns, got := openN(t, px.url(), 30)
		if fmt.Sprint(got) != "map[n1:10 n2:10 n3:10]" {
			t.Fatal(got)
		}
		// One session on n2 holds a transaction open.
		var tx *proxyConn
		for _, pc := range conns {
			if pc.node == "n2" {
				tx = pc
				break
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := tx.c.Exec(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		if _, err := queryText(p1, "ALTER NODE 'n2' DRAIN"); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 10*time.Second, func() (bool, string) {
			for _, r := range px.backends(t) {
				if r["node"] == "n2" {
					return r["state"] == "draining" && r["sessions"] == float64(1), fmt.Sprint(r)
				}
			}
			return false, "no n2"
		})
		// n2's idle sessions were closed with 57P01; the others still work.
		var pe *pgconn.PgError
		for _, pc := range conns {
			if pc == tx {
				continue
			}
			var one int
			err := pc.c.QueryRow(ctx, "SELECT 1").Scan(&one)
			if pc.node != "n2" {
				if err != nil {
					t.Fatalf("a session on %s: %v", pc.node, err)
				}
				continue
			}
			if err == nil || !pc.c.IsClosed() && !(errors.As(err, &pe) && pe.Code == "57P01") {
				t.Fatalf("an idle session on draining n2: %v", err)
			}
			if errors.As(err, &pe) && (pe.Code != "57P01" || !strings.Contains(pe.Message, `node "n2" is draining`)) {
				t.Fatalf("closed with %v", pe)
			}
		}
		// The transaction was not cut: it goes on and commits on n2.
		var node string
		if err := tx.c.QueryRow(ctx, "SHOW cairn.node").Scan(&node); err != nil || node != "n2" {
			t.Fatalf("the transaction on n2: %q %v", node, err)
		}
		if _, err := tx.c.Exec(ctx, "COMMIT"); err != nil {
			t.Fatalf("COMMIT on draining n2: %v", err)
		}
		// Once idle, it is closed too.
		waitUntil(t, 5*time.Second, func() (bool, string) {
			var one int
			err := tx.c.QueryRow(ctx, "SELECT 1").Scan(&one)
			return err != nil, "the finished transaction's session still works"
		})
		_, again := openN(t, px.url(), 30)
		if again["n2"] != 0 || again["n1"] != 15 || again["n3"] != 15 {
			t.Fatalf("30 sessions with n2 draining: %v", again)
		}
		metrics := httpGet(t, "http://"+px.http+"/metrics")
		if !strings.Contains(metrics, `cairn_proxy_drain_closes_total{backend="n2"} 10`) {
			t.Errorf("/metrics: %s", grepLines(metrics, "cairn_proxy_drain"))
		}
	})

	t.Run("dead_cluster", func(t *testing.T) {
		px := startProxy(t, join, "round_robin", "--backend-timeout", "1s")
		for _, p := range procs {
			p.Kill()
		}
		start := time.Now()
		_, err := dialProxy(context.Background(), px.url())
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || (pe.Code != "57P03" && pe.Code != "08006") || time.Since(start) > 20*time.Second {
			t.Fatalf("a session through a proxy of a dead cluster (after %s): %v", time.Since(start), err)
		}
		t.Logf("dead cluster: %s after %s", pe.Message, time.Since(start).Round(time.Millisecond))
		fresh := launchProxy(t, join, "round_robin", "--join-timeout", "2s")
		select {
		case <-fresh.exited:
		case <-time.After(15 * time.Second):
			t.Fatal("a proxy of a dead cluster did not exit")
		}
		if code := fresh.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(fresh.log.String(), "no node in --join") {
			t.Fatalf("exit %d: %s", code, fresh.log.String())
		}
		bad := launchProxy(t, join, "random")
		<-bad.exited
		if code := bad.cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(bad.log.String(), "--mode must be one of") {
			t.Fatalf("--mode random: exit %d: %s", code, bad.log.String())
		}
	})
}

// healthBased checks health_based routing: with every node healthy
// (scores from cairn_cluster.health at least lb_min_health_score, 60
// here) sessions go to all three, in proportion to their scores; a paused
// node's score falls (a suspect node scores at most 50) and it gets no
// new sessions; and the proxy's eligibility follows the threshold as it
// changes (at 100, exactly the nodes scoring 100 stay eligible).
func healthBased(t *testing.T, join string, p1, victim *Proc) {
	px := startProxy(t, join, "health_based")
	waitUntil(t, 15*time.Second, func() (bool, string) {
		rows := px.backends(t)
		ok := len(rows) == 3
		for _, r := range rows {
			ok = ok && r["eligible"] == true && r["score"] != nil
		}
		return ok, fmt.Sprint(rows)
	})
	conns, got := openN(t, px.url(), 300)
	closeAll(conns)
	for _, n := range []string{"n1", "n2", "n3"} {
		if got[n] < 60 || got[n] > 140 {
			t.Fatalf("300 sessions by health_based with every node healthy: %v", got)
		}
	}
	if err := victim.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = victim.Resume()
		}
	}()
	waitUntil(t, 30*time.Second, func() (bool, string) {
		for _, r := range px.backends(t) {
			if r["node"] == "n3" {
				sc, _ := r["score"].(float64)
				return r["eligible"] == false && r["score"] != nil && sc < 60, fmt.Sprint(r)
			}
		}
		return false, "no n3"
	})
	conns, got = openN(t, px.url(), 60)
	closeAll(conns)
	if got["n3"] != 0 {
		t.Fatalf("sessions to a node scoring below lb_min_health_score: %v", got)
	}
	if err := victim.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	waitUntil(t, 30*time.Second, func() (bool, string) {
		out, err := queryText(p1, "SELECT node_id, state FROM cairn_cluster.nodes ORDER BY node_id")
		return err == nil && out == "n1|live\nn2|live\nn3|live", out + errString(err)
	})
	// The threshold is read from the cluster: at 100 a node is eligible
	// exactly when it scores 100.
	if _, err := queryText(p1, "ALTER SYSTEM SET lb_min_health_score = 100"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, func() (bool, string) {
		rows := px.backends(t)
		for _, r := range rows {
			sc, _ := r["score"].(float64)
			if r["state"] == "live" && r["eligible"] != (sc == 100) {
				return false, fmt.Sprint(rows)
			}
			if r["eligible"] == false && sc < 100 && !strings.Contains(fmt.Sprint(r["why"]), "< lb_min_health_score 100") {
				return false, fmt.Sprint(rows)
			}
		}
		return true, ""
	})
	if _, err := queryText(p1, "ALTER SYSTEM RESET lb_min_health_score"); err != nil {
		t.Fatal(err)
	}
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// clientMultiHost checks multi-host connection strings without a proxy:
// the first host is down, so pgx and libpq (psql) go on to the next one
// that target_session_attrs accepts. Every Cairn node takes writes, so
// read-write and primary accept n2 while standby and read-only find no
// host. pgx implements no load_balance_hosts (it passes the key on to the
// server as a setting, which Cairn refuses as PostgreSQL does) and Debian
// 12's libpq 15 rejects the option (it came in libpq 16): both are
// checked as they are.
func clientMultiHost(t *testing.T, procs []*Proc) {
	dead, err := testutil.FreeAddr() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	hosts := dead + "," + procs[1].PGAddr + "," + procs[2].PGAddr
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pgxNode := func(attrs string) (string, error) {
		c, err := pgx.Connect(ctx, "postgres://cairn@"+hosts+"/cairn?sslmode=disable&connect_timeout=5&"+attrs)
		if err != nil {
			return "", err
		}
		defer c.Close(context.Background())
		var node string
		err = c.QueryRow(ctx, "SHOW cairn.node").Scan(&node)
		return node, err
	}
	for _, attrs := range []string{"target_session_attrs=read-write", "target_session_attrs=primary", "target_session_attrs=any"} {
		if node, err := pgxNode(attrs); err != nil || node != "n2" {
			t.Fatalf("pgx %s: %q %v", attrs, node, err)
		}
	}
	for _, attrs := range []string{"target_session_attrs=standby", "target_session_attrs=read-only"} {
		if node, err := pgxNode(attrs); err == nil {
			t.Fatalf("pgx %s found %s; no Cairn node is a standby or read-only", attrs, node)
		}
	}
	// pgx v5 has no load_balance_hosts: it sends the key to the server as
	// a startup setting, which Cairn, like PostgreSQL, refuses (42704)
	// rather than let the client believe its sessions are spread.
	if node, err := pgxNode("load_balance_hosts=random"); err == nil || !strings.Contains(err.Error(), `unrecognized configuration parameter "load_balance_hosts"`) {
		t.Fatalf("pgx load_balance_hosts=random: %q %v; want 42704 for the unknown startup parameter", node, err)
	}

	ports := make([]string, 3)
	for i, a := range strings.Split(hosts, ",") {
		ports[i] = a[strings.LastIndex(a, ":")+1:]
	}
	psql := func(attrs string) (string, error) {
		conn := "host=127.0.0.1,127.0.0.1,127.0.0.1 port=" + strings.Join(ports, ",") + " user=cairn dbname=cairn sslmode=disable connect_timeout=5 " + attrs
		cmd := exec.CommandContext(ctx, "psql", conn, "-XAtc", "SHOW cairn.node")
		cmd.Env = append(cmd.Environ(), "PGCONNECT_TIMEOUT=5")
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	for _, attrs := range []string{"target_session_attrs=read-write", "target_session_attrs=primary", "target_session_attrs=any"} {
		if out, err := psql(attrs); err != nil || out != "n2" {
			t.Fatalf("psql %s: %q %v", attrs, out, err)
		}
	}
	if out, err := psql("target_session_attrs=standby"); err == nil || !strings.Contains(out, "not in hot standby mode") {
		t.Fatalf("psql target_session_attrs=standby: %q %v", out, err)
	}
	ver, _ := exec.Command("psql", "--version").Output()
	out, err := psql("load_balance_hosts=random")
	if strings.Contains(string(ver), "(PostgreSQL) 15.") {
		if err == nil || !strings.Contains(out, `invalid connection option "load_balance_hosts"`) {
			t.Fatalf("libpq 15 load_balance_hosts=random: %q %v", out, err)
		}
	} else if err != nil || out != "n2" && out != "n3" {
		t.Fatalf("libpq %s load_balance_hosts=random: %q %v", strings.TrimSpace(string(ver)), out, err)
	}
}
