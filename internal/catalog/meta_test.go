package catalog

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairndb/cairn/internal/types"
)

func TestMetaApply(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	changes := 0
	m := NewMetaSM([]byte("catalog"), func() { changes++ })
	apply := func(c Command) *Result {
		t.Helper()
		wb := db.NewBatch()
		r := m.Apply(wb, 1, Encode(c)).(*Result)
		if err := wb.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
		return r
	}
	st := &Stream{Name: "ev", Cols: []Column{{Name: "k", T: types.Text}}, Shards: 2, Replicas: 1}
	r := apply(&CreateStream{Stream: st})
	if r.Err != nil || len(r.Stream.Groups) != 2 || r.Stream.Groups[0] != 2 || r.Stream.Groups[1] != 3 {
		t.Fatalf("create_stream: %+v", r)
	}
	if r := apply(&CreateStream{Stream: st}); r.Err == nil || r.Err.Code != "42P07" {
		t.Fatalf("duplicate stream: %+v", r.Err)
	}
	if r := apply(&CreateStream{Stream: st, IfNotExists: true}); r.Err != nil || r.Notice == "" {
		t.Fatalf("IF NOT EXISTS: %+v", r)
	}
	v := &View{Name: "v", Stream: "ev", Shards: 3, Query: "SELECT k, count(*) FROM ev GROUP BY k"}
	r = apply(&CreateView{View: v})
	if r.Err != nil || len(r.View.Groups) != 3 || r.View.Groups[0] != 4 || len(r.View.Start) != 2 {
		t.Fatalf("create_view: %+v", r)
	}
	if r := apply(&CreateView{View: &View{Name: "w", Stream: "nope", Shards: 1}}); r.Err == nil || r.Err.Code != "42P01" {
		t.Fatalf("view over a missing stream: %+v", r.Err)
	}
	if r := apply(&DropStreams{Names: []string{"ev"}}); r.Err == nil || r.Err.Code != "2BP01" {
		t.Fatalf("drop with dependents: %+v", r.Err)
	}
	if r := apply(&DropViews{Names: []string{"ev"}}); r.Err == nil || r.Err.Code != "42809" {
		t.Fatalf("drop view of a stream: %+v", r.Err)
	}
	// A rejected command leaves the catalog as it was.
	if got := len(m.Catalog().Groups()); got != 5 {
		t.Fatalf("groups = %d, want 5", got)
	}
	r = apply(&DropStreams{Names: []string{"ev"}, Cascade: true})
	if r.Err != nil || len(r.Dropped) != 2 || r.Dropped[0] != "v" {
		t.Fatalf("drop cascade: %+v", r)
	}
	val := "off"
	apply(&SetSetting{Key: "auto_failover", Value: &val})
	// Group ids are never reused, and the stored catalog reloads identically.
	r = apply(&CreateStream{Stream: &Stream{Name: "ev", Cols: st.Cols, Shards: 1}})
	if r.Stream.Groups[0] != 7 {
		t.Fatalf("group id reused: %v", r.Stream.Groups)
	}
	m2 := NewMetaSM([]byte("catalog"), nil)
	if err := m2.Load(db); err != nil {
		t.Fatal(err)
	}
	c := m2.Catalog()
	if c.Streams["ev"] == nil || c.Views["v"] != nil || c.Settings["auto_failover"] != "off" || c.NextGroupID != 8 {
		t.Fatalf("reloaded catalog: %+v", c)
	}
	if changes == 0 {
		t.Fatal("onChange never called")
	}
	if r, ok := m.Apply(db.NewBatch(), 9, []byte("{not json")).(*Result); !ok || r.Err == nil {
		t.Fatal("garbage command accepted")
	}
}
