package security

import (
	"slices"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Catalog is what Authorize reads: *catalog.Catalog implements it. An
// interface, so that security does not import catalog: the front ends
// use security (SCRAM, TLS) and must not reach the catalog.
type Catalog interface {
	// IsAdmin: the superuser or a member (transitively) of admin.
	IsAdmin(user string) bool
	// RolesOf: user and the roles it is a member of (nil: no such role).
	RolesOf(user string) []string
	// Owner of an object (ok false: no such object).
	Owner(kind, name string) (owner string, ok bool)
	// Privileges granted directly to grantee on an object.
	Privileges(kind, name, grantee string) []string
}

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

// Object kinds Authorize knows (the catalog's, and cluster).
const (
	KindStream   = "stream"
	KindView     = "view"
	KindTable    = "table"
	KindSchema   = "schema"
	KindDatabase = "database"
	KindCluster  = "cluster"
)

// rolePublic is the pseudo-role every role is a member of.
const rolePublic = "public"

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
func Authorize(c Catalog, user string, priv Privilege, obj Object) error {
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
		for _, r := range append(roles, rolePublic) {
			if slices.Contains(c.Privileges(obj.Kind, obj.Name, r), string(priv)) {
				return nil
			}
		}
	}
	return pgerr.PermissionDenied.New(obj.Kind, obj.Name)
}
