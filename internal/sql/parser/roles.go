package parser

import (
	"strings"
)

// Roles and privileges: CREATE/ALTER/DROP ROLE (and USER), GRANT and
// REVOKE of roles and of privileges, SHOW GRANTS/ROLES/USERS. Options
// PostgreSQL has and Cairn does not implement are refused with 0A000,
// never accepted and ignored. A password is kept in the AST as given:
// Format prints it (the round trip needs it); whatever logs, audits or
// echoes statement text masks it with Redact (redact.go).

// RoleOptions are the options of CREATE ROLE and ALTER ROLE; a nil field
// was not given.
type RoleOptions struct {
	Login        *bool
	Password     *string // the password or verifier text as given
	PasswordNull bool    // PASSWORD NULL: no password
	ValidUntil   *string // the timestamp text ('infinity' included)
	InRole       []string
}

// CreateRole is `CREATE ROLE|USER name [[WITH] option ...]`; User: the
// statement said USER (LOGIN unless NOLOGIN, as in PostgreSQL).
type CreateRole struct {
	P    int
	Name string
	User bool
	Opts RoleOptions
}

// AlterRole is `ALTER ROLE|USER name [WITH] option ...` or `... RENAME TO
// new`.
type AlterRole struct {
	P        int
	Name     string
	User     bool
	Opts     RoleOptions
	RenameTo string
}

// DropRole is `DROP ROLE|USER [IF EXISTS] name [, ...]`.
type DropRole struct {
	P        int
	Names    []string
	User     bool
	IfExists bool
}

// GrantRole is `GRANT role [, ...] TO grantee [, ...]`, or with Revoke
// `REVOKE role [, ...] FROM grantee [, ...]`. Grantees may hold
// "current_user" or "session_user" (the words, resolved by the session).
type GrantRole struct {
	P        int
	Revoke   bool
	Roles    []string
	Grantees []string
}

// GrantPrivileges is `GRANT privilege [, ...] ON [kind] object [, ...] TO
// grantee [, ...]`, or with Revoke `REVOKE ... FROM ...`. Privs are upper
// case; nil means ALL [PRIVILEGES]. Kind is "stream", "view", "table",
// "schema", "database" or "" (not said: the session looks the names up).
// Grantees may hold "public".
type GrantPrivileges struct {
	P        int
	Revoke   bool
	Privs    []string
	Kind     string
	Objects  []string
	Grantees []string
}

// ShowGrants is `SHOW GRANTS [ON [kind] object [, ...]] [FOR role [, ...]]`.
type ShowGrants struct {
	P    int
	Kind string
	On   []string
	For  []string
}

// ShowRoles is `SHOW ROLES` or, with Users, `SHOW USERS` (LOGIN roles).
type ShowRoles struct {
	P     int
	Users bool
}

func (*CreateRole) stmt()      {}
func (*AlterRole) stmt()       {}
func (*DropRole) stmt()        {}
func (*GrantRole) stmt()       {}
func (*GrantPrivileges) stmt() {}
func (*ShowGrants) stmt()      {}
func (*ShowRoles) stmt()       {}

// privilegeWords are the privileges GRANT may name (Cairn's and the ones
// PostgreSQL has that Cairn refuses).
var privilegeWords = setOf("select", "insert", "update", "delete", "truncate", "create", "all",
	"usage", "references", "trigger", "connect", "temporary", "temp", "execute", "maintain")

// cairnPrivileges are the privileges Cairn grants.
var cairnPrivileges = setOf("select", "insert", "update", "delete", "truncate", "create")

// parseRoleStatement parses the role and privilege statements; ok is
// false when the statement is none of them.
func (p *parser) parseRoleStatement() (Statement, bool, error) {
	t := p.peek()
	switch {
	case p.isKws("create", "role"), p.isKws("create", "user"):
		s, err := p.parseCreateRole()
		return s, true, err
	case p.isKws("alter", "role"), p.isKws("alter", "user"):
		s, err := p.parseAlterRole()
		return s, true, err
	case p.isKws("drop", "role"), p.isKws("drop", "user"):
		s, err := p.parseDropRole()
		return s, true, err
	case p.isKw("grant"), p.isKw("revoke"):
		s, err := p.parseGrant()
		return s, true, err
	case p.isKws("show", "grants"):
		s, err := p.parseShowGrants()
		return s, true, err
	case p.isKws("show", "roles"), p.isKws("show", "users"):
		p.i++
		users := p.next().val == "users"
		return &ShowRoles{P: t.pos, Users: users}, true, nil
	case p.isKws("set", "role"), p.isKws("set", "session", "role"), p.isKws("set", "local", "role"),
		p.isKws("reset", "role"):
		return nil, true, p.unsupported(t, "SET ROLE is not supported").withHint("A session acts as the user it logged in as; its roles' privileges apply to it without SET ROLE.")
	case p.isKws("set", "session", "authorization"), p.isKws("set", "local", "session", "authorization"),
		p.isKws("reset", "session", "authorization"):
		return nil, true, p.unsupported(t, "SET SESSION AUTHORIZATION is not supported").withHint("Log in as that user instead.")
	}
	return nil, false, nil
}

