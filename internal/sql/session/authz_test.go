package session

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// TestAuthzRecheckedAtExecute: a statement prepared (by the protocol or
// by SQL PREPARE) while its user may run it fails once the grant is
// revoked, and works again after a new GRANT, without preparing again;
// the catalog each check reads is the one current at that moment.
func TestAuthzRecheckedAtExecute(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := &genBackend{settingsBackend: newSettingsBackend(), n: 3}
	change := func(c catalog.Command) {
		t.Helper()
		next, res := catalog.Apply(b.cat, c)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		b.cat = next
	}
	change(&catalog.CreateRole{Role: &catalog.Role{Name: "alice", Login: true}})
	change(&catalog.Grant{Kind: catalog.KindStream, Objects: []string{"events"}, Privs: []string{"SELECT"}, To: []string{"alice"}})
	s := New(b, "alice", nil)
	defer s.Close()

	stmts, _, err := parser.Parse("SELECT count(*) FROM events")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Prepare(ctx, stmts[0], "", nil)
	if err != nil {
		t.Fatal(err)
	}
	exec := func() error {
		var sb strings.Builder
		_, err := p.Execute(ctx, nil, &recorder{out: &sb, style: func() *types.Style { return nil }})
		return err
	}
	if err := exec(); err != nil {
		t.Fatalf("granted: %v", err)
	}
	run(t, ctx, s, "PREPARE q AS SELECT v FROM events LIMIT 1")
	change(&catalog.Revoke{Kind: catalog.KindStream, Objects: []string{"events"}, Privs: []string{"SELECT"}, From: []string{"alice"}})
	if err := exec(); pgerr.Code(err) != pgerr.InsufficientPrivilege {
		t.Fatalf("after REVOKE: %v, want 42501", err)
	}
	if _, err := runSQL(s, "EXECUTE q"); pgerr.Code(err) != pgerr.InsufficientPrivilege || !strings.Contains(err.Error(), "stream events") {
		t.Fatalf("EXECUTE after REVOKE: %v", err)
	}
	// Through a role granted later: public.
	change(&catalog.Grant{Kind: catalog.KindStream, Objects: []string{"events"}, Privs: []string{"SELECT"}, To: []string{"public"}})
	if err := exec(); err != nil {
		t.Fatalf("granted to public: %v", err)
	}
	if got := run(t, ctx, s, "EXECUTE q"); got != "0\nSELECT 1\n" {
		t.Fatalf("EXECUTE: %q", got)
	}
	// Admin statements are refused before they are looked at, also
	// inside PREPARE.
	for _, sql := range []string{"ALTER NODE nosuch DRAIN", "PREPARE a AS ALTER NODE n1 DRAIN", "CREATE ROLE x", "GRANT admin TO alice"} {
		if _, err := runSQL(s, sql); pgerr.Code(err) != pgerr.InsufficientPrivilege {
			t.Errorf("%s: %v, want 42501", sql, err)
		}
	}
	// A user that is not (or no longer) a role may read nothing.
	ghost := New(b, "ghost", nil)
	defer ghost.Close()
	change(&catalog.Revoke{Kind: catalog.KindStream, Objects: []string{"events"}, Privs: []string{"SELECT"}, From: []string{"public"}})
	if _, err := runSQL(ghost, "SELECT 1 FROM events"); pgerr.Code(err) != pgerr.InsufficientPrivilege {
		t.Fatalf("unknown user: %v", err)
	}
	if got := run(t, ctx, ghost, "SELECT current_user, session_user"); got != "ghost|ghost\nSELECT 1\n" {
		t.Fatalf("current_user: %q", got)
	}
}

// TestVerifierForPasswords: a password becomes a verifier that checks it;
// a non-ASCII one is refused (clients SASLprep it, Cairn does not), as is
// an MD5 hash.
func TestVerifierForPasswords(t *testing.T) {
	v, _, err := verifierFor("hunter2")
	if err != nil {
		t.Fatal(err)
	}
	pv, err := security.ParseVerifier(v)
	if err != nil || !pv.CheckPassword("hunter2") {
		t.Fatalf("verifier %q does not check its password: %v", v, err)
	}
	for pw, code := range map[string]string{"pässwort": "0A000", "md5" + strings.Repeat("a", 32): "0A000"} {
		if _, _, err := verifierFor(pw); err == nil || pgerr.From(err).Code != code {
			t.Errorf("verifierFor(%q) = %v, want SQLSTATE %s", pw, err, code)
		}
	}
}
