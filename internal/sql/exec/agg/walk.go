package agg

import (
	"fmt"
	"strings"

	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// children lists the direct sub-expressions of e.
func children(e parser.Expr) []parser.Expr {
	switch e := e.(type) {
	case *parser.Unary:
		return []parser.Expr{e.X}
	case *parser.Binary:
		return []parser.Expr{e.L, e.R}
	case *parser.IsNull:
		return []parser.Expr{e.X}
	case *parser.IsBool:
		return []parser.Expr{e.X}
	case *parser.InList:
		return append([]parser.Expr{e.X}, e.List...)
	case *parser.Between:
		return []parser.Expr{e.X, e.Lo, e.Hi}
	case *parser.Cast:
		return []parser.Expr{e.X}
	case *parser.Func:
		return e.Args
	case *parser.WindowFunc:
		// The call's arguments and FILTER, and the window's expressions:
		// an aggregate inside them (sum(count(*)) OVER ()) makes the
		// query grouped; the window function itself does not.
		out := append([]parser.Expr(nil), e.Func.Args...)
		if e.Func.Filter != nil {
			out = append(out, e.Func.Filter)
		}
		out = append(out, e.Over.PartitionBy...)
		for _, o := range e.Over.OrderBy {
			out = append(out, o.Expr)
		}
		return out
	case *parser.InSubquery:
		return []parser.Expr{e.X}
	case *parser.Quantified:
		if e.Array != nil {
			return []parser.Expr{e.X, e.Array}
		}
		return []parser.Expr{e.X}
	case *parser.Case:
		var out []parser.Expr
		if e.Operand != nil {
			out = append(out, e.Operand)
		}
		for _, w := range e.Whens {
			out = append(out, w.Cond, w.Then)
		}
		if e.Else != nil {
			out = append(out, e.Else)
		}
		return out
	}
	return nil
}

// Contains reports whether e contains an aggregate call.
func Contains(e parser.Expr) bool {
	if e == nil {
		return false
	}
	if f, ok := e.(*parser.Func); ok && scalar.IsAggName(strings.ToLower(f.Name)) {
		return true
	}
	for _, k := range children(e) {
		if Contains(k) {
			return true
		}
	}
	return false
}

// Canon renders e in a canonical form (positions dropped, columns
// resolved to their index) so equal expressions compare equal.
func Canon(c *scalar.Compiler, e parser.Expr) string {
	var sb strings.Builder
	canonTo(c, &sb, e)
	return sb.String()
}

func canonTo(c *scalar.Compiler, sb *strings.Builder, e parser.Expr) {
	switch e := e.(type) {
	case nil:
		sb.WriteString("<nil>")
	case *parser.ColumnRef:
		if idx, err := c.ResolveCol(e); err == nil && idx >= 0 {
			fmt.Fprintf(sb, "#%d", idx)
		} else {
			fmt.Fprintf(sb, "?%s.%s", e.Table, e.Name)
		}
	case *parser.Literal:
		fmt.Fprintf(sb, "L%d%q", e.Kind, e.Val)
	case *parser.Param:
		fmt.Fprintf(sb, "$%d", e.N)
	case *parser.Star:
		sb.WriteString("*")
	case *parser.Unary:
		fmt.Fprintf(sb, "(%s ", strings.ToUpper(e.Op))
		canonTo(c, sb, e.X)
		sb.WriteString(")")
	case *parser.Binary:
		sb.WriteString("(")
		canonTo(c, sb, e.L)
		fmt.Fprintf(sb, " %s ", strings.ToUpper(e.Op))
		canonTo(c, sb, e.R)
		sb.WriteString(")")
	case *parser.IsNull:
		fmt.Fprintf(sb, "(ISNULL %v ", e.Not)
		canonTo(c, sb, e.X)
		sb.WriteString(")")
	case *parser.IsBool:
		fmt.Fprintf(sb, "(ISBOOL %v %v ", e.Not, e.Val)
		canonTo(c, sb, e.X)
		sb.WriteString(")")
	case *parser.InList:
		fmt.Fprintf(sb, "(IN %v", e.Not)
		for _, k := range children(e) {
			sb.WriteString(" ")
			canonTo(c, sb, k)
		}
		sb.WriteString(")")
	case *parser.Between:
		fmt.Fprintf(sb, "(BETWEEN %v", e.Not)
		for _, k := range children(e) {
			sb.WriteString(" ")
			canonTo(c, sb, k)
		}
		sb.WriteString(")")
	case *parser.Cast:
		sb.WriteString("(CAST ")
		canonTo(c, sb, e.X)
		t, _ := types.FromName(e.Type.Name)
		fmt.Fprintf(sb, " %d %v)", t, e.Type.Mods)
	case *parser.Func:
		fmt.Fprintf(sb, "%s(%v %v", strings.ToLower(e.Name), e.Distinct, e.Star)
		for _, k := range e.Args {
			sb.WriteString(" ")
			canonTo(c, sb, k)
		}
		for _, o := range e.WithinGroup {
			fmt.Fprintf(sb, " WG %v %v ", o.Desc, o.NullsFirst != nil && *o.NullsFirst)
			canonTo(c, sb, o.Expr)
		}
		if e.Filter != nil {
			sb.WriteString(" FILTER ")
			canonTo(c, sb, e.Filter)
		}
		sb.WriteString(")")
	case *parser.WindowFunc:
		// The text of the window is enough: equal calls over equal
		// windows compute the same values.
		sb.WriteString("(OVER ")
		canonTo(c, sb, e.Func)
		sb.WriteString(" " + parser.FormatExpr(e) + ")")
	case *parser.Case:
		fmt.Fprintf(sb, "(CASE %v", e.Operand != nil)
		for _, k := range children(e) {
			sb.WriteString(" ")
			canonTo(c, sb, k)
		}
		fmt.Fprintf(sb, " %v)", e.Else != nil)
	default:
		fmt.Fprintf(sb, "%T@%p", e, e)
	}
}

// Any reports whether pred holds for e or any of its sub-expressions.
func Any(e parser.Expr, pred func(parser.Expr) bool) bool {
	if e == nil {
		return false
	}
	if pred(e) {
		return true
	}
	if f, ok := e.(*parser.Func); ok {
		if Any(f.Filter, pred) {
			return true
		}
		for _, o := range f.WithinGroup {
			if Any(o.Expr, pred) {
				return true
			}
		}
	}
	for _, k := range children(e) {
		if Any(k, pred) {
			return true
		}
	}
	return false
}
