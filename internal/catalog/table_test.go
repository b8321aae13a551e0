package catalog

import (
	"reflect"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

func devices() *Table {
	return &Table{Name: "devices", Columns: []Column{{Name: "id", T: types.Int4}, {Name: "site", T: types.Text, NotNull: true}},
		PrimaryKey: []int{0}, Shards: 2, Replication: 1}
}

// apply applies cmd through its wire form, as the meta group does.
func applyWire(t *testing.T, cat *Catalog, cmd Command) (*Catalog, *Result) {
	t.Helper()
	dec, err := Decode(Encode(cmd))
	if err != nil {
		t.Fatal(err)
	}
	return Apply(cat, dec)
}

func TestTableLifecycle(t *testing.T) {
	cat := New()
	cat, res := applyWire(t, cat, &CreateTable{Table: devices()})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	tb := cat.Tables["devices"]
	if tb.ID == 0 || len(tb.Groups) != 2 || tb.Columns[0].ID != 1 || tb.Columns[1].ID != 2 || tb.NextColumn != 3 || !tb.Columns[0].NotNull {
		t.Fatalf("created %+v", tb)
	}
	refs := cat.Groups()
	if r := refs[tb.Groups[1]]; r.Kind != GroupTable || r.Object != "devices" || r.Shard != 1 {
		t.Fatalf("group ref %+v", r)
	}
	if cat.Exists("devices") != "table" {
		t.Fatal("Exists")
	}
	// A name is unique across kinds; IF NOT EXISTS skips a table only.
	if _, res := applyWire(t, cat, &CreateStream{Stream: &Stream{Name: "devices", Shards: 1}}); pgerr.Code(res.Err) != pgerr.DuplicateTable {
		t.Fatalf("stream over table: %v", res.Err)
	}
	if _, res := applyWire(t, cat, &CreateTable{Table: devices(), IfNotExists: true}); res.Err != nil || res.Notice == "" {
		t.Fatalf("if not exists: %+v", res)
	}
	// ALTER: an added column gets a new id; a dropped one's id is not reused.
	cat, res = applyWire(t, cat, &AlterTable{Name: "devices", Add: &Column{Name: "zone", T: types.Text, Default: "'eu'"}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	cat, res = applyWire(t, cat, &AlterTable{Name: "devices", Drop: "site"})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	cat, _ = applyWire(t, cat, &AlterTable{Name: "devices", Add: &Column{Name: "site", T: types.Int8}})
	got := cat.Tables["devices"].Columns
	want := []Column{{Name: "id", T: types.Int4, ID: 1, NotNull: true}, {Name: "zone", T: types.Text, ID: 3, Default: "'eu'"}, {Name: "site", T: types.Int8, ID: 4}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("columns %+v", got)
	}
	for _, tc := range []struct {
		cmd  *AlterTable
		code string
	}{
		{&AlterTable{Name: "devices", Drop: "id"}, pgerr.FeatureNotSupported},
		{&AlterTable{Name: "devices", Drop: "nope"}, pgerr.UndefinedColumn},
		{&AlterTable{Name: "devices", Add: &Column{Name: "zone", T: types.Text}}, pgerr.DuplicateColumn},
		{&AlterTable{Name: "devices", Add: &Column{Name: "x", T: types.Text, NotNull: true}}, pgerr.NotNullViolation},
		{&AlterTable{Name: "nope", Drop: "x"}, pgerr.UndefinedTable},
	} {
		if _, res := applyWire(t, cat, tc.cmd); pgerr.Code(res.Err) != tc.code {
			t.Errorf("%+v: got %v, want %s", tc.cmd, res.Err, tc.code)
		}
	}
	// DROP: refused while a view reads the table, unless CASCADE.
	cat.Views["v"] = &View{Name: "v", Tables: []string{"devices"}, Groups: []uint64{99}}
	if _, res := applyWire(t, cat, &DropTables{Names: []string{"devices"}}); pgerr.Code(res.Err) != pgerr.DependentObjects {
		t.Fatalf("drop with a view: %v", res.Err)
	}
	if _, res := applyWire(t, cat, &DropStreams{Names: []string{"devices"}}); pgerr.Code(res.Err) != pgerr.WrongObjectType {
		t.Fatalf("drop stream of a table: %v", res.Err)
	}
	cat, res = applyWire(t, cat, &DropTables{Names: []string{"devices"}, Cascade: true})
	if res.Err != nil || !reflect.DeepEqual(res.Dropped, []string{"v", "devices"}) || len(cat.Groups()) != 0 {
		t.Fatalf("cascade: %+v %v", res, cat.Groups())
	}
	if _, res := applyWire(t, cat, &DropTables{Names: []string{"devices"}}); pgerr.Code(res.Err) != pgerr.UndefinedTable {
		t.Fatalf("drop missing: %v", res.Err)
	}
	if _, res := applyWire(t, cat, &DropTables{Names: []string{"devices"}, IfExists: true}); res.Err != nil || res.Notice == "" {
		t.Fatalf("drop if exists: %+v", res)
	}
	nopk := devices()
	nopk.PrimaryKey = nil
	if _, res := applyWire(t, cat, &CreateTable{Table: nopk}); pgerr.Code(res.Err) != pgerr.FeatureNotSupported {
		t.Fatalf("no primary key: %v", res.Err)
	}
}
