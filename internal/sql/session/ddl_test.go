package session

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// fakeBackend is the node as CREATE, SET and INSERT see it: a catalog
// with two data nodes and a stream s of two shards whose ends are ends.
// A method the tests do not expect panics (the embedded nil Backend).
type fakeBackend struct {
	Backend
	mu      sync.Mutex
	cat     *catalog.Catalog
	ends    []uint64
	offsets [][]uint64 // what ViewOffsets reports, per view shard
	// coverAfter: WaitViewsCover succeeds on this call (0: never; it
	// waits for its context).
	coverAfter int
	coverCalls int
	coverEnds  []uint64
	proposed   []catalog.Command
	inserted   []InsertOptions
}

func newFake() *fakeBackend {
	cat := catalog.New()
	cat.Nodes["n1"] = &catalog.Node{ID: 1, Name: "n1"}
	cat.Nodes["n2"] = &catalog.Node{ID: 2, Name: "n2"}
	cols := []catalog.Column{{Name: "k", T: types.Text}, {Name: "x", T: types.Int8}}
	cat.Streams["s"] = &catalog.Stream{ID: 1, Name: "s", Cols: cols, Shards: 2, Replicas: 1, Groups: []uint64{2, 3}}
	cat.Streams["s2"] = &catalog.Stream{ID: 4, Name: "s2", Cols: cols, Shards: 1, Replicas: 1, Groups: []uint64{5}}
	cat.NextID, cat.NextGroupID = 10, 10
	return &fakeBackend{cat: cat, ends: []uint64{60, 40}}
}

func (f *fakeBackend) Catalog() *catalog.Catalog { return f.cat }
func (f *fakeBackend) Version() string           { return "test" }

func (f *fakeBackend) CheckBatch(string, *types.Batch) error { return nil }

func (f *fakeBackend) Place(shards, replicas int) ([][]uint64, error) {
	return make([][]uint64, shards), nil
}

func (f *fakeBackend) WaitGroups(context.Context, []uint64) error { return nil }

func (f *fakeBackend) StreamEnd(_ context.Context, _ *catalog.Stream, shard int) (uint64, error) {
	return f.ends[shard], nil
}

// Propose applies CREATE STREAM and CREATE VIEW as the meta group would
// (ids and groups), and records every command.
func (f *fakeBackend) Propose(_ context.Context, c catalog.Command) (*catalog.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.proposed = append(f.proposed, c)
	switch c := c.(type) {
	case *catalog.CreateView:
		v := c.View
		if len(v.Start) != len(f.cat.Streams[v.Stream].Groups) {
			v.Start = make([]uint64, len(f.cat.Streams[v.Stream].Groups))
		}
		v.ID = f.cat.NextID
		f.cat.NextID++
		for i := 0; i < v.Shards && v.Sched == nil; i++ { // a scheduled view has no groups
			v.Groups = append(v.Groups, f.cat.NextGroupID)
			f.cat.NextGroupID++
		}
		f.cat.Views[v.Name] = v
		return &catalog.Result{View: v}, nil
	case *catalog.CreateStream:
		return &catalog.Result{Stream: c.Stream}, nil
	}
	return &catalog.Result{}, nil
}

func (f *fakeBackend) WaitViewsCover(ctx context.Context, vs []*catalog.View, ends []uint64) error {
	f.mu.Lock()
	f.coverCalls++
	f.coverEnds = ends
	done := f.coverAfter > 0 && f.coverCalls >= f.coverAfter
	f.mu.Unlock()
	if done {
		return nil
	}
	<-ctx.Done()
	return pgerr.StatementTimeout.New()
}

func (f *fakeBackend) ViewOffsets(context.Context, *catalog.View) [][]uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.offsets
}

func (f *fakeBackend) Insert(_ context.Context, _ string, _ *types.Batch, o InsertOptions) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.inserted = append(f.inserted, o)
	return nil
}

// lastView is the view of the last CREATE VIEW proposed.
func (f *fakeBackend) lastView(t *testing.T) *catalog.View {
	t.Helper()
	for i := len(f.proposed) - 1; i >= 0; i-- {
		if cv, ok := f.proposed[i].(*catalog.CreateView); ok {
			return cv.View
		}
	}
	t.Fatal("no CREATE VIEW proposed")
	return nil
}

// runSQL runs sql's statements in s, collecting rows and notices.
func runSQL(s *Session, sql string) (*Result, error) {
	stmts, _, err := parser.Parse(sql)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, st := range stmts {
		p, err := s.Prepare(context.Background(), st, sql, nil)
		if err != nil {
			return res, err
		}
		tag, err := p.Execute(context.Background(), nil, &collectWriter{res: res})
		if err != nil {
			return res, err
		}
		res.Tag = tag
	}
	return res, nil
}

