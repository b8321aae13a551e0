package parser

import (
	"fmt"
	"strconv"
	"strings"
)

// Format prints a statement back as SQL in a canonical form: keywords
// upper-case, every compound expression parenthesised, identifiers quoted
// when needed. Parsing the output yields a statement that formats the
// same (the fuzz test checks this).
func Format(s Statement) string {
	var b strings.Builder
	formatStmt(&b, s)
	return b.String()
}

// FormatExpr prints an expression as SQL (see Format).
func FormatExpr(e Expr) string {
	var b strings.Builder
	formatExpr(&b, e)
	return b.String()
}

// QuoteIdent returns name as an SQL identifier, double-quoted when it
// would otherwise be lower-cased, be read as a keyword, or not lex as one
// identifier.
func QuoteIdent(name string) string {
	if isPlainIdent(name) {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}

func isPlainIdent(s string) bool {
	if s == "" || reservedWords[s] || specialWords[s] {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '_':
		case (c >= '0' && c <= '9' || c == '$') && i > 0:
		default:
			return false
		}
	}
	return true
}

// QuoteString returns s as a standard-conforming SQL string literal.
func QuoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func formatStmt(b *strings.Builder, s Statement) {
	if formatSchemaStmt(b, s) || formatRoleStmt(b, s) || formatDiskStmt(b, s) || formatBackupStmt(b, s) || formatAlertStmt(b, s) {
		return
	}
	switch s := s.(type) {
	case *CreateStream:
		if s.Foreign {
			b.WriteString("CREATE FOREIGN TABLE ")
		} else {
			b.WriteString("CREATE STREAM ")
		}
		if s.IfNotExists {
			b.WriteString("IF NOT EXISTS ")
		}
		b.WriteString(QuoteObject(s.Name))
		b.WriteString(" (")
		for i, c := range s.Cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(QuoteIdent(c.Name))
			b.WriteByte(' ')
			formatType(b, c.Type)
		}
		b.WriteByte(')')
		if s.Foreign {
			b.WriteString(" SERVER ")
			b.WriteString(QuoteIdent(s.Server))
			if len(s.With) > 0 {
				b.WriteString(" OPTIONS ")
				formatOptions(b, s.With, " = ", true)
			}
		} else if len(s.With) > 0 {
			b.WriteString(" WITH ")
			formatOptions(b, s.With, " = ", true)
		}
	case *CreateView:
		b.WriteString("CREATE ")
		if s.OrReplace {
			b.WriteString("OR REPLACE ")
		}
		switch s.Kind {
		case ViewMaterialized:
			b.WriteString("MATERIALIZED VIEW ")
		case ViewContinuous:
			b.WriteString("CONTINUOUS VIEW ")
		default:
			b.WriteString("VIEW ")
		}
		if s.IfNotExists {
			b.WriteString("IF NOT EXISTS ")
		}
		b.WriteString(QuoteObject(s.Name))
		if len(s.With) > 0 {
			b.WriteString(" WITH ")
			formatOptions(b, s.With, " = ", true)
		}
		b.WriteString(" AS ")
		if s.Query != nil {
			formatSelect(b, s.Query)
		}
		if len(s.Settings) > 0 {
			b.WriteString(" SETTINGS ")
			formatOptions(b, s.Settings, " = ", false)
		}
	case *Drop:
		b.WriteString("DROP ")
		switch s.Kind {
		case ObjStream:
			b.WriteString("STREAM ")
		case ObjTable:
			b.WriteString("TABLE ")
		default:
			b.WriteString("VIEW ")
		}
		if s.IfExists {
			b.WriteString("IF EXISTS ")
		}
		formatObjects(b, s.Names)
		if s.Cascade {
			b.WriteString(" CASCADE")
		}
	case *Insert:
		b.WriteString("INSERT INTO ")
		b.WriteString(QuoteObject(s.Table))
		if len(s.Cols) > 0 {
			b.WriteString(" (")
			formatNames(b, s.Cols)
			b.WriteByte(')')
		}
		if s.Select != nil {
			b.WriteByte(' ')
			formatSelect(b, s.Select)
		} else if len(s.Rows) == 1 && len(s.Rows[0]) == 0 {
			b.WriteString(" DEFAULT VALUES")
		} else {
			b.WriteString(" VALUES ")
			for i, row := range s.Rows {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteByte('(')
				formatExprs(b, row)
				b.WriteByte(')')
			}
		}
		if s.OnConflict != nil {
			formatOnConflict(b, s.OnConflict)
		}
	case *Copy:
		b.WriteString("COPY ")
		b.WriteString(QuoteObject(s.Table))
		if len(s.Cols) > 0 {
			b.WriteString(" (")
			formatNames(b, s.Cols)
			b.WriteByte(')')
		}
		b.WriteString(" FROM STDIN")
		if len(s.Options) > 0 {
			b.WriteString(" WITH ")
			formatOptions(b, s.Options, " ", true)
		}
	case *Select:
		formatSelect(b, s)
	case *Explain:
		formatExplain(b, s)
	case *Set:
		b.WriteString("SET ")
		if s.Local {
			b.WriteString("LOCAL ")
		}
		b.WriteString(quoteDotted(s.Name, setAvoid))
		b.WriteString(" = ")
		if s.Default {
			b.WriteString("DEFAULT")
		} else {
			for i, v := range s.Values {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(QuoteString(v))
			}
		}
	case *AlterSystemSet:
		b.WriteString("ALTER SYSTEM ")
		switch {
		case s.Reset && s.Name == "all":
			b.WriteString("RESET ALL")
		case s.Reset:
			b.WriteString("RESET ")
			b.WriteString(quoteDotted(s.Name, resetAvoid))
		default:
			b.WriteString("SET ")
			b.WriteString(quoteDotted(s.Name, nil))
			b.WriteString(" = ")
			b.WriteString(QuoteString(s.Value))
		}
	case *Show:
		if s.Name == "all" {
			b.WriteString("SHOW ALL")
		} else {
			b.WriteString("SHOW ")
			b.WriteString(quoteDotted(s.Name, showAvoid))
		}
	case *ShowObjects:
		b.WriteString("SHOW ")
		b.WriteString(strings.ToUpper(s.Kind))
	case *Reset:
		if s.All {
			b.WriteString("RESET ALL")
		} else {
			b.WriteString("RESET ")
			b.WriteString(quoteDotted(s.Name, resetAvoid))
		}
	case *AlterNode:
		b.WriteString("ALTER NODE ")
		b.WriteString(QuoteString(s.Node))
		if s.Action == ActionSetWeight {
			fmt.Fprintf(b, " SET WEIGHT %d", s.Weight)
			break
		}
		b.WriteByte(' ')
		b.WriteString(strings.ToUpper(s.Action))
	case *AlterShard:
		switch s.Action {
		case "recover_replica":
			fmt.Fprintf(b, "ALTER SHARD %d RECOVER REPLICA ON %s", s.Shard, QuoteString(s.Node))
		case "force_recover":
			fmt.Fprintf(b, "ALTER SHARD %d FORCE RECOVER", s.Shard)
			if s.Confirm {
				b.WriteString(" CONFIRM DATA LOSS")
			}
		default:
			fmt.Fprintf(b, "ALTER SHARD %d TRANSFER LEADER TO %s", s.Shard, QuoteString(s.Node))
		}
	case *Rebalance:
		b.WriteString("ALTER SYSTEM REBALANCE")
	case *CancelOperation:
		fmt.Fprintf(b, "CANCEL OPERATION %d", s.ID)
	case *FailoverRegion:
		s.format(b) // regions.go
	case *Failover:
		b.WriteString("ALTER SYSTEM FAILOVER TO ")
		b.WriteString(QuoteString(s.Node))
	case *Begin:
		b.WriteString("BEGIN")
		if s.ReadOnly {
			b.WriteString(" READ ONLY")
		}
	case *Commit:
		b.WriteString("COMMIT")
	case *Rollback:
		b.WriteString("ROLLBACK")
	case *Empty:
	default:
		if !formatTableStmt(b, s) && !formatProto(b, s) {
			fmt.Fprintf(b, "<unknown statement %T>", s)
		}
	}
}

