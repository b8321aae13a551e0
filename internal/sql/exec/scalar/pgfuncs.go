package scalar

import (
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// The functions psql, JDBC and other tools call to read the catalogs.
// Cairn has no comments (COMMENT ON), rules, policies or publications:
// the description functions answer NULL. has_table_privilege,
// has_schema_privilege and has_database_privilege ask the catalog
// (privfuncs.go); column privileges are not kept and functions are
// everyone's, so has_column_privilege and has_function_privilege answer
// true.

// This init runs after funcs.go's (files initialize in name order), so
// funcs exists.
func init() {
	for name, b := range map[string]funcBuilder{
		"format_type":                     buildFormatType,
		"pg_table_is_visible":             oidPredicate("pg_table_is_visible", func(cat Catalog, oid int64) bool { return cat.TableIsVisible(oid) }),
		"pg_type_is_visible":              oidPredicate("pg_type_is_visible", func(_ Catalog, oid int64) bool { _, ok := types.PGTypeByOID(uint32(oid)); return ok }),
		"pg_function_is_visible":          oidPredicate("pg_function_is_visible", func(_ Catalog, oid int64) bool { _, ok := ProcName(oid); return ok }),
		"obj_description":                 nullText(1, 2),
		"col_description":                 nullText(2, 2),
		"shobj_description":               nullText(2, 2),
		"pg_relation_is_publishable":      constBool(false, 1),
		"pg_is_in_recovery":               constBool(false, 0), // no Cairn node is a standby (pgx's target_session_attrs=primary asks)
		"pg_get_statisticsobjdef_columns": nullText(1, 1),
		"has_table_privilege":             buildHasPrivilege("table"), // privfuncs.go
		"has_schema_privilege":            buildHasPrivilege("schema"),
		"has_database_privilege":          buildHasPrivilege("database"),
		"has_column_privilege":            constBool(true, 3, 4),
		"has_function_privilege":          constBool(true, 2, 3),
		"pg_has_role":                     constBool(true, 2, 3),
		"current_schemas":                 buildCurrentSchemas,
		"current_schema":                  buildCurrentSchema,
		"pg_get_userbyid":                 catText("pg_get_userbyid", func(cat Catalog, oid int64) (string, bool) { return cat.UserName(oid) }),
		"pg_get_viewdef":                  buildGetViewdef,
		"pg_get_indexdef":                 catText("pg_get_indexdef", func(cat Catalog, oid int64) (string, bool) { return cat.IndexDef(oid) }),
		"pg_get_constraintdef":            catText("pg_get_constraintdef", func(cat Catalog, oid int64) (string, bool) { return cat.ConstraintDef(oid) }),
		"pg_get_ruledef":                  nullText(1, 2), // no rules
		"pg_get_triggerdef":               nullText(1, 2), // no triggers
		"pg_get_function_result":          nullText(1, 1),
		"pg_get_function_arguments":       nullText(1, 1),
		"pg_get_expr":                     buildGetExpr,
		"pg_encoding_to_char":             buildEncodingToChar,
		"array_to_string":                 buildArrayToString,
		"quote_ident":                     textFunc(parser.QuoteIdent),
		"to_regclass":                     buildToRegclass,
	} {
		funcs[name] = b
	}
}

// oidArg coerces args[i] to bigint (an OID).
func (c *Compiler) oidArg(f *parser.Func, args []*Node, i int) error {
	a := args[i]
	if !(a.Untyped || a.Param > 0 || a.T.IsInt()) {
		return errNoMatch
	}
	n, err := c.Coerce(a, types.Int8, f.Args[i].Pos())
	if err != nil {
		return err
	}
	args[i] = n
	return nil
}

// oidPredicate is a bool function of an OID answered by the catalog.
func oidPredicate(name string, test func(Catalog, int64) bool) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if len(args) != 1 {
			return nil, errNoMatch
		}
		if err := c.oidArg(f, args, 0); err != nil {
			return nil, err
		}
		n := newNode(types.Bool, func(ec *Ctx, in Input) (types.Datum, error) {
			d, err := args[0].Fn(ec, in)
			if err != nil || d.Null {
				return types.NullOf(types.Bool), err
			}
			cat, err := catalogOf(ec, name+"()")
			if err != nil {
				return types.Datum{}, err
			}
			return types.NewBool(test(cat, d.I)), nil
		})
		n.Volatile = true
		return n, nil
	}
}

