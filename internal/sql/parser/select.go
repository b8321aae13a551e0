package parser

import "strings"

// parseSelect parses one SELECT; the current token is SELECT.
func (p *parser) parseSelect() (*Select, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	start := p.next()
	s := &Select{P: start.pos}
	if p.acceptKw("distinct") {
		if p.isKw("on") {
			on, err := p.parseDistinctOn()
			if err != nil {
				return nil, err
			}
			s.DistinctOn = on
		} else {
			s.Distinct = true
		}
	} else {
		p.acceptKw("all")
	}
	for {
		it, err := p.parseSelectItem()
		if err != nil {
			return nil, err
		}
		s.Items = append(s.Items, it)
		if !p.acceptOp(",") {
			break
		}
	}
	if p.isKw("into") {
		return nil, p.unsupported(p.peek(), "SELECT INTO is not supported")
	}
	if p.acceptKw("from") {
		tr, err := p.parseFrom()
		if err != nil {
			return nil, err
		}
		s.From = tr
	}
	var err error
	if p.acceptKw("where") {
		if s.Where, err = p.parseExpr(); err != nil {
			return nil, err
		}
	}
	if p.acceptKws("group", "by") {
		if s.GroupBy, err = p.parseGroupBy(); err != nil {
			return nil, err
		}
	}
	if p.acceptKw("having") {
		if s.Having, err = p.parseExpr(); err != nil {
			return nil, err
		}
	}
	if isKwTok(p.peek(), "window") {
		if s.Windows, err = p.parseWindowClause(); err != nil {
			return nil, err
		}
	}
	if err := p.parseOrderLimit(s); err != nil {
		return nil, err
	}
	return s, nil
}

// parseOrderLimit parses the ORDER BY, LIMIT/FETCH FIRST and OFFSET that
// may end a query (a SELECT, or a set operation as a whole).
func (p *parser) parseOrderLimit(s *Select) error {
	var err error
	if p.acceptKws("order", "by") {
		if s.OrderBy, err = p.parseOrderItems(); err != nil {
			return err
		}
	}
	// LIMIT (or FETCH FIRST) and OFFSET may come in either order, each at
	// most once.
	for k := 0; k < 2; k++ {
		switch {
		case s.Limit == nil && p.isKw("fetch"):
			p.i++
			if !p.acceptKw("first") && !p.acceptKw("next") {
				return p.syntaxErr(p.peek())
			}
			if p.isKw("row") || p.isKw("rows") {
				s.Limit = &Literal{P: p.peek().pos, Kind: LitInt, Val: "1"}
			} else if s.Limit, err = p.parseUnary(); err != nil {
				return err
			}
			if !p.acceptKw("rows") && !p.acceptKw("row") {
				return p.syntaxErr(p.peek())
			}
			if p.isKws("with", "ties") {
				return p.unsupported(p.peek(), "FETCH ... WITH TIES is not supported")
			}
			if err := p.expectKw("only"); err != nil {
				return err
			}
		case s.Limit == nil && p.isKw("limit"):
			p.i++
			if p.acceptKw("all") {
				continue
			}
			if s.Limit, err = p.parseExpr(); err != nil {
				return err
			}
		case s.Offset == nil && p.isKw("offset"):
			p.i++
			if s.Offset, err = p.parseExpr(); err != nil {
				return err
			}
			_ = p.acceptKw("rows") || p.acceptKw("row")
		}
	}
	if t := p.peek(); isKwTok(t, "group") || isKwTok(t, "order") {
		// GROUP or ORDER without BY, or out of place: PostgreSQL points at
		// the word after GROUP/ORDER when BY is missing.
		if !isKwTok(p.peekN(1), "by") {
			return p.syntaxErr(p.peekN(1))
		}
		return p.syntaxErr(t)
	}
	if t := p.peek(); isKwTok(t, "for") || isKwTok(t, "fetch") {
		return p.unsupported(t, "SELECT ... %s is not supported", strings.ToUpper(t.val))
	}
	return nil
}

