package pgwire

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/testutil/testcerts"
)

// fakeAuth decides as the node does, from a table of users and their
// passwords' verifiers: a verified client certificate means cert, else
// trust if set, else SCRAM (with a fake exchange for unknown users).
type fakeAuth struct {
	trust bool
	users map[string]*security.Verifier

	mu     sync.Mutex
	failed []string // "user method reason"
}

func newFakeAuth(t testing.TB, passwords map[string]string) *fakeAuth {
	a := &fakeAuth{users: map[string]*security.Verifier{}}
	for u, pw := range passwords {
		v, err := security.NewVerifier(pw)
		if err != nil {
			t.Fatal(err)
		}
		a.users[u] = v
	}
	return a
}

func (a *fakeAuth) Authenticate(req AuthRequest) AuthDecision {
	if req.TLS != nil && len(req.TLS.VerifiedChains) > 0 {
		return AuthDecision{Method: AuthCert}
	}
	if a.trust {
		return AuthDecision{Method: AuthTrust}
	}
	v := a.users[req.User]
	reason := "wrong_password"
	if v == nil {
		reason = "unknown_role"
	}
	return AuthDecision{Method: AuthSCRAM, SASL: security.NewSCRAMServer(req.User, v, []byte("node secret"), req.ChannelBinding), Reason: reason}
}

func (a *fakeAuth) LoginFailed(user, source, method, reason string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if source != "127.0.0.1" {
		reason += " from " + source
	}
	a.failed = append(a.failed, user+" "+method+" "+reason)
}

func (a *fakeAuth) takeFailed() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.failed
	a.failed = nil
	return f
}

// authConnect connects with connString's settings plus extra (key=value
// pairs) and returns the connection or the error.
func authConnect(t *testing.T, s *Server, user, extra string) (*pgx.Conn, error) {
	t.Helper()
	dsn := fmt.Sprintf("host=127.0.0.1 port=%s user=%s dbname=cairn connect_timeout=5 %s", port(s), user, extra)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	return c, err
}

func port(s *Server) string {
	_, p, _ := strings.Cut(s.Addr().String(), ":")
	return p
}

// wantPgErr checks err is a server error with code and message.
func wantPgErr(t *testing.T, err error, code, msg string) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Fatalf("err %v, want %s %q", err, code, msg)
	}
	if pe.Code != code || pe.Message != msg {
		t.Fatalf("got %s %q, want %s %q", pe.Code, pe.Message, code, msg)
	}
}

func TestAuthSCRAM(t *testing.T) {
	a := newFakeAuth(t, map[string]string{"alice": "s3cret 🔑"})
	s := startServer(t, newFakeHandler(), Config{Auth: a})
	c, err := authConnect(t, s, "alice", "password='s3cret 🔑' sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRow(context.Background(), "SELECT 42").Scan(&n); err != nil || n != 42 {
		t.Fatalf("SELECT 42 after login: %v %d", err, n)
	}
	// A wrong password and a user that does not exist get the same error.
	_, err = authConnect(t, s, "alice", "password=wrong sslmode=disable")
	wantPgErr(t, err, "28P01", `password authentication failed for user "alice"`)
	_, err = authConnect(t, s, "mallory", "password='s3cret 🔑' sslmode=disable")
	wantPgErr(t, err, "28P01", `password authentication failed for user "mallory"`)
	if got, want := strings.Join(a.takeFailed(), "; "), "alice scram-sha-256 wrong_password; mallory scram-sha-256 unknown_role"; got != want {
		t.Errorf("LoginFailed calls %q, want %q", got, want)
	}
}

// TestAuthSCRAMPlus: over TLS the server offers SCRAM-SHA-256-PLUS and a
// client that requires channel binding logs in with it.
func TestAuthSCRAMPlus(t *testing.T) {
	ca := testcerts.New(t)
	a := newFakeAuth(t, map[string]string{"alice": "pw"})
	s := startServer(t, newFakeHandler(), Config{Auth: a, TLS: ca.ServerConfig(t)})
	rootCert := ca.Dir + "/ca.crt"
	c, err := authConnect(t, s, "alice", "password=pw sslmode=verify-full sslrootcert="+rootCert+" channel_binding=require")
	if err != nil {
		t.Fatal(err)
	}
	selectOne(t, c)
	_, err = authConnect(t, s, "alice", "password=nope sslmode=verify-full sslrootcert="+rootCert+" channel_binding=require")
	wantPgErr(t, err, "28P01", `password authentication failed for user "alice"`)
	// Plain SCRAM over TLS (channel_binding=disable) works too.
	if _, err := authConnect(t, s, "alice", "password=pw sslmode=require channel_binding=disable"); err != nil {
		t.Fatal(err)
	}
}

