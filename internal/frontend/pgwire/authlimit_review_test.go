package pgwire

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// gateAuth rejects everyone, but only once gate is closed: it holds each
// exchange open, as a slow SCRAM round trip does, and counts them.
type gateAuth struct {
	fakeAuth
	gate  chan struct{}
	calls atomic.Int32
}

func (a *gateAuth) Authenticate(AuthRequest) AuthDecision {
	a.calls.Add(1)
	<-a.gate
	return AuthDecision{Method: AuthReject, Reason: "wrong_password"}
}

// TestAuthRateLimitConcurrent: connections opened at once from one source
// cannot each try a password before the first failures are counted: no
// more exchanges run than the limit allows, and once they failed the rest
// are refused without one.
func TestAuthRateLimitConcurrent(t *testing.T) {
	a := &gateAuth{gate: make(chan struct{})}
	s := startServer(t, newFakeHandler(), Config{Auth: a, AuthFailureLimit: 2, AuthFailureWindow: time.Hour})
	const conns = 6
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := authConnect(t, s, "alice", "password=guess sslmode=disable")
			errs <- err
		}()
	}
	// Give every connection time to reach authentication.
	time.Sleep(500 * time.Millisecond)
	if n := a.calls.Load(); n > 2 {
		t.Errorf("%d password exchanges ran at once from one source, limit 2", n)
	}
	close(a.gate)
	wg.Wait()
	close(errs)
	limited := 0
	for err := range errs {
		if err == nil {
			t.Fatal("a connection logged in")
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "53300" {
			limited++
		}
	}
	if n := a.calls.Load(); n != 2 || limited != conns-2 {
		t.Errorf("%d exchanges ran and %d connections were rate limited; want 2 and %d", n, limited, conns-2)
	}
}

// TestFailureLimiterIPv6Prefix: failures from the addresses of one IPv6
// /64 count together (a client holds the whole /64 and could otherwise
// change address between guesses); IPv4 addresses count alone.
func TestFailureLimiterIPv6Prefix(t *testing.T) {
	l := newFailureLimiter(2, time.Hour)
	l.fail("2001:db8:0:1::1")
	l.fail("2001:db8:0:1:ffff::2")
	if l.blocked("2001:db8:0:1::3") == 0 {
		t.Error("a third address of the same /64 was not limited")
	}
	if l.blocked("2001:db8:0:2::1") != 0 {
		t.Error("another /64 was limited")
	}
	l.fail("10.0.0.1")
	l.fail("10.0.0.2")
	if l.blocked("10.0.0.3") != 0 || l.blocked("10.0.0.1") != 0 {
		t.Error("IPv4 addresses were counted together")
	}
}

// TestAuthTimeoutCounts: an exchange the client leaves hanging until it
// times out counts as a failed login, so a client cannot hold exchanges
// open (each one a failed-login event) without limit.
func TestAuthTimeoutCounts(t *testing.T) {
	a := newFakeAuth(t, map[string]string{"alice": "pw"})
	s := startServer(t, newFakeHandler(), Config{Auth: a, AuthFailureLimit: 1, AuthFailureWindow: time.Hour, StartupTimeout: 300 * time.Millisecond})
	nc, err := net.DialTimeout("tcp", s.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	fe := pgproto3.NewFrontend(nc, nc)
	fe.Send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: map[string]string{"user": "alice", "database": "cairn"}})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	// Read the SASL request, answer nothing, and wait for the timeout.
	for {
		msg, err := fe.Receive()
		if err != nil {
			break
		}
		if _, ok := msg.(*pgproto3.ErrorResponse); ok {
			break
		}
	}
	_, err = authConnect(t, s, "alice", "password=pw sslmode=disable")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "53300" {
		t.Errorf("after a timed-out exchange with limit 1: %v, want 53300", err)
	}
}