// quoteDotted quotes a setting name; a name that is one of the words in
// avoid (which would start some other syntax) is quoted too.
func quoteDotted(name string, avoid map[string]bool) string {
	if avoid[name] {
		return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
	}
	parts := strings.Split(name, ".")
	for _, p := range parts {
		if p == "" {
			return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
		}
	}
	for i, p := range parts {
		parts[i] = QuoteIdent(p)
	}
	return strings.Join(parts, ".")
}

var (
	setAvoid   = setOf("local", "session", "time", "names", "schema", "transaction")
	showAvoid  = setOf("streams", "views", "nodes", "shards", "operations", "tables", "all", "time", "transaction", "session", "materialized")
	resetAvoid = setOf("all", "time")
)

// isBareWord reports whether s lexes as one unquoted word that an option
// value reads back as the same bare word.
func isBareWord(s string) bool {
	if s == "" || s == "true" || s == "false" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '$')) {
			return false
		}
	}
	return true
}

// keywordFuncs print as their bare keyword when called with no arguments.
var keywordFuncs = setOf("current_date", "current_time", "localtimestamp", "localtime",
	"current_user", "session_user", "current_catalog", "current_schema")

func formatNames(b *strings.Builder, names []string) {
	for i, n := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(n))
	}
}

func formatOptions(b *strings.Builder, opts []Option, sep string, paren bool) {
	if paren {
		b.WriteByte('(')
	}
	for i, o := range opts {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(o.Key))
		if o.Value != nil {
			b.WriteString(sep)
			// A bare word value is any word to the parser, keywords included.
			if c, ok := o.Value.(*ColumnRef); ok && c.Table == "" && isBareWord(c.Name) {
				b.WriteString(c.Name)
			} else {
				formatExpr(b, o.Value)
			}
		}
	}
	if paren {
		b.WriteByte(')')
	}
}

