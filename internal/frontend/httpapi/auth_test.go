package httpapi

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/security"
)

// authEnv is a node's HTTP API with the admin routes on a fakeRunner,
// users alice (password alice-pw, INSERT on events) and root (password
// root-pw, admin), and a settable clock.
type authEnv struct {
	t   *testing.T
	f   *fakeBackend
	run *fakeRunner
	s   *Server
	now time.Time
}

func newAuthEnv(t *testing.T, cfg Config) *authEnv {
	t.Helper()
	verifier := func(pw string) string {
		v, err := security.NewVerifier(pw)
		if err != nil {
			t.Fatal(err)
		}
		return v.String()
	}
	e := &authEnv{t: t, f: newFake(), run: &fakeRunner{}, now: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)}
	e.f.users = map[string]string{"alice": verifier("alice-pw"), "root": verifier("root-pw"), "old": verifier("old-pw")}
	e.f.validUntil = map[string]time.Time{"old": e.now.Add(-time.Hour)}
	e.f.admins = map[string]bool{"root": true}
	e.f.inserters = map[string]bool{"alice/events": true}
	cfg.Hosts = append(cfg.Hosts, "db.internal:8480")
	cfg.Now = func() time.Time { return e.now }
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	e.s = New(cfg, e.f)
	e.s.Handle(AdminPrefix, NewAdminHandler(e.run, e.f))
	return e
}

// req is a request from 10.1.2.3 (not loopback) to db.internal:8480.
type req struct {
	method, path, body string
	header             map[string]string
	remote             string
	tls                *tls.ConnectionState
	basic              [2]string
	// plain sends POST /api/v1/login over plain HTTP; by default the
	// tests log in over HTTPS (login over plain HTTP is for loopback only).
	plain bool
}

type resp struct {
	status int
	header http.Header
	body   map[string]any
}

// code returns the SQLSTATE of an error reply of either shape.
func (r resp) code() string {
	if e, ok := r.body["error"].(map[string]any); ok {
		c, _ := e["code"].(string)
		return c
	}
	c, _ := r.body["code"].(string)
	return c
}

// message returns the message of an error reply of either shape.
func (r resp) message() string {
	if e, ok := r.body["error"].(map[string]any); ok {
		m, _ := e["message"].(string)
		return m
	}
	m, _ := r.body["error"].(string)
	return m
}

func (e *authEnv) do(q req) resp {
	e.t.Helper()
	var body io.Reader
	if q.body != "" {
		body = strings.NewReader(q.body)
	}
	r := httptest.NewRequest(q.method, q.path, body)
	r.Host = "db.internal:8480"
	r.RemoteAddr = "10.1.2.3:5000"
	if q.remote != "" {
		r.RemoteAddr = q.remote
	}
	if q.method != "GET" {
		r.Header.Set("Content-Type", "application/json")
	}
	if q.basic[0] != "" {
		r.SetBasicAuth(q.basic[0], q.basic[1])
	}
	for k, v := range q.header {
		if k == "Host" {
			r.Host = v
			continue
		}
		r.Header.Set(k, v)
	}
	r.TLS = q.tls
	if q.path == "/api/v1/login" && q.tls == nil && !q.plain {
		r.TLS = &tls.ConnectionState{HandshakeComplete: true}
	}
	rec := httptest.NewRecorder()
	e.s.Handler().ServeHTTP(rec, r)
	out := resp{status: rec.Code, header: rec.Header(), body: map[string]any{}}
	_ = json.Unmarshal(rec.Body.Bytes(), &out.body)
	return out
}

// login returns a session token of user.
func (e *authEnv) login(user, password string) string {
	e.t.Helper()
	r := e.do(req{method: "POST", path: "/api/v1/login", body: `{"user":"` + user + `","password":"` + password + `"}`})
	tok, _ := r.body["token"].(string)
	if r.status != 200 || len(tok) < 40 {
		e.t.Fatalf("login %s: %d %v", user, r.status, r.body)
	}
	return tok
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func certState(cn string) *tls.ConnectionState {
	c := &x509.Certificate{Subject: pkix.Name{CommonName: cn}}
	return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}, VerifiedChains: [][]*x509.Certificate{{c}}}
}

