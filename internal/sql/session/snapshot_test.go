package session

import (
	"testing"

	"github.com/cairndb/cairn/internal/catalog"
)

// snapshot_rate takes 0 or a rate between 1MB and 1TB per second, stored
// in its largest exact unit; anything else is refused with 22023 and a
// hint; cairn_cluster.settings lists it with its default.
func TestSnapshotRateSetting(t *testing.T) {
	f := newFake()
	s := New(f, "", nil)
	for in, want := range map[string]string{
		"'64MB'": "64MB", "'512 mb'": "512MB", "'1GB'": "1GB", "'1024kB'": "1MB", "0": "0", "'2097152'": "2MB", "'1TB'": "1TB",
	} {
		n := len(f.proposed)
		mustRun(t, s, "ALTER SYSTEM SET snapshot_rate = "+in)
		set, ok := f.proposed[n].(*catalog.SetSetting)
		if !ok || set.Key != catalog.SnapshotRate || set.Value == nil || *set.Value != want {
			t.Fatalf("ALTER SYSTEM SET snapshot_rate = %s proposed %+v, want %q", in, f.proposed[n], want)
		}
	}
	for _, bad := range []string{"'512kB'", "'2TB'", "'-1MB'", "'fast'", "'64 MB/s'", "'1.5GB'"} {
		wantErr(t, s, "ALTER SYSTEM SET snapshot_rate = "+bad, "22023", "snapshot_rate", "'64MB'")
	}
	res := mustRun(t, s, "SELECT name, value, \"default\" FROM cairn_cluster.settings")
	found := false
	for _, r := range res.Rows {
		if r[0] != nil && *r[0] == "snapshot_rate" {
			found = true
			if *r[1] != "64MB" || *r[2] != "64MB" {
				t.Errorf("cairn_cluster.settings snapshot_rate row: value %q default %q", *r[1], *r[2])
			}
		}
	}
	if !found {
		t.Error("cairn_cluster.settings has no snapshot_rate row")
	}
	if got := f.cat.SnapshotRateBytes(); got != 64<<20 {
		t.Errorf("default snapshot rate %d bytes/s", got)
	}
	f.cat.Settings = map[string]string{catalog.SnapshotRate: "0"}
	if got := f.cat.SnapshotRateBytes(); got != 0 {
		t.Errorf("snapshot_rate 0 read as %d", got)
	}
}
