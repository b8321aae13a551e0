package replica

import (
	"context"
	"errors"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/types"
)

// TrimExpired trims expired batches of streams that have a retention,
// on the shards this node leads.
func (m *Manager) TrimExpired() {
	cat := m.meta.Catalog()
	for _, s := range cat.SortedStreams() {
		if s.Retention == "" {
			continue
		}
		d, err := types.ParseText(types.Interval, s.Retention)
		if err != nil {
			continue
		}
		keep := time.Duration(d.Iv.Micros)*time.Microsecond + time.Duration(d.Iv.Days)*24*time.Hour + time.Duration(d.Iv.Months)*30*24*time.Hour
		for i, gid := range s.Groups {
			err := m.trimShard(cat, s, i, gid, time.Now().Add(-keep))
			switch {
			case err == nil || m.ctx.Err() != nil:
			case errors.Is(err, raftstore.ErrProposalDropped), errors.Is(err, raftstore.ErrNotLeader):
				// A leader change: the next round (or the new leader) trims.
				m.log.Debug("retention", "stream", s.Name, "shard", i, "err", err)
			default:
				m.log.Warn("retention", "stream", s.Name, "shard", i, "err", err)
			}
		}
	}
}

// trimShard drops the batches of one shard ingested before cutoff, but
// never past what every view over the stream has folded: retention never
// loses events a view has not seen.
func (m *Manager) trimShard(cat *catalog.Catalog, s *catalog.Stream, shard int, gid uint64, cutoff time.Time) error {
	st, ok := m.store.Status(gid)
	g := m.Get(gid)
	if !ok || !st.IsLeader || g == nil || g.Stream == nil {
		return nil
	}
	first := g.Stream.First()
	upto := first
	limit := ^uint64(0)
	ctx, cancel := context.WithTimeout(m.ctx, m.t.RetentionCall)
	defer cancel()
	for _, v := range cat.ViewsOn(s.Name) {
		// A join of two streams: its offsets cover the left stream's
		// shards, then the right's.
		base, ok := cat.OffsetBase(v, s.Name)
		if !ok {
			return nil // keep everything
		}
		if v.Sched != nil {
			// A scheduled view has no shards: its next owner replays the
			// stream from the last committed checkpoint (or the view's
			// start), whatever its owner has folded in memory since.
			offs := v.Start
			if ck := v.Sched.Checkpoint; ck != nil {
				offs = ck.Offsets
			}
			if base+shard >= len(offs) {
				return nil
			}
			limit = min(limit, offs[base+shard])
			continue
		}
		for _, vg := range v.Groups {
			var offs []uint64
			if g := m.Get(vg); g != nil && g.View != nil {
				offs, _ = g.View.DurableOffsets()
			} else if offs = m.viewOffsets(ctx, vg); offs == nil {
				return nil // no replica of this view shard answers: keep everything
			}
			if base+shard >= len(offs) {
				return nil
			}
			limit = min(limit, offs[base+shard])
		}
	}
	err := g.Stream.ScanHeaders(first, func(start uint64, ingest int64, rows int) bool {
		end := start + uint64(rows)
		if ingest >= cutoff.UnixMicro() || end > limit {
			return false
		}
		upto = end
		return true
	})
	if err != nil || upto <= first {
		return err
	}
	if _, err = m.store.Propose(ctx, gid, streamsm.EncodeTrim(upto)); err == nil {
		m.metrics.Trimmed(s.Name, upto-first)
	}
	return err
}