// typeNeedsMore are type words that parseTypeName only accepts as the
// start of a longer name, so alone they must be quoted.
var typeNeedsMore = setOf("double", "national")

// multiwordTypes are the type names parseTypeName builds from several
// words.
var multiwordTypes = setOf("double precision", "character varying",
	"timestamp with time zone", "timestamp without time zone",
	"time with time zone", "time without time zone")

func formatType(b *strings.Builder, t TypeName) {
	if elem, ok := strings.CutSuffix(t.Name, "[]"); ok {
		t.Name = elem
		formatType(b, t)
		b.WriteString("[]")
		return
	}
	name := t.Name
	if multiwordTypes[name] || isPlainIdent(name) || specialWords[name] && !typeNeedsMore[name] {
		// Multiword and keyword type names are written as words.
		b.WriteString(typeHead(name))
	} else {
		b.WriteString(QuoteIdent(name))
	}
	if len(t.Mods) > 0 {
		b.WriteByte('(')
		for i, m := range t.Mods {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Itoa(m))
		}
		b.WriteByte(')')
	}
	if tail := typeTail(name); tail != "" {
		b.WriteString(tail)
	}
}

// typeHead and typeTail split "timestamp with time zone" so modifiers go
// after "timestamp", where the parser expects them.
func typeHead(name string) string {
	for _, z := range []string{" with time zone", " without time zone"} {
		if h, ok := strings.CutSuffix(name, z); ok && multiwordTypes[name] {
			return h
		}
	}
	return name
}

func typeTail(name string) string {
	for _, z := range []string{" with time zone", " without time zone"} {
		if strings.HasSuffix(name, z) && multiwordTypes[name] {
			return z
		}
	}
	return ""
}

