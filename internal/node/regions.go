package node

import (
	"context"
	"errors"
	"strings"

	"github.com/cairndb/cairn/internal/cluster/placement"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// PlaceRegional places a regional object (session.RegionPlacer): each
// shard's voters in the primary region, perRegion permanent learners in
// each other region (placement.InitialRegional).
func (b sessionBackend) PlaceRegional(shards, replicas int, primary string, regions []string, perRegion int) ([][]uint64, [][]uint64, error) {
	cat := b.n.meta.Catalog()
	voters, learners, err := placement.InitialRegional(cat, b.n.liveSnapshot(cat), shards, replicas, primary, regions, perRegion)
	var re *placement.RegionError
	if errors.As(err, &re) {
		return nil, nil, pgerr.RegionTooFewNodes.New(re.Region, re.Need, re.Live)
	}
	return voters, learners, err
}

// FailoverRegion runs ALTER SYSTEM FAILOVER REGION
// (session.RegionFailoverer) with the operations executor, one row per
// shard failed over.
func (b sessionBackend) FailoverRegion(ctx context.Context, to string, force bool) ([][]types.Datum, error) {
	rows, err := b.n.ops.FailoverRegion(ctx, to, force)
	cat := b.n.meta.Catalog()
	out := make([][]types.Datum, 0, len(rows))
	for _, r := range rows {
		since := types.NullOf(types.Interval)
		if r.Since >= 0 {
			since = types.Datum{T: types.Interval, Iv: types.IntervalValue{Micros: r.Since.Microseconds()}}
		}
		newest := types.NullOf(types.TimestampTZ)
		if !r.Newest.IsZero() {
			newest = types.NewInt(types.TimestampTZ, r.Newest.UnixMicro())
		}
		events := types.NullOf(types.Int8)
		if strings.HasPrefix(r.Object, "stream ") {
			events = types.NewInt(types.Int8, int64(r.End))
		}
		out = append(out, []types.Datum{types.NewText(r.Object), types.NewInt(types.Int8, int64(r.Shard)), types.NewInt(types.Int8, int64(r.Group)),
			types.NewText(r.From), types.NewText(cat.BareName(r.Learner)), types.NewText(cat.NodeNames(r.Lost)),
			types.NewInt(types.Int8, int64(r.Applied)), types.NewInt(types.Int8, int64(r.Behind)), events, since, newest, types.NewText(r.Action)})
	}
	return out, err
}
