package httpapi

// Who may call the HTTP API, and from which page. Every request except
// /health and /ready passes guard, which in order
//
//  1. checks the Host header against the node's own names (DNS
//     rebinding: a page whose name resolves to this node still sends its
//     own name as Host) — 421;
//  2. checks an Origin header, when sent, against the Host (a page of
//     another site or another port) — 403;
//  3. requires a JSON (or, for ingest, NDJSON) Content-Type on anything
//     but GET and HEAD: plain-text and form posts are what a browser sends
//     across sites without a preflight — 415;
//  4. authenticates: a Bearer token or the cairn_session cookie from
//     POST /api/v1/login, HTTP Basic over TLS, a verified client
//     certificate (CN = user), or — only on an insecure node and only for
//     loopback clients — nobody at all, who is then the superuser cairn;
//     failures are 401 (429 once a source has failed too often);
//  5. authorizes what the route itself cannot: /debug needs admin.
//     The admin routes check admin themselves, ingest checks INSERT on
//     the stream, and /api/v1/sql runs the statement as the user.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Privilege is a privilege an HTTP route needs; the node maps it onto the
// catalog's privileges (security.Authorize).
type Privilege string

// The privileges HTTP routes check.
const (
	PrivInsert Privilege = "INSERT" // ingest into a stream
	PrivAdmin  Privilege = "ADMIN"  // admin routes; Object{Kind: "cluster"}
)

// Object is what a privilege is checked on: Kind is "stream", or
// "cluster" for PrivAdmin, whose Name then says what is being done (the
// request: "POST /api/v1/nodes/n2/drain") for the error message.
type Object struct {
	Kind, Name string
}

// adminObject is the object of the admin check of request r.
func adminObject(r *http.Request) Object {
	return Object{Kind: "cluster", Name: r.Method + " " + r.URL.Path}
}

// LoginRole is what authentication needs to know of a role.
type LoginRole struct {
	Login      bool      // the role may log in
	Verifier   string    // SCRAM-SHA-256 verifier; "" = no password
	ValidUntil time.Time // zero: the password never expires
}

// AuditEvent is one event for the cluster's audit log (the fields of
// catalog.AuditEvent). Kind is "api" for a call that changes something
// and "login" for an authentication attempt.
type AuditEvent struct {
	At                                time.Time
	User, Source, Kind, What, Outcome string
}

// Default limits of authentication.
const (
	// DefaultSessionTTL is how long a login token lives.
	DefaultSessionTTL = 12 * time.Hour
	// maxSessions bounds the tokens kept in memory; when full, the one
	// closest to expiring makes room.
	maxSessions = 10000
	// failureBurst failed attempts are allowed from one source at once;
	// after that one more every failureRefill.
	failureBurst  = 10
	failureRefill = 6 * time.Second
	// maxSources bounds the sources whose failures are remembered.
	maxSources = 10000
	// SessionCookie is the cookie that carries a login token.
	SessionCookie = "cairn_session"
	// superuser is the built-in role a trusted loopback client acts as.
	superuser = "cairn"
)

// userKey is the context key of the authenticated user.
type userKey struct{}

// UserFrom returns the user the request was authenticated as ("" when
// it was not, e.g. a handler used outside Server).
func UserFrom(ctx context.Context) string {
	u, _ := ctx.Value(userKey{}).(string)
	return u
}

// withUser returns ctx carrying the authenticated user.
func withUser(ctx context.Context, user string) context.Context {
	return context.WithValue(ctx, userKey{}, user)
}

// tokenHash is the key a token is kept under: the node never keeps a
// token it could hand out again, and lookups do not compare secrets.
type tokenHash [sha256.Size]byte

type session struct {
	user    string
	expires time.Time
	// pw is the hash of the verifier the login checked: a token ends when
	// the role's password changes.
	pw tokenHash
}

// sessions holds login tokens in memory (a restart logs everyone out).
type sessions struct {
	mu struct {
		sync.Mutex
		m map[tokenHash]session
	}
}

func hashToken(tok string) tokenHash { return sha256.Sum256([]byte(tok)) }

