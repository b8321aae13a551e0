package ops

import (
	"fmt"

	"github.com/cairndb/cairn/internal/rpc"
)

// snapshotTo is the snapshot the group's leader is streaming to node to,
// if any (from a shard status).
func snapshotTo(rep *rpc.ShardReply, to uint64) (rpc.SnapshotProgress, bool) {
	for _, sp := range rep.Snapshots {
		if sp.To == to {
			return sp, true
		}
	}
	return rpc.SnapshotProgress{}, false
}

// byteSize formats a byte count for an operation's step ("12.5 MB").
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
