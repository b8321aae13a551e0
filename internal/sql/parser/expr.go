package parser

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Expression grammar, loosest binding first (PostgreSQL's table):
//
//	OR < AND < NOT < IS/ISNULL/NOTNULL < comparison < BETWEEN/IN/LIKE/ILIKE
//	< || < + - < * / % < ^ < AT TIME ZONE < unary minus < :: < primary
//
// Comparison and BETWEEN/IN/LIKE are non-associative, as in PostgreSQL:
// `a = b = c` is a syntax error.

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return &Error{Pos: p.peek().pos + p.base, Code: "54001", Msg: fmt.Sprintf("statement is too complex: expressions nest or chain more than %d deep", maxDepth)}
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) parseExpr() (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	return p.parseOr()
}

func (p *parser) parseOr() (Expr, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	n := 0
	defer func() { p.depth -= n }()
	for p.acceptKw("or") {
		// Each operator deepens the (left-leaning) tree: count it so
		// consumers that recurse over the tree stay within bounds.
		if err := p.enter(); err != nil {
			return nil, err
		}
		n++
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = &Binary{P: l.Pos(), Op: "OR", L: l, R: r}
	}
	return l, nil
}

func (p *parser) parseAnd() (Expr, error) {
	l, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	n := 0
	defer func() { p.depth -= n }()
	for p.acceptKw("and") {
		if err := p.enter(); err != nil {
			return nil, err
		}
		n++
		r, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		l = &Binary{P: l.Pos(), Op: "AND", L: l, R: r}
	}
	return l, nil
}

func (p *parser) parseNot() (Expr, error) {
	t := p.peek()
	if isKwTok(t, "not") {
		p.i++
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &Unary{P: t.pos, Op: "NOT", X: x}, nil
	}
	return p.parseIs()
}

func (p *parser) parseIs() (Expr, error) {
	x, err := p.parseCmp()
	if err != nil {
		return nil, err
	}
	for n := 0; ; n++ {
		t := p.peek()
		switch {
		case isKwTok(t, "isnull"):
			p.i++
			x = &IsNull{P: x.Pos(), X: x}
		case isKwTok(t, "notnull"):
			p.i++
			x = &IsNull{P: x.Pos(), X: x, Not: true}
		case isKwTok(t, "is"):
			p.i++
			not := p.acceptKw("not")
			switch {
			case p.acceptKw("null"), p.acceptKw("unknown"):
				x = &IsNull{P: x.Pos(), X: x, Not: not}
			case p.acceptKw("true"):
				x = &IsBool{P: x.Pos(), X: x, Not: not, Val: true}
			case p.acceptKw("false"):
				x = &IsBool{P: x.Pos(), X: x, Not: not, Val: false}
			case p.isKw("distinct"):
				return nil, p.unsupported(p.peek(), "IS DISTINCT FROM is not supported")
			default:
				return nil, p.syntaxErr(p.peek())
			}
		default:
			return x, nil
		}
		if n > 0 {
			// IS is non-associative in PostgreSQL.
			return nil, p.syntaxErr(t)
		}
	}
}

func isCmpOp(s string) bool {
	switch s {
	case "=", "<>", "<", "<=", ">", ">=":
		return true
	}
	return false
}

func (p *parser) parseCmp() (Expr, error) {
	l, err := p.parseLike()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind != tOp || !isCmpOp(t.val) {
		return l, nil
	}
	p.i++
	if k := p.peek(); isKwTok(k, "any") || isKwTok(k, "all") || isKwTok(k, "some") {
		q, err := p.parseQuantified(l, t.val)
		if err != nil {
			return nil, err
		}
		if n := p.peek(); n.kind == tOp && isCmpOp(n.val) {
			return nil, p.syntaxErr(n)
		}
		return q, nil
	}
	r, err := p.parseLike()
	if err != nil {
		return nil, err
	}
	if n := p.peek(); n.kind == tOp && isCmpOp(n.val) {
		return nil, p.syntaxErr(n)
	}
	return &Binary{P: l.Pos(), Op: t.val, L: l, R: r}, nil
}