func TestAuthCert(t *testing.T) {
	ca := testcerts.New(t)
	a := newFakeAuth(t, nil)
	s := startServer(t, newFakeHandler(), Config{Auth: a, TLS: ca.ServerConfig(t)})
	crt, key := ca.Client(t, "alice")
	certs := fmt.Sprintf("sslmode=verify-full sslrootcert=%s/ca.crt sslcert=%s sslkey=%s", ca.Dir, crt, key)
	c, err := authConnect(t, s, "alice", certs)
	if err != nil {
		t.Fatal(err)
	}
	selectOne(t, c)
	_, err = authConnect(t, s, "bob", certs)
	wantPgErr(t, err, "28000", `certificate authentication failed for user "bob"`)
	if got, want := strings.Join(a.takeFailed(), "; "), "bob cert certificate_user_mismatch"; got != want {
		t.Errorf("LoginFailed calls %q, want %q", got, want)
	}
}

// certAlways chooses cert for everyone, with or without a certificate.
type certAlways struct{ fakeAuth }

func (a *certAlways) Authenticate(AuthRequest) AuthDecision { return AuthDecision{Method: AuthCert} }

func TestAuthCertWithoutCertificate(t *testing.T) {
	s := startServer(t, newFakeHandler(), Config{Auth: &certAlways{}})
	_, err := authConnect(t, s, "alice", "sslmode=disable")
	wantPgErr(t, err, "28000", `certificate authentication failed for user "alice"`)
}

type rejectAll struct{ fakeAuth }

func (a *rejectAll) Authenticate(AuthRequest) AuthDecision {
	return AuthDecision{Method: AuthReject, Reason: "not_login"}
}

func TestAuthTrustAndReject(t *testing.T) {
	a := newFakeAuth(t, nil)
	a.trust = true
	s := startServer(t, newFakeHandler(), Config{Auth: a})
	if _, err := authConnect(t, s, "anyone", "sslmode=disable"); err != nil {
		t.Fatal(err)
	}
	r := &rejectAll{}
	s = startServer(t, newFakeHandler(), Config{Auth: r})
	_, err := authConnect(t, s, "nologin", "sslmode=disable password=x")
	wantPgErr(t, err, "28P01", `password authentication failed for user "nologin"`)
	if got := strings.Join(r.takeFailed(), "; "); got != "nologin reject not_login" {
		t.Errorf("LoginFailed calls %q", got)
	}
}

