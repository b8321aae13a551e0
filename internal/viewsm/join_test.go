package viewsm

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// joinPlan plans `SELECT d.site, count(*), sum(e.v) FROM s e JOIN
// devices d ON e.dev = d.id GROUP BY d.site` over a stream (dev, v).
func joinPlan(t *testing.T) *exec.ViewPlan {
	t.Helper()
	stmts, _, err := parser.Parse(`SELECT d.site, count(*) AS n, sum(e.v) AS total FROM s e GROUP BY d.site`)
	if err != nil {
		t.Fatal(err)
	}
	on, _, err := parser.Parse(`SELECT 1 WHERE e.dev = d.id`)
	if err != nil {
		t.Fatal(err)
	}
	sel := stmts[0].(*parser.Select)
	spec := exec.ViewJoinSpec{Stream: sel.From, Table: &parser.TableRef{Name: "devices", Alias: "d"}, On: on[0].(*parser.Select).Where}
	tbl := exec.JoinTable{Name: "devices", Cols: []exec.Column{{Name: "id", T: types.Int8}, {Name: "site", T: types.Text}}, Key: []int{0}}
	p, err := exec.PlanViewJoin(sel, spec, []exec.Column{{Name: "dev", T: types.Int8}, {Name: "v", T: types.Int8}}, tbl, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestJoinTaskRestartsFoldOnce runs an enrichment view's task over two
// stream shards while it keeps failing: after some proposals are applied
// the task is told they failed (as when its node loses leadership after
// the commit) or is cancelled, and a new task starts from the stored
// offsets. Every event must be counted exactly once, joined to its
// device.
func TestJoinTaskRestartsFoldOnce(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := joinPlan(t)
	devices := exec.NewMemKeyed([]exec.Column{{Name: "id", T: types.Int8}, {Name: "site", T: types.Text}}, []int{0})
	for id := int64(0); id < 10; id++ {
		devices.Put([]types.Datum{types.NewInt(types.Int8, id), types.NewText(fmt.Sprintf("s%d", id%3))})
	}
	src := &memSource{shards: make([][]*types.Batch, 2), ch: make(chan struct{})}
	want := map[string][2]int64{}
	total := uint64(0)
	for s := 0; s < 2; s++ {
		for i := 0; i < 60; i++ {
			b := types.NewBatch([]types.T{types.Int8, types.Int8})
			for j := 0; j < 10; j++ {
				dev, v := int64((i*7+j+s)%12), int64(i*j+s)
				b.AppendRow([]types.Datum{types.NewInt(types.Int8, dev), types.NewInt(types.Int8, v)})
				if dev < 10 { // devices 10 and 11 have no row: an inner join drops them
					k := fmt.Sprintf("s%d", dev%3)
					w := want[k]
					want[k] = [2]int64{w[0] + 1, w[1] + v}
				}
			}
			src.shards[s] = append(src.shards[s], b)
			total += uint64(b.N)
		}
	}
	sm := New([]byte("join"), p, []uint64{0, 0}, nil)
	rng := rand.New(rand.NewPCG(1, 2))
	errLost := errors.New("leadership lost after the commit")
	index := uint64(0)
	restarts := 0
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if o := sm.Offsets(); o[0] == total/2 && o[1] == total/2 {
			break
		}
		ctx, cancel := context.WithCancel(context.Background())
		propose := func(ctx context.Context, cmd []byte) (any, error) {
			index++
			wb := db.NewBatch()
			res := sm.Apply(wb, index, cmd)
			if err := wb.Commit(pebble.NoSync); err != nil {
				return nil, err
			}
			sm.Durable()
			switch rng.IntN(4) {
			case 0:
				return nil, errLost // applied, but the task does not know
			case 1:
				cancel() // stopped right after a commit
			}
			return res, nil
		}
		_ = RunTask(ctx, TaskConfig{SM: sm, Src: src, Table: devices, Propose: propose, NumShards: 1, MaxEvents: 25})
		cancel()
		restarts++
	}
	if o := sm.Offsets(); o[0] != total/2 || o[1] != total/2 {
		t.Fatalf("offsets = %v, want [%d %d]", o, total/2, total/2)
	}
	if restarts < 5 {
		t.Fatalf("only %d task restarts: the test did not exercise them", restarts)
	}
	got := rows(t, sm)
	if len(got) != len(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Fatalf("site %s = %v, want %v (all: %v)", k, got[k], w, got)
		}
	}
	// A replica loading the state from disk sees the same rows.
	again := New([]byte("join"), p, []uint64{0, 0}, nil)
	if err := again.Load(db); err != nil {
		t.Fatal(err)
	}
	if g := rows(t, again); fmt.Sprint(g) != fmt.Sprint(got) {
		t.Fatalf("reloaded rows %v, want %v", g, got)
	}
}