// roleName parses a role name. PUBLIC and NONE are reserved for roles;
// the catalog refuses them when creating one.
func (p *parser) roleName() (string, error) {
	t := p.peek()
	n, err := p.name()
	if err != nil {
		if t.kind == tIdent && (t.val == "current_user" || t.val == "session_user" || t.val == "current_role") {
			return "", p.unsupported(t, "%s is not supported here; name the role", strings.ToUpper(t.val))
		}
		return "", err
	}
	return n, nil
}

func (p *parser) roleNameList() ([]string, error) {
	var out []string
	for {
		n, err := p.roleName()
		if err != nil {
			return nil, err
		}
		out = append(out, n)
		if !p.acceptOp(",") {
			return out, nil
		}
	}
}

// grantees parses `grantee [, ...]`: role names, PUBLIC, CURRENT_USER,
// SESSION_USER (and GROUP name, as PostgreSQL).
func (p *parser) grantees() ([]string, error) {
	var out []string
	for {
		p.acceptKw("group")
		t := p.peek()
		switch {
		case t.kind == tIdent && (t.val == "current_user" || t.val == "session_user" || t.val == "current_role"):
			p.i++
			w := t.val
			if w == "current_role" {
				w = "current_user"
			}
			out = append(out, w)
		case t.kind == tIdent && t.val == "public":
			p.i++
			out = append(out, "public")
		default:
			n, err := p.roleName()
			if err != nil {
				return nil, err
			}
			out = append(out, n)
		}
		if !p.acceptOp(",") {
			return out, nil
		}
	}
}

func (p *parser) parseCreateRole() (Statement, error) {
	start := p.next()
	user := p.next().val == "user"
	if p.isKws("if", "not", "exists") {
		return nil, p.unsupported(p.peek(), "CREATE ROLE IF NOT EXISTS is not supported").withHint("PostgreSQL has no IF NOT EXISTS here either; look in pg_roles first.")
	}
	n, err := p.roleName()
	if err != nil {
		return nil, err
	}
	cr := &CreateRole{P: start.pos, Name: n, User: user}
	if err := p.roleOptions(&cr.Opts, true); err != nil {
		return nil, err
	}
	return cr, nil
}

func (p *parser) parseAlterRole() (Statement, error) {
	start := p.next()
	user := p.next().val == "user"
	t := p.peek()
	if isKwTok(t, "all") {
		return nil, p.unsupported(t, "ALTER ROLE ALL is not supported")
	}
	n, err := p.roleName()
	if err != nil {
		return nil, err
	}
	ar := &AlterRole{P: start.pos, Name: n, User: user}
	if p.acceptKw("rename") {
		if err := p.expectKw("to"); err != nil {
			return nil, err
		}
		if ar.RenameTo, err = p.roleName(); err != nil {
			return nil, err
		}
		return ar, nil
	}
	if t := p.peek(); isKwTok(t, "set") || isKwTok(t, "reset") || isKwTok(t, "in") {
		return nil, p.unsupported(t, "ALTER ROLE ... %s is not supported", strings.ToUpper(t.val)).withHint("Per-role settings are not kept; set them in the session.")
	}
	if err := p.roleOptions(&ar.Opts, false); err != nil {
		return nil, err
	}
	if o := ar.Opts; o.Login == nil && o.Password == nil && !o.PasswordNull && o.ValidUntil == nil {
		return nil, p.syntaxErr(p.peek())
	}
	return ar, nil
}