func TestAuthContentType(t *testing.T) {
	e := newAuthEnv(t, Config{TrustLoopback: true})
	lo := "127.0.0.1:40000"
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "application/x-ndjson", "application/jsonx"} {
		r := e.do(req{method: "POST", path: "/api/v1/sql", body: `{"sql":"DROP VIEW v"}`, remote: lo, header: map[string]string{"Content-Type": ct}})
		if r.status != 415 || r.code() != pgerr.FeatureNotSupported {
			t.Errorf("POST /api/v1/sql with Content-Type %q: %d %v", ct, r.status, r.body)
		}
	}
	// A POST without a body needs it too: an empty cross-site POST is a
	// simple request as well.
	if r := e.do(req{method: "POST", path: "/api/v1/nodes/n2/drain", remote: lo, header: map[string]string{"Content-Type": ""}}); r.status != 415 {
		t.Errorf("drain without Content-Type: %d %v", r.status, r.body)
	}
	if r := e.do(req{method: "DELETE", path: "/api/v1/nodes/n2", remote: lo, header: map[string]string{"Content-Type": "text/plain"}}); r.status != 415 {
		t.Errorf("DELETE with text/plain: %d %v", r.status, r.body)
	}
	if got := e.run.statements(); len(got) != 0 {
		t.Fatalf("refused requests ran %q", got)
	}
	if r := e.do(req{method: "POST", path: "/api/v1/sql", body: `{"sql":"SHOW NODES"}`, remote: lo, header: map[string]string{"Content-Type": "application/json; charset=utf-8"}}); r.status != 200 {
		t.Errorf("application/json; charset=utf-8: %d %v", r.status, r.body)
	}
	// Ingest takes NDJSON or JSON, nothing else.
	for ct, want := range map[string]int{"application/x-ndjson": 200, "application/json": 200, "text/plain": 415, "application/x-www-form-urlencoded": 415, "": 415} {
		r := e.do(req{method: "POST", path: "/v1/streams/events/events", body: `{"value": 1}`, remote: lo, header: map[string]string{"Content-Type": ct}})
		if r.status != want {
			t.Errorf("ingest with Content-Type %q: %d, want %d (%v)", ct, r.status, want, r.body)
		}
		if want == 415 && (r.code() != pgerr.FeatureNotSupported || !strings.Contains(r.message(), "application/x-ndjson")) {
			t.Errorf("ingest 415 reply %v", r.body)
		}
	}
}

