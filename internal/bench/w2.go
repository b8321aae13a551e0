package bench

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// workload is what differs between W1 and W2: the views created over
// W1's event stream, and the view and queries that freshness and the
// exactly-once check read (each counts events per device in a column n,
// the probe device -1 included).
type workload struct {
	setup []string
	view  string
	// probeCount returns the query for the probe device's event count,
	// given when the first probe was sent (a point lookup, so that the
	// probe measures freshness without scanning the view).
	probeCount func(since time.Time) string
	totalCount string // every event counted
	// check, if set, verifies the workload's other views after the
	// counts match, returning one line per check for the result.
	check func(ctx context.Context, c client) ([]string, error)
}

var workloads = map[string]*workload{
	"w1": {setup: w1Setup, view: w1View, probeCount: func(time.Time) string { return sqlProbeCount }, totalCount: sqlTotalCount},
	"w2": {setup: w2Setup, view: w2DeviceMin, probeCount: w2ProbeCount, totalCount: w2TotalCount, check: w2Check},
	// w1join: W1 with its view joined to a device table (w1join.go).
	"w1join": {setup: w1JoinSetup, view: w1View, probeCount: func(time.Time) string { return sqlProbeCount }, totalCount: sqlTotalCount},
}

// w2ProbeCount pins both key columns of the per-minute view: the probe
// device and every minute since the first probe (probe events carry the
// time they are sent).
func w2ProbeCount(since time.Time) string {
	var sb strings.Builder
	sb.WriteString("SELECT coalesce(sum(n), 0) FROM " + w2DeviceMin + " WHERE device_id = -1 AND window_start IN (")
	end := time.Now().UTC().Truncate(time.Minute)
	for m, i := since.UTC().Truncate(time.Minute), 0; !m.After(end) && i < 1000; m, i = m.Add(time.Minute), i+1 {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(m.Format("'2006-01-02 15:04:05+00'"))
	}
	sb.WriteString(")")
	return sb.String()
}

// W2: W1's events into three views at once — per device per minute
// (tumble) count/sum/max, distinct devices per region per minute
// (HyperLogLog), and the 99th percentile of value per region over a
// 5-minute sliding window (t-digest). The per-minute views keep an hour
// of windows (ttl), so every view's state is bounded however long the
// run. The generator's event times advance one microsecond per event,
// not with the clock (the probe's are the clock's), so both the ttl and
// the lateness are generous: with a ttl of ten minutes a run longer than
// that loses its first windows to expiry before the final count (an
// 11-minute run of 260M events did), and with a short lateness most
// generated events would arrive after their window closed and be counted
// late, not folded.
const (
	w2DeviceMin  = "w2_device_min"
	w2Uniques    = "w2_region_uniques"
	w2P99        = "w2_region_p99"
	w2TotalCount = "SELECT coalesce(sum(n), 0) FROM " + w2DeviceMin
)

var w2Setup = []string{
	"DROP VIEW IF EXISTS " + w2DeviceMin,
	"DROP VIEW IF EXISTS " + w2Uniques,
	"DROP VIEW IF EXISTS " + w2P99,
	"DROP STREAM IF EXISTS " + w1Stream + " CASCADE",
	"CREATE STREAM " + w1Stream + " (ts timestamptz, device_id int, region text, value float8)",
	"CREATE VIEW " + w2DeviceMin + " WITH (ttl = '1 hour', ttl_column = 'window_start', lateness = '1 day') AS " +
		"SELECT window_start, device_id, count(*) AS n, sum(value) AS total, max(value) AS peak " +
		"FROM tumble(" + w1Stream + ", ts, interval '1 minute') GROUP BY window_start, device_id",
	"CREATE VIEW " + w2Uniques + " WITH (ttl = '1 hour', ttl_column = 'window_start', lateness = '1 day') AS " +
		"SELECT window_start, region, approx_count_distinct(device_id) AS devices " +
		"FROM tumble(" + w1Stream + ", ts, interval '1 minute') GROUP BY window_start, region",
	"CREATE VIEW " + w2P99 + " AS SELECT region, percentile_cont(0.99) WITHIN GROUP (ORDER BY value) AS p99 " +
		"FROM " + w1Stream + " WHERE arrival_timestamp > clock_timestamp() - interval '5 minutes' GROUP BY region",
}

// w2Check reads the sketch views: every region has a p99 close to 990
// (values are uniform in [0, 1000)) and per-minute distinct device counts
// no larger than the 10,000 devices plus the sketch's error.
func w2Check(ctx context.Context, c client) ([]string, error) {
	n, err := c.queryInt(ctx, "SELECT count(*) FROM "+w2P99+" WHERE p99 BETWEEN 970 AND 1000")
	if err != nil {
		return nil, err
	}
	if n != int64(len(w1Regions)) {
		return nil, fmt.Errorf("%s: %d of %d regions have a p99 in [970, 1000]", w2P99, n, len(w1Regions))
	}
	over, err := c.queryInt(ctx, "SELECT count(*) FROM "+w2Uniques+" WHERE devices > 10400 OR devices < 1")
	if err != nil {
		return nil, err
	}
	rows, err := c.queryInt(ctx, "SELECT count(*) FROM "+w2Uniques)
	if err != nil {
		return nil, err
	}
	if over != 0 || rows == 0 {
		return nil, fmt.Errorf("%s: %d of %d rows have an impossible distinct count", w2Uniques, over, rows)
	}
	return []string{
		fmt.Sprintf("%s: all %d regions have a p99 in [970, 1000]", w2P99, len(w1Regions)),
		fmt.Sprintf("%s: %d region-minutes, each at most 10,000 devices within the sketch's error", w2Uniques, rows),
	}, nil
}