func mustRun(t *testing.T, s *Session, sql string) *Result {
	t.Helper()
	res, err := runSQL(s, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return res
}

// wantErr runs sql and checks its SQLSTATE and that the message (and
// hint) mention each of words.
func wantErr(t *testing.T, s *Session, sql, code string, words ...string) *pgerr.Error {
	t.Helper()
	_, err := runSQL(s, sql)
	if err == nil {
		t.Fatalf("%s: no error, want %s", sql, code)
	}
	e := pgerr.From(err)
	if e.Code != code {
		t.Fatalf("%s: %s %q, want %s", sql, e.Code, e.Message, code)
	}
	for _, w := range words {
		if !strings.Contains(e.Message+" "+e.Hint, w) {
			t.Fatalf("%s: %q (hint %q) does not mention %q", sql, e.Message, e.Hint, w)
		}
	}
	return e
}

// TestCreateViewWaitsForBackfill: CREATE VIEW returns once the view
// covered the stream's ends read at creation, sending a progress NOTICE
// every backfillNoticeEvery meanwhile.
func TestCreateViewWaitsForBackfill(t *testing.T) {
	defer func(d time.Duration) { backfillNoticeEvery = d }(backfillNoticeEvery)
	backfillNoticeEvery = 5 * time.Millisecond
	f := newFake()
	f.coverAfter = 3
	// Shard 0 of the view is behind on stream shard 1: 30 + 15 of 100.
	f.offsets = [][]uint64{{30, 20}, {45, 15}}
	res := mustRun(t, New(f, "cairn", nil), "CREATE VIEW v AS SELECT k, count(*) AS n FROM s GROUP BY k")
	if res.Tag != "CREATE VIEW" {
		t.Fatalf("tag %q", res.Tag)
	}
	v := f.lastView(t)
	if v.StartFrom != "earliest" || !slices.Equal(v.BackfillTo, []uint64{60, 40}) || !slices.Equal(f.coverEnds, []uint64{60, 40}) {
		t.Fatalf("view start %q, backfill_to %v; waited for %v", v.StartFrom, v.BackfillTo, f.coverEnds)
	}
	want := []string{"back-fill of v: 45 of 100 events (45%)", "back-fill of v: 45 of 100 events (45%)"}
	if f.coverCalls != 3 || !slices.Equal(res.Notices, want) {
		t.Fatalf("%d waits, notices %q; want %q", f.coverCalls, res.Notices, want)
	}
	if got := thousands(4500000); got != "4,500,000" {
		t.Fatalf("thousands: %s", got)
	}
}

// TestCreateViewStartLatest: start = 'latest' begins at the ends read at
// creation and is recorded; there is nothing to back-fill.
func TestCreateViewStartLatest(t *testing.T) {
	f := newFake()
	f.coverAfter = 1
	mustRun(t, New(f, "cairn", nil), "CREATE VIEW v WITH (start = 'latest') AS SELECT count(*) FROM s")
	v := f.lastView(t)
	if v.StartFrom != "latest" || !slices.Equal(v.Start, []uint64{60, 40}) || !slices.Equal(v.BackfillTo, []uint64{60, 40}) {
		t.Fatalf("start %q %v, backfill_to %v", v.StartFrom, v.Start, v.BackfillTo)
	}
	if p := v.BackfillProgress([][]uint64{{60, 40}, {60, 40}}); !p.Complete || p.Target != 0 {
		t.Fatalf("latest view progress %+v", p)
	}
	wantErr(t, New(f, "cairn", nil), "CREATE VIEW w WITH (start = 'middle') AS SELECT count(*) FROM s", pgerr.InvalidParameterValue, "earliest")
}

// TestCreateViewWaitCancelled: a statement_timeout ends the wait; the
// view stays created, and both a NOTICE and the error's hint say so.
func TestCreateViewWaitCancelled(t *testing.T) {
	f := newFake()
	s := New(f, "cairn", nil)
	mustRun(t, s, "SET statement_timeout = 50")
	stmts, _, _ := parser.Parse("CREATE VIEW v AS SELECT count(*) FROM s")
	p, err := s.Prepare(context.Background(), stmts[0], "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res := &Result{}
	_, err = p.Execute(context.Background(), nil, &collectWriter{res: res})
	e := pgerr.From(err)
	if e == nil || e.Code != pgerr.QueryCanceled || !strings.Contains(e.Message, `view "v"; the view was created`) || !strings.Contains(e.Hint, "name = 'v'") {
		t.Fatalf("error %+v", e)
	}
	if f.cat.Views["v"] == nil {
		t.Fatal("the view is gone")
	}
	if len(res.Notices) == 0 || !strings.Contains(res.Notices[len(res.Notices)-1], `view "v" was created`) {
		t.Fatalf("notices %q", res.Notices)
	}
}

// TestBackgroundDDL: SET background_ddl = on returns from CREATE VIEW
// without waiting; the setting is checked and shown.
func TestBackgroundDDL(t *testing.T) {
	f := newFake()
	s := New(f, "cairn", nil)
	mustRun(t, s, "SET background_ddl = on")
	mustRun(t, s, "CREATE VIEW v AS SELECT count(*) FROM s")
	if f.coverCalls != 0 {
		t.Fatalf("waited %d times with background_ddl = on", f.coverCalls)
	}
	if r := mustRun(t, s, "SHOW background_ddl"); *r.Rows[0][0] != "on" {
		t.Fatalf("SHOW background_ddl = %s", *r.Rows[0][0])
	}
	wantErr(t, s, "SET background_ddl = sometimes", pgerr.InvalidParameterValue)
}

// TestCreateViewOptions: every WITH option and SETTINGS entry of CREATE
// VIEW either lands in the catalog view or is refused.
func TestCreateViewOptions(t *testing.T) {
	f := newFake()
	f.coverAfter = 1
	s := New(f, "cairn", nil)
	n := 0
	// create makes a view WITH (…) or with SETTINGS (after the query).
	create := func(opts string) *catalog.View {
		t.Helper()
		n++
		sql := "CREATE VIEW v" + string(rune('a'+n)) + " " + opts + " AS SELECT count(*) FROM s"
		if strings.HasPrefix(opts, "SETTINGS") {
			sql = "CREATE VIEW v" + string(rune('a'+n)) + " AS SELECT count(*) FROM s " + opts
		}
		mustRun(t, s, sql)
		return f.lastView(t)
	}
	mustRun(t, s, "CREATE OR REPLACE VIEW va AS SELECT count(*) FROM s") // new: created
	wantErr(t, s, "CREATE OR REPLACE VIEW va AS SELECT count(*) FROM s", pgerr.FeatureNotSupported, "DROP VIEW va")
	if v := create("WITH (shards = 3, replicas = 1)"); v.Shards != 3 || v.Replicas != 1 {
		t.Fatalf("shards/replicas: %d/%d", v.Shards, v.Replicas)
	}
	if v := create("WITH (num_shards = 2, num_replicas = 1)"); v.Shards != 2 || v.Replicas != 2 {
		t.Fatalf("num_shards/num_replicas: %d/%d", v.Shards, v.Replicas)
	}
	for settings, want := range map[string]string{
		"checkpoint_interval = 5":                                     "5s",
		"checkpoint_interval = '1.5'":                                 "1.5s",
		"checkpoint_interval = '500ms'":                               "500ms",
		"checkpoint_settings = 'storage_type=local;async=false'":      "",
		"checkpoint_settings = 'storage_type=local; interval=2'":      "2s",
		"checkpoint_settings = 'interval = 3', checkpoint_interval=3": "twice",
	} {
		if want == "twice" {
			wantErr(t, s, "CREATE VIEW vx AS SELECT count(*) FROM s SETTINGS "+settings, pgerr.InvalidParameterValue, "twice")
			continue
		}
		v := create("SETTINGS " + settings)
		if got := v.Settings["checkpoint_interval"]; got != want {
			t.Fatalf("SETTINGS %s: checkpoint_interval %q, want %q", settings, got, want)
		}
	}
	for sql, code := range map[string]string{
		"WITH (shards = 0)":       pgerr.InvalidParameterValue,
		"WITH (replicas = 3)":     pgerr.InvalidParameterValue, // two data nodes
		"WITH (num_replicas = 2)": pgerr.InvalidParameterValue,
		"WITH (fanout = 2)":       pgerr.InvalidParameterValue,
		"SETTINGS checkpoint_settings = 'storage_type=shared'": pgerr.InvalidParameterValue, // no disk (scheduled_test.go)
		"SETTINGS checkpoint_settings = 'shared_disk=s3'":      pgerr.InvalidParameterValue,
		"SETTINGS checkpoint_settings = 'async=true'":          pgerr.FeatureNotSupported,
		"SETTINGS checkpoint_settings = 'async=maybe'":         pgerr.InvalidParameterValue,
		"SETTINGS checkpoint_settings = 'colour=blue'":         pgerr.InvalidParameterValue,
		"SETTINGS checkpoint_settings = 'interval=0'":          pgerr.InvalidParameterValue,
		"SETTINGS checkpoint_interval = '0'":                   pgerr.InvalidParameterValue,
		"SETTINGS checkpoint_interval = 'often'":               pgerr.InvalidParameterValue,
		"SETTINGS checkpoint_interval = '2d'":                  pgerr.InvalidParameterValue,
		"SETTINGS keep_versions = 3":                           pgerr.InvalidParameterValue,
	} {
		stmt := "CREATE VIEW vy " + sql + " AS SELECT count(*) FROM s"
		if strings.HasPrefix(sql, "SETTINGS") {
			stmt = "CREATE VIEW vy AS SELECT count(*) FROM s " + sql
		}
		wantErr(t, s, stmt, code)
	}
}

// TestCreateStreamOptions: every WITH option of CREATE STREAM lands in
// the catalog stream; unknown ones are refused, in OPTIONS of a
// PipelineDB foreign table too.
func TestCreateStreamOptions(t *testing.T) {
	f := newFake()
	s := New(f, "cairn", nil)
	mustRun(t, s, "CREATE STREAM t (a int8, k text) WITH (shards = 4, replicas = 1, shard_key = 'k', retention = '1 hour')")
	st := f.proposed[len(f.proposed)-1].(*catalog.CreateStream).Stream
	if st.Shards != 4 || st.Replicas != 1 || st.ShardKey != "k" || st.Retention != "1 hour" {
		t.Fatalf("stream %+v", st)
	}
	mustRun(t, s, "CREATE FOREIGN TABLE ft (a int8) SERVER pipelinedb OPTIONS (shards '2')")
	if st := f.proposed[len(f.proposed)-1].(*catalog.CreateStream).Stream; st.Shards != 2 || !st.Foreign {
		t.Fatalf("foreign stream %+v", st)
	}
	for sql, code := range map[string]string{
		"CREATE STREAM u (a int8) WITH (shard_key = 'b')":                          pgerr.UndefinedColumn,
		"CREATE STREAM u (a int8) WITH (retention = 'forever')":                    pgerr.InvalidParameterValue,
		"CREATE STREAM u (a int8) WITH (compression = 'zstd')":                     pgerr.InvalidParameterValue,
		"CREATE FOREIGN TABLE u (a int8) SERVER pipelinedb OPTIONS (format 'csv')": pgerr.InvalidParameterValue,
	} {
		wantErr(t, s, sql, code)
	}
}

// TestStreamTargets: pipelinedb.stream_targets is normalized by SET,
// resolved to view ids by each INSERT (which must name views over the
// stream inserted into) and handed to the backend with the batch.
func TestStreamTargets(t *testing.T) {
	f := newFake()
	f.coverAfter = 1
	s := New(f, "cairn", nil)
	mustRun(t, s, "CREATE VIEW a AS SELECT count(*) FROM s; CREATE VIEW b AS SELECT count(*) FROM s; CREATE VIEW d AS SELECT count(*) FROM s2")
	a, b := f.cat.Views["a"].ID, f.cat.Views["b"].ID
	mustRun(t, s, "SET pipelinedb.stream_targets = 'b, a ,b,'")
	if r := mustRun(t, s, "SHOW pipelinedb.stream_targets"); *r.Rows[0][0] != "b, a" {
		t.Fatalf("SHOW = %q", *r.Rows[0][0])
	}
	mustRun(t, s, "INSERT INTO s VALUES ('x', 1)")
	mustRun(t, s, "SET pipelinedb.stream_targets TO a")
	mustRun(t, s, "BEGIN; INSERT INTO s VALUES ('x', 2); COMMIT")
	mustRun(t, s, "RESET pipelinedb.stream_targets")
	mustRun(t, s, "INSERT INTO s VALUES ('x', 3)")
	mustRun(t, s, "SET pipelinedb.stream_targets = ''")
	mustRun(t, s, "INSERT INTO s VALUES ('x', 4)")
	got := make([][]uint64, len(f.inserted))
	for i, o := range f.inserted {
		got[i] = o.Targets
	}
	if !slices.EqualFunc(got, [][]uint64{{b, a}, {a}, nil, nil}, slices.Equal) {
		t.Fatalf("targets per insert: %v (a=%d b=%d)", got, a, b)
	}
	mustRun(t, s, "SET pipelinedb.stream_targets = 'a, nope'")
	wantErr(t, s, "INSERT INTO s VALUES ('x', 5)", pgerr.UndefinedTable, `"nope"`, "RESET")
	mustRun(t, s, "SET pipelinedb.stream_targets = d")
	wantErr(t, s, "INSERT INTO s VALUES ('x', 6)", pgerr.InvalidParameterValue, `"d"`, `"s2"`)
	if len(f.inserted) != 4 {
		t.Fatalf("%d inserts reached the backend, want 4", len(f.inserted))
	}
}
