package pgwire

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/cairndb/cairn/internal/testutil/testcerts"
)

// tlsSeen is what a session's connection had negotiated when it started.
type tlsSeen struct {
	state   *tls.ConnectionState
	binding []byte
}

// tlsHandler records, for every session, its connection's TLS state and
// channel binding data.
type tlsHandler struct {
	*fakeHandler
	s    *Server
	mu   sync.Mutex
	seen []tlsSeen
}

func (h *tlsHandler) NewSession(ctx context.Context, params map[string]string) (Session, error) {
	// The conn whose context this is runs this call on its own goroutine.
	h.s.mu.Lock()
	var c *conn
	for cc := range h.s.mu.conns {
		if cc.ctx == ctx {
			c = cc
		}
	}
	h.s.mu.Unlock()
	seen := tlsSeen{state: c.tlsState}
	seen.binding, _ = c.channelBinding()
	h.mu.Lock()
	h.seen = append(h.seen, seen)
	h.mu.Unlock()
	return h.fakeHandler.NewSession(ctx, params)
}

func (h *tlsHandler) last(t *testing.T) tlsSeen {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) == 0 {
		t.Fatal("no session started")
	}
	return h.seen[len(h.seen)-1]
}

func startTLSServer(t *testing.T, cfg Config) (*Server, *tlsHandler, *testcerts.CA) {
	t.Helper()
	ca := testcerts.New(t)
	cfg.TLS = ca.ServerConfig(t)
	h := &tlsHandler{fakeHandler: newFakeHandler()}
	s := startServerWith(t, h, cfg, func(s *Server) { h.s = s })
	return s, h, ca
}

// startServerWith is startServer with a hook that sees the server before
// it accepts connections.
func startServerWith(t *testing.T, h Handler, cfg Config, hook func(*Server)) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(cfg, h)
	hook(s)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return after Close")
		}
	})
	for deadline := time.Now().Add(5 * time.Second); s.Addr() == nil && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	return s
}

func nodeCertSum(t *testing.T, ca *testcerts.CA) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ca.Dir, "node.crt"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	sum := sha256.Sum256(blk.Bytes)
	return sum[:]
}

func pgxConnect(ctx context.Context, t *testing.T, url string) (*pgx.Conn, error) {
	t.Helper()
	c, err := pgx.Connect(ctx, url)
	if err == nil {
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	return c, err
}

// pgx over TLS: verify-full against the test CA (host name checked), a
// client certificate, and sslnegotiation=direct; the session sees the
// TLS state, the client's verified certificate and the channel binding
// data (SHA-256 of the node certificate, which is ECDSA-SHA256).
func TestTLSPgx(t *testing.T) {
	s, h, ca := startTLSServer(t, Config{RequireTLS: true})
	_, port, _ := net.SplitHostPort(s.Addr().String())
	crt, key := ca.Client(t, "alice")
	root := filepath.Join(ca.Dir, "ca.crt")
	for _, tc := range []struct {
		name, url string
		clientCN  string
	}{
		{"require", fmt.Sprintf("postgres://cairn@127.0.0.1:%s/cairn?sslmode=require&connect_timeout=5", port), ""},
		{"verify-full", fmt.Sprintf("postgres://cairn@localhost:%s/cairn?sslmode=verify-full&sslrootcert=%s&connect_timeout=5", port, root), ""},
		{"client-cert", fmt.Sprintf("postgres://alice@localhost:%s/cairn?sslmode=verify-full&sslrootcert=%s&sslcert=%s&sslkey=%s&connect_timeout=5", port, root, crt, key), "alice"},
		{"direct", fmt.Sprintf("postgres://cairn@localhost:%s/cairn?sslmode=verify-full&sslnegotiation=direct&sslrootcert=%s&connect_timeout=5", port, root), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := pgxConnect(testCtx(t), t, tc.url)
			if err != nil {
				t.Fatal(err)
			}
			var v int32
			if err := c.QueryRow(testCtx(t), "SELECT 7").Scan(&v); err != nil || v != 7 {
				t.Fatalf("SELECT over TLS: %v %v", v, err)
			}
			seen := h.last(t)
			if seen.state == nil || !seen.state.HandshakeComplete {
				t.Fatalf("session's connection has no TLS state: %+v", seen.state)
			}
			if tc.name == "direct" && seen.state.NegotiatedProtocol != "postgresql" {
				t.Errorf("direct TLS negotiated ALPN %q", seen.state.NegotiatedProtocol)
			}
			if got, want := seen.binding, nodeCertSum(t, ca); !bytes.Equal(got, want) {
				t.Errorf("channel binding %x, want SHA-256 of node.crt %x", got, want)
			}
			var cn string
			if len(seen.state.VerifiedChains) > 0 {
				cn = seen.state.PeerCertificates[0].Subject.CommonName
			}
			if cn != tc.clientCN {
				t.Errorf("verified client certificate CN %q, want %q", cn, tc.clientCN)
			}
		})
	}
	// verify-full with the wrong host name is the client's refusal: the
	// certificate is for localhost and 127.0.0.1 only.
	other := testcerts.New(t)
	_, err := pgxConnect(testCtx(t), t, fmt.Sprintf("postgres://cairn@localhost:%s/cairn?sslmode=verify-full&sslrootcert=%s&connect_timeout=5", port, filepath.Join(other.Dir, "ca.crt")))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("verify-full against another CA: %v", err)
	}
}

