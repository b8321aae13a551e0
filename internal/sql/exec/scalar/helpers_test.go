package scalar

import (
	"strconv"

	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// AST constructors for tests; positions are distinct per call so error
// positions can be checked.

func col(name string) *parser.ColumnRef { return &parser.ColumnRef{P: 7, Name: name} }
func colAt(p int, name string) *parser.ColumnRef {
	return &parser.ColumnRef{P: p, Name: name}
}
func num(v int) *parser.Literal {
	return &parser.Literal{P: 1, Kind: parser.LitInt, Val: strconv.Itoa(v)}
}
func flt(v string) *parser.Literal { return &parser.Literal{P: 1, Kind: parser.LitFloat, Val: v} }
func str(v string) *parser.Literal { return &parser.Literal{P: 1, Kind: parser.LitString, Val: v} }
func null() *parser.Literal        { return &parser.Literal{P: 1, Kind: parser.LitNull} }
func boolean(b bool) *parser.Literal {
	v := "false"
	if b {
		v = "true"
	}
	return &parser.Literal{P: 1, Kind: parser.LitBool, Val: v}
}
func bin(op string, l, r parser.Expr) *parser.Binary {
	return &parser.Binary{P: l.Pos(), Op: op, L: l, R: r}
}
func not(x parser.Expr) *parser.Unary { return &parser.Unary{P: 1, Op: "NOT", X: x} }
func neg(x parser.Expr) *parser.Unary { return &parser.Unary{P: 1, Op: "-", X: x} }
func fn(name string, args ...parser.Expr) *parser.Func {
	return &parser.Func{P: 3, Name: name, Args: args}
}
func cast(x parser.Expr, t string, mods ...int) *parser.Cast {
	return &parser.Cast{P: x.Pos(), X: x, Type: parser.TypeName{P: 1, Name: t, Mods: mods}}
}
func param(n int) *parser.Param { return &parser.Param{P: 2, N: n} }

func ival(v int64) types.Datum  { return types.NewInt(types.Int4, v) }
func i8(v int64) types.Datum    { return types.NewInt(types.Int8, v) }
func f8(v float64) types.Datum  { return types.NewFloat(types.Float8, v) }
func txt(s string) types.Datum  { return types.NewText(s) }
func nul(t types.T) types.Datum { return types.NullOf(t) }
