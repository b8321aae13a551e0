package session

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Regions (docs/regions.md): WITH (regions = 'us-west,us-east',
// primary_region = 'us-west' [, learners_per_region = N]) on CREATE
// STREAM, CREATE VIEW and CREATE TABLE keeps the object's voters in the
// primary region and N permanent learners per shard in each other
// region.

// RegionPlacer is what a Backend offers to place a regional object
// (node/regions.go): each shard's voters in the primary region and
// perRegion learners in each other region, among live data nodes.
type RegionPlacer interface {
	PlaceRegional(shards, replicas int, primary string, regions []string, perRegion int) (voters, learners [][]uint64, err error)
}

// regionSpec collects the region options of one statement.
type regionSpec struct {
	regions   []string
	primary   string
	perRegion int
	pos       int    // the first region option, for errors
	key       string // its name
	replicas  bool   // replicas was given explicitly
	set       bool
}

// option reads one region option.
func (r *regionSpec) option(o parser.Option) error {
	if !r.set {
		r.set, r.pos, r.key = true, o.P, o.Key
	}
	switch o.Key {
	case "regions":
		v, _ := optString(o)
		r.regions = nil
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			if slices.Contains(r.regions, f) {
				return pgerr.RegionRepeated.New(f).WithPos(o.P)
			}
			r.regions = append(r.regions, f)
		}
	case "primary_region":
		r.primary, _ = optString(o)
		r.primary = strings.TrimSpace(r.primary)
	case "learners_per_region":
		n, err := optInt(o, 1, 3)
		if err != nil {
			return err
		}
		r.perRegion = n
	}
	return nil
}

// check validates the options against the cluster's regions.
func (r *regionSpec) check(cat *catalog.Catalog) error {
	have := cat.RegionNames()
	list := strings.Join(have, ", ")
	if len(have) == 0 {
		return pgerr.RegionNoneInCluster.New(r.key).WithPos(r.pos)
	}
	switch {
	case len(r.regions) == 0:
		return pgerr.PrimaryNeedsRegions.New(r.primary).WithPos(r.pos)
	case r.primary == "":
		return pgerr.RegionsNeedPrimary.New(strings.Join(r.regions, ", ")).WithPos(r.pos)
	}
	for _, reg := range r.regions {
		if !slices.Contains(have, reg) {
			return pgerr.RegionUnknown.New(reg, list).WithPos(r.pos)
		}
	}
	if !slices.Contains(r.regions, r.primary) {
		return pgerr.PrimaryNotInRegions.New(r.primary, strings.Join(r.regions, ", ")).WithPos(r.pos)
	}
	if len(r.regions) < 2 {
		return pgerr.RegionsOnlyPrimary.New(strings.Join(r.regions, ","), r.primary, r.primary, list).WithPos(r.pos)
	}
	if r.perRegion == 0 {
		r.perRegion = 1
	}
	return nil
}

// placeRegional places a regional object of shards shards and *replicas
// voters per shard (unless replicas was given, at most the primary
// region's data nodes: *replicas is set to the count placed).
func (s *Session) placeRegional(what string, r *regionSpec, shards int, replicas *int) ([][]uint64, *catalog.Regional, error) {
	cat := s.b.Catalog()
	inPrimary := len(cat.RegionNodes()[r.primary])
	if !r.replicas {
		*replicas = max(1, min(*replicas, inPrimary))
	}
	p, ok := s.b.(RegionPlacer)
	if !ok {
		return nil, nil, pgerr.Internal.New(fmt.Errorf("this node cannot place %s by region", what))
	}
	voters, learners, err := p.PlaceRegional(shards, *replicas, r.primary, r.regions, r.perRegion)
	if err != nil {
		return nil, nil, err
	}
	return voters, &catalog.Regional{Regions: slices.Clone(r.regions), Primary: r.primary, PerRegion: r.perRegion, Learners: learners}, nil
}

// RegionFailoverer runs ALTER SYSTEM FAILOVER REGION (node/regions.go):
// one row per shard failed over, in the columns failoverRegionCols.
type RegionFailoverer interface {
	FailoverRegion(ctx context.Context, to string, force bool) ([][]types.Datum, error)
}

// failoverRegionCols are the result columns of ALTER SYSTEM FAILOVER
// REGION: per shard, the learner promoted and how stale it was.
var failoverRegionCols = []pgwire.Column{
	{Name: "object", T: types.Text}, {Name: "shard", T: types.Int8}, {Name: "group_id", T: types.Int8},
	{Name: "from_region", T: types.Text}, {Name: "promoted", T: types.Text}, {Name: "lost_voters", T: types.Text},
	{Name: "applied_index", T: types.Int8}, {Name: "unapplied_entries", T: types.Int8}, {Name: "events", T: types.Int8},
	{Name: "last_applied_ago", T: types.Interval}, {Name: "newest_event", T: types.TimestampTZ}, {Name: "outcome", T: types.Text},
}

// prepareFailoverRegion is ALTER SYSTEM FAILOVER REGION TO 'r' [FORCE].
func (s *Session) prepareFailoverRegion(f *parser.FailoverRegion) (*prepared, error) {
	fo, ok := s.b.(RegionFailoverer)
	if !ok {
		return nil, pgerr.Internal.New(fmt.Errorf("this node cannot fail over a region"))
	}
	cat := s.b.Catalog()
	if regions := cat.RegionNames(); !slices.Contains(regions, f.Region) {
		if len(regions) == 0 {
			return nil, pgerr.RegionNoneInCluster.New("FAILOVER REGION").WithPos(f.P)
		}
		return nil, pgerr.RegionUnknown.New(f.Region, strings.Join(regions, ", ")).WithPos(f.P)
	}
	return &prepared{cols: failoverRegionCols, run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		rows, err := fo.FailoverRegion(ctx, f.Region, f.Force)
		for _, r := range rows {
			if werr := w.Row(r); werr != nil && err == nil {
				err = werr
			}
		}
		if err != nil {
			return "", err
		}
		return "ALTER SYSTEM", nil
	}}, nil
}
