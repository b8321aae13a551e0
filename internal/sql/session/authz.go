package session

import (
	"context"
	"strings"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Authorization. Every statement lists what it needs (need: a privilege
// on an object): the ones its kind implies (INSERT on the target of an
// INSERT, owner-or-admin for DROP, admin for ALTER NODE, ...; needsOf)
// and SELECT on every stream, view and table the planner resolved while
// preparing it (resolve.go notes them), at any depth: joins, subqueries,
// CTEs, INSERT ... SELECT, COPY TO, EXPLAIN; and, for each view read,
// that its owner (and so on down its chain of transforms) still holds
// SELECT on what it reads, as a PostgreSQL view reads with its owner's
// privileges (noteViewOwners). They are checked when the
// statement is prepared and again, against the catalog current then,
// each time it runs (the needs of its kind worked out afresh, so an
// object made since prepare is checked too): a GRANT or REVOKE takes
// effect on a live session's next statement, and a prepared statement
// (protocol-level or SQL PREPARE) or a COPY re-checks at every execution. A cursor is checked
// at DECLARE, as PostgreSQL does.

// need is one privilege a statement needs on one object.
type need struct {
	priv security.Privilege
	obj  security.Object
	// as is who must hold it: "" the session's user; a view's owner for
	// what the view reads (noteViewOwners).
	as string
	// deniedFor, if set, is the relation a refusal names ("permission
	// denied for table pg_authid") in place of the admin check's message.
	deniedFor *security.Object
}

// currentUser is the session's user; "" (sessions made by tests and
// internal callers) is the superuser.
func (s *Session) currentUser() string {
	if s.user == "" {
		return catalog.RoleCairn
	}
	return s.user
}

// authorize checks needs against the current catalog.
func (s *Session) authorize(needs []need) error {
	if len(needs) == 0 {
		return nil
	}
	cat, user := s.b.Catalog(), s.currentUser()
	for _, n := range needs {
		who := user
		if n.as != "" {
			who = n.as
		}
		if err := security.Authorize(cat, who, n.priv, n.obj); err != nil {
			if n.deniedFor != nil {
				return pgerr.PermissionDenied.New(n.deniedFor.Kind, n.deniedFor.Name)
			}
			return err
		}
	}
	return nil
}

// noteRead records that the statement being prepared reads an object,
// and checks it at once (a read resolved while running is checked too).
func (s *Session) noteRead(kind, key string) error {
	n := need{priv: security.PrivSelect, obj: security.Object{Kind: kind, Name: key}}
	s.reads = append(s.reads, n)
	return s.authorize([]need{n})
}

// noteAdmin records and checks that the statement needs the admin role
// (what: the statement or relation, for the message).
func (s *Session) noteAdmin(what string) error {
	n := need{priv: security.PrivAdmin, obj: security.Object{Kind: security.KindCluster, Name: what}}
	s.reads = append(s.reads, n)
	return s.authorize([]need{n})
}

// viewReads lists what v reads directly: the transform its FROM names
// (or its stream), a joined stream, tables; each needs SELECT.
func viewReads(v *catalog.View) []need {
	var out []need
	if len(v.Over) > 0 {
		out = append(out, onObject(security.PrivSelect, catalog.KindView, v.Over[0]))
	} else {
		out = append(out, onObject(security.PrivSelect, catalog.KindStream, v.Stream))
	}
	if v.JoinStream != "" {
		out = append(out, onObject(security.PrivSelect, catalog.KindStream, v.JoinStream))
	}
	for _, t := range v.Tables {
		out = append(out, onObject(security.PrivSelect, catalog.KindTable, t))
	}
	return out
}

// noteAdminRead records and checks that reading a system relation needs
// the admin role; a refusal says "permission denied for table <name>", as
// PostgreSQL's does.
func (s *Session) noteAdminRead(name string) error {
	n := need{priv: security.PrivAdmin, obj: security.Object{Kind: security.KindCluster, Name: "reading " + name},
		deniedFor: &security.Object{Kind: catalog.KindTable, Name: name}}
	s.reads = append(s.reads, n)
	return s.authorize([]need{n})
}

// noteViewSources records that creating v needs SELECT on what it reads.
func (s *Session) noteViewSources(v *catalog.View) error {
	for _, n := range viewReads(v) {
		if err := s.noteRead(n.obj.Kind, n.obj.Name); err != nil {
			return err
		}
	}
	return nil
}

// maxViewChain bounds the transforms noteViewOwners follows.
const maxViewChain = 64

// noteViewOwners records and checks that reading view v needs its owner
// to still hold SELECT on what it reads, and so on down its chain of
// transforms: as in PostgreSQL a view reads with its owner's privileges,
// so a REVOKE from the owner takes effect on those who read the view.
func (s *Session) noteViewOwners(cat *catalog.Catalog, v *catalog.View) error {
	for range maxViewChain {
		owner, _ := cat.Owner(catalog.KindView, v.Name)
		for _, n := range viewReads(v) {
			n.as = owner
			s.reads = append(s.reads, n)
			if err := s.authorize([]need{n}); err != nil {
				return err
			}
		}
		if len(v.Over) == 0 {
			return nil
		}
		if v = cat.Views[v.Over[0]]; v == nil {
			return nil
		}
	}
	return nil
}

// prepare prepares a statement and makes its run check, each time, the
// privileges the statement needs.
func (s *Session) prepare(ctx context.Context, stmt parser.Statement, oids []uint32) (*prepared, error) {
	saved := s.reads
	s.reads = nil
	defer func() { s.reads = saved }()
	// Admin statements are refused before they are looked at: a
	// non-admin learns nothing from their errors (no such node, ...).
	pre := adminNeeds(stmt, s.currentUser())
	if err := s.authorize(pre); err != nil {
		return nil, err
	}
	p, err := s.prepareStmt(ctx, stmt, oids)
	if err != nil {
		return nil, err
	}
	// What the statement's kind needs is worked out again at each run:
	// an object that did not exist at prepare (DROP ... IF EXISTS, GRANT
	// on a stream made later by another role) needed nothing then.
	reads := s.reads
	needsNow := func() []need {
		return append(append(append([]need(nil), pre...), s.needsOf(stmt)...), reads...)
	}
	if err := s.authorize(needsNow()); err != nil {
		return nil, err
	}
	run := p.run
	p.run = func(ctx context.Context, params []types.Datum, w pgwire.ResultWriter) (string, error) {
		if err := s.authorize(needsNow()); err != nil {
			return "", err
		}
		return run(ctx, params, w)
	}
	return p, nil
}

// objectKind is the kind of the stream, view or table key ("" if none).
func objectKind(cat *catalog.Catalog, key string) string {
	return cat.Exists(key)
}

// schemaOf is the schema an object key lives in.
func schemaOf(key string) string {
	sc, _ := catalog.SplitName(key)
	return sc
}

func onObject(priv security.Privilege, kind, name string) need {
	return need{priv: priv, obj: security.Object{Kind: kind, Name: name}}
}

func adminNeed(what string) []need {
	return []need{{priv: security.PrivAdmin, obj: security.Object{Kind: security.KindCluster, Name: what}}}
}

// adminNeeds is what the admin statements need: the admin role. ALTER
// ROLE of oneself that only sets the password needs nothing.
func adminNeeds(stmt parser.Statement, user string) []need {
	if what := backupStmtName(stmt); what != "" { // backup.go
		return adminNeed(what)
	}
	switch st := stmt.(type) {
	case *parser.AlterSystemSet:
		return adminNeed("ALTER SYSTEM")
	case *parser.AlterNode:
		return adminNeed("ALTER NODE")
	case *parser.AlterShard:
		return adminNeed("ALTER SHARD")
	case *parser.Failover:
		return adminNeed("FAILOVER")
	case *parser.FailoverRegion:
		return adminNeed("FAILOVER REGION")
	case *parser.Rebalance:
		return adminNeed("REBALANCE")
	case *parser.CancelOperation:
		return adminNeed("CANCEL OPERATION")
	case *parser.CreateRole:
		return adminNeed("CREATE ROLE")
	case *parser.DropRole:
		return adminNeed("DROP ROLE")
	case *parser.GrantRole:
		if st.Revoke {
			return adminNeed("REVOKE")
		}
		return adminNeed("GRANT")
	case *parser.AlterRole:
		o := st.Opts
		if st.Name != user || st.RenameTo != "" || o.Login != nil || o.ValidUntil != nil {
			return adminNeed("ALTER ROLE")
		}
	}
	return nil
}

// needsOf is what stmt needs by its kind (names are qualified by now;
// objects that do not exist need nothing: the statement fails on its
// own, or skips them with IF EXISTS).
func (s *Session) needsOf(stmt parser.Statement) []need {
	cat := s.b.Catalog()
	var out []need
	onExisting := func(priv security.Privilege, key string) {
		if k := objectKind(cat, key); k != "" {
			out = append(out, onObject(priv, k, key))
		}
	}
	switch st := stmt.(type) {
	case *parser.Insert:
		onExisting(security.PrivInsert, st.Table)
		if oc := st.OnConflict; oc != nil && !oc.Nothing {
			onExisting(security.PrivUpdate, st.Table) // ON CONFLICT DO UPDATE, as in PostgreSQL
			// Reading the existing row (not EXCLUDED's) in its SET or
			// WHERE needs SELECT, as in PostgreSQL.
			reads := readsExisting(oc.Where)
			for _, c := range oc.Update {
				reads = reads || readsExisting(c.Expr)
			}
			if reads {
				onExisting(security.PrivSelect, st.Table)
			}
		}
	case *parser.Copy:
		onExisting(security.PrivInsert, st.Table)
	case *parser.Update:
		onExisting(security.PrivUpdate, st.Table)
		// Reading the table's values, in WHERE or in a SET expression
		// (SET a = 1/(b-42) tells b by its error), needs SELECT, as in
		// PostgreSQL.
		reads := st.Where != nil
		for _, c := range st.Set {
			reads = reads || readsColumns(c.Expr)
		}
		if reads {
			onExisting(security.PrivSelect, st.Table)
		}
	case *parser.Delete:
		onExisting(security.PrivDelete, st.Table)
		if st.Where != nil {
			onExisting(security.PrivSelect, st.Table)
		}
	case *parser.Truncate:
		for _, n := range st.Names {
			onExisting(security.PrivTruncate, n)
		}
	case *parser.CreateStream:
		out = append(out, onObject(security.PrivCreate, catalog.KindSchema, schemaOf(st.Name)))
	case *parser.CreateTable:
		out = append(out, onObject(security.PrivCreate, catalog.KindSchema, schemaOf(st.Name)))
	case *parser.CreateView:
		out = append(out, onObject(security.PrivCreate, catalog.KindSchema, schemaOf(st.Name)))
	case *parser.CreateSchema:
		out = append(out, onObject(security.PrivCreate, catalog.KindDatabase, catalog.DatabaseName))
	case *parser.Drop:
		for _, n := range st.Names {
			onExisting(security.PrivAdmin, n)
		}
	case *parser.DropSchema:
		for _, n := range st.Names {
			if _, ok := cat.Owner(catalog.KindSchema, n); ok {
				out = append(out, onObject(security.PrivAdmin, catalog.KindSchema, n))
			}
		}
	case *parser.AlterTable:
		onExisting(security.PrivAdmin, st.Name)
	case *parser.GrantPrivileges:
		kind := st.Kind
		for _, n := range st.Objects {
			k := kind
			if k == "" {
				k = objectKind(cat, n)
			}
			if _, ok := cat.Owner(k, n); ok {
				out = append(out, onObject(security.PrivAdmin, k, n))
			}
		}
	}
	return out
}

// readsColumns reports whether e may read a column of the row: false only
// for what is built of constants and parameters (literals, casts,
// operators and function calls over them, CASE); anything else, a
// subquery included, counts as reading.
func readsColumns(e parser.Expr) bool { return reads(e, false) }

// readsExisting is readsColumns for ON CONFLICT DO UPDATE: EXCLUDED's
// columns are the row being inserted, not the table's.
func readsExisting(e parser.Expr) bool { return reads(e, true) }

func reads(e parser.Expr, excludedFree bool) bool {
	some := func(es ...parser.Expr) bool {
		for _, x := range es {
			if x != nil && reads(x, excludedFree) {
				return true
			}
		}
		return false
	}
	switch x := e.(type) {
	case nil, *parser.Literal, *parser.Param, *parser.DefaultValue:
		return false
	case *parser.ColumnRef:
		return !excludedFree || !strings.EqualFold(x.Table, "excluded")
	case *parser.Unary:
		return some(x.X)
	case *parser.Binary:
		return some(x.L, x.R)
	case *parser.IsNull:
		return some(x.X)
	case *parser.IsBool:
		return some(x.X)
	case *parser.InList:
		return some(x.X) || some(x.List...)
	case *parser.Between:
		return some(x.X, x.Lo, x.Hi)
	case *parser.Cast:
		return some(x.X)
	case *parser.Func:
		return x.Star || x.Filter != nil || len(x.WithinGroup) > 0 || some(x.Args...)
	case *parser.Case:
		if some(x.Operand, x.Else) {
			return true
		}
		for _, w := range x.Whens {
			if some(w.Cond, w.Then) {
				return true
			}
		}
		return false
	}
	return true
}
