package catalog

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Roles, memberships, grants and owners. A role is a user when it may
// log in. Two roles are built in and always exist: cairn, the superuser
// (LOGIN, no password: it logs in by client certificate, or is trusted
// on a loopback connection to an insecure node), and admin (NOLOGIN),
// whose members may do everything an operator does. The pseudo-role
// public is not stored: every role is a member of it, and privileges
// granted to it are everyone's.
//
// Only SCRAM-SHA-256 verifiers are stored, never passwords.

// Built-in role names.
const (
	RoleCairn  = "cairn"
	RoleAdmin  = "admin"
	RolePublic = "public"
)

// Role is a role (a user when Login).
type Role struct {
	// ID is assigned at CREATE ROLE from NextID (0: a built-in); kept
	// across a rename (pg_roles.oid is built from it).
	ID    uint64 `json:"id,omitempty"`
	Name  string `json:"name"`
	Login bool   `json:"login,omitempty"`
	// Verifier is the SCRAM-SHA-256 verifier in PostgreSQL's stored form
	// ("": no password).
	Verifier string `json:"verifier,omitempty"`
	// MemberOf lists the roles this one was granted, directly, sorted.
	MemberOf []string `json:"member_of,omitempty"`
	// Superuser: only the built-in cairn.
	Superuser bool `json:"superuser,omitempty"`
	// ValidUntil is when the password stops being accepted (zero: never).
	ValidUntil time.Time `json:"valid_until,omitzero"`
}

// builtinRoles returns fresh copies of the built-in roles.
func builtinRoles() map[string]*Role {
	return map[string]*Role{
		RoleCairn: {Name: RoleCairn, Login: true, Superuser: true},
		RoleAdmin: {Name: RoleAdmin},
	}
}

// IsBuiltinRole reports whether name is cairn, admin or public.
func IsBuiltinRole(name string) bool {
	return name == RoleCairn || name == RoleAdmin || name == RolePublic
}

// Role returns the role called name, or nil. The built-ins are there
// even in a catalog made before roles existed.
func (c *Catalog) Role(name string) *Role {
	if r, ok := c.Roles[name]; ok {
		return r
	}
	return builtinRoles()[name]
}

// SortedRoles returns every role (the built-ins too) by name.
func (c *Catalog) SortedRoles() []*Role {
	m := builtinRoles()
	for n, r := range c.Roles {
		m[n] = r
	}
	rs := make([]*Role, 0, len(m))
	for _, r := range m {
		rs = append(rs, r)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name })
	return rs
}

