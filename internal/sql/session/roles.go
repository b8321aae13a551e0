package session

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/security"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Role and privilege statements: CREATE/ALTER/DROP ROLE, GRANT and
// REVOKE, SHOW GRANTS/ROLES/USERS. Who may run them is decided in
// authz.go (needsOf); here they become catalog commands. A password
// becomes a SCRAM-SHA-256 verifier before it leaves the session: only
// verifiers reach the catalog, the raft log and the disk.
// audit.go records each of them (kinds "role" and "grant") with its
// password redacted.

// prepareRoleStmt prepares the role statements; ok is false for others.
// CREATE/ALTER/DROP USER answer CREATE/ALTER/DROP ROLE, as in PostgreSQL.
func (s *Session) prepareRoleStmt(stmt parser.Statement) (p *prepared, ok bool, err error) {
	switch st := stmt.(type) {
	case *parser.CreateRole:
		p, err = s.prepareCreateRole(st)
	case *parser.AlterRole:
		p, err = s.prepareAlterRole(st)
	case *parser.DropRole:
		p = s.proposeStmt("DROP ROLE", st.P, func(*catalog.Catalog) (catalog.Command, error) {
			for _, n := range st.Names {
				if n == s.currentUser() {
					return nil, pgerr.RoleIsCurrent.New("dropped")
				}
			}
			return &catalog.DropRoles{Names: st.Names, IfExists: st.IfExists}, nil
		})
	case *parser.GrantRole:
		p = s.prepareGrantRole(st)
	case *parser.GrantPrivileges:
		p = s.prepareGrantPrivileges(st)
	case *parser.ShowRoles:
		p = s.prepareShowRoles(st)
	case *parser.ShowGrants:
		p = s.prepareShowGrants(st)
	default:
		return nil, false, nil
	}
	return p, true, err
}

// proposeStmt runs the command build makes (from the catalog current when
// the statement runs) and answers with tag.
func (s *Session) proposeStmt(tag string, pos int, build func(cat *catalog.Catalog) (catalog.Command, error)) *prepared {
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		cmd, err := build(s.b.Catalog())
		if err != nil {
			return "", pgerr.From(err).WithPos(pos)
		}
		if cmd == nil {
			return tag, nil
		}
		res, err := s.b.Propose(ctx, cmd)
		if err != nil {
			return "", pgerr.From(err).WithPos(pos)
		}
		if res.Notice != "" {
			w.Notice(res.Notice)
		}
		return tag, nil
	}}
}

// verifierFor turns PASSWORD '...' into what the catalog stores: a SCRAM
// verifier given as such is kept (once it parses); an MD5 hash is
// refused; any other text is a password and becomes a new verifier.
// "" with notice: the empty password, which clears it (as PostgreSQL).
func verifierFor(pw string) (v string, notice string, err error) {
	switch {
	case pw == "":
		return "", "empty string is not a valid password, clearing password", nil
	case security.IsVerifier(pw):
		if _, err := security.ParseVerifier(pw); err != nil {
			return "", "", pgerr.RoleBadVerifier.New(err)
		}
		return pw, "", nil
	case len(pw) == 35 && strings.HasPrefix(pw, "md5"):
		return "", "", pgerr.RoleMD5Password.New()
	}
	nv, err := security.NewVerifier(pw)
	if err != nil {
		return "", "", pgerr.RoleBadVerifier.New(err)
	}
	return nv.String(), "", nil
}

// validUntil reads VALID UNTIL's timestamp ('infinity': never expires,
// the zero time).
func (s *Session) validUntil(text string) (time.Time, error) {
	d, err := types.ParseTextStyle(types.TimestampTZ, text, s.styleOrDefault())
	if err != nil {
		return time.Time{}, err
	}
	switch d.I {
	case types.TimestampInfinity:
		return time.Time{}, nil
	case types.TimestampNegInfinity:
		return time.Unix(0, 0).UTC(), nil // already expired
	}
	return time.UnixMicro(d.I).UTC(), nil
}

