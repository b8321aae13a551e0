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
	cat.Tables["dev"] = &catalog.Table{ID: 3, Name: "dev", PrimaryKey: []int{0}, Columns: []catalog.Column{
		{Name: "id", T: types.Int4, ID: 1}, {Name: "site", T: types.Text, ID: 2, NotNull: true, Default: "'x'"}}}
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
	if d, ok := p.IndexDef(16396 + 1); !ok || d != "CREATE UNIQUE INDEX dev_pkey ON public.dev USING btree (id)" {
		t.Fatalf("index of dev: %q %v", d, ok)
	}
	if d, ok := p.ConstraintDef(16396 + 2); !ok || d != "PRIMARY KEY (id)" {
		t.Fatalf("constraint of dev: %q %v", d, ok)
	}
	attrs, _ := p.Table("pg_catalog", "pg_attribute")
	var notNull []string
	for _, r := range attrs.Rows {
		if r[0].I == 16396 && r[13].I == 1 { // attrelid, attnotnull
			notNull = append(notNull, r[1].S)
		}
	}
	if len(notNull) != 2 {
		t.Fatalf("not null columns of dev: %v", notNull)
	}
	defs, _ := p.Table("pg_catalog", "pg_attrdef")
	if len(defs.Rows) != 1 || defs.Rows[0][1].I != 16396 || defs.Rows[0][2].I != 2 || defs.Rows[0][3].S != "'x'" {
		t.Fatalf("pg_attrdef: %v", defs.Rows)
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