// create returns a new random 256-bit token for user, who logged in
// with the password of verifier.
func (s *sessions) create(user, verifier string, now time.Time, ttl time.Duration) (string, time.Time) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	exp := now.Add(ttl)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.m == nil {
		s.mu.m = map[tokenHash]session{}
	}
	if len(s.mu.m) >= maxSessions {
		s.evictLocked(now)
	}
	s.mu.m[hashToken(tok)] = session{user: user, expires: exp, pw: hashToken(verifier)}
	return tok, exp
}

// evictLocked drops expired tokens and, if none was, the one that would
// expire first.
func (s *sessions) evictLocked(now time.Time) {
	var first tokenHash
	var firstExp time.Time
	n := len(s.mu.m)
	for k, v := range s.mu.m {
		if !now.Before(v.expires) {
			delete(s.mu.m, k)
			continue
		}
		if firstExp.IsZero() || v.expires.Before(firstExp) {
			first, firstExp = k, v.expires
		}
	}
	if len(s.mu.m) == n && !firstExp.IsZero() {
		delete(s.mu.m, first)
	}
}

// lookup returns the session of a live token.
func (s *sessions) lookup(tok string, now time.Time) (session, bool) {
	h := hashToken(tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.mu.m[h]
	if !ok {
		return session{}, false
	}
	if !now.Before(v.expires) {
		delete(s.mu.m, h)
		return session{}, false
	}
	return v, true
}

// revoke ends a token's session.
func (s *sessions) revoke(tok string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mu.m, hashToken(tok))
}

// limiter counts failed authentication attempts per source (client IP):
// a token bucket of failureBurst, refilled one every failureRefill.
type limiter struct {
	mu struct {
		sync.Mutex
		m map[string]bucket
	}
}

type bucket struct {
	tokens   float64
	at       time.Time
	inflight int // password checks under way (reserve)
}

// reserveWait bounds how long a password check waits for those under way
// from its source; reservePoll is how often it looks again.
const (
	reserveWait = 2 * time.Second
	reservePoll = 5 * time.Millisecond
)

// reserve holds one password check of src under way, so that requests
// sent at once cannot each check a password before the first failures
// are counted: it waits (at most reserveWait) while the failures src has
// left, less the checks under way, do not cover one more. ok false: src
// has none left (wait: until it has), the wait ran out, or done closed.
func (l *limiter) reserve(src string, now func() time.Time, done <-chan struct{}) (wait time.Duration, ok bool) {
	src = limitKey(src)
	give := time.Now().Add(reserveWait)
	for {
		l.mu.Lock()
		if l.mu.m == nil {
			l.mu.m = map[string]bucket{}
		}
		b, found := l.mu.m[src]
		if !found {
			l.makeRoomLocked(now())
			b = bucket{tokens: failureBurst, at: now()}
		}
		t := b.refill(now())
		if t < 1 {
			l.mu.Unlock()
			return time.Duration((1 - t) * float64(failureRefill)), false
		}
		if t-float64(b.inflight) >= 1 {
			b.inflight++
			l.mu.m[src] = b
			l.mu.Unlock()
			return 0, true
		}
		l.mu.Unlock()
		if !time.Now().Add(reservePoll).Before(give) {
			return failureRefill, false
		}
		select {
		case <-done: // the client went away
			return failureRefill, false
		case <-time.After(reservePoll):
		}
	}
}

// unreserve ends a check reserve held (its failure, if any, was counted
// by fail).
func (l *limiter) unreserve(src string, now time.Time) {
	src = limitKey(src)
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.mu.m[src]
	if !ok {
		return
	}
	if b.inflight > 0 {
		b.inflight--
	}
	if b.inflight == 0 && b.refill(now) >= failureBurst {
		delete(l.mu.m, src) // nothing to remember
		return
	}
	l.mu.m[src] = b
}

// refill returns b's tokens at now.
func (b bucket) refill(now time.Time) float64 {
	return min(float64(failureBurst), b.tokens+float64(now.Sub(b.at))/float64(failureRefill))
}