func (s *Session) prepareCreateRole(st *parser.CreateRole) (*prepared, error) {
	r := &catalog.Role{Name: st.Name, Login: st.User, MemberOf: st.Opts.InRole}
	if st.Opts.Login != nil {
		r.Login = *st.Opts.Login
	}
	var notice string
	if st.Opts.Password != nil {
		v, n, err := verifierFor(*st.Opts.Password)
		if err != nil {
			return nil, pgerr.From(err).WithPos(st.P)
		}
		r.Verifier, notice = v, n
	}
	if st.Opts.ValidUntil != nil {
		t, err := s.validUntil(*st.Opts.ValidUntil)
		if err != nil {
			return nil, pgerr.From(err).WithPos(st.P)
		}
		r.ValidUntil = t
	}
	p := s.proposeStmt("CREATE ROLE", st.P, func(*catalog.Catalog) (catalog.Command, error) {
		return &catalog.CreateRole{Role: r}, nil
	})
	return withNotice(p, notice), nil
}

// withNotice sends notice (if any) before p runs.
func withNotice(p *prepared, notice string) *prepared {
	if notice == "" {
		return p
	}
	run := p.run
	p.run = func(ctx context.Context, params []types.Datum, w pgwire.ResultWriter) (string, error) {
		w.Notice(notice)
		return run(ctx, params, w)
	}
	return p
}

func (s *Session) prepareAlterRole(st *parser.AlterRole) (*prepared, error) {
	cmd := &catalog.AlterRole{Name: st.Name, Login: st.Opts.Login, RenameTo: st.RenameTo}
	var notice string
	switch {
	case st.Opts.PasswordNull:
		empty := ""
		cmd.Verifier = &empty
	case st.Opts.Password != nil:
		v, n, err := verifierFor(*st.Opts.Password)
		if err != nil {
			return nil, pgerr.From(err).WithPos(st.P)
		}
		cmd.Verifier, notice = &v, n
	}
	if st.Opts.ValidUntil != nil {
		t, err := s.validUntil(*st.Opts.ValidUntil)
		if err != nil {
			return nil, pgerr.From(err).WithPos(st.P)
		}
		cmd.ValidUntil = &t
	}
	p := s.proposeStmt("ALTER ROLE", st.P, func(*catalog.Catalog) (catalog.Command, error) {
		if st.RenameTo != "" && st.Name == s.currentUser() {
			return nil, pgerr.RoleIsCurrent.New("renamed")
		}
		return cmd, nil
	})
	return withNotice(p, notice), nil
}

// grantees resolves CURRENT_USER and SESSION_USER.
func (s *Session) granteeNames(gs []string) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		if g == "current_user" || g == "session_user" {
			g = s.currentUser()
		}
		out[i] = g
	}
	return out
}

func (s *Session) prepareGrantRole(st *parser.GrantRole) *prepared {
	tag := "GRANT ROLE"
	if st.Revoke {
		tag = "REVOKE ROLE"
	}
	return s.proposeStmt(tag, st.P, func(*catalog.Catalog) (catalog.Command, error) {
		to := s.granteeNames(st.Grantees)
		if slices.Contains(to, catalog.RolePublic) {
			return nil, pgerr.RoleNotFound.New(catalog.RolePublic)
		}
		if st.Revoke {
			return &catalog.RevokeRole{Roles: st.Roles, From: to}, nil
		}
		return &catalog.GrantRole{Roles: st.Roles, To: to}, nil
	})
}

// grantKinds splits the objects of a GRANT by kind (looked up when the
// statement names none).
func grantKinds(cat *catalog.Catalog, kind string, objects []string) (map[string][]string, []string, error) {
	byKind := map[string][]string{}
	var order []string
	for _, o := range objects {
		k := kind
		if k == "" {
			if k = cat.Exists(o); k == "" {
				return nil, nil, pgerr.RelationNotFound.New(o)
			}
		}
		if _, ok := byKind[k]; !ok {
			order = append(order, k)
		}
		byKind[k] = append(byKind[k], o)
	}
	return byKind, order, nil
}

func (s *Session) prepareGrantPrivileges(st *parser.GrantPrivileges) *prepared {
	tag := "GRANT"
	if st.Revoke {
		tag = "REVOKE"
	}
	return &prepared{run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		byKind, order, err := grantKinds(s.b.Catalog(), st.Kind, st.Objects)
		if err != nil {
			return "", pgerr.From(err).WithPos(st.P)
		}
		to := s.granteeNames(st.Grantees)
		for _, k := range order {
			privs := st.Privs
			if privs == nil {
				privs = catalog.KindPrivileges[k]
			}
			var cmd catalog.Command = &catalog.Grant{Kind: k, Objects: byKind[k], Privs: privs, To: to}
			if st.Revoke {
				cmd = &catalog.Revoke{Kind: k, Objects: byKind[k], Privs: privs, From: to}
			}
			if _, err := s.b.Propose(ctx, cmd); err != nil {
				return "", pgerr.From(err).WithPos(st.P)
			}
		}
		return tag, nil
	}}
}

