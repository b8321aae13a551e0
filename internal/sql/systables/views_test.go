package systables

import (
	"context"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/types"
)

// viewStatus is a Status with a catalog and per-view-shard offsets; the
// methods Views does not use panic (the embedded nil Status).
type viewStatus struct {
	Status
	cat  *catalog.Catalog
	offs map[string][][]uint64
}

func (s viewStatus) Catalog() *catalog.Catalog { return s.cat }
func (s viewStatus) ViewOffsets(_ context.Context, v *catalog.View) [][]uint64 {
	return s.offs[v.Name]
}

// TestViewsBackfillColumns: cairn_cluster.views shows each view's start
// choice and back-fill progress, NULL where it is not known.
func TestViewsBackfillColumns(t *testing.T) {
	cat := catalog.New()
	two := []uint64{7, 8}
	cat.Views["done"] = &catalog.View{Name: "done", Groups: two, StartFrom: "earliest", Start: []uint64{0}, BackfillTo: []uint64{100}}
	cat.Views["half"] = &catalog.View{Name: "half", Groups: two, StartFrom: "earliest", Start: []uint64{0}, BackfillTo: []uint64{100}}
	cat.Views["late"] = &catalog.View{Name: "late", Groups: two, StartFrom: "latest", Start: []uint64{100}, BackfillTo: []uint64{100}}
	cat.Views["lost"] = &catalog.View{Name: "lost", Groups: two, StartFrom: "earliest", Start: []uint64{0}, BackfillTo: []uint64{100}}
	cat.Views["old"] = &catalog.View{Name: "old", Groups: two, Start: []uint64{0}}
	st := viewStatus{cat: cat, offs: map[string][][]uint64{
		"done": {{100}, {120}},
		"half": {{50}, {120}},
		"late": {{100}, {100}},
		"lost": {{100}, nil}, // a shard no replica reported
		"old":  {{10}, {10}},
	}}
	tbl := Views(context.Background(), st)
	col := map[string]int{}
	for i, c := range tbl.Cols {
		col[c.Name] = i
	}
	show := []string{"start", "backfill_target", "backfill_done", "backfilled"}
	for _, name := range show {
		if _, ok := col[name]; !ok {
			t.Fatalf("no column %s in %v", name, tbl.Cols)
		}
	}
	text := func(d types.Datum) string {
		if d.Null {
			return "NULL"
		}
		return string(types.AppendText(nil, d))
	}
	var got []string
	for _, r := range tbl.Rows {
		row := []string{text(r[col["name"]])}
		for _, name := range show {
			row = append(row, text(r[col[name]]))
		}
		got = append(got, strings.Join(row, " "))
	}
	want := []string{
		"done earliest 100 100 t",
		"half earliest 100 50 f",
		"late latest 0 0 t",
		"lost earliest 100 NULL NULL",
		"old NULL NULL NULL NULL",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
