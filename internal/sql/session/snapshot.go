package session

import (
	"strconv"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
)

// Bounds of snapshot_rate (besides 0, unlimited): below 1MB/s a large
// shard would take days to re-replicate.
const (
	minSnapshotRate = 1 << 20
	maxSnapshotRate = 1 << 40
)

func init() {
	clusterSettings[catalog.SnapshotRate] = clusterSetting{checkSnapshotRate,
		"bytes per second each node may send raft snapshots at (re-replicating a shard), all snapshots together; 0 is unlimited"}
}

// checkSnapshotRate checks an ALTER SYSTEM SET snapshot_rate value: 0, or
// a size per second between 1MB and 1TB ('64MB', '512MB', '1GB').
func checkSnapshotRate(v string) (string, error) {
	n, err := catalog.ParseByteSize(v)
	if err != nil || (n != 0 && (n < minSnapshotRate || n > maxSnapshotRate)) {
		return "", pgerr.SnapshotRateRange.New(v)
	}
	return formatByteSize(n), nil
}

// formatByteSize writes n bytes in the largest unit that divides it.
func formatByteSize(n int64) string {
	for _, u := range []struct {
		s string
		m int64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}} {
		if n != 0 && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.s
		}
	}
	return strconv.FormatInt(n, 10)
}
