package scalar

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Catalog is what the pg_catalog functions and the reg* types read of
// the database (Ctx.Catalog; the session supplies it, see package
// systables). Object identifiers are PostgreSQL OIDs as pg_class,
// pg_namespace and pg_type show them.
type Catalog interface {
	// RelationOID resolves a relation name as written (schema.name or
	// name, through search_path).
	RelationOID(name string) (oid int64, ok bool)
	// RelationName is the name regclass prints for oid: qualified
	// unless the relation is visible through search_path.
	RelationName(oid int64) (string, bool)
	// NamespaceOID and NamespaceName map schemas.
	NamespaceOID(name string) (int64, bool)
	NamespaceName(oid int64) (string, bool)
	// TableIsVisible reports whether the relation is found first under
	// its name through search_path.
	TableIsVisible(oid int64) bool
	// ViewDef is the query of a view; IndexDef and ConstraintDef the
	// definitions of a primary key's index and constraint.
	ViewDef(oid int64) (string, bool)
	IndexDef(oid int64) (string, bool)
	ConstraintDef(oid int64) (string, bool)
	// SearchPath is the schemas of search_path that exist, in order
	// (with pg_catalog first when implicit).
	SearchPath(implicit bool) []string
	// UserName is the name of the role with oid.
	UserName(oid int64) (string, bool)
	// RoleOID is the oid of a role.
	RoleOID(name string) (int64, bool)
}

// catalogOf returns the statement's catalog, or an error naming what
// needed it.
func catalogOf(ec *Ctx, what string) (Catalog, error) {
	if ec == nil || ec.Catalog == nil {
		return nil, pgerr.NoCatalogHere.New(what)
	}
	return ec.Catalog, nil
}

// regKinds are the object-identifier types: values are OIDs (bigint in
// Cairn), read from and printed as names only through explicit casts.
var regKinds = map[string]bool{"oid": true, "regclass": true, "regtype": true, "regnamespace": true, "regrole": true, "regproc": true, "regprocedure": true}

// compileRegCast compiles X::oid and X::regclass (regtype, regnamespace,
// regrole, regproc). An OID type is a bigint here: a name cast to
// regclass becomes its OID, and a regclass cast to text becomes a
// name again (the node remembers its kind in reg). Deviation: a bare
// regclass in a select list prints as its number, not its name.
func (c *Compiler) compileRegCast(e *parser.Cast, kind string) (*Node, error) {
	x, err := c.Compile(e.X)
	if err != nil {
		return nil, err
	}
	if x.Param > 0 {
		c.Params.set(x.Param, types.Text)
		x = newNode(types.Text, paramFn(x.Param, types.Text, e.X.Pos()))
	}
	if kind == "regproc" || kind == "regprocedure" {
		// Functions are named, not numbered, in Cairn's pg_proc columns
		// that reference them (typinput): a regproc is its name.
		if x.Untyped || x.T == types.Text {
			return fold(newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
				d, err := x.Fn(ec, in)
				if err != nil || d.Null {
					return types.NullOf(types.Text), err
				}
				name := strings.TrimPrefix(strings.TrimSpace(d.S), "pg_catalog.")
				if i := strings.IndexByte(name, '('); i >= 0 {
					name = name[:i]
				}
				Procs()
				if _, ok := procByName[name]; !ok {
					return types.Datum{}, PosErr(pgerr.RegProcNotFound.New(d.S), e.X.Pos())
				}
				return types.NewText(name), nil
			}), x)
		}
	}
	if x.Untyped || x.T == types.Text {
		if kind == "oid" {
			return c.Coerce(x, types.Int8, e.X.Pos())
		}
		n := newNode(types.Int8, func(ec *Ctx, in Input) (types.Datum, error) {
			d, err := x.Fn(ec, in)
			if err != nil || d.Null {
				return types.NullOf(types.Int8), err
			}
			oid, err := regIn(ec, kind, d.S)
			return types.NewInt(types.Int8, oid), PosErr(err, e.X.Pos())
		})
		n.Volatile = true // the catalog is read when the statement runs
		n.reg = kind
		return n, nil
	}
	if !x.T.IsInt() {
		return nil, pgerr.CannotCast.New(x.T, kind).WithPos(e.P)
	}
	if x.T != types.Int8 {
		if x, err = castNode(x, types.Int8, nil, e.P, nil); err != nil {
			return nil, err
		}
	}
	if kind == "oid" {
		return x, nil
	}
	n := *x
	n.reg = kind
	return &n, nil
}

