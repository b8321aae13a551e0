package session

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// proposeBackend is a genBackend whose proposals apply to its catalog.
type proposeBackend struct{ *genBackend }

func (b proposeBackend) Propose(_ context.Context, c catalog.Command) (*catalog.Result, error) {
	next, res := catalog.Apply(b.cat, c)
	if res.Err != nil {
		return res, res.Err
	}
	b.cat = next
	return res, nil
}

func (b proposeBackend) Reconcile() {}
func (b proposeBackend) PokeOps()   {}

// reviewBackend is a settingsBackend whose catalog commands apply.
func reviewBackend(t *testing.T) (proposeBackend, func(catalog.Command)) {
	b := proposeBackend{&genBackend{settingsBackend: newSettingsBackend(), n: 3}}
	change := func(c catalog.Command) {
		t.Helper()
		next, res := catalog.Apply(b.cat, c)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		b.cat = next
	}
	return b, change
}

// TestPgAuthidNotUnlockedByUserTable: a user relation named pg_authid
// (in public, so its catalog key is "pg_authid") does not let its owner,
// or those it grants SELECT, read pg_catalog.pg_authid's verifiers; only
// admins read them.
func TestPgAuthidNotUnlockedByUserTable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, change := reviewBackend(t)
	v, err := security.NewVerifier("sekrit-pw")
	if err != nil {
		t.Fatal(err)
	}
	change(&catalog.CreateRole{Role: &catalog.Role{Name: "alice", Login: true, Verifier: v.String()}})
	change(&catalog.CreateRole{Role: &catalog.Role{Name: "mallory", Login: true}})
	// mallory owns a table named pg_authid (as CREATE TABLE pg_authid
	// would make it with CREATE on public).
	cat := b.cat.Clone()
	cat.Tables["pg_authid"] = &catalog.Table{ID: 99, Name: "pg_authid", Owner: "mallory", Shards: 1, Replication: 1,
		Columns: []catalog.Column{{Name: "x", T: types.Int4}}, PrimaryKey: []int{0}}
	b.cat = cat
	s := New(b, "mallory", nil)
	defer s.Close()
	for _, sql := range []string{
		"SELECT rolpassword FROM pg_catalog.pg_authid",
		"SELECT rolpassword FROM pg_catalog.\"pg_authid\" WHERE rolname = 'alice'",
	} {
		res, err := runSQL(s, sql)
		out := fmt.Sprint(res)
		for _, r := range res.Rows {
			for _, c := range r {
				if c != nil {
					out += *c
				}
			}
		}
		if err == nil || pgerr.Code(err) != pgerr.InsufficientPrivilege || err.Error() != "permission denied for table pg_authid" {
			t.Errorf("%s: %q, %v; want 42501 permission denied for table pg_authid", sql, out, err)
		}
		if strings.Contains(out, "SCRAM-SHA-256$") {
			t.Errorf("%s leaked a verifier: %q", sql, out)
		}
	}
	if got := run(t, ctx, s, "SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT')"); got != "f\nSELECT 1\n" {
		t.Errorf("has_table_privilege(pg_authid) for mallory: %q, want f", got)
	}
	// An admin reads them.
	admin := New(b, "", nil)
	defer admin.Close()
	if got := run(t, ctx, admin, "SELECT rolpassword FROM pg_catalog.pg_authid WHERE rolname = 'alice'"); !strings.Contains(got, "SCRAM-SHA-256$") {
		t.Errorf("admin reads pg_authid: %q", got)
	}
}

