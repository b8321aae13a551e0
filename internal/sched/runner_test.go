package sched

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/objstore"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/types"
	"github.com/cairndb/cairn/internal/viewsm"
)

// fakeMeta is the meta group: a catalog changed only by commands, as
// the state machine would. Each runner sees it through its own view,
// which a test can freeze (a node cut off from the meta group).
type fakeMeta struct {
	mu  sync.Mutex
	cat *catalog.Catalog
}

func (m *fakeMeta) catalog() *catalog.Catalog {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cat
}

func (m *fakeMeta) propose(_ context.Context, c catalog.Command) (*catalog.Result, error) {
	dec, err := catalog.Decode(catalog.Encode(c))
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next, res := catalog.Apply(m.cat, dec)
	if res.Err != nil {
		return nil, res.Err
	}
	m.cat = next
	return res, nil
}

// frozenView is a node's copy of the catalog, which can stop following.
type frozenView struct {
	m      *fakeMeta
	frozen atomic.Pointer[catalog.Catalog]
}

func (f *frozenView) catalog() *catalog.Catalog {
	if c := f.frozen.Load(); c != nil {
		return c
	}
	return f.m.catalog()
}

// fakeStream is one stream shard in memory: whole batches of (k, x).
type fakeStream struct {
	mu      sync.Mutex
	batches []fakeBatch
	end     uint64
	changed chan struct{}
	// failures makes the task's next scans fail: > 1 with an error, 1
	// with a panic.
	failures atomic.Int32
}

type fakeBatch struct {
	start  uint64
	ingest int64
	b      *types.Batch
}

func newFakeStream() *fakeStream { return &fakeStream{changed: make(chan struct{})} }