func TestAuthHostAndOrigin(t *testing.T) {
	e := newAuthEnv(t, Config{TrustLoopback: true})
	lo := "127.0.0.1:40000"
	cases := []struct {
		host, origin string
		status       int
	}{
		{"evil.example:8480", "", 421}, // DNS rebinding: the page's own name
		{"", "", 421},                  // no Host at all
		{"localhost:8480", "", 200},    // loopback names always work
		{"[::1]:8480", "", 200},        // also as IPv6
		{"DB.Internal.:8480", "", 200}, // a configured name, any case, FQDN dot
		{"db.internal:9999", "", 200},  // the port is not part of the check
		{"127.0.0.1:8480", "http://127.0.0.1:8480", 200},
		{"127.0.0.1:8480", "http://evil.example", 403},
		{"127.0.0.1:8480", "http://127.0.0.1:3000", 403}, // another local app
		{"127.0.0.1:8480", "https://127.0.0.1:8480", 200},
		{"127.0.0.1", "http://127.0.0.1", 200},              // default ports
		{"127.0.0.1:8480", "null", 403},                     // sandboxed page or file://
		{"127.0.0.1:8480", "http://127.0.0.1:8480/x%", 403}, // unparseable
	}
	for _, c := range cases {
		h := map[string]string{"Host": c.host}
		if c.origin != "" {
			h["Origin"] = c.origin
		}
		r := e.do(req{method: "POST", path: "/api/v1/cluster/rebalance", remote: lo, header: h})
		if r.status != c.status {
			t.Errorf("Host %q Origin %q: %d, want %d (%v)", c.host, c.origin, r.status, c.status, r.body)
		}
		if c.status != 200 && r.code() != pgerr.InvalidAuthorization {
			t.Errorf("Host %q Origin %q: code %q", c.host, c.origin, r.code())
		}
	}
	// Names that change at run time (a reloaded certificate's).
	more := []string{"old.example"}
	e.s.cfg.MoreHosts = func() []string { return more }
	if r := e.do(req{method: "GET", path: "/api/v1/nodes", remote: lo, header: map[string]string{"Host": "old.example:8480"}}); r.status != 200 {
		t.Errorf("a MoreHosts name: %d", r.status)
	}
	more = []string{"new.example"}
	if r := e.do(req{method: "GET", path: "/api/v1/nodes", remote: lo, header: map[string]string{"Host": "old.example:8480"}}); r.status != 421 {
		t.Errorf("a name MoreHosts no longer gives: %d", r.status)
	}
	// GETs are checked too (a rebinding page could read the replies).
	if r := e.do(req{method: "GET", path: "/api/v1/nodes", remote: lo, header: map[string]string{"Host": "evil.example"}}); r.status != 421 {
		t.Errorf("GET with a foreign Host: %d", r.status)
	}
	// /health and /ready stay open to any Host.
	for _, p := range []string{"/health", "/ready"} {
		if r := e.do(req{method: "GET", path: p, header: map[string]string{"Host": "evil.example", "Origin": "http://evil.example"}}); r.status != 200 {
			t.Errorf("%s: %d", p, r.status)
		}
	}
}

func TestAuthNoCredentials(t *testing.T) {
	// Insecure node: a loopback client is cairn; anyone else must log in.
	e := newAuthEnv(t, Config{TrustLoopback: true})
	r := e.do(req{method: "POST", path: "/api/v1/sql", body: `{"sql":"SHOW NODES"}`, remote: "127.0.0.1:1"})
	if r.status != 200 || len(e.run.users) != 1 || e.run.users[0] != "cairn" {
		t.Errorf("loopback: %d %v, users %q", r.status, r.body, e.run.users)
	}
	r = e.do(req{method: "POST", path: "/api/v1/sql", body: `{"sql":"SHOW NODES"}`})
	if r.status != 401 || r.code() != pgerr.InvalidAuthorization || r.header.Get("WWW-Authenticate") != `Bearer realm="cairn"` {
		t.Errorf("remote: %d %v %q", r.status, r.body, r.header.Values("WWW-Authenticate"))
	}
	for _, p := range []string{"/api/v1/nodes", "/api/v1/operations", "/api/v1/no-such-route"} {
		if r := e.do(req{method: "GET", path: p}); r.status != 401 {
			t.Errorf("GET %s without credentials: %d", p, r.status)
		}
	}
	if r := e.do(req{method: "POST", path: "/v1/streams/events/events", body: `{"value":1}`}); r.status != 401 || r.code() != pgerr.InvalidAuthorization || r.body["hint"] == nil {
		t.Errorf("ingest without credentials: %d %v", r.status, r.body)
	}
	// Secure node: loopback is trusted no more; over TLS Basic is offered.
	e = newAuthEnv(t, Config{})
	r = e.do(req{method: "GET", path: "/api/v1/nodes", remote: "127.0.0.1:1", tls: &tls.ConnectionState{}})
	if r.status != 401 || len(r.header.Values("WWW-Authenticate")) != 2 {
		t.Errorf("secure loopback: %d %v %q", r.status, r.body, r.header.Values("WWW-Authenticate"))
	}
	// Trust is for plain HTTP only.
	e = newAuthEnv(t, Config{TrustLoopback: true})
	if r := e.do(req{method: "GET", path: "/api/v1/nodes", remote: "127.0.0.1:1", tls: &tls.ConnectionState{}}); r.status != 401 {
		t.Errorf("loopback over TLS: %d", r.status)
	}
	if got := e.run.statements(); len(got) != 0 {
		t.Errorf("unauthenticated requests ran %q", got)
	}
}

