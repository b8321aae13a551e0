package exec

import (
	"context"
	"fmt"
	"net"
	"os"
	osexec "os/exec"
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

// relScripts are the scripts TestJoinsAgainstPostgres checks against
// PostgreSQL 15.
var relScripts = []string{"joins.txt", "subquery.txt", "setops.txt", "cte.txt"}

// TestJoinsAgainstPostgres starts a PostgreSQL 15 of its own, loads the
// relational scripts' tables (joins_test.go) into it, and runs every
// `query` of those scripts in both: the column names and rows must match
// (as multisets, unless the query has ORDER BY), or both must fail with
// the same SQLSTATE. A query marked `nopg` differs by design (the script
// says why) and is skipped here.
func TestJoinsAgainstPostgres(t *testing.T) {
	conn := relStartPG(t)
	ctx := context.Background()
	for _, tb := range relTables {
		var defs []string
		for _, c := range tb.cols {
			defs = append(defs, c.Name+" "+c.T.String())
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (%s)", tb.name, strings.Join(defs, ", "))); err != nil {
			t.Fatal(err)
		}
		for _, r := range tb.rows {
			var vals []string
			for _, d := range r {
				if d.Null {
					vals = append(vals, "NULL")
				} else {
					vals = append(vals, parser.QuoteString(string(types.AppendText(nil, d))))
				}
			}
			if _, err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s VALUES (%s)", tb.name, strings.Join(vals, ", "))); err != nil {
				t.Fatal(err)
			}
		}
	}
	ec := &Ctx{Now: time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)}
	compared := 0
	for _, name := range relScripts {
		datadriven.RunTest(t, filepath.Join("testdata", name), func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "query" || d.HasArg("nopg") {
				return d.Expected
			}
			compared++
			want, wantErr := relPGQuery(ctx, conn, d.Input)
			got, gotErr := relCairnQuery(ec, d.Input)
			if wantErr != "" || gotErr != "" {
				if wantErr != gotErr {
					t.Errorf("%s: %s\nPostgreSQL: %s\nCairn:      %s", d.Pos, d.Input, wantErr, gotErr)
				}
				return d.Expected
			}
			if !strings.Contains(strings.ToUpper(d.Input), "ORDER BY") {
				slices.Sort(want[1:])
				slices.Sort(got[1:])
			}
			if !slices.Equal(want, got) {
				t.Errorf("%s: %s\nPostgreSQL:\n%s\nCairn:\n%s", d.Pos, d.Input, strings.Join(want, "\n"), strings.Join(got, "\n"))
			}
			return d.Expected
		})
	}
	if compared < 50 {
		t.Fatalf("only %d queries compared", compared)
	}
}

// relCairnQuery runs sql over the script tables: a header of column
// names, then a line per row; or the error's SQLSTATE.
func relCairnQuery(ec *Ctx, sql string) ([]string, string) {
	stmts, _, err := parser.Parse(sql)
	if err != nil {
		return nil, pgerr.From(err).Code
	}
	p, err := PlanSelect(stmts[0].(*parser.Select), resolver(addRelTables(map[string]Source{})), &ParamTypes{})
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

// relPGQuery is relCairnQuery in PostgreSQL (simple protocol: text).
func relPGQuery(ctx context.Context, conn *pgx.Conn, sql string) ([]string, string) {
	rows, err := conn.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, relSQLState(err)
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
		return nil, relSQLState(err)
	}
	return out, ""
}

func relSQLState(err error) string {
	if s, ok := err.(interface{ SQLState() string }); ok {
		return s.SQLState()
	}
	return "not a PostgreSQL error: " + err.Error()
}

// relStartPG initializes and starts a PostgreSQL 15 in a temporary
// directory on a free 127.0.0.1 port (as user postgres when running as
// root), connects, and stops it by PID when the test ends. It fails the
// test, with the reason, when PostgreSQL cannot start.
func relStartPG(t *testing.T) *pgx.Conn {
	t.Helper()
	const bin = "/usr/lib/postgresql/15/bin"
	if _, err := os.Stat(filepath.Join(bin, "postgres")); err != nil {
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
	cmd := func(name string, args ...string) *osexec.Cmd {
		if root {
			return osexec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...)
		}
		return osexec.Command(filepath.Join(bin, name), args...)
	}
	if root {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := osexec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
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
