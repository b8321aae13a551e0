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
// trusted, but only as a LOGIN role: cairn gets in, the built-in admin
// (NOLOGIN) and a user that does not exist get the same 28P01.
func TestLoginInsecureLoopback(t *testing.T) {
	c := testcluster.Start(t, 1)
	conn := connect(t, c, 0)
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	for _, user := range []string{"admin", "nobody"} {
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
// and returns its SQL address.
func startSecure(t *testing.T, certs string) string {
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
		NoSync: true, CertsDir: certs, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n, err := node.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return cfg.PGAddr
}

// TestLoginSecure: a secure node lets cairn in by its client certificate
// only; without one, or with another user's, or over plain TCP, it does
// not, and the errors do not say whether the user exists.
func TestLoginSecure(t *testing.T) {
	certs := testutil.MakeCerts(t, t.TempDir())
	if err := security.CreateClient(certs, "alice", security.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	addr := startSecure(t, certs)
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
	for _, tc := range []struct{ user, opts, code, msg string }{
		// cairn has no password: without its certificate it cannot log in.
		{"cairn", verify + " password=guess", "28P01", `password authentication failed for user "cairn"`},
		{"nobody", verify + " password=guess", "28P01", `password authentication failed for user "nobody"`},
		// alice's certificate verifies, but alice is no role.
		{"alice", verify + " " + aliceCert, "28P01", `password authentication failed for user "alice"`},
		{"cairn", verify + " " + aliceCert, "28000", `certificate authentication failed for user "cairn"`},
		{"cairn", "sslmode=disable", "28000", "connection requires TLS"},
	} {
		host, port, _ := net.SplitHostPort(addr)
		_, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%s user=%s dbname=cairn %s", host, port, tc.user, tc.opts))
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != tc.code || pe.Message != tc.msg {
			t.Errorf("%s with %q: %v, want %s %q", tc.user, tc.opts, err, tc.code, tc.msg)
		}
	}
}
