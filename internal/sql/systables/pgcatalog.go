package systables

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// pg_catalog and information_schema, generated from Cairn's catalog as
// one session sees it (its search_path, user and database), so that
// psql's \d, JDBC's DatabaseMetaData and other tools can list streams,
// views and their columns.
//
// Streams show as tables (relkind 'r': rows are inserted and read, as
// from an append-only table); aggregating continuous views as
// materialized views ('m': their rows are kept and maintained); views
// that do not aggregate (transforms) as views ('v': their rows are
// computed when read). OIDs are stable: a stream or view with catalog
// id n is relation 16384+4n (its primary key index +1, the key's
// constraint +2, its row type +3); pg_catalog's own relations have
// PostgreSQL 15's OIDs.

// Fixed OIDs.
const (
	nsPGCatalog    = 11
	nsPublic       = 2200
	nsInfoSchema   = 13000
	nsCairnCluster = 13001
	roleOID        = 10    // cairn, the superuser, as PostgreSQL's bootstrap superuser
	adminRoleOID   = 16383 // the built-in admin role (just below user OIDs)
	databaseOID    = 5
	firstUserOID   = 16384
	amHeap         = 2
	amBtree        = 403
	collDefault    = 100
	tsDefault      = 1663
)

// PG is the catalogs of one statement. It implements scalar.Catalog.
type PG struct {
	Cat      *catalog.Catalog
	Path     []string // search_path as set, lower-cased ("$user" kept)
	User     string
	Database string
	// Settings lists the session's settings for pg_settings: name,
	// value, description (called only when pg_settings is read).
	Settings func() [][3]string
	// ViewColumns are the output columns of a view (nil: none known).
	ViewColumns func(v *catalog.View) []exec.Column

	once sync.Once
	rels []*rel
	byID map[int64]*rel
}

// rel is one relation of pg_class.
type rel struct {
	oid      int64
	schema   string
	name     string
	kind     byte // r, v, m, i
	cols     []exec.Column
	notNull  []bool
	query    string   // a view's definition
	pk       []int    // primary key columns (tables)
	defaults []string // per column, its DEFAULT's SQL text ("": none; tables)
	index    *rel     // the primary key's index
	table    *rel     // of an index: its table
}

type namespace struct {
	oid  int64
	name string
}

// builtinNamespaces are the schemas every database has.
var builtinNamespaces = []namespace{{nsPGCatalog, "pg_catalog"}, {nsPublic, "public"}, {nsInfoSchema, "information_schema"}, {nsCairnCluster, "cairn_cluster"}}

// namespaces are the built-in schemas and those made by CREATE SCHEMA
// (OID 16384+4*id, like relations).
func (p *PG) namespaces() []namespace {
	ns := slices.Clone(builtinNamespaces)
	if p.Cat != nil {
		for _, name := range p.Cat.SortedSchemas() {
			ns = append(ns, namespace{relOID(p.Cat.Schemas[name]), name})
		}
	}
	return ns
}

func (p *PG) nsOID(name string) (int64, bool) {
	for _, n := range p.namespaces() {
		if n.name == name {
			return n.oid, true
		}
	}
	return 0, false
}

// Relation OIDs of catalog objects.
func relOID(id uint64) int64 { return firstUserOID + 4*int64(id) }

// colType maps relDefs' type names to Cairn types.
var colTypes = map[string]types.T{
	"text": types.Text, "oid": types.Int8, "bool": types.Bool, "int2": types.Int2, "int4": types.Int4, "int8": types.Int8,
	"float4": types.Float4, "timestamptz": types.TimestampTZ, "bytea": types.Bytea,
	"text[]": types.TextArray, "oid[]": types.Int8Array, "int2[]": types.Int2Array,
}

// defCols parses a relDef's column list.
func defCols(d *relDef) []exec.Column {
	var cols []exec.Column
	for _, c := range strings.Split(d.cols, ", ") {
		name, t, _ := strings.Cut(c, " ")
		cols = append(cols, exec.Column{Name: name, T: colTypes[t]})
	}
	return cols
}

func findDef(schema, name string) *relDef {
	for i := range relDefs {
		if relDefs[i].schema == schema && relDefs[i].name == name {
			return &relDefs[i]
		}
	}
	return nil
}

