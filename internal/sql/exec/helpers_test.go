package exec

import (
	"context"
	"fmt"
	"strconv"
	"time"

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
func str(v string) *parser.Literal { return &parser.Literal{P: 1, Kind: parser.LitString, Val: v} }
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
func fn(name string, args ...parser.Expr) *parser.Func {
	return &parser.Func{P: 3, Name: name, Args: args}
}
func countStar() *parser.Func { return &parser.Func{P: 3, Name: "count", Star: true} }
func cast(x parser.Expr, t string, mods ...int) *parser.Cast {
	return &parser.Cast{P: x.Pos(), X: x, Type: parser.TypeName{P: 1, Name: t, Mods: mods}}
}
func param(n int) *parser.Param { return &parser.Param{P: 2, N: n} }

func item(e parser.Expr, alias string) parser.SelectItem {
	return parser.SelectItem{Expr: e, Alias: alias}
}

// memSource is an in-memory Source that hands out its rows in batches
// of batchSize.
type memSource struct {
	cols      []Column
	rows      [][]types.Datum
	batchSize int
}

func (m *memSource) Columns() []Column { return m.cols }

func (m *memSource) Scan(ctx context.Context, fn func(b *types.Batch) error) error {
	ts := make([]types.T, len(m.cols))
	for i, c := range m.cols {
		ts[i] = c.T
	}
	b := types.NewBatch(ts)
	bs := m.batchSize
	if bs <= 0 {
		bs = 3
	}
	for _, r := range m.rows {
		b.AppendRow(r)
		if b.N == bs {
			if err := fn(b); err != nil {
				return err
			}
			b.Reset()
		}
	}
	if b.N > 0 {
		return fn(b)
	}
	return nil
}

func ival(v int64) types.Datum  { return types.NewInt(types.Int4, v) }
func i8(v int64) types.Datum    { return types.NewInt(types.Int8, v) }
func f8(v float64) types.Datum  { return types.NewFloat(types.Float8, v) }
func txt(s string) types.Datum  { return types.NewText(s) }
func nul(t types.T) types.Datum { return types.NullOf(t) }

// show renders a datum for comparison in tests.
func show(d types.Datum) string {
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
	case d.T.IsTime():
		return time.UnixMicro(d.I).UTC().Format("2006-01-02 15:04:05.999999")
	case d.T == types.Date:
		return time.Unix(d.I*86400, 0).UTC().Format("2006-01-02")
	case d.T == types.Interval:
		return fmt.Sprintf("%dmon %dd %dus", d.Iv.Months, d.Iv.Days, d.Iv.Micros)
	}
	return fmt.Sprint(d.I)
}

func colTypes(cols []Column) []types.T {
	ts := make([]types.T, len(cols))
	for i, c := range cols {
		ts[i] = c.T
	}
	return ts
}
