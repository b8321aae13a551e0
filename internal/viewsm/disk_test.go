package viewsm

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// fakeLoop applies commands the way the raft loop does: several applies
// into one (unindexed) batch, commit, then Durable.
type fakeLoop struct {
	t     *testing.T
	db    *pebble.DB
	sm    *SM
	index uint64
	// between, if set, runs after the applies and after the commit (the
	// windows in which readers must still see the applied state).
	between func(stage string)
}

func (l *fakeLoop) apply(cmds ...[]byte) []any {
	l.t.Helper()
	wb := l.db.NewBatch()
	var res []any
	for _, cmd := range cmds {
		l.index++
		res = append(res, l.sm.Apply(wb, l.index, cmd))
	}
	if l.between != nil {
		l.between("applied")
	}
	if err := wb.Commit(pebble.NoSync); err != nil {
		l.t.Fatal(err)
	}
	if l.between != nil {
		l.between("committed")
	}
	l.sm.Durable()
	return res
}

func memDB(t *testing.T) *pebble.DB {
	t.Helper()
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func diskSM(t *testing.T, db *pebble.DB, prefix string, p *exec.ViewPlan, cache *Cache) *SM {
	t.Helper()
	sm := New([]byte(prefix), p, []uint64{0}, nil)
	sm.SetStorage(db, cache)
	if err := sm.Load(db); err != nil {
		t.Fatal(err)
	}
	return sm
}

func planOf(t *testing.T, sql string, cols ...exec.Column) *exec.ViewPlan {
	t.Helper()
	stmts, _, err := parser.Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	p, err := exec.PlanView(stmts[0].(*parser.Select), cols)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDiskViewLargerThanCache folds 3,000 groups through a 64 KiB cache
// (a small fraction of the rows) and checks full scans and point
// lookups against counts computed here, before and after a reload, and
// that memory stays bounded: the cache within its budget, the changed
// rows within the checkpoint limit.
func TestDiskViewLargerThanCache(t *testing.T) {
	db := memDB(t)
	p := plan(t)
	cache := NewCache(64 << 10)
	sm := diskSM(t, db, "view-big", p, cache)
	l := &fakeLoop{t: t, db: db, sm: sm}
	rng := rand.New(rand.NewPCG(7, 8))
	const groups = 3000
	want := map[string][2]int64{}
	off := uint64(0)
	check := func(sm *SM, what string) {
		t.Helper()
		got := rows(t, sm)
		if len(got) != len(want) {
			t.Fatalf("%s: %d rows, want %d", what, len(got), len(want))
		}
		for k, w := range want {
			if got[k] != w {
				t.Fatalf("%s: row %s = %v, want %v", what, k, got[k], w)
			}
		}
		for range 200 {
			k := "k" + strconv.Itoa(rng.IntN(groups+100)) // some keys never written
			enc, err := p.EncodeKey(nil, []types.Datum{types.NewText(k)})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			err = sm.Lookup(enc, func(state []byte) error {
				found = true
				row, err := p.Finalize(&exec.Ctx{}, enc, state, nil)
				if err != nil {
					return err
				}
				total, _ := strconv.ParseInt(row[2].S, 10, 64)
				if w := want[k]; row[1].I != w[0] || total != w[1] {
					return fmt.Errorf("lookup %s = (%d, %d), want %v", k, row[1].I, total, w)
				}
				return nil
			})
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if _, ok := want[k]; found != ok {
				t.Fatalf("%s: lookup %s found %v, want %v", what, k, found, ok)
			}
		}
	}
	for round := range 60 {
		var cmds [][]byte
		for range 1 + rng.IntN(3) {
			var kv []any
			for range 150 {
				k := "k" + strconv.Itoa(rng.IntN(groups))
				v := rng.IntN(1000)
				kv = append(kv, k, v)
				w := want[k]
				want[k] = [2]int64{w[0] + 1, w[1] + int64(v)}
			}
			enc := deltaOf(t, p, kv...)
			if rng.IntN(10) == 0 {
				cmds = append(cmds, EncodeDeltaCheckpoint(nil, []uint64{off}, []uint64{off + 1}, enc))
			} else {
				cmds = append(cmds, EncodeDelta(nil, []uint64{off}, []uint64{off + 1}, enc))
			}
			off++
		}
		for i, res := range l.apply(cmds...) {
			if res != nil {
				t.Fatalf("round %d delta %d: %v", round, i, res)
			}
		}
		if b, _, _ := cache.Stats(); b > cache.Budget() {
			t.Fatalf("cache holds %d bytes, budget %d", b, cache.Budget())
		}
		if tb := sm.mu.tab.bytes; tb > sm.dirtyLimit+150*(rowOverhead+64) {
			t.Fatalf("changed rows hold %d bytes, limit %d", tb, sm.dirtyLimit)
		}
		if round%30 == 29 {
			check(sm, fmt.Sprintf("round %d", round))
			re := diskSM(t, db, "view-big", p, cache)
			check(re, fmt.Sprintf("round %d reloaded", round))
			if !slices.Equal(re.Offsets(), []uint64{off}) {
				t.Fatalf("reloaded offsets %v, want [%d]", re.Offsets(), off)
			}
		}
	}
	if len(want) < groups*9/10 {
		t.Fatalf("only %d groups written", len(want))
	}
	_, hits, misses := cache.Stats()
	if misses == 0 || hits == 0 {
		t.Fatalf("cache hits %d misses %d: the engine was never read or the cache never used", hits, misses)
	}
}

// TestDiskMatchesMemory applies the same deltas of a sliding-window
// view (rows expire: the sweep iterates the engine), a tumble() view and
// a sketch aggregate to an SM on disk with a tiny cache and to one in
// memory (the old representation), and compares them and a reload after
// every batch.
func TestDiskMatchesMemory(t *testing.T) {
	cols := []exec.Column{{Name: "ts", T: types.TimestampTZ}, {Name: "k", T: types.Int8}, {Name: "v", T: types.Int8}}
	for _, tc := range []struct{ name, sql string }{
		{"sliding", `SELECT k, count(*), sum(v) FROM s WHERE ts > clock_timestamp() - interval '10 seconds' GROUP BY k`},
		{"tumble", `SELECT window_start, k, count(*), max(v) FROM tumble(s, ts, interval '2 seconds') GROUP BY window_start, k`},
		{"sketch", `SELECT k % 50 AS g, approx_count_distinct(v), hll_agg(v), percentile_cont(0.9) WITHIN GROUP (ORDER BY v) FROM s GROUP BY g`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planOf(t, tc.sql, cols...)
			db := memDB(t)
			cache := NewCache(16 << 10)
			disk := diskSM(t, db, "v-"+tc.name, p, cache)
			mem := New(nil, p, []uint64{0}, nil)
			l := &fakeLoop{t: t, db: db, sm: disk}
			rng := rand.New(rand.NewPCG(1, 9))
			const sec = int64(1_000_000)
			now := int64(1_700_000_000) * sec
			off := uint64(0)
			for round := range 40 {
				var cmds [][]byte
				for range 1 + rng.IntN(2) {
					b := types.NewBatch([]types.T{types.TimestampTZ, types.Int8, types.Int8})
					for range 25 {
						ts := now - rng.Int64N(3*sec)
						b.AppendRow([]types.Datum{types.NewInt(types.TimestampTZ, ts), types.NewInt(types.Int8, rng.Int64N(200)), types.NewInt(types.Int8, rng.Int64N(100000))})
					}
					d := p.NewDelta()
					d.Now = now
					if err := p.Fold(&exec.Ctx{}, d, b, nil); err != nil {
						t.Fatal(err)
					}
					enc := p.AppendDelta(nil, d)
					cmd := EncodeDelta(nil, []uint64{off}, []uint64{off + 1}, enc)
					if rng.IntN(8) == 0 {
						cmd = EncodeDeltaCheckpoint(nil, []uint64{off}, []uint64{off + 1}, enc)
					}
					cmds = append(cmds, cmd)
					if res := mem.ApplyLocal(cmd); res != nil {
						t.Fatal(res)
					}
					off++
					now += 700_000
				}
				for _, res := range l.apply(cmds...) {
					if res != nil {
						t.Fatal(res)
					}
				}
				want := sortedDump(t, mem)
				if got := sortedDump(t, disk); got != want {
					t.Fatalf("round %d: on disk\n%.300s\nin memory\n%.300s", round, got, want)
				}
				if round%10 == 9 {
					re := diskSM(t, db, "v-"+tc.name, p, cache)
					if got := sortedDump(t, re); got != want {
						t.Fatalf("round %d reloaded:\n%.300s\nwant\n%.300s", round, got, want)
					}
				}
				// Point lookups agree with the scan for some keys.
				n := 0
				err := mem.Rows(func(key, state []byte) error {
					if n++; n%7 != 0 {
						return nil
					}
					var got []byte
					if err := disk.Lookup(key, func(st []byte) error { got = slices.Clone(st); return nil }); err != nil {
						return err
					}
					if !bytes.Equal(got, state) {
						return fmt.Errorf("lookup %x = %x, want %x", key, got, state)
					}
					return nil
				})
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
			if disk.Len() == 0 {
				t.Fatal("no rows")
			}
		})
	}
}

func sortedDump(t *testing.T, sm *SM) string {
	t.Helper()
	var rs []Row
	if err := sm.Rows(func(key, state []byte) error {
		rs = append(rs, Row{Key: slices.Clone(key), State: slices.Clone(state)})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(rs, func(a, b Row) int { return bytes.Compare(a.Key, b.Key) })
	var buf bytes.Buffer
	for _, r := range rs {
		fmt.Fprintf(&buf, "%x=%x\n", r.Key, r.State)
	}
	w, l, e, s := sm.Window()
	fmt.Fprintf(&buf, "window %d %d %d %d offsets %v", w, l, e, s, sm.Offsets())
	return buf.String()
}

// TestReaderDuringCheckpoint checks the windows a checkpoint opens: the
// rows it wrote are in the batch but not the engine (applied), in the
// engine but still held in memory (committed, before Durable), and
// after. At each, scans and lookups see the applied state, never the
// older one the engine held.
func TestReaderDuringCheckpoint(t *testing.T) {
	db := memDB(t)
	p := plan(t)
	sm := diskSM(t, db, "view-cp", p, NewCache(64<<10))
	l := &fakeLoop{t: t, db: db, sm: sm}
	keys := []string{"a", "b", "c"}
	off := uint64(0)
	step := func(ckpt bool) []byte {
		var kv []any
		for _, k := range keys {
			kv = append(kv, k, 1)
		}
		enc := deltaOf(t, p, kv...)
		defer func() { off++ }()
		if ckpt {
			return EncodeDeltaCheckpoint(nil, []uint64{off}, []uint64{off + 1}, enc)
		}
		return EncodeDelta(nil, []uint64{off}, []uint64{off + 1}, enc)
	}
	expect := func(stage string, n int64) {
		t.Helper()
		got := rows(t, sm)
		for _, k := range keys {
			if got[k] != [2]int64{n, n} {
				t.Fatalf("%s: scan %s = %v, want count %d", stage, k, got[k], n)
			}
			enc, _ := p.EncodeKey(nil, []types.Datum{types.NewText(k)})
			var c int64 = -1
			if err := sm.Lookup(enc, func(st []byte) error {
				row, err := p.Finalize(&exec.Ctx{}, enc, st, nil)
				c = row[1].I
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if c != n {
				t.Fatalf("%s: lookup %s count %d, want %d", stage, k, c, n)
			}
		}
	}
	applied := int64(0)
	l.between = func(stage string) { expect(stage, applied) }
	for i := range 6 {
		// Two checkpoints in one batch, then one delta more.
		applied += 3
		l.apply(step(true), step(false), step(true))
		expect(fmt.Sprintf("batch %d durable", i), applied)
		applied++
		l.apply(step(false))
	}
	// A row the cache holds goes stale never: the cache gets the
	// checkpointed value at Durable.
	expect("end", applied)
}

// TestReadersNeverSeeOlderRows runs readers against a loop that applies
// deltas adding 1 to each of 200 groups, checkpointing often through a
// tiny cache: a scan sees every group at one count (a consistent cut) no
// lower than the deltas applied before it started, and a point lookup
// never returns fewer than that either.
func TestReadersNeverSeeOlderRows(t *testing.T) {
	db := memDB(t)
	p := plan(t)
	sm := diskSM(t, db, "view-race", p, NewCache(16<<10))
	const groups = 200
	var kv []any
	encs := make([][]byte, groups)
	for i := range groups {
		k := "g" + strconv.Itoa(i)
		kv = append(kv, k, 1)
		encs[i], _ = p.EncodeKey(nil, []types.Datum{types.NewText(k)})
	}
	enc := deltaOf(t, p, kv...)
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	count := func(key, st []byte) (int64, error) {
		row, err := p.Finalize(&exec.Ctx{}, key, st, nil)
		if err != nil {
			return 0, err
		}
		return row[1].I, nil
	}
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 5))
			for !stop.Load() {
				time.Sleep(50 * time.Microsecond) // leave the loop some CPU
				floor := int64(sm.Offsets()[0])
				if r == 0 {
					seen, n := int64(-1), 0
					err := sm.Rows(func(key, st []byte) error {
						c, err := count(key, st)
						if err != nil {
							return err
						}
						if seen >= 0 && c != seen {
							return fmt.Errorf("scan saw counts %d and %d: not one state", seen, c)
						}
						seen = c
						n++
						return nil
					})
					if err == nil && n > 0 && (seen < floor || n != groups) {
						err = fmt.Errorf("scan: %d groups at count %d, %d deltas applied before it", n, seen, floor)
					}
					if err != nil {
						errs <- err
						return
					}
					continue
				}
				k := encs[rng.IntN(groups)]
				err := sm.Lookup(k, func(st []byte) error {
					c, err := count(k, st)
					if err == nil && c < floor {
						err = fmt.Errorf("lookup: count %d, %d deltas applied before it", c, floor)
					}
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	l := &fakeLoop{t: t, db: db, sm: sm, between: func(string) { runtime.Gosched() }}
	deadline := time.Now().Add(3 * time.Second)
	off := uint64(0)
	for i := 0; i < 400 && time.Now().Before(deadline); i++ {
		var cmds [][]byte
		for j := range 1 + i%2 {
			if (i+j)%5 == 0 {
				cmds = append(cmds, EncodeDeltaCheckpoint(nil, []uint64{off}, []uint64{off + 1}, enc))
			} else {
				cmds = append(cmds, EncodeDelta(nil, []uint64{off}, []uint64{off + 1}, enc))
			}
			off++
		}
		for _, res := range l.apply(cmds...) {
			if res != nil {
				t.Fatal(res)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if off < 20 {
		t.Fatalf("only %d deltas applied", off)
	}
}

// TestReadWaitsForLoad: after a snapshot lands in the engine and before
// Load rebuilds memory, a scan would mix the new rows with the old
// changed ones; it waits for Load instead and then sees the new state.
func TestReadWaitsForLoad(t *testing.T) {
	db := memDB(t)
	p := plan(t)
	sm := diskSM(t, db, "view-snap", p, nil)
	l := &fakeLoop{t: t, db: db, sm: sm}
	l.apply(EncodeDelta(nil, []uint64{0}, []uint64{1}, deltaOf(t, p, "a", 1, "b", 1)))
	// Another replica's state, as a snapshot would write it: further on,
	// with "a" at 5 and "c" new.
	other := memDB(t)
	o := diskSM(t, other, "view-snap", p, nil)
	ol := &fakeLoop{t: t, db: other, sm: o}
	ol.apply(EncodeDeltaCheckpoint(nil, []uint64{0}, []uint64{4}, deltaOf(t, p, "a", 5, "c", 2)))
	b := db.NewBatch()
	if err := b.DeleteRange([]byte("view-snap"), []byte("view-snaq"), nil); err != nil {
		t.Fatal(err)
	}
	it, _ := other.NewIter(&pebble.IterOptions{LowerBound: []byte("view-snap"), UpperBound: []byte("view-snaq")})
	for it.First(); it.Valid(); it.Next() {
		_ = b.Set(it.Key(), it.Value(), nil)
	}
	it.Close()
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	done := make(chan map[string][2]int64, 1)
	go func() { done <- rows(t, sm) }()
	select {
	case got := <-done:
		t.Fatalf("scan returned %v before Load", got)
	case <-time.After(50 * time.Millisecond):
	}
	if err := sm.Load(db); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if want := map[string][2]int64{"a": {1, 5}, "c": {1, 2}}; !mapsEqual(got, want) {
			t.Fatalf("scan after Load = %v, want %v", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("scan still waiting after Load")
	}
}

// TestCacheBudget: the cache keeps within its budget, evicts rows not
// read since the hand passed before those read, and forgets dropped rows.
func TestCacheBudget(t *testing.T) {
	c := NewCache(16 * 1024)
	val := bytes.Repeat([]byte{'x'}, 100)
	for i := range 1000 {
		c.put(1, "k"+strconv.Itoa(i), val)
		if b, _, _ := c.Stats(); b > c.Budget() {
			t.Fatalf("after %d puts: %d bytes, budget %d", i+1, b, c.Budget())
		}
	}
	held := 0
	for i := range 1000 {
		if _, ok := c.get(1, []byte("k"+strconv.Itoa(i))); ok {
			held++
		}
	}
	if held == 0 || held > 16*1024/(100+cacheOverhead) {
		t.Fatalf("%d rows held", held)
	}
	// Keep reading one row while others stream through: it stays.
	c.put(1, "hot", val)
	for i := range 2000 {
		if _, ok := c.get(1, []byte("hot")); !ok {
			t.Fatalf("hot row evicted after %d puts", i)
		}
		c.put(1, "cold"+strconv.Itoa(i), val)
	}
	c.del(1, "hot")
	if _, ok := c.get(1, []byte("hot")); ok {
		t.Fatal("dropped row still cached")
	}
	if _, ok := c.get(2, []byte("cold1999")); ok {
		t.Fatal("a row cached under another id was found")
	}
	var nilCache *Cache
	nilCache.put(1, "a", val)
	if _, ok := nilCache.get(1, []byte("a")); ok {
		t.Fatal("nil cache cached")
	}
}