// catText is a text function of an OID answered by the catalog; NULL
// when no object has the OID, as in PostgreSQL. Extra arguments (pretty
// printing flags, a column number of 0) are checked for type.
func catText(name string, get func(Catalog, int64) (string, bool)) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if len(args) < 1 || len(args) > 3 {
			return nil, errNoMatch
		}
		if err := c.oidArg(f, args, 0); err != nil {
			return nil, err
		}
		n := newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
			d, err := args[0].Fn(ec, in)
			if err != nil || d.Null {
				return types.NullOf(types.Text), err
			}
			cat, err := catalogOf(ec, name+"()")
			if err != nil {
				return types.Datum{}, err
			}
			if s, ok := get(cat, d.I); ok {
				return types.NewText(s), nil
			}
			return types.NullOf(types.Text), nil
		})
		n.Volatile = true
		return n, nil
	}
}

// nullText is a text function with nothing to tell in Cairn (comments,
// function signatures): NULL for any arguments.
func nullText(minArgs, maxArgs int) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if len(args) < minArgs || len(args) > maxArgs {
			return nil, errNoMatch
		}
		return constNode(types.NullOf(types.Text)), nil
	}
}

// constBool is a predicate with one answer in Cairn (privileges: one
// role may do everything until roles exist).
func constBool(v bool, counts ...int) funcBuilder {
	return func(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
		if !slices.Contains(counts, len(args)) {
			return nil, errNoMatch
		}
		return constNode(types.NewBool(v)), nil
	}
}

// buildFormatType is format_type(type oid, typmod): the type's SQL name.
func buildFormatType(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) != 2 {
		return nil, errNoMatch
	}
	if err := c.oidArg(f, args, 0); err != nil {
		return nil, err
	}
	if err := c.oidArg(f, args, 1); err != nil {
		return nil, err
	}
	return newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
		t, err := args[0].Fn(ec, in)
		if err != nil || t.Null {
			return types.NullOf(types.Text), err
		}
		m, err := args[1].Fn(ec, in)
		if err != nil {
			return m, err
		}
		mod := int64(-1)
		if !m.Null {
			mod = m.I
		}
		return types.NewText(FormatType(t.I, mod)), nil
	}), nil
}

// sqlNames are format_type's names of the types whose SQL name differs
// from their pg_type name (those of Cairn's own types come from
// types.T.String).
var sqlNames = map[string]string{"bpchar": "character", "varchar": "character varying", "char": `"char"`}

// FormatType is format_type(oid, typmod): "integer", "text[]",
// "character varying(20)"; "???" for an unknown OID, as PostgreSQL.
func FormatType(oid, mod int64) string {
	pt, ok := types.PGTypeByOID(uint32(oid))
	if !ok {
		return "???"
	}
	if pt.Elem != 0 && pt.Len == -1 && pt.Category == 'A' && pt.Name[0] == '_' {
		return FormatType(int64(pt.Elem), mod) + "[]"
	}
	name := pt.Name
	if t, ok := types.FromOID(pt.OID); ok && t.OID() == pt.OID {
		name = t.String()
	} else if n, ok := sqlNames[name]; ok {
		name = n
	}
	switch {
	case mod >= 4 && (pt.Name == "varchar" || pt.Name == "bpchar"):
		name += "(" + strconv.FormatInt(mod-4, 10) + ")"
	case mod >= 4 && pt.Name == "numeric":
		m := mod - 4
		name += "(" + strconv.FormatInt(m>>16&0xffff, 10) + "," + strconv.FormatInt(m&0xffff, 10) + ")"
	}
	return name
}

