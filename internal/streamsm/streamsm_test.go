package streamsm

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairndb/cairn/internal/types"
)

// memFS is the file system of each test engine (SSTs to ingest are
// written there).
var memFS sync.Map // *pebble.DB -> vfs.FS

func openMem(t *testing.T) *pebble.DB {
	fs := vfs.NewMem()
	db, err := pebble.Open("", &pebble.Options{FS: fs, FormatMajorVersion: pebble.FormatVirtualSSTables})
	if err != nil {
		t.Fatal(err)
	}
	memFS.Store(db, fs)
	t.Cleanup(func() { memFS.Delete(db); db.Close() })
	return db
}

// testSegments writes a shard's batches into db under "~"+prefix as the
// raft store does (SST ingestion, excise), without a raft log.
func testSegments(db *pebble.DB, prefix []byte) Segments {
	var n atomic.Int64
	return Segments{
		Prefix: append([]byte("~"), prefix...),
		DB:     db,
		Ingest: func(fill func(add func(k, v []byte) error) error) error {
			v, _ := memFS.Load(db)
			fs := v.(vfs.FS)
			name := fmt.Sprintf("ingest-%s-%d.sst", prefix, n.Add(1))
			f, err := fs.Create(name, vfs.WriteCategoryUnspecified)
			if err != nil {
				return err
			}
			w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), sstable.WriterOptions{TableFormat: db.TableFormat()})
			if err := fill(w.Set); err != nil {
				return err
			}
			if err := w.Close(); err != nil {
				return err
			}
			return db.Ingest(context.Background(), []string{name})
		},
		Excise: func(start, end []byte) error {
			return db.Excise(context.Background(), pebble.KeyRange{Start: start, End: end})
		},
	}
}

func newSM(t *testing.T, gid uint64, db *pebble.DB, prefix []byte) *SM {
	sm := New(gid, prefix, testSegments(db, prefix))
	t.Cleanup(sm.Close) // before the engine closes
	return sm
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

func scanAll(t *testing.T, sm *SM, from uint64) []int64 {
	var got []int64
	if _, err := sm.Scan(from, 0, func(start uint64, _ int64, _ Targets, b *types.Batch) error {
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
	sm := newSM(t, 7, db, prefix)
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
	if got := scanAll(t, sm, 0); len(got) != 5 || got[4] != 5 {
		t.Fatalf("scan = %v", got)
	}
	if end, _ := sm.End(); end != 5 {
		t.Fatalf("end = %d", end)
	}
	// Trim drops the first batch only.
	apply(t, db, sm, EncodeTrim(3))
	if got := scanAll(t, sm, sm.First()); len(got) != 2 || got[0] != 4 {
		t.Fatalf("after trim: first %d, scan %v", sm.First(), got)
	}
	// Reload from the engine: same offsets, dedupe table kept. Without a
	// raft log to rebuild it from, the tail must be written out first.
	if err := sm.Flush(); err != nil {
		t.Fatal(err)
	}
	sm2 := newSM(t, 7, db, prefix)
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

// TestTargetedBatches: a batch appended with a target set keeps it in the
// log, next to untargeted ones; Scan hands each batch its set with the
// true ingest time, and ScanHeaders counts its rows past the set.
func TestTargetedBatches(t *testing.T) {
	db := openMem(t)
	prefix := []byte("d\x00\x00\x00\x00\x00\x00\x00\x08")
	sm := newSM(t, 8, db, prefix)
	if err := sm.Load(db); err != nil {
		t.Fatal(err)
	}
	apply(t, db, sm, EncodeAppend(nil, [BatchIDLen]byte{1}, 100, batchOf(1, 2)))
	r := apply(t, db, sm, EncodeAppendTo(nil, [BatchIDLen]byte{2}, 200, []uint64{7, 300}, batchOf(3, 4, 5))).(AppendResult)
	if r.Start != 2 || r.End != 5 {
		t.Fatalf("targeted append = %+v", r)
	}
	apply(t, db, sm, EncodeAppend(nil, [BatchIDLen]byte{3}, 300, batchOf(6)))
	type seen struct {
		start  uint64
		ingest int64
		ids    []uint64
		n      int
	}
	var got []seen
	next, err := sm.Scan(0, 0, func(start uint64, ingest int64, tg Targets, b *types.Batch) error {
		got = append(got, seen{start, ingest, tg.IDs(), b.N})
		if tg.Has(7) != (len(tg) == 0 || start == 2) || (len(tg) > 0 && tg.Has(8)) {
			t.Errorf("batch at %d: Has(7) = %v, Has(8) = %v", start, tg.Has(7), tg.Has(8))
		}
		return nil
	})
	if err != nil || next != 6 {
		t.Fatalf("scan: next %d, %v", next, err)
	}
	want := []seen{{0, 100, nil, 2}, {2, 200, []uint64{7, 300}, 3}, {5, 300, nil, 1}}
	if !slices.EqualFunc(got, want, func(a, b seen) bool {
		return a.start == b.start && a.ingest == b.ingest && slices.Equal(a.ids, b.ids) && a.n == b.n
	}) {
		t.Fatalf("scan = %+v, want %+v", got, want)
	}
	var rows []int
	var ingests []int64
	if err := sm.ScanHeaders(0, func(_ uint64, ingest int64, n int) bool {
		rows, ingests = append(rows, n), append(ingests, ingest)
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rows, []int{2, 3, 1}) || !slices.Equal(ingests, []int64{100, 200, 300}) {
		t.Fatalf("headers: rows %v ingest %v", rows, ingests)
	}
	// A target set cut short is a corrupt command, not a panic.
	bad := EncodeAppendTo(nil, [BatchIDLen]byte{4}, 1, []uint64{1 << 40}, nil)
	if _, ok := sm.Apply(db.NewBatch(), 9, bad[:len(bad)-2]).(error); !ok {
		t.Fatal("truncated target set accepted")
	}
}
