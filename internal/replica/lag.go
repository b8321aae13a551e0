package replica

import (
	"time"

	"github.com/cairndb/cairn/internal/catalog"
)

// LagUpdater returns the round that keeps cairn_view_lag_events and
// cairn_view_lag_seconds current for the views whose shards this node
// holds: events in the stream not yet folded, and the age of the oldest
// of them. It remembers which views it reported, to drop the gone ones.
func (m *Manager) LagUpdater() func() {
	known := map[string]bool{}
	return func() {
		cat := m.meta.Catalog()
		seen := map[string]bool{}
		for _, v := range cat.SortedViews() {
			// The shards the view's offsets cover: its stream's, then
			// (a join of two streams) the right-hand stream's.
			var srcGroups []uint64
			gone := false
			for _, s := range cat.ViewStreams(v) {
				if s == nil {
					gone = true
					break
				}
				srcGroups = append(srcGroups, s.Groups...)
			}
			if gone {
				continue
			}
			var lagEvents int64
			var oldest int64 // unix µs of the oldest unfolded batch; 0 = none
			have, windowed := false, false
			var late uint64
			var bfDone uint64
			bfKnown := false
			for _, vg := range v.Groups {
				g := m.Get(vg)
				if g == nil || g.View == nil {
					continue
				}
				have = true
				if v.BackfillTo != nil {
					// The slowest local shard's progress (all shards
					// together: cairn_cluster.views).
					offs, _ := g.View.DurableOffsets()
					d := backfillDone(v, offs)
					if !bfKnown || d < bfDone {
						bfDone = d
					}
					bfKnown = true
				}
				if g.View.Plan().Watermarked() {
					windowed = true
					_, l, _, _ := g.View.Window()
					late += l
				}
				offs, _ := g.View.DurableOffsets()
				var shardLag int64
				for i, sg := range srcGroups {
					src := m.Get(sg)
					if src == nil || src.Stream == nil || i >= len(offs) {
						continue
					}
					end, _ := src.Stream.End()
					if end <= offs[i] {
						continue
					}
					shardLag += int64(end - offs[i])
					_ = src.Stream.ScanHeaders(offs[i], func(_ uint64, ingest int64, _ int) bool {
						if oldest == 0 || ingest < oldest {
							oldest = ingest
						}
						return false
					})
				}
				lagEvents = max(lagEvents, shardLag)
			}
			if !have {
				continue
			}
			seen[v.Name] = true
			var age time.Duration
			if oldest > 0 && lagEvents > 0 {
				age = max(0, time.Since(time.UnixMicro(oldest)))
			}
			m.metrics.SetViewLag(v.Name, lagEvents, age)
			if windowed {
				m.metrics.SetViewLate(v.Name, late)
			}
			if v.BackfillTo != nil {
				m.metrics.SetBackfill(v.Name, v.BackfillProgress(nil).Target, bfDone)
			}
		}
		for name := range known {
			if !seen[name] {
				m.metrics.DropView(name)
			}
		}
		known = seen
	}
}

// backfillDone is how many of v's back-fill events one view shard with
// offsets offs (per source shard) has folded.
func backfillDone(v *catalog.View, offs []uint64) uint64 {
	var done uint64
	for i, end := range v.BackfillTo {
		start := uint64(0)
		if i < len(v.Start) {
			start = v.Start[i]
		}
		if end <= start || i >= len(offs) {
			continue
		}
		done += min(end, max(offs[i], start)) - start
	}
	return done
}