// pgTypeByName finds a type by its pg_type name or a SQL name Cairn
// knows ("integer", "double precision").
func pgTypeByName(name string) (*types.PGType, bool) {
	for i := range types.PGTypes {
		if types.PGTypes[i].Name == name {
			return &types.PGTypes[i], true
		}
	}
	if t, ok := types.FromName(name); ok {
		return types.PGTypeByOID(t.OID())
	}
	return nil, false
}

// buildCurrentSchemas is current_schemas(include_implicit): the schemas
// of search_path that exist.
func buildCurrentSchemas(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if err := c.want(f, args, types.Bool); err != nil {
		return nil, err
	}
	n := newNode(types.TextArray, func(ec *Ctx, in Input) (types.Datum, error) {
		d, err := args[0].Fn(ec, in)
		if err != nil || d.Null {
			return types.NullOf(types.TextArray), err
		}
		cat, err := catalogOf(ec, "current_schemas()")
		if err != nil {
			return types.Datum{}, err
		}
		var ds []types.Datum
		for _, s := range cat.SearchPath(d.Bool()) {
			ds = append(ds, types.NewText(s))
		}
		return arrayDatum(types.TextArray, ds), nil
	})
	n.Volatile = true
	return n, nil
}

// buildCurrentSchema is current_schema: the first schema of search_path
// that exists (NULL when none does).
func buildCurrentSchema(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) != 0 {
		return nil, errNoMatch
	}
	n := newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
		if ec == nil || ec.Catalog == nil {
			return types.NewText("public"), nil
		}
		if p := ec.Catalog.SearchPath(false); len(p) > 0 {
			return types.NewText(p[0]), nil
		}
		return types.NullOf(types.Text), nil
	})
	n.Volatile = true
	return n, nil
}

// buildGetViewdef is pg_get_viewdef(view [, pretty]): the view's query,
// the view named by OID or (the old form) by text.
func buildGetViewdef(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) < 1 || len(args) > 2 {
		return nil, errNoMatch
	}
	byName := args[0].T == types.Text && !args[0].Untyped
	if !byName {
		if err := c.oidArg(f, args, 0); err != nil {
			return nil, err
		}
	}
	n := newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
		d, err := args[0].Fn(ec, in)
		if err != nil || d.Null {
			return types.NullOf(types.Text), err
		}
		cat, err := catalogOf(ec, "pg_get_viewdef()")
		if err != nil {
			return types.Datum{}, err
		}
		oid := d.I
		if byName {
			var ok bool
			if oid, ok = cat.RelationOID(unquoteIdent(d.S)); !ok {
				return types.Datum{}, pgerr.RelationNotFound.New(d.S)
			}
		}
		if s, ok := cat.ViewDef(oid); ok {
			return types.NewText(s), nil
		}
		return types.NullOf(types.Text), nil
	})
	n.Volatile = true
	return n, nil
}

// buildGetExpr is pg_get_expr(expr, relation [, pretty]): Cairn keeps
// no stored expression trees (no defaults, checks or partitions), so
// the catalog columns it reads are NULL; a text given is returned as is.
func buildGetExpr(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) < 2 || len(args) > 3 {
		return nil, errNoMatch
	}
	if err := c.want(f, args[:1], types.Text); err != nil {
		return nil, err
	}
	x := args[0]
	return newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) { return x.Fn(ec, in) }), nil
}

// encodings are PostgreSQL's encoding numbers Cairn can name; Cairn
// itself speaks only UTF8 (6).
var encodings = map[int64]string{0: "SQL_ASCII", 6: "UTF8", 8: "LATIN1"}

func buildEncodingToChar(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if err := c.want(f, args, types.Int4); err != nil {
		return nil, err
	}
	return newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
		d, err := args[0].Fn(ec, in)
		if err != nil || d.Null {
			return types.NullOf(types.Text), err
		}
		return types.NewText(encodings[d.I]), nil // "" for an unknown number, as PostgreSQL
	}), nil
}

