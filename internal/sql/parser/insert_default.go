package parser

import "strings"

// DefaultValue is DEFAULT written as a value in INSERT ... VALUES: the
// column's default (a stream column's is NULL). INSERT ... DEFAULT VALUES
// parses as one row of no values, which leaves every column to its
// default.
type DefaultValue struct{ P int }

// Pos is the position of the DEFAULT keyword.
func (e *DefaultValue) Pos() int { return e.P }

func (*DefaultValue) expr() {}

// formatInsertExpr formats the expressions of this file.
func formatInsertExpr(b *strings.Builder, e Expr) bool {
	if _, ok := e.(*DefaultValue); ok {
		b.WriteString("DEFAULT")
		return true
	}
	return false
}

// insertValue parses one value of INSERT ... VALUES: DEFAULT or an
// expression.
func (p *parser) insertValue() (Expr, error) {
	if p.isKw("default") {
		return &DefaultValue{P: p.next().pos}, nil
	}
	return p.parseExpr()
}
