package security

import (
	"slices"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
)

// Privilege is what a statement needs on an object. The names are SQL's
// (and those catalog.KindPrivileges stores).
type Privilege string

// The privileges. PrivAdmin is not grantable: on an object it means
// "owner or admin" (DROP, ALTER, GRANT on it); on Kind "cluster" it is
// the admin check (ALTER SYSTEM, ALTER NODE, roles, ...).
const (
	PrivSelect   Privilege = "SELECT"
	PrivInsert   Privilege = "INSERT"
	PrivUpdate   Privilege = "UPDATE"
	PrivDelete   Privilege = "DELETE"
	PrivTruncate Privilege = "TRUNCATE"
	PrivCreate   Privilege = "CREATE"
	PrivAdmin    Privilege = "ADMIN"
)

// Object kinds Authorize knows.
const (
	KindStream   = catalog.KindStream
	KindView     = catalog.KindView
	KindTable    = catalog.KindTable
	KindSchema   = catalog.KindSchema
	KindDatabase = catalog.KindDatabase
	KindCluster  = "cluster"
)

// Object is what a privilege is needed on: Kind is one of the Kind
// constants; Name is the object's catalog key (schema-qualified unless
// in public), or, for Kind "cluster", what is being done ("ALTER NODE"),
// for the error message.
type Object struct {
	Kind string
	Name string
}

// Authorize returns nil when user may use priv on obj in catalog c, or a
// 42501 error saying what was denied. The rules, in order: the superuser
// (cairn) and members of admin may do everything; the owner of an object
// has every privilege on it; PrivAdmin needs one of those; otherwise
// the privilege must be granted on the object to user, to a role user
// is a member of (transitively), or to public. A user that is no role
// (dropped while connected) may do nothing.
func Authorize(c *catalog.Catalog, user string, priv Privilege, obj Object) error {
	if c.IsAdmin(user) {
		return nil
	}
	if obj.Kind == KindCluster {
		return pgerr.PermissionDeniedAdmin.New(obj.Name, user)
	}
	roles := c.RolesOf(user)
	if roles == nil {
		return pgerr.PermissionDenied.New(obj.Kind, obj.Name)
	}
	owner, exists := c.Owner(obj.Kind, obj.Name)
	if exists && owner == user {
		return nil
	}
	if priv == PrivAdmin {
		return pgerr.MustBeOwner.New(obj.Kind, obj.Name)
	}
	if exists {
		for _, r := range append(roles, catalog.RolePublic) {
			if slices.Contains(c.Privileges(obj.Kind, obj.Name, r), string(priv)) {
				return nil
			}
		}
	}
	return pgerr.PermissionDenied.New(obj.Kind, obj.Name)
}

// Privileges returns the privileges user holds on obj: every privilege
// of the kind when admin or owner, else the union of those granted to
// user, its roles and public (for SHOW GRANTS and has_*_privilege).
func Privileges(c *catalog.Catalog, user string, obj Object) []Privilege {
	var out []Privilege
	for _, p := range catalog.KindPrivileges[obj.Kind] {
		if Authorize(c, user, Privilege(p), obj) == nil {
			out = append(out, Privilege(p))
		}
	}
	return out
}
