package viewsm

import (
	"errors"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestRestore backs a view shard up as its data range's keys (with
// deltas still in its log), folds them with LoadState, and restores
// them into a new shard: the same rows and offsets, durable across a
// reload; a second apply of the same command succeeds, a restore into a
// shard holding state is refused.
func TestRestore(t *testing.T) {
	p := plan(t)
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	src := New([]byte("s"), p, []uint64{0, 0}, nil)
	applyCmd(t, db, src, EncodeDelta(nil, []uint64{0, 0}, []uint64{3, 1}, deltaOf(t, p, "a", 1, "b", 2, "a", 4, "c", 5)))
	applyCmd(t, db, src, EncodeDeltaCheckpoint(nil, []uint64{3, 1}, []uint64{4, 2}, deltaOf(t, p, "b", 10, "d", 1)))
	applyCmd(t, db, src, EncodeDelta(nil, []uint64{4, 2}, []uint64{5, 2}, deltaOf(t, p, "a", 100))) // logged, not folded
	want := rows(t, src)

	// The shard's keys without its prefix, as a backup's SST holds them.
	var kvs [][2][]byte
	it, _ := db.NewIter(&pebble.IterOptions{LowerBound: []byte("s"), UpperBound: []byte("t")})
	for it.First(); it.Valid(); it.Next() {
		kvs = append(kvs, [2][]byte{slices.Clone(it.Key()[1:]), slices.Clone(it.Value())})
	}
	it.Close()
	st, err := LoadState(p, []uint64{0, 0}, func(fn func(k, v []byte) error) error {
		for _, kv := range kvs {
			if err := fn(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(st.Offsets, []uint64{5, 2}) || len(st.Rows) != 4 {
		t.Fatalf("state: offsets %v, %d rows", st.Offsets, len(st.Rows))
	}

	dst := New([]byte("n"), p, []uint64{0, 0}, nil)
	cmd := EncodeRestore(st)
	if res := applyCmd(t, db, dst, cmd); res != (Restored{Rows: 4}) {
		t.Fatalf("restore: %v", res)
	}
	if got := rows(t, dst); !mapsEqual(got, want) || !slices.Equal(dst.Offsets(), []uint64{5, 2}) {
		t.Fatalf("restored %v at %v, want %v at [5 2]", got, dst.Offsets(), want)
	}
	if res := applyCmd(t, db, dst, cmd); res != (Restored{Rows: 4}) {
		t.Fatalf("the same restore again: %v", res)
	}
	// The next delta applies on top, and a reload reads it all back.
	applyCmd(t, db, dst, EncodeDelta(nil, []uint64{5, 2}, []uint64{6, 2}, deltaOf(t, p, "e", 7)))
	re := New([]byte("n"), p, []uint64{0, 0}, nil)
	if err := re.Load(db); err != nil {
		t.Fatal(err)
	}
	want["e"] = [2]int64{1, 7}
	if got := rows(t, re); !mapsEqual(got, want) || !slices.Equal(re.Offsets(), []uint64{6, 2}) {
		t.Fatalf("reloaded %v at %v, want %v", got, re.Offsets(), want)
	}
	if res := applyCmd(t, db, re, cmd); !errors.Is(res.(error), ErrNotFresh) {
		t.Fatalf("restore into a shard with state: %v", res)
	}
	if res := applyCmd(t, db, New([]byte("x"), p, []uint64{0, 0}, nil), cmd[:len(cmd)-3]); res == nil {
		t.Fatal("a truncated restore command applied")
	}
}

func mapsEqual(a, b map[string][2]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