func TestAuthLoginTokens(t *testing.T) {
	e := newAuthEnv(t, Config{})
	r := e.do(req{method: "POST", path: "/api/v1/login", body: `{"user":"alice","password":"alice-pw"}`})
	if r.status != 200 || r.body["user"] != "alice" || r.body["expires_at"] != "2026-12-07T00:00:00Z" {
		t.Fatalf("login: %d %v", r.status, r.body)
	}
	tok := r.body["token"].(string)
	ck := (&http.Response{Header: r.header}).Cookies()
	if len(ck) != 1 || ck[0].Name != SessionCookie || ck[0].Value != tok || !ck[0].HttpOnly || !ck[0].Secure || ck[0].SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie %+v", ck)
	}
	// The token as Bearer, and as the cookie.
	if r := e.do(req{method: "POST", path: "/api/v1/sql", body: `{"sql":"SELECT 1"}`, header: bearer(tok)}); r.status != 200 {
		t.Errorf("bearer: %d %v", r.status, r.body)
	}
	if r := e.do(req{method: "GET", path: "/api/v1/nodes", header: map[string]string{"Cookie": SessionCookie + "=" + tok}}); r.status != 200 {
		t.Errorf("cookie: %d %v", r.status, r.body)
	}
	if strings.Join(e.run.users, ",") != "alice,alice" {
		t.Errorf("ran as %q, want alice", e.run.users)
	}
	// A token the node did not hand out.
	if r := e.do(req{method: "GET", path: "/api/v1/nodes", header: bearer(tok[:len(tok)-1] + "x")}); r.status != 401 || r.code() != pgerr.InvalidAuthorization {
		t.Errorf("forged token: %d %v", r.status, r.body)
	}
	// Logout ends the session.
	if r := e.do(req{method: "POST", path: "/api/v1/logout", header: bearer(tok)}); r.status != 200 || r.body["user"] != "alice" {
		t.Errorf("logout: %d %v", r.status, r.body)
	}
	if r := e.do(req{method: "GET", path: "/api/v1/nodes", header: bearer(tok)}); r.status != 401 {
		t.Errorf("token after logout: %d", r.status)
	}
	// Logging out needs a session to end.
	if r := e.do(req{method: "POST", path: "/api/v1/logout", tls: certState("alice")}); r.status != 400 {
		t.Errorf("logout without a token: %d %v", r.status, r.body)
	}
	// Tokens expire after the session TTL.
	tok = e.login("alice", "alice-pw")
	e.now = e.now.Add(DefaultSessionTTL - time.Second)
	if r := e.do(req{method: "GET", path: "/api/v1/nodes", header: bearer(tok)}); r.status != 200 {
		t.Errorf("token before expiry: %d", r.status)
	}
	e.now = e.now.Add(time.Second)
	if r := e.do(req{method: "GET", path: "/api/v1/nodes", header: bearer(tok)}); r.status != 401 || r.code() != pgerr.InvalidAuthorization {
		t.Errorf("expired token: %d %v", r.status, r.body)
	}
	// A token of a role dropped since is no good.
	tok = e.login("alice", "alice-pw")
	e.f.mu.Lock()
	delete(e.f.users, "alice")
	e.f.mu.Unlock()
	if r := e.do(req{method: "GET", path: "/api/v1/nodes", header: bearer(tok)}); r.status != 401 {
		t.Errorf("token of a dropped role: %d", r.status)
	}
	// Login takes exactly user and password.
	for _, body := range []string{`{"user":"alice"}`, `{"password":"x"}`, `{"user":"","password":"x"}`, `{"user":"a","password":"b","x":1}`, ``} {
		if r := e.do(req{method: "POST", path: "/api/v1/login", body: body}); r.status != 400 {
			t.Errorf("login body %q: %d %v", body, r.status, r.body)
		}
	}
}

