package memory

// MinLimit is the smallest --max-memory a node starts with: below it the
// fixed costs (Go runtime, catalog, raft state) leave nothing to budget.
const MinLimit = 64 << 20

// DefaultPercent is the share of the machine's (or cgroup's) memory a
// node keeps to when --max-memory is not given.
const DefaultPercent = 50

// MemTableCount is how many Pebble memtables may exist at once (one
// being written, the rest queued for flush); past it Pebble stalls
// writes, which is the disk's backpressure.
const MemTableCount = 4

// Budgets splits a node's memory limit between its components. The
// shares are fixed fractions of Limit (Plan); what is left over is the
// Go heap that no component accounts for (view rows, catalog, raft
// state, connections).
type Budgets struct {
	Limit      uint64 // --max-memory
	BlockCache uint64 // Pebble's block cache (1/8)
	MemTable   uint64 // one Pebble memtable: MemTableCount of them are 1/8
	ViewCache  uint64 // the shared view row cache when --view-cache is not given (1/4)
	Ingest     uint64 // appends in flight: admitted, not yet acknowledged (1/8)
	ViewDelta  uint64 // one view task's delta between two proposals (1/32)
}

// Plan returns the budgets for a limit of limit bytes.
func Plan(limit uint64) Budgets {
	b := Budgets{Limit: limit}
	b.BlockCache = clamp(limit/8, 4<<20, 1<<30)
	b.MemTable = clamp(limit/8/MemTableCount, 1<<20, 64<<20)
	b.ViewCache = limit / 4
	b.Ingest = max(limit/8, 4<<20)
	b.ViewDelta = max(limit/32, 2<<20)
	return b
}

// MemTables is the most the Pebble memtables hold together.
func (b Budgets) MemTables() uint64 { return b.MemTable * MemTableCount }

// ViewDeltaEvents is how many events one view task folds into a delta
// before it proposes it: the view-delta budget at bytesPerEvent per
// event (a group key's state, when every event has its own key), at
// least 4096 so that tiny limits still make progress, and at most the
// view task's own default (256Ki events), which larger nodes keep.
func (b Budgets) ViewDeltaEvents() int {
	const bytesPerEvent = 512
	return int(clamp(b.ViewDelta/bytesPerEvent, 4096, 256<<10))
}

func clamp(v, lo, hi uint64) uint64 { return min(max(v, lo), hi) }
