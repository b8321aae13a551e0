package systables

import (
	"slices"
	"strings"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/types"
)

// Roles in pg_roles, pg_authid, pg_user and pg_auth_members, from the
// catalog's roles. pg_authid shows the stored SCRAM verifiers; the
// session lets only admins read it (as PostgreSQL lets only superusers),
// and the others show '********' for a role with a password.

// roleOIDOf is a role's OID: cairn is 10 (PostgreSQL's bootstrap
// superuser), admin a fixed OID, others 16384+4*ID like relations (IDs
// come from the same counter, so they never collide).
func roleOIDOf(r *catalog.Role) int64 {
	switch {
	case r.Name == catalog.RoleCairn:
		return roleOID
	case r.Name == catalog.RoleAdmin:
		return adminRoleOID
	}
	return relOID(r.ID)
}

// fillRoles writes pg_roles, (authid) pg_authid, or (users: the LOGIN
// roles only) pg_user.
func fillRoles(authid, users bool) func(p *PG, b *table) {
	return func(p *PG, b *table) {
		for _, r := range p.Cat.SortedRoles() {
			if users && !r.Login {
				continue
			}
			var pw, until any
			if r.Verifier != "" {
				pw = "********"
				if authid {
					pw = r.Verifier
				}
			}
			if !r.ValidUntil.IsZero() {
				until = r.ValidUntil.UnixMicro()
			}
			admin := p.Cat.IsAdmin(r.Name)
			b.addSome("oid", roleOIDOf(r), "rolname", r.Name, "rolsuper", r.Superuser, "rolinherit", true,
				"rolcreaterole", admin, "rolcreatedb", admin, "rolcanlogin", r.Login, "rolreplication", false,
				"rolconnlimit", -1, "rolpassword", pw, "rolbypassrls", r.Superuser,
				"usename", r.Name, "usesysid", roleOIDOf(r), "usecreatedb", admin, "usesuper", r.Superuser,
				"userepl", false, "usebypassrls", r.Superuser, "passwd", pw)
			if until != nil {
				b.setLast("rolvaliduntil", until)
				b.setLast("valuntil", until)
			}
		}
	}
}

// fillAuthMembers writes pg_auth_members: one row per direct membership.
func fillAuthMembers(p *PG, b *table) {
	for _, r := range p.Cat.SortedRoles() {
		for _, m := range r.MemberOf {
			if of := p.Cat.Role(m); of != nil {
				b.add("roleid", roleOIDOf(of), "member", roleOIDOf(r), "grantor", roleOID, "admin_option", false)
			}
		}
	}
}

// setLast sets a timestamptz column (unix microseconds) of the last row
// added, if the relation has it.
func (b *table) setLast(col string, micros any) {
	i, ok := b.idx[col]
	if !ok || len(b.t.Rows) == 0 {
		return
	}
	b.t.Rows[len(b.t.Rows)-1][i] = types.Datum{T: b.t.Cols[i].T, I: micros.(int64)}
}

// privLetters are the aclitem letters of the privileges (PostgreSQL's).
var privLetters = map[string]string{"SELECT": "r", "INSERT": "a", "UPDATE": "w", "DELETE": "d", "TRUNCATE": "D", "CREATE": "C"}

// acl is an object's ACL as pg_class.relacl and pg_namespace.nspacl show
// it: NULL while nothing was granted (the owner's default), else the
// owner's item and one per grantee ("=r/owner" for public).
func (p *PG) acl(kind, key string) any {
	g := p.Cat.Grants[catalog.GrantKey(kind, key)]
	if len(g) == 0 {
		return nil
	}
	owner, _ := p.Cat.Owner(kind, key)
	letters := func(privs []string) string {
		s := ""
		for _, pr := range privs {
			s += privLetters[pr]
		}
		return s
	}
	items := []string{owner + "=" + letters(catalog.KindPrivileges[kind]) + "/" + owner}
	for _, r := range p.Cat.SortedRoles() {
		if privs := g[r.Name]; len(privs) > 0 {
			items = append(items, r.Name+"="+letters(privs)+"/"+owner)
		}
	}
	if privs := g[catalog.RolePublic]; len(privs) > 0 {
		items = append(items, "="+letters(privs)+"/"+owner)
	}
	return items
}

// relObject is the catalog kind and key of a user relation ("" kind for
// pg_catalog's and information_schema's).
func (p *PG) relObject(r *rel) (kind, key string) {
	key = catalog.Qualify(r.schema, r.name)
	return p.Cat.Exists(key), key
}

// ownerOID is the OID of the owner of a catalog object.
func (p *PG) ownerOID(kind, key string) int64 {
	owner, ok := p.Cat.Owner(kind, key)
	if !ok {
		return roleOID
	}
	if r := p.Cat.Role(owner); r != nil {
		return roleOIDOf(r)
	}
	return roleOID
}