// roleOptions parses `[WITH] option ...` into o. Options matching what
// every Cairn role is (NOSUPERUSER, INHERIT, ...) are accepted; options
// asking for something Cairn does not do are refused.
func (p *parser) roleOptions(o *RoleOptions, create bool) error {
	p.acceptKw("with")
	seen := map[string]bool{}
	once := func(t token, key string) error {
		if seen[key] {
			return &Error{Pos: t.pos + p.base, Code: "42601", Msg: "conflicting or redundant options"}
		}
		seen[key] = true
		return nil
	}
	for {
		t := p.peek()
		if t.kind != tIdent {
			if t.kind == tEOF || isOpTok(t, ";") {
				return nil
			}
			return p.syntaxErr(t)
		}
		var err error
		switch t.val {
		case "login", "nologin":
			p.i++
			if err = once(t, "login"); err != nil {
				return err
			}
			v := t.val == "login"
			o.Login = &v
		case "password", "encrypted":
			p.i++
			if t.val == "encrypted" {
				if err := p.expectKw("password"); err != nil {
					return err
				}
			}
			if err = once(t, "password"); err != nil {
				return err
			}
			if p.acceptKw("null") {
				o.PasswordNull = true
				continue
			}
			if o.Password, err = p.stringLit(); err != nil {
				return err
			}
		case "unencrypted":
			return p.unsupported(t, "UNENCRYPTED PASSWORD is no longer supported").withHint("Remove UNENCRYPTED to store the password as a SCRAM-SHA-256 verifier.")
		case "valid":
			p.i++
			if err := p.expectKw("until"); err != nil {
				return err
			}
			if err = once(t, "valid"); err != nil {
				return err
			}
			if o.ValidUntil, err = p.stringLit(); err != nil {
				return err
			}
		case "in":
			if !create {
				return p.unsupported(t, "ALTER ROLE ... IN ROLE is not supported").withHint("Use GRANT role TO name.")
			}
			p.i++
			if !p.acceptKw("role") && !p.acceptKw("group") {
				return p.syntaxErr(p.peek())
			}
			if err = once(t, "in"); err != nil {
				return err
			}
			if o.InRole, err = p.roleNameList(); err != nil {
				return err
			}
		case "nosuperuser", "nocreatedb", "nocreaterole", "noreplication", "nobypassrls", "inherit":
			// What every Cairn role is: accepted, as it changes nothing
			// it claims to.
			p.i++
			if err = once(t, t.val); err != nil {
				return err
			}
		case "superuser", "createdb", "createrole", "replication", "bypassrls", "noinherit":
			return p.unsupported(t, "role option %s is not supported", strings.ToUpper(t.val)).
				withHint("Cairn's only superuser is cairn; make a role an admin with GRANT admin TO name.")
		case "connection", "role", "admin", "user", "sysid":
			return p.unsupported(t, "role option %s is not supported", strings.ToUpper(t.val)).
				withHint("Manage memberships with GRANT role TO name.")
		default:
			return p.syntaxErr(t)
		}
	}
}

func (p *parser) parseDropRole() (Statement, error) {
	start := p.next()
	user := p.next().val == "user"
	d := &DropRole{P: start.pos, User: user, IfExists: p.acceptKws("if", "exists")}
	var err error
	if d.Names, err = p.roleNameList(); err != nil {
		return nil, err
	}
	return d, nil
}

// parseGrant parses GRANT and REVOKE, of privileges (an ON comes before
// TO/FROM) or of roles.
func (p *parser) parseGrant() (Statement, error) {
	start := p.next()
	revoke := start.val == "revoke"
	if revoke {
		if p.isKws("grant", "option", "for") || p.isKws("admin", "option", "for") || p.isKws("inherit", "option", "for") || p.isKws("set", "option", "for") {
			return nil, p.unsupported(p.peek(), "REVOKE %s OPTION FOR is not supported", strings.ToUpper(p.peek().val))
		}
	}
	// Privileges when ON comes before TO/FROM at the top level.
	privs := false
	for k := 0; ; k++ {
		t := p.peekN(k)
		if t.kind == tEOF || isOpTok(t, ";") || isKwTok(t, "to") || isKwTok(t, "from") {
			break
		}
		if isKwTok(t, "on") {
			privs = true
			break
		}
	}
	if privs {
		return p.parseGrantPrivileges(start, revoke)
	}
	g := &GrantRole{P: start.pos, Revoke: revoke}
	var err error
	if g.Roles, err = p.roleNameList(); err != nil {
		return nil, err
	}
	if g.Grantees, err = p.granteesAfter(revoke); err != nil {
		return nil, err
	}
	return g, p.grantTail(revoke, "ADMIN")
}