// load builds the relation list once per statement.
func (p *PG) load() {
	p.once.Do(func() {
		p.byID = map[int64]*rel{}
		add := func(r *rel) {
			p.rels = append(p.rels, r)
			p.byID[r.oid] = r
		}
		for i := range relDefs {
			d := &relDefs[i]
			cols := defCols(d)
			add(&rel{oid: d.oid, schema: d.schema, name: d.name, kind: d.kind, cols: cols, notNull: make([]bool, len(cols))})
		}
		if p.Cat == nil {
			return
		}
		for _, s := range p.Cat.SortedStreams() {
			cols := make([]exec.Column, len(s.Cols))
			for i, c := range s.Cols {
				cols[i] = exec.Column{Name: c.Name, T: c.T}
			}
			schema, name := catalog.SplitName(s.Name)
			add(&rel{oid: relOID(s.ID), schema: schema, name: name, kind: 'r', cols: cols, notNull: make([]bool, len(cols))})
		}
		for _, t := range p.Cat.SortedTables() {
			schema, name := catalog.SplitName(t.Name)
			r := &rel{oid: relOID(t.ID), schema: schema, name: name, kind: 'r', pk: t.PrimaryKey}
			for i, c := range t.Columns {
				r.cols = append(r.cols, exec.Column{Name: c.Name, T: c.T})
				r.notNull = append(r.notNull, c.NotNull || t.IsKey(i))
				r.defaults = append(r.defaults, c.Default)
			}
			add(r)
			if len(t.PrimaryKey) > 0 {
				r.index = &rel{oid: r.oid + 1, schema: schema, name: name + "_pkey", kind: 'i', table: r}
				for _, k := range t.PrimaryKey {
					r.index.cols = append(r.index.cols, r.cols[k])
					r.index.notNull = append(r.index.notNull, false)
				}
				add(r.index)
			}
		}
		for _, v := range p.Cat.SortedViews() {
			var cols []exec.Column
			if p.ViewColumns != nil {
				cols = p.ViewColumns(v)
			}
			kind := byte('m')
			if v.Transform {
				kind = 'v'
			}
			schema, name := catalog.SplitName(v.Name)
			add(&rel{oid: relOID(v.ID), schema: schema, name: name, kind: kind, cols: cols, notNull: make([]bool, len(cols)), query: v.Query})
		}
	})
}

// Relations, for tests: "schema.name kind" of every user relation.
func (p *PG) relByName(schema, name string) *rel {
	p.load()
	for _, r := range p.rels {
		if r.schema == schema && r.name == name {
			return r
		}
	}
	return nil
}

// searchPath is the schemas searched for a name, pg_catalog first
// unless the path names it.
func (p *PG) searchPath(implicit bool) []string {
	var out []string
	named := false
	for _, s := range p.Path {
		named = named || s == "pg_catalog"
	}
	if implicit && !named {
		out = append(out, "pg_catalog")
	}
	for _, s := range p.Path {
		if _, ok := p.nsOID(s); ok {
			out = append(out, s)
		}
	}
	return out
}

// SearchPath implements scalar.Catalog.
func (p *PG) SearchPath(implicit bool) []string { return p.searchPath(implicit) }

// RelationOID implements scalar.Catalog.
func (p *PG) RelationOID(name string) (int64, bool) {
	if schema, n, ok := strings.Cut(name, "."); ok {
		if r := p.relByName(schema, n); r != nil {
			return r.oid, true
		}
		return 0, false
	}
	for _, s := range p.searchPath(true) {
		if r := p.relByName(s, name); r != nil {
			return r.oid, true
		}
	}
	return 0, false
}

// RelationName implements scalar.Catalog.
func (p *PG) RelationName(oid int64) (string, bool) {
	p.load()
	r := p.byID[oid]
	if r == nil {
		return "", false
	}
	if p.TableIsVisible(oid) {
		return parser.QuoteIdent(r.name), true
	}
	return parser.QuoteIdent(r.schema) + "." + parser.QuoteIdent(r.name), true
}

// TableIsVisible implements scalar.Catalog: the relation is the first
// of its name along the search path.
func (p *PG) TableIsVisible(oid int64) bool {
	p.load()
	r := p.byID[oid]
	if r == nil {
		return false
	}
	for _, s := range p.searchPath(true) {
		if f := p.relByName(s, r.name); f != nil {
			return f == r
		}
	}
	return false
}

// NamespaceOID implements scalar.Catalog.
func (p *PG) NamespaceOID(name string) (int64, bool) { return p.nsOID(name) }