// TestJoinTaskNeedsTable: a task for an enrichment view without a table
// source stops with an error instead of folding unjoined events.
func TestJoinTaskNeedsTable(t *testing.T) {
	p := joinPlan(t)
	sm := New([]byte("j"), p, []uint64{0}, nil)
	src := &memSource{shards: make([][]*types.Batch, 1), ch: make(chan struct{})}
	err := RunTask(context.Background(), TaskConfig{SM: sm, Src: src, NumShards: 1, Propose: func(context.Context, []byte) (any, error) { return nil, nil }})
	if err == nil {
		t.Fatal("no error")
	}
}

// TestStreamJoinTaskRestartsFoldOnce: a view joining two streams within
// a time bound, its task failing after commits and restarting (each
// start rebuilds the join buffers from the streams' history up to the
// committed offsets): every pair is counted exactly once.
func TestStreamJoinTaskRestartsFoldOnce(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cols := []exec.Column{{Name: "k", T: types.Text}, {Name: "ts", T: types.TimestampTZ}, {Name: "v", T: types.Int8}}
	stmts, _, err := parser.Parse(`SELECT a.k, count(*) AS n, sum(b.v) AS total FROM a GROUP BY a.k`)
	if err != nil {
		t.Fatal(err)
	}
	on, _, err := parser.Parse(`SELECT 1 WHERE a.k = b.k AND b.ts BETWEEN a.ts AND a.ts + interval '1 second'`)
	if err != nil {
		t.Fatal(err)
	}
	sel := stmts[0].(*parser.Select)
	p, err := exec.PlanViewStreamJoin(sel, exec.ViewJoinSpec{Stream: sel.From, Table: &parser.TableRef{Name: "b"}, On: on[0].(*parser.Select).Where}, cols, cols, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	src := &memSource{shards: make([][]*types.Batch, 2), ch: make(chan struct{})}
	var hist [2][][]types.Datum
	for s := 0; s < 2; s++ {
		for i := 0; i < 40; i++ {
			b := types.NewBatch([]types.T{types.Text, types.TimestampTZ, types.Int8})
			for j := 0; j < 10; j++ {
				r := []types.Datum{types.NewText(fmt.Sprintf("k%d", rng.IntN(4))), types.NewInt(types.TimestampTZ, int64(i*10+j)*20_000+rng.Int64N(100_000)), types.NewInt(types.Int8, int64(rng.IntN(100)))}
				b.AppendRow(r)
				hist[s] = append(hist[s], r)
			}
			src.shards[s] = append(src.shards[s], b)
		}
	}
	want := map[string][2]int64{}
	for _, a := range hist[0] {
		for _, b := range hist[1] {
			if d := b[1].I - a[1].I; a[0].S == b[0].S && d >= 0 && d <= 1e6 {
				w := want[a[0].S]
				want[a[0].S] = [2]int64{w[0] + 1, w[1] + b[2].I}
			}
		}
	}
	sm := New([]byte("sj"), p, []uint64{0, 0}, nil)
	index, restarts := uint64(0), 0
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if o := sm.Offsets(); o[0] == 400 && o[1] == 400 {
			break
		}
		ctx, cancel := context.WithCancel(context.Background())
		propose := func(ctx context.Context, cmd []byte) (any, error) {
			index++
			wb := db.NewBatch()
			res := sm.Apply(wb, index, cmd)
			if err := wb.Commit(pebble.NoSync); err != nil {
				return nil, err
			}
			sm.Durable()
			if rng.IntN(3) == 0 {
				return nil, errors.New("leadership lost after the commit")
			}
			return res, nil
		}
		_ = RunTask(ctx, TaskConfig{SM: sm, Src: src, LeftShards: 1, Right: cols, Propose: propose, NumShards: 1, MaxEvents: 35})
		cancel()
		restarts++
	}
	if o := sm.Offsets(); o[0] != 400 || o[1] != 400 {
		t.Fatalf("offsets = %v", o)
	}
	if restarts < 5 {
		t.Fatalf("only %d restarts", restarts)
	}
	if len(want) < 4 {
		t.Fatalf("too few pairs to test: %v", want)
	}
	if got := rows(t, sm); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
