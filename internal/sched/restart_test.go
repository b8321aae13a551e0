package sched

import (
	"maps"
	"testing"
)

// TestOwnerRestartStaleCatalog: the owner's node restarts at the same
// epoch while its catalog copy still names an older checkpoint than the
// one committed (the meta group committed the last RecordCheckpoints,
// this node had not applied them yet). The restarted owner loads the
// older checkpoint and replays from it; it must number its objects after
// every object of its epoch already on the disk, so it never overwrites
// a part or manifest the committed checkpoint names (a crash then would
// leave a committed checkpoint whose rows do not match its offsets), and
// it must not take a refusal of a reused sequence number for a commit.
func TestOwnerRestartStaleCatalog(t *testing.T) {
	h := newHarness(t)
	r1, stop1 := h.runner(1, h.meta.catalog, nil)
	h.ingest(40, 0)
	e1 := h.assign(1)
	r1.Wake()
	waitFor(t, "a checkpoint at 40", func() bool {
		ck, _, _ := h.committed()
		return ck != nil && ck.Offsets[0] == 40
	})
	stale := h.meta.catalog() // this node's copy stops here
	// The old run commits on but never gets to collect (it crashes right
	// after each commit, say): the stale copy's checkpoint stays loadable.
	h.store.noDelete.Store(true)
	h.ingest(3, 40)
	waitFor(t, "a delta checkpoint at 43", func() bool {
		ck, m, _ := h.committed()
		return ck.Offsets[0] == 43 && len(m.Parts) >= 2
	})
	h.ingest(2, 43)
	waitFor(t, "a delta checkpoint at 45", func() bool {
		ck, m, _ := h.committed()
		return ck.Offsets[0] == 45 && len(m.Parts) >= 3
	})
	stop1()
	before, _, _ := h.committed()

	// The restarted node reads its stale catalog until its first write.
	view := &frozenView{m: h.meta}
	view.frozen.Store(stale)
	h.store.mu.Lock()
	h.store.mu.onPut = func(string) { view.frozen.Store(nil) }
	h.store.mu.Unlock()
	h.store.noDelete.Store(false)
	r1b, _ := h.runner(1, view.catalog, nil)
	h.ingest(2, 45)
	defer func() {
		if t.Failed() {
			ck, m, rows := h.committed()
			t.Logf("committed %+v, its manifest %+v, rows %v (want %v); owner %+v", ck, m, rows, h.events, r1b.Status())
		}
	}()
	waitFor(t, "the restarted owner to commit a newer checkpoint", func() bool {
		ck, _, rows := h.committed()
		return ck.Epoch == e1 && ck.Seq > before.Seq && ck.Offsets[0] == 47 && maps.Equal(rows, h.events)
	})
	if sm := r1b.Owned(h.view.ID, e1); sm == nil || !maps.Equal(smRows(t, sm), h.events) {
		t.Fatal("the restarted owner's rows differ from the recomputation")
	}
	h.store.mu.Lock()
	defer h.store.mu.Unlock()
	if len(h.store.mu.overwritten) > 0 {
		t.Fatalf("objects overwritten with different bytes: %v", h.store.mu.overwritten)
	}
}