func TestAuthBadPasswordSameForEveryone(t *testing.T) {
	e := newAuthEnv(t, Config{})
	// Wrong password, no such user, a role that may not log in, an expired
	// password: one answer, which says nothing of which it was.
	for _, c := range []struct{ user, pw string }{{"alice", "nope"}, {"nobody", "nope"}, {"nologin", "alice-pw"}, {"old", "old-pw"}, {"cairn", ""}} {
		body, _ := json.Marshal(map[string]string{"user": c.user, "password": c.pw})
		r := e.do(req{method: "POST", path: "/api/v1/login", body: string(body)})
		want := `password authentication failed for user "` + c.user + `"`
		if r.status != 401 || r.code() != "28P01" || r.message() != want || r.body["error"].(map[string]any)["hint"] != nil {
			t.Errorf("login %s/%s: %d %v", c.user, c.pw, r.status, r.body)
		}
		// The same over Basic.
		r = e.do(req{method: "GET", path: "/api/v1/nodes", basic: [2]string{c.user, c.pw}, tls: &tls.ConnectionState{}})
		if r.status != 401 || r.code() != "28P01" || r.message() != want {
			t.Errorf("basic %s/%s: %d %v", c.user, c.pw, r.status, r.body)
		}
	}
	// Every failure checked a password, so none is quicker than a wrong
	// password (5 kinds, login and Basic each).
	if e.f.mu.pwChecks != 10 {
		t.Errorf("%d password checks for 10 failed attempts", e.f.mu.pwChecks)
	}
	// Each failure is an audit event that names its reason.
	var reasons []string
	for _, ev := range e.f.audits() {
		if ev.Kind == "login" && ev.Source == "10.1.2.3" {
			reasons = append(reasons, ev.User+": "+ev.Outcome)
		}
	}
	want := "alice: 28P01 wrong password,alice: 28P01 wrong password,nobody: 28P01 no such role,nobody: 28P01 no such role," +
		"nologin: 28P01 role may not log in,nologin: 28P01 role may not log in,old: 28P01 password expired,old: 28P01 password expired," +
		"cairn: 28P01 role has no password,cairn: 28P01 role has no password"
	if strings.Join(reasons, ",") != want {
		t.Errorf("audit:\n%s\nwant\n%s", strings.Join(reasons, ","), want)
	}
}

func TestAuthBasic(t *testing.T) {
	e := newAuthEnv(t, Config{TrustLoopback: true})
	// Over plain HTTP Basic is refused, even with the right password and
	// even from loopback, which would otherwise be trusted.
	for _, remote := range []string{"", "127.0.0.1:1"} {
		r := e.do(req{method: "GET", path: "/api/v1/nodes", basic: [2]string{"alice", "alice-pw"}, remote: remote})
		if r.status != 401 || r.code() != pgerr.InvalidAuthorization || !strings.Contains(r.message(), "plain HTTP") {
			t.Errorf("basic over http from %q: %d %v", remote, r.status, r.body)
		}
	}
	r := e.do(req{method: "GET", path: "/api/v1/nodes", basic: [2]string{"alice", "alice-pw"}, tls: &tls.ConnectionState{}})
	if r.status != 200 || len(e.run.users) != 1 || e.run.users[0] != "alice" {
		t.Errorf("basic over TLS: %d %v %q", r.status, r.body, e.run.users)
	}
	for _, h := range []string{"Basic !!!", "Digest x", "Bearer"} {
		r := e.do(req{method: "GET", path: "/api/v1/nodes", header: map[string]string{"Authorization": h}, tls: &tls.ConnectionState{}})
		if r.status != 401 || !strings.Contains(r.message(), "malformed Authorization header") {
			t.Errorf("Authorization %q: %d %v", h, r.status, r.body)
		}
	}
}