// NamespaceName implements scalar.Catalog.
func (p *PG) NamespaceName(oid int64) (string, bool) {
	for _, n := range p.namespaces() {
		if n.oid == oid {
			return n.name, true
		}
	}
	return "", false
}

// ViewDef implements scalar.Catalog.
func (p *PG) ViewDef(oid int64) (string, bool) {
	p.load()
	if r := p.byID[oid]; r != nil && (r.kind == 'v' || r.kind == 'm') && r.query != "" {
		return r.query, true
	}
	return "", false
}

// IndexDef implements scalar.Catalog.
func (p *PG) IndexDef(oid int64) (string, bool) {
	p.load()
	r := p.byID[oid]
	if r == nil || r.kind != 'i' {
		return "", false
	}
	t := r.table
	return "CREATE UNIQUE INDEX " + parser.QuoteIdent(r.name) + " ON " + parser.QuoteIdent(t.schema) + "." + parser.QuoteIdent(t.name) +
		" USING btree (" + t.keyList() + ")", true
}

// ConstraintDef implements scalar.Catalog.
func (p *PG) ConstraintDef(oid int64) (string, bool) {
	p.load()
	r := p.byID[oid-2]
	if r == nil || len(r.pk) == 0 {
		return "", false
	}
	return "PRIMARY KEY (" + r.keyList() + ")", true
}

func (r *rel) keyList() string {
	names := make([]string, len(r.pk))
	for i, c := range r.pk {
		names[i] = parser.QuoteIdent(r.cols[c].Name)
	}
	return strings.Join(names, ", ")
}

// UserName implements scalar.Catalog.
func (p *PG) UserName(oid int64) (string, bool) {
	for _, r := range p.Cat.SortedRoles() {
		if roleOIDOf(r) == oid {
			return r.Name, true
		}
	}
	return "", false
}

// RoleOID implements scalar.Catalog.
func (p *PG) RoleOID(name string) (int64, bool) {
	if r := p.Cat.Role(name); r != nil {
		return roleOIDOf(r), true
	}
	return 0, false
}

var (
	_ scalar.Catalog          = (*PG)(nil)
	_ scalar.PrivilegeChecker = (*PG)(nil)
)

// table builds a MemTable of a relDef's shape; add takes column
// name/value pairs, and columns not named get their type's zero (0,
// false) or NULL (text, arrays, times).
type table struct {
	t   *exec.MemTable
	idx map[string]int
}

func newTable(d *relDef) *table {
	cols := defCols(d)
	idx := make(map[string]int, len(cols))
	for i, c := range cols {
		idx[c.Name] = i
	}
	return &table{t: &exec.MemTable{Cols: cols}, idx: idx}
}

// addSome is add for rows written to relations of different shapes
// (pg_roles, pg_authid, pg_user): names the relation lacks are skipped.
func (b *table) addSome(kv ...any) {
	var keep []any
	for j := 0; j+1 < len(kv); j += 2 {
		if _, ok := b.idx[kv[j].(string)]; ok {
			keep = append(keep, kv[j], kv[j+1])
		}
	}
	b.add(keep...)
}

func (b *table) add(kv ...any) {
	row := make([]types.Datum, len(b.t.Cols))
	for i, c := range b.t.Cols {
		switch {
		case c.T == types.Bool:
			row[i] = types.NewBool(false)
		case c.T.IsInt():
			row[i] = types.NewInt(c.T, 0)
		case c.T.IsFloat():
			row[i] = types.NewFloat(c.T, 0)
		default:
			row[i] = types.NullOf(c.T)
		}
	}
	for j := 0; j+1 < len(kv); j += 2 {
		i, ok := b.idx[kv[j].(string)]
		if !ok {
			panic("systables: no column " + kv[j].(string)) // a broken relDef, caught by the tests
		}
		t := b.t.Cols[i].T
		switch v := kv[j+1].(type) {
		case nil:
			row[i] = types.NullOf(t)
		case string:
			row[i] = types.NewText(v)
		case byte:
			row[i] = types.NewText(string(v))
		case bool:
			row[i] = types.NewBool(v)
		case int:
			row[i] = num(t, int64(v))
		case int64:
			row[i] = num(t, v)
		case uint32:
			row[i] = num(t, int64(v))
		case int16:
			row[i] = num(t, int64(v))
		case []int64:
			ds := make([]types.Datum, len(v))
			for k, x := range v {
				ds[k] = types.NewInt(t.Elem(), x)
			}
			row[i] = types.Datum{T: t, S: string(types.AppendArray(nil, ds))}
		case []string:
			ds := make([]types.Datum, len(v))
			for k, x := range v {
				ds[k] = types.NewText(x)
			}
			row[i] = types.Datum{T: t, S: string(types.AppendArray(nil, ds))}
		default:
			panic("systables: unexpected value type")
		}
	}
	b.t.Rows = append(b.t.Rows, row)
}