// isSettingsClause reports whether the tokens at the cursor start a
// Timeplus `SETTINGS key = ...` clause rather than an alias "settings".
func (p *parser) isSettingsClause() bool {
	k := p.peekN(1)
	return p.isKw("settings") && (k.kind == tIdent || k.kind == tQIdent) && isOpTok(p.peekN(2), "=")
}

// alias parses `[AS] name`; bare aliases may not be reserved words.
func (p *parser) alias() (string, error) {
	if p.acceptKw("as") {
		return p.anyWord()
	}
	t := p.peek()
	if t.kind == tQIdent || t.kind == tIdent && !reservedWords[t.val] && !p.isSettingsClause() {
		p.i++
		return t.val, nil
	}
	return "", nil
}

func (p *parser) parseSelectItem() (SelectItem, error) {
	t := p.peek()
	if isOpTok(t, "*") {
		p.i++
		return SelectItem{Expr: &Star{P: t.pos}}, nil
	}
	e, err := p.parseExpr()
	if err != nil {
		return SelectItem{}, err
	}
	a, err := p.alias()
	return SelectItem{Expr: e, Alias: a}, err
}

func (p *parser) parseTableRef() (*TableRef, error) {
	t := p.peek()
	tr := &TableRef{P: t.pos}
	if isKwTok(t, "lateral") || isKwTok(t, "only") {
		return nil, p.unsupported(t, "%s is not supported", strings.ToUpper(t.val))
	}
	if isOpTok(t, "(") {
		if err := p.parseParenFrom(tr); err != nil {
			return nil, err
		}
	} else {
		start := p.i
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		tr.Name = n
		if p.isOp("(") || p.isOp(".") && isOpTok(p.peekN(2), "(") {
			// A table function (tumble, hop, pg_catalog.generate_series,
			// ...): parse it as a call; the planner decides which ones it
			// knows.
			p.i = start
			e, err := p.parseExpr()
			if err != nil {
				return nil, err
			}
			f, ok := e.(*Func)
			if !ok {
				return nil, p.syntaxErr(p.peek())
			}
			tr.Func = f
			tr.Name = f.Name
			if err := p.parseFuncAliases(tr); err != nil {
				return nil, err
			}
			return tr, nil
		}
		if p.acceptOp(".") {
			m, err := p.name()
			if err != nil {
				return nil, err
			}
			tr.Schema, tr.Name = n, m
			if p.isOp(".") {
				return nil, p.unsupported(p.peek(), "cross-database references are not supported")
			}
		}
	}
	a, err := p.alias()
	if err != nil {
		return nil, err
	}
	if a != "" {
		tr.Alias = a
	}
	if p.isOp("(") && a != "" {
		if tr.ColAliases, err = p.parenNames(); err != nil {
			return nil, err
		}
	}
	return tr, nil
}

func (p *parser) exprList() ([]Expr, error) {
	var out []Expr
	for {
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if !p.acceptOp(",") {
			return out, nil
		}
	}
}

// parseOrderItems parses the keys after ORDER BY (of a SELECT, or of an
// aggregate's WITHIN GROUP).
func (p *parser) parseOrderItems() ([]OrderItem, error) {
	var items []OrderItem
	for {
		e, err := p.parseExpr()
		if err != nil {
			return nil, err
		}
		oi := OrderItem{Expr: e}
		if p.acceptKw("desc") {
			oi.Desc = true
		} else {
			p.acceptKw("asc")
		}
		if p.acceptKw("nulls") {
			var first bool
			switch {
			case p.acceptKw("first"):
				first = true
			case p.acceptKw("last"):
			default:
				return nil, p.syntaxErr(p.peek())
			}
			oi.NullsFirst = &first
		}
		items = append(items, oi)
		if !p.acceptOp(",") {
			return items, nil
		}
	}
}
