package parser

// FieldSel is field selection from a composite value, `(X).Field`
// (issue 11: pkeys). The parentheses are required, as in PostgreSQL.
type FieldSel struct {
	P     int
	X     Expr
	Field string
}

func (e *FieldSel) Pos() int { return e.P }
func (*FieldSel) expr()      {}

// parseFieldSel parses the `.name` (and further `.name`s) after a
// parenthesised expression x.
func (p *parser) parseFieldSel(x Expr) (Expr, error) {
	for p.isOp(".") {
		dot := p.next()
		n := p.peek()
		switch {
		case isOpTok(n, "*"):
			return nil, p.unsupported(n, "(composite).* is not supported")
		case n.kind == tQIdent || n.kind == tIdent:
			p.i++
		default:
			return nil, p.syntaxErr(n)
		}
		x = &FieldSel{P: dot.pos, X: x, Field: n.val}
	}
	return x, nil
}