func num(t types.T, v int64) types.Datum {
	if t.IsFloat() {
		return types.NewFloat(t, float64(v))
	}
	return types.NewInt(t, v)
}

// Table returns pg_catalog.name or information_schema.name; ok is false
// when Cairn has no such relation.
func (p *PG) Table(schema, name string) (*exec.MemTable, bool) {
	d := findDef(schema, name)
	if d == nil {
		return nil, false
	}
	p.load()
	b := newTable(d)
	if fill := fillers[schema+"."+name]; fill != nil {
		fill(p, b)
	}
	return b.t, true
}

// fillers write the rows of the relations Cairn has something in; the
// others are empty (no rules, triggers, policies, publications,
// comments, ...).
var fillers map[string]func(p *PG, b *table)

func init() {
	fillers = map[string]func(p *PG, b *table){
		"pg_catalog.pg_namespace":              fillNamespace,
		"pg_catalog.pg_class":                  fillClass,
		"pg_catalog.pg_attribute":              fillAttribute,
		"pg_catalog.pg_type":                   fillType,
		"pg_catalog.pg_proc":                   fillProc,
		"pg_catalog.pg_database":               fillDatabase,
		"pg_catalog.pg_roles":                  fillRoles(false, false),
		"pg_catalog.pg_authid":                 fillRoles(true, false),
		"pg_catalog.pg_user":                   fillRoles(false, true),
		"pg_catalog.pg_auth_members":           fillAuthMembers,
		"information_schema.table_privileges":  fillTablePrivileges(true),
		"information_schema.role_table_grants": fillTablePrivileges(false),
		"pg_catalog.pg_settings":               fillSettings,
		"pg_catalog.pg_index":                  fillIndex,
		"pg_catalog.pg_indexes":                fillIndexes,
		"pg_catalog.pg_constraint":             fillConstraint,
		"pg_catalog.pg_views":                  fillViews('v'),
		"pg_catalog.pg_matviews":               fillViews('m'),
		"pg_catalog.pg_tables":                 fillTables,
		"pg_catalog.pg_am":                     fillAm,
		"pg_catalog.pg_attrdef":                fillAttrdef,
		"pg_catalog.pg_tablespace":             fillTablespace,
		"pg_catalog.pg_collation":              fillCollation,
		"pg_catalog.pg_language":               fillLanguage,
		"information_schema.schemata":          fillSchemata,
		"information_schema.tables":            fillISTables,
		"information_schema.columns":           fillISColumns,
		"information_schema.views":             fillISViews,
		"information_schema.table_constraints": fillISConstraints,
		"information_schema.key_column_usage":  fillISKeys,
		"information_schema.routines":          fillISRoutines,
	}
}

func fillNamespace(p *PG, b *table) {
	for _, n := range p.namespaces() {
		b.add("oid", n.oid, "nspname", n.name, "nspowner", p.ownerOID(catalog.KindSchema, n.name), "nspacl", p.acl(catalog.KindSchema, n.name))
	}
}

func fillClass(p *PG, b *table) {
	for _, r := range p.rels {
		ns, _ := p.nsOID(r.schema)
		am, replident := int64(0), byte('n')
		switch r.kind {
		case 'r', 'm':
			am, replident = amHeap, 'd'
		case 'i':
			am = amBtree
		}
		reltype := r.oid + 3
		if r.kind == 'i' || r.schema == "pg_catalog" || r.schema == "information_schema" {
			reltype = 0
		}
		owner, acl := int64(roleOID), any(nil)
		if kind, key := p.relObject(r); kind != "" {
			owner, acl = p.ownerOID(kind, key), p.acl(kind, key)
		} else if r.table != nil { // a primary key's index: its table's owner
			if kind, key := p.relObject(r.table); kind != "" {
				owner = p.ownerOID(kind, key)
			}
		}
		b.add("oid", r.oid, "relname", r.name, "relnamespace", ns, "reltype", reltype, "relowner", owner, "relacl", acl, "relam", am,
			"relfilenode", 0, "reltuples", -1, "relhasindex", r.index != nil, "relpersistence", byte('p'), "relkind", r.kind,
			"relnatts", len(r.cols), "relhasrules", r.kind == 'v', "relispopulated", true, "relreplident", replident,
			"relfrozenxid", 0, "relminmxid", 0)
	}
}