// blocked reports whether src has no failures left, and how long until
// it has one.
func (l *limiter) blocked(src string, now time.Time) (time.Duration, bool) {
	src = limitKey(src)
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.mu.m[src]
	if !ok {
		return 0, false
	}
	t := b.refill(now)
	if t >= 1 {
		return 0, false
	}
	return time.Duration((1 - t) * float64(failureRefill)), true
}

// fail records one failure of src.
func (l *limiter) fail(src string, now time.Time) {
	src = limitKey(src)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.m == nil {
		l.mu.m = map[string]bucket{}
	}
	b, ok := l.mu.m[src]
	if !ok {
		l.makeRoomLocked(now)
		b = bucket{tokens: failureBurst, at: now}
	}
	l.mu.m[src] = bucket{tokens: max(0, b.refill(now)-1), at: now, inflight: b.inflight}
}

// makeRoomLocked makes room for one more source when maxSources are
// remembered: it forgets the sources that are back to a full bucket, and
// if none is, all: a flood of sources must not exhaust memory.
func (l *limiter) makeRoomLocked(now time.Time) {
	if len(l.mu.m) < maxSources {
		return
	}
	for k, v := range l.mu.m {
		if v.refill(now) >= failureBurst {
			delete(l.mu.m, k)
		}
	}
	if len(l.mu.m) >= maxSources {
		clear(l.mu.m)
	}
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

// sourceOf is the client's IP, without the port.
func sourceOf(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// isLoopback reports whether the client connected from a loopback address.
func isLoopback(r *http.Request) bool {
	ip := net.ParseIP(sourceOf(r))
	return ip != nil && ip.IsLoopback()
}

// hostName returns the lower-case host name of a Host header or an
// address (port, IPv6 brackets and a trailing dot removed).
func hostName(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// loopbackHosts are the names every node answers to.
var loopbackHosts = []string{"localhost", "127.0.0.1", "::1"}

// allowedHosts builds the set of host names the Host header may carry.
func allowedHosts(list []string) map[string]bool {
	m := map[string]bool{}
	for _, h := range append(list, loopbackHosts...) {
		if n := hostName(h); n != "" {
			m[n] = true
		}
	}
	return m
}

// hostAllowed reports whether a Host header names this node.
func (s *Server) hostAllowed(host string) bool {
	name := hostName(host)
	if name == "" {
		return false
	}
	if s.hosts[name] {
		return true
	}
	if s.cfg.MoreHosts != nil {
		for _, h := range s.cfg.MoreHosts() {
			if hostName(h) == name {
				return true
			}
		}
	}
	return false
}

// sameAuthority reports whether an Origin (scheme://host[:port]) names
// the same host and port as the Host header of a request made with TLS
// (tls) or without.
func sameAuthority(origin *url.URL, host string, tls bool) bool {
	port := func(hostport, def string) (string, string) {
		if h, p, err := net.SplitHostPort(hostport); err == nil {
			return hostName(h), p
		}
		return hostName(hostport), def
	}
	def := "80"
	if tls {
		def = "443"
	}
	oh, op := port(origin.Host, map[string]string{"http": "80", "https": "443"}[origin.Scheme])
	hh, hp := port(host, def)
	return oh != "" && oh == hh && op == hp
}

// contentTypeOK reports whether a request with a body-carrying method
// sends an accepted media type; ingest also takes NDJSON.
func contentTypeOK(r *http.Request, ingest bool) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return false
	}
	return mt == "application/json" || (ingest && mt == "application/x-ndjson")
}

// isIngest reports whether the path is the NDJSON ingest endpoint.
func isIngest(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/v1/streams/")
}

// isAPI reports whether the path is under /api/v1/ (whose errors have the
// admin API's shape).
func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, AdminPrefix) }

// statusWriter remembers the status of the reply and the start of an
// error reply's body, for the audit event.
type statusWriter struct {
	http.ResponseWriter
	status  int
	errBody []byte // the first bytes of a reply with status >= 400
}

