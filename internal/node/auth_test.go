package node_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/node"
	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/testutil"
	"github.com/cairndb/cairn/internal/testutil/testcluster"
)

// TestLoginInsecureLoopback: on an insecure node a loopback client is
// trusted, but only as a LOGIN role: cairn and a user made with CREATE
// USER get in (no password asked); the built-in admin and a role made
// with CREATE ROLE (both NOLOGIN) and a user that does not exist get the
// same 28P01, as often as they try.
func TestLoginInsecureLoopback(t *testing.T) {
	c := testcluster.Start(t, 1)
	conn := connect(t, c, 0)
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	mustExec(t, conn, "CREATE USER alice WITH PASSWORD 'pw'")
	mustExec(t, conn, "CREATE ROLE bob")
	alice, err := pgx.Connect(context.Background(), strings.Replace(c.URL(0), "cairn@", "alice@", 1))
	if err != nil {
		t.Fatalf("alice: %v", err)
	}
	var who string
	if err := alice.QueryRow(context.Background(), "SELECT current_user").Scan(&who); err != nil || who != "alice" {
		t.Errorf("current_user %q, %v", who, err)
	}
	alice.Close(context.Background())
	// Twice over: six failures, past the failed-login limit, which does
	// not apply to the loopback clients of an insecure node.
	for _, user := range []string{"admin", "bob", "nobody", "admin", "bob", "nobody"} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := pgx.Connect(ctx, strings.Replace(c.URL(0), "cairn@", user+"@", 1))
		cancel()
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "28P01" || pe.Message != fmt.Sprintf("password authentication failed for user %q", user) {
			t.Errorf("%s: %v, want 28P01 password authentication failed", user, err)
		}
	}
}

// startSecure starts one in-process node with certs (testutil.MakeCerts)
// and a failed-login limit and returns its SQL address.
func startSecure(t *testing.T, certs string, limit int) string {
	t.Helper()
	addr := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	cfg := node.Config{DataDir: t.TempDir(), PGAddr: addr(), HTTPAddr: addr(), ClusterAddr: addr(), NodeID: "n1",
		NoSync: true, CertsDir: certs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), AuthFailureLimit: limit}
	n, err := node.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return cfg.PGAddr
}

// TestLoginSecure: a secure node lets cairn in by its client certificate
// only, and a user made with CREATE USER by certificate or password;
// wrong passwords, NOLOGIN roles, other users' certificates and plain TCP
// are refused, and the errors do not say whether the user exists.
func TestLoginSecure(t *testing.T) {
	certs := testutil.MakeCerts(t, t.TempDir())
	if err := security.CreateClient(certs, "alice", security.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	addr := startSecure(t, certs, 100)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testutil.SecureURL(addr, "cairn", certs))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var who string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != "cairn" {
		t.Fatalf("current_user %q, %v", who, err)
	}
	verify := fmt.Sprintf("sslmode=verify-full sslrootcert=%s/ca.crt", certs)
	aliceCert := fmt.Sprintf("sslcert=%s/client.alice.crt sslkey=%s/client.alice.key", certs, certs)
	host, port, _ := net.SplitHostPort(addr)
	dsn := func(user, opts string) string {
		return fmt.Sprintf("host=%s port=%s user=%s dbname=cairn %s", host, port, user, opts)
	}
	// Before alice exists her certificate does not let her in; once she
	// is a user it does, and so does her password (SCRAM-SHA-256-PLUS).
	_, err = pgx.Connect(ctx, dsn("alice", verify+" "+aliceCert))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28P01" || pe.Message != `password authentication failed for user "alice"` {
		t.Errorf("alice's certificate before she exists: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE USER alice WITH PASSWORD 'correct horse'"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE ROLE bob WITH PASSWORD 'pw'"); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []string{verify + " " + aliceCert, verify + " password='correct horse' channel_binding=require"} {
		c, err := pgx.Connect(ctx, dsn("alice", opts))
		if err != nil {
			t.Fatalf("alice with %q: %v", opts, err)
		}
		if err := c.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != "alice" {
			t.Errorf("alice with %q: current_user %q, %v", opts, who, err)
		}
		c.Close(ctx)
	}
	for _, tc := range []struct{ user, opts, code, msg string }{
		{"alice", verify + " password=wrong", "28P01", `password authentication failed for user "alice"`},
		// bob has a password but no LOGIN.
		{"bob", verify + " password=pw", "28P01", `password authentication failed for user "bob"`},
		// cairn has no password: without its certificate it cannot log in.
		{"cairn", verify + " password=guess", "28P01", `password authentication failed for user "cairn"`},
		{"nobody", verify + " password=guess", "28P01", `password authentication failed for user "nobody"`},
		{"cairn", verify + " " + aliceCert, "28000", `certificate authentication failed for user "cairn"`},
		{"cairn", "sslmode=disable", "28000", "connection requires TLS"},
	} {
		_, err := pgx.Connect(ctx, dsn(tc.user, tc.opts))
		if !errors.As(err, &pe) || pe.Code != tc.code || pe.Message != tc.msg {
			t.Errorf("%s with %q: %v, want %s %q", tc.user, tc.opts, err, tc.code, tc.msg)
		}
	}
	// Every failure is in the audit log, with the reason the client was
	// not told. (Simple protocol: a re-executed prepared SELECT of
	// cairn_cluster.audit_log returns the rows of its first execution.)
	var got []string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = nil
		rows, err := conn.Query(ctx, "SELECT user_name, what, outcome FROM cairn_cluster.audit_log WHERE kind = 'login' ORDER BY id", pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var u, what, outcome string
			if err := rows.Scan(&u, &what, &outcome); err != nil {
				t.Fatal(err)
			}
			got = append(got, u+" "+what+" "+outcome)
		}
		if rows.Err() != nil || len(got) >= 6 {
			break
		}
	}
	want := []string{
		"alice login (reject) failed: unknown_role",
		"alice login (scram-sha-256) failed: wrong_password",
		"bob login (scram-sha-256) failed: not_login",
		"cairn login (scram-sha-256) failed: no_password",
		"nobody login (scram-sha-256) failed: unknown_role",
		"cairn login (cert) failed: certificate_user_mismatch",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit log logins:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLoginSecureRateLimit: on a secure node loopback clients are limited
// like any other: past the limit even cairn's certificate waits.
func TestLoginSecureRateLimit(t *testing.T) {
	certs := testutil.MakeCerts(t, t.TempDir())
	addr := startSecure(t, certs, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	host, port, _ := net.SplitHostPort(addr)
	for range 2 {
		_, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=cairn dbname=cairn sslmode=verify-full sslrootcert=%s/ca.crt password=guess", host, port, certs))
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "28P01" {
			t.Fatalf("a guess: %v", err)
		}
	}
	_, err := pgx.Connect(ctx, testutil.SecureURL(addr, "cairn", certs))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "53300" || pe.Message != "too many failed login attempts from 127.0.0.1" {
		t.Fatalf("after two failures: %v, want 53300", err)
	}
}