// RolesOf returns name and every role it is a member of, directly or
// transitively, sorted; public is not included. Nil when name is no role.
func (c *Catalog) RolesOf(name string) []string {
	if c.Role(name) == nil {
		return nil
	}
	seen := map[string]bool{name: true}
	todo := []string{name}
	for len(todo) > 0 {
		r := c.Role(todo[0])
		todo = todo[1:]
		if r == nil {
			continue
		}
		for _, m := range r.MemberOf {
			if !seen[m] {
				seen[m] = true
				todo = append(todo, m)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// IsMemberOf reports whether user is role or a member of it, directly
// or transitively (everyone is a member of public).
func (c *Catalog) IsMemberOf(user, role string) bool {
	if role == RolePublic {
		return c.Role(user) != nil
	}
	return slices.Contains(c.RolesOf(user), role)
}

// IsSuperuser reports whether user is the superuser.
func (c *Catalog) IsSuperuser(user string) bool {
	r := c.Role(user)
	return r != nil && r.Superuser
}

// IsAdmin reports whether user may do admin things: the superuser, or a
// member of admin, directly or transitively.
func (c *Catalog) IsAdmin(user string) bool {
	return c.IsSuperuser(user) || c.IsMemberOf(user, RoleAdmin)
}

// Object kinds privileges are granted on.
const (
	KindStream   = "stream"
	KindView     = "view"
	KindTable    = "table"
	KindSchema   = "schema"
	KindDatabase = "database"
)

// DatabaseName is the one database.
const DatabaseName = "cairn"

// KindPrivileges lists, per object kind, the privileges it takes (in the
// order ALL expands to and SHOW GRANTS lists them).
var KindPrivileges = map[string][]string{
	KindStream:   {"SELECT", "INSERT"},
	KindView:     {"SELECT"},
	KindTable:    {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"},
	KindSchema:   {"CREATE"},
	KindDatabase: {"CREATE"},
}

// GrantKey is the key of an object in Catalog.Grants: "kind:name".
func GrantKey(kind, name string) string { return kind + ":" + name }

// SplitGrantKey splits a GrantKey.
func SplitGrantKey(key string) (kind, name string) {
	kind, name, _ = strings.Cut(key, ":")
	return kind, name
}

// Privileges returns the privileges granted directly to grantee on the
// object (sorted in KindPrivileges order).
func (c *Catalog) Privileges(kind, name, grantee string) []string {
	return c.Grants[GrantKey(kind, name)][grantee]
}

// Owner returns the owner of an object: a stream, view, table or schema
// ("" for one made before owners were recorded: cairn owns it). ok is
// false when there is no such object.
func (c *Catalog) Owner(kind, name string) (owner string, ok bool) {
	switch kind {
	case KindStream:
		if s := c.Streams[name]; s != nil {
			return ownerOr(s.Owner), true
		}
	case KindView:
		if v := c.Views[name]; v != nil {
			return ownerOr(v.Owner), true
		}
	case KindTable:
		if t := c.Tables[name]; t != nil {
			return ownerOr(t.Owner), true
		}
	case KindSchema:
		if name == "public" {
			return RoleCairn, true
		}
		if _, ok := c.Schemas[name]; ok {
			return ownerOr(c.SchemaOwners[name]), true
		}
	case KindDatabase:
		if name == DatabaseName {
			return RoleCairn, true
		}
	}
	return "", false
}

func ownerOr(o string) string {
	if o == "" {
		return RoleCairn
	}
	return o
}

// Owned returns the objects role owns, as "kind name", sorted.
func (c *Catalog) Owned(role string) []string {
	var out []string
	for _, s := range c.Streams {
		if ownerOr(s.Owner) == role {
			out = append(out, "stream "+s.Name)
		}
	}
	for _, v := range c.Views {
		if ownerOr(v.Owner) == role {
			out = append(out, "view "+v.Name)
		}
	}
	for _, t := range c.Tables {
		if ownerOr(t.Owner) == role {
			out = append(out, "table "+t.Name)
		}
	}
	for s := range c.Schemas {
		if ownerOr(c.SchemaOwners[s]) == role {
			out = append(out, "schema "+s)
		}
	}
	sort.Strings(out)
	return out
}

// The role and grant commands.
type (
	// CreateRole creates a role.
	CreateRole struct {
		Role *Role
	}
	// AlterRole changes a role: each non-nil field is set; RenameTo, if
	// set, renames it (memberships, grants and owners follow).
	AlterRole struct {
		Name       string
		Login      *bool
		Verifier   *string // "" clears the password
		ValidUntil *time.Time
		RenameTo   string
	}
	// DropRoles drops roles. Refused while a role owns objects; its
	// grants and memberships go with it.
	DropRoles struct {
		Names    []string
		IfExists bool
	}
	// GrantRole makes each of To a member of each of Roles.
	GrantRole struct {
		Roles []string
		To    []string
	}
	// RevokeRole ends the memberships GrantRole made.
	RevokeRole struct {
		Roles []string
		From  []string
	}
	// Grant grants privileges on objects of one kind to roles (public
	// included). Privs are names from KindPrivileges[Kind].
	Grant struct {
		Kind    string
		Objects []string
		Privs   []string
		To      []string
	}
	// Revoke takes privileges granted by Grant back.
	Revoke struct {
		Kind    string
		Objects []string
		Privs   []string
		From    []string
	}
)

// authzBody is the envelope body of the role and grant commands.
type authzBody struct {
	Role       *Role      `json:"role,omitempty"`
	Name       string     `json:"name,omitempty"`
	Names      []string   `json:"names,omitempty"`
	Grantees   []string   `json:"grantees,omitempty"`
	Kind       string     `json:"kind,omitempty"`
	Privs      []string   `json:"privs,omitempty"`
	Login      *bool      `json:"login,omitempty"`
	Verifier   *string    `json:"verifier,omitempty"`
	ValidUntil *time.Time `json:"valid_until,omitempty"`
	RenameTo   string     `json:"rename_to,omitempty"`
	IfExists   bool       `json:"if_exists,omitempty"`
}

const (
	opCreateRole = "create_role"
	opAlterRole  = "alter_role"
	opDropRole   = "drop_role"
	opGrantRole  = "grant_role"
	opRevokeRole = "revoke_role"
	opGrant      = "grant"
	opRevoke     = "revoke"
)

func (c *CreateRole) envelope() *envelope {
	return &envelope{Op: opCreateRole, Authz: &authzBody{Role: c.Role}}
}

func (c *AlterRole) envelope() *envelope {
	return &envelope{Op: opAlterRole, Authz: &authzBody{Name: c.Name, Login: c.Login, Verifier: c.Verifier, ValidUntil: c.ValidUntil, RenameTo: c.RenameTo}}
}

func (c *DropRoles) envelope() *envelope {
	return &envelope{Op: opDropRole, Authz: &authzBody{Names: c.Names, IfExists: c.IfExists}}
}

func (c *GrantRole) envelope() *envelope {
	return &envelope{Op: opGrantRole, Authz: &authzBody{Names: c.Roles, Grantees: c.To}}
}

func (c *RevokeRole) envelope() *envelope {
	return &envelope{Op: opRevokeRole, Authz: &authzBody{Names: c.Roles, Grantees: c.From}}
}

func (c *Grant) envelope() *envelope {
	return &envelope{Op: opGrant, Authz: &authzBody{Kind: c.Kind, Names: c.Objects, Privs: c.Privs, Grantees: c.To}}
}

func (c *Revoke) envelope() *envelope {
	return &envelope{Op: opRevoke, Authz: &authzBody{Kind: c.Kind, Names: c.Objects, Privs: c.Privs, Grantees: c.From}}
}

// authzCommand decodes the role and grant commands; ok is false for
// other tags.
func (e *envelope) authzCommand() (Command, bool, *pgerr.Error) {
	switch e.Op {
	case opCreateRole, opAlterRole, opDropRole, opGrantRole, opRevokeRole, opGrant, opRevoke:
	default:
		return nil, false, nil
	}
	b := e.Authz
	if b == nil {
		return nil, true, pgerr.CatalogIncomplete.New(e.Op, "authz")
	}
	switch e.Op {
	case opCreateRole:
		if b.Role == nil {
			return nil, true, pgerr.CatalogIncomplete.New(e.Op, "role")
		}
		return &CreateRole{Role: b.Role}, true, nil
	case opAlterRole:
		return &AlterRole{Name: b.Name, Login: b.Login, Verifier: b.Verifier, ValidUntil: b.ValidUntil, RenameTo: b.RenameTo}, true, nil
	case opDropRole:
		return &DropRoles{Names: b.Names, IfExists: b.IfExists}, true, nil
	case opGrantRole:
		return &GrantRole{Roles: b.Names, To: b.Grantees}, true, nil
	case opRevokeRole:
		return &RevokeRole{Roles: b.Names, From: b.Grantees}, true, nil
	case opGrant:
		return &Grant{Kind: b.Kind, Objects: b.Names, Privs: b.Privs, To: b.Grantees}, true, nil
	default: // opRevoke
		return &Revoke{Kind: b.Kind, Objects: b.Names, Privs: b.Privs, From: b.Grantees}, true, nil
	}
}

// ensureRoles makes the built-in roles present in c.Roles (a catalog
// from before roles has none) before a role command changes the map.
func (c *Catalog) ensureRoles() {
	if c.Roles == nil {
		c.Roles = map[string]*Role{}
	}
	for n, r := range builtinRoles() {
		if _, ok := c.Roles[n]; !ok {
			c.Roles[n] = r
		}
	}
}

// NodeCertName is the common name of every node certificate
// (security.NodeCN): no role may have it, so a node's certificate, which
// pgwire and the HTTP API also verify, never logs in as a user.
const NodeCertName = "node"

// checkRoleName refuses names no role may have.
func checkRoleName(name string) *pgerr.Error {
	switch {
	case name == "":
		return pgerr.RoleNameEmpty.New()
	case name == RolePublic || name == "none" || name == NodeCertName || strings.HasPrefix(name, "pg_"):
		return pgerr.RoleNameReserved.New(name)
	}
	return nil
}

func (cmd *CreateRole) apply(c *Catalog) *Result {
	r := cmd.Role
	if err := checkRoleName(r.Name); err != nil {
		return &Result{Err: err}
	}
	if c.Role(r.Name) != nil {
		return &Result{Err: pgerr.RoleExists.New(r.Name)}
	}
	c.ensureRoles()
	nr := *r
	nr.Superuser = false
	nr.MemberOf = nil
	nr.ID = c.NextID
	c.NextID++
	for _, m := range r.MemberOf {
		if c.Role(m) == nil {
			return &Result{Err: pgerr.RoleNotFound.New(m)}
		}
		nr.MemberOf = addSorted(nr.MemberOf, m)
	}
	c.Roles[r.Name] = &nr
	return &Result{}
}

func (cmd *AlterRole) apply(c *Catalog) *Result {
	old := c.Role(cmd.Name)
	if old == nil {
		return &Result{Err: pgerr.RoleNotFound.New(cmd.Name)}
	}
	c.ensureRoles()
	r := *old
	if cmd.Login != nil {
		if r.Superuser && !*cmd.Login {
			return &Result{Err: pgerr.RoleBuiltin.New(cmd.Name, "NOLOGIN")}
		}
		r.Login = *cmd.Login
	}
	if cmd.Verifier != nil {
		r.Verifier = *cmd.Verifier
	}
	if cmd.ValidUntil != nil {
		r.ValidUntil = *cmd.ValidUntil
	}
	c.Roles[cmd.Name] = &r
	if cmd.RenameTo == "" || cmd.RenameTo == cmd.Name {
		return &Result{}
	}
	if IsBuiltinRole(cmd.Name) {
		return &Result{Err: pgerr.RoleBuiltin.New(cmd.Name, "RENAME")}
	}
	to := cmd.RenameTo
	if err := checkRoleName(to); err != nil {
		return &Result{Err: err}
	}
	if c.Role(to) != nil {
		return &Result{Err: pgerr.RoleExists.New(to)}
	}
	delete(c.Roles, cmd.Name)
	r.Name = to
	// A renamed role keeps its password verifier: SCRAM verifiers do
	// not depend on the user name (PostgreSQL clears only MD5 ones).
	c.Roles[to] = &r
	for _, o := range c.Roles {
		if i := slices.Index(o.MemberOf, cmd.Name); i >= 0 {
			o.MemberOf = addSorted(slices.Delete(slices.Clone(o.MemberOf), i, i+1), to)
		}
	}
	for _, g := range c.Grants {
		if p, ok := g[cmd.Name]; ok {
			delete(g, cmd.Name)
			g[to] = p
		}
	}
	c.renameOwner(cmd.Name, to)
	return &Result{}
}

func (c *Catalog) renameOwner(from, to string) {
	for _, s := range c.Streams {
		if s.Owner == from {
			s.Owner = to
		}
	}
	for _, v := range c.Views {
		if v.Owner == from {
			v.Owner = to
		}
	}
	for _, t := range c.Tables {
		if t.Owner == from {
			t.Owner = to
		}
	}
	for s, o := range c.SchemaOwners {
		if o == from {
			c.SchemaOwners[s] = to
		}
	}
}

func (cmd *DropRoles) apply(c *Catalog) *Result {
	res := &Result{}
	c.ensureRoles()
	for _, name := range cmd.Names {
		if IsBuiltinRole(name) {
			return &Result{Err: pgerr.RoleBuiltin.New(name, "DROP")}
		}
		if c.Role(name) == nil {
			if cmd.IfExists {
				res.Notice = fmt.Sprintf("role %q does not exist, skipping", name)
				continue
			}
			return &Result{Err: pgerr.RoleNotFound.New(name)}
		}
		if owned := c.Owned(name); len(owned) > 0 {
			return &Result{Err: pgerr.RoleOwnsObjects.New(name, strings.Join(owned, ", "))}
		}
		delete(c.Roles, name)
		for _, o := range c.Roles {
			if i := slices.Index(o.MemberOf, name); i >= 0 {
				o.MemberOf = slices.Delete(slices.Clone(o.MemberOf), i, i+1)
			}
		}
		for k, g := range c.Grants {
			delete(g, name)
			if len(g) == 0 {
				delete(c.Grants, k)
			}
		}
	}
	return res
}

func (cmd *GrantRole) apply(c *Catalog) *Result {
	c.ensureRoles()
	for _, role := range cmd.Roles {
		if role == RolePublic || c.Role(role) == nil {
			return &Result{Err: pgerr.RoleNotFound.New(role)}
		}
		for _, to := range cmd.To {
			m := c.Role(to)
			if m == nil {
				return &Result{Err: pgerr.RoleNotFound.New(to)}
			}
			// A cycle: role is to, or already a member of to.
			if c.IsMemberOf(role, to) {
				return &Result{Err: pgerr.RoleMembershipCycle.New(role, to)}
			}
			nm := *m
			nm.MemberOf = addSorted(slices.Clone(m.MemberOf), role)
			c.Roles[to] = &nm
		}
	}
	return &Result{}
}

func (cmd *RevokeRole) apply(c *Catalog) *Result {
	c.ensureRoles()
	res := &Result{}
	for _, role := range cmd.Roles {
		if c.Role(role) == nil {
			return &Result{Err: pgerr.RoleNotFound.New(role)}
		}
		for _, from := range cmd.From {
			m := c.Role(from)
			if m == nil {
				return &Result{Err: pgerr.RoleNotFound.New(from)}
			}
			i := slices.Index(m.MemberOf, role)
			if i < 0 {
				res.Notice = fmt.Sprintf("role %q is not a member of role %q", from, role)
				continue
			}
			nm := *m
			nm.MemberOf = slices.Delete(slices.Clone(m.MemberOf), i, i+1)
			c.Roles[from] = &nm
		}
	}
	return res
}

// checkGrant validates the objects, privileges and grantees of a Grant or
// Revoke.
func (c *Catalog) checkGrant(kind string, objects, privs, grantees []string) *pgerr.Error {
	valid, ok := KindPrivileges[kind]
	if !ok {
		return pgerr.GrantKindUnknown.New(kind)
	}
	for _, p := range privs {
		if !slices.Contains(valid, p) {
			return pgerr.GrantInvalidPrivilege.New(p, kind)
		}
	}
	for _, o := range objects {
		if _, ok := c.Owner(kind, o); !ok {
			if kind == KindSchema {
				return pgerr.SchemaNotFound.New(o)
			}
			if kind == KindDatabase {
				return pgerr.DatabaseNotFound.New(o)
			}
			return pgerr.ObjectNotFound.New(kind, o)
		}
	}
	for _, g := range grantees {
		if g != RolePublic && c.Role(g) == nil {
			return pgerr.RoleNotFound.New(g)
		}
	}
	return nil
}

func (cmd *Grant) apply(c *Catalog) *Result {
	if err := c.checkGrant(cmd.Kind, cmd.Objects, cmd.Privs, cmd.To); err != nil {
		return &Result{Err: err}
	}
	if c.Grants == nil {
		c.Grants = map[string]map[string][]string{}
	}
	order := KindPrivileges[cmd.Kind]
	for _, o := range cmd.Objects {
		k := GrantKey(cmd.Kind, o)
		g := c.Grants[k]
		if g == nil {
			g = map[string][]string{}
			c.Grants[k] = g
		}
		for _, to := range cmd.To {
			var out []string
			for _, p := range order {
				if slices.Contains(g[to], p) || slices.Contains(cmd.Privs, p) {
					out = append(out, p)
				}
			}
			g[to] = out
		}
	}
	return &Result{}
}

func (cmd *Revoke) apply(c *Catalog) *Result {
	if err := c.checkGrant(cmd.Kind, cmd.Objects, cmd.Privs, cmd.From); err != nil {
		return &Result{Err: err}
	}
	for _, o := range cmd.Objects {
		k := GrantKey(cmd.Kind, o)
		g := c.Grants[k]
		for _, from := range cmd.From {
			var out []string
			for _, p := range g[from] {
				if !slices.Contains(cmd.Privs, p) {
					out = append(out, p)
				}
			}
			if len(out) == 0 {
				delete(g, from)
			} else {
				g[from] = out
			}
		}
		if len(g) == 0 {
			delete(c.Grants, k)
		}
	}
	return &Result{}
}

// pruneGrants drops the grants on objects that no longer exist (run after
// every command: a dropped object takes its grants with it).
func (c *Catalog) pruneGrants() {
	for k := range c.Grants {
		kind, name := SplitGrantKey(k)
		if _, ok := c.Owner(kind, name); !ok {
			delete(c.Grants, k)
		}
	}
}

// addSorted adds s to the sorted list l, once.
func addSorted(l []string, s string) []string {
	i, found := slices.BinarySearch(l, s)
	if found {
		return l
	}
	return slices.Insert(l, i, s)
}
