package viewsm

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/types"
)

// memSource is a stream of fixed batches in memory.
type memSource struct {
	shards  [][]*types.Batch // per shard, batches in offset order
	targets map[*types.Batch]streamsm.Targets
	ch      chan struct{}
}

func (m *memSource) Shards() int { return len(m.shards) }

func (m *memSource) End(s int) (uint64, <-chan struct{}) {
	n := uint64(0)
	for _, b := range m.shards[s] {
		n += uint64(b.N)
	}
	return n, m.ch
}

func (m *memSource) Scan(s int, from uint64, max int, fn func(uint64, int64, streamsm.Targets, *types.Batch) error) (uint64, error) {
	off, read := uint64(0), 0
	for _, b := range m.shards[s] {
		if off >= from {
			if err := fn(off, 0, m.targets[b], b); err != nil {
				return off, err
			}
			read += b.N
		}
		off += uint64(b.N)
		if off > from && max > 0 && read >= max {
			return off, nil
		}
	}
	return off, nil
}

// TestConcurrentTasksFoldOnce runs two view tasks at once on one state
// machine (an old and a new leader racing): offsets checking must make
// every event count exactly once.
func TestConcurrentTasksFoldOnce(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := plan(t)
	src := &memSource{shards: make([][]*types.Batch, 2), ch: make(chan struct{})}
	want := map[string][2]int64{}
	for s := 0; s < 2; s++ {
		for i := 0; i < 50; i++ {
			b := types.NewBatch([]types.T{types.Text, types.Int8})
			for j := 0; j < 20; j++ {
				k := string(rune('a' + (i+j)%5))
				v := int64(i*j + s)
				b.AppendRow([]types.Datum{types.NewText(k), types.NewInt(types.Int8, v)})
				w := want[k]
				want[k] = [2]int64{w[0] + 1, w[1] + v}
			}
			src.shards[s] = append(src.shards[s], b)
		}
	}
	sm := New([]byte("view"), p, []uint64{0, 0}, nil)
	var mu sync.Mutex // raft applies one entry at a time
	propose := func(ctx context.Context, cmd []byte) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		time.Sleep(time.Millisecond) // let the other task compute a delta from the same offsets
		wb := db.NewBatch()
		res := sm.Apply(wb, 1, cmd)
		if err := wb.Commit(pebble.NoSync); err != nil {
			return nil, err
		}
		sm.Durable()
		return res, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = RunTask(ctx, TaskConfig{SM: sm, Src: src, Propose: propose, NumShards: 1, MaxEvents: 100})
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if o := sm.Offsets(); o[0] == 1000 && o[1] == 1000 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	if o := sm.Offsets(); o[0] != 1000 || o[1] != 1000 {
		t.Fatalf("offsets = %v, want [1000 1000]", o)
	}
	got := rows(t, sm)
	for k, w := range want {
		if got[k] != w {
			t.Fatalf("key %s = %v, want %v (all: %v)", k, got[k], w, got)
		}
	}
}

// TestTaskSkipsBatchesAimedElsewhere: batches with a target set
// (pipelinedb.stream_targets) are folded only by the views they name;
// the others move their offsets past them, so every view ends at the
// stream's end with exactly the events meant for it.
func TestTaskSkipsBatchesAimedElsewhere(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := plan(t)
	src := &memSource{shards: make([][]*types.Batch, 1), targets: map[*types.Batch]streamsm.Targets{}, ch: make(chan struct{})}
	aims := [][]uint64{nil, {5}, {6}, {5, 6}, {9}}
	want := map[uint64]map[string][2]int64{5: {}, 6: {}}
	for i := 0; i < 40; i++ {
		b := types.NewBatch([]types.T{types.Text, types.Int8})
		b.AppendRow([]types.Datum{types.NewText("k"), types.NewInt(types.Int8, int64(i))})
		aim := aims[i%len(aims)]
		src.targets[b] = streamsm.EncodeTargets(aim)
		src.shards[0] = append(src.shards[0], b)
		for id, w := range want {
			if aim == nil || slices.Contains(aim, id) {
				w["k"] = [2]int64{w["k"][0] + 1, w["k"][1] + int64(i)}
			}
		}
	}
	for id, w := range want {
		sm := New([]byte{'v', byte(id)}, p, []uint64{0}, nil)
		propose := func(ctx context.Context, cmd []byte) (any, error) {
			wb := db.NewBatch()
			res := sm.Apply(wb, 1, cmd)
			if err := wb.Commit(pebble.NoSync); err != nil {
				return nil, err
			}
			sm.Durable()
			return res, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = RunTask(ctx, TaskConfig{SM: sm, ViewID: id, Src: src, Propose: propose, NumShards: 1, MaxEvents: 7})
		}()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && sm.Offsets()[0] != 40 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
		if o := sm.Offsets(); o[0] != 40 {
			t.Fatalf("view %d: offsets = %v, want [40]", id, o)
		}
		if got := rows(t, sm); got["k"] != w["k"] {
			t.Fatalf("view %d: k = %v, want %v", id, got["k"], w["k"])
		}
	}
}

// TestCheckpointInterval: with a checkpoint interval the task's deltas
// ask the view shard to fold its delta log into its rows, so the log
// stays empty; without one, fewer than checkpointEvery deltas stay
// logged. The rows are the same either way, also after a reload.
func TestCheckpointInterval(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := plan(t)
	src := &memSource{shards: make([][]*types.Batch, 1), ch: make(chan struct{})}
	for i := 0; i < 30; i++ {
		b := types.NewBatch([]types.T{types.Text, types.Int8})
		b.AppendRow([]types.Datum{types.NewText(string(rune('a' + i%3))), types.NewInt(types.Int8, int64(i))})
		src.shards[0] = append(src.shards[0], b)
	}
	logged := func(prefix []byte) int {
		lo := append(slices.Clone(prefix), 'l')
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: append(slices.Clone(prefix), 'm')})
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		n := 0
		for it.First(); it.Valid(); it.Next() {
			n++
		}
		return n
	}
	var first map[string][2]int64
	for _, interval := range []time.Duration{0, time.Nanosecond} {
		prefix := []byte{'c', byte(interval)}
		sm := New(prefix, p, []uint64{0}, nil)
		index := uint64(0)
		propose := func(ctx context.Context, cmd []byte) (any, error) {
			index++
			wb := db.NewBatch()
			res := sm.Apply(wb, index, cmd)
			if err := wb.Commit(pebble.NoSync); err != nil {
				return nil, err
			}
			sm.Durable()
			return res, nil
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = RunTask(ctx, TaskConfig{SM: sm, Src: src, Propose: propose, NumShards: 1, MaxEvents: 3, CheckpointInterval: interval})
		}()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) && sm.Offsets()[0] != 30 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		<-done
		n := logged(prefix)
		if interval == 0 && (n == 0 || index >= checkpointEvery) {
			t.Fatalf("no interval: %d deltas logged of %d applied", n, index)
		}
		if interval > 0 && n != 0 {
			t.Fatalf("interval %v: %d deltas still logged after %d applied", interval, n, index)
		}
		again := New(prefix, p, []uint64{0}, nil)
		if err := again.Load(db); err != nil {
			t.Fatal(err)
		}
		got := rows(t, again)
		if got["a"] != [2]int64{10, 135} || got["c"] != [2]int64{10, 155} {
			t.Fatalf("interval %v: rows %v", interval, got)
		}
		if first == nil {
			first = got
		} else if !maps.Equal(got, first) {
			t.Fatalf("rows with interval %v: %v, without: %v", interval, got, first)
		}
	}
}
