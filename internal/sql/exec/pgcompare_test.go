package exec

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/jackc/pgx/v5"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// The harness that checks datadriven scripts against a real PostgreSQL
// 15 (TestJoinsAgainstPostgres, TestOlapAgainstPostgres).

// pgBin is where Debian's PostgreSQL 15 lives (scripts/test-deps.sh
// installs it).
const pgBin = "/usr/lib/postgresql/15/bin"

// comparePG runs every `query` of scripts (in testdata) in PostgreSQL
// (conn) and in Cairn over srcs, and fails unless both return the same
// column names and rows, or both fail with the same SQLSTATE. A query
// marked `nopg` differs by design (its script says why) and is skipped;
// sorted says when rows compare as a multiset. At least min queries
// must be compared.
func comparePG(t *testing.T, conn *pgx.Conn, scripts []string, srcs map[string]Source, sorted func(*datadriven.TestData) bool, min int) {
	t.Helper()
	ctx := context.Background()
	ec := &Ctx{Now: time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)}
	compared := 0
	var fails []string
	for _, name := range scripts {
		datadriven.RunTest(t, filepath.Join("testdata", name), func(_ *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "query" || d.HasArg("nopg") {
				return d.Expected
			}
			compared++
			want, wantErr := pgRun(ctx, conn, d.Input)
			got, gotErr := cairnRun(ec, d.Input, srcs)
			switch {
			case wantErr != "" || gotErr != "":
				if wantErr != gotErr {
					fails = append(fails, fmt.Sprintf("%s: %s\nPostgreSQL: %q\nCairn:      %q", d.Pos, d.Input, wantErr, gotErr))
				}
			default:
				if sorted(d) {
					slices.Sort(want[1:])
					slices.Sort(got[1:])
				}
				if !slices.Equal(want, got) {
					fails = append(fails, fmt.Sprintf("%s: %s\nPostgreSQL:\n%s\nCairn:\n%s", d.Pos, d.Input, strings.Join(want, "\n"), strings.Join(got, "\n")))
				}
			}
			return d.Expected
		})
	}
	for _, f := range fails {
		t.Error(f)
	}
	if compared < min {
		t.Fatalf("only %d queries compared", compared)
	}
}

// cairnRun runs a query over srcs: the column names, then one line per
// row; or the error's SQLSTATE.
func cairnRun(ec *Ctx, sql string, srcs map[string]Source) ([]string, string) {
	stmts, _, err := parser.Parse(sql)
	if err != nil {
		return nil, pgerr.From(err).Code
	}
	p, err := PlanSelect(stmts[0].(*parser.Select), resolver(srcs), &ParamTypes{})
	if err != nil {
		return nil, pgerr.From(err).Code
	}
	var names []string
	for _, c := range p.Columns() {
		names = append(names, c.Name)
	}
	out := []string{strings.Join(names, " | ")}
	run := *ec
	err = p.Run(context.Background(), &run, func(row []types.Datum) error {
		out = append(out, textRow(row))
		return nil
	})
	if err != nil {
		return nil, pgerr.From(err).Code
	}
	return out, ""
}

// pgRun runs a query in PostgreSQL with the simple protocol (text
// results), in the format of cairnRun.
func pgRun(ctx context.Context, conn *pgx.Conn, sql string) ([]string, string) {
	rows, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, pgCode(err)
	}
	defer rows.Close()
	var names []string
	for _, f := range rows.FieldDescriptions() {
		names = append(names, f.Name)
	}
	out := []string{strings.Join(names, " | ")}
	for rows.Next() {
		var parts []string
		for _, v := range rows.RawValues() {
			if v == nil {
				parts = append(parts, "NULL")
			} else {
				parts = append(parts, string(v))
			}
		}
		out = append(out, strings.Join(parts, " | "))
	}
	if err := rows.Err(); err != nil {
		return nil, pgCode(err)
	}
	return out, ""
}

func pgCode(err error) string {
	var code string
	if pe, ok := err.(interface{ SQLState() string }); ok {
		code = pe.SQLState()
	} else {
		code = "error: " + err.Error()
	}
	return code
}

// loadPG creates a table like a script stream and inserts its rows.
func loadPG(t *testing.T, conn *pgx.Conn, name string, cols []Column, rows [][]types.Datum) {
	t.Helper()
	var defs []string
	for _, c := range cols {
		defs = append(defs, fmt.Sprintf("%s %s", c.Name, c.T))
	}
	ctx := context.Background()
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (%s)", name, strings.Join(defs, ", "))); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		var vals []string
		for _, d := range r {
			if d.Null {
				vals = append(vals, "NULL")
			} else {
				vals = append(vals, parser.QuoteString(string(types.AppendText(nil, d))))
			}
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s VALUES (%s)", name, strings.Join(vals, ", "))); err != nil {
			t.Fatal(err)
		}
	}
}

// startPostgres initializes and starts a PostgreSQL 15 in a temporary
// directory on a free 127.0.0.1 port (as user postgres when running as
// root), connects, and stops it by PID when the test ends. It fails the
// test, with the reason, when PostgreSQL cannot start.
func startPostgres(t *testing.T) *pgx.Conn {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "postgres")); err != nil {
		t.Fatalf("PostgreSQL 15 is missing (scripts/test-deps.sh installs it): %v", err)
	}
	// Not t.TempDir: its parent is private to the test's user, and the
	// server may run as another (postgres).
	dir, err := os.MkdirTemp("", "cairn-join-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	root := os.Geteuid() == 0
	cmd := func(name string, args ...string) *exec.Cmd {
		if root {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pgBin, name)}, args...)...)
		}
		return exec.Command(filepath.Join(pgBin, name), args...)
	}
	if root {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown %s: %v: %s", dir, err, out)
		}
	}
	data := filepath.Join(dir, "pgdata")
	if out, err := cmd("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale", "C", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv := cmd("postgres", "-D", data, "-p", fmt.Sprint(port), "-k", dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "TimeZone=UTC", "-c", "max_connections=10")
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stdout, srv.Stderr = logf, logf
	srv.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.Start(); err != nil {
		t.Fatalf("starting postgres: %v", err)
	}
	pid := srv.Process.Pid
	exited := make(chan struct{})
	go func() { _ = srv.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-pid, syscall.SIGINT) // fast shutdown
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-exited
		}
	})
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	for start := time.Now(); ; {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(cctx, url)
		cancel()
		if err == nil {
			t.Cleanup(func() { conn.Close(context.Background()) })
			return conn
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("postgres exited: %s", b)
		default:
		}
		if time.Since(start) > 20*time.Second {
			b, _ := os.ReadFile(filepath.Join(dir, "server.log"))
			t.Fatalf("PostgreSQL did not accept connections: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
