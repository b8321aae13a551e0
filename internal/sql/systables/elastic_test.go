package systables

import (
	"context"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/types"
)

// loadStatus is a Status with a catalog, liveness and (when lags is not
// nil) the owners' lag.
type loadStatus struct {
	Status
	cat  *catalog.Catalog
	dead map[uint64]bool
}

func (s loadStatus) Catalog() *catalog.Catalog { return s.cat }
func (s loadStatus) Liveness(nd *catalog.Node) string {
	if s.dead[nd.ID] {
		return "dead"
	}
	return "live"
}
func (s loadStatus) ViewOffsets(context.Context, *catalog.View) [][]uint64 { return nil }

type lagStatus struct {
	loadStatus
	lags map[uint64]float64
}

func (s lagStatus) ScheduledLag(_ context.Context, id uint64) (float64, int64, bool) {
	l, ok := s.lags[id]
	return l, int64(l * 100), ok
}

// rows renders a table's rows as text, columns separated by spaces.
func rows(t *exec.MemTable, cols ...string) []string {
	idx := map[string]int{}
	for i, c := range t.Cols {
		idx[c.Name] = i
	}
	var out []string
	for _, r := range t.Rows {
		var f []string
		for _, c := range cols {
			d := r[idx[c]]
			if d.Null {
				f = append(f, "NULL")
			} else {
				f = append(f, string(types.AppendText(nil, d)))
			}
		}
		out = append(out, strings.Join(f, " "))
	}
	return out
}

func elasticCatalog() *catalog.Catalog {
	cat := catalog.New()
	cat.Nodes["n1"] = &catalog.Node{ID: 1, Name: "n1", Role: "data"}
	cat.Nodes["c1"] = &catalog.Node{ID: 2, Name: "c1", Role: "compute"}
	cat.Nodes["c2"] = &catalog.Node{ID: 3, Name: "c2", Role: "compute"}
	cat.Views["r"] = &catalog.View{Name: "r", Groups: []uint64{7}}
	cat.Views["s"] = &catalog.View{Name: "s", Sched: &catalog.Scheduled{Disk: "d", Node: 2, Epoch: 3,
		Checkpoint: &catalog.ViewCheckpoint{Epoch: 3, Seq: 9, At: 1_700_000_000_000_000, Offsets: []uint64{10, 20}}}}
	cat.Views["u"] = &catalog.View{Name: "u", Sched: &catalog.Scheduled{Disk: "d"}}
	cat.Views["w"] = &catalog.View{Name: "w", Sched: &catalog.Scheduled{Disk: "d", Node: 9, Epoch: 1}}
	return cat
}

// cairn_cluster.views shows each view's HA model and, for a scheduled
// one, its owner, epoch, disk and last committed checkpoint.
func TestViewsHAColumns(t *testing.T) {
	tbl := Views(context.Background(), loadStatus{cat: elasticCatalog()})
	got := rows(tbl, "name", "ha", "owner_node", "epoch", "checkpoint_disk", "last_checkpoint_at", "checkpoint_offsets")
	want := []string{
		"r raft NULL NULL NULL NULL NULL",
		"s scheduled c1 3 d 2023-11-14 22:13:20+00 {10,20}",
		"u scheduled NULL 0 d NULL NULL",
		"w scheduled #9 1 d NULL NULL",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// cairn_cluster.compute_load: a row per node with its scheduled views
// and their lag (NULL when not known), and the recommendation.
func TestComputeLoad(t *testing.T) {
	cat := elasticCatalog()
	tbl := ComputeLoad(context.Background(), loadStatus{cat: cat})
	got := rows(tbl, "node", "role", "state", "scheduled_views", "max_lag_seconds", "events_behind", "recommendation")
	want := []string{ // by raft id
		"n1 data live 0 0 0 steady",
		"c1 compute live 1 NULL NULL steady", // c2 idle, but c1's lag is unknown
		"c2 compute live 0 0 0 steady",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// With the owners' lag known: c1 keeps up, c2 is idle: scale in.
	lt := ComputeLoad(context.Background(), lagStatus{loadStatus{cat: cat}, map[uint64]float64{2: 1.5}})
	if got := rows(lt, "node", "max_lag_seconds", "events_behind", "recommendation"); got[1] != "c1 1.5 150 scale_in" {
		t.Fatalf("with lag: %q", got)
	}
	// c1 lags 30 s, above scale_out_lag (10 s): the average of c1 and the idle c2 is 15 s: scale out.
	lt = ComputeLoad(context.Background(), lagStatus{loadStatus{cat: cat}, map[uint64]float64{2: 30}})
	if got := rows(lt, "recommendation", "reason"); !strings.HasPrefix(got[0], "scale_out compute nodes lag 15.0s on average") {
		t.Fatalf("lagging: %q", got)
	}
}

// The recommendation rule, case by case.
func TestRecommend(t *testing.T) {
	live := func(views int, lag float64) nodeLoad { return nodeLoad{views: views, lag: lag, known: true} }
	unknown := func(views int) nodeLoad { return nodeLoad{views: views} }
	for _, c := range []struct {
		in   loadInput
		want string
	}{
		{loadInput{views: 3}, ScaleOut},                        // views, no compute node
		{loadInput{}, Steady},                                  // nothing at all
		{loadInput{computes: []nodeLoad{live(0, 0)}}, ScaleIn}, // an idle compute node, no views
		{loadInput{computes: []nodeLoad{live(2, 1), live(2, 1)}, views: 4, lagLimit: 10, viewsLimit: 8}, Steady},
		{loadInput{computes: []nodeLoad{live(2, 11), live(2, 12)}, views: 4, lagLimit: 10, viewsLimit: 8}, ScaleOut},
		{loadInput{computes: []nodeLoad{live(9, 0), live(10, 0)}, views: 19, lagLimit: 10, viewsLimit: 8}, ScaleOut},
		{loadInput{computes: []nodeLoad{live(9, 0), live(8, 0)}, views: 17, lagLimit: 10, viewsLimit: 8}, Steady},
		{loadInput{computes: []nodeLoad{live(0, 0), live(3, 2)}, views: 3, lagLimit: 10, viewsLimit: 8}, ScaleIn},
		{loadInput{computes: []nodeLoad{live(0, 0), unknown(3)}, views: 3, lagLimit: 10, viewsLimit: 8}, Steady},
		{loadInput{computes: []nodeLoad{live(0, 0), live(3, 20), live(3, 1)}, views: 6, lagLimit: 10, viewsLimit: 8}, Steady}, // avg 7 s, but one lags
	} {
		if got, why := recommend(c.in); got != c.want || why == "" {
			t.Errorf("%+v: %s (%s), want %s", c.in, got, why, c.want)
		}
	}
}
