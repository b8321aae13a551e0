package catalog

import (
	"reflect"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// TestSchemaCommands applies the schema commands as the meta group
// does (through their wire form): objects go into a schema only once it
// exists, DROP SCHEMA refuses a non-empty schema without CASCADE and
// with it drops the objects and the views over them in other schemas.
func TestSchemaCommands(t *testing.T) {
	cat := New()
	apply := func(c Command) *Result {
		t.Helper()
		d, err := Decode(Encode(c))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(d, c) {
			t.Fatalf("wire form changed the command: %#v became %#v", c, d)
		}
		var res *Result
		cat, res = Apply(cat, d)
		return res
	}
	code := func(r *Result) string {
		if r.Err == nil {
			return ""
		}
		return pgerr.From(r.Err).Code
	}
	cols := []Column{{Name: "k", T: types.Text}}
	if c := code(apply(&CreateStream{Stream: &Stream{Name: "s.ev", Cols: cols, Shards: 1, Replicas: 1}})); c != "3F000" {
		t.Fatalf("stream in a missing schema: %q", c)
	}
	if r := apply(&CreateSchema{Name: "s"}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if c := code(apply(&CreateSchema{Name: "s"})); c != "42P06" {
		t.Fatalf("schema twice: %q", c)
	}
	if r := apply(&CreateSchema{Name: "s", IfNotExists: true}); r.Err != nil || r.Notice == "" {
		t.Fatalf("IF NOT EXISTS: %+v", r)
	}
	for _, name := range []string{"public", "pg_catalog", "pg_x"} {
		if c := code(apply(&CreateSchema{Name: name})); c == "" {
			t.Fatalf("CREATE SCHEMA %s succeeded", name)
		}
	}
	if r := apply(&CreateStream{Stream: &Stream{Name: "s.ev", Cols: cols, Shards: 1, Replicas: 1}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if r := apply(&CreateView{View: &View{Name: "v", Stream: "s.ev", Query: "SELECT count(*) FROM s.ev", Shards: 1, Replicas: 1}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if c := code(apply(&DropSchemas{Names: []string{"s"}})); c != pgerr.DependentObjects {
		t.Fatalf("DROP SCHEMA of a non-empty schema: %q", c)
	}
	r := apply(&DropSchemas{Names: []string{"s"}, Cascade: true})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	if len(cat.Streams) != 0 || len(cat.Views) != 0 || cat.HasSchema("s") {
		t.Fatalf("after DROP SCHEMA CASCADE: streams %v, views %v, schemas %v", cat.Streams, cat.Views, cat.Schemas)
	}
	if !reflect.DeepEqual(r.Dropped, []string{"v", "s.ev"}) {
		t.Fatalf("dropped %v", r.Dropped)
	}
	if c := code(apply(&DropSchemas{Names: []string{"s"}})); c != "3F000" {
		t.Fatalf("DROP SCHEMA of a missing schema: %q", c)
	}
	if r := apply(&DropSchemas{Names: []string{"s"}, IfExists: true}); r.Err != nil || r.Notice == "" {
		t.Fatalf("IF EXISTS: %+v", r)
	}
}
