package systables

import (
	"github.com/cairndb/cairn/internal/catalog"
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

// fillRoles writes pg_roles, pg_user, or (authid) pg_authid.
func fillRoles(authid bool) func(p *PG, b *table) {
	return func(p *PG, b *table) {
		for _, r := range p.Cat.SortedRoles() {
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