// buildArrayToString is array_to_string(a, sep [, null_text]): NULL
// elements are skipped unless null_text is given.
func buildArrayToString(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if len(args) < 2 || len(args) > 3 || !args[0].T.IsArray() || args[0].Untyped {
		return nil, errNoMatch
	}
	if err := c.want(f, args[1:], slices.Repeat([]types.T{types.Text}, len(args)-1)...); err != nil {
		return nil, err
	}
	return newNode(types.Text, func(ec *Ctx, in Input) (types.Datum, error) {
		var ds [3]types.Datum
		for i, a := range args {
			d, err := a.Fn(ec, in)
			if err != nil {
				return d, err
			}
			if d.Null && i < 2 {
				return types.NullOf(types.Text), nil
			}
			ds[i] = d
		}
		elems, err := arrayElems(ds[0])
		if err != nil {
			return types.Datum{}, err
		}
		var b strings.Builder
		first := true
		for _, e := range elems {
			s := ""
			switch {
			case e.Null && (len(args) < 3 || ds[2].Null):
				continue
			case e.Null:
				s = ds[2].S
			default:
				s = string(types.AppendTextStyle(nil, e, ec.styleOrNil()))
			}
			if !first {
				b.WriteString(ds[1].S)
			}
			first = false
			b.WriteString(s)
		}
		return types.NewText(b.String()), nil
	}), nil
}

// buildToRegclass is to_regclass(name): the relation's OID, NULL when
// there is none.
func buildToRegclass(c *Compiler, f *parser.Func, args []*Node) (*Node, error) {
	if err := c.want(f, args, types.Text); err != nil {
		return nil, err
	}
	n := newNode(types.Int8, func(ec *Ctx, in Input) (types.Datum, error) {
		d, err := args[0].Fn(ec, in)
		if err != nil || d.Null {
			return types.NullOf(types.Int8), err
		}
		cat, err := catalogOf(ec, "to_regclass()")
		if err != nil {
			return types.Datum{}, err
		}
		if oid, ok := cat.RelationOID(unquoteIdent(d.S)); ok {
			return types.NewInt(types.Int8, oid), nil
		}
		return types.NullOf(types.Int8), nil
	})
	n.Volatile = true
	n.reg = "regclass"
	return n, nil
}

// Proc is one function Cairn has, as pg_proc lists it.
type Proc struct {
	OID  int64
	Name string
	Agg  bool
}

var (
	procsOnce  sync.Once
	procs      []Proc
	procByName map[string]int64
)

// Procs lists the functions and aggregates Cairn has, by name, with
// stable OIDs (a hash of the name, above PostgreSQL's own OIDs, so a
// function added later does not renumber the others).
func Procs() []Proc {
	procsOnce.Do(func() {
		procByName = map[string]int64{}
		add := func(name string, agg bool) {
			if name == parser.ArrayFunc || name == parser.SubscriptFunc {
				return
			}
			if _, ok := procByName[name]; ok {
				return
			}
			h := fnv.New32a()
			h.Write([]byte(name))
			oid := 100000 + int64(h.Sum32()%1000000000)
			procByName[name] = oid
			procs = append(procs, Proc{OID: oid, Name: name, Agg: agg})
		}
		for name := range funcs {
			add(name, false)
		}
		for name := range aggNames {
			add(name, true)
		}
		// Input functions pg_type names (regproc columns).
		for _, t := range types.PGTypes {
			add(t.Input, false)
		}
		slices.SortFunc(procs, func(a, b Proc) int { return strings.Compare(a.Name, b.Name) })
	})
	return procs
}

// ProcName is the name of the function with oid.
func ProcName(oid int64) (string, bool) {
	for _, p := range Procs() {
		if p.OID == oid {
			return p.Name, true
		}
	}
	return "", false
}