func formatSelect(b *strings.Builder, s *Select) {
	if !s.IsSimple() {
		formatQuery(b, s)
		return
	}
	b.WriteString("SELECT ")
	if s.Distinct {
		b.WriteString("DISTINCT ")
	}
	if s.DistinctOn != nil {
		formatDistinctOn(b, s)
	}
	for i, it := range s.Items {
		if i > 0 {
			b.WriteString(", ")
		}
		formatExpr(b, it.Expr)
		if it.Alias != "" {
			b.WriteString(" AS ")
			b.WriteString(QuoteIdent(it.Alias))
		}
	}
	if f := s.From; f != nil {
		b.WriteString(" FROM ")
		formatTableRef(b, f)
	}
	if s.Where != nil {
		b.WriteString(" WHERE ")
		formatExpr(b, s.Where)
	}
	if len(s.GroupBy) > 0 {
		b.WriteString(" GROUP BY ")
		formatExprs(b, s.GroupBy)
	}
	if s.Having != nil {
		b.WriteString(" HAVING ")
		formatExpr(b, s.Having)
	}
	if len(s.Windows) > 0 {
		formatWindowClause(b, s)
	}
	if len(s.OrderBy) > 0 {
		b.WriteString(" ORDER BY ")
		formatOrderItems(b, s.OrderBy)
	}
	if s.Limit != nil {
		b.WriteString(" LIMIT ")
		formatExpr(b, s.Limit)
	}
	if s.Offset != nil {
		b.WriteString(" OFFSET ")
		formatExpr(b, s.Offset)
	}
}

func formatExprs(b *strings.Builder, es []Expr) {
	for i, e := range es {
		if i > 0 {
			b.WriteString(", ")
		}
		formatExpr(b, e)
	}
}

func formatExpr(b *strings.Builder, e Expr) {
	switch e := e.(type) {
	case nil:
		b.WriteString("<nil>")
	case *ColumnRef:
		if e.Table != "" {
			b.WriteString(QuoteIdent(e.Table))
			b.WriteByte('.')
		}
		b.WriteString(QuoteIdent(e.Name))
	case *Star:
		if e.Table != "" {
			b.WriteString(QuoteIdent(e.Table))
			b.WriteByte('.')
		}
		b.WriteByte('*')
	case *Literal:
		switch e.Kind {
		case LitNull:
			b.WriteString("NULL")
		case LitBool:
			b.WriteString(strings.ToUpper(e.Val))
		case LitString:
			b.WriteString(QuoteString(e.Val))
		default:
			b.WriteString(e.Val)
		}
	case *Param:
		fmt.Fprintf(b, "$%d", e.N)
	case *Unary:
		b.WriteByte('(')
		b.WriteString(e.Op)
		b.WriteByte(' ')
		formatExpr(b, e.X)
		b.WriteByte(')')
	case *Binary:
		b.WriteByte('(')
		formatExpr(b, e.L)
		b.WriteByte(' ')
		b.WriteString(e.Op)
		b.WriteByte(' ')
		formatExpr(b, e.R)
		b.WriteByte(')')
	case *IsNull:
		b.WriteByte('(')
		formatExpr(b, e.X)
		if e.Not {
			b.WriteString(" IS NOT NULL)")
		} else {
			b.WriteString(" IS NULL)")
		}
	case *IsBool:
		b.WriteByte('(')
		formatExpr(b, e.X)
		b.WriteString(" IS ")
		if e.Not {
			b.WriteString("NOT ")
		}
		if e.Val {
			b.WriteString("TRUE)")
		} else {
			b.WriteString("FALSE)")
		}
	case *InList:
		b.WriteByte('(')
		formatExpr(b, e.X)
		if e.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" IN (")
		formatExprs(b, e.List)
		b.WriteString("))")
	case *Between:
		b.WriteByte('(')
		formatExpr(b, e.X)
		if e.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" BETWEEN ")
		formatExpr(b, e.Lo)
		b.WriteString(" AND ")
		formatExpr(b, e.Hi)
		b.WriteByte(')')
	case *FieldSel:
		b.WriteByte('(')
		formatExpr(b, e.X)
		b.WriteString(").")
		b.WriteString(QuoteIdent(e.Field))
	case *Cast:
		// A negative number must be parenthesised: -1::text is -(1::text).
		if l, ok := e.X.(*Literal); ok && strings.HasPrefix(l.Val, "-") && (l.Kind == LitInt || l.Kind == LitFloat) {
			b.WriteByte('(')
			formatExpr(b, e.X)
			b.WriteByte(')')
		} else {
			formatExpr(b, e.X)
		}
		b.WriteString("::")
		formatType(b, e.Type)
	case *Func:
		switch {
		case e.Name == ArrayFunc && !e.Star && !e.Distinct:
			b.WriteString("ARRAY[")
			formatExprs(b, e.Args)
			b.WriteByte(']')
			return
		case e.Name == SubscriptFunc && len(e.Args) == 2:
			b.WriteByte('(')
			formatExpr(b, e.Args[0])
			b.WriteString(")[")
			formatExpr(b, e.Args[1])
			b.WriteByte(']')
			return
		}
		if keywordFuncs[e.Name] && len(e.Args) == 0 && !e.Star && !e.Distinct {
			b.WriteString(strings.ToUpper(e.Name))
			return
		}
		if e.Name == "extract" && len(e.Args) == 2 && !e.Star && !e.Distinct {
			if l, ok := e.Args[0].(*Literal); ok && l.Kind == LitString {
				b.WriteString("EXTRACT(")
				b.WriteString(QuoteString(l.Val))
				b.WriteString(" FROM ")
				formatExpr(b, e.Args[1])
				b.WriteByte(')')
				return
			}
		}
		b.WriteString(QuoteIdent(e.Name))
		b.WriteByte('(')
		if e.Star {
			b.WriteByte('*')
		} else {
			if e.Distinct {
				b.WriteString("DISTINCT ")
			}
			formatExprs(b, e.Args)
		}
		b.WriteByte(')')
		if len(e.WithinGroup) > 0 {
			b.WriteString(" WITHIN GROUP (ORDER BY ")
			formatOrderItems(b, e.WithinGroup)
			b.WriteByte(')')
		}
		if e.Filter != nil {
			b.WriteString(" FILTER (WHERE ")
			formatExpr(b, e.Filter)
			b.WriteByte(')')
		}
	case *Case:
		b.WriteString("CASE")
		if e.Operand != nil {
			b.WriteByte(' ')
			formatExpr(b, e.Operand)
		}
		for _, w := range e.Whens {
			b.WriteString(" WHEN ")
			formatExpr(b, w.Cond)
			b.WriteString(" THEN ")
			formatExpr(b, w.Then)
		}
		if e.Else != nil {
			b.WriteString(" ELSE ")
			formatExpr(b, e.Else)
		}
		b.WriteString(" END")
	case *Subquery:
		b.WriteByte('(')
		if e.Select != nil {
			formatSelect(b, e.Select)
		}
		b.WriteByte(')')
	case *ColumnIndex:
		formatColumnIndex(b, e)
	default:
		if formatOlapExpr(b, e) || formatQueryExpr(b, e) || formatInsertExpr(b, e) {
			return
		}
		fmt.Fprintf(b, "<unknown expr %T>", e)
	}
}