// regIn reads a name as an object of kind; a number is taken as the
// OID itself, as PostgreSQL does.
func regIn(ec *Ctx, kind, s string) (int64, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if kind == "regtype" {
		if t, ok := pgTypeByName(strings.TrimPrefix(strings.ToLower(s), "pg_catalog.")); ok {
			return int64(t.OID), nil
		}
		return 0, pgerr.RegTypeNotFound.New(s)
	}
	cat, err := catalogOf(ec, "::"+kind)
	if err != nil {
		return 0, err
	}
	name := unquoteIdent(s)
	switch kind {
	case "regclass":
		if oid, ok := cat.RelationOID(name); ok {
			return oid, nil
		}
		return 0, pgerr.RelationNotFound.New(s)
	case "regnamespace":
		if oid, ok := cat.NamespaceOID(name); ok {
			return oid, nil
		}
		return 0, pgerr.RegSchemaNotFound.New(s)
	default: // regrole
		if oid, ok := cat.RoleOID(name); ok {
			return oid, nil
		}
		return 0, pgerr.RegRoleNotFound.New(s)
	}
}

// unquoteIdent folds an unquoted name to lower case and strips the
// quotes of quoted parts, keeping the dot of schema.name.
func unquoteIdent(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '"' {
			b.WriteString(strings.ToLower(s[i : i+1]))
			continue
		}
		for i++; i < len(s); i++ {
			if s[i] == '"' {
				if i+1 < len(s) && s[i+1] == '"' {
					b.WriteByte('"')
					i++
					continue
				}
				break
			}
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// regOut is the name a reg* OID prints as; ok is false when no object
// has the OID (PostgreSQL then prints the number).
func regOut(ec *Ctx, kind string, oid int64) (string, bool, error) {
	if kind == "regtype" {
		return FormatType(oid, -1), true, nil
	}
	cat, err := catalogOf(ec, "::"+kind)
	if err != nil {
		return "", false, err
	}
	var name string
	var ok bool
	switch kind {
	case "regclass":
		name, ok = cat.RelationName(oid)
	case "regnamespace":
		name, ok = cat.NamespaceName(oid)
	case "regrole":
		name, ok = cat.UserName(oid)
	}
	return name, ok, nil
}

// regTextNode is reg::text: the object's name.
func regTextNode(x *Node) *Node {
	n := newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
		d, err := x.Fn(ec, in)
		if err != nil || d.Null {
			return types.NullOf(types.Text), err
		}
		name, ok, err := regOut(ec, x.reg, d.I)
		if err != nil {
			return types.Datum{}, err
		}
		if !ok {
			name = strconv.FormatInt(d.I, 10)
		}
		return types.NewText(name), nil
	})
	n.Volatile = true
	return n
}

// compileRegex compiles the POSIX match operators with Go's regexp
// (RE2): the syntax PostgreSQL's advanced regular expressions share with
// it behaves alike; back-references and look-around are refused (2201B).
func (c *Compiler) compileRegex(op string, l, r *Node, e *parser.Binary) (*Node, error) {
	for _, x := range []*Node{l, r} {
		if !(x.Untyped || x.Param > 0 || x.T == types.Text) {
			return nil, opErr(e.Op, l, r, e.P)
		}
	}
	var err error
	if l, err = c.Coerce(l, types.Text, e.L.Pos()); err != nil {
		return nil, err
	}
	if r, err = c.Coerce(r, types.Text, e.R.Pos()); err != nil {
		return nil, err
	}
	fold := strings.Contains(op, "*")
	neg := strings.HasPrefix(op, "!")
	compile := func(p string) (*regexp.Regexp, error) {
		if fold {
			p = "(?i)" + p
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, PosErr(pgerr.InvalidRegex.New(strings.TrimPrefix(err.Error(), "error parsing regexp: ")), e.R.Pos())
		}
		return re, nil
	}
	var konst *regexp.Regexp
	if d, ok := r.Const(); ok && !d.Null {
		if konst, err = compile(d.S); err != nil {
			return nil, err
		}
	}
	var last *regexp.Regexp // the previous row's pattern, when not constant
	n := newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
		a, b, null, err := binEval(l, r, ec, in)
		if err != nil || null {
			return types.NullOf(types.Bool), err
		}
		re := konst
		if re == nil {
			if last == nil || last.String() != b.S && last.String() != "(?i)"+b.S {
				if last, err = compile(b.S); err != nil {
					return types.Datum{}, err
				}
			}
			re = last
		}
		return types.NewBool(re.MatchString(a.S) != neg), nil
	})
	return foldNode(n, l, r)
}

// foldNode is fold under another name, for closures that shadow it.
func foldNode(n *Node, kids ...*Node) (*Node, error) { return fold(n, kids...) }

// styleOrNil is the statement's style, nil without a Ctx.
func (ec *Ctx) styleOrNil() *types.Style {
	if ec == nil {
		return nil
	}
	return ec.Style
}