// parseLike handles [NOT] BETWEEN / IN / LIKE / ILIKE.
func (p *parser) parseLike() (Expr, error) {
	x, err := p.parseConcat()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	not := false
	if isKwTok(t, "not") {
		switch n := p.peekN(1); {
		case isKwTok(n, "between"), isKwTok(n, "in"), isKwTok(n, "like"), isKwTok(n, "ilike"), isKwTok(n, "similar"):
			p.i++
			not = true
			t = p.peek()
		default:
			return x, nil
		}
	}
	if t.kind != tIdent {
		return x, nil
	}
	switch t.val {
	case "between":
		p.i++
		if isKwTok(p.peek(), "symmetric") || isKwTok(p.peek(), "asymmetric") {
			return nil, p.unsupported(p.peek(), "BETWEEN SYMMETRIC is not supported")
		}
		lo, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("and"); err != nil {
			return nil, err
		}
		hi, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		x = &Between{P: x.Pos(), X: x, Lo: lo, Hi: hi, Not: not}
	case "in":
		p.i++
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		if p.startsQuery(p.i) || p.isOp("(") && p.isQueryParen(p.i) {
			sel, err := p.parseQuery()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			x = &InSubquery{P: x.Pos(), X: x, Select: sel, Not: not}
			break
		}
		list, err := p.exprList()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		x = &InList{P: x.Pos(), X: x, List: list, Not: not}
	case "like", "ilike":
		p.i++
		r, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		if p.isKw("escape") {
			return nil, p.unsupported(p.peek(), "LIKE ... ESCAPE is not supported")
		}
		op := strings.ToUpper(t.val)
		if not {
			op = "NOT " + op
		}
		x = &Binary{P: x.Pos(), Op: op, L: x, R: r}
	case "similar":
		return nil, p.unsupported(t, "SIMILAR TO is not supported")
	default:
		return x, nil
	}
	if n := p.peek(); isKwTok(n, "between") || isKwTok(n, "in") || isKwTok(n, "like") || isKwTok(n, "ilike") ||
		isKwTok(n, "not") && (isKwTok(p.peekN(1), "between") || isKwTok(p.peekN(1), "in") || isKwTok(p.peekN(1), "like") || isKwTok(p.peekN(1), "ilike")) {
		return nil, p.syntaxErr(n)
	}
	return x, nil
}

// binaryLevel parses a left-associative level whose operators are ops.
func (p *parser) binaryLevel(isOp func(string) bool, sub func() (Expr, error)) (Expr, error) {
	l, err := sub()
	if err != nil {
		return nil, err
	}
	n := 0
	defer func() { p.depth -= n }()
	for {
		t := p.peek()
		if t.kind != tOp || !isOp(t.val) {
			return l, nil
		}
		p.i++
		if err := p.enter(); err != nil {
			return nil, err
		}
		n++
		r, err := sub()
		if err != nil {
			return nil, err
		}
		l = &Binary{P: l.Pos(), Op: t.val, L: l, R: r}
	}
}

// concatOps is PostgreSQL's "any other operator" level: || and the json
// and array operators (-> ->> #> #>> @> <@ ? ?| ?& &&).
func concatOps(s string) bool {
	switch s {
	case "||", "->", "->>", "#>", "#>>", "@>", "<@", "?", "?|", "?&", "&&":
		return true
	}
	return false
}
func addOps(s string) bool { return s == "+" || s == "-" }
func mulOps(s string) bool { return s == "*" || s == "/" || s == "%" }
func powOps(s string) bool { return s == "^" }

func (p *parser) parseAdd() (Expr, error) { return p.binaryLevel(addOps, p.parseMul) }
func (p *parser) parseMul() (Expr, error) { return p.binaryLevel(mulOps, p.parsePow) }
func (p *parser) parsePow() (Expr, error) { return p.binaryLevel(powOps, p.parseAt) }

// parseAt handles `x AT TIME ZONE z`, which PostgreSQL implements as the
// function timezone(z, x); it is represented that way.
func (p *parser) parseAt() (Expr, error) {
	x, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	n := 0
	defer func() { p.depth -= n }()
	for p.isKw("at") && isKwTok(p.peekN(1), "time") && isKwTok(p.peekN(2), "zone") {
		p.i += 3
		if err := p.enter(); err != nil {
			return nil, err
		}
		n++
		z, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		x = &Func{P: x.Pos(), Name: "timezone", Args: []Expr{z, x}}
	}
	return x, nil
}

