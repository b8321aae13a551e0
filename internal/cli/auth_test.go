package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/cairndb/cairn/internal/frontend/httpapi"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/types"
)

// apiBackend is the node as the HTTP API's authentication sees it: cairn
// plus the users of users (name → password), of whom admins are admins.
type apiBackend struct {
	users     map[string]string
	admins    map[string]bool
	mu        sync.Mutex
	audit     []httpapi.AuditEvent
	verifiers map[string]string // made once per user (LoginRole)
}

func (b *apiBackend) NodeID() string { return "n1" }
func (b *apiBackend) Ready() error   { return nil }
func (b *apiBackend) StreamColumns(name string) ([]httpapi.Column, error) {
	return nil, pgerr.UndefinedTableErr("stream", name)
}
func (b *apiBackend) Insert(context.Context, string, *types.Batch) (int, error) { return 0, nil }

func (b *apiBackend) LoginRole(name string) (httpapi.LoginRole, bool) {
	if name == "cairn" {
		return httpapi.LoginRole{Login: true}, true
	}
	pw, ok := b.users[name]
	if !ok {
		return httpapi.LoginRole{}, false
	}
	// One verifier per user, as a catalog keeps it: a session token ends
	// when the role's verifier changes.
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.verifiers == nil {
		b.verifiers = map[string]string{}
	}
	if v, ok := b.verifiers[name]; ok {
		return httpapi.LoginRole{Login: true, Verifier: v}, true
	}
	v, err := security.NewVerifier(pw)
	if err != nil {
		panic(err)
	}
	b.verifiers[name] = v.String()
	return httpapi.LoginRole{Login: true, Verifier: v.String()}, true
}

func (b *apiBackend) PasswordMatches(verifier, password string) bool {
	v, err := security.ParseVerifier(verifier)
	return err == nil && v.CheckPassword(password)
}

func (b *apiBackend) Authorize(user string, priv httpapi.Privilege, obj httpapi.Object) error {
	if user == "cairn" || b.admins[user] {
		return nil
	}
	return pgerr.PermissionDeniedAdmin.New(obj.Name, user)
}

func (b *apiBackend) Audit(_ context.Context, ev httpapi.AuditEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.audit = append(b.audit, ev)
}

// apiServer is a node's HTTP API (insecure: loopback is trusted) whose
// admin routes run on r.
func apiServer(r httpapi.SQLRunner, b *apiBackend) http.Handler {
	s := httpapi.New(httpapi.Config{TrustLoopback: true}, b)
	s.Handle(httpapi.AdminPrefix, httpapi.NewAdminHandler(r, b))
	return s.Handler()
}

func TestCLIUserPassword(t *testing.T) {
	r := &scriptRunner{script: map[string][]reply{
		"SELECT * FROM cairn_cluster.nodes": {{res: rows([]string{"node_id"}, []*string{sp("n1")})}},
		"ALTER NODE 'n2' DRAIN":             {{res: startedOps("7")}},
	}}
	b := &apiBackend{users: map[string]string{"bob": "s3cret-Pw", "ann": "ann-pw"}, admins: map[string]bool{"ann": true}}
	srv := httptest.NewServer(apiServer(r, b))
	defer srv.Close()
	host := srv.Listener.Addr().String()

	// No user: a loopback client of an insecure node is cairn.
	t.Setenv("CAIRN_PASSWORD", "")
	if _, _, code, err := runCLIHost(t, "node", "ls", "--host", host); code != 0 {
		t.Fatalf("node ls as cairn: exit %d: %v", code, err)
	}
	// A password from the environment: login over http, then the token;
	// the statement runs as bob.
	t.Setenv("CAIRN_PASSWORD", "s3cret-Pw")
	if _, _, code, err := runCLIHost(t, "node", "ls", "--host", host, "--user", "bob"); code != 0 {
		t.Fatalf("node ls as bob: exit %d: %v", code, err)
	}
	r.mu.Lock()
	users := append([]string(nil), r.users...)
	r.mu.Unlock()
	if strings.Join(users, ",") != "cairn,bob" {
		t.Errorf("statements ran as %q, want cairn then bob", users)
	}
	// bob is no admin: drain is refused with 42501 and runs nothing.
	_, _, code, err := runCLIHost(t, "node", "drain", "n2", "--host", host, "--user", "bob")
	if code != ExitFailure || err == nil || !strings.Contains(err.Error(), "SQLSTATE 42501") {
		t.Errorf("drain as bob: exit %d: %v", code, err)
	}
	if got := r.statements(); len(got) != 2 {
		t.Errorf("a refused drain ran SQL: %q", got)
	}
	// ann is an admin, with the password as a flag.
	t.Setenv("CAIRN_PASSWORD", "")
	if _, _, code, err := runCLIHost(t, "node", "drain", "n2", "--host", host, "--user", "ann", "--password", "ann-pw"); code != 0 {
		t.Errorf("drain as ann: exit %d: %v", code, err)
	}
	// A wrong password: 28P01, and the password is never printed.
	t.Setenv("CAIRN_PASSWORD", "wrong-Guess-42")
	out, errOut, code, err := runCLIHost(t, "node", "ls", "--host", host, "--user", "bob")
	if code != ExitFailure || err == nil || !strings.Contains(err.Error(), `password authentication failed for user "bob" (SQLSTATE 28P01)`) {
		t.Errorf("wrong password: exit %d: %v", code, err)
	}
	if strings.Contains(out+errOut+err.Error(), "wrong-Guess-42") {
		t.Errorf("the password was echoed: %q %q %v", out, errOut, err)
	}
	// A user without a password over http is refused before any request.
	t.Setenv("CAIRN_PASSWORD", "")
	_, _, code, err = runCLIHost(t, "node", "ls", "--host", host, "--user", "bob")
	if code != ExitFailure || err == nil || !strings.Contains(err.Error(), "--user bob needs a password over http") {
		t.Errorf("no password: exit %d: %v", code, err)
	}
}

// Over https a password goes as HTTP Basic on every request; without one,
// nothing is sent (the client certificate identifies the user).
func TestCLIAuthorizeHTTPS(t *testing.T) {
	c := &apiClient{base: "https://db.example:8480", user: "bob", password: "pw"}
	req := httptest.NewRequest("GET", "https://db.example:8480/api/v1/nodes", nil)
	if err := c.authorize(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if u, p, ok := req.BasicAuth(); !ok || u != "bob" || p != "pw" {
		t.Errorf("Basic credentials %q %q %v", u, p, ok)
	}
	c = &apiClient{base: "https://db.example:8480", user: "bob"}
	req = httptest.NewRequest("GET", "https://db.example:8480/api/v1/nodes", nil)
	if err := c.authorize(context.Background(), req); err != nil || req.Header.Get("Authorization") != "" {
		t.Errorf("no password: err %v, Authorization %q", err, req.Header.Get("Authorization"))
	}
}
