package streamsm

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairndb/cairn/internal/types"
)

func openMem(t *testing.T) *pebble.DB {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func batchOf(vals ...int64) []byte {
	b := types.NewBatch([]types.T{types.Int8, types.Text})
	for _, v := range vals {
		b.AppendRow([]types.Datum{types.NewInt(types.Int8, v), types.NewText("x")})
	}
	return types.AppendEncoded(nil, b)
}

// apply runs one command through a batch commit, as the raft loop does.
func apply(t *testing.T, db *pebble.DB, sm *SM, cmd []byte) any {
	wb := db.NewBatch()
	res := sm.Apply(wb, 1, cmd)
	if err := wb.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	sm.Durable()
	return res
}

func scanAll(t *testing.T, db *pebble.DB, prefix []byte, from uint64) []int64 {
	var got []int64
	if _, err := Scan(db, prefix, from, 0, func(start uint64, _ int64, b *types.Batch) error {
		got = append(got, b.Cols[0].I...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestAppendDedupeTrimReload(t *testing.T) {
	db := openMem(t)
	prefix := []byte("d\x00\x00\x00\x00\x00\x00\x00\x07")
	sm := New(7, prefix)
	if err := sm.Load(db); err != nil {
		t.Fatal(err)
	}
	id1, id2 := [BatchIDLen]byte{1}, [BatchIDLen]byte{2}
	r := apply(t, db, sm, EncodeAppend(nil, id1, 100, batchOf(1, 2, 3))).(AppendResult)
	if r.Start != 0 || r.End != 3 || r.Dup {
		t.Fatalf("first append = %+v", r)
	}
	// A retried batch (same id) is not appended again; the original offsets come back.
	r = apply(t, db, sm, EncodeAppend(nil, id1, 100, batchOf(1, 2, 3))).(AppendResult)
	if r.Start != 0 || r.End != 3 || !r.Dup {
		t.Fatalf("retried append = %+v", r)
	}
	r = apply(t, db, sm, EncodeAppend(nil, id2, 200, batchOf(4, 5))).(AppendResult)
	if r.Start != 3 || r.End != 5 {
		t.Fatalf("second append = %+v", r)
	}
	if got := scanAll(t, db, prefix, 0); len(got) != 5 || got[4] != 5 {
		t.Fatalf("scan = %v", got)
	}
	if end, _ := sm.End(); end != 5 {
		t.Fatalf("end = %d", end)
	}
	// Trim drops the first batch only.
	apply(t, db, sm, EncodeTrim(3))
	if got := scanAll(t, db, prefix, sm.First()); len(got) != 2 || got[0] != 4 {
		t.Fatalf("after trim: first %d, scan %v", sm.First(), got)
	}
	// Reload from the engine: same offsets, dedupe table kept.
	sm2 := New(7, prefix)
	if err := sm2.Load(db); err != nil {
		t.Fatal(err)
	}
	if end, _ := sm2.End(); end != 5 || sm2.First() != 3 {
		t.Fatalf("reloaded end %d first %d", end, sm2.First())
	}
	if r := apply(t, db, sm2, EncodeAppend(nil, id2, 200, batchOf(4, 5))).(AppendResult); !r.Dup || r.Start != 3 {
		t.Fatalf("retry after reload = %+v", r)
	}
	// Garbage is an error result, not a panic.
	if _, ok := sm2.Apply(db.NewBatch(), 9, []byte{'A', 1, 2}).(error); !ok {
		t.Fatal("short command accepted")
	}
	if _, ok := sm2.Apply(db.NewBatch(), 9, []byte{'Z'}).(error); !ok {
		t.Fatal("unknown op accepted")
	}
}
