package parser

import "strings"

// Parsing of window functions (OVER, WINDOW), DISTINCT ON, grouping sets
// (ROLLUP, CUBE, GROUPING SETS) and table-function column aliases
// (issue 11: olap).

// isOverClause reports whether the tokens at the cursor are `OVER (` or
// `OVER name` after a function call.
func (p *parser) isOverClause() bool {
	if !p.isKw("over") {
		return false
	}
	n := p.peekN(1)
	return isOpTok(n, "(") || n.kind == tQIdent || n.kind == tIdent && !reservedWords[n.val]
}

// parseOver parses `OVER (window)` or `OVER name` after the call f.
func (p *parser) parseOver(f *Func) (Expr, error) {
	t := p.next() // OVER
	w := &WindowFunc{P: f.P, Func: f}
	if !p.isOp("(") {
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		w.Over = &WindowSpec{P: t.pos, Ref: n}
		return w, nil
	}
	spec, err := p.parseWindowSpec()
	if err != nil {
		return nil, err
	}
	w.Over = spec
	return w, nil
}

// parseWindowSpec parses `( [name] [PARTITION BY ...] [ORDER BY ...]
// [frame] )`; the cursor is at the "(".
func (p *parser) parseWindowSpec() (*WindowSpec, error) {
	open := p.next()
	s := &WindowSpec{P: open.pos}
	if t := p.peek(); t.kind == tQIdent || t.kind == tIdent && !reservedWords[t.val] &&
		!(t.val == "partition" && isKwTok(p.peekN(1), "by")) && !isFrameMode(t) {
		p.i++
		s.Ref = t.val
	}
	var err error
	if p.acceptKws("partition", "by") {
		if s.PartitionBy, err = p.exprList(); err != nil {
			return nil, err
		}
	}
	if p.acceptKws("order", "by") {
		if s.OrderBy, err = p.parseOrderItems(); err != nil {
			return nil, err
		}
	}
	if isFrameMode(p.peek()) {
		if s.Frame, err = p.parseFrame(); err != nil {
			return nil, err
		}
	}
	if err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return s, nil
}

func isFrameMode(t token) bool {
	return isKwTok(t, "rows") || isKwTok(t, "range") || isKwTok(t, "groups")
}

// parseFrame parses a frame clause; the cursor is at ROWS/RANGE/GROUPS.
func (p *parser) parseFrame() (*Frame, error) {
	t := p.next()
	f := &Frame{P: t.pos}
	switch t.val {
	case "rows":
		f.Mode = FrameRows
	case "groups":
		f.Mode = FrameGroups
	}
	var err error
	if p.acceptKw("between") {
		if f.Start, err = p.parseFrameBound(); err != nil {
			return nil, err
		}
		if err := p.expectKw("and"); err != nil {
			return nil, err
		}
		if f.End, err = p.parseFrameBound(); err != nil {
			return nil, err
		}
	} else {
		if f.Start, err = p.parseFrameBound(); err != nil {
			return nil, err
		}
		f.End = FrameBound{Kind: CurrentRow}
	}
	if p.acceptKw("exclude") {
		switch {
		case p.acceptKws("current", "row"):
			f.Exclude = "CURRENT ROW"
		case p.acceptKw("group"):
			f.Exclude = "GROUP"
		case p.acceptKw("ties"):
			f.Exclude = "TIES"
		case p.acceptKws("no", "others"):
		default:
			return nil, p.syntaxErr(p.peek())
		}
	}
	return f, nil
}

func (p *parser) parseFrameBound() (FrameBound, error) {
	switch {
	case p.acceptKws("unbounded", "preceding"):
		return FrameBound{Kind: UnboundedPreceding}, nil
	case p.acceptKws("unbounded", "following"):
		return FrameBound{Kind: UnboundedFollowing}, nil
	case p.acceptKws("current", "row"):
		return FrameBound{Kind: CurrentRow}, nil
	}
	e, err := p.parseExpr()
	if err != nil {
		return FrameBound{}, err
	}
	switch {
	case p.acceptKw("preceding"):
		return FrameBound{Kind: OffsetPreceding, Offset: e}, nil
	case p.acceptKw("following"):
		return FrameBound{Kind: OffsetFollowing, Offset: e}, nil
	}
	return FrameBound{}, p.syntaxErr(p.peek())
}

