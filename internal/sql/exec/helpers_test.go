package exec

import (
	"context"

	"github.com/cairndb/cairn/internal/sql/exec/internal/exectest"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

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

// Shorthands for the shared test helpers (exectest).
var (
	col       = exectest.Col
	colAt     = exectest.ColAt
	num       = exectest.Num
	str       = exectest.Str
	boolean   = exectest.Boolean
	bin       = exectest.Bin
	fn        = exectest.Fn
	countStar = exectest.CountStar
	cast      = exectest.Cast
	param     = exectest.Param
	ival      = exectest.Int4
	i8        = exectest.Int8
	f8        = exectest.Float8
	txt       = exectest.Text
	nul       = exectest.Null
	show      = exectest.Show
)
