package catalog

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// TestRoleCommands applies the role and grant commands through their wire
// form, as the meta group does: membership closure, admin, ownership,
// grants, the refusals, and what DROP ROLE and DROP STREAM take along.
func TestRoleCommands(t *testing.T) {
	cat := New()
	apply := func(c Command) *Result {
		t.Helper()
		d, err := Decode(Encode(c))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d, c) {
			t.Fatalf("wire form changed the command: %#v became %#v", c, d)
		}
		var res *Result
		cat, res = Apply(cat, d)
		return res
	}
	mustCode := func(want string, r *Result) {
		t.Helper()
		got := ""
		if r.Err != nil {
			got = pgerr.From(r.Err).Code
		}
		if got != want {
			t.Fatalf("got code %q (%v), want %q", got, r.Err, want)
		}
	}
	if !cat.IsAdmin("cairn") || cat.Role("admin") == nil || cat.Role("admin").Login {
		t.Fatal("built-ins wrong")
	}
	mustCode("", apply(&CreateRole{Role: &Role{Name: "alice", Login: true}}))
	mustCode("42710", apply(&CreateRole{Role: &Role{Name: "alice"}}))
	mustCode("42710", apply(&CreateRole{Role: &Role{Name: "cairn"}}))
	mustCode("42939", apply(&CreateRole{Role: &Role{Name: "public"}}))
	mustCode("42939", apply(&CreateRole{Role: &Role{Name: "pg_x"}}))
	mustCode("", apply(&CreateRole{Role: &Role{Name: "ops"}}))
	mustCode("", apply(&CreateRole{Role: &Role{Name: "bob", Login: true}}))
	if cat.IsAdmin("alice") {
		t.Fatal("alice is no admin yet")
	}
	// bob ∈ ops ∈ admin: bob is admin, transitively.
	mustCode("", apply(&GrantRole{Roles: []string{"ops"}, To: []string{"bob"}}))
	mustCode("", apply(&GrantRole{Roles: []string{"admin"}, To: []string{"ops"}}))
	if !cat.IsAdmin("bob") || !cat.IsAdmin("ops") || cat.IsAdmin("alice") {
		t.Fatal("admin closure wrong")
	}
	if got := cat.RolesOf("bob"); !reflect.DeepEqual(got, []string{"admin", "bob", "ops"}) {
		t.Fatalf("RolesOf(bob) = %v", got)
	}
	mustCode("0LP01", apply(&GrantRole{Roles: []string{"bob"}, To: []string{"ops"}}))
	mustCode("0LP01", apply(&GrantRole{Roles: []string{"bob"}, To: []string{"bob"}}))
	mustCode("42704", apply(&GrantRole{Roles: []string{"nobody"}, To: []string{"bob"}}))
	mustCode("", apply(&RevokeRole{Roles: []string{"ops"}, From: []string{"bob"}}))
	if cat.IsAdmin("bob") {
		t.Fatal("revoke did not end bob's admin")
	}

	// Ownership and grants.
	cols := []Column{{Name: "k", T: types.Text}}
	mustCode("", apply(&CreateStream{Stream: &Stream{Name: "ev", Cols: cols, Shards: 1, Replicas: 1, Owner: "alice"}}))
	mustCode("", apply(&CreateStream{Stream: &Stream{Name: "old", Cols: cols, Shards: 1, Replicas: 1}}))
	if o, _ := cat.Owner(KindStream, "old"); o != "cairn" {
		t.Fatalf("an object without owner belongs to cairn, got %q", o)
	}
	mustCode("", apply(&Grant{Kind: KindStream, Objects: []string{"ev"}, Privs: []string{"INSERT"}, To: []string{"bob", "public"}}))
	mustCode("", apply(&Grant{Kind: KindStream, Objects: []string{"ev"}, Privs: []string{"SELECT"}, To: []string{"bob"}}))
	if got := cat.Privileges(KindStream, "ev", "bob"); !reflect.DeepEqual(got, []string{"SELECT", "INSERT"}) {
		t.Fatalf("bob's privileges: %v", got)
	}
	mustCode("0LP01", apply(&Grant{Kind: KindView, Objects: []string{"ev"}, Privs: []string{"INSERT"}, To: []string{"bob"}}))
	mustCode("42P01", apply(&Grant{Kind: KindView, Objects: []string{"ev"}, Privs: []string{"SELECT"}, To: []string{"bob"}}))
	mustCode("42704", apply(&Grant{Kind: KindStream, Objects: []string{"ev"}, Privs: []string{"SELECT"}, To: []string{"carol"}}))
	mustCode("", apply(&Revoke{Kind: KindStream, Objects: []string{"ev"}, Privs: []string{"SELECT"}, From: []string{"bob"}}))
	if got := cat.Privileges(KindStream, "ev", "bob"); !reflect.DeepEqual(got, []string{"INSERT"}) {
		t.Fatalf("bob's privileges after revoke: %v", got)
	}

	// DROP ROLE: refused while the role owns objects; built-ins never.
	r := apply(&DropRoles{Names: []string{"alice"}})
	mustCode("2BP01", r)
	if !strings.Contains(r.Err.Message, "stream ev") {
		t.Fatalf("message should name the object: %s", r.Err.Message)
	}
	mustCode("0A000", apply(&DropRoles{Names: []string{"admin"}}))
	mustCode("42704", apply(&DropRoles{Names: []string{"nobody"}}))
	mustCode("", apply(&DropRoles{Names: []string{"nobody"}, IfExists: true}))
	// Dropping bob takes his grants along; dropping ev takes its grants.
	mustCode("", apply(&DropRoles{Names: []string{"bob"}}))
	if g := cat.Grants[GrantKey(KindStream, "ev")]; len(g) != 1 || g["public"] == nil {
		t.Fatalf("grants after DROP ROLE bob: %v", g)
	}
	mustCode("", apply(&DropStreams{Names: []string{"ev"}}))
	if len(cat.Grants) != 0 {
		t.Fatalf("grants survive their object: %v", cat.Grants)
	}
	mustCode("", apply(&DropRoles{Names: []string{"alice"}}))

	// ALTER ROLE: password, login, valid until, rename.
	v := "SCRAM-SHA-256$4096:c2FsdA==$a:b"
	no := false
	until := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	mustCode("", apply(&AlterRole{Name: "ops", Verifier: &v, ValidUntil: &until}))
	mustCode("", apply(&AlterRole{Name: "ops", RenameTo: "ops2"}))
	if r := cat.Role("ops2"); r == nil || r.Verifier != v || !r.ValidUntil.Equal(until) || cat.Role("ops") != nil || !cat.IsAdmin("ops2") {
		t.Fatalf("rename lost something: %+v", cat.Role("ops2"))
	}
	mustCode("0A000", apply(&AlterRole{Name: "cairn", Login: &no}))
	mustCode("0A000", apply(&AlterRole{Name: "admin", RenameTo: "x"}))
}

// TestRolesOldCatalog loads a catalog stored before roles existed: the
// built-ins are there, and a clone keeps roles and grants deep-copied.
func TestRolesOldCatalog(t *testing.T) {
	c := New()
	if err := json.Unmarshal([]byte(`{"nodes":{},"streams":{},"views":{},"settings":{}}`), c); err != nil {
		t.Fatal(err)
	}
	if !c.IsSuperuser("cairn") || c.Role("admin") == nil {
		t.Fatal("built-in roles missing from an old catalog")
	}
	var old Catalog // a zero catalog too (no New)
	if !old.IsAdmin("cairn") || old.Role("admin") == nil || old.IsAdmin("x") {
		t.Fatal("built-ins missing from a zero catalog")
	}
	next, res := Apply(c, &CreateRole{Role: &Role{Name: "u", Login: true, MemberOf: []string{"admin"}}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	cl := next.Clone()
	cl.Roles["u"].MemberOf[0] = "changed"
	if next.Roles["u"].MemberOf[0] != "admin" || !next.IsAdmin("u") {
		t.Fatal("clone shares role memory")
	}
}