// granteesAfter parses `TO grantee, ...` (GRANT) or `FROM grantee, ...`
// (REVOKE).
func (p *parser) granteesAfter(revoke bool) ([]string, error) {
	kw := "to"
	if revoke {
		kw = "from"
	}
	if err := p.expectKw(kw); err != nil {
		return nil, err
	}
	return p.grantees()
}

// grantTail refuses WITH ... OPTION and GRANTED BY; REVOKE takes
// RESTRICT (what it does) and refuses CASCADE (grant options are not
// kept, so nothing depends on a grant).
func (p *parser) grantTail(revoke bool, option string) error {
	t := p.peek()
	switch {
	case isKwTok(t, "with"):
		return p.unsupported(t, "WITH ... OPTION is not supported").withHint("Only admins grant; make a role an admin with GRANT admin TO name.")
	case isKwTok(t, "granted"):
		return p.unsupported(t, "GRANTED BY is not supported")
	case revoke && isKwTok(t, "cascade"):
		return p.unsupported(t, "REVOKE ... CASCADE is not supported").withHint("Grant options are not kept, so no grant depends on another: leave CASCADE out.")
	case revoke && isKwTok(t, "restrict"):
		p.i++
	}
	_ = option
	return nil
}

func (p *parser) parseGrantPrivileges(start token, revoke bool) (Statement, error) {
	g := &GrantPrivileges{P: start.pos, Revoke: revoke}
	if p.acceptKw("all") {
		p.acceptKw("privileges")
		if p.isOp("(") {
			return nil, p.unsupported(p.peek(), "column privileges are not supported")
		}
	} else {
		for {
			t := p.peek()
			if t.kind != tIdent || !privilegeWords[t.val] {
				return nil, p.syntaxErr(t)
			}
			if !cairnPrivileges[t.val] {
				return nil, p.unsupported(t, "privilege %s is not supported", strings.ToUpper(t.val)).
					withHint("Cairn grants SELECT, INSERT, UPDATE, DELETE, TRUNCATE and CREATE.")
			}
			p.i++
			if p.isOp("(") {
				return nil, p.unsupported(p.peek(), "column privileges are not supported").withHint("Grant on the whole relation, or make a view of the columns to share.")
			}
			up := strings.ToUpper(t.val)
			if !containsStr(g.Privs, up) {
				g.Privs = append(g.Privs, up)
			}
			if !p.acceptOp(",") {
				break
			}
		}
	}
	if err := p.expectKw("on"); err != nil {
		return nil, err
	}
	if err := p.grantObjects(&g.Kind, &g.Objects); err != nil {
		return nil, err
	}
	var err error
	if g.Grantees, err = p.granteesAfter(revoke); err != nil {
		return nil, err
	}
	return g, p.grantTail(revoke, "GRANT")
}

// grantObjects parses `[kind] object [, ...]` after ON.
func (p *parser) grantObjects(kind *string, objects *[]string) error {
	t := p.peek()
	switch {
	case p.acceptKw("stream"), p.acceptKws("foreign", "table"):
		*kind = "stream"
	case p.acceptKws("materialized", "view"), p.acceptKws("continuous", "view"), p.acceptKw("view"):
		*kind = "view"
	case p.acceptKw("table"):
		*kind = "table"
	case p.acceptKw("schema"):
		*kind = "schema"
	case p.acceptKw("database"):
		*kind = "database"
	case p.isKws("all", "tables"), p.isKws("all", "sequences"), p.isKws("all", "functions"):
		return p.unsupported(t, "GRANT ... ON ALL ... IN SCHEMA is not supported").withHint("Name the objects.")
	case t.kind == tIdent && (t.val == "sequence" || t.val == "function" || t.val == "procedure" || t.val == "routine" ||
		t.val == "type" || t.val == "domain" || t.val == "language" || t.val == "tablespace" || t.val == "large" ||
		t.val == "foreign" || t.val == "parameter"):
		return p.unsupported(t, "privileges on %s objects are not supported", strings.ToUpper(t.val)).
			withHint("Grant on a STREAM, VIEW, TABLE, SCHEMA or DATABASE.")
	}
	for {
		var n string
		var err error
		if *kind == "schema" || *kind == "database" {
			n, err = p.schemaName()
		} else {
			n, err = p.objectName()
		}
		if err != nil {
			return err
		}
		*objects = append(*objects, n)
		if !p.acceptOp(",") {
			return nil
		}
	}
}