// String names the literal kind (for debugging output).
func (k LitKind) String() string {
	switch k {
	case LitNull:
		return "null"
	case LitBool:
		return "bool"
	case LitInt:
		return "int"
	case LitFloat:
		return "float"
	case LitString:
		return "string"
	}
	return fmt.Sprintf("LitKind(%d)", uint8(k))
}

// String names the view kind.
func (k ViewKind) String() string {
	switch k {
	case ViewMaterialized:
		return "materialized"
	case ViewContinuous:
		return "continuous"
	case ViewPlain:
		return "plain"
	}
	return fmt.Sprintf("ViewKind(%d)", uint8(k))
}

// String names the object kind.
func (k ObjectKind) String() string {
	switch k {
	case ObjStream:
		return "stream"
	case ObjView:
		return "view"
	case ObjTable:
		return "table"
	}
	return fmt.Sprintf("ObjectKind(%d)", uint8(k))
}

func formatOrderItems(b *strings.Builder, items []OrderItem) {
	for i, o := range items {
		if i > 0 {
			b.WriteString(", ")
		}
		formatExpr(b, o.Expr)
		if o.Desc {
			b.WriteString(" DESC")
		}
		if o.NullsFirst != nil {
			if *o.NullsFirst {
				b.WriteString(" NULLS FIRST")
			} else {
				b.WriteString(" NULLS LAST")
			}
		}
	}
}