// parseWindowClause parses `WINDOW name AS (spec) [, ...]`; the cursor is
// at WINDOW.
func (p *parser) parseWindowClause() ([]NamedWindow, error) {
	p.i++
	var out []NamedWindow
	for {
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		if err := p.expectKw("as"); err != nil {
			return nil, err
		}
		if !p.isOp("(") {
			return nil, p.syntaxErr(p.peek())
		}
		spec, err := p.parseWindowSpec()
		if err != nil {
			return nil, err
		}
		out = append(out, NamedWindow{Name: n, Spec: spec})
		if !p.acceptOp(",") {
			return out, nil
		}
	}
}

// parseDistinctOn parses `ON (exprs)` after DISTINCT.
func (p *parser) parseDistinctOn() ([]Expr, error) {
	p.i++ // ON
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	es, err := p.exprList()
	if err != nil {
		return nil, err
	}
	return es, p.expectOp(")")
}

// parseGroupBy parses the items after GROUP BY: expressions, `()`,
// ROLLUP (...), CUBE (...) and GROUPING SETS (...).
func (p *parser) parseGroupBy() ([]Expr, error) {
	var out []Expr
	for {
		e, err := p.parseGroupItem(false)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		if !p.acceptOp(",") {
			return out, nil
		}
	}
}

// parseGroupItem parses one grouping element; inner is set inside ROLLUP,
// CUBE or GROUPING SETS, where `(a, b)` is a composite element.
func (p *parser) parseGroupItem(inner bool) (Expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.peek()
	switch {
	case isOpTok(t, "(") && isOpTok(p.peekN(1), ")"):
		p.i += 2
		return &GroupingSet{P: t.pos, Kind: GroupingEmpty}, nil
	case (isKwTok(t, "rollup") || isKwTok(t, "cube")) && isOpTok(p.peekN(1), "("):
		p.i += 2
		g := &GroupingSet{P: t.pos, Kind: GroupingRollup}
		if t.val == "cube" {
			g.Kind = GroupingCube
		}
		for {
			e, err := p.parseGroupItem(true)
			if err != nil {
				return nil, err
			}
			if gs, ok := e.(*GroupingSet); ok && gs.Kind != GroupingList {
				return nil, p.syntaxErr(p.toks[p.i-1])
			}
			g.Items = append(g.Items, e)
			if !p.acceptOp(",") {
				break
			}
		}
		return g, p.expectOp(")")
	case p.isKws("grouping", "sets") && isOpTok(p.peekN(2), "("):
		p.i += 3
		g := &GroupingSet{P: t.pos, Kind: GroupingSets}
		for {
			e, err := p.parseGroupItem(true)
			if err != nil {
				return nil, err
			}
			g.Items = append(g.Items, e)
			if !p.acceptOp(",") {
				break
			}
		}
		return g, p.expectOp(")")
	case inner && isOpTok(t, "("):
		// (a, b) is a composite element; (a) is just a.
		save := p.i
		p.i++
		es, err := p.exprList()
		if err == nil && p.acceptOp(")") && (len(es) > 1 || !p.isExprContinuation()) {
			if len(es) == 1 {
				return es[0], nil
			}
			return &GroupingSet{P: t.pos, Kind: GroupingList, Items: es}, nil
		}
		p.i = save
	}
	return p.parseExpr()
}

// isExprContinuation reports whether the token at the cursor continues an
// expression (an operator), so `(a) + 1` is not a one-element list.
func (p *parser) isExprContinuation() bool {
	t := p.peek()
	return t.kind == tOp && t.val != "," && t.val != ")"
}

