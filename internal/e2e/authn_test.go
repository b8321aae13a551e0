package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/testutil"
)

// TestSecureLoginPsql: psql against a secure cairn process: a user made
// with CREATE USER logs in with verify-full and a password (SCRAM-SHA-256
// with channel binding), a wrong password is refused, cairn logs in with
// its client certificate, and plain TCP is refused.
func TestSecureLoginPsql(t *testing.T) {
	psql, err := exec.LookPath("psql")
	if err != nil {
		t.Fatalf("psql is needed (scripts/test-deps.sh installs postgresql-client): %v", err)
	}
	p := NewProc(t)
	p.CertsDir = testutil.MakeCerts(t, t.TempDir())
	p.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE USER alice WITH PASSWORD 'correct horse'"); err != nil {
		t.Fatal(err)
	}
	verify := fmt.Sprintf("host=127.0.0.1 port=%s dbname=cairn sslmode=verify-full sslrootcert=%s/ca.crt", port(p), p.CertsDir)
	run := func(conninfo, password string) (string, error) {
		cmd := exec.CommandContext(ctx, psql, "-X", "-A", "-t", "-c", "SELECT current_user", conninfo)
		cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=10")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, tc := range []struct{ conninfo, password, want string }{
		{verify + " user=alice channel_binding=require", "correct horse", "alice\n"},
		{verify + " user=alice", "wrong", `FATAL:  password authentication failed for user "alice"`},
		{verify + " user=mallory", "correct horse", `FATAL:  password authentication failed for user "mallory"`},
		{fmt.Sprintf("%s user=cairn sslcert=%[2]s/client.cairn.crt sslkey=%[2]s/client.cairn.key", verify, p.CertsDir), "", "cairn\n"},
		{fmt.Sprintf("host=127.0.0.1 port=%s dbname=cairn user=alice sslmode=disable", port(p)), "correct horse", "FATAL:  connection requires TLS"},
	} {
		out, err := run(tc.conninfo, tc.password)
		if strings.HasPrefix(tc.want, "FATAL") {
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("psql %q: %v\n%s\nwant %q", tc.conninfo, err, out, tc.want)
			}
		} else if err != nil || out != tc.want {
			t.Errorf("psql %q: %v\n%s\nwant %q", tc.conninfo, err, out, tc.want)
		}
	}
}

// TestLoginErrorsAsPG15: a wrong password, a user that does not exist and
// a NOLOGIN role with a wrong password get from Cairn the error
// PostgreSQL 15 sends with scram-sha-256 in pg_hba.conf: the same
// severity, SQLSTATE and message.
func TestLoginErrorsAsPG15(t *testing.T) {
	pg := startPG15(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	setup := []string{"CREATE ROLE alice LOGIN PASSWORD 'correct horse'", "CREATE ROLE bob PASSWORD 'pw'"}
	pg.Exec(t, setup...)
	var hba string
	pgc, err := pgx.Connect(ctx, pg.URL())
	if err != nil {
		t.Fatal(err)
	}
	if err := pgc.QueryRow(ctx, "SHOW hba_file").Scan(&hba); err != nil {
		t.Fatal(err)
	}
	pg.Exec(t, fmt.Sprintf(`COPY (VALUES ('local all all trust'), ('host all postgres 127.0.0.1/32 trust'),
		('host all all 127.0.0.1/32 scram-sha-256')) TO '%s'`, hba), "SELECT pg_reload_conf()")
	pgc.Close(ctx)

	p := NewProc(t)
	p.CertsDir = testutil.MakeCerts(t, t.TempDir())
	p.Start()
	conn, err := pgx.Connect(ctx, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range setup {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	loginErr := func(conninfo string) string {
		c, err := pgconn.Connect(ctx, conninfo)
		if err == nil {
			c.Close(ctx)
			return "logged in"
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			return err.Error()
		}
		return pe.Severity + " " + pe.Code + " " + pe.Message
	}
	for _, who := range []string{"user=alice password=wrong", "user=mallory password=x", "user=bob password=wrong", "user=alice password='correct horse'"} {
		// Give PostgreSQL a moment to reload pg_hba.conf.
		var want string
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if want = loginErr(fmt.Sprintf("host=127.0.0.1 port=%d dbname=postgres sslmode=disable %s", pg.Port, who)); want != "logged in" || strings.Contains(who, "correct") {
				break
			}
		}
		got := loginErr(fmt.Sprintf("host=127.0.0.1 port=%s dbname=cairn sslmode=verify-full sslrootcert=%s/ca.crt %s", port(p), p.CertsDir, who))
		if got != want {
			t.Errorf("%s: Cairn %q, PostgreSQL 15 %q", who, got, want)
		}
	}
}

// TestAuthFailureLimitFlag: with --auth-failure-limit 1 one wrong
// password from an address makes even a good certificate from it wait.
func TestAuthFailureLimitFlag(t *testing.T) {
	p := NewProc(t)
	p.CertsDir = testutil.MakeCerts(t, t.TempDir())
	p.Start("--auth-failure-limit", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := pgconn.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%s user=cairn dbname=cairn sslmode=verify-full sslrootcert=%s/ca.crt password=guess", port(p), p.CertsDir))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Fatalf("a guess: %v", err)
	}
	_, err = pgconn.Connect(ctx, p.URL())
	if !errors.As(err, &pe) || pe.Code != "53300" || pe.Message != "too many failed login attempts from 127.0.0.1" {
		t.Fatalf("after one failure: %v, want 53300", err)
	}
}