// maxErrBody bounds what statusWriter keeps of an error reply.
const maxErrBody = 4096

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.status >= 400 && len(w.errBody) < maxErrBody {
		w.errBody = append(w.errBody, p[:min(len(p), maxErrBody-len(w.errBody))]...)
	}
	return w.ResponseWriter.Write(p)
}

// Flush lets streaming handlers flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// outcome is the audit outcome of the reply: "ok", or the SQLSTATE and
// message of the error (the error replies of this package carry them).
func (w *statusWriter) outcome() string {
	if w.status < 400 {
		return "ok"
	}
	var admin AdminErrorReply
	if json.Unmarshal(w.errBody, &admin) == nil && admin.Error.Code != "" {
		return admin.Error.Code + " " + admin.Error.Message
	}
	var flat errorReply
	if json.Unmarshal(w.errBody, &flat) == nil && flat.Code != "" {
		return flat.Code + " " + flat.Error
	}
	return fmt.Sprintf("HTTP %d", w.status)
}

// deny replies to a refused request with status and e, in the error shape
// of the path (the admin API's nested one under /api/v1/, else ingest's).
func (s *Server) deny(w http.ResponseWriter, r *http.Request, status int, e *pgerr.Error) {
	if status == http.StatusUnauthorized {
		w.Header().Add("WWW-Authenticate", `Bearer realm="cairn"`)
		if r.TLS != nil {
			// Over plain HTTP Basic is refused, so it is not offered: a
			// browser would pop up a password dialog for nothing.
			w.Header().Add("WWW-Authenticate", `Basic realm="cairn", charset="UTF-8"`)
		}
	}
	if isAPI(r) {
		writeJSON(w, status, AdminErrorReply{Error: AdminError{Code: e.Code, Message: e.Message, Detail: e.Detail, Hint: e.Hint}})
		return
	}
	writeJSON(w, status, errorReply{Error: e.Message, Code: e.Code, Hint: e.Hint})
}

// guard wraps the routes with the checks described at the top of this file.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health", "/ready":
			next.ServeHTTP(w, r)
			return
		}
		if !s.hostAllowed(r.Host) {
			s.deny(w, r, http.StatusMisdirectedRequest, pgerr.HTTPHostRefused.New(r.Host))
			return
		}
		if o, ok := r.Header["Origin"]; ok {
			u, err := url.Parse(strings.Join(o, ","))
			if len(o) != 1 || err != nil || !sameAuthority(u, r.Host, r.TLS != nil) {
				s.deny(w, r, http.StatusForbidden, pgerr.HTTPOriginRefused.New(strings.Join(o, ",")))
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !contentTypeOK(r, isIngest(r)) {
				want := "application/json"
				if isIngest(r) {
					want = "application/x-ndjson or application/json"
				}
				s.deny(w, r, http.StatusUnsupportedMediaType, pgerr.HTTPContentType.New(r.Header.Get("Content-Type"), r.Method, r.URL.Path, want))
				return
			}
		}
		if r.URL.Path == AdminPrefix+"login" || (r.URL.Path == "/metrics" && !s.cfg.MetricsAuth) || s.isPublic(r) {
			next.ServeHTTP(w, r)
			return
		}
		user, status, err := s.authenticate(r)
		if err != nil {
			s.deny(w, r, status, err)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/debug/") {
			if err := s.b.Authorize(user, PrivAdmin, adminObject(r)); err != nil {
				s.deny(w, r, http.StatusForbidden, pgerr.From(err))
				return
			}
		}
		r = r.WithContext(withUser(r.Context(), user))
		if !isAPI(r) || r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		// A call that may change something is audited with its outcome.
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		s.b.Audit(r.Context(), AuditEvent{At: s.now(), User: user, Source: sourceOf(r), Kind: "api",
			What: r.Method + " " + r.URL.Path, Outcome: sw.outcome()})
	})
}

func (s *Server) now() time.Time {
	if s.cfg.Now != nil {
		return s.cfg.Now()
	}
	return time.Now()
}

