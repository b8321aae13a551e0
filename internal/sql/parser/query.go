package parser

import (
	"fmt"
	"strings"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Parsing of queries beyond a single SELECT (issue 11): WITH, set
// operations, VALUES, parenthesised queries, FROM lists and joins,
// subquery expressions and EXPLAIN. The AST is in ast_query.go.

// startsQuery reports whether the tokens at i begin a query body: SELECT,
// WITH, or VALUES followed by '('.
func (p *parser) startsQuery(i int) bool {
	t := p.tokAt(i)
	return isKwTok(t, "select") || isKwTok(t, "with") || isKwTok(t, "values") && isOpTok(p.tokAt(i+1), "(")
}

func (p *parser) tokAt(i int) token {
	if i < len(p.toks) {
		return p.toks[i]
	}
	return p.toks[len(p.toks)-1]
}

// closeOf returns the index of the ')' matching the '(' at index i, or -1.
// The table of matching parentheses is built once per parser (O(n)).
func (p *parser) closeOf(i int) int {
	if p.match == nil {
		p.match = make([]int32, len(p.toks))
		var stack []int
		for k, t := range p.toks {
			p.match[k] = -1
			switch {
			case isOpTok(t, "("):
				stack = append(stack, k)
			case isOpTok(t, ")") && len(stack) > 0:
				p.match[stack[len(stack)-1]] = int32(k)
				stack = stack[:len(stack)-1]
			}
		}
	}
	if i < 0 || i >= len(p.match) {
		return -1
	}
	return int(p.match[i])
}

// isQueryParen reports whether the '(' at index i opens a parenthesised
// query rather than an expression or a parenthesised join: its contents
// start a query, or start with a parenthesised query that is followed by
// a set operation, ORDER BY, LIMIT, OFFSET or the closing ')'.
func (p *parser) isQueryParen(i int) bool {
	for depth := 0; depth < maxDepth; depth++ {
		if p.startsQuery(i + 1) {
			return true
		}
		if !isOpTok(p.tokAt(i+1), "(") {
			return false
		}
		c := p.closeOf(i + 1)
		if c < 0 {
			return false
		}
		switch n := p.tokAt(c + 1); {
		case isOpTok(n, ")"), isSetOpWord(n), isKwTok(n, "order"), isKwTok(n, "limit"),
			isKwTok(n, "offset"), isKwTok(n, "fetch"):
		default:
			return false
		}
		i++
	}
	return false
}

// duplicateAlias is PostgreSQL's SQLSTATE for a name given twice in one
// WITH or FROM.
const duplicateAlias = "42712"

func isSetOpWord(t token) bool {
	return isKwTok(t, "union") || isKwTok(t, "intersect") || isKwTok(t, "except")
}

func hasTail(s *Select) bool { return len(s.OrderBy) > 0 || s.Limit != nil || s.Offset != nil }

// parseQuery parses a whole query: [WITH ...] a set-operation tree of
// SELECTs, VALUES lists and parenthesised queries, then ORDER BY, LIMIT
// and OFFSET for the whole. The current token is WITH, SELECT, VALUES or
// '('.
func (p *parser) parseQuery() (*Select, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	var with *With
	if p.isKw("with") {
		var err error
		if with, err = p.parseWith(); err != nil {
			return nil, err
		}
	}
	body, last, err := p.parseUnionLevel()
	if err != nil {
		return nil, err
	}
	if body.SetOp != nil && last != nil && hasTail(last) {
		// `SELECT ... UNION SELECT ... ORDER BY x`: the ORDER BY and
		// LIMIT parsed with the last SELECT belong to the whole.
		body.OrderBy, body.Limit, body.Offset = last.OrderBy, last.Limit, last.Offset
		last.OrderBy, last.Limit, last.Offset = nil, nil, nil
	}
	if last == nil || body.SetOp != nil {
		// A parenthesised query, a VALUES list or a set operation may
		// still be followed by ORDER BY/LIMIT/OFFSET.
		if err := p.parseQueryTail(body); err != nil {
			return nil, err
		}
	}
	if with != nil {
		if body.With != nil {
			return nil, &Error{Pos: with.P + p.base, Code: pgerr.SyntaxError, Msg: "multiple WITH clauses not allowed"}
		}
		body.With = with
	}
	return body, nil
}

// parseQueryTail parses ORDER BY / LIMIT / OFFSET after a query body that
// did not parse them itself.
func (p *parser) parseQueryTail(s *Select) error {
	t := p.peek()
	if !p.isKws("order", "by") && !p.isKw("limit") && !p.isKw("offset") && !p.isKw("fetch") {
		return nil
	}
	if hasTail(s) {
		// PostgreSQL: multiple ORDER BY / LIMIT clauses not allowed.
		what := "ORDER BY"
		if !isKwTok(t, "order") {
			what = "LIMIT"
			if isKwTok(t, "offset") {
				what = "OFFSET"
			}
		}
		return &Error{Pos: t.pos + p.base, Code: pgerr.SyntaxError, Msg: fmt.Sprintf("multiple %s clauses not allowed", what)}
	}
	return p.parseOrderLimit(s)
}

// parseUnionLevel parses UNION and EXCEPT (left-associative, below
// INTERSECT). last is the rightmost operand when it is a bare SELECT (its
// ORDER BY/LIMIT, if any, were parsed with it), else nil.
func (p *parser) parseUnionLevel() (s, last *Select, err error) {
	s, last, err = p.parseIntersectLevel()
	if err != nil {
		return nil, nil, err
	}
	for t := p.peek(); isKwTok(t, "union") || isKwTok(t, "except"); t = p.peek() {
		if last != nil && hasTail(last) {
			return nil, nil, p.syntaxErr(t)
		}
		p.i++
		op := SetUnion
		if t.val == "except" {
			op = SetExcept
		}
		all := p.setQuantifier()
		r, rlast, err := p.parseIntersectLevel()
		if err != nil {
			return nil, nil, err
		}
		s = &Select{P: s.P, SetOp: &SetOp{P: t.pos, Op: op, All: all, Left: s, Right: r}}
		last = rlast
	}
	return s, last, nil
}

func (p *parser) parseIntersectLevel() (s, last *Select, err error) {
	s, last, err = p.parseSetPrimary()
	if err != nil {
		return nil, nil, err
	}
	for t := p.peek(); isKwTok(t, "intersect"); t = p.peek() {
		if last != nil && hasTail(last) {
			return nil, nil, p.syntaxErr(t)
		}
		p.i++
		all := p.setQuantifier()
		r, rlast, err := p.parseSetPrimary()
		if err != nil {
			return nil, nil, err
		}
		s = &Select{P: s.P, SetOp: &SetOp{P: t.pos, Op: SetIntersect, All: all, Left: s, Right: r}}
		last = rlast
	}
	return s, last, nil
}

func (p *parser) setQuantifier() bool {
	if p.acceptKw("all") {
		return true
	}
	p.acceptKw("distinct")
	return false
}

// parseSetPrimary parses one operand of a set operation: a SELECT, a
// VALUES list or a parenthesised query.
func (p *parser) parseSetPrimary() (s, last *Select, err error) {
	t := p.peek()
	switch {
	case isOpTok(t, "("):
		p.i++
		q, err := p.parseQuery()
		if err != nil {
			return nil, nil, err
		}
		return q, nil, p.expectOp(")")
	case isKwTok(t, "select"):
		q, err := p.parseSelect()
		return q, q, err
	case isKwTok(t, "values"):
		q, err := p.parseValues()
		return q, nil, err
	case isKwTok(t, "with"):
		// WITH only starts a query, not an operand (PostgreSQL agrees).
		return nil, nil, p.syntaxErr(t)
	case isKwTok(t, "insert"), isKwTok(t, "update"), isKwTok(t, "delete"):
		return nil, nil, p.unsupported(t, "data-modifying statements in WITH are not supported")
	case isKwTok(t, "table"):
		return nil, nil, p.unsupported(t, "TABLE name is not supported; use SELECT * FROM name")
	}
	return nil, nil, p.syntaxErr(t)
}

// parseValues parses `VALUES (...), (...)`; the current token is VALUES.
func (p *parser) parseValues() (*Select, error) {
	start := p.next()
	s := &Select{P: start.pos}
	for {
		open := p.peek()
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		var row []Expr
		for {
			if p.isKw("default") {
				return nil, p.unsupported(p.peek(), "DEFAULT in VALUES is not supported")
			}
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			row = append(row, e)
			if !p.acceptOp(",") {
				break
			}
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		if len(s.Values) > 0 && len(row) != len(s.Values[0]) {
			return nil, &Error{Pos: open.pos + p.base, Code: pgerr.SyntaxError, Msg: "VALUES lists must all be the same length"}
		}
		s.Values = append(s.Values, row)
		if !p.acceptOp(",") {
			return s, nil
		}
	}
}

// parseWith parses `WITH [RECURSIVE] name [(cols)] AS (query) [, ...]`.
func (p *parser) parseWith() (*With, error) {
	start := p.next()
	w := &With{P: start.pos, Recursive: p.acceptKw("recursive")}
	seen := map[string]bool{}
	for {
		t := p.peek()
		name, err := p.name()
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, &Error{Pos: t.pos + p.base, Code: duplicateAlias,
				Msg: fmt.Sprintf("WITH query name \"%s\" specified more than once", name)}
		}
		seen[name] = true
		c := CTE{P: t.pos, Name: name}
		if p.isOp("(") {
			if c.Cols, err = p.parenNames(); err != nil {
				return nil, err
			}
		}
		if err := p.expectKw("as"); err != nil {
			return nil, err
		}
		if p.isKw("materialized") || p.isKws("not", "materialized") {
			return nil, p.unsupported(p.peek(), "[NOT] MATERIALIZED in WITH is not supported")
		}
		if err := p.expectOp("("); err != nil {
			return nil, err
		}
		if c.Query, err = p.parseQuery(); err != nil {
			return nil, err
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
		if k := p.peek(); isKwTok(k, "search") || isKwTok(k, "cycle") {
			return nil, p.unsupported(k, "%s in WITH is not supported", strings.ToUpper(k.val))
		}
		w.CTEs = append(w.CTEs, c)
		if !p.acceptOp(",") {
			break
		}
	}
	if t := p.peek(); !isKwTok(t, "select") && !isKwTok(t, "values") && !isOpTok(t, "(") {
		if isKwTok(t, "insert") || isKwTok(t, "update") || isKwTok(t, "delete") {
			return nil, p.unsupported(t, "WITH ... %s is not supported", strings.ToUpper(t.val))
		}
		return nil, p.syntaxErr(t)
	}
	return w, nil
}

// ---- FROM ----

// parseFrom parses a FROM list: comma-separated joined tables, as a
// left-deep tree of JoinCross (Comma) joins.
func (p *parser) parseFrom() (*TableRef, error) {
	left, err := p.parseJoinedTable()
	if err != nil {
		return nil, err
	}
	for p.isOp(",") {
		p.i++
		right, err := p.parseJoinedTable()
		if err != nil {
			return nil, err
		}
		left = &TableRef{P: left.P, Join: &Join{Kind: JoinCross, Comma: true, Left: left, Right: right}}
	}
	return left, nil
}

// joinKind parses the words that introduce a join (up to and including
// JOIN); ok is false, and nothing is consumed, when none follow.
func (p *parser) joinKind() (kind JoinKind, natural, ok bool, err error) {
	save := p.i
	if p.acceptKw("natural") {
		natural = true
	}
	if p.acceptKw("cross") {
		if natural {
			return 0, false, false, p.syntaxErr(p.toks[p.i-1])
		}
		return JoinCross, false, true, p.expectKw("join")
	}
	switch {
	case p.acceptKw("join"):
		return JoinInner, natural, true, nil
	case p.acceptKw("inner"):
		kind = JoinInner
	case p.acceptKw("left"):
		kind = JoinLeft
	case p.acceptKw("right"):
		kind = JoinRight
	case p.acceptKw("full"):
		kind = JoinFull
	default:
		if natural {
			return 0, false, false, p.syntaxErr(p.peek())
		}
		p.i = save
		return 0, false, false, nil
	}
	if kind != JoinInner {
		p.acceptKw("outer")
	}
	return kind, natural, true, p.expectKw("join")
}

// parseJoinedTable parses a FROM item and the joins that follow it
// (left-associative).
func (p *parser) parseJoinedTable() (*TableRef, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	left, err := p.parseTableRef()
	if err != nil {
		return nil, err
	}
	for {
		kw := p.peek()
		kind, natural, ok, err := p.joinKind()
		if err != nil {
			return nil, err
		}
		if !ok {
			return left, nil
		}
		right, err := p.parseTableRef()
		if err != nil {
			return nil, err
		}
		j := &Join{Kind: kind, Natural: natural, Left: left, Right: right}
		if kind != JoinCross && !natural {
			switch {
			case p.acceptKw("on"):
				if j.On, err = p.parseExpr(); err != nil {
					return nil, err
				}
			case p.acceptKw("using"):
				if err := p.expectOp("("); err != nil {
					return nil, err
				}
				for {
					t := p.peek()
					n, err := p.name()
					if err != nil {
						return nil, err
					}
					j.Using = append(j.Using, n)
					j.UsingPos = append(j.UsingPos, t.pos)
					if !p.acceptOp(",") {
						break
					}
				}
				if err := p.expectOp(")"); err != nil {
					return nil, err
				}
				if p.isKw("as") {
					return nil, p.unsupported(p.peek(), "an alias for JOIN ... USING is not supported")
				}
			default:
				// PostgreSQL: syntax error at the token after the right
				// side (a JOIN needs ON or USING).
				return nil, p.syntaxErr(p.peek())
			}
		}
		_ = kw
		left = &TableRef{P: left.P, Join: j}
	}
}

// parseParenFrom parses a parenthesised FROM item whose '(' is the
// current token: a subquery (derived table) or a parenthesised join.
func (p *parser) parseParenFrom(tr *TableRef) error {
	open := p.peek()
	if p.isQueryParen(p.i) {
		p.i++
		sub, err := p.parseQuery()
		if err != nil {
			return err
		}
		tr.Subquery = sub
		return p.expectOp(")")
	}
	if n := p.peekN(1); n.kind != tIdent && n.kind != tQIdent && !isOpTok(n, "(") {
		return p.syntaxErr(n)
	}
	p.i++
	inner, err := p.parseJoinedTable()
	if err != nil {
		return err
	}
	if inner.Join == nil {
		// `FROM (t)`: PostgreSQL wants a join inside the parentheses.
		return p.syntaxErr(p.peek())
	}
	if err := p.expectOp(")"); err != nil {
		return err
	}
	*tr = *inner
	tr.P = open.pos
	return nil
}

// ---- subquery expressions ----

// parseQuantified parses `ANY|SOME|ALL (query | array)` after the
// comparison operator op; x is its left operand.
func (p *parser) parseQuantified(x Expr, op string) (Expr, error) {
	k := p.next()
	q := &Quantified{P: x.Pos(), Op: op, All: k.val == "all", X: x}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	var err error
	if p.startsQuery(p.i) || isOpTok(p.peek(), "(") && p.isQueryParen(p.i) {
		q.Select, err = p.parseQuery()
	} else {
		q.Array, err = p.parseExpr()
	}
	if err != nil {
		return nil, err
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return q, nil
}

// parseArraySubquery parses `ARRAY(query)`; the current token is ARRAY.
func (p *parser) parseArraySubquery() (Expr, error) {
	t := p.next()
	open := p.next() // "("
	if !p.startsQuery(p.i) && !(p.isOp("(") && p.isQueryParen(p.i)) {
		return nil, p.syntaxErr(p.peek())
	}
	_ = open
	sel, err := p.parseQuery()
	if err != nil {
		return nil, err
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return &ArraySubquery{P: t.pos, Select: sel}, nil
}

// ---- EXPLAIN ----

var explainUnsupported = setOf("buffers", "settings", "wal", "timing", "summary", "generic_plan", "memory", "serialize")

// parseExplain parses EXPLAIN; the current token is EXPLAIN.
func (p *parser) parseExplain() (Statement, error) {
	start := p.next()
	ex := &Explain{P: start.pos}
	if p.isOp("(") && !p.isQueryParen(p.i) {
		p.i++
		for {
			t := p.peek()
			opt, err := p.anyWord()
			if err != nil {
				return nil, err
			}
			if opt == "analyse" {
				opt = "analyze"
			}
			var val token
			hasVal := !p.isOp(",") && !p.isOp(")")
			if hasVal {
				val = p.next()
			}
			switch {
			case opt == "analyze" || opt == "verbose" || opt == "costs":
				on := true
				if hasVal {
					b, ok := explainBool(val)
					if !ok {
						return nil, &Error{Pos: val.pos + p.base, Code: pgerr.InvalidParameterValue,
							Msg: fmt.Sprintf("%s requires a Boolean value", opt)}
					}
					on = b
				}
				switch opt {
				case "analyze":
					ex.Analyze = on
				case "verbose":
					ex.Verbose = on
				default:
					if on {
						return nil, p.unsupported(t, "EXPLAIN (COSTS) is not supported: Cairn does not estimate costs; write COSTS OFF or leave it out")
					}
				}
			case opt == "format":
				if !strings.EqualFold(val.val, "text") {
					return nil, p.unsupported(t, "EXPLAIN (FORMAT %s) is not supported; only FORMAT TEXT", strings.ToUpper(val.val))
				}
			case explainUnsupported[opt]:
				return nil, p.unsupported(t, "EXPLAIN option %s is not supported", strings.ToUpper(opt))
			default:
				return nil, &Error{Pos: t.pos + p.base, Code: pgerr.SyntaxError, Msg: fmt.Sprintf("unrecognized EXPLAIN option \"%s\"", opt)}
			}
			if !p.acceptOp(",") {
				break
			}
		}
		if err := p.expectOp(")"); err != nil {
			return nil, err
		}
	} else {
		ex.Analyze = p.acceptKw("analyze") || p.acceptKw("analyse")
		ex.Verbose = p.acceptKw("verbose")
	}
	t := p.peek()
	if !p.startsQuery(p.i) && !isOpTok(t, "(") {
		if t.kind == tIdent && !isKwTok(t, "values") {
			return nil, p.unsupported(t, "EXPLAIN %s is not supported; only queries can be explained", strings.ToUpper(t.val))
		}
		return nil, p.syntaxErr(t)
	}
	q, err := p.parseQuery()
	if err != nil {
		return nil, err
	}
	ex.Query = q
	return ex, nil
}

func explainBool(t token) (bool, bool) {
	switch {
	case t.kind == tInt && t.val == "1":
		return true, true
	case t.kind == tInt && t.val == "0":
		return false, true
	case t.kind == tIdent || t.kind == tString:
		switch strings.ToLower(t.val) {
		case "true", "on":
			return true, true
		case "false", "off":
			return false, true
		}
	}
	return false, false
}
