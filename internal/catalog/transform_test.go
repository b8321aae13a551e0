package catalog

import (
	"slices"
	"testing"

	"github.com/cairndb/cairn/internal/types"
)

// TestTransformsAndChains checks views over transforms: a transform has
// no groups, a view records its chain, a DROP of a transform another view
// reads needs CASCADE (which drops the whole tree above it), and a view
// planned over a transform that changed meanwhile is refused.
func TestTransformsAndChains(t *testing.T) {
	c := New()
	run := func(cmd Command) *Result {
		t.Helper()
		next, r := Apply(c, cmd)
		c = next
		return r
	}
	run(&CreateStream{Stream: &Stream{Name: "ev", Cols: []Column{{Name: "k", T: types.Text}}, Shards: 2, Replicas: 1}})
	t1q, t2q := "SELECT k FROM ev WHERE k <> ''", "SELECT upper(k) AS u FROM t1"
	r := run(&CreateView{View: &View{Name: "t1", Kind: "transform", Transform: true, Stream: "ev", Shards: 4, Replicas: 1, Start: []uint64{5, 5}, Query: t1q}})
	if r.Err != nil || len(r.View.Groups) != 0 || r.View.Shards != 0 || r.View.Start != nil {
		t.Fatalf("create transform: %+v %+v", r.Err, r.View)
	}
	if r := run(&CreateView{View: &View{Name: "t2", Transform: true, Stream: "ev", Query: t2q, Over: []string{"t1"}, Chain: []string{t1q}}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	agg := &View{Name: "v", Stream: "ev", Shards: 1, Query: "SELECT u, count(*) FROM t2 GROUP BY u", Over: []string{"t2", "t1"}, Chain: []string{t2q, t1q}}
	if r := run(&CreateView{View: agg}); r.Err != nil || len(r.View.Groups) != 1 {
		t.Fatalf("view over a chain: %+v", r)
	}
	if got := c.ViewsOver("t1"); len(got) != 2 || got[0].Name != "t2" || got[1].Name != "v" {
		t.Fatalf("ViewsOver(t1) = %v", got)
	}
	stale := &View{Name: "w", Stream: "ev", Shards: 1, Query: "SELECT count(*) FROM t1", Over: []string{"t1"}, Chain: []string{"SELECT k FROM ev"}}
	if r := run(&CreateView{View: stale}); r.Err == nil || r.Err.Code != "40001" || r.Err.Message != `view "t1" was dropped or replaced while a view over it was created; retry` {
		t.Fatalf("stale chain: %+v", r.Err)
	}
	if r := run(&CreateView{View: &View{Name: "w", Stream: "ev", Shards: 1, Over: []string{"v"}, Chain: []string{agg.Query}}}); r.Err == nil || r.Err.Code != "40001" {
		t.Fatalf("chain through an aggregating view: %+v", r.Err)
	}
	r = run(&DropViews{Names: []string{"t1"}})
	if r.Err == nil || r.Err.Code != "2BP01" || r.Err.Message != `cannot drop view "t1" because other views depend on it: "t2", "v"` || r.Err.Hint == "" {
		t.Fatalf("drop a transform others read: %+v", r.Err)
	}
	// Dropping the readers in the same command needs no CASCADE.
	if r := run(&DropViews{Names: []string{"v", "t2"}}); r.Err != nil || !slices.Equal(r.Dropped, []string{"v", "t2"}) {
		t.Fatalf("drop the readers: %+v", r)
	}
	run(&CreateView{View: &View{Name: "t2", Transform: true, Stream: "ev", Query: t2q, Over: []string{"t1"}, Chain: []string{t1q}}})
	run(&CreateView{View: agg})
	r = run(&DropViews{Names: []string{"t1"}, Cascade: true})
	if r.Err != nil || !slices.Equal(r.Dropped, []string{"t2", "v", "t1"}) || len(c.Views) != 0 {
		t.Fatalf("drop cascade: %+v, left %v", r, c.Views)
	}
	// DROP STREAM ... CASCADE takes transforms and the views over them.
	run(&CreateView{View: &View{Name: "t1", Transform: true, Stream: "ev", Query: t1q}})
	run(&CreateView{View: &View{Name: "t2", Transform: true, Stream: "ev", Query: t2q, Over: []string{"t1"}, Chain: []string{t1q}}})
	if r := run(&DropStreams{Names: []string{"ev"}}); r.Err == nil || r.Err.Code != "2BP01" {
		t.Fatalf("drop stream under transforms: %+v", r.Err)
	}
	if r := run(&DropStreams{Names: []string{"ev"}, Cascade: true}); r.Err != nil || len(r.Dropped) != 3 || len(c.Views) != 0 {
		t.Fatalf("drop stream cascade: %+v", r)
	}
}
