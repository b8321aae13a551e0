package security

import (
	"testing"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// *catalog.Catalog is what Authorize reads.
var _ Catalog = (*catalog.Catalog)(nil)

func TestAuthorize(t *testing.T) {
	c := catalog.New()
	run := func(cmd catalog.Command) {
		t.Helper()
		var res *catalog.Result
		c, res = catalog.Apply(c, cmd)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	cols := []catalog.Column{{Name: "k", T: types.Text}}
	for _, n := range []string{"alice", "bob", "carol", "readers"} {
		run(&catalog.CreateRole{Role: &catalog.Role{Name: n, Login: n != "readers"}})
	}
	run(&catalog.GrantRole{Roles: []string{"readers"}, To: []string{"carol"}})
	run(&catalog.GrantRole{Roles: []string{"admin"}, To: []string{"bob"}})
	run(&catalog.CreateStream{Stream: &catalog.Stream{Name: "ev", Cols: cols, Shards: 1, Replicas: 1, Owner: "alice"}})
	run(&catalog.CreateStream{Stream: &catalog.Stream{Name: "logs", Cols: cols, Shards: 1, Replicas: 1}})
	run(&catalog.Grant{Kind: "stream", Objects: []string{"ev"}, Privs: []string{"SELECT"}, To: []string{"readers"}})
	run(&catalog.Grant{Kind: "stream", Objects: []string{"logs"}, Privs: []string{"INSERT"}, To: []string{"public"}})

	ev, logs := Object{KindStream, "ev"}, Object{KindStream, "logs"}
	node := Object{KindCluster, "ALTER NODE"}
	for _, tc := range []struct {
		user string
		priv Privilege
		obj  Object
		want string // "" allowed, else the message
	}{
		{"cairn", PrivAdmin, node, ""},
		{"bob", PrivAdmin, node, ""}, // member of admin
		{"bob", PrivSelect, ev, ""},
		{"alice", PrivAdmin, node, "permission denied: ALTER NODE needs the admin role"},
		{"alice", PrivSelect, ev, ""}, // owner
		{"alice", PrivAdmin, ev, ""},  // owner may drop
		{"carol", PrivSelect, ev, ""}, // through readers
		{"carol", PrivInsert, ev, "permission denied for stream ev"},
		{"carol", PrivAdmin, ev, "must be owner of stream ev"},
		{"carol", PrivInsert, logs, ""}, // public
		{"carol", PrivSelect, logs, "permission denied for stream logs"},
		{"alice", PrivSelect, logs, "permission denied for stream logs"}, // owner "" is cairn
		{"nobody", PrivInsert, logs, "permission denied for stream logs"},
		{"carol", PrivCreate, Object{KindDatabase, "cairn"}, "permission denied for database cairn"},
		{"carol", PrivSelect, Object{KindView, "missing"}, "permission denied for view missing"},
	} {
		err := Authorize(c, tc.user, tc.priv, tc.obj)
		got := ""
		if err != nil {
			got = err.Error()
			if pgerr.Code(err) != pgerr.InsufficientPrivilege {
				t.Errorf("%s %s %v: code %s", tc.user, tc.priv, tc.obj, pgerr.Code(err))
			}
		}
		if got != tc.want {
			t.Errorf("%s %s %v: got %q, want %q", tc.user, tc.priv, tc.obj, got, tc.want)
		}
	}
	// A GRANT takes effect in the next catalog; a REVOKE too.
	run(&catalog.Grant{Kind: "database", Objects: []string{"cairn"}, Privs: []string{"CREATE"}, To: []string{"carol"}})
	if err := Authorize(c, "carol", PrivCreate, Object{KindDatabase, "cairn"}); err != nil {
		t.Fatal(err)
	}
	run(&catalog.RevokeRole{Roles: []string{"readers"}, From: []string{"carol"}})
	if err := Authorize(c, "carol", PrivSelect, ev); err == nil {
		t.Fatal("revoked membership still grants")
	}
	if err := Authorize(c, "alice", PrivInsert, ev); err != nil {
		t.Fatalf("owner's privileges: %v", err)
	}
}
