package pgwire

import (
	"net"
	"sync"
	"time"
)

// Defaults of the failed-login limit (Config.AuthFailureLimit and
// AuthFailureWindow).
const (
	defaultAuthFailureLimit  = 5
	defaultAuthFailureWindow = time.Minute
	// authLimiterSources bounds the sources the limiter remembers; past
	// it, expired entries and then the oldest are dropped.
	authLimiterSources = 4096
)

// failureLimiter counts failed logins per source IP in fixed windows:
// after max failures within one window, further attempts from that
// source are refused until the window ends. A success does not reset
// the count (an attacker with one valid account could otherwise clear
// it between guesses at another).
type failureLimiter struct {
	max    int
	window time.Duration
	now    func() time.Time // tests replace it

	mu struct {
		sync.Mutex
		bySource map[string]*sourceFailures
	}
}

type sourceFailures struct {
	start    time.Time // when the current window began
	n        int       // failures in it
	inflight int       // attempts under way (acquire), not yet failed or passed
}

// acquirePoll is how often an attempt that waits for one under way from
// its source looks again.
const acquirePoll = 5 * time.Millisecond

// acquire reserves a login attempt for source before its exchange runs,
// waiting (until deadline) while the attempts under way could, if they
// all failed, reach the limit: without it, many connections opened at
// once would each pass the check before any failure is counted, and a
// burst could try any number of passwords. A source with no failures
// runs max exchanges at once (a connection pool's others wait a round
// trip). It returns release, to call once with the outcome, or nil and
// how long the source must wait (also when done is closed: the server is
// closing the connection).
func (l *failureLimiter) acquire(source string, deadline time.Time, done <-chan struct{}) (release func(failed bool), wait time.Duration) {
	source = limitKey(source)
	for {
		l.mu.Lock()
		now := l.now()
		f := l.mu.bySource[source]
		if f != nil && now.Sub(f.start) >= l.window {
			f.start, f.n = now, 0
		}
		if f == nil {
			if len(l.mu.bySource) >= authLimiterSources {
				l.evictLocked(now)
			}
			f = &sourceFailures{start: now}
			l.mu.bySource[source] = f
		}
		if f.n >= l.max {
			left := f.start.Add(l.window).Sub(now)
			l.mu.Unlock()
			return nil, left
		}
		if f.n+f.inflight < l.max {
			f.inflight++
			l.mu.Unlock()
			return func(failed bool) { l.release(source, f, failed) }, 0
		}
		l.mu.Unlock()
		if !time.Now().Add(acquirePoll).Before(deadline) {
			return nil, time.Second
		}
		select {
		case <-done:
			return nil, time.Second
		case <-time.After(acquirePoll):
		}
	}
}

// release ends an attempt acquire reserved in entry f.
func (l *failureLimiter) release(source string, f *sourceFailures, failed bool) {
	l.mu.Lock()
	cur := l.mu.bySource[source]
	if cur != f {
		// f was evicted meanwhile: count a failure in the new entry.
		l.mu.Unlock()
		if failed {
			l.fail(source)
		}
		return
	}
	defer l.mu.Unlock()
	f.inflight--
	if failed {
		if l.now().Sub(f.start) >= l.window {
			f.start, f.n = l.now(), 0
		}
		f.n++
	}
	if f.n == 0 && f.inflight == 0 {
		delete(l.mu.bySource, source) // sources that only succeed are not kept
	}
}

func newFailureLimiter(max int, window time.Duration) *failureLimiter {
	if max <= 0 {
		max = defaultAuthFailureLimit
	}
	if window <= 0 {
		window = defaultAuthFailureWindow
	}
	l := &failureLimiter{max: max, window: window, now: time.Now}
	l.mu.bySource = make(map[string]*sourceFailures)
	return l
}

// blocked returns how long source must wait before it may try again
// (0: it may try now).
func (l *failureLimiter) blocked(source string) time.Duration {
	source = limitKey(source)
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.mu.bySource[source]
	if f == nil {
		return 0
	}
	now := l.now()
	left := f.start.Add(l.window).Sub(now)
	if left <= 0 {
		delete(l.mu.bySource, source)
		return 0
	}
	if f.n >= l.max {
		return left
	}
	return 0
}

// fail records a failed login from source.
func (l *failureLimiter) fail(source string) {
	source = limitKey(source)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	f := l.mu.bySource[source]
	if f == nil || now.Sub(f.start) >= l.window {
		if f == nil && len(l.mu.bySource) >= authLimiterSources {
			l.evictLocked(now)
		}
		f = &sourceFailures{start: now}
		l.mu.bySource[source] = f
	}
	f.n++
}

// evictLocked makes room for one more source: it drops every expired
// entry, and if none had expired, the one whose window began first.
func (l *failureLimiter) evictLocked(now time.Time) {
	var oldest string
	var oldestStart time.Time
	dropped := false
	for src, f := range l.mu.bySource {
		if now.Sub(f.start) >= l.window {
			delete(l.mu.bySource, src)
			dropped = true
			continue
		}
		if oldest == "" || f.start.Before(oldestStart) {
			oldest, oldestStart = src, f.start
		}
	}
	if !dropped && oldest != "" {
		delete(l.mu.bySource, oldest)
	}
}

// sources is how many sources the limiter remembers (tests).
func (l *failureLimiter) sources() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.mu.bySource)
}

// limitKey is the key a source IP's failures are counted under: the IP,
// or for IPv6 its /64, which one client usually holds whole (else each
// of its 2^64 addresses would have a limit of its own).
func limitKey(ip string) string {
	a := net.ParseIP(ip)
	if a == nil || a.To4() != nil {
		return ip
	}
	return a.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