// TestAuthzNeedsOfRunTimeCatalog: what a statement needs by its kind is
// worked out against the catalog current when it runs, not when it was
// prepared: a DROP ... IF EXISTS or a GRANT prepared (protocol-level)
// before the object existed does not run unchecked once another role
// made it.
func TestAuthzNeedsOfRunTimeCatalog(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, change := reviewBackend(t)
	change(&catalog.CreateRole{Role: &catalog.Role{Name: "alice", Login: true}})
	change(&catalog.CreateRole{Role: &catalog.Role{Name: "mallory", Login: true}})
	s := New(b, "mallory", nil)
	defer s.Close()
	prep := func(sql string) *prepared {
		t.Helper()
		stmts, _, err := parser.Parse(sql)
		if err != nil {
			t.Fatal(err)
		}
		p, err := s.Prepare(ctx, stmts[0], sql, nil)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return p.(*prepared)
	}
	drop := prep("DROP STREAM IF EXISTS secret")
	grant := prep("GRANT SELECT ON STREAM secret TO mallory")
	// alice makes the stream afterwards.
	cat := b.cat.Clone()
	cat.Streams["secret"] = &catalog.Stream{ID: 7, Name: "secret", Shards: 1, Replicas: 1, Groups: []uint64{12}, Owner: "alice",
		Cols: []catalog.Column{{Name: "v", T: types.Int4}}}
	b.cat = cat
	for _, x := range []struct {
		name string
		p    *prepared
	}{{"GRANT", grant}, {"DROP", drop}} {
		name, p := x.name, x.p
		var sb strings.Builder
		_, err := p.Execute(ctx, nil, &recorder{out: &sb, style: func() *types.Style { return nil }})
		if err == nil || pgerr.Code(err) != pgerr.InsufficientPrivilege {
			t.Errorf("%s prepared before the stream existed ran as mallory: %v", name, err)
		}
	}
	if b.cat.Streams["secret"] == nil || len(b.cat.Grants) != 0 {
		t.Errorf("alice's stream was dropped or granted: %v %v", b.cat.Streams["secret"], b.cat.Grants)
	}
}

// TestUpdateSetReadingColumnsNeedsSelect: an UPDATE whose SET reads the
// table's values needs SELECT on it, as one with a WHERE does (else
// SET a = 1/(b-42) tells b by its error); a SET of constants needs only
// UPDATE.
func TestUpdateSetReadingColumnsNeedsSelect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, change := reviewBackend(t)
	change(&catalog.CreateRole{Role: &catalog.Role{Name: "alice", Login: true}})
	change(&catalog.CreateRole{Role: &catalog.Role{Name: "mallory", Login: true}})
	cat := b.cat.Clone()
	cat.Tables["t"] = &catalog.Table{ID: 98, Name: "t", Owner: "alice", Shards: 1, Replication: 1,
		Columns: []catalog.Column{{Name: "k", T: types.Int4}, {Name: "secret", T: types.Int4}, {Name: "note", T: types.Text}}, PrimaryKey: []int{0}}
	b.cat = cat
	change(&catalog.Grant{Kind: catalog.KindTable, Objects: []string{"t"}, Privs: []string{"UPDATE"}, To: []string{"mallory"}})
	s := New(b, "mallory", nil)
	defer s.Close()
	prep := func(sql string) error {
		stmts, _, err := parser.Parse(sql)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Prepare(ctx, stmts[0], sql, nil)
		return err
	}
	for _, sql := range []string{
		"UPDATE t SET note = 'x' || (1/(secret-42))::text",
		"UPDATE t SET note = CASE WHEN secret > 0 THEN 'a' END",
	} {
		if err := prep(sql); err == nil || pgerr.Code(err) != pgerr.InsufficientPrivilege {
			t.Errorf("%s without SELECT: %v, want 42501", sql, err)
		}
	}
	for _, sql := range []string{"UPDATE t SET note = 'x'", "UPDATE t SET note = upper('x') || $1::text, secret = -1"} {
		if err := prep(sql); err != nil {
			t.Errorf("%s with UPDATE only: %v", sql, err)
		}
	}
}

