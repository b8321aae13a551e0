package streamsm

import (
	"slices"
	"testing"

	"github.com/cairndb/cairn/internal/types"
)

// TestRestoreShard copies a trimmed shard's batches (with a target set)
// into a new shard as RESTORE does: set-base, then each stored batch
// re-appended with its batch id and mapped targets. Offsets, ids and
// events match; a retried append is a duplicate; set-base on a shard
// that holds events is refused.
func TestRestoreShard(t *testing.T) {
	db := openMem(t)
	src := newSM(t, 1, db, []byte("a"))
	for i := range 4 {
		var id [BatchIDLen]byte
		id[0] = byte(i + 1)
		var targets []uint64
		if i == 2 {
			targets = []uint64{7, 9}
		}
		apply(t, db, src, EncodeAppendTo(nil, id, int64(100+i), targets, batchOf(int64(10*i), int64(10*i+1))))
	}
	apply(t, db, src, EncodeTrim(2)) // the first batch is gone

	// Read the source's keys as a backup's SST holds them.
	it, _ := db.NewIter(nil)
	byStart := map[uint64][BatchIDLen]byte{}
	var starts []uint64
	values := map[uint64]StoredBatch{}
	var next, first uint64
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[1:]
		if id, start, ok := DedupeEntry(k, it.Value()); ok {
			byStart[start] = id
		}
		if nx, f, ok := MetaOffsets(k, it.Value()); ok {
			next, first = nx, f
		}
	}
	it.Close()
	if err := src.ScanStored(src.First(), func(start uint64, v StoredBatch) (bool, error) {
		starts = append(starts, start)
		values[start] = StoredBatch(slices.Clone(v))
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	if first != 2 || next != 8 || !slices.Equal(starts, []uint64{2, 4, 6}) {
		t.Fatalf("source: first %d next %d starts %v", first, next, starts)
	}

	dst := newSM(t, 2, db, []byte("b"))
	if res := apply(t, db, dst, EncodeSetBase(first)); res != (AppendResult{Start: 2, End: 2}) {
		t.Fatalf("set-base: %v", res)
	}
	mapID := func(id uint64) uint64 { return id + 100 }
	for _, s := range starts {
		cmd, err := EncodeRestoreAppend(byStart[s], values[s], mapID)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := values[s].Rows()
		if res := apply(t, db, dst, cmd).(AppendResult); res.Start != s || res.End != s+uint64(n) || res.Dup {
			t.Fatalf("append of %d: %v", s, res)
		}
		if s == 4 {
			if res := apply(t, db, dst, cmd).(AppendResult); !res.Dup || res.Start != 4 {
				t.Fatalf("retried append: %v", res)
			}
		}
	}
	if got, want := scanAll(t, dst, 2), scanAll(t, src, 2); !slices.Equal(got, want) {
		t.Fatalf("restored events %v, source %v", got, want)
	}
	if dst.First() != 2 {
		t.Fatalf("restored shard starts at %d", dst.First())
	}
	var targets []uint64
	if _, err := dst.Scan(4, 1, func(start uint64, ingest int64, tg Targets, _ *types.Batch) error {
		targets = tg.IDs()
		if ingest != 102 {
			t.Errorf("ingest time %d, want 102", ingest)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(targets, []uint64{107, 109}) {
		t.Fatalf("restored targets %v", targets)
	}
	if res := apply(t, db, dst, EncodeSetBase(2)); !isErr(res) {
		t.Fatalf("set-base on a shard with events: %v", res)
	}
}

func isErr(res any) bool {
	_, ok := res.(error)
	return ok
}
