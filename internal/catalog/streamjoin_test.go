package catalog

import (
	"testing"

	"github.com/cairndb/cairn/internal/types"
)

// TestStreamJoinView: a view joining two streams has offsets over the
// shards of both (left first), depends on both (DROP STREAM refused, or
// cascading), and is refused when its right stream is gone or was
// re-created since it was planned.
func TestStreamJoinView(t *testing.T) {
	c := New()
	(&Init{Node: &Node{Name: "n1"}}).apply(c)
	mk := func(name string, shards int) *Stream {
		t.Helper()
		nodes := make([][]uint64, shards)
		for i := range nodes {
			nodes[i] = []uint64{1}
		}
		r := (&CreateStream{Stream: &Stream{Name: name, Cols: []Column{{Name: "k", T: types.Int8}, {Name: "ts", T: types.TimestampTZ}}, Shards: shards, Replicas: 1, Nodes: nodes}}).apply(c)
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		return r.Stream
	}
	a, b := mk("a", 2), mk("b", 3)
	view := func(name string, right *Stream, rightID uint64) *Result {
		return (&CreateView{View: &View{Name: name, Kind: "continuous", Query: "q", Stream: "a", StreamID: a.ID, Shards: 1, Replicas: 1, Nodes: [][]uint64{{1}},
			JoinStream: right.Name, JoinStreamID: rightID, BackfillTo: []uint64{1, 2, 3, 4, 5}}}).apply(c)
	}
	if r := view("v", b, b.ID+100); r.Err == nil {
		t.Fatal("a view planned over another stream b was created")
	}
	r := view("v", b, b.ID)
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	v := r.View
	if len(v.Start) != 5 || len(v.BackfillTo) != 5 {
		t.Fatalf("offsets cover %d/%d shards, want 5 (2 of a, 3 of b)", len(v.Start), len(v.BackfillTo))
	}
	if base, ok := c.OffsetBase(v, "a"); !ok || base != 0 {
		t.Fatalf("base of a = %d %v", base, ok)
	}
	if base, ok := c.OffsetBase(v, "b"); !ok || base != 2 {
		t.Fatalf("base of b = %d %v", base, ok)
	}
	if _, ok := c.OffsetBase(v, "c"); ok {
		t.Fatal("v reads no stream c")
	}
	for _, s := range []string{"a", "b"} {
		if vs := c.ViewsOn(s); len(vs) != 1 || vs[0].Name != "v" {
			t.Fatalf("ViewsOn(%s) = %v", s, vs)
		}
		if r := (&DropStreams{Names: []string{s}}).apply(c); r.Err == nil || r.Err.Code != "2BP01" {
			t.Fatalf("DROP STREAM %s while v reads it: %+v", s, r.Err)
		}
	}
	if r := (&DropStreams{Names: []string{"b"}, Cascade: true}).apply(c); r.Err != nil || c.Views["v"] != nil || c.Streams["a"] == nil {
		t.Fatalf("DROP STREAM b CASCADE: %+v, views %v", r.Err, c.Views)
	}
	// The right stream dropped (or re-created) between planning and apply.
	if r := view("w", b, b.ID); r.Err == nil {
		t.Fatalf("view over a dropped right stream: %+v", r.Err)
	}
	b2 := mk("b", 1)
	if r := view("w", b2, b.ID); r.Err == nil {
		t.Fatal("view over a re-created right stream was created")
	}
}