// TestOnConflictReadingExistingNeedsSelect: ON CONFLICT DO UPDATE that
// reads the existing row (not EXCLUDED) needs SELECT, as in PostgreSQL.
func TestOnConflictReadingExistingNeedsSelect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, change := reviewBackend(t)
	change(&catalog.CreateRole{Role: &catalog.Role{Name: "alice", Login: true}})
	change(&catalog.CreateRole{Role: &catalog.Role{Name: "mallory", Login: true}})
	cat := b.cat.Clone()
	cat.Tables["t"] = &catalog.Table{ID: 98, Name: "t", Owner: "alice", Shards: 1, Replication: 1,
		Columns: []catalog.Column{{Name: "k", T: types.Int4}, {Name: "secret", T: types.Int4}}, PrimaryKey: []int{0}}
	b.cat = cat
	change(&catalog.Grant{Kind: catalog.KindTable, Objects: []string{"t"}, Privs: []string{"INSERT", "UPDATE"}, To: []string{"mallory"}})
	s := New(b, "mallory", nil)
	defer s.Close()
	prep := func(sql string) error {
		stmts, _, err := parser.Parse(sql)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Prepare(ctx, stmts[0], sql, nil)
		return err
	}
	for _, sql := range []string{
		"INSERT INTO t VALUES (1, 2) ON CONFLICT (k) DO UPDATE SET secret = 1/(t.secret-42)",
		"INSERT INTO t VALUES (1, 2) ON CONFLICT (k) DO UPDATE SET secret = 0 WHERE t.secret > 5",
	} {
		if err := prep(sql); err == nil || pgerr.Code(err) != pgerr.InsufficientPrivilege {
			t.Errorf("%s without SELECT: %v, want 42501", sql, err)
		}
	}
	if err := prep("INSERT INTO t VALUES (1, 2) ON CONFLICT (k) DO UPDATE SET secret = excluded.secret"); err != nil {
		t.Errorf("DO UPDATE from EXCLUDED with INSERT and UPDATE: %v", err)
	}
}

// TestViewReadsWithOwnersPrivileges: a view reads with its owner's
// privileges, as in PostgreSQL: once its owner loses SELECT on the stream
// it reads, neither the owner nor those it granted the view read the
// stream's rows through it.
func TestViewReadsWithOwnersPrivileges(t *testing.T) {
	f := newFake()
	f.coverAfter = 1
	b := &readBackend{fakeBackend: f, stream: [][]types.Datum{
		{types.NewText("a"), types.NewInt(types.Int8, 1)},
		{types.NewText("c"), types.NewInt(types.Int8, 9)},
	}}
	change := func(c catalog.Command) {
		t.Helper()
		next, res := catalog.Apply(f.cat, c)
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		f.cat = next
	}
	change(&catalog.CreateRole{Role: &catalog.Role{Name: "mallory", Login: true}})
	change(&catalog.CreateRole{Role: &catalog.Role{Name: "bob", Login: true}})
	change(&catalog.Grant{Kind: catalog.KindStream, Objects: []string{"s"}, Privs: []string{"SELECT"}, To: []string{"mallory"}})
	change(&catalog.Grant{Kind: catalog.KindSchema, Objects: []string{"public"}, Privs: []string{"CREATE"}, To: []string{"mallory"}})
	mallory, bob := New(b, "mallory", nil), New(b, "bob", nil)
	defer mallory.Close()
	defer bob.Close()
	mustRun(t, mallory, "CREATE VIEW mt AS SELECT upper(k) AS big FROM s WHERE x > 2")
	mustRun(t, mallory, "CREATE VIEW mt2 AS SELECT big || '!' AS bang FROM mt")
	if f.cat.Views["mt"] == nil || f.cat.Views["mt"].Owner != "mallory" {
		t.Fatalf("view mt: %+v", f.cat.Views["mt"])
	}
	change(&catalog.Grant{Kind: catalog.KindView, Objects: []string{"mt", "mt2"}, Privs: []string{"SELECT"}, To: []string{"bob"}})
	for _, s := range []*Session{mallory, bob} {
		if got := textRows(mustRun(t, s, "SELECT * FROM mt2")); got != "C!" {
			t.Fatalf("SELECT FROM mt2 while granted: %q", got)
		}
	}
	change(&catalog.Revoke{Kind: catalog.KindStream, Objects: []string{"s"}, Privs: []string{"SELECT"}, From: []string{"mallory"}})
	for name, s := range map[string]*Session{"mallory": mallory, "bob": bob} {
		for _, sql := range []string{"SELECT * FROM mt", "SELECT * FROM mt2"} {
			res, err := runSQL(s, sql)
			if err == nil || pgerr.Code(err) != pgerr.InsufficientPrivilege || !strings.Contains(err.Error(), "stream s") {
				t.Errorf("%s: %s after the owner lost SELECT on s: %v %v", name, sql, textRows(res), err)
			}
		}
	}
}