// A plaintext startup message to a server that requires TLS is refused
// with 28000 and a hint, before any session exists.
func TestTLSRequiredRefusesPlaintext(t *testing.T) {
	s, h, _ := startTLSServer(t, Config{RequireTLS: true})
	_, err := pgxConnect(testCtx(t), t, connString(s))
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "28000" || pe.Message != "connection requires TLS" || !strings.Contains(pe.Hint, "sslmode=require") {
		t.Fatalf("plaintext connection: %v", err)
	}
	if len(h.seen) != 0 {
		t.Errorf("a session started for a plaintext connection")
	}
	// Without RequireTLS the same client is served in plaintext.
	s2, h2, _ := startTLSServer(t, Config{})
	c, err := pgxConnect(testCtx(t), t, connString(s2))
	if err != nil {
		t.Fatal(err)
	}
	var v int32
	if err := c.QueryRow(testCtx(t), "SELECT 8").Scan(&v); err != nil || v != 8 {
		t.Fatalf("plaintext SELECT: %v %v", v, err)
	}
	if h2.last(t).state != nil {
		t.Errorf("plaintext connection has a TLS state")
	}
}

// psql (libpq) with sslmode=require and verify-full gets TLS; with
// sslmode=disable it is refused.
func TestTLSPsql(t *testing.T) {
	s, h, ca := startTLSServer(t, Config{RequireTLS: true})
	_, port, _ := net.SplitHostPort(s.Addr().String())
	crt, key := ca.Client(t, "cairn")
	psql := func(conn string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, psqlPath, "-X", "-A", "-t", "-c", "SELECT 5", conn)
		cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=5", "PAGER=")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	root := filepath.Join(ca.Dir, "ca.crt")
	for _, conn := range []string{
		fmt.Sprintf("host=127.0.0.1 port=%s user=cairn sslmode=require", port),
		fmt.Sprintf("host=localhost port=%s user=cairn sslmode=verify-full sslrootcert=%s", port, root),
		fmt.Sprintf("host=localhost port=%s user=cairn sslmode=verify-full sslrootcert=%s sslcert=%s sslkey=%s", port, root, crt, key),
	} {
		out, err := psql(conn)
		if err != nil || strings.TrimSpace(out) != "5" {
			t.Fatalf("psql %q: %v\n%s", conn, err, out)
		}
		if st := h.last(t).state; st == nil || st.Version < tls.VersionTLS12 {
			t.Errorf("psql %q: connection state %+v", conn, st)
		}
	}
	if cn := h.last(t).state.PeerCertificates[0].Subject.CommonName; cn != "cairn" {
		t.Errorf("psql's client certificate CN %q", cn)
	}
	out, err := psql(fmt.Sprintf("host=127.0.0.1 port=%s user=cairn sslmode=disable", port))
	if err == nil || !strings.Contains(out, "connection requires TLS") {
		t.Errorf("psql sslmode=disable: %v\n%s", err, out)
	}
}