// credentials are what a request offers to prove who it is.
type credentials struct {
	token       string // Bearer token or session cookie
	user, pass  string // HTTP Basic
	basic       bool
	malformed   string // why the Authorization header could not be read
	certUser    string // CN of a verified client certificate
	hasCert     bool
	fromCookie  bool
	anyExplicit bool // an Authorization header or a session cookie
}

func readCredentials(r *http.Request) credentials {
	var c credentials
	if h := r.Header.Get("Authorization"); h != "" {
		c.anyExplicit = true
		scheme, rest, _ := strings.Cut(h, " ")
		rest = strings.TrimSpace(rest)
		switch {
		case strings.EqualFold(scheme, "Bearer"):
			c.token = rest
			if rest == "" {
				c.malformed = "Bearer without a token"
			}
		case strings.EqualFold(scheme, "Basic"):
			u, p, ok := r.BasicAuth()
			if !ok {
				c.malformed = "Basic credentials are not base64 of user:password"
			}
			c.user, c.pass, c.basic = u, p, true
		default:
			c.malformed = fmt.Sprintf("unknown scheme %q", scheme)
		}
	} else if ck, err := r.Cookie(SessionCookie); err == nil && ck.Value != "" {
		c.anyExplicit, c.fromCookie, c.token = true, true, ck.Value
	}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		c.hasCert = true
		c.certUser = r.TLS.VerifiedChains[0][0].Subject.CommonName
	}
	return c
}

// authenticate returns the request's user, or the status and error to
// refuse it with. Explicit credentials win over a client certificate,
// which wins over trust.
func (s *Server) authenticate(r *http.Request) (string, int, *pgerr.Error) {
	now := s.now()
	src := sourceOf(r)
	c := readCredentials(r)
	if c.anyExplicit {
		if wait, blocked := s.limit.blocked(src, now); blocked {
			return "", http.StatusTooManyRequests, pgerr.HTTPTooManyFailures.New(src, int(wait/time.Second)+1)
		}
	}
	switch {
	case c.malformed != "":
		s.failed(r, "", pgerr.InvalidAuthorization, "malformed Authorization header")
		return "", http.StatusUnauthorized, pgerr.HTTPBadAuthHeader.New(c.malformed)
	case c.token != "":
		sess, ok := s.sessions.lookup(c.token, now)
		user := sess.user
		if ok {
			// The role must still log in with the password the token was
			// given for: a token ends when the role is dropped, loses
			// LOGIN, changes password or sees it expire.
			role, exists := s.b.LoginRole(user)
			if exists && role.Login && hashToken(role.Verifier) == sess.pw && (role.ValidUntil.IsZero() || now.Before(role.ValidUntil)) {
				return user, 0, nil
			}
			s.sessions.revoke(c.token)
		}
		s.failed(r, user, pgerr.InvalidAuthorization, "invalid or expired session token")
		return "", http.StatusUnauthorized, pgerr.HTTPTokenInvalid.New()
	case c.basic:
		if r.TLS == nil {
			// Not counted as a failed password: the password was not checked.
			return "", http.StatusUnauthorized, pgerr.HTTPBasicNeedsTLS.New()
		}
		if _, status, err := s.checkPassword(r, c.user, c.pass); err != nil {
			return "", status, err
		}
		return c.user, 0, nil
	case c.hasCert:
		if role, ok := s.b.LoginRole(c.certUser); ok && role.Login {
			return c.certUser, 0, nil
		}
		s.failed(r, c.certUser, pgerr.InvalidAuthorization, "certificate names no role that may log in")
		return "", http.StatusUnauthorized, pgerr.HTTPCertUserUnknown.New(c.certUser)
	case s.cfg.TrustLoopback && r.TLS == nil && isLoopback(r):
		return superuser, 0, nil
	}
	return "", http.StatusUnauthorized, pgerr.HTTPAuthRequired.New()
}

// failed counts a failed authentication against the request's source
// and reports it to the audit log with the SQLSTATE the client got and
// the reason, which the client is not told.
func (s *Server) failed(r *http.Request, user, code, reason string) {
	s.limit.fail(sourceOf(r), s.now())
	s.b.Audit(r.Context(), AuditEvent{At: s.now(), User: user, Source: sourceOf(r), Kind: "login",
		What: "http " + r.Method + " " + r.URL.Path, Outcome: code + " " + reason})
}