var showRolesCols = []pgwire.Column{
	{Name: "role_name", T: types.Text}, {Name: "login", T: types.Bool}, {Name: "superuser", T: types.Bool},
	{Name: "admin", T: types.Bool}, {Name: "has_password", T: types.Bool}, {Name: "valid_until", T: types.TimestampTZ},
	{Name: "member_of", T: types.Text},
}

func (s *Session) prepareShowRoles(st *parser.ShowRoles) *prepared {
	tag := "SHOW ROLES"
	if st.Users {
		tag = "SHOW USERS"
	}
	return &prepared{cols: showRolesCols, run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		cat := s.b.Catalog()
		for _, r := range cat.SortedRoles() {
			if st.Users && !r.Login {
				continue
			}
			until := types.NullOf(types.TimestampTZ)
			if !r.ValidUntil.IsZero() {
				until = types.Datum{T: types.TimestampTZ, I: r.ValidUntil.UnixMicro()}
			}
			row := []types.Datum{txt(r.Name), types.NewBool(r.Login), types.NewBool(r.Superuser), types.NewBool(cat.IsAdmin(r.Name)),
				types.NewBool(r.Verifier != ""), until, txt(strings.Join(r.MemberOf, ", "))}
			if err := w.Row(row); err != nil {
				return "", err
			}
		}
		return tag, nil
	}}
}

var showGrantsCols = []pgwire.Column{
	{Name: "object_type", T: types.Text}, {Name: "object_name", T: types.Text},
	{Name: "grantee", T: types.Text}, {Name: "privilege_type", T: types.Text},
}

// grantRow is one row of SHOW GRANTS.
type grantRow struct{ kind, name, grantee, priv string }

// grantRows lists every grant, and every object's owner (privilege
// OWNER), by kind and name.
func grantRows(cat *catalog.Catalog) []grantRow {
	var rows []grantRow
	add := func(kind, name string) {
		owner, _ := cat.Owner(kind, name)
		rows = append(rows, grantRow{kind, name, owner, "OWNER"})
		g := cat.Grants[catalog.GrantKey(kind, name)]
		grantees := make([]string, 0, len(g))
		for r := range g {
			grantees = append(grantees, r)
		}
		slices.Sort(grantees)
		for _, r := range grantees {
			for _, p := range g[r] {
				rows = append(rows, grantRow{kind, name, r, p})
			}
		}
	}
	add(catalog.KindDatabase, catalog.DatabaseName)
	add(catalog.KindSchema, "public")
	for _, sc := range cat.SortedSchemas() {
		add(catalog.KindSchema, sc)
	}
	for _, st := range cat.SortedStreams() {
		add(catalog.KindStream, st.Name)
	}
	for _, t := range cat.SortedTables() {
		add(catalog.KindTable, t.Name)
	}
	for _, v := range cat.SortedViews() {
		add(catalog.KindView, v.Name)
	}
	return rows
}

func (s *Session) prepareShowGrants(st *parser.ShowGrants) *prepared {
	return &prepared{cols: showGrantsCols, run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		cat := s.b.Catalog()
		on := map[string]bool{}
		if len(st.On) > 0 {
			byKind, _, err := grantKinds(cat, st.Kind, st.On)
			if err != nil {
				return "", pgerr.From(err).WithPos(st.P)
			}
			for k, names := range byKind {
				for _, n := range names {
					if _, ok := cat.Owner(k, n); !ok {
						return "", pgerr.ObjectNotFound.New(k, n).WithPos(st.P)
					}
					on[catalog.GrantKey(k, n)] = true
				}
			}
		}
		roles := s.granteeNames(st.For)
		for _, r := range roles {
			if r != catalog.RolePublic && cat.Role(r) == nil {
				return "", pgerr.RoleNotFound.New(r).WithPos(st.P)
			}
		}
		n := 0
		for _, g := range grantRows(cat) {
			if len(on) > 0 && !on[catalog.GrantKey(g.kind, g.name)] {
				continue
			}
			if len(roles) > 0 && !slices.Contains(roles, g.grantee) {
				continue
			}
			if err := w.Row([]types.Datum{txt(g.kind), txt(g.name), txt(g.grantee), txt(g.priv)}); err != nil {
				return "", err
			}
			n++
		}
		return fmt.Sprintf("SHOW %d", n), nil
	}}
}
