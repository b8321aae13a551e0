package sched

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/cairndb/cairn/internal/objstore"
	"github.com/cairndb/cairn/internal/viewsm"
)

func TestCodecRoundTrip(t *testing.T) {
	m := &Manifest{ViewID: 7, Epoch: 3, Seq: 9, At: 1234, Offsets: []uint64{5, 0, 99}, Window: []byte{1, 2}, Final: true,
		Parts: []PartRef{{Key: ObjectKey(7, 2, 4, kindBase), Full: true, Rows: 3, Bytes: 100}, {Key: ObjectKey(7, 3, 9, kindDelta), Rows: 1, Bytes: 20}}}
	got, err := DecodeManifest("k", EncodeManifest(m))
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("manifest round trip: %+v, %v", got, err)
	}
	p := &Part{ViewID: 7, Epoch: 3, Seq: 9, Rows: []viewsm.Row{{Key: []byte("a"), State: []byte{1}}, {Key: []byte{}, State: []byte{2, 3}}}, Deleted: [][]byte{[]byte("z")}}
	gp, err := DecodePart("k", EncodePart(p))
	if err != nil || gp.ViewID != 7 || gp.Full || len(gp.Rows) != 2 || !bytes.Equal(gp.Rows[1].State, []byte{2, 3}) || string(gp.Deleted[0]) != "z" {
		t.Fatalf("part round trip: %+v, %v", gp, err)
	}
	e, s, kind, ok := parseKey(7, ObjectKey(7, 3, 9, kindDelta))
	if !ok || e != 3 || s != 9 || kind != kindDelta {
		t.Fatalf("parseKey: %d %d %q %v", e, s, kind, ok)
	}
	if _, _, _, ok := parseKey(7, ObjectKey(8, 3, 9, kindDelta)); ok {
		t.Fatal("parseKey took another view's key")
	}
}

// TestCodecCorrupt: every truncation of a manifest or part, a flipped
// byte, another object and a manifest without a base are errors
// (objstore.ErrCorrupt), never a wrong state.
func TestCodecCorrupt(t *testing.T) {
	m := EncodeManifest(&Manifest{ViewID: 1, Epoch: 1, Seq: 1, Offsets: []uint64{3}, Parts: []PartRef{{Key: "views/1/x", Full: true, Rows: 1, Bytes: 9}}})
	p := EncodePart(&Part{ViewID: 1, Epoch: 1, Seq: 1, Full: true, Rows: []viewsm.Row{{Key: []byte("k"), State: []byte("s")}}})
	for i := 0; i < len(m); i++ {
		if _, err := DecodeManifest("m", m[:i]); !errors.Is(err, objstore.ErrCorrupt) {
			t.Fatalf("manifest cut at %d: %v", i, err)
		}
	}
	for i := 0; i < len(p); i++ {
		if _, err := DecodePart("p", p[:i]); !errors.Is(err, objstore.ErrCorrupt) {
			t.Fatalf("part cut at %d: %v", i, err)
		}
	}
	if _, err := DecodeManifest("m", append(m, 0)); !errors.Is(err, objstore.ErrCorrupt) {
		t.Fatalf("trailing byte: %v", err)
	}
	if _, err := DecodeManifest("p", p); !errors.Is(err, objstore.ErrCorrupt) {
		t.Fatalf("a part read as a manifest: %v", err)
	}
	noBase := EncodeManifest(&Manifest{ViewID: 1, Parts: []PartRef{{Key: "views/1/x"}}})
	if _, err := DecodeManifest("m", noBase); !errors.Is(err, objstore.ErrCorrupt) {
		t.Fatalf("manifest without a base: %v", err)
	}
}

// TestLoadChain: Load applies a base and its deltas in order (changed
// rows replace, deleted keys go); a missing part or one of another view
// is an error.
func TestLoadChain(t *testing.T) {
	ctx := context.Background()
	st, err := objstore.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string, b []byte) {
		if err := st.Put(ctx, key, b); err != nil {
			t.Fatal(err)
		}
	}
	row := func(k, v string) viewsm.Row { return viewsm.Row{Key: []byte(k), State: []byte(v)} }
	base, d1, d2 := ObjectKey(4, 1, 1, kindBase), ObjectKey(4, 1, 2, kindDelta), ObjectKey(4, 2, 1, kindDelta)
	put(base, EncodePart(&Part{ViewID: 4, Epoch: 1, Seq: 1, Full: true, Rows: []viewsm.Row{row("a", "1"), row("b", "1"), row("c", "1")}}))
	put(d1, EncodePart(&Part{ViewID: 4, Epoch: 1, Seq: 2, Rows: []viewsm.Row{row("a", "2")}, Deleted: [][]byte{[]byte("b")}}))
	put(d2, EncodePart(&Part{ViewID: 4, Epoch: 2, Seq: 1, Rows: []viewsm.Row{row("b", "3"), row("d", "1")}, Deleted: [][]byte{[]byte("c")}}))
	mk := ObjectKey(4, 2, 1, kindManifest)
	put(mk, EncodeManifest(&Manifest{ViewID: 4, Epoch: 2, Seq: 1, Offsets: []uint64{10}, Parts: []PartRef{{Key: base, Full: true}, {Key: d1}, {Key: d2}}}))
	m, rows, err := Load(ctx, st, 4, mk)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "2", "b": "3", "d": "1"}
	if len(rows) != len(want) || m.Offsets[0] != 10 {
		t.Fatalf("rows %v offsets %v", rows, m.Offsets)
	}
	for k, v := range want {
		if string(rows[k]) != v {
			t.Fatalf("row %s = %q, want %q", k, rows[k], v)
		}
	}
	if _, _, err := Load(ctx, st, 5, mk); !errors.Is(err, objstore.ErrCorrupt) {
		t.Fatalf("another view's checkpoint: %v", err)
	}
	if err := st.Delete(ctx, d1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(ctx, st, 4, mk); !errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("missing part: %v", err)
	}
}