// checkPassword checks user's password against the role's verifier,
// returning the verifier it matched, or the HTTP status and error of a
// failure. The error is the same
// whether the user does not exist, may not log in, has no password, has
// an expired one, or sent a wrong one.
func (s *Server) checkPassword(r *http.Request, user, password string) (string, int, *pgerr.Error) {
	src := sourceOf(r)
	wait, ok := s.limit.reserve(src, s.now, r.Context().Done())
	if !ok {
		return "", http.StatusTooManyRequests, pgerr.HTTPTooManyFailures.New(src, int(wait/time.Second)+1)
	}
	defer func() { s.limit.unreserve(src, s.now()) }()
	role, ok := s.b.LoginRole(user)
	verifier, reason := "", ""
	switch {
	case !ok:
		reason = "no such role"
	case !role.Login:
		reason = "role may not log in"
	case role.Verifier == "":
		reason = "role has no password"
	case !role.ValidUntil.IsZero() && !s.now().Before(role.ValidUntil):
		reason = "password expired"
	default:
		verifier = role.Verifier
	}
	// Checked even when the answer is known, so that every failure
	// takes as long as a wrong password.
	good := s.b.PasswordMatches(verifier, password)
	if reason == "" && !good {
		reason = "wrong password"
	}
	if reason != "" {
		e := pgerr.PasswordAuthFailed.New(user)
		s.failed(r, user, e.Code, reason)
		return "", http.StatusUnauthorized, e
	}
	return verifier, 0, nil
}

// loginReply is the body of a successful POST /api/v1/login.
type loginReply struct {
	User      string    `json:"user"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// login handles POST /api/v1/login {"user": …, "password": …}: it checks
// the password and returns a session token, also set as a cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	src := sourceOf(r)
	if r.TLS == nil && !isLoopback(r) {
		// The password would cross the network in the clear (an
		// --insecure node reached from elsewhere); SQL's SCRAM never
		// sends it, so this is the one place it could leak.
		s.deny(w, r, http.StatusForbidden, pgerr.HTTPLoginNeedsTLS.New())
		return
	}
	if wait, blocked := s.limit.blocked(src, s.now()); blocked {
		s.deny(w, r, http.StatusTooManyRequests, pgerr.HTTPTooManyFailures.New(src, int(wait/time.Second)+1))
		return
	}
	var b struct {
		User     *string `json:"user"`
		Password *string `json:"password"`
	}
	if err := decodeBody(r, &b, false); err != nil {
		s.deny(w, r, http.StatusBadRequest, pgerr.From(err))
		return
	}
	if b.User == nil || b.Password == nil || *b.User == "" {
		s.deny(w, r, http.StatusBadRequest, pgerr.HTTPLoginBody.New())
		return
	}
	verifier, status, err := s.checkPassword(r, *b.User, *b.Password)
	if err != nil {
		s.deny(w, r, status, err)
		return
	}
	ttl := s.cfg.SessionTTL
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	tok, exp := s.sessions.create(*b.User, verifier, s.now(), ttl)
	s.sessionOpened() // metrics.go
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: tok, Path: "/", Expires: exp,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	s.b.Audit(r.Context(), AuditEvent{At: s.now(), User: *b.User, Source: src, Kind: "login",
		What: "http POST " + r.URL.Path, Outcome: "ok"})
	writeJSON(w, http.StatusOK, loginReply{User: *b.User, Token: tok, ExpiresAt: exp.UTC()})
}

// logout handles POST /api/v1/logout: it ends the session of the token
// the request carries and clears the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	c := readCredentials(r)
	if c.token == "" {
		s.deny(w, r, http.StatusBadRequest, pgerr.HTTPLogoutNoToken.New())
		return
	}
	s.sessions.revoke(c.token)
	s.refreshSessions() // metrics.go
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]string{"user": UserFrom(r.Context()), "status": "logged out"})
}
