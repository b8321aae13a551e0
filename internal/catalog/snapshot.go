package catalog

import (
	"fmt"
	"strconv"
	"strings"
)

// SnapshotRate is the cluster setting that caps how many bytes per second
// each node sends raft snapshots at (all snapshots together), so that
// re-replicating a shard does not starve ingest. "0" is unlimited.
const SnapshotRate = "snapshot_rate"

func init() { SettingDefaults[SnapshotRate] = "64MB" }

// byteUnits are the units ParseByteSize accepts, 1024-based as in
// PostgreSQL's memory settings.
var byteUnits = []struct {
	suffix string
	mult   int64
}{{"tb", 1 << 40}, {"gb", 1 << 30}, {"mb", 1 << 20}, {"kb", 1 << 10}, {"b", 1}}

// ParseByteSize parses a size such as "64MB", "512kB", "1GB" or a plain
// number of bytes (units are 1024-based, case-insensitive).
func ParseByteSize(v string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is not a size such as '64MB'", v)
	}
	return n * mult, nil
}

// SnapshotRateBytes is snapshot_rate in bytes per second (0: unlimited).
func (c *Catalog) SnapshotRateBytes() int64 {
	v, _ := c.Setting(SnapshotRate)
	n, err := ParseByteSize(v)
	if err != nil {
		n, _ = ParseByteSize(SettingDefaults[SnapshotRate])
	}
	return n
}