// TestAuthRateLimit: after AuthFailureLimit failures from one IP within
// the window, even the right password is refused until it ends.
func TestAuthRateLimit(t *testing.T) {
	a := newFakeAuth(t, map[string]string{"alice": "pw"})
	s := startServer(t, newFakeHandler(), Config{Auth: a, AuthFailureLimit: 2, AuthFailureWindow: time.Hour})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	s.authLimit.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	for range 2 {
		_, err := authConnect(t, s, "alice", "password=bad sslmode=disable")
		wantPgErr(t, err, "28P01", `password authentication failed for user "alice"`)
	}
	_, err := authConnect(t, s, "alice", "password=pw sslmode=disable")
	wantPgErr(t, err, "53300", "too many failed login attempts from 127.0.0.1")
	var pe *pgconn.PgError
	errors.As(err, &pe)
	if pe.Hint != "Wait 1h0m0s, then connect with the right password or client certificate." {
		t.Errorf("hint %q", pe.Hint)
	}
	if got := a.takeFailed(); len(got) != 3 || got[2] != "alice  rate_limited" {
		t.Errorf("LoginFailed calls %q", got)
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	if _, err := authConnect(t, s, "alice", "password=pw sslmode=disable"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
}

// TestAuthRateLimitExempt: sources AuthFailureExempt names are not
// limited.
func TestAuthRateLimitExempt(t *testing.T) {
	a := newFakeAuth(t, map[string]string{"alice": "pw"})
	s := startServer(t, newFakeHandler(), Config{Auth: a, AuthFailureLimit: 1, AuthFailureExempt: func(addr net.Addr) bool {
		return addr.(*net.TCPAddr).IP.IsLoopback()
	}})
	for range 3 {
		_, err := authConnect(t, s, "alice", "password=bad sslmode=disable")
		wantPgErr(t, err, "28P01", `password authentication failed for user "alice"`)
	}
	if _, err := authConnect(t, s, "alice", "password=pw sslmode=disable"); err != nil {
		t.Fatalf("an exempt source was limited: %v", err)
	}
}

func TestFailureLimiterBounded(t *testing.T) {
	l := newFailureLimiter(1, time.Minute)
	now := time.Unix(0, 0)
	l.now = func() time.Time { return now }
	for i := range authLimiterSources + 10 {
		l.fail(fmt.Sprintf("10.0.%d.%d", i/256, i%256))
		now = now.Add(time.Millisecond)
	}
	if n := l.sources(); n > authLimiterSources {
		t.Fatalf("limiter remembers %d sources, bound %d", n, authLimiterSources)
	}
	// The oldest were dropped, the newest are still blocked.
	if l.blocked("10.0.0.0") != 0 || l.blocked(fmt.Sprintf("10.0.%d.%d", (authLimiterSources+9)/256, (authLimiterSources+9)%256)) == 0 {
		t.Error("eviction dropped the wrong sources")
	}
	now = now.Add(time.Minute)
	l.fail("10.9.9.9")
	if n := l.sources(); n > authLimiterSources {
		t.Fatalf("limiter remembers %d sources", n)
	}
}

// TestAuthAbandoned: a client that leaves when asked for a password (as
// psql does before prompting for one) is not a failed login.
func TestAuthAbandoned(t *testing.T) {
	a := newFakeAuth(t, map[string]string{"alice": "pw"})
	s := startServer(t, newFakeHandler(), Config{Auth: a, AuthFailureLimit: 1})
	for range 3 {
		c := dialRaw(t, s)
		c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "alice"}})
		if m, ok := c.recv().(*pgproto3.AuthenticationSASL); !ok || strings.Join(m.AuthMechanisms, ",") != "SCRAM-SHA-256" {
			t.Fatalf("got %#v, want AuthenticationSASL offering SCRAM-SHA-256", m)
		}
		c.nc.Close()
	}
	if _, err := authConnect(t, s, "alice", "password=pw sslmode=disable"); err != nil {
		t.Fatal(err)
	}
	if f := a.takeFailed(); len(f) != 0 {
		t.Errorf("LoginFailed calls %q", f)
	}
}

// TestAuthTimeout: a client that stops mid-exchange is cut off when the
// startup deadline (or the 10s authentication bound) passes.
func TestAuthTimeout(t *testing.T) {
	a := newFakeAuth(t, map[string]string{"alice": "pw"})
	s := startServer(t, newFakeHandler(), Config{Auth: a, StartupTimeout: 300 * time.Millisecond})
	c := dialRaw(t, s)
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "alice"}})
	expectSASL(t, c)
	start := time.Now()
	m := c.recv()
	if e, ok := m.(*pgproto3.ErrorResponse); !ok || e.Code != "57014" || e.Message != "canceling authentication due to timeout" {
		t.Fatalf("got %#v, want the timeout error", m)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timed out after %v", d)
	}
	if got := a.takeFailed(); len(got) != 1 || got[0] != "alice scram-sha-256 timeout" {
		t.Errorf("LoginFailed calls %q", got)
	}
}