// rawTLS dials s, sends SSLRequest, expects 'S' and completes the
// handshake.
func rawTLS(t *testing.T, s *Server, ca *testcerts.CA) *tls.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(mustEncode(t, &pgproto3.SSLRequest{})); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	if _, err := io.ReadFull(nc, b[:]); err != nil || b[0] != 'S' {
		t.Fatalf("SSLRequest answer %q %v", b[0], err)
	}
	tc := tls.Client(nc, &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tc
}

// A cancel request may come over TLS on its own connection.
func TestTLSCancelRequest(t *testing.T) {
	s, h, ca := startTLSServer(t, Config{RequireTLS: true})
	_, port, _ := net.SplitHostPort(s.Addr().String())
	c, err := pgxConnect(testCtx(t), t, fmt.Sprintf("postgres://cairn@127.0.0.1:%s/cairn?sslmode=require&connect_timeout=5", port))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Exec(context.Background(), "SLEEP")
		errc <- err
	}()
	select {
	case <-h.sleeping:
	case <-time.After(10 * time.Second):
		t.Fatal("SLEEP did not start")
	}
	tc := rawTLS(t, s, ca)
	cancel := &pgproto3.CancelRequest{ProcessID: c.PgConn().PID(), SecretKey: c.PgConn().SecretKey()}
	buf, err := cancel.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Write(buf); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-errc:
	case <-time.After(10 * time.Second):
		t.Fatal("statement not cancelled by a cancel request over TLS")
	}
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57014" {
		t.Fatalf("cancelled statement: %v", err)
	}
	// pgx sends its cancel requests in plaintext; PostgreSQL accepts them
	// even where sessions need TLS, and so does a RequireTLS server (the
	// secret key is what authorizes a cancel).
	go func() {
		_, err := c.Exec(context.Background(), "SLEEP")
		errc <- err
	}()
	select {
	case <-h.sleeping:
	case <-time.After(10 * time.Second):
		t.Fatal("second SLEEP did not start")
	}
	if err := c.PgConn().CancelRequest(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	select {
	case err = <-errc:
	case <-time.After(10 * time.Second):
		t.Fatal("statement not cancelled by a plaintext cancel request")
	}
	if !errors.As(err, &pe) || pe.Code != "57014" {
		t.Fatalf("statement cancelled in plaintext: %v", err)
	}
}

// Bytes sent right after SSLRequest, before the handshake, are never read
// as a startup message (CVE-2021-23214): the handshake fails on them.
func TestTLSNoBufferedInjection(t *testing.T) {
	s, h, _ := startTLSServer(t, Config{})
	nc, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	msg := mustEncode(t, &pgproto3.SSLRequest{})
	msg, _ = (&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "cairn"}}).Encode(msg)
	if _, err := nc.Write(msg); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(nc)
	if len(rest) == 0 || rest[0] != 'S' {
		t.Fatalf("answer %q", rest)
	}
	if len(h.seen) != 0 || bytes.Contains(rest, []byte("cairn_node")) {
		t.Fatalf("injected startup message started a session: %q", rest)
	}
}

// A second SSLRequest inside TLS is a protocol violation.
func TestTLSRequestTwice(t *testing.T) {
	s, _, ca := startTLSServer(t, Config{})
	tc := rawTLS(t, s, ca)
	if _, err := tc.Write(mustEncode(t, &pgproto3.SSLRequest{})); err != nil {
		t.Fatal(err)
	}
	fe := pgproto3.NewFrontend(tc, io.Discard)
	m, err := fe.Receive()
	if er, ok := m.(*pgproto3.ErrorResponse); err != nil || !ok || er.Code != "08P01" {
		t.Fatalf("second SSLRequest: %#v %v", m, err)
	}
}

// The startup phase, TLS handshake included, is bounded: a client that
// stops after SSLRequest, or mid-handshake, or says nothing, is dropped.
func TestTLSStartupDeadline(t *testing.T) {
	s, _, _ := startTLSServer(t, Config{StartupTimeout: 200 * time.Millisecond})
	sslReq := mustEncode(t, &pgproto3.SSLRequest{})
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"silent", nil},
		{"after-sslrequest", sslReq},
		{"mid-handshake", append(append([]byte(nil), sslReq...), 0x16, 0x03, 0x01, 0x00, 0x40)},
		{"direct-mid-handshake", []byte{0x16, 0x03, 0x01, 0x00, 0x40}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if _, err := nc.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			nc.SetReadDeadline(start.Add(5 * time.Second))
			_, err = io.ReadAll(nc)
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("server kept the connection open for %v", time.Since(start))
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("closed after %v", d)
			}
		})
	}
}

