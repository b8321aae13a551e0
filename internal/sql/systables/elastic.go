package systables

import (
	"context"
	"fmt"
	"strconv"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/types"
)

// The elastic tier's cluster columns and tables (issue 13).

// schedCols are the columns cairn_cluster.views has for the HA model:
// ha ('raft' or 'scheduled'); for a scheduled view owner_node (NULL
// until assigned), epoch, checkpoint_disk, last_checkpoint_at and
// checkpoint_offsets (the source offsets its last committed checkpoint
// covers; NULL before the first), NULL for a Raft view.
var schedCols = []exec.Column{{Name: "ha", T: types.Text}, {Name: "owner_node", T: types.Text}, {Name: "epoch", T: types.Int8},
	{Name: "checkpoint_disk", T: types.Text}, {Name: "last_checkpoint_at", T: types.TimestampTZ}, {Name: "checkpoint_offsets", T: types.Int8Array}}

// schedRow is view v's values of schedCols.
func schedRow(cat *catalog.Catalog, v *catalog.View) []types.Datum {
	row := []types.Datum{txt(v.HA()), types.NullOf(types.Text), types.NullOf(types.Int8), types.NullOf(types.Text),
		types.NullOf(types.TimestampTZ), types.NullOf(types.Int8Array)}
	s := v.Sched
	if s == nil {
		return row
	}
	if s.Node != 0 {
		row[1] = txt(nodeName(cat, s.Node))
	}
	row[2], row[3] = i8(int64(s.Epoch)), txt(s.Disk)
	if ck := s.Checkpoint; ck != nil {
		row[4] = types.NewInt(types.TimestampTZ, ck.At)
		ds := make([]types.Datum, len(ck.Offsets))
		for i, o := range ck.Offsets {
			ds[i] = i8(int64(o))
		}
		row[5] = types.Datum{T: types.Int8Array, S: string(types.AppendArray(nil, ds))}
	}
	return row
}

// nodeName is node id's name, or #id for one the catalog no longer has.
func nodeName(cat *catalog.Catalog, id uint64) string {
	if nd := cat.NodeByID(id); nd != nil {
		return nd.Name
	}
	return "#" + strconv.FormatUint(id, 10)
}

// ViewLag is optional: a Status that implements it tells
// cairn_cluster.compute_load how far behind node id's scheduled views
// are (the owner's status RPC): the largest lag in seconds and the
// events they have yet to fold, summed; ok is false when the node did
// not answer.
type ViewLag interface {
	ScheduledLag(ctx context.Context, id uint64) (maxLagSeconds float64, eventsBehind int64, ok bool)
}

// Recommendations of cairn_cluster.compute_load.
const (
	ScaleOut = "scale_out"
	ScaleIn  = "scale_in"
	Steady   = "steady"
)

// ComputeLoad is cairn_cluster.compute_load, the signal for an
// autoscaler (Kubernetes HPA, an AWS ASG): one row per node — name,
// role, state, scheduled_views it owns, max_lag_seconds and
// events_behind of those views (NULL when unknown) — and, on every row,
// the cluster's recommendation and the reason for it. The rule, over the
// compute nodes that can own views (live, not draining or leaving):
//   - scale_out when scheduled views exist and there is no such compute
//     node, or the average of their max lags exceeds the scale_out_lag
//     setting, or every one owns more than scale_out_views views;
//   - scale_in when one of them owns no view and none of the others
//     lags (each one's lag known and at most scale_out_lag);
//   - else steady.
func ComputeLoad(ctx context.Context, n Status) *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "node", T: types.Text}, {Name: "role", T: types.Text}, {Name: "state", T: types.Text},
		{Name: "scheduled_views", T: types.Int8}, {Name: "max_lag_seconds", T: types.Float8}, {Name: "events_behind", T: types.Int8},
		{Name: "recommendation", T: types.Text}, {Name: "reason", T: types.Text}}}
	cat := n.Catalog()
	counts := cat.ScheduledCounts()
	lagOf, _ := n.(ViewLag)
	in := loadInput{lagLimit: cat.SettingDuration(catalog.ScaleOutLag).Seconds(), viewsLimit: 8, views: len(cat.ScheduledViews())}
	if v, _ := cat.Setting(catalog.ScaleOutViews); v != "" {
		if k, err := strconv.Atoi(v); err == nil {
			in.viewsLimit = k
		}
	}
	var rows [][]types.Datum
	for _, nd := range cat.SortedNodes() {
		st := state(n, nd)
		lag, behind := types.NullOf(types.Float8), types.NullOf(types.Int8)
		c := nodeLoad{views: counts[nd.ID]}
		if c.views == 0 {
			c.lag, c.known = 0, true
			lag, behind = types.NewFloat(types.Float8, 0), i8(0)
		} else if lagOf != nil && n.Liveness(nd) == "live" {
			if l, b, ok := lagOf.ScheduledLag(ctx, nd.ID); ok {
				c.lag, c.known = l, true
				lag, behind = types.NewFloat(types.Float8, l), i8(b)
			}
		}
		if nd.Role == "compute" && nd.CanOwnViews() && n.Liveness(nd) == "live" {
			in.computes = append(in.computes, c)
		}
		role := nd.Role
		if role == "" {
			role = "data"
		}
		rows = append(rows, []types.Datum{txt(nd.Name), txt(role), txt(st), i8(int64(c.views)), lag, behind})
	}
	rec, why := recommend(in)
	for _, r := range rows {
		t.Rows = append(t.Rows, append(r, txt(rec), txt(why)))
	}
	return t
}

// nodeLoad is one compute node's share of the decision.
type nodeLoad struct {
	views int
	lag   float64 // seconds; valid when known
	known bool
}

// loadInput is what the recommendation is decided from.
type loadInput struct {
	computes   []nodeLoad // the compute nodes that can own views
	views      int        // scheduled views in the cluster
	lagLimit   float64    // scale_out_lag, seconds
	viewsLimit int        // scale_out_views
}

// recommend applies ComputeLoad's rule; why says which part decided.
func recommend(in loadInput) (rec, why string) {
	if len(in.computes) == 0 {
		if in.views > 0 {
			return ScaleOut, fmt.Sprintf("%d scheduled views and no live compute node", in.views)
		}
		return Steady, "no scheduled views and no compute nodes"
	}
	sum, known, allFull := 0.0, 0, true
	for _, c := range in.computes {
		if c.known {
			sum += c.lag
			known++
		}
		allFull = allFull && c.views > in.viewsLimit
	}
	if known > 0 && sum/float64(known) > in.lagLimit {
		return ScaleOut, fmt.Sprintf("compute nodes lag %.1fs on average (scale_out_lag %gs)", sum/float64(known), in.lagLimit)
	}
	if allFull {
		return ScaleOut, fmt.Sprintf("every compute node owns more than %d scheduled views (scale_out_views)", in.viewsLimit)
	}
	idle, othersKeepUp := false, true
	for _, c := range in.computes {
		if c.views == 0 && !idle {
			idle = true // the one a scale-in would remove
			continue
		}
		othersKeepUp = othersKeepUp && c.known && c.lag <= in.lagLimit
	}
	if idle && othersKeepUp {
		return ScaleIn, "a compute node owns no scheduled view and the others keep up"
	}
	if idle {
		return Steady, "a compute node owns no scheduled view, but another one's lag is unknown or above scale_out_lag"
	}
	return Steady, fmt.Sprintf("%d compute nodes own the %d scheduled views within the limits", len(in.computes), in.views)
}
