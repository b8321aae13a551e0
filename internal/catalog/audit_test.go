package catalog

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func auditEvents(n int, what string) []AuditEvent {
	evs := make([]AuditEvent, n)
	for i := range evs {
		evs[i] = AuditEvent{At: time.Unix(1700000000, 0).UTC(), Node: "n1", User: "cairn", Kind: "sql",
			What: fmt.Sprintf("%s %d", what, i), Outcome: "ok"}
	}
	return evs
}

func auditIDs(evs []AuditEvent) []uint64 {
	ids := make([]uint64, len(evs))
	for i, ev := range evs {
		ids[i] = ev.ID
	}
	return ids
}

// TestAuditRing: the log keeps the newest audit_log_max_events events,
// ids count every event ever appended, and a smaller bound takes effect
// at the next append.
func TestAuditRing(t *testing.T) {
	cat := New()
	if got := cat.AuditMax(); got != 10000 {
		t.Fatalf("default bound = %d, want 10000", got)
	}
	five := "5"
	cat, _ = Apply(cat, &SetSetting{Key: AuditMaxSetting, Value: &five})
	cat, _ = Apply(cat, &AppendAudit{Events: auditEvents(3, "a")})
	if got := auditIDs(cat.AuditEvents()); !reflect.DeepEqual(got, []uint64{1, 2, 3}) {
		t.Fatalf("ids = %v", got)
	}
	before := cat
	cat, _ = Apply(cat, &AppendAudit{Events: auditEvents(4, "b")})
	if got := auditIDs(cat.AuditEvents()); !reflect.DeepEqual(got, []uint64{3, 4, 5, 6, 7}) {
		t.Fatalf("ids after overflow = %v", got)
	}
	if got := cat.AuditEvents()[0].What; got != "a 2" {
		t.Fatalf("oldest kept = %q, want a 2", got)
	}
	// The catalog the append started from is unchanged.
	if got := auditIDs(before.AuditEvents()); !reflect.DeepEqual(got, []uint64{1, 2, 3}) {
		t.Fatalf("old catalog's log changed: %v", got)
	}
	// A batch bigger than the bound keeps its own newest events.
	cat, _ = Apply(cat, &AppendAudit{Events: auditEvents(7, "c")})
	if got := auditIDs(cat.AuditEvents()); !reflect.DeepEqual(got, []uint64{10, 11, 12, 13, 14}) {
		t.Fatalf("ids after a big batch = %v", got)
	}
	two := "2"
	cat, _ = Apply(cat, &SetSetting{Key: AuditMaxSetting, Value: &two})
	if got := len(cat.Clone().AuditEvents()); got != 5 {
		t.Fatalf("clone has %d events, want 5 (the bound applies at the next append)", got)
	}
	cat, _ = Apply(cat, &AppendAudit{Events: auditEvents(1, "d")})
	if got := auditIDs(cat.AuditEvents()); !reflect.DeepEqual(got, []uint64{14, 15}) {
		t.Fatalf("ids after shrinking = %v", got)
	}
	cmd, err := Decode(Encode(&AppendAudit{Events: auditEvents(2, "e")}))
	if err != nil || len(cmd.(*AppendAudit).Events) != 2 || cmd.(*AppendAudit).Events[1].What != "e 1" {
		t.Fatalf("decode: %+v %v", cmd, err)
	}
}

// TestAuditStored: the meta state machine stores each event under its own
// key, deletes dropped ones, leaves the catalog value alone, and a reload
// (as after a restart or a snapshot) reads the same log.
func TestAuditStored(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	changes := 0
	m := NewMetaSM([]byte("catalog"), func() { changes++ })
	apply := func(c Command) *Result {
		t.Helper()
		wb := db.NewBatch()
		r := m.Apply(wb, 1, Encode(c)).(*Result)
		if err := wb.Commit(pebble.Sync); err != nil {
			t.Fatal(err)
		}
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		return r
	}
	three := "3"
	apply(&SetSetting{Key: AuditMaxSetting, Value: &three})
	stored := func() string {
		v, closer, err := db.Get([]byte("catalog"))
		if err != nil {
			t.Fatal(err)
		}
		defer closer.Close()
		return string(v)
	}
	catBefore := stored()
	changes = 0
	apply(&AppendAudit{Events: auditEvents(2, "a")})
	apply(&AppendAudit{Events: auditEvents(2, "b")})
	if changes != 0 {
		t.Fatalf("an audit append signalled %d catalog changes", changes)
	}
	if stored() != catBefore {
		t.Fatal("an audit append rewrote the stored catalog")
	}
	n := 0
	it, _ := db.NewIter(nil)
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	it.Close()
	if n != 1+3+1 { // the catalog, three events, the next id
		t.Fatalf("%d keys stored, want 5", n)
	}
	want := m.Catalog().AuditEvents()
	if got := auditIDs(want); !reflect.DeepEqual(got, []uint64{2, 3, 4}) {
		t.Fatalf("ids = %v", got)
	}
	m2 := NewMetaSM([]byte("catalog"), nil)
	if err := m2.Load(db); err != nil {
		t.Fatal(err)
	}
	if got := m2.Catalog().AuditEvents(); !reflect.DeepEqual(got, want) {
		t.Fatalf("reloaded log = %+v\nwant %+v", got, want)
	}
	// Ids go on from the stored next id after a reload.
	wb := db.NewBatch()
	m2.Apply(wb, 2, Encode(&AppendAudit{Events: auditEvents(1, "c")}))
	if got := auditIDs(m2.Catalog().AuditEvents()); !reflect.DeepEqual(got, []uint64{3, 4, 5}) {
		t.Fatalf("ids after reload = %v", got)
	}
	// Another command keeps the log (the catalog clone shares it).
	apply(&SetSetting{Key: "auto_failover", Value: &three})
	if got := auditIDs(m.Catalog().AuditEvents()); !reflect.DeepEqual(got, []uint64{2, 3, 4}) {
		t.Fatalf("ids after another command = %v", got)
	}
}
