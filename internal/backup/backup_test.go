package backup

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/objstore"
)

func TestSSTRoundTrip(t *testing.T) {
	w, err := NewSSTWriter()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		if err := w.Set(fmt.Appendf(nil, "k%05d", i), fmt.Appendf(nil, "value %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Set([]byte("k00001"), nil); err == nil {
		t.Fatal("a key out of order was accepted")
	}
	data, err := w.Finish()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = ScanSST(data, func(k, v []byte) error {
		if string(k) != fmt.Sprintf("k%05d", n) || string(v) != fmt.Sprintf("value %d", n) {
			return fmt.Errorf("key %d: %q = %q", n, k, v)
		}
		n++
		return nil
	})
	if err != nil || n != 1000 {
		t.Fatalf("scan: %d keys, %v", n, err)
	}
	if err := ScanSST(data[:len(data)/2], func(k, v []byte) error { return nil }); !errors.Is(err, ErrCorruptSST) {
		t.Fatalf("a truncated SST: %v", err)
	}
	empty, _ := NewSSTWriter()
	data, err = empty.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if err := ScanSST(data, func(k, v []byte) error { return errors.New("a key in an empty SST") }); err != nil {
		t.Fatal(err)
	}
}

// TestListAndPick writes manifests (one backup without one: unfinished)
// and checks listing, AS OF, by id, scopes and incremental chains.
func TestListAndPick(t *testing.T) {
	ctx := context.Background()
	store, err := objstore.NewFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	all, st := Scope{Kind: ScopeAll}, Scope{Kind: ScopeStream, Name: "ev"}
	put := func(at time.Duration, scope Scope, base string) *Manifest {
		m := &Manifest{ID: NewID(t0.Add(at)), Time: t0.Add(at).UnixMicro(), Scope: scope, Incremental: base != "", Base: base}
		m.Catalog = CatalogKey(m.ID)
		b, _ := EncodeManifest(m)
		if err := store.Put(ctx, ManifestKey(m.ID), b); err != nil {
			t.Fatal(err)
		}
		return m
	}
	full := put(0, all, "")
	inc1 := put(time.Hour, all, full.ID)
	onlyStream := put(90*time.Minute, st, "")
	inc2 := put(2*time.Hour, all, inc1.ID)
	// An unfinished backup: objects but no manifest.
	if err := store.Put(ctx, Prefix+NewID(t0.Add(3*time.Hour))+"/catalog.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	ms, err := List(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	if want := []string{full.ID, inc1.ID, onlyStream.ID, inc2.ID}; strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Fatalf("List: %v, want %v", ids, want)
	}
	chainIDs := func(c []*Manifest) string {
		var s []string
		for _, m := range c {
			s = append(s, m.ID)
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct {
		id    string
		asOf  time.Duration
		scope Scope
		want  []*Manifest
		err   error
	}{
		{scope: all, want: []*Manifest{full, inc1, inc2}},
		{scope: st, want: []*Manifest{full, inc1, inc2}}, // ALL holds the stream
		{scope: st, asOf: 100 * time.Minute, want: []*Manifest{onlyStream}},
		{scope: all, asOf: 100 * time.Minute, want: []*Manifest{full, inc1}},
		{scope: all, asOf: 30 * time.Minute, want: []*Manifest{full}},
		{scope: all, asOf: -time.Minute, err: ErrNoBackup},
		{scope: all, id: inc1.ID, want: []*Manifest{full, inc1}},
		{scope: all, id: onlyStream.ID, err: ErrNoBackup}, // holds a stream, not ALL
		{scope: all, id: "nope", err: ErrNoBackup},
	} {
		var asOf int64
		if tc.asOf != 0 {
			asOf = t0.Add(tc.asOf).UnixMicro()
		}
		c, err := Pick(ms, tc.id, asOf, tc.scope)
		if tc.err != nil {
			if !errors.Is(err, tc.err) {
				t.Errorf("%+v: got %v, want %v", tc, err, tc.err)
			}
			continue
		}
		if err != nil || chainIDs(c) != chainIDs(tc.want) {
			t.Errorf("%+v: got %s (%v), want %s", tc, chainIDs(c), err, chainIDs(tc.want))
		}
	}
	// A chain whose base is gone.
	if err := store.Delete(ctx, ManifestKey(inc1.ID)); err != nil {
		t.Fatal(err)
	}
	ms, _ = List(ctx, store)
	if _, err := Pick(ms, "", 0, all); !errors.Is(err, ErrBrokenChain) {
		t.Fatalf("missing base: %v", err)
	}
	if b := Base(ms, st); b == nil || b.ID != onlyStream.ID {
		t.Fatalf("Base of a stream scope: %v", b)
	}
	// A damaged manifest is an error, not a missing backup.
	if err := store.Put(ctx, ManifestKey(full.ID), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := List(ctx, store); !errors.Is(err, objstore.ErrCorrupt) {
		t.Fatalf("damaged manifest: %v", err)
	}
}

func TestStreamChain(t *testing.T) {
	g := func(from, end uint64, full bool) Group {
		return Group{Kind: KindStream, Object: "ev", Shard: 0, From: from, End: end, Full: full}
	}
	m := func(gs ...Group) *Manifest { return &Manifest{ID: "x", Groups: gs} }
	links, err := StreamChain([]*Manifest{m(g(5, 10, true)), m(g(10, 20, false)), m(g(20, 20, false))}, "ev", 0)
	if err != nil || len(links) != 3 || links[0].From != 5 || links[2].End != 20 {
		t.Fatalf("chain: %v %v", links, err)
	}
	// A newer full group (the stream was re-created) ends the chain there.
	links, err = StreamChain([]*Manifest{m(g(0, 10, true)), m(g(0, 3, true)), m(g(3, 7, false))}, "ev", 0)
	if err != nil || len(links) != 2 || links[0].End != 3 {
		t.Fatalf("chain from a newer full group: %v %v", links, err)
	}
	if _, err := StreamChain([]*Manifest{m(g(0, 10, true)), m(g(12, 20, false))}, "ev", 0); !errors.Is(err, ErrBrokenChain) {
		t.Fatalf("a gap: %v", err)
	}
	if _, err := StreamChain([]*Manifest{m(g(0, 10, false))}, "ev", 0); !errors.Is(err, ErrBrokenChain) {
		t.Fatalf("no full group: %v", err)
	}
	if _, err := StreamChain([]*Manifest{m(g(0, 10, true))}, "ev", 1); !errors.Is(err, ErrBrokenChain) {
		t.Fatalf("no such shard: %v", err)
	}
}

// TestObjects checks what each scope covers, the copy order (views,
// tables, streams) and that the stored catalog carries no secrets.
func TestObjects(t *testing.T) {
	cat := catalog.New()
	cat.Streams["ev"] = &catalog.Stream{ID: 1, Name: "ev", Shards: 2, Groups: []uint64{10, 11}, Nodes: [][]uint64{{1}, {2}}}
	cat.Streams["other"] = &catalog.Stream{ID: 2, Name: "other", Shards: 1, Groups: []uint64{12}}
	cat.Tables = map[string]*catalog.Table{"dev": {ID: 3, Name: "dev", Shards: 1, Groups: []uint64{13}}}
	cat.Views["tr"] = &catalog.View{ID: 4, Name: "tr", Stream: "ev", Transform: true}
	cat.Views["v"] = &catalog.View{ID: 5, Name: "v", Stream: "ev", Over: []string{"tr"}, Tables: []string{"dev"}, Shards: 1, Groups: []uint64{14}}
	cat.Disks = map[string]*catalog.Disk{"d": {Name: "d", SecretAccessKey: "s3cr3t"}}
	cat.Roles = map[string]*catalog.Role{}
	set, err := Objects(cat, Scope{Kind: ScopeView, Name: "v"})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, g := range set.Groups() {
		order = append(order, fmt.Sprintf("%s %s/%d g%d", g.Kind, g.Object, g.Shard, g.Group))
	}
	if got, want := strings.Join(order, ", "), "view v/0 g14, table dev/0 g13, stream ev/0 g10, stream ev/1 g11"; got != want {
		t.Fatalf("VIEW v groups: %s, want %s", got, want)
	}
	if len(set.Views) != 2 || set.Views[0].Name != "tr" {
		t.Fatalf("VIEW v views: %v", set.Views)
	}
	sub := Subset(cat, set)
	if sub.Streams["other"] != nil || sub.Disks != nil || sub.Roles != nil || sub.Streams["ev"] == nil {
		t.Fatalf("subset: %+v", sub)
	}
	if set, _ := Objects(cat, Scope{Kind: ScopeAll}); len(set.Groups()) != 5 {
		t.Fatalf("ALL: %d groups", len(set.Groups()))
	}
	var no *ErrNoObject
	if _, err := Objects(cat, Scope{Kind: ScopeTable, Name: "ev"}); !errors.As(err, &no) {
		t.Fatalf("TABLE ev: %v", err)
	}
}
