package pgwire

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const psqlPath = "/usr/bin/psql"

// runPsql runs psql against s with args, returning its combined output.
func runPsql(t *testing.T, s *Server, stdin string, args ...string) (string, error) {
	t.Helper()
	if _, err := os.Stat(psqlPath); err != nil {
		t.Skipf("psql not installed at %s", psqlPath)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, port, _ := strings.Cut(s.Addr().String(), ":")
	all := append([]string{"-X", "-h", "127.0.0.1", "-p", port, "-U", "cairn", "-v", "ON_ERROR_STOP=1"}, args...)
	cmd := exec.CommandContext(ctx, psqlPath, all...)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=5", "PGSSLMODE=prefer", "PAGER=", "PSQL_PAGER=")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPsqlQuery(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	out, err := runPsql(t, s, "", "-A", "-c", "ALLTYPES")
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	want := "c0|c1|c2|c3|c4|c5|c6|c7|c8|c9|c10|c11\n" +
		"t|-12|123456|9223372036854775807|1.5|1e+20|1234.5678|héllo, wörld|2024-01-02 03:04:05.123456|1999-12-31 23:59:59.5+00|2024-02-29|1 year 2 mons 3 days 04:00:30\n" +
		"|||||||||||\n" +
		"(2 rows)\n"
	if out != want {
		t.Errorf("psql output:\n%s\nwant:\n%s", out, want)
	}
	out, err = runPsql(t, s, "", "-c", "SELECT 42")
	if err != nil || !strings.Contains(out, " ?column? \n----------\n       42\n(1 row)") {
		t.Errorf("psql aligned output (%v):\n%s", err, out)
	}
}

func TestPsqlScriptWithCopy(t *testing.T) {
	h := newFakeHandler()
	s := startServer(t, h, Config{})
	script := `SELECT 5;
BEGIN;
\copy w1 from stdin
2024-01-01 00:00:00+00	1	eu	1.5
2024-01-01 00:00:01+00	2	\N	2.5
\.
\copy w1 from stdin with csv header
ts,device_id,region,value
2024-01-01 00:00:02Z,3,"us, east",3.5
\.
COMMIT;
NOTICE;
FAIL;
SELECT 6;
`
	dir := t.TempDir()
	path := filepath.Join(dir, "script.sql")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runPsql(t, s, "", "-f", path)
	// ON_ERROR_STOP makes psql exit with status 3 at FAIL.
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Errorf("psql exit: %v", err)
	}
	for _, want := range []string{
		"       5\n(1 row)",
		"BEGIN",
		"COPY 2",
		"COPY 1",
		"COMMIT",
		"NOTICE:  hello from the server",
		"ERROR:  division by zero",
		"DETAIL:  some detail",
		"HINT:  some hint",
		"LINE 1: FAIL;\n          ^", // the caret under position 3
	} {
		if !strings.Contains(out, want) {
			t.Errorf("psql output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "       6") {
		t.Errorf("psql ran past the error:\n%s", out)
	}
	b := h.takeCopied()
	if b == nil || b.N != 3 {
		t.Fatalf("copied rows: %+v", b)
	}
	if got := string(b.Cols[2].StrBytes(2)); got != "us, east" || !b.Cols[2].IsNull(1) || b.Cols[3].F[0] != 1.5 || b.Cols[1].I[2] != 3 {
		t.Errorf("copied values: %+v", b.Cols)
	}
}