// TestAuthProtocol: messages out of place or malformed during the SASL
// exchange end the connection with 08P01, counted as failures.
func TestAuthProtocol(t *testing.T) {
	a := newFakeAuth(t, map[string]string{"alice": "pw"})
	s := startServer(t, newFakeHandler(), Config{Auth: a})
	for _, tc := range []struct {
		msg  pgproto3.FrontendMessage
		want string
	}{
		{&pgproto3.Query{String: "SELECT 1"}, "expected a SASL response, got message type 'Q'"},
		{&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256-PLUS", Data: []byte("p=tls-server-end-point,,n=,r=x")}, "malformed SCRAM message: SCRAM-SHA-256-PLUS needs a TLS connection"},
		{&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=" + strings.Repeat("x", 5000))}, "message size"},
	} {
		c := dialRaw(t, s)
		c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "alice"}})
		expectSASL(t, c)
		c.send(tc.msg)
		m := c.recv()
		e, ok := m.(*pgproto3.ErrorResponse)
		if !ok || !strings.Contains(e.Message, tc.want) || e.Severity != "FATAL" {
			t.Errorf("after %T: got %#v, want FATAL containing %q", tc.msg, m, tc.want)
		}
	}
}

func TestAuthPsql(t *testing.T) {
	a := newFakeAuth(t, map[string]string{"cairn": "hunter2"})
	s := startServer(t, newFakeHandler(), Config{Auth: a})
	t.Setenv("PGPASSWORD", "hunter2")
	out, err := runPsql(t, s, "", "-A", "-t", "-c", "SELECT 42")
	if err != nil || out != "42\n" {
		t.Fatalf("psql with the right password: %v\n%s", err, out)
	}
	t.Setenv("PGPASSWORD", "wrong")
	out, err = runPsql(t, s, "", "-c", "SELECT 42")
	if err == nil || !strings.Contains(out, `FATAL:  password authentication failed for user "cairn"`) {
		t.Fatalf("psql with a wrong password: %v\n%s", err, out)
	}
}

func selectOne(t *testing.T, c *pgx.Conn) {
	t.Helper()
	var n int
	if err := c.QueryRow(context.Background(), "SELECT 42").Scan(&n); err != nil || n != 42 {
		t.Fatalf("SELECT 42: %v %d", err, n)
	}
}

func expectSASL(t *testing.T, c *rawClient) {
	t.Helper()
	if m, ok := c.recv().(*pgproto3.AuthenticationSASL); !ok {
		t.Fatalf("got %#v, want AuthenticationSASL", m)
	}
}

// TestAuthPsqlTLS: libpq over TLS logs in with SCRAM-SHA-256-PLUS when
// it requires channel binding, and with its client certificate (CN
// cairn) without a password; another user's certificate is refused.
func TestAuthPsqlTLS(t *testing.T) {
	ca := testcerts.New(t)
	a := newFakeAuth(t, map[string]string{"cairn": "hunter2"})
	s := startServer(t, newFakeHandler(), Config{Auth: a, TLS: ca.ServerConfig(t), RequireTLS: true})
	root := "sslmode=verify-full sslrootcert=" + ca.Dir + "/ca.crt"
	t.Setenv("PGPASSWORD", "hunter2")
	out, err := runPsql(t, s, "", "-A", "-t", "-c", "SELECT 42", "dbname=cairn channel_binding=require "+root)
	if err != nil || out != "42\n" {
		t.Fatalf("psql with channel_binding=require: %v\n%s", err, out)
	}
	t.Setenv("PGPASSWORD", "wrong")
	out, err = runPsql(t, s, "", "-c", "SELECT 42", "dbname=cairn channel_binding=require "+root)
	if err == nil || !strings.Contains(out, `password authentication failed for user "cairn"`) {
		t.Fatalf("psql with a wrong password: %v\n%s", err, out)
	}
	crt, key := ca.Client(t, "cairn")
	out, err = runPsql(t, s, "", "-A", "-t", "-c", "SELECT 42", fmt.Sprintf("dbname=cairn sslcert=%s sslkey=%s %s", crt, key, root))
	if err != nil || out != "42\n" {
		t.Fatalf("psql with cairn's client certificate: %v\n%s", err, out)
	}
	crt, key = ca.Client(t, "alice")
	out, err = runPsql(t, s, "", "-c", "SELECT 42", fmt.Sprintf("dbname=cairn sslcert=%s sslkey=%s %s", crt, key, root))
	if err == nil || !strings.Contains(out, `certificate authentication failed for user "cairn"`) {
		t.Fatalf("psql as cairn with alice's certificate: %v\n%s", err, out)
	}
	if got := strings.Join(a.takeFailed(), "; "); got != "cairn scram-sha-256 wrong_password; cairn cert certificate_user_mismatch" {
		t.Errorf("LoginFailed calls %q", got)
	}
}