func fillAttribute(p *PG, b *table) {
	for _, r := range p.rels {
		for i, c := range r.cols {
			pt, _ := types.PGTypeByOID(c.T.OID())
			var align, storage byte = 'i', 'p'
			var coll uint32
			length, byVal := int16(-1), false
			if pt != nil {
				align, storage, coll, length, byVal = pt.Align, pt.Storage, pt.Collation, pt.Len, pt.ByVal
			}
			b.add("attrelid", r.oid, "attname", c.Name, "atttypid", c.T.OID(), "attstattarget", -1, "attlen", length,
				"attnum", i+1, "attcacheoff", -1, "atttypmod", -1, "attbyval", byVal, "attalign", align, "attstorage", storage,
				"attcompression", "", "attnotnull", r.notNull[i], "atthasdef", r.hasDefault(i), "attidentity", "", "attgenerated", "", "attislocal", true,
				"attcollation", coll)
		}
	}
}

func fillType(p *PG, b *table) {
	for _, t := range types.PGTypes {
		subscript := "-"
		if t.Category == 'A' {
			subscript = "array_subscript_handler"
		}
		b.add("oid", t.OID, "typname", t.Name, "typnamespace", nsPGCatalog, "typowner", roleOID, "typlen", t.Len,
			"typbyval", t.ByVal, "typtype", t.Type, "typcategory", t.Category, "typispreferred", t.Preferred,
			"typisdefined", true, "typdelim", ",", "typrelid", 0, "typsubscript", subscript, "typelem", t.Elem, "typarray", t.Array,
			"typinput", t.Input, "typoutput", t.Output, "typreceive", t.Receive, "typsend", t.Send, "typmodin", "-", "typmodout", "-",
			"typanalyze", "-", "typalign", t.Align, "typstorage", t.Storage, "typnotnull", false, "typbasetype", 0,
			"typtypmod", -1, "typndims", 0, "typcollation", t.Collation)
	}
}

func fillProc(p *PG, b *table) {
	for _, f := range scalar.Procs() {
		kind := byte('f')
		if f.Agg {
			kind = 'a'
		}
		b.add("oid", f.OID, "proname", f.Name, "pronamespace", nsPGCatalog, "proowner", roleOID, "prolang", 12,
			"procost", 1, "prosupport", "-", "prokind", kind, "provolatile", byte('s'), "proparallel", byte('s'))
	}
}

func fillDatabase(p *PG, b *table) {
	b.add("oid", databaseOID, "datname", p.Database, "datdba", roleOID, "encoding", 6, "datlocprovider", byte('c'),
		"datallowconn", true, "datconnlimit", -1, "datminmxid", 1, "dattablespace", tsDefault, "datcollate", "C", "datctype", "C")
}

func fillSettings(p *PG, b *table) {
	if p.Settings == nil {
		return
	}
	for _, s := range p.Settings() {
		b.add("name", s[0], "setting", s[1], "category", "Cairn", "short_desc", s[2], "context", "user", "vartype", "string",
			"source", "session", "pending_restart", false)
	}
}

func fillIndex(p *PG, b *table) {
	for _, r := range p.rels {
		if r.kind != 'i' {
			continue
		}
		keys := make([]int64, len(r.table.pk))
		for i, c := range r.table.pk {
			keys[i] = int64(c + 1)
		}
		b.add("indexrelid", r.oid, "indrelid", r.table.oid, "indnatts", len(keys), "indnkeyatts", len(keys), "indisunique", true,
			"indisprimary", true, "indimmediate", true, "indisvalid", true, "indisready", true, "indislive", true, "indkey", keys)
	}
}

func fillIndexes(p *PG, b *table) {
	for _, r := range p.rels {
		if r.kind == 'i' {
			def, _ := p.IndexDef(r.oid)
			b.add("schemaname", r.schema, "tablename", r.table.name, "indexname", r.name, "indexdef", def)
		}
	}
}

