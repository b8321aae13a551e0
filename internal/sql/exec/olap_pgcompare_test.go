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

// pgBin is where Debian's PostgreSQL 15 lives (scripts/test-deps.sh
// installs it).
const pgBin = "/usr/lib/postgresql/15/bin"

// olapScripts are the scripts whose queries TestOlapAgainstPostgres runs
// in PostgreSQL 15 too.
var olapScripts = []string{"windowfn.txt", "groupingsets.txt", "distincton.txt", "srf.txt", "records.txt"}

// TestOlapAgainstPostgres runs every `query` of the olap scripts (window
// functions, grouping sets, DISTINCT ON, set-returning functions) in a
// real PostgreSQL 15 it starts, over the same events and amounts rows,
// and checks Cairn returns the same column names and rows, or fails with
// the same SQLSTATE. A query marked `nopg` is one Cairn refuses by
// design (0A000) and PostgreSQL runs: only Cairn's refusal is checked
// (by the script). `sort` compares rows as a multiset (the query's
// ORDER BY leaves ties).
func TestOlapAgainstPostgres(t *testing.T) {
	conn := startPostgres(t)
	ctx := context.Background()
	loadPG(t, conn, "events", eventCols, sqlEvents().rows)
	loadPG(t, conn, "amounts", amountCols, sqlAmounts().rows)
	ec := &Ctx{Now: time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)}
	compared := 0
	var fails []string
	for _, name := range olapScripts {
		datadriven.RunTest(t, filepath.Join("testdata", name), func(_ *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "query" || d.HasArg("nopg") {
				return d.Expected
			}
			compared++
			want, wantErr := pgRun(ctx, conn, d.Input)
			got, gotErr := cairnRun(ec, d.Input)
			switch {
			case wantErr != "" || gotErr != "":
				if wantErr != gotErr {
					fails = append(fails, fmt.Sprintf("%s: %s\nPostgreSQL: %q\nCairn:      %q", d.Pos, d.Input, wantErr, gotErr))
				}
			default:
				if d.HasArg("sort") {
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
	if compared < 20 {
		t.Fatalf("only %d queries compared", compared)
	}
}

// cairnRun runs a query over the script streams: the column names, then
// one line per row; or the error's SQLSTATE.
func cairnRun(ec *Ctx, sql string) ([]string, string) {
	stmts, _, err := parser.Parse(sql)
	if err != nil {
		return nil, pgerr.From(err).Code
	}
	p, err := PlanSelect(stmts[0].(*parser.Select), resolver(map[string]Source{"events": sqlEvents(), "amounts": sqlAmounts()}), &ParamTypes{})
	if err != nil {
		return nil, pgerr.From(err).Code
	}
	var names []string
	for _, c := range p.Columns() {
		names = append(names, c.Name)
	}
	out := []string{strings.Join(names, " | ")}
	err = p.Run(context.Background(), ec, func(row []types.Datum) error {
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

// startPostgres starts a throwaway PostgreSQL 15 on a free 127.0.0.1
// port (as user postgres when the test runs as root, since PostgreSQL
// refuses to run as root) and connects to it; cleanup stops it by PID
// and removes its files.
func startPostgres(t *testing.T) *pgx.Conn {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "postgres")); err != nil {
		t.Fatalf("PostgreSQL 15 is not installed (run scripts/test-deps.sh): %v", err)
	}
	dir, err := os.MkdirTemp("", "cairn-olap-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	asPG := func(name string, args ...string) *exec.Cmd {
		if os.Geteuid() == 0 {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pgBin, name)}, args...)...)
		}
		return exec.Command(filepath.Join(pgBin, name), args...)
	}
	if os.Geteuid() == 0 {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v: %s", err, out)
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := asPG("initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale", "C").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := asPG("postgres", "-D", data, "-p", fmt.Sprint(port), "-k", dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "TimeZone=UTC", "-c", "shared_buffers=16MB")
	log, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		// SIGINT is PostgreSQL's fast shutdown; runuser passes it on.
		syscall.Kill(-pid, syscall.SIGINT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			syscall.Kill(-pid, syscall.SIGKILL)
			<-done
		}
	})
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, url)
		cancel()
		if err == nil {
			t.Cleanup(func() { conn.Close(context.Background()) })
			return conn
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Fatalf("PostgreSQL did not accept connections: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
