package parser

import "strings"

// Format support for the AST of ast_query.go.

// formatQuery prints a query that is not a simple SELECT (or has WITH):
// set operands are parenthesised, so the printed form re-parses to the
// same tree whatever the precedence.
func formatQuery(b *strings.Builder, s *Select) {
	if w := s.With; w != nil {
		b.WriteString("WITH ")
		if w.Recursive {
			b.WriteString("RECURSIVE ")
		}
		for i, c := range w.CTEs {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(QuoteIdent(c.Name))
			if len(c.Cols) > 0 {
				b.WriteString(" (")
				formatNames(b, c.Cols)
				b.WriteByte(')')
			}
			b.WriteString(" AS (")
			formatSelect(b, c.Query)
			b.WriteByte(')')
		}
		b.WriteByte(' ')
	}
	switch {
	case s.SetOp != nil:
		formatSetOperand(b, s.SetOp.Left)
		b.WriteByte(' ')
		b.WriteString(s.SetOp.Op.String())
		if s.SetOp.All {
			b.WriteString(" ALL")
		}
		b.WriteByte(' ')
		formatSetOperand(b, s.SetOp.Right)
	case s.Values != nil:
		b.WriteString("VALUES ")
		for i, row := range s.Values {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			formatExprs(b, row)
			b.WriteByte(')')
		}
	default:
		body := *s
		body.With = nil
		body.OrderBy, body.Limit, body.Offset = nil, nil, nil
		formatSelect(b, &body)
	}
	formatQueryTail(b, s)
}

func formatSetOperand(b *strings.Builder, s *Select) {
	b.WriteByte('(')
	formatSelect(b, s)
	b.WriteByte(')')
}

func formatQueryTail(b *strings.Builder, s *Select) {
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

// formatTableRef prints a FROM item; joins are parenthesised.
func formatTableRef(b *strings.Builder, f *TableRef) {
	switch {
	case f.Join != nil:
		j := f.Join
		if j.Comma {
			// A FROM list: `a, b` (a comma list cannot be parenthesised).
			formatTableRef(b, j.Left)
			b.WriteString(", ")
			formatTableRef(b, j.Right)
			return
		}
		b.WriteByte('(')
		formatTableRef(b, j.Left)
		switch {
		case j.Natural:
			b.WriteString(" NATURAL ")
			b.WriteString(j.Kind.String())
			b.WriteByte(' ')
		default:
			b.WriteByte(' ')
			b.WriteString(j.Kind.String())
			b.WriteByte(' ')
		}
		formatTableRef(b, j.Right)
		if j.On != nil {
			b.WriteString(" ON ")
			formatExpr(b, j.On)
		}
		if len(j.Using) > 0 {
			b.WriteString(" USING (")
			formatNames(b, j.Using)
			b.WriteByte(')')
		}
		b.WriteByte(')')
	case f.Subquery != nil:
		b.WriteByte('(')
		formatSelect(b, f.Subquery)
		b.WriteByte(')')
	case f.Func != nil:
		formatExpr(b, f.Func)
		if f.Ordinality {
			b.WriteString(" WITH ORDINALITY")
		}
	default:
		if f.Schema != "" {
			b.WriteString(QuoteIdent(f.Schema))
			b.WriteByte('.')
		}
		b.WriteString(QuoteIdent(f.Name))
	}
	if f.Alias != "" {
		b.WriteString(" AS ")
		b.WriteString(QuoteIdent(f.Alias))
		if len(f.ColAliases) > 0 {
			b.WriteByte('(')
			formatNames(b, f.ColAliases)
			b.WriteByte(')')
		}
	}
}

// formatQueryExpr prints the subquery expressions; ok is false for any
// other expression.
func formatQueryExpr(b *strings.Builder, e Expr) (ok bool) {
	switch e := e.(type) {
	case *ArraySubquery:
		b.WriteString("ARRAY(")
		formatSelect(b, e.Select)
		b.WriteByte(')')
	case *Exists:
		b.WriteString("EXISTS (")
		formatSelect(b, e.Select)
		b.WriteByte(')')
	case *InSubquery:
		b.WriteByte('(')
		formatExpr(b, e.X)
		if e.Not {
			b.WriteString(" NOT")
		}
		b.WriteString(" IN (")
		formatSelect(b, e.Select)
		b.WriteString("))")
	case *Quantified:
		b.WriteByte('(')
		formatExpr(b, e.X)
		b.WriteByte(' ')
		b.WriteString(e.Op)
		if e.All {
			b.WriteString(" ALL (")
		} else {
			b.WriteString(" ANY (")
		}
		if e.Select != nil {
			formatSelect(b, e.Select)
		} else {
			formatExpr(b, e.Array)
		}
		b.WriteString("))")
	default:
		return false
	}
	return true
}

func formatExplain(b *strings.Builder, s *Explain) {
	b.WriteString("EXPLAIN ")
	if s.Analyze {
		b.WriteString("ANALYZE ")
	}
	if s.Verbose {
		b.WriteString("VERBOSE ")
	}
	formatSelect(b, s.Query)
}
