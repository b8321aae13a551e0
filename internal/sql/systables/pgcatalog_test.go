package systables

import (
	"testing"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/types"
)

// TestEveryRelationBuilds builds every pg_catalog and
// information_schema relation over a catalog with a stream and views,
// so a filler naming a column its relation lacks fails here.
func TestEveryRelationBuilds(t *testing.T) {
	cat := catalog.New()
	cat.Streams["ev"] = &catalog.Stream{ID: 1, Name: "ev", Cols: []catalog.Column{{Name: "ts", T: types.TimestampTZ}, {Name: "k", T: types.Text}}}
	cat.Views["v"] = &catalog.View{ID: 2, Name: "v", Stream: "ev", Query: "SELECT k, count(*) FROM ev GROUP BY k"}
	p := &PG{Cat: cat, Path: []string{"public"}, User: "cairn", Database: "cairn", Settings: func() [][3]string { return [][3]string{{"timezone", "UTC", "zone"}} }}
	for _, d := range relDefs {
		tb, ok := p.Table(d.schema, d.name)
		if !ok {
			t.Fatalf("%s.%s: not found", d.schema, d.name)
		}
		for _, r := range tb.Rows {
			if len(r) != len(tb.Cols) {
				t.Fatalf("%s.%s: row of %d values for %d columns", d.schema, d.name, len(r), len(tb.Cols))
			}
		}
	}
	if _, ok := p.Table("pg_catalog", "pg_nope"); ok {
		t.Fatal("pg_nope exists")
	}
	if oid, ok := p.RelationOID("ev"); !ok || oid != 16388 {
		t.Fatalf("ev: %d %v", oid, ok)
	}
	if oid, ok := p.RelationOID("pg_class"); !ok || oid != 1259 {
		t.Fatalf("pg_class: %d %v", oid, ok)
	}
	if !p.TableIsVisible(16388) {
		t.Fatal("ev is not visible")
	}
	p2 := &PG{Cat: cat, Path: []string{"cairn_cluster"}, User: "cairn", Database: "cairn"}
	if p2.TableIsVisible(16388) {
		t.Fatal("ev is visible without public in search_path")
	}
	if n, _ := p2.RelationName(16388); n != "public.ev" {
		t.Fatalf("name of ev outside the path: %q", n)
	}
}