func fillConstraint(p *PG, b *table) {
	for _, r := range p.rels {
		if r.kind != 'r' || len(r.pk) == 0 {
			continue
		}
		ns, _ := p.nsOID(r.schema)
		keys := make([]int64, len(r.pk))
		for i, c := range r.pk {
			keys[i] = int64(c + 1)
		}
		b.add("oid", r.oid+2, "conname", r.index.name, "connamespace", ns, "contype", byte('p'), "convalidated", true,
			"conrelid", r.oid, "conindid", r.index.oid, "confupdtype", " ", "confdeltype", " ", "confmatchtype", " ",
			"conislocal", true, "connoinherit", true, "conkey", keys)
	}
}

func fillViews(kind byte) func(p *PG, b *table) {
	return func(p *PG, b *table) {
		for _, r := range p.rels {
			if r.kind != kind || r.query == "" {
				continue
			}
			if kind == 'v' {
				b.add("schemaname", r.schema, "viewname", r.name, "viewowner", p.User, "definition", r.query)
			} else {
				b.add("schemaname", r.schema, "matviewname", r.name, "matviewowner", p.User, "ispopulated", true, "definition", r.query)
			}
		}
	}
}

func fillTables(p *PG, b *table) {
	for _, r := range p.rels {
		if r.kind == 'r' {
			b.add("schemaname", r.schema, "tablename", r.name, "tableowner", p.User, "hasindexes", r.index != nil)
		}
	}
}

func (r *rel) hasDefault(i int) bool { return i < len(r.defaults) && r.defaults[i] != "" }

// fillAttrdef lists column defaults: adbin holds the default's SQL text
// (Cairn keeps no expression trees), which pg_get_expr returns as is.
func fillAttrdef(p *PG, b *table) {
	for _, r := range p.rels {
		for i := range r.cols {
			if r.hasDefault(i) {
				b.add("oid", r.oid*1000+int64(i+1), "adrelid", r.oid, "adnum", i+1, "adbin", r.defaults[i])
			}
		}
	}
}

func fillAm(p *PG, b *table) {
	b.add("oid", amHeap, "amname", "heap", "amhandler", "heap_tableam_handler", "amtype", byte('t'))
	b.add("oid", amBtree, "amname", "btree", "amhandler", "bthandler", "amtype", byte('i'))
}

func fillTablespace(p *PG, b *table) {
	b.add("oid", tsDefault, "spcname", "pg_default", "spcowner", roleOID)
	b.add("oid", 1664, "spcname", "pg_global", "spcowner", roleOID)
}

func fillCollation(p *PG, b *table) {
	for _, c := range []struct {
		oid            int64
		name, provider string
	}{{collDefault, "default", "d"}, {950, "C", "c"}, {951, "POSIX", "c"}} {
		b.add("oid", c.oid, "collname", c.name, "collnamespace", nsPGCatalog, "collowner", roleOID, "collprovider", c.provider,
			"collisdeterministic", true, "collencoding", -1, "collcollate", nil, "collctype", nil)
	}
}

func fillLanguage(p *PG, b *table) {
	b.add("oid", 12, "lanname", "internal", "lanowner", roleOID, "lanvalidator", 0)
}

// information_schema.

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

func fillSchemata(p *PG, b *table) {
	for _, n := range p.namespaces() {
		b.add("catalog_name", p.Database, "schema_name", n.name, "schema_owner", p.User)
	}
}

// isTable: the user relations information_schema lists (PostgreSQL's
// leaves materialized views out; Cairn lists its continuous views as
// views, since they are what tools are pointed at).
func isTable(r *rel) bool {
	return (r.kind == 'r' || r.kind == 'v' || r.kind == 'm') && r.oid >= firstUserOID
}

func fillISTables(p *PG, b *table) {
	for _, r := range p.rels {
		if r.kind != 'r' && r.kind != 'v' && r.kind != 'm' {
			continue
		}
		typ := "BASE TABLE"
		if r.kind != 'r' {
			typ = "VIEW"
		}
		b.add("table_catalog", p.Database, "table_schema", r.schema, "table_name", r.name, "table_type", typ,
			"is_insertable_into", yesNo(r.kind == 'r' && isTable(r)), "is_typed", "NO")
	}
}

