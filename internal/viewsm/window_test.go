package viewsm

import (
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// TestSlidingWindowStateBounded applies deltas of a sliding-window view
// over a long stretch of time and checks that the stored buckets stay
// bounded by window/step per group (memory and Pebble), that a replica
// reloaded at any point holds the same rows, and that a tick (an empty
// delta) drops what has expired with no new events.
func TestSlidingWindowStateBounded(t *testing.T) {
	stmts, _, err := parser.Parse(`SELECT k, count(*) FROM s WHERE ts > clock_timestamp() - interval '10 seconds' GROUP BY k`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := exec.PlanView(stmts[0].(*parser.Select), []exec.Column{{Name: "ts", T: types.TimestampTZ}, {Name: "k", T: types.Int8}})
	if err != nil {
		t.Fatal(err)
	}
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	prefix := []byte("view-sw")
	sm := New(prefix, p, []uint64{0}, nil)
	if err := sm.Load(db); err != nil {
		t.Fatal(err)
	}
	const sec = int64(1_000_000)
	start := int64(1_700_000_000) * sec
	// One event per key per 100 ms for 60 s: 600 ticks, 3 keys. The step
	// is 5% of 10 s = 500 ms, so at most 20 (+1 partial) live buckets per key.
	const keys, every = 3, 100_000
	now := start
	for i := 0; i < 600; i++ {
		now = start + int64(i)*every
		b := types.NewBatch([]types.T{types.TimestampTZ, types.Int8})
		for k := 0; k < keys; k++ {
			b.AppendRow([]types.Datum{types.NewInt(types.TimestampTZ, now), types.NewInt(types.Int8, int64(k))})
		}
		d := p.NewDelta()
		d.Now = now
		if err := p.Fold(&exec.Ctx{}, d, b, nil); err != nil {
			t.Fatal(err)
		}
		cmd := EncodeDelta(nil, []uint64{uint64(i)}, []uint64{uint64(i + 1)}, p.AppendDelta(nil, d))
		if res := applyCmd(t, db, sm, cmd); res != nil {
			t.Fatalf("delta %d: %v", i, res)
		}
		if n := countRows(t, sm); n > keys*22 {
			t.Fatalf("after %d deltas: %d stored buckets, want <= %d", i, n, keys*22)
		}
		if i%97 == 0 {
			re := New(prefix, p, []uint64{0}, nil)
			if err := re.Load(db); err != nil {
				t.Fatal(err)
			}
			if a, b := dump(t, sm), dump(t, re); a != b {
				t.Fatalf("after %d deltas the reloaded state differs:\n%s\nvs\n%s", i, a, b)
			}
		}
	}
	if _, _, minExp, _ := sm.Window(); minExp == 0 || minExp > now+10*sec {
		t.Fatalf("MinExpiry = %d, want within the window after %d", minExp, now)
	}
	// No events for 30 s: one tick at the new time drops everything.
	d := p.NewDelta()
	d.Now = now + 30*sec
	cmd := EncodeDelta(nil, []uint64{600}, []uint64{600}, p.AppendDelta(nil, d))
	if res := applyCmd(t, db, sm, cmd); res != nil {
		t.Fatal(res)
	}
	if n := countRows(t, sm); n != 0 {
		t.Fatalf("after the tick: %d rows, want 0", n)
	}
	// Force a checkpoint so the deletions reach Pebble, then count keys.
	for i := 0; i < checkpointEvery; i++ {
		d := p.NewDelta()
		d.Now = now + 30*sec
		cmd := EncodeDelta(nil, []uint64{600}, []uint64{600}, p.AppendDelta(nil, d))
		if res := applyCmd(t, db, sm, cmd); res != nil {
			t.Fatal(res)
		}
	}
	re := New(prefix, p, []uint64{0}, nil)
	if err := re.Load(db); err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, re); n != 0 {
		t.Fatalf("reloaded after expiry: %d rows", n)
	}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: sm.rowKey(nil), UpperBound: append([]byte(string(prefix)), 's')})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	it.Close()
	if n != 0 {
		t.Fatalf("%d expired rows left in Pebble", n)
	}
}

func countRows(t *testing.T, sm *SM) int {
	n := 0
	if err := sm.Rows(func(key, state []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func dump(t *testing.T, sm *SM) string {
	m := map[string]string{}
	if err := sm.Rows(func(key, state []byte) error { m[string(key)] = fmt.Sprintf("%x", state); return nil }); err != nil {
		t.Fatal(err)
	}
	w, l, e, s := sm.Window()
	return fmt.Sprint(m, w, l, e, s)
}