func TestAuthClientCert(t *testing.T) {
	e := newAuthEnv(t, Config{})
	r := e.do(req{method: "GET", path: "/api/v1/nodes", tls: certState("alice")})
	if r.status != 200 || e.run.users[0] != "alice" {
		t.Errorf("cert alice: %d %v %q", r.status, r.body, e.run.users)
	}
	for _, cn := range []string{"mallory", "nologin", ""} {
		r = e.do(req{method: "GET", path: "/api/v1/nodes", tls: certState(cn)})
		if r.status != 401 || r.code() != pgerr.InvalidAuthorization {
			t.Errorf("cert %q: %d %v", cn, r.status, r.body)
		}
	}
	// A certificate the TLS layer did not verify is no identity.
	st := certState("alice")
	st.VerifiedChains = nil
	if r := e.do(req{method: "GET", path: "/api/v1/nodes", tls: st}); r.status != 401 {
		t.Errorf("unverified cert: %d", r.status)
	}
	// Explicit credentials win over the certificate.
	tok := e.login("root", "root-pw")
	cs := certState("alice")
	if r := e.do(req{method: "POST", path: "/api/v1/cluster/rebalance", header: bearer(tok), tls: cs}); r.status != 200 {
		t.Errorf("root token with alice's cert: %d %v", r.status, r.body)
	}
}