func (p *parser) parseShowGrants() (Statement, error) {
	start := p.next()
	p.i++ // grants
	s := &ShowGrants{P: start.pos}
	if p.acceptKw("on") {
		if err := p.grantObjects(&s.Kind, &s.On); err != nil {
			return nil, err
		}
	}
	if p.acceptKw("for") {
		var err error
		if s.For, err = p.grantees(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func containsStr(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// formatRoleStmt writes the role statements;
// false for other statements.
func formatRoleStmt(b *strings.Builder, s Statement) bool {
	roleWord := func(user bool) string {
		if user {
			return "USER "
		}
		return "ROLE "
	}
	switch s := s.(type) {
	case *CreateRole:
		b.WriteString("CREATE " + roleWord(s.User) + QuoteIdent(s.Name))
		formatRoleOptions(b, &s.Opts)
	case *AlterRole:
		b.WriteString("ALTER " + roleWord(s.User) + QuoteIdent(s.Name))
		if s.RenameTo != "" {
			b.WriteString(" RENAME TO " + QuoteIdent(s.RenameTo))
		}
		formatRoleOptions(b, &s.Opts)
	case *DropRole:
		b.WriteString("DROP " + roleWord(s.User))
		if s.IfExists {
			b.WriteString("IF EXISTS ")
		}
		formatNames(b, s.Names)
	case *GrantRole:
		if s.Revoke {
			b.WriteString("REVOKE ")
		} else {
			b.WriteString("GRANT ")
		}
		formatNames(b, s.Roles)
		if s.Revoke {
			b.WriteString(" FROM ")
		} else {
			b.WriteString(" TO ")
		}
		formatGrantees(b, s.Grantees)
	case *GrantPrivileges:
		if s.Revoke {
			b.WriteString("REVOKE ")
		} else {
			b.WriteString("GRANT ")
		}
		if s.Privs == nil {
			b.WriteString("ALL")
		} else {
			b.WriteString(strings.Join(s.Privs, ", "))
		}
		b.WriteString(" ON ")
		formatGrantObjects(b, s.Kind, s.Objects)
		if s.Revoke {
			b.WriteString(" FROM ")
		} else {
			b.WriteString(" TO ")
		}
		formatGrantees(b, s.Grantees)
	case *ShowGrants:
		b.WriteString("SHOW GRANTS")
		if len(s.On) > 0 {
			b.WriteString(" ON ")
			formatGrantObjects(b, s.Kind, s.On)
		}
		if len(s.For) > 0 {
			b.WriteString(" FOR ")
			formatGrantees(b, s.For)
		}
	case *ShowRoles:
		if s.Users {
			b.WriteString("SHOW USERS")
		} else {
			b.WriteString("SHOW ROLES")
		}
	default:
		return false
	}
	return true
}

func formatRoleOptions(b *strings.Builder, o *RoleOptions) {
	if o.Login != nil {
		if *o.Login {
			b.WriteString(" LOGIN")
		} else {
			b.WriteString(" NOLOGIN")
		}
	}
	switch {
	case o.PasswordNull:
		b.WriteString(" PASSWORD NULL")
	case o.Password != nil:
		b.WriteString(" PASSWORD " + QuoteString(*o.Password))
	}
	if o.ValidUntil != nil {
		b.WriteString(" VALID UNTIL " + QuoteString(*o.ValidUntil))
	}
	if len(o.InRole) > 0 {
		b.WriteString(" IN ROLE ")
		formatNames(b, o.InRole)
	}
}

func formatGrantees(b *strings.Builder, gs []string) {
	for i, g := range gs {
		if i > 0 {
			b.WriteString(", ")
		}
		switch g {
		case "public", "current_user", "session_user":
			b.WriteString(strings.ToUpper(g))
		default:
			b.WriteString(QuoteIdent(g))
		}
	}
}

func formatGrantObjects(b *strings.Builder, kind string, objs []string) {
	if kind != "" {
		b.WriteString(strings.ToUpper(kind) + " ")
	}
	if kind == "schema" || kind == "database" {
		formatNames(b, objs)
		return
	}
	formatObjects(b, objs)
}

// stringLit consumes a string literal (PASSWORD '…', VALID UNTIL '…').
func (p *parser) stringLit() (*string, error) {
	s := p.peek()
	if s.kind != tString {
		return nil, p.syntaxErr(s)
	}
	p.i++
	v := s.val
	return &v, nil
}
