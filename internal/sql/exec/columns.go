package exec

import "github.com/cairndb/cairn/internal/catalog"

// StreamColumns are a stream's columns as the executor sees them.
func StreamColumns(s *catalog.Stream) []Column {
	cols := make([]Column, len(s.Cols))
	for i, c := range s.Cols {
		cols[i] = Column{Name: c.Name, T: c.T}
	}
	return cols
}
