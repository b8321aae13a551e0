package parser

import (
	"strconv"
	"strings"
)

// The PostgreSQL syntax catalog tools send (psql's \d, JDBC's
// DatabaseMetaData): the POSIX regex operators ~ !~ ~* !~*, the
// OPERATOR(schema.op) spelling, COLLATE and pg_catalog-qualified type
// names (`x op ANY (array)` is Quantified, in query.go).

// regexOp reports whether s is one of the POSIX regular expression
// match operators.
func regexOp(s string) bool { return s == "~" || s == "!~" || s == "~*" || s == "!~*" }

// parseConcat is PostgreSQL's "any other operator" level: || and the
// json, array and regex operators, and any operator spelled
// OPERATOR(schema.op), which has this precedence whatever the operator.
func (p *parser) parseConcat() (Expr, error) {
	l, err := p.parseAdd()
	if err != nil {
		return nil, err
	}
	n := 0
	defer func() { p.depth -= n }()
	for {
		t := p.peek()
		var op string
		switch {
		case t.kind == tOp && (concatOps(t.val) || regexOp(t.val)):
			p.i++
			op = t.val
		case isKwTok(t, "operator") && isOpTok(p.peekN(1), "("):
			if op, err = p.parseOperatorName(); err != nil {
				return nil, err
			}
		default:
			return l, nil
		}
		if err := p.enter(); err != nil {
			return nil, err
		}
		n++
		r, err := p.parseAdd()
		if err != nil {
			return nil, err
		}
		l = &Binary{P: l.Pos(), Op: op, L: l, R: r}
	}
}

// parseOperatorName parses `OPERATOR ( [pg_catalog .] op )` and returns
// op. Only pg_catalog (where every operator lives) may qualify it.
func (p *parser) parseOperatorName() (string, error) {
	p.i += 2 // OPERATOR (
	if t := p.peek(); (t.kind == tIdent || t.kind == tQIdent) && isOpTok(p.peekN(1), ".") {
		if t.val != "pg_catalog" {
			return "", p.unsupported(t, "operators exist only in schema pg_catalog, not %q", t.val)
		}
		p.i += 2
	}
	t := p.peek()
	if t.kind != tOp || t.val == "(" || t.val == ")" || t.val == "," || t.val == ";" || t.val == "." {
		return "", p.syntaxErr(t)
	}
	p.i++
	return t.val, p.expectOp(")")
}

// collations Cairn has: it compares text bytewise, which is the C
// collation; "default" is that too.
var collations = map[string]bool{"default": true, "c": true, "posix": true, "ucs_basic": true}

// parseCollate parses the collation name after COLLATE (already
// consumed): [pg_catalog.]name. Collations other than C are refused.
func (p *parser) parseCollate() error {
	t := p.peek()
	if (t.kind == tIdent || t.kind == tQIdent) && t.val == "pg_catalog" && isOpTok(p.peekN(1), ".") {
		p.i += 2
		t = p.peek()
	}
	if t.kind != tIdent && t.kind != tQIdent {
		return p.syntaxErr(t)
	}
	p.i++
	if !collations[strings.ToLower(t.val)] {
		return p.unsupported(t, "collation %q is not supported: Cairn compares text bytewise, as the C collation (default) does", t.val)
	}
	return nil
}

// ColumnIndex is column Index (from 0) of the scope an expression is
// compiled in: what `*` expands into for a column whose name another
// column shares (`SELECT * FROM (SELECT 1, NULL, NULL)`), where a name
// would be ambiguous. Planners make it; the parser never does.
type ColumnIndex struct {
	P     int
	Index int
	Name  string
}

func (e *ColumnIndex) Pos() int { return e.P }
func (*ColumnIndex) expr()      {}

func formatColumnIndex(b *strings.Builder, e *ColumnIndex) {
	b.WriteString(QuoteIdent(e.Name))
	b.WriteString("/*#")
	b.WriteString(strconv.Itoa(e.Index + 1))
	b.WriteString("*/")
}

// maybeTrimKeywords parses the SQL-standard TRIM([LEADING | TRAILING |
// BOTH] [chars] FROM x) into ltrim/rtrim/btrim(x [, chars]); ok is
// false, with the cursor unchanged, for the plain call trim(x [, chars]).
// The current token is TRIM.
func (p *parser) maybeTrimKeywords() (Expr, bool, error) {
	save := p.i
	t := p.next()
	p.i++ // (
	name := "btrim"
	switch {
	case p.acceptKw("leading"):
		name = "ltrim"
	case p.acceptKw("trailing"):
		name = "rtrim"
	case p.acceptKw("both"):
	default:
		// trim(x FROM y)? Only if a FROM follows the first expression.
		if p.isKw("from") {
			break
		}
		x, err := p.parseExpr()
		if err != nil || !p.isKw("from") {
			p.i = save
			return nil, false, nil
		}
		p.i++ // FROM
		y, err := p.parseExpr()
		if err != nil {
			return nil, true, err
		}
		return &Func{P: t.pos, Name: name, Args: []Expr{y, x}}, true, p.expectOp(")")
	}
	f := &Func{P: t.pos, Name: name}
	var chars Expr
	if !p.acceptKw("from") {
		var err error
		if chars, err = p.parseExpr(); err != nil {
			return nil, true, err
		}
		if err := p.expectKw("from"); err != nil {
			return nil, true, err
		}
	}
	x, err := p.parseExpr()
	if err != nil {
		return nil, true, err
	}
	f.Args = []Expr{x}
	if chars != nil {
		f.Args = append(f.Args, chars)
	}
	return f, true, p.expectOp(")")
}
