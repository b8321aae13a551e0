package exec

import (
	"context"

	"github.com/cairndb/cairn/internal/types"
)

// MemTable is a Source over rows held in memory: the system tables.
type MemTable struct {
	Cols []Column
	Rows [][]types.Datum
}

// Columns implements Source.
func (m *MemTable) Columns() []Column { return m.Cols }

// Scan implements Source: one batch with every row.
func (m *MemTable) Scan(_ context.Context, fn func(b *types.Batch) error) error {
	ts := make([]types.T, len(m.Cols))
	for i, c := range m.Cols {
		ts[i] = c.T
	}
	b := types.NewBatch(ts)
	for _, r := range m.Rows {
		b.AppendRow(r)
	}
	return fn(b)
}
