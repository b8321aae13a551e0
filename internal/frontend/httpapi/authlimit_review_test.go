package httpapi

import (
	"crypto/tls"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/security"
)

// gateBackend holds every password check until gate is closed, as a
// slow check (or many sent at once) would, and counts them.
type gateBackend struct {
	*fakeBackend
	gate  chan struct{}
	calls atomic.Int32
}

func (g *gateBackend) PasswordMatches(verifier, password string) bool {
	g.calls.Add(1)
	<-g.gate
	return g.fakeBackend.PasswordMatches(verifier, password)
}

// TestPasswordChecksConcurrent: requests sent at once from one source
// cannot each check a password before the first failures are counted:
// no more checks run than the source has failures left, and once those
// failed the rest are refused (429) without a check.
func TestPasswordChecksConcurrent(t *testing.T) {
	e := newAuthEnv(t, Config{})
	g := &gateBackend{fakeBackend: e.f, gate: make(chan struct{})}
	e.s = New(Config{Hosts: []string{"db.internal:8480"}, Now: func() time.Time { return e.now }, Logger: quietLogger()}, g)
	e.s.Handle(AdminPrefix, NewAdminHandler(e.run, g))
	const reqs = failureBurst + 5
	var wg sync.WaitGroup
	statuses := make(chan int, reqs)
	for range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.do(req{method: "GET", path: "/api/v1/nodes", tls: &tls.ConnectionState{}, basic: [2]string{"alice", "guess"}})
			statuses <- r.status
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if n := g.calls.Load(); n > failureBurst {
		t.Errorf("%d password checks ran at once from one source, burst %d", n, failureBurst)
	}
	close(g.gate)
	wg.Wait()
	close(statuses)
	limited := 0
	for st := range statuses {
		switch st {
		case 429:
			limited++
		case 401:
		default:
			t.Errorf("status %d", st)
		}
	}
	if n := g.calls.Load(); n != failureBurst || limited != reqs-failureBurst {
		t.Errorf("%d checks ran and %d requests were refused with 429; want %d and %d", n, limited, failureBurst, reqs-failureBurst)
	}
}

// TestLimiterIPv6Prefix: failures from the addresses of one IPv6 /64
// count together; IPv4 addresses count alone.
func TestLimiterIPv6Prefix(t *testing.T) {
	var l limiter
	now := time.Unix(0, 0)
	for i := range failureBurst {
		l.fail(fmt.Sprintf("2001:db8:0:1::%x", i+1), now)
		l.fail(fmt.Sprintf("10.0.0.%d", i+1), now)
	}
	if _, blocked := l.blocked("2001:db8:0:1::ffff", now); !blocked {
		t.Error("another address of the same /64 was not limited")
	}
	if _, blocked := l.blocked("2001:db8:0:2::1", now); blocked {
		t.Error("another /64 was limited")
	}
	if _, blocked := l.blocked("10.0.0.200", now); blocked {
		t.Error("IPv4 addresses were counted together")
	}
}

// TestTokenEndsWithPassword: a session token is good only while the role
// logs in with the password it was given for: a new password, or the old
// one's VALID UNTIL passing, ends it (as dropping the role or NOLOGIN do).
func TestTokenEndsWithPassword(t *testing.T) {
	e := newAuthEnv(t, Config{})
	use := func(tok string) int {
		return e.do(req{method: "GET", path: "/api/v1/nodes", header: bearer(tok)}).status
	}
	tok := e.login("alice", "alice-pw")
	if st := use(tok); st != 200 {
		t.Fatalf("fresh token: %d", st)
	}
	v, err := security.NewVerifier("new-pw")
	if err != nil {
		t.Fatal(err)
	}
	e.f.mu.Lock()
	e.f.users["alice"] = v.String()
	e.f.mu.Unlock()
	if st := use(tok); st != 401 {
		t.Errorf("token after ALTER ROLE alice PASSWORD: %d, want 401", st)
	}
	tok = e.login("alice", "new-pw")
	if st := use(tok); st != 200 {
		t.Fatalf("token of the new password: %d", st)
	}
	e.f.mu.Lock()
	e.f.validUntil["alice"] = e.now.Add(time.Minute)
	e.f.mu.Unlock()
	if st := use(tok); st != 200 {
		t.Fatalf("token before VALID UNTIL: %d", st)
	}
	e.now = e.now.Add(2 * time.Minute)
	if st := use(tok); st != 401 {
		t.Errorf("token after VALID UNTIL passed: %d, want 401", st)
	}
}