func (p *parser) parseUnary() (Expr, error) {
	t := p.peek()
	if isOpTok(t, "-") || isOpTok(t, "+") {
		p.i++
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		// Fold -<number> into a negative literal, as PostgreSQL does, so
		// that -9223372036854775808 is an int8 constant.
		if lit, ok := x.(*Literal); ok && t.val == "-" && (lit.Kind == LitInt || lit.Kind == LitFloat) && !strings.HasPrefix(lit.Val, "-") {
			return &Literal{P: t.pos, Kind: lit.Kind, Val: "-" + lit.Val}, nil
		}
		return &Unary{P: t.pos, Op: t.val, X: x}, nil
	}
	return p.parsePostfix()
}

func (p *parser) parsePostfix() (Expr, error) {
	x, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	n := 0
	defer func() { p.depth -= n }()
	for {
		switch {
		case p.isOp("::"):
			p.i++
			if err := p.enter(); err != nil {
				return nil, err
			}
			n++
			tn, err := p.parseTypeName()
			if err != nil {
				return nil, err
			}
			x = &Cast{P: x.Pos(), X: x, Type: tn}
		case p.isOp("["):
			// x[i] is the function "[]"(x, i); slices x[a:b] are refused.
			lb := p.next()
			if err := p.enter(); err != nil {
				return nil, err
			}
			n++
			idx, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			if p.isOp(":") {
				return nil, p.unsupported(p.peek(), "array slices are not supported")
			}
			if err := p.expectOp("]"); err != nil {
				return nil, err
			}
			x = &Func{P: lb.pos, Name: SubscriptFunc, Args: []Expr{x, idx}}
		case p.isKw("collate"):
			// Only the C collation exists; x keeps its meaning.
			p.i++
			if err := p.parseCollate(); err != nil {
				return nil, err
			}
		default:
			return x, nil
		}
	}
}