func TestAuthPrivileges(t *testing.T) {
	e := newAuthEnv(t, Config{})
	alice, root := e.login("alice", "alice-pw"), e.login("root", "root-pw")
	admin := []struct{ method, path, body string }{
		{"POST", "/api/v1/nodes/n2/drain", ""},
		{"POST", "/api/v1/nodes/n2/decommission", ""},
		{"POST", "/api/v1/nodes/n2/recover", ""},
		{"DELETE", "/api/v1/nodes/n2", ""},
		{"POST", "/api/v1/shards/3/force-recover", `{"confirm_data_loss":true}`},
		{"POST", "/api/v1/operations/4/cancel", ""},
		{"POST", "/api/v1/cluster/settings", `{"name":"auto_failover","value":"off"}`},
		{"POST", "/api/v1/cluster/failover", `{"to":"n2"}`},
		{"POST", "/api/v1/cluster/rebalance", ""},
	}
	for _, a := range admin {
		r := e.do(req{method: a.method, path: a.path, body: a.body, header: bearer(alice)})
		want := "permission denied: " + a.method + " " + a.path + " needs the admin role"
		if r.status != 403 || r.code() != pgerr.InsufficientPrivilege || r.message() != want {
			t.Errorf("alice %s %s: %d %v", a.method, a.path, r.status, r.body)
		}
	}
	if got := e.run.statements(); len(got) != 0 {
		t.Fatalf("refused admin calls ran %q", got)
	}
	for _, a := range admin {
		if r := e.do(req{method: a.method, path: a.path, body: a.body, header: bearer(root)}); r.status != 200 {
			t.Errorf("root %s %s: %d %v", a.method, a.path, r.status, r.body)
		}
	}
	// Read routes need only a user.
	for _, p := range []string{"/api/v1/nodes", "/api/v1/shards", "/api/v1/operations", "/api/v1/cluster/settings", "/api/v1/cluster/status"} {
		if r := e.do(req{method: "GET", path: p, header: bearer(alice)}); r.status != 200 {
			t.Errorf("alice GET %s: %d %v", p, r.status, r.body)
		}
	}
	// Ingest needs INSERT on the stream: alice has it on events, root
	// (admin in this fake) everywhere, nobody else anything.
	if r := e.do(req{method: "POST", path: "/v1/streams/events/events", body: `{"value": 1}`, header: bearer(alice)}); r.status != 200 {
		t.Errorf("alice ingest events: %d %v", r.status, r.body)
	}
	r := e.do(req{method: "POST", path: "/v1/streams/misc/events", body: `{"b": true}`, header: bearer(alice)})
	if r.status != 403 || r.code() != pgerr.InsufficientPrivilege || r.message() != "permission denied for stream misc" {
		t.Errorf("alice ingest misc: %d %v", r.status, r.body)
	}
	if e.f.calls() != 1 {
		t.Errorf("Insert called %d times, want 1", e.f.calls())
	}
	// /debug needs admin.
	e.s.Handle("GET /debug/pprof/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "{}") }))
	if r := e.do(req{method: "GET", path: "/debug/pprof/", header: bearer(alice)}); r.status != 403 {
		t.Errorf("alice /debug: %d", r.status)
	}
	if r := e.do(req{method: "GET", path: "/debug/pprof/", header: bearer(root)}); r.status != 200 {
		t.Errorf("root /debug: %d", r.status)
	}
}

func TestAuthAuditsChanges(t *testing.T) {
	e := newAuthEnv(t, Config{TrustLoopback: true})
	e.do(req{method: "GET", path: "/api/v1/nodes", remote: "127.0.0.1:1"})
	e.do(req{method: "POST", path: "/api/v1/nodes/n2/drain", remote: "127.0.0.1:1"})
	tok := e.login("alice", "alice-pw")
	e.do(req{method: "POST", path: "/api/v1/cluster/rebalance", header: bearer(tok)})
	e.do(req{method: "GET", path: "/api/v1/nodes", header: bearer("not-a-token")})
	var got []string
	for _, ev := range e.f.audits() {
		if !ev.At.Equal(e.now) {
			t.Errorf("event at %v, want the clock's %v", ev.At, e.now)
		}
		got = append(got, strings.Join([]string{ev.Kind, ev.User, ev.Source, ev.What, ev.Outcome}, "|"))
	}
	want := []string{
		"api|cairn|127.0.0.1|POST /api/v1/nodes/n2/drain|ok",
		"login|alice|10.1.2.3|http POST /api/v1/login|ok",
		"api|alice|10.1.2.3|POST /api/v1/cluster/rebalance|42501 permission denied: POST /api/v1/cluster/rebalance needs the admin role",
		"login||10.1.2.3|http GET /api/v1/nodes|28000 invalid or expired session token",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAuthRateLimit(t *testing.T) {
	e := newAuthEnv(t, Config{})
	bad := `{"user":"alice","password":"guess"}`
	for i := 0; i < failureBurst; i++ {
		if r := e.do(req{method: "POST", path: "/api/v1/login", body: bad}); r.status != 401 {
			t.Fatalf("attempt %d: %d %v", i, r.status, r.body)
		}
	}
	// The source is blocked now, even with the right password, on every
	// way in; another source is not.
	r := e.do(req{method: "POST", path: "/api/v1/login", body: `{"user":"alice","password":"alice-pw"}`})
	if r.status != 429 || r.code() != pgerr.InvalidAuthorization || !strings.Contains(r.message(), "too many failed logins from 10.1.2.3") {
		t.Errorf("blocked login: %d %v", r.status, r.body)
	}
	if r := e.do(req{method: "GET", path: "/api/v1/nodes", basic: [2]string{"alice", "alice-pw"}, tls: &tls.ConnectionState{}}); r.status != 429 {
		t.Errorf("blocked basic: %d", r.status)
	}
	if r := e.do(req{method: "GET", path: "/api/v1/nodes", header: bearer("made-up")}); r.status != 429 {
		t.Errorf("blocked bearer: %d", r.status)
	}
	if r := e.do(req{method: "POST", path: "/api/v1/login", body: `{"user":"alice","password":"alice-pw"}`, remote: "10.9.9.9:1"}); r.status != 200 {
		t.Errorf("other source: %d %v", r.status, r.body)
	}
	// One more attempt after failureRefill.
	e.now = e.now.Add(failureRefill)
	e.login("alice", "alice-pw")
	if r := e.do(req{method: "POST", path: "/api/v1/login", body: bad}); r.status != 401 {
		t.Errorf("after refill, a wrong password: %d", r.status)
	}
	if r := e.do(req{method: "POST", path: "/api/v1/login", body: bad}); r.status != 429 {
		t.Errorf("and then blocked again: %d", r.status)
	}
}

func TestAuthMetrics(t *testing.T) {
	m := metrics.New()
	e := newAuthEnv(t, Config{Metrics: m.Handler()})
	if r := e.do(req{method: "GET", path: "/metrics"}); r.status != 200 {
		t.Errorf("open /metrics: %d", r.status)
	}
	e = newAuthEnv(t, Config{Metrics: m.Handler(), MetricsAuth: true})
	if r := e.do(req{method: "GET", path: "/metrics"}); r.status != 401 || r.code() != pgerr.InvalidAuthorization {
		t.Errorf("protected /metrics without credentials: %d %v", r.status, r.body)
	}
	if r := e.do(req{method: "GET", path: "/metrics", header: bearer(e.login("alice", "alice-pw"))}); r.status != 200 {
		t.Errorf("protected /metrics with a token: %d", r.status)
	}
}

// The admin handler without Server's authentication runs nothing.
func TestAdminHandlerNeedsUser(t *testing.T) {
	f := &fakeRunner{}
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/api/v1/nodes", nil)
	NewAdminHandler(f, allowAll{}).ServeHTTP(rec, r)
	if rec.Code != 401 || len(f.statements()) != 0 {
		t.Errorf("%d %s, ran %q", rec.Code, rec.Body.String(), f.statements())
	}
}

// Tokens are bounded: the one closest to expiring makes room.
func TestSessionsBounded(t *testing.T) {
	var s sessions
	now := time.Unix(1e9, 0)
	first, _ := s.create("a", "", now, time.Hour)
	for i := 1; i < maxSessions; i++ {
		s.create("b", "", now, 2*time.Hour)
	}
	s.create("c", "", now, time.Hour)
	if _, ok := s.lookup(first, now); ok {
		t.Errorf("the oldest token survived a full table")
	}
	if len(s.mu.m) != maxSessions {
		t.Errorf("%d tokens, want %d", len(s.mu.m), maxSessions)
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestLoginPlainHTTPOnlyFromLoopback: POST /api/v1/login over plain HTTP
// would carry the password in the clear, so it is refused (403, 28000)
// unless the client is on the node's own machine.
func TestLoginPlainHTTPOnlyFromLoopback(t *testing.T) {
	e := newAuthEnv(t, Config{})
	body := `{"user":"alice","password":"alice-pw"}`
	r := e.do(req{method: "POST", path: "/api/v1/login", body: body, plain: true})
	if r.status != http.StatusForbidden || r.code() != "28000" || !strings.Contains(r.message(), "plain HTTP") {
		t.Fatalf("login over plain HTTP from 10.1.2.3: %d %v", r.status, r.body)
	}
	if r := e.do(req{method: "POST", path: "/api/v1/login", body: body, plain: true, remote: "127.0.0.1:5000", header: map[string]string{"Host": "127.0.0.1:8480"}}); r.status != http.StatusOK {
		t.Fatalf("login over plain HTTP from loopback: %d %v", r.status, r.body)
	}
	if r := e.do(req{method: "POST", path: "/api/v1/login", body: body}); r.status != http.StatusOK {
		t.Fatalf("login over HTTPS from 10.1.2.3: %d %v", r.status, r.body)
	}
}