func (s *fakeStream) append(rows ...any) {
	b := types.NewBatch([]types.T{types.Text, types.Int8})
	for i := 0; i < len(rows); i += 2 {
		b.AppendRow([]types.Datum{types.NewText(rows[i].(string)), types.NewInt(types.Int8, int64(rows[i+1].(int)))})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches = append(s.batches, fakeBatch{start: s.end, ingest: time.Now().UnixMicro(), b: b})
	s.end += uint64(b.N)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *fakeStream) Shards() int { return 1 }

func (s *fakeStream) End(int) (uint64, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end, s.changed
}

func (s *fakeStream) Scan(_ int, from uint64, maxEvents int, fn func(uint64, int64, streamsm.Targets, *types.Batch) error) (uint64, error) {
	if maxEvents > 1 { // the task's scans (the lag probe reads one event)
		switch n := s.failures.Add(-1); {
		case n == 0:
			panic("scan panics")
		case n > 0:
			return from, errors.New("scan fails")
		default:
			s.failures.CompareAndSwap(n, 0)
		}
	}
	s.mu.Lock()
	bs := s.batches
	s.mu.Unlock()
	next, n := from, 0
	for _, fb := range bs {
		if fb.start < from {
			continue
		}
		if n >= maxEvents {
			break
		}
		if err := fn(fb.start, fb.ingest, nil, fb.b); err != nil {
			return next, err
		}
		n += fb.b.N
		next = fb.start + uint64(fb.b.N)
	}
	return next, nil
}

// flakyStore is a disk that can be taken down.
type flakyStore struct {
	objstore.Store
	down     atomic.Bool
	noDelete atomic.Bool // Delete fails (a collection that does not get to run)

	mu struct {
		sync.Mutex
		onPut       func(key string) // called after each successful Put
		overwritten []string         // keys a Put replaced with different bytes
	}
}

var errDown = errors.New("disk is down")

func (s *flakyStore) Put(ctx context.Context, key string, data []byte) error {
	if s.down.Load() {
		return errDown
	}
	old, getErr := s.Store.Get(ctx, key)
	if err := s.Store.Put(ctx, key, data); err != nil {
		return err
	}
	s.mu.Lock()
	if getErr == nil && string(old) != string(data) {
		s.mu.overwritten = append(s.mu.overwritten, key)
	}
	onPut := s.mu.onPut
	s.mu.Unlock()
	if onPut != nil {
		onPut(key)
	}
	return nil
}

func (s *flakyStore) Delete(ctx context.Context, key string) error {
	if s.down.Load() || s.noDelete.Load() {
		return errDown
	}
	return s.Store.Delete(ctx, key)
}

func (s *flakyStore) Get(ctx context.Context, key string) ([]byte, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.Get(ctx, key)
}

type harness struct {
	t      *testing.T
	meta   *fakeMeta
	src    *fakeStream
	store  *flakyStore
	view   *catalog.View
	events map[string][2]int64 // the view recomputed from every appended event
}

func newHarness(t *testing.T) *harness {
	fs, err := objstore.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cat := catalog.New()
	cat.Nodes["n1"] = &catalog.Node{ID: 1, Name: "n1"}
	cat.Nodes["n2"] = &catalog.Node{ID: 2, Name: "n2"}
	cat.Streams["s"] = &catalog.Stream{ID: 100, Name: "s", Cols: []catalog.Column{{Name: "k", T: types.Text}, {Name: "x", T: types.Int8}},
		Shards: 1, Replicas: 1, Groups: []uint64{50}}
	cat.Disks = map[string]*catalog.Disk{"d": {Name: "d", Type: catalog.DiskFile, Path: "unused"}}
	h := &harness{t: t, meta: &fakeMeta{cat: cat}, src: newFakeStream(), store: &flakyStore{Store: fs}, events: map[string][2]int64{}}
	res, err := h.meta.propose(context.Background(), &catalog.CreateView{View: &catalog.View{Name: "v", Kind: "materialized", Stream: "s", StreamID: 100,
		Query: "SELECT k, count(*) AS n, sum(x) AS total FROM s GROUP BY k", Sched: &catalog.Scheduled{Disk: "d", IntervalMS: 30}}})
	if err != nil {
		t.Fatal(err)
	}
	h.view = res.View
	return h
}

func (h *harness) runner(self uint64, catalogOf func() *catalog.Catalog, m *metrics.Sched) (*Runner, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	r := New(ctx, Config{Self: self, Catalog: catalogOf,
		Disk:    func(context.Context, string) (objstore.Store, error) { return h.store, nil },
		Propose: h.meta.propose,
		Sources: func([]uint64) viewsm.Source { return h.src },
		StreamEnd: func(context.Context, *catalog.Stream, int) (uint64, error) {
			end, _ := h.src.End(0)
			return end, nil
		},
		Metrics: m, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Timing: Timing{Poll: 20 * time.Millisecond, Lag: 50 * time.Millisecond, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, RejectWait: 200 * time.Millisecond}})
	r.Start()
	stop := func() { cancel(); r.Wait() }
	h.t.Cleanup(stop)
	return r, stop
}

// ingest appends n events over keys k0..k9 and records them.
func (h *harness) ingest(n, from int) {
	var rows []any
	for i := from; i < from+n; i++ {
		k := "k" + strconv.Itoa(i%10)
		rows = append(rows, k, i)
		e := h.events[k]
		h.events[k] = [2]int64{e[0] + 1, e[1] + int64(i)}
	}
	h.src.append(rows...)
}

func (h *harness) assign(node uint64) uint64 {
	v := h.meta.catalog().Views["v"]
	if _, err := h.meta.propose(context.Background(), &catalog.AssignView{View: "v", ViewID: v.ID, Node: node, Epoch: v.Sched.Epoch}); err != nil {
		h.t.Fatal(err)
	}
	return v.Sched.Epoch + 1
}

func finalize(t *testing.T, plan *exec.ViewPlan, rows map[string][]byte) map[string][2]int64 {
	out := map[string][2]int64{}
	for k, st := range rows {
		row, err := plan.Finalize(&exec.Ctx{}, []byte(k), st, nil)
		if err != nil {
			t.Fatal(err)
		}
		total, err := strconv.ParseInt(row[2].S, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		out[row[0].S] = [2]int64{row[1].I, total}
	}
	return out
}

func smRows(t *testing.T, sm *viewsm.SM) map[string][2]int64 {
	m := map[string][]byte{}
	if err := sm.Rows(func(k, st []byte) error { m[string(k)] = append([]byte(nil), st...); return nil }); err != nil {
		t.Fatal(err)
	}
	return finalize(t, sm.Plan(), m)
}

// committed loads the view's committed checkpoint from the disk.
func (h *harness) committed() (*catalog.ViewCheckpoint, *Manifest, map[string][2]int64) {
	// The owner may commit a newer checkpoint and collect this one
	// between the catalog read and the load: then read the catalog again
	// (a few times at most), as a stale read does.
	var ck *catalog.ViewCheckpoint
	var m *Manifest
	var rows map[string][]byte
	for attempt := 0; ; attempt++ {
		if ck = h.meta.catalog().Views["v"].Sched.Checkpoint; ck == nil {
			return nil, nil, nil
		}
		var err error
		m, rows, err = Load(context.Background(), h.store.Store, h.view.ID, ck.Key)
		if err == nil {
			break
		}
		if !errors.Is(err, objstore.ErrNotFound) || attempt >= 5 {
			h.t.Fatalf("load committed checkpoint %s: %v", ck.Key, err)
		}
	}
	sm := viewsm.New(nil, mustPlan(h.t, h.meta.catalog()), []uint64{0}, nil)
	return ck, m, finalize(h.t, sm.Plan(), rows)
}

func mustPlan(t *testing.T, cat *catalog.Catalog) *exec.ViewPlan {
	v := cat.Views["v"]
	sm, err := planOf(v, cat.Streams["s"])
	if err != nil {
		t.Fatal(err)
	}
	return sm
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestOwnerLifecycle: an owner folds and checkpoints (a base, then
// deltas); while the disk is down checkpoints fail and are retried and
// the view keeps folding, nothing lost; the view is reassigned and the
// new owner resumes from the committed checkpoint, replays the rest and
// equals the recomputation; the old owner, cut off from the catalog,
// has its checkpoint refused (fenced) and stops, and cannot touch the
// new owner's checkpoint.
func TestOwnerLifecycle(t *testing.T) {
	h := newHarness(t)
	m1 := metrics.New().NewSched()
	view1 := &frozenView{m: h.meta}
	r1, _ := h.runner(1, view1.catalog, m1)
	r2, _ := h.runner(2, h.meta.catalog, nil)

	h.ingest(100, 0)
	e1 := h.assign(1)
	r1.Wake()
	waitFor(t, "n1 to fold 100 events and commit them", func() bool {
		ck, _, _ := h.committed()
		return ck != nil && ck.Offsets[0] == 100
	})
	if sm := r1.Owned(h.view.ID, e1); sm == nil || !maps.Equal(smRows(t, sm), h.events) {
		t.Fatalf("owner n1 rows differ from the recomputation")
	}
	if r2.Owned(h.view.ID, 0) != nil {
		t.Fatal("n2 runs a view assigned to n1")
	}
	if got := value(m1.Owned); got != 1 {
		t.Fatalf("cairn_scheduled_views on n1 = %v, want 1", got)
	}
	// Small changes on top of the base are deltas.
	h.ingest(10, 100)
	waitFor(t, "a delta checkpoint at 110", func() bool {
		ck, m, rows := h.committed()
		return ck.Offsets[0] == 110 && len(m.Parts) >= 2 && !m.Parts[len(m.Parts)-1].Full && maps.Equal(rows, h.events)
	})

	// The disk goes down: checkpoints fail and are retried; the view
	// keeps folding.
	h.store.down.Store(true)
	failed := value(m1.Checkpoints.WithLabelValues(metrics.CheckpointFailed))
	h.ingest(50, 110)
	waitFor(t, "n1 to fold while the disk is down", func() bool {
		sm := r1.Owned(h.view.ID, e1)
		return sm != nil && sm.Offsets()[0] == 160
	})
	waitFor(t, "failed checkpoints", func() bool {
		return value(m1.Checkpoints.WithLabelValues(metrics.CheckpointFailed)) > failed+1
	})
	if ck, _, _ := h.committed(); ck.Offsets[0] != 110 {
		t.Fatalf("a checkpoint committed while the disk was down: %+v", ck)
	}
	h.store.down.Store(false)
	waitFor(t, "the retried checkpoint to commit everything", func() bool {
		ck, _, rows := h.committed()
		return ck.Offsets[0] == 160 && maps.Equal(rows, h.events)
	})

	// n1 is cut off from the catalog (it keeps believing it owns the
	// view) and the view moves to n2.
	view1.frozen.Store(h.meta.catalog())
	h.ingest(40, 160)
	e2 := h.assign(2)
	r2.Wake()
	waitFor(t, "n2 to resume from the checkpoint and fold everything", func() bool {
		sm := r2.Owned(h.view.ID, e2)
		return sm != nil && sm.Offsets()[0] == 200 && maps.Equal(smRows(t, sm), h.events)
	})
	waitFor(t, "n2's first checkpoint", func() bool {
		ck, _, rows := h.committed()
		return ck.Epoch == e2 && ck.Offsets[0] == 200 && maps.Equal(rows, h.events)
	})
	// n1 folded the same events and tries to commit them: refused, it
	// stops and drops its state.
	waitFor(t, "n1 to be fenced", func() bool { return r1.Owned(h.view.ID, 0) == nil })
	if got := value(m1.Checkpoints.WithLabelValues(metrics.CheckpointFenced)); got < 1 {
		t.Fatalf("cairn_checkpoints_total{outcome=fenced} on n1 = %v", got)
	}
	ck, _, rows := h.committed()
	if ck.Epoch != e2 || !maps.Equal(rows, h.events) {
		t.Fatalf("after the stale owner stopped, the committed checkpoint is %+v with rows %v", ck, rows)
	}
	// n1 stays stopped though its frozen catalog still names it.
	time.Sleep(100 * time.Millisecond)
	if r1.Owned(h.view.ID, 0) != nil {
		t.Fatal("the fenced owner restarted")
	}
	// n2 folds on, and its status reports the view.
	h.ingest(5, 200)
	waitFor(t, "n2 to fold on", func() bool {
		st := r2.Status()
		return len(st) == 1 && st[0].Running && st[0].Offsets[0] == 205 && st[0].Epoch == e2
	})
	// Objects of older checkpoints are collected; the committed one's stay.
	keys, err := h.store.List(context.Background(), Prefix(h.view.ID))
	if err != nil {
		t.Fatal(err)
	}
	_, m, _ := h.committed()
	need := map[string]bool{}
	for _, p := range m.Parts {
		need[p.Key] = true
	}
	for k := range need {
		if !strings.Contains(strings.Join(keys, " "), k) {
			t.Fatalf("part %s of the committed checkpoint was deleted; left: %v", k, keys)
		}
	}
	if len(keys) > len(need)+4 {
		t.Fatalf("old checkpoint objects pile up: %d objects for a checkpoint of %d parts: %v", len(keys), len(need), keys)
	}
}

// TestHandoffAndDrop: a handoff stops folding and records a Final
// checkpoint holding every folded event, so the next owner replays
// nothing; dropping the view makes its last owner delete its objects.
func TestHandoffAndDrop(t *testing.T) {
	h := newHarness(t)
	h.meta.mu.Lock()
	h.meta.cat.Views["v"].Sched.IntervalMS = 60_000 // only the final checkpoint
	h.meta.mu.Unlock()
	r1, _ := h.runner(1, h.meta.catalog, nil)
	h.ingest(30, 0)
	e1 := h.assign(1)
	r1.Wake()
	waitFor(t, "n1 to fold", func() bool {
		sm := r1.Owned(h.view.ID, e1)
		return sm != nil && sm.Offsets()[0] == 30
	})
	if ck, _, _ := h.committed(); ck != nil {
		t.Fatalf("checkpoint before the interval: %+v", ck)
	}
	if _, err := h.meta.propose(context.Background(), &catalog.SetViewHandoff{View: "v", ViewID: h.view.ID, Epoch: e1}); err != nil {
		t.Fatal(err)
	}
	r1.Wake()
	waitFor(t, "the final checkpoint", func() bool {
		ck, _, rows := h.committed()
		return ck != nil && ck.Final && ck.Offsets[0] == 30 && maps.Equal(rows, h.events)
	})
	h.ingest(5, 30)
	time.Sleep(100 * time.Millisecond)
	if sm := r1.Owned(h.view.ID, e1); sm == nil || sm.Offsets()[0] != 30 {
		t.Fatal("the owner folded after handing the view off (or stopped serving it)")
	}
	if _, err := h.meta.propose(context.Background(), &catalog.DropViews{Names: []string{"v"}}); err != nil {
		t.Fatal(err)
	}
	r1.Wake()
	waitFor(t, "the dropped view's objects to be deleted", func() bool {
		keys, err := h.store.List(context.Background(), Prefix(h.view.ID))
		return err == nil && len(keys) == 0
	})
	if r1.Owned(h.view.ID, 0) != nil {
		t.Fatal("the runner still runs a dropped view")
	}
}

var _ = fmt.Sprint

// value reads a gauge's or counter's value.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// TestTaskRestartsLocally: a view task that fails or panics restarts on
// the same owner from its in-memory state; the view loses nothing and
// folds nothing twice.
func TestTaskRestartsLocally(t *testing.T) {
	h := newHarness(t)
	r1, _ := h.runner(1, h.meta.catalog, nil)
	h.ingest(20, 0)
	e1 := h.assign(1)
	r1.Wake()
	waitFor(t, "n1 to fold", func() bool {
		sm := r1.Owned(h.view.ID, e1)
		return sm != nil && sm.Offsets()[0] == 20
	})
	sm := r1.Owned(h.view.ID, e1)
	h.src.failures.Store(3) // two errors, then a panic
	h.ingest(20, 20)
	waitFor(t, "the failures to happen", func() bool { return h.src.failures.Load() <= 0 })
	h.ingest(20, 40)
	waitFor(t, "n1 to fold on after restarts", func() bool { return sm.Offsets()[0] == 60 })
	if r1.Owned(h.view.ID, e1) != sm {
		t.Fatal("the owner was replaced instead of restarting its task")
	}
	if !maps.Equal(smRows(t, sm), h.events) {
		t.Fatalf("rows after restarts %v, want %v", smRows(t, sm), h.events)
	}
	if st := r1.Status(); len(st) != 1 || !st[0].Running {
		t.Fatalf("status after restarts: %+v", st)
	}
}

// TestLag: while the task cannot fold, the owner reports the events it
// is behind and the age of the oldest (Status and
// cairn_scheduled_view_lag_seconds); caught up, both are 0.
func TestLag(t *testing.T) {
	h := newHarness(t)
	m := metrics.New().NewSched()
	r1, _ := h.runner(1, h.meta.catalog, m)
	h.ingest(10, 0)
	e1 := h.assign(1)
	r1.Wake()
	waitFor(t, "n1 to fold", func() bool {
		sm := r1.Owned(h.view.ID, e1)
		return sm != nil && sm.Offsets()[0] == 10
	})
	h.src.failures.Store(1 << 30) // the task fails from now on
	h.ingest(7, 10)
	waitFor(t, "the lag to show", func() bool {
		st := r1.Status()
		return len(st) == 1 && st[0].EventsBehind == 7 && st[0].LagSeconds > 0 && value(m.Lag.WithLabelValues("v")) > 0 && st[0].Err != ""
	})
	h.src.failures.Store(0)
	waitFor(t, "the lag to clear", func() bool {
		st := r1.Status()
		return len(st) == 1 && st[0].EventsBehind == 0 && st[0].LagSeconds == 0 && value(m.Lag.WithLabelValues("v")) == 0
	})
}

// TestOwnerRestartSameEpoch: the owner's node restarts while the view
// is still assigned to it (same epoch): the new runner loads the last
// checkpoint, numbers its checkpoints after it (so it overwrites none of
// the objects that checkpoint needs) and commits on.
func TestOwnerRestartSameEpoch(t *testing.T) {
	h := newHarness(t)
	r1, stop1 := h.runner(1, h.meta.catalog, nil)
	h.ingest(40, 0)
	e1 := h.assign(1)
	r1.Wake()
	waitFor(t, "a checkpoint at 40", func() bool {
		ck, _, _ := h.committed()
		return ck != nil && ck.Offsets[0] == 40
	})
	h.ingest(3, 40)
	waitFor(t, "a delta checkpoint at 43", func() bool {
		ck, m, _ := h.committed()
		return ck != nil && ck.Offsets[0] == 43 && len(m.Parts) >= 2
	})
	stop1()
	before, m, _ := h.committed()
	base, err := h.store.Get(context.Background(), m.Parts[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	r1b, _ := h.runner(1, h.meta.catalog, nil)
	h.ingest(2, 43)
	waitFor(t, "the restarted owner to commit", func() bool {
		ck, _, rows := h.committed()
		return ck.Epoch == e1 && ck.Seq > before.Seq && ck.Offsets[0] == 45 && maps.Equal(rows, h.events)
	})
	if sm := r1b.Owned(h.view.ID, e1); sm == nil || !maps.Equal(smRows(t, sm), h.events) {
		t.Fatal("the restarted owner's rows differ from the recomputation")
	}
	// The base the first run wrote is still there, unchanged, or was
	// collected after a newer base: never overwritten in place.
	if got, err := h.store.Get(context.Background(), m.Parts[0].Key); err == nil && string(got) != string(base) {
		t.Fatalf("base %s was overwritten", m.Parts[0].Key)
	}
}
