package streamsm

import (
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// twoShards returns shards A (gid 1) and B (gid 2) on one engine.
func twoShards(t *testing.T) (db *pebble.DB, a, b *SM) {
	db = openMem(t)
	a = newSM(t, 1, db, []byte("d\x00\x00\x00\x00\x00\x00\x00\x01"))
	b = newSM(t, 2, db, []byte("d\x00\x00\x00\x00\x00\x00\x00\x02"))
	for _, sm := range []*SM{a, b} {
		if err := sm.Load(db); err != nil {
			t.Fatal(err)
		}
	}
	return db, a, b
}

func body(vals ...int64) []byte {
	id := [BatchIDLen]byte{}
	_, body, _ := AppendBody(EncodeAppend(nil, id, 100, batchOf(vals...)))
	return body
}

// The ambiguous case: A committed the part but its answer was lost; the
// same batch id was then parked in B. The fence finds it in A, B drops
// its copy: the events are in the stream once.
func TestRerouteOriginHadIt(t *testing.T) {
	db, a, b := twoShards(t)
	x := [BatchIDLen]byte{9}
	bd := body(1, 2, 3)
	apply(t, db, a, append(append([]byte{opAppend}, x[:]...), bd...)) // committed, no answer
	if r := apply(t, db, b, EncodePark(x, 1, bd)).(ParkResult); r.Dup {
		t.Fatalf("park = %+v", r)
	}
	if got := scanAll(t, b, 0); len(got) != 0 {
		t.Fatalf("a parked part is visible in B: %v", got)
	}
	if r := apply(t, db, a, EncodeFence(x)).(FenceResult); !r.Had {
		t.Fatal("fence did not find the batch A applied")
	}
	// Asked again (a second reconciler, a retry): the same answer.
	if r := apply(t, db, a, EncodeFence(x)).(FenceResult); !r.Had {
		t.Fatal("second fence changed its answer")
	}
	apply(t, db, b, EncodeDrop(x))
	// A late release (a stale reconciler) finds nothing parked.
	apply(t, db, b, EncodeRelease(x, bd))
	if got := append(scanAll(t, a, 0), scanAll(t, b, 0)...); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("A+B = %v, want [1 2 3] once", got)
	}
	st, pending := b.RerouteStats()
	if st.InBatches != 1 || st.InEvents != 3 || st.Dropped != 1 || st.Released != 0 || pending != 0 || st.From[1] != [2]uint64{1, 3} {
		t.Fatalf("stats = %+v pending %d", st, pending)
	}
}

// A never applied the part before the fence: the fence makes a late
// append of it (an in-flight proposal A's new leader commits) a no-op,
// and B releases its copy into its log under the same id.
func TestRerouteOriginFenced(t *testing.T) {
	db, a, b := twoShards(t)
	x := [BatchIDLen]byte{7}
	bd := body(4, 5)
	apply(t, db, b, EncodePark(x, 1, bd))
	if r := apply(t, db, b, EncodePark(x, 1, bd)).(ParkResult); !r.Dup {
		t.Fatal("a retried park was parked twice")
	}
	if r := apply(t, db, a, EncodeFence(x)).(FenceResult); r.Had {
		t.Fatal("fence found a batch A never applied")
	}
	if r := apply(t, db, a, append(append([]byte{opAppend}, x[:]...), bd...)).(AppendResult); !r.Dup {
		t.Fatalf("a late append of a fenced id was applied: %+v", r)
	}
	if r := apply(t, db, a, EncodeFence(x)).(FenceResult); r.Had {
		t.Fatal("second fence changed its answer")
	}
	r := apply(t, db, b, EncodeRelease(x, bd)).(AppendResult)
	if r.Dup || r.End-r.Start != 2 {
		t.Fatalf("release = %+v", r)
	}
	// Duplicates after the release: a late park and a second release.
	if r := apply(t, db, b, EncodePark(x, 1, bd)).(ParkResult); !r.Dup {
		t.Fatal("a late park after the release parked again")
	}
	if r := apply(t, db, b, EncodeRelease(x, bd)).(AppendResult); !r.Dup {
		t.Fatal("a second release appended again")
	}
	if got := append(scanAll(t, a, 0), scanAll(t, b, 0)...); !slices.Equal(got, []int64{4, 5}) {
		t.Fatalf("A+B = %v, want [4 5] once", got)
	}
	if len(b.Parked()) != 0 {
		t.Fatal("still parked after release")
	}
}

// Parked parts, counters and fences survive a restart (Load).
func TestRerouteReload(t *testing.T) {
	db, a, b := twoShards(t)
	x, y := [BatchIDLen]byte{1}, [BatchIDLen]byte{2}
	apply(t, db, b, EncodePark(x, 1, body(1)))
	apply(t, db, b, EncodePark(y, 3, body(2, 3)))
	apply(t, db, a, EncodeFence(x))
	b2 := newSM(t, 2, db, []byte("d\x00\x00\x00\x00\x00\x00\x00\x02"))
	a2 := newSM(t, 1, db, []byte("d\x00\x00\x00\x00\x00\x00\x00\x01"))
	for _, sm := range []*SM{a2, b2} {
		if err := sm.Load(db); err != nil {
			t.Fatal(err)
		}
	}
	p := b2.Parked()
	if len(p) != 2 || p[0].ID != x || p[0].Origin != 1 || p[1].Origin != 3 || p[1].Rows != 2 {
		t.Fatalf("parked after reload = %+v", p)
	}
	if st, _ := b2.RerouteStats(); st.InEvents != 3 || st.From[3] != [2]uint64{1, 2} {
		t.Fatalf("stats after reload = %+v", st)
	}
	if r := apply(t, db, a2, EncodeFence(x)).(FenceResult); r.Had {
		t.Fatal("the fence was lost on reload")
	}
	if r := apply(t, db, a2, append(append([]byte{opAppend}, x[:]...), body(1)...)).(AppendResult); !r.Dup {
		t.Fatal("a fenced id was appended after reload")
	}
}

func TestParkBound(t *testing.T) {
	db, _, b := twoShards(t)
	bd := body(1)
	for i := range MaxParked {
		id := [BatchIDLen]byte{byte(i), byte(i >> 8), 1}
		if r, ok := apply(t, db, b, EncodePark(id, 1, bd)).(ParkResult); !ok || r.Dup {
			t.Fatalf("park %d = %v", i, r)
		}
	}
	if err, ok := apply(t, db, b, EncodePark([BatchIDLen]byte{0xff, 0xff, 0xff}, 1, bd)).(error); !ok || err != ErrTooManyParked {
		t.Fatalf("park past the bound = %v", err)
	}
}
