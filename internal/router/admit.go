package router

import "github.com/cairndb/cairn/internal/types"

// InFlightBytes estimates the memory an insert of b holds until it is
// acknowledged: the batch, plus its encoded copy in the append command
// (and in the Raft entry that shares it), so twice the batch's bytes.
func InFlightBytes(b *types.Batch) int64 {
	var n int64
	for i := range b.Cols {
		c := &b.Cols[i]
		n += int64(len(c.Nulls) + 8*len(c.I) + 8*len(c.F) + len(c.Bytes) + 4*len(c.Offs) + 16*len(c.Iv))
	}
	return 2 * n
}
