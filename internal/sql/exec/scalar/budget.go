package scalar

import (
	"strconv"
	"sync/atomic"
	"unsafe"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

const datumSize = int(unsafe.Sizeof(types.Datum{}))

// Budget bounds the memory one statement's buffering operators hold
// (hash tables of joins and aggregations, sorts, DISTINCT sets, window
// partitions, materialized CTEs and set operations). Operators charge
// what they keep with Grow and give it back with Shrink when they let
// go; the first Grow past Limit fails the statement with 53200 instead
// of letting the node run out of memory. Sizes are estimates (a row's
// datums and their text), not exact heap usage. A nil *Budget, or
// Limit <= 0, is unbounded. Safe for concurrent use.
type Budget struct {
	Limit int64
	used  atomic.Int64
	peak  atomic.Int64
}

// NewBudget returns a budget of limit bytes (<= 0: unbounded).
func NewBudget(limit int64) *Budget { return &Budget{Limit: limit} }

// Grow charges n bytes; past the limit it fails with 53200 and charges
// nothing.
func (b *Budget) Grow(n int64) error {
	if b == nil {
		return nil
	}
	u := b.used.Add(n)
	if b.Limit > 0 && u > b.Limit {
		b.used.Add(-n)
		return pgerr.QueryMemoryExceeded.New(FormatBytes(b.Limit))
	}
	for {
		p := b.peak.Load()
		if u <= p || b.peak.CompareAndSwap(p, u) {
			break
		}
	}
	return nil
}

// Shrink gives back n bytes charged with Grow.
func (b *Budget) Shrink(n int64) {
	if b != nil {
		b.used.Add(-n)
	}
}

// Used is what is charged now; Peak the most ever charged (EXPLAIN
// ANALYZE reports it).
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Peak is the most ever charged at once.
func (b *Budget) Peak() int64 {
	if b == nil {
		return 0
	}
	return b.peak.Load()
}

// Grow charges n bytes to the statement's budget (ec or its budget may
// be nil: unbounded).
func (ec *Ctx) Grow(n int64) error {
	if ec == nil {
		return nil
	}
	return ec.Mem.Grow(n)
}

// Shrink gives back n bytes charged with Grow.
func (ec *Ctx) Shrink(n int64) {
	if ec != nil {
		ec.Mem.Shrink(n)
	}
}

// RowSize estimates the bytes a buffered row holds: its datums plus
// their out-of-line text.
func RowSize(row []types.Datum) int64 {
	n := int64(24 + len(row)*datumSize)
	for i := range row {
		n += int64(len(row[i].S))
	}
	return n
}

// FormatBytes prints n as PostgreSQL prints memory settings (64MB, 1GB).
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "kB"
	}
	return strconv.FormatInt(n, 10) + "B"
}
