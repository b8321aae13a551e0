package viewsm

import (
	"errors"
	"maps"
	"testing"

	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// TestLocalCaptureRestore: an owner's SM applies deltas in memory, a
// full capture followed by incremental ones, replayed onto a fresh SM
// in order, rebuilds the same rows and offsets; a stale delta is still
// refused.
func TestLocalCaptureRestore(t *testing.T) {
	p := plan(t)
	sm := New(nil, p, []uint64{0}, nil)
	if res := sm.ApplyLocal(EncodeDelta(nil, []uint64{0}, []uint64{3}, deltaOf(t, p, "a", 1, "b", 2, "a", 3))); res != nil {
		t.Fatal(res)
	}
	base := sm.Capture(true)
	if !base.Full || len(base.Rows) != 2 || string(base.Rows[0].Key) > string(base.Rows[1].Key) {
		t.Fatalf("base capture: %+v", base)
	}
	if res := sm.ApplyLocal(EncodeDelta(nil, []uint64{3}, []uint64{5}, deltaOf(t, p, "c", 5, "a", 1))); res != nil {
		t.Fatal(res)
	}
	if res := sm.ApplyLocal(EncodeDelta(nil, []uint64{3}, []uint64{9}, deltaOf(t, p, "z", 1))); !errors.Is(res.(error), ErrStale) {
		t.Fatalf("stale delta: %v", res)
	}
	d1 := sm.Capture(false)
	if d1.Full || len(d1.Rows) != 2 || string(d1.Rows[0].Key) > string(d1.Rows[1].Key) || d1.Offsets[0] != 5 {
		t.Fatalf("delta capture: %+v", d1)
	}
	if d2 := sm.Capture(false); len(d2.Rows) != 0 || len(d2.Deleted) != 0 || d2.Offsets[0] != 5 {
		t.Fatalf("an empty change set captured %+v", d2)
	}
	if offs, _ := sm.DurableOffsets(); offs[0] != 5 {
		t.Fatalf("durable offsets %v, want [5]", offs)
	}

	m := map[string][]byte{}
	for _, snap := range []*Snapshot{base, d1} {
		for _, r := range snap.Rows {
			m[string(r.Key)] = r.State
		}
		for _, k := range snap.Deleted {
			delete(m, string(k))
		}
	}
	fresh := New(nil, p, []uint64{0}, nil)
	if err := fresh.Restore(d1.Offsets, m, d1.Window); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int64{"a": {3, 5}, "b": {1, 2}, "c": {1, 5}}
	if got := rows(t, fresh); !maps.Equal(got, want) {
		t.Fatalf("restored rows %v, want %v", got, want)
	}
	if got := rows(t, sm); !maps.Equal(got, want) {
		t.Fatalf("owner rows %v, want %v", got, want)
	}
	// The restored SM folds on from the checkpoint's offsets.
	if res := fresh.ApplyLocal(EncodeDelta(nil, []uint64{5}, []uint64{6}, deltaOf(t, p, "b", 1))); res != nil {
		t.Fatal(res)
	}
	if got := rows(t, fresh)["b"]; got != [2]int64{2, 3} {
		t.Fatalf("b after restore and a delta: %v", got)
	}
	if err := fresh.Restore([]uint64{1, 2}, nil, nil); err == nil {
		t.Fatal("Restore took offsets for two shards on a one-shard view")
	}
}

// TestLocalWindowRoundTrip: a capture carries the window state (here a
// sliding window's expiry bookkeeping) and Restore brings it back, so
// the next owner expires rows as the last one would have.
func TestLocalWindowRoundTrip(t *testing.T) {
	stmts, _, err := parser.Parse(`SELECT k, count(*) FROM s WHERE ts > clock_timestamp() - interval '10 seconds' GROUP BY k`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := exec.PlanView(stmts[0].(*parser.Select), []exec.Column{{Name: "ts", T: types.TimestampTZ}, {Name: "k", T: types.Int8}})
	if err != nil {
		t.Fatal(err)
	}
	sm := New(nil, p, []uint64{0}, nil)
	now := int64(1_700_000_000_000_000)
	for i := range 3 {
		b := types.NewBatch([]types.T{types.TimestampTZ, types.Int8})
		b.AppendRow([]types.Datum{types.NewInt(types.TimestampTZ, now), types.NewInt(types.Int8, int64(i))})
		d := p.NewDelta()
		d.Now = now
		if err := p.Fold(&exec.Ctx{}, d, b, nil); err != nil {
			t.Fatal(err)
		}
		if res := sm.ApplyLocal(EncodeDelta(nil, []uint64{uint64(i)}, []uint64{uint64(i + 1)}, p.AppendDelta(nil, d))); res != nil {
			t.Fatal(res)
		}
		now += 3_000_000
	}
	w1, l1, e1, s1 := sm.Window()
	if e1 == 0 || s1 == 0 {
		t.Fatalf("no window state to carry: minExpiry %d lastSweep %d", e1, s1)
	}
	snap := sm.Capture(true)
	rows := map[string][]byte{}
	for _, r := range snap.Rows {
		rows[string(r.Key)] = r.State
	}
	fresh := New(nil, p, []uint64{0}, nil)
	if err := fresh.Restore(snap.Offsets, rows, snap.Window); err != nil {
		t.Fatal(err)
	}
	if w2, l2, e2, s2 := fresh.Window(); w2 != w1 || l2 != l1 || e2 != e1 || s2 != s1 {
		t.Fatalf("window after restore (%d %d %d %d), want (%d %d %d %d)", w2, l2, e2, s2, w1, l1, e1, s1)
	}
	if fresh.Len() != sm.Len() || fresh.Offsets()[0] != 3 {
		t.Fatalf("restored %d rows at %v, want %d at [3]", fresh.Len(), fresh.Offsets(), sm.Len())
	}
}
