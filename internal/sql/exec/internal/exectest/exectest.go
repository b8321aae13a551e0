// Package exectest holds what the exec and exec/scalar tests share: AST
// constructors (positions distinct per kind, so error positions can be
// checked), datum constructors and a rendering of datums for comparing
// results.
package exectest

import (
	"fmt"
	"strconv"
	"time"

	"github.com/cairndb/cairn/internal/sql/parser"

	"github.com/cairndb/cairn/internal/types"
)

// Int4, Int8, Float8, Text and Null make datums of those types.
func Int4(v int64) types.Datum     { return types.NewInt(types.Int4, v) }
func Int8(v int64) types.Datum     { return types.NewInt(types.Int8, v) }
func Float8(v float64) types.Datum { return types.NewFloat(types.Float8, v) }
func Text(s string) types.Datum    { return types.NewText(s) }
func Null(t types.T) types.Datum   { return types.NullOf(t) }

// Show renders a datum for comparison in tests.
func Show(d types.Datum) string {
	if d.Null {
		return "NULL"
	}
	switch {
	case d.T == types.Bool:
		return fmt.Sprint(d.I != 0)
	case d.T == types.Text:
		return fmt.Sprintf("%q", d.S)
	case d.T.IsFloat():
		return fmt.Sprint(d.F)
	case d.T == types.Numeric:
		return d.S
	case d.T.IsTime():
		return time.UnixMicro(d.I).UTC().Format("2006-01-02 15:04:05.999999")
	case d.T == types.Date:
		return time.Unix(d.I*86400, 0).UTC().Format("2006-01-02")
	case d.T == types.Interval:
		return fmt.Sprintf("%dmon %dd %dus", d.Iv.Months, d.Iv.Days, d.Iv.Micros)
	}
	return fmt.Sprint(d.I)
}

// Col is a column reference.
func Col(name string) *parser.ColumnRef { return &parser.ColumnRef{P: 7, Name: name} }

// ColAt is a column reference at position p.
func ColAt(p int, name string) *parser.ColumnRef { return &parser.ColumnRef{P: p, Name: name} }

// Num, Flt, Str, NullLit and Boolean are literals.
func Num(v int) *parser.Literal {
	return &parser.Literal{P: 1, Kind: parser.LitInt, Val: strconv.Itoa(v)}
}
func Flt(v string) *parser.Literal { return &parser.Literal{P: 1, Kind: parser.LitFloat, Val: v} }
func Str(v string) *parser.Literal { return &parser.Literal{P: 1, Kind: parser.LitString, Val: v} }
func NullLit() *parser.Literal     { return &parser.Literal{P: 1, Kind: parser.LitNull} }
func Boolean(b bool) *parser.Literal {
	v := "false"
	if b {
		v = "true"
	}
	return &parser.Literal{P: 1, Kind: parser.LitBool, Val: v}
}

// Bin is l op r.
func Bin(op string, l, r parser.Expr) *parser.Binary {
	return &parser.Binary{P: l.Pos(), Op: op, L: l, R: r}
}

// Not and Neg are NOT x and -x.
func Not(x parser.Expr) *parser.Unary { return &parser.Unary{P: 1, Op: "NOT", X: x} }
func Neg(x parser.Expr) *parser.Unary { return &parser.Unary{P: 1, Op: "-", X: x} }

// Fn is a function call; CountStar is count(*).
func Fn(name string, args ...parser.Expr) *parser.Func {
	return &parser.Func{P: 3, Name: name, Args: args}
}
func CountStar() *parser.Func { return &parser.Func{P: 3, Name: "count", Star: true} }

// Cast is x::t(mods).
func Cast(x parser.Expr, t string, mods ...int) *parser.Cast {
	return &parser.Cast{P: x.Pos(), X: x, Type: parser.TypeName{P: 1, Name: t, Mods: mods}}
}

// Param is $n.
func Param(n int) *parser.Param { return &parser.Param{P: 2, N: n} }