// parseFuncAliases parses `[WITH ORDINALITY] [AS] alias [(col, ...)]`
// after a table function in FROM.
func (p *parser) parseFuncAliases(tr *TableRef) error {
	if p.acceptKws("with", "ordinality") {
		tr.Ordinality = true
	}
	a, err := p.alias()
	if err != nil {
		return err
	}
	tr.Alias = a
	if a == "" || !p.acceptOp("(") {
		return nil
	}
	for {
		n, err := p.name()
		if err != nil {
			return err
		}
		tr.ColAliases = append(tr.ColAliases, n)
		if !p.acceptOp(",") {
			break
		}
	}
	return p.expectOp(")")
}

// formatOlapExpr prints the olap expression nodes; false for any other.
func formatOlapExpr(b *strings.Builder, e Expr) bool {
	switch e := e.(type) {
	case *WindowFunc:
		formatExpr(b, e.Func)
		b.WriteString(" OVER ")
		if e.Over.Ref != "" && e.Over.PartitionBy == nil && e.Over.OrderBy == nil && e.Over.Frame == nil {
			b.WriteString(QuoteIdent(e.Over.Ref))
			return true
		}
		formatWindowSpec(b, e.Over)
	case *GroupingSet:
		switch e.Kind {
		case GroupingRollup:
			b.WriteString("ROLLUP")
		case GroupingCube:
			b.WriteString("CUBE")
		case GroupingSets:
			b.WriteString("GROUPING SETS ")
		}
		b.WriteByte('(')
		formatExprs(b, e.Items)
		b.WriteByte(')')
	default:
		return false
	}
	return true
}

func formatWindowSpec(b *strings.Builder, s *WindowSpec) {
	b.WriteByte('(')
	sep := ""
	if s.Ref != "" {
		b.WriteString(QuoteIdent(s.Ref))
		sep = " "
	}
	if len(s.PartitionBy) > 0 {
		b.WriteString(sep + "PARTITION BY ")
		formatExprs(b, s.PartitionBy)
		sep = " "
	}
	if len(s.OrderBy) > 0 {
		b.WriteString(sep + "ORDER BY ")
		formatOrderItems(b, s.OrderBy)
		sep = " "
	}
	if f := s.Frame; f != nil {
		b.WriteString(sep)
		b.WriteString([...]string{"RANGE", "ROWS", "GROUPS"}[f.Mode])
		b.WriteString(" BETWEEN ")
		formatBound(b, f.Start)
		b.WriteString(" AND ")
		formatBound(b, f.End)
		if f.Exclude != "" {
			b.WriteString(" EXCLUDE " + f.Exclude)
		}
	}
	b.WriteByte(')')
}

func formatBound(b *strings.Builder, fb FrameBound) {
	switch fb.Kind {
	case UnboundedPreceding:
		b.WriteString("UNBOUNDED PRECEDING")
	case UnboundedFollowing:
		b.WriteString("UNBOUNDED FOLLOWING")
	case CurrentRow:
		b.WriteString("CURRENT ROW")
	case OffsetPreceding:
		formatExpr(b, fb.Offset)
		b.WriteString(" PRECEDING")
	case OffsetFollowing:
		formatExpr(b, fb.Offset)
		b.WriteString(" FOLLOWING")
	}
}

// formatSelectOlap prints a SELECT's DISTINCT ON list.
func formatDistinctOn(b *strings.Builder, s *Select) {
	b.WriteString("DISTINCT ON (")
	formatExprs(b, s.DistinctOn)
	b.WriteString(") ")
}

// formatWindowClause prints a SELECT's WINDOW clause.
func formatWindowClause(b *strings.Builder, s *Select) {
	b.WriteString(" WINDOW ")
	for i, w := range s.Windows {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(QuoteIdent(w.Name))
		b.WriteString(" AS ")
		formatWindowSpec(b, w.Spec)
	}
}