// HasPrivilege implements scalar.PrivilegeChecker.
func (p *PG) HasPrivilege(user string, userOID int64, userByOID bool, kind, name string, oid int64, byOID bool, privs string) (bool, bool, error) {
	if userByOID {
		n, ok := p.UserName(userOID)
		if !ok {
			return false, false, nil
		}
		user = n
	} else if user == "" {
		user = p.User
	} else if p.Cat.Role(user) == nil {
		return false, false, pgerr.RoleNotFound.New(user)
	}
	var objKind, key string
	system := false
	switch kind {
	case "table":
		p.load()
		var r *rel
		if byOID {
			r = p.byID[oid]
		} else if o, ok := p.RelationOID(name); ok {
			r = p.byID[o]
		} else {
			return false, false, pgerr.RelationNotFound.New(name)
		}
		if r == nil {
			return false, false, nil
		}
		if r.table != nil {
			r = r.table // an index: its table's privileges
		}
		objKind, key = p.relObject(r)
		system = objKind == ""
		if system && r.schema == "pg_catalog" && r.name == "pg_authid" {
			system, objKind, key = false, catalog.KindTable, "pg_authid" // admins only, as the session reads it
		}
	case "schema":
		if byOID {
			n, ok := p.NamespaceName(oid)
			if !ok {
				return false, false, nil
			}
			name = n
		} else if _, ok := p.nsOID(name); !ok {
			return false, false, pgerr.SchemaNotFound.New(name)
		}
		objKind, key = catalog.KindSchema, name
		system = name != "public" && !slices.Contains(p.Cat.SortedSchemas(), name)
	case "database":
		if byOID {
			if oid != databaseOID {
				return false, false, nil
			}
		} else if name != p.Database {
			return false, false, pgerr.DatabaseNotFound.New(name)
		}
		objKind, key = catalog.KindDatabase, catalog.DatabaseName
	}
	for _, pr := range strings.Split(privs, ",") {
		pr = strings.ToUpper(strings.TrimSpace(pr))
		grantOption := strings.HasSuffix(pr, " WITH GRANT OPTION")
		pr = strings.TrimSpace(strings.TrimSuffix(pr, " WITH GRANT OPTION"))
		held, err := p.holds(user, kind, objKind, key, system, pr, grantOption)
		if err != nil {
			return false, false, err
		}
		if held {
			return true, true, nil
		}
	}
	return false, true, nil
}

// privNames are the privilege names PostgreSQL accepts per kind of
// has_*_privilege; those Cairn does not keep are never held (USAGE and
// CONNECT: always, as every role may use schemas and connect).
var privNames = map[string][]string{
	"table":    {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "MAINTAIN"},
	"schema":   {"CREATE", "USAGE"},
	"database": {"CREATE", "CONNECT", "TEMPORARY", "TEMP"},
}

func (p *PG) holds(user, fkind, objKind, key string, system bool, pr string, grantOption bool) (bool, error) {
	if !slices.Contains(privNames[fkind], pr) {
		return false, pgerr.UnknownPrivilege.New(pr)
	}
	switch pr {
	case "USAGE", "CONNECT":
		return true, nil
	case "REFERENCES", "TRIGGER", "MAINTAIN", "TEMPORARY", "TEMP":
		return false, nil
	}
	if system {
		// pg_catalog and information_schema: readable by everyone,
		// changed by no one.
		return pr == "SELECT" && !grantOption, nil
	}
	priv := security.Privilege(pr)
	if grantOption {
		priv = security.PrivAdmin // only owners and admins grant
	}
	return security.Authorize(p.Cat, user, priv, security.Object{Kind: objKind, Name: key}) == nil, nil
}

// fillTablePrivileges writes information_schema.table_privileges (public
// true) or role_table_grants: per stream, table and view, its owner's
// privileges (grantable) and each grant. As in PostgreSQL, a user sees
// the rows whose grantor or grantee is one of its roles (an admin sees
// all); table_privileges also the grants to PUBLIC.
func fillTablePrivileges(public bool) func(p *PG, b *table) {
	return func(p *PG, b *table) {
		user := p.User
		admin := p.Cat.IsAdmin(user)
		mine := p.Cat.RolesOf(user)
		visible := func(grantor, grantee string) bool {
			return admin || slices.Contains(mine, grantor) || slices.Contains(mine, grantee) || public && grantee == catalog.RolePublic
		}
		add := func(kind, key string) {
			schema, name := catalog.SplitName(key)
			owner, _ := p.Cat.Owner(kind, key)
			row := func(grantee, priv string, grantable bool) {
				if !visible(owner, grantee) {
					return
				}
				shown, yes := grantee, "NO"
				if grantee == catalog.RolePublic {
					shown = "PUBLIC"
				}
				if grantable {
					yes = "YES"
				}
				hier := "NO"
				if priv == "SELECT" {
					hier = "YES"
				}
				b.add("grantor", owner, "grantee", shown, "table_catalog", p.Database, "table_schema", schema, "table_name", name,
					"privilege_type", priv, "is_grantable", yes, "with_hierarchy", hier)
			}
			for _, priv := range catalog.KindPrivileges[kind] {
				row(owner, priv, true)
			}
			g := p.Cat.Grants[catalog.GrantKey(kind, key)]
			for _, r := range p.Cat.SortedRoles() {
				for _, priv := range g[r.Name] {
					row(r.Name, priv, false)
				}
			}
			for _, priv := range g[catalog.RolePublic] {
				row(catalog.RolePublic, priv, false)
			}
		}
		for _, s := range p.Cat.SortedStreams() {
			add(catalog.KindStream, s.Name)
		}
		for _, t := range p.Cat.SortedTables() {
			add(catalog.KindTable, t.Name)
		}
		for _, v := range p.Cat.SortedViews() {
			add(catalog.KindView, v.Name)
		}
	}
}