func (p *parser) parsePrimary() (Expr, error) {
	t := p.peek()
	switch t.kind {
	case tInt, tFloat:
		p.i++
		return numLit(t), nil
	case tString:
		p.i++
		return &Literal{P: t.pos, Kind: LitString, Val: t.val}, nil
	case tParam:
		p.i++
		n, err := strconv.Atoi(t.val)
		if err != nil || n < 1 || n > 65535 {
			return nil, &Error{Pos: t.pos + p.base, Code: pgerr.UndefinedParameter, Msg: fmt.Sprintf("there is no parameter $%s", t.val)}
		}
		return &Param{P: t.pos, N: n}, nil
	case tOp:
		if t.val == "(" {
			if p.isQueryParen(p.i) {
				p.i++
				sel, err := p.parseQuery()
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(")"); err != nil {
					return nil, err
				}
				return &Subquery{P: t.pos, Select: sel}, nil
			}
			p.i++
			x, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			if p.isOp(",") {
				return nil, p.unsupported(p.peek(), "row constructors are not supported")
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			if p.isOp(".") {
				return nil, p.unsupported(p.peek(), "field selection is not supported")
			}
			return x, nil
		}
		return nil, p.syntaxErr(t)
	case tQIdent:
		return p.parseNameExpr()
	case tIdent:
		return p.parseWordExpr()
	}
	return nil, p.syntaxErr(t)
}

// parseWordExpr handles an unquoted word: keywords with expression
// meaning, typed literals, function calls and column references.
func (p *parser) parseWordExpr() (Expr, error) {
	t := p.peek()
	switch t.val {
	case "null":
		p.i++
		return &Literal{P: t.pos, Kind: LitNull}, nil
	case "true", "false":
		p.i++
		return &Literal{P: t.pos, Kind: LitBool, Val: t.val}, nil
	case "case":
		return p.parseCase()
	case "cast":
		p.i++
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		x, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("as"); err != nil {
			return nil, err
		}
		tn, err := p.parseTypeName()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return &Cast{P: t.pos, X: x, Type: tn}, nil
	case "current_timestamp", "current_date", "current_time", "localtimestamp", "localtime",
		"current_user", "session_user", "user", "current_role", "current_catalog", "current_schema":
		if t.val == "current_schema" && isOpTok(p.peekN(1), "(") {
			break // current_schema() is also an ordinary function
		}
		p.i++
		if p.isOp("(") {
			return nil, p.unsupported(p.peek(), "%s with a precision is not supported", strings.ToUpper(t.val))
		}
		name := t.val
		switch name {
		case "current_timestamp":
			name = "now"
		case "user", "current_role":
			name = "current_user"
		}
		return &Func{P: t.pos, Name: name}, nil
	case "exists":
		if isOpTok(p.peekN(1), "(") {
			p.i += 2
			sel, err := p.parseQuery()
			if err != nil {
				return nil, err
			}
			if err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return &Exists{P: t.pos, Select: sel}, nil
		}
	case "array":
		if isOpTok(p.peekN(1), "[") {
			// ARRAY[a, b] is the function "array"(a, b).
			p.i += 2
			f := &Func{P: t.pos, Name: ArrayFunc}
			if !p.isOp("]") {
				for {
					a, err := p.parseExpr()
					if err != nil {
						return nil, err
					}
					f.Args = append(f.Args, a)
					if !p.acceptOp(",") {
						break
					}
				}
			}
			return f, p.expectOp("]")
		}
		if isOpTok(p.peekN(1), "(") {
			return p.parseArraySubquery()
		}
	case "row":
		if isOpTok(p.peekN(1), "(") {
			return nil, p.unsupported(t, "ROW constructors are not supported")
		}
	case "extract", "position", "substring", "trim", "overlay":
		if isOpTok(p.peekN(1), "(") {
			return p.parseSpecialFunc()
		}
	}
	if typedLiteralTypes[t.val] {
		if x, ok, err := p.maybeTypedLiteral(); ok || err != nil {
			return x, err
		}
	}
	if reservedWords[t.val] && !(funcNameOK[t.val] && isOpTok(p.peekN(1), "(")) {
		return nil, p.syntaxErr(t)
	}
	return p.parseNameExpr()
}

// maybeTypedLiteral parses `type 'string'` (timestamp '...', interval
// '1 hour', double precision '1.5'); ok is false, with the cursor
// unchanged, when the tokens are not a typed literal.
func (p *parser) maybeTypedLiteral() (Expr, bool, error) {
	save := p.i
	t := p.peek()
	// Only one-word types, and multiword ones whose words cannot start
	// anything else, are tried; type modifiers are not part of a typed
	// literal except via CAST.
	tn := TypeName{P: t.pos, Name: t.val}
	p.i++
	switch t.val {
	case "double":
		if !p.acceptKw("precision") {
			p.i = save
			return nil, false, nil
		}
		tn.Name = "double precision"
	case "character":
		if p.acceptKw("varying") {
			tn.Name = "character varying"
		}
	case "timestamp", "time":
		if p.acceptKws("with", "time", "zone") {
			tn.Name += " with time zone"
		} else if p.acceptKws("without", "time", "zone") {
			tn.Name += " without time zone"
		}
	}
	s := p.peek()
	if s.kind != tString {
		p.i = save
		return nil, false, nil
	}
	p.i++
	lit := &Literal{P: s.pos, Kind: LitString, Val: s.val}
	if tn.Name == "interval" {
		// interval '1' hour: a single trailing unit applies to a plain number.
		if u := p.peek(); u.kind == tIdent && intervalUnits[u.val] {
			if isKwTok(p.peekN(1), "to") {
				return nil, true, p.unsupported(u, "interval field ranges are not supported")
			}
			if _, err := strconv.ParseFloat(strings.TrimSpace(s.val), 64); err != nil {
				return nil, true, p.unsupported(u, "interval fields are supported only after a plain number")
			}
			p.i++
			lit.Val = strings.TrimSpace(s.val) + " " + u.val
		}
	}
	return &Cast{P: t.pos, X: lit, Type: tn}, true, nil
}

// parseNameExpr parses a (possibly qualified) name used as a column
// reference, `t.*`, or a function call.
func (p *parser) parseNameExpr() (Expr, error) {
	t := p.next()
	name := t.val
	if p.isOp("(") {
		return p.parseFuncArgs(t, name)
	}
	if !p.isOp(".") {
		return &ColumnRef{P: t.pos, Name: name}, nil
	}
	p.i++
	n := p.peek()
	switch {
	case isOpTok(n, "*"):
		p.i++
		return &Star{P: t.pos, Table: name}, nil
	case n.kind == tQIdent || n.kind == tIdent && (!reservedWords[n.val] || isOpTok(p.peekN(1), "(")):
		p.i++
	default:
		return nil, p.syntaxErr(n)
	}
	if p.isOp("(") {
		fn := name + "." + n.val
		if name == "pg_catalog" {
			fn = n.val
		}
		return p.parseFuncArgs(t, fn)
	}
	if p.isOp(".") {
		return nil, p.unsupported(p.peek(), "column references with more than two parts are not supported")
	}
	return &ColumnRef{P: t.pos, Table: name, Name: n.val}, nil
}

// parseFuncArgs parses `(args)` after a function name.
func (p *parser) parseFuncArgs(t token, name string) (Expr, error) {
	p.i++ // (
	f := &Func{P: t.pos, Name: name}
	switch {
	case p.isOp("*"):
		p.i++
		f.Star = true
	case p.isOp(")"):
	default:
		if p.acceptKw("distinct") {
			f.Distinct = true
		} else {
			p.acceptKw("all")
		}
		if p.isKw("variadic") {
			return nil, p.unsupported(p.peek(), "VARIADIC is not supported")
		}
		args, err := p.exprList()
		if err != nil {
			return nil, err
		}
		f.Args = args
		if p.isKw("order") {
			return nil, p.unsupported(p.peek(), "ORDER BY in aggregate calls is not supported")
		}
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	if p.acceptKws("within", "group") {
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		if !p.acceptKws("order", "by") {
			return nil, p.syntaxErr(p.peek())
		}
		items, err := p.parseOrderItems()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		f.WithinGroup = items
	}
	if isKwTok(p.peek(), "filter") && isOpTok(p.peekN(1), "(") {
		p.i += 2
		if err := p.expectKw("where"); err != nil {
			return nil, err
		}
		cond, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		f.Filter = cond
	}
	if p.isOverClause() {
		return p.parseOver(f)
	}
	return f, nil
}

// parseSpecialFunc handles SQL-standard functions with keyword syntax:
// EXTRACT(field FROM x) → extract('field', x), and the plain-call forms
// of substring/position/trim/overlay.
func (p *parser) parseSpecialFunc() (Expr, error) {
	t := p.peek()
	if t.val == "extract" {
		p.i += 2
		ft := p.peek()
		var field string
		switch ft.kind {
		case tIdent, tQIdent, tString:
			field = ft.val
			p.i++
		default:
			return nil, p.syntaxErr(ft)
		}
		if err := p.expectKw("from"); err != nil {
			return nil, err
		}
		x, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return &Func{P: t.pos, Name: "extract", Args: []Expr{&Literal{P: ft.pos, Kind: LitString, Val: field}, x}}, nil
	}
	if t.val == "trim" {
		if x, ok, err := p.maybeTrimKeywords(); ok || err != nil {
			return x, err
		}
	}
	// Only the comma form is supported for the others; keyword forms
	// (substring(x FROM 2)) fail with a syntax error at the keyword.
	return p.parseNameExpr()
}

func (p *parser) parseCase() (Expr, error) {
	t := p.next()
	c := &Case{P: t.pos}
	var err error
	if !p.isKw("when") {
		if c.Operand, err = p.parseExpr(); err != nil {
			return nil, err
		}
	}
	for p.acceptKw("when") {
		cond, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("then"); err != nil {
			return nil, err
		}
		then, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		c.Whens = append(c.Whens, When{Cond: cond, Then: then})
	}
	if len(c.Whens) == 0 {
		return nil, p.syntaxErr(p.peek())
	}
	if p.acceptKw("else") {
		if c.Else, err = p.parseExpr(); err != nil {
			return nil, err
		}
	}
	if err := p.expectKw("end"); err != nil {
		return nil, err
	}
	return c, nil
}
