package viewsm

import (
	"errors"
	"maps"
	"testing"
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
