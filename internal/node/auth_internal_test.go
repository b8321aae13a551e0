package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
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
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/sql/parser"
)

// authCatalog has alice (LOGIN, password "pw"), bob (NOLOGIN, password
// "pw"), carol (LOGIN, no password) and dave (LOGIN, password "pw" that
// expired), besides the built-ins.
func authCatalog(t *testing.T) *catalog.Catalog {
	v, err := security.NewVerifier("pw")
	if err != nil {
		t.Fatal(err)
	}
	c := catalog.New()
	c.Roles = map[string]*catalog.Role{
		"alice": {Name: "alice", Login: true, Verifier: v.String()},
		"bob":   {Name: "bob", Verifier: v.String()},
		"carol": {Name: "carol", Login: true},
		"dave":  {Name: "dave", Login: true, Verifier: v.String(), ValidUntil: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	return c
}

func certState(cn string) *tls.ConnectionState {
	leaf := &x509.Certificate{Subject: pkix.Name{CommonName: cn}}
	return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}, VerifiedChains: [][]*x509.Certificate{{leaf}}}
}

func TestNodeAuthDecisions(t *testing.T) {
	cat := authCatalog(t)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	remote := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 40000}
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 9), Port: 40000}
	for _, tc := range []struct {
		insecure bool
		user     string
		addr     net.Addr
		tls      *tls.ConnectionState
		want     string // method and reason
	}{
		{insecure: true, user: "cairn", addr: local, want: "trust"},
		{insecure: true, user: "alice", addr: local, want: "trust"},
		{insecure: true, user: "bob", addr: local, want: "reject not_login"},
		{insecure: true, user: "nobody", addr: local, want: "reject unknown_role"},
		{insecure: true, user: "alice", addr: remote, want: "scram-sha-256 wrong_password"},
		{insecure: true, user: "cairn", addr: remote, want: "scram-sha-256 no_password"},
		{insecure: false, user: "alice", addr: local, want: "scram-sha-256 wrong_password"},
		{insecure: false, user: "bob", addr: remote, want: "scram-sha-256 not_login"},
		{insecure: false, user: "carol", addr: remote, want: "scram-sha-256 no_password"},
		{insecure: false, user: "dave", addr: remote, want: "scram-sha-256 password_expired"},
		{insecure: false, user: "nobody", addr: remote, want: "scram-sha-256 unknown_role"},
		{insecure: false, user: "cairn", addr: remote, tls: certState("cairn"), want: "cert"},
		{insecure: true, user: "cairn", addr: local, tls: certState("cairn"), want: "cert"},
		// Another user's certificate: cert, which pgwire fails with 28000
		// whether or not the user exists.
		{insecure: false, user: "nobody", addr: remote, tls: certState("alice"), want: "cert"},
		{insecure: false, user: "bob", addr: remote, tls: certState("bob"), want: "reject not_login"},
		// TLS without a client certificate: a password.
		{insecure: false, user: "alice", addr: remote, tls: &tls.ConnectionState{}, want: "scram-sha-256 wrong_password"},
	} {
		a := newNodeAuth(func() *catalog.Catalog { return cat }, "cluster-1", tc.insecure, nil, discard)
		d := a.Authenticate(pgwire.AuthRequest{User: tc.user, Addr: tc.addr, TLS: tc.tls})
		got := strings.TrimSpace(d.Method.String() + " " + d.Reason)
		if got != tc.want {
			t.Errorf("insecure=%v %s from %v (tls %v): %q, want %q", tc.insecure, tc.user, tc.addr, tc.tls != nil, got, tc.want)
		}
		if (d.Method == pgwire.AuthSCRAM) != (d.SASL != nil) {
			t.Errorf("%s: SASL exchange %v with method %v", tc.user, d.SASL, d.Method)
		}
	}
}

// nullHandler's sessions accept the startup and nothing else.
type nullHandler struct{}

func (nullHandler) NewSession(context.Context, map[string]string) (pgwire.Session, error) {
	return nullSession{}, nil
}

type nullSession struct{}

func (nullSession) Prepare(context.Context, parser.Statement, string, []uint32) (pgwire.Stmt, error) {
	return nil, pgerr.New(pgerr.FeatureNotSupported, "no statements here")
}
func (nullSession) TxStatus() byte              { return 'I' }
func (nullSession) Settings() map[string]string { return nil }
func (nullSession) Close()                      {}

// TestNodeAuthSCRAM logs in through pgwire with the node's
// authenticator on a secure node (no trust for loopback): only alice's
// right password works, and every other failure looks the same.
func TestNodeAuthSCRAM(t *testing.T) {
	cat := authCatalog(t)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := prometheus.NewRegistry()
	a := newNodeAuth(func() *catalog.Catalog { return cat }, "cluster-1", false, reg, discard)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := pgwire.NewServer(pgwire.Config{Auth: a, Logger: discard, AuthFailureLimit: 100}, nullHandler{})
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	login := func(user, pw string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@%s/cairn?sslmode=disable", user, pw, ln.Addr()))
		if err == nil {
			c.Close(ctx)
		}
		return err
	}
	if err := login("alice", "pw"); err != nil {
		t.Fatalf("alice with her password: %v", err)
	}
	for _, u := range []string{"alice:wrong", "bob:pw", "carol:pw", "dave:pw", "nobody:pw", "cairn:pw"} {
		user, pw, _ := strings.Cut(u, ":")
		err := login(user, pw)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "28P01" || pe.Message != fmt.Sprintf("password authentication failed for user %q", user) {
			t.Errorf("%s: %v, want 28P01 password authentication failed", u, err)
		}
	}
	for reason, want := range map[string]float64{"wrong_password": 1, "not_login": 1, "no_password": 2, "password_expired": 1, "unknown_role": 1} {
		if got := counterValue(t, reg, "cairn_auth_failures_total", "scram-sha-256", reason); got != want {
			t.Errorf("cairn_auth_failures_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
}

// counterValue reads the counter name{method, reason} from reg.
func counterValue(t *testing.T, reg *prometheus.Registry, name, method, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["method"] == method && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