// Without TLS configured, SSLRequest gets 'N' and a TLS ClientHello
// (sslnegotiation=direct) is refused by closing the connection.
func TestNoTLSConfigured(t *testing.T) {
	s := startServer(t, newFakeHandler(), Config{})
	_, port, _ := net.SplitHostPort(s.Addr().String())
	_, err := pgxConnect(testCtx(t), t, fmt.Sprintf("postgres://cairn@127.0.0.1:%s/cairn?sslmode=require&connect_timeout=5", port))
	if err == nil || !strings.Contains(err.Error(), "server refused TLS connection") {
		t.Errorf("sslmode=require to a plaintext server: %v", err)
	}
	_, err = pgxConnect(testCtx(t), t, fmt.Sprintf("postgres://cairn@127.0.0.1:%s/cairn?sslmode=require&sslnegotiation=direct&connect_timeout=5", port))
	if err == nil {
		t.Errorf("direct TLS to a plaintext server connected")
	}
	// A direct TLS client without ALPN "postgresql" is refused too.
	s2, _, ca := startTLSServer(t, Config{})
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s2.Addr().String(), &tls.Config{RootCAs: ca.Pool, ServerName: "localhost"})
	if err == nil {
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = nc.Write(mustEncode(t, &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "cairn"}}))
		if err == nil {
			var b [1]byte
			_, err = nc.Read(b[:])
		}
		nc.Close()
	}
	if err == nil {
		t.Errorf("direct TLS without ALPN was served")
	}
}

func mustEncode(t *testing.T, m pgproto3.FrontendMessage) []byte {
	t.Helper()
	b, err := m.Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTLSServerEndPointHashes(t *testing.T) {
	for alg, size := range map[x509.SignatureAlgorithm]int{
		x509.ECDSAWithSHA256: 32, x509.SHA1WithRSA: 32, x509.ECDSAWithSHA384: 48, x509.SHA512WithRSA: 64,
	} {
		cert := &x509.Certificate{Raw: []byte("der"), SignatureAlgorithm: alg}
		got, err := TLSServerEndPoint(cert)
		if err != nil || len(got) != size {
			t.Errorf("%v: %d bytes, %v", alg, len(got), err)
		}
	}
	if _, err := TLSServerEndPoint(&x509.Certificate{SignatureAlgorithm: x509.PureEd25519}); err == nil {
		t.Errorf("Ed25519 certificate: no error")
	}
}

// The server's config is used with its callbacks, never copied from: a
// GetConfigForClient that returns the current certificate (as reloadable
// configs do) is asked at each handshake, so a new certificate serves the
// next connection, and the channel binding data follows it.
func TestTLSConfigCallbacksReload(t *testing.T) {
	ca1, ca2 := testcerts.New(t), testcerts.New(t)
	var cur atomic.Pointer[tls.Config]
	cur.Store(ca1.ServerConfig(t))
	cfg := &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return cur.Load(), nil
	}}
	h := &tlsHandler{fakeHandler: newFakeHandler()}
	s := startServerWith(t, h, Config{TLS: cfg, RequireTLS: true}, func(s *Server) { h.s = s })
	_, port, _ := net.SplitHostPort(s.Addr().String())
	for i, ca := range []*testcerts.CA{ca1, ca2} {
		if i == 1 {
			cur.Store(ca2.ServerConfig(t))
		}
		url := fmt.Sprintf("postgres://cairn@localhost:%s/cairn?sslmode=verify-full&sslrootcert=%s&connect_timeout=5", port, filepath.Join(ca.Dir, "ca.crt"))
		c, err := pgxConnect(testCtx(t), t, url)
		if err != nil {
			t.Fatalf("certificate %d: %v", i+1, err)
		}
		c.Close(testCtx(t))
		if got, want := h.last(t).binding, nodeCertSum(t, ca); !bytes.Equal(got, want) {
			t.Errorf("certificate %d: channel binding %x, want %x", i+1, got, want)
		}
	}
}