// isDataType is information_schema's data_type of a column type.
func isDataType(t types.T) string {
	if t.IsArray() {
		return "ARRAY"
	}
	return t.String()
}

func fillISColumns(p *PG, b *table) {
	for _, r := range p.rels {
		if r.kind != 'r' && r.kind != 'v' && r.kind != 'm' {
			continue
		}
		for i, c := range r.cols {
			pt, _ := types.PGTypeByOID(c.T.OID())
			udt := ""
			if pt != nil {
				udt = pt.Name
			}
			kv := []any{"table_catalog", p.Database, "table_schema", r.schema, "table_name", r.name, "column_name", c.Name,
				"ordinal_position", i + 1, "is_nullable", yesNo(!r.notNull[i]), "data_type", isDataType(c.T),
				"udt_catalog", p.Database, "udt_schema", "pg_catalog", "udt_name", udt, "dtd_identifier", strconv.Itoa(i + 1),
				"is_self_referencing", "NO", "is_identity", "NO", "is_generated", "NEVER", "is_updatable", yesNo(r.kind == 'r' && isTable(r)),
				"character_maximum_length", nil, "character_octet_length", nil, "numeric_precision", nil, "numeric_precision_radix", nil,
				"numeric_scale", nil, "datetime_precision", nil, "interval_precision", nil, "maximum_cardinality", nil}
			if r.hasDefault(i) {
				kv = append(kv, "column_default", r.defaults[i])
			}
			switch c.T {
			case types.Int2, types.Int4, types.Int8:
				kv = append(kv, "numeric_precision", map[types.T]int{types.Int2: 16, types.Int4: 32, types.Int8: 64}[c.T], "numeric_precision_radix", 2, "numeric_scale", 0)
			case types.Float4, types.Float8:
				kv = append(kv, "numeric_precision", map[types.T]int{types.Float4: 24, types.Float8: 53}[c.T], "numeric_precision_radix", 2)
			case types.Numeric:
				kv = append(kv, "numeric_precision_radix", 10)
			case types.Text:
				kv = append(kv, "character_octet_length", 1073741824)
			case types.Timestamp, types.TimestampTZ, types.Interval:
				kv = append(kv, "datetime_precision", 6)
			case types.Date:
				kv = append(kv, "datetime_precision", 0)
			}
			b.add(kv...)
		}
	}
}

func fillISViews(p *PG, b *table) {
	for _, r := range p.rels {
		if (r.kind == 'v' || r.kind == 'm') && isTable(r) {
			b.add("table_catalog", p.Database, "table_schema", r.schema, "table_name", r.name, "view_definition", r.query,
				"check_option", "NONE", "is_updatable", "NO", "is_insertable_into", "NO", "is_trigger_updatable", "NO",
				"is_trigger_deletable", "NO", "is_trigger_insertable_into", "NO")
		}
	}
}

func fillISConstraints(p *PG, b *table) {
	for _, r := range p.rels {
		if r.kind == 'r' && len(r.pk) > 0 {
			b.add("constraint_catalog", p.Database, "constraint_schema", r.schema, "constraint_name", r.index.name,
				"table_catalog", p.Database, "table_schema", r.schema, "table_name", r.name, "constraint_type", "PRIMARY KEY",
				"is_deferrable", "NO", "initially_deferred", "NO", "enforced", "YES", "nulls_distinct", nil)
		}
	}
}

func fillISKeys(p *PG, b *table) {
	for _, r := range p.rels {
		if r.kind != 'r' {
			continue
		}
		for i, c := range r.pk {
			b.add("constraint_catalog", p.Database, "constraint_schema", r.schema, "constraint_name", r.index.name,
				"table_catalog", p.Database, "table_schema", r.schema, "table_name", r.name, "column_name", r.cols[c].Name,
				"ordinal_position", i+1, "position_in_unique_constraint", nil)
		}
	}
}

func fillISRoutines(p *PG, b *table) {
	for _, f := range scalar.Procs() {
		b.add("specific_catalog", p.Database, "specific_schema", "pg_catalog", "specific_name", f.Name+"_"+strconv.FormatInt(f.OID, 10),
			"routine_catalog", p.Database, "routine_schema", "pg_catalog", "routine_name", f.Name, "routine_type", "FUNCTION",
			"external_language", "INTERNAL", "is_deterministic", "NO", "security_type", "INVOKER")
	}
}
