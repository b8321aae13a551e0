package session

import (
	"slices"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/types"
)

// readBackend is the fake node with sources: stream s holds rows, and a
// view reads as the rows its shards would finalize (Columns(), hidden
// read-time columns included), given per view name.
type readBackend struct {
	*fakeBackend
	stream [][]types.Datum
	views  map[string][][]types.Datum
}

func (b *readBackend) StreamSource(st *catalog.Stream, _ ReadPolicy) exec.Source {
	return &exec.MemTable{Cols: exec.StreamColumns(st), Rows: b.stream}
}

func (b *readBackend) ViewSource(v *catalog.View, _ ReadPolicy) exec.Source {
	plan, _, err := exec.PlanStoredChain(v.Query, v.Stream, exec.StreamColumns(b.cat.Streams[v.Stream]), v.Chain, v.Options)
	if err != nil {
		panic(err)
	}
	return &exec.MemTable{Cols: plan.Columns(), Rows: b.views[v.Name]}
}

func (b *readBackend) Reconcile() {}

func textRows(res *Result) string {
	var out []string
	for _, r := range res.Rows {
		parts := make([]string, len(r))
		for i, c := range r {
			parts[i] = "NULL"
			if c != nil {
				parts[i] = *c
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	return strings.Join(out, "\n")
}

// TestTransformsAndChains: a view without aggregates is created as a
// transform (no state) and read through over its stream; a view over it
// records the chain it was planned over; the wrong inputs are refused.
func TestTransformsAndChains(t *testing.T) {
	f := newFake()
	f.coverAfter = 1
	b := &readBackend{fakeBackend: f, stream: [][]types.Datum{
		{types.NewText("a"), types.NewInt(types.Int8, 1)},
		{types.NewText("b"), types.NewInt(types.Int8, 5)},
		{types.NewText("c"), types.NewInt(types.Int8, 9)},
	}}
	s := New(b, "cairn", nil)
	if res := mustRun(t, s, "CREATE VIEW t AS SELECT upper(k) AS K, x * 10 AS x10 FROM s WHERE x > 2"); res.Tag != "CREATE VIEW" {
		t.Fatalf("tag %q", res.Tag)
	}
	tv := f.lastView(t)
	if !tv.Transform || tv.Kind != "transform" || tv.Shards != 0 || len(tv.Groups) != 0 || tv.StartFrom != "" || f.coverCalls != 0 {
		t.Fatalf("transform created as %+v (%d back-fill waits)", tv, f.coverCalls)
	}
	if got := textRows(mustRun(t, s, "SELECT * FROM t ORDER BY x10 DESC")); got != "C|90\nB|50" {
		t.Fatalf("SELECT FROM t:\n%s", got)
	}
	if got := textRows(mustRun(t, s, "SELECT k FROM output_of('t') WHERE x10 < 60")); got != "B" {
		t.Fatalf("SELECT FROM output_of('t'): %s", got)
	}
	mustRun(t, s, "CREATE VIEW t2 AS SELECT k || '!' AS bang, x10 FROM t WHERE x10 < 80")
	mustRun(t, s, "CREATE VIEW v WITH (shards = 2) AS SELECT bang, count(*) AS n FROM output_of('t2') GROUP BY bang HAVING sum(x10) > 10 ORDER BY n DESC")
	v := f.lastView(t)
	if v.Transform || v.Stream != "s" || !slices.Equal(v.Over, []string{"t2", "t"}) || len(v.Chain) != 2 || v.Chain[1] != tv.Query || len(v.Groups) != 2 {
		t.Fatalf("view over the chain: %+v", v)
	}
	// Reading v drops the rows HAVING rejects and the hidden HAVING column.
	b.views = map[string][][]types.Datum{"v": {
		{types.NewText("B!"), types.NewInt(types.Int8, 1), types.NewBool(true)},
		{types.NewText("X!"), types.NewInt(types.Int8, 7), types.NewBool(false)},
		{types.NewText("Y!"), types.NewInt(types.Int8, 3), types.NewBool(true)},
	}}
	if got := textRows(mustRun(t, s, "SELECT * FROM v")); got != "Y!|3\nB!|1" {
		t.Fatalf("SELECT FROM v:\n%s", got)
	}

	wantErr(t, s, "CREATE VIEW w AS SELECT count(*) FROM v", "0A000", `aggregating view "v"`, `stream "s"`)
	wantErr(t, s, "SELECT * FROM output_of('v')", "0A000", "only a transform")
	wantErr(t, s, "CREATE VIEW w AS SELECT count(*) FROM output_of('s')", "0A000", "only a transform", "FROM s")
	wantErr(t, s, "CREATE VIEW w AS SELECT count(*) FROM w", "42P01", `relation "w" does not exist`, "cannot read itself")
	wantErr(t, s, "CREATE VIEW w AS SELECT nope FROM t", "42703", `column "nope" does not exist`)
	wantErr(t, s, "CREATE VIEW w WITH (start = 'latest') AS SELECT k FROM t", "22023", `option "start" does not apply to a transform`)
	wantErr(t, s, "CREATE VIEW w WITH (sw = '1 minute') AS SELECT k FROM s", "22023", `option "sw" does not apply to a transform`)
	wantErr(t, s, "CREATE VIEW w AS SELECT k FROM s SETTINGS checkpoint_interval = 5", "22023", `"checkpoint_interval" does not apply to a transform`)
	wantErr(t, s, "CREATE MATERIALIZED VIEW w AS SELECT k FROM s", "0A000", "must aggregate", "CREATE VIEW")
	wantErr(t, s, "CREATE VIEW w WITH (action = transform, outputfunc = f) AS SELECT k FROM s", "0A000", "action = transform")
	wantErr(t, s, "CREATE VIEW w AS SELECT k FROM s LIMIT 1", "0A000", "LIMIT is not supported in a transform")
	if _, ok := f.cat.Views["w"]; ok {
		t.Fatal("a refused view was created")
	}
	// DROP VIEW passes CASCADE on.
	mustRun(t, s, "DROP VIEW t CASCADE")
	if d, ok := f.proposed[len(f.proposed)-1].(*catalog.DropViews); !ok || !d.Cascade {
		t.Fatalf("DROP VIEW ... CASCADE proposed %#v", f.proposed[len(f.proposed)-1])
	}
}
