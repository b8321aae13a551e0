package session

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/disk"
	"github.com/cairndb/cairn/internal/pgerr"
)

// diskBackend is fakeBackend whose proposals apply to its catalog as the
// meta group would (catalog.Apply), whose probes are disk.Probe's, and
// which records both and the audit events.
type diskBackend struct {
	*fakeBackend
	probes []string
	events []catalog.AuditEvent
}

func newDiskBackend() *diskBackend {
	f := &diskBackend{fakeBackend: newFake()}
	f.cat.Roles["alice"] = &catalog.Role{Name: "alice", Login: true, MemberOf: []string{catalog.RoleAdmin}}
	f.cat.Roles["bob"] = &catalog.Role{Name: "bob", Login: true}
	return f
}

func (f *diskBackend) Propose(_ context.Context, c catalog.Command) (*catalog.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.proposed = append(f.proposed, c)
	next, res := catalog.Apply(f.cat, c)
	if res.Err != nil {
		return res, res.Err
	}
	f.cat = next
	return res, nil
}

func (f *diskBackend) ProbeDisk(ctx context.Context, d *catalog.Disk) error {
	f.probes = append(f.probes, d.Name)
	return disk.Probe(ctx, d, "n1")
}

func (f *diskBackend) Audit(_ context.Context, ev catalog.AuditEvent) {
	f.events = append(f.events, ev)
}

// TestDiskStatements: CREATE DISK probes the store and records the disk
// only when the probe passes; DROP DISK is refused while a disk is used;
// SHOW DISKS and cairn_cluster.disks show everything but the secret;
// both statements are admin-only, refused before anything is probed;
// the audit log has them with the secret masked.
func TestDiskStatements(t *testing.T) {
	f := newDiskBackend()
	s := New(f, "alice", nil)
	dir := t.TempDir()
	const secret = "S3cr3t-disk-key-0042"

	res := mustRun(t, s, "CREATE DISK shared (type = 'file', path = '"+dir+"')")
	if res.Tag != "CREATE DISK" || len(f.probes) != 1 {
		t.Fatalf("CREATE DISK: tag %q, %d probes", res.Tag, len(f.probes))
	}
	d := f.cat.Disks["shared"]
	if d == nil || d.Type != catalog.DiskFile || d.Path != dir || d.Owner != "alice" || d.CreatedAt == 0 {
		t.Fatalf("recorded disk: %+v", d)
	}

	// A failing probe records nothing.
	missing := filepath.Join(dir, "not-mounted")
	wantErr(t, s, "CREATE DISK nomount (type = 'file', path = '"+missing+"')", pgerr.UndefinedFile, "does not exist on node n1", "Mount")
	if f.cat.Disks["nomount"] != nil || len(f.probes) != 2 {
		t.Fatalf("a disk whose probe failed: %+v, %d probes", f.cat.Disks["nomount"], len(f.probes))
	}
	// An S3 endpoint where nothing listens (port 1 on loopback).
	wantErr(t, s, "CREATE DISK s3x (type = 's3', endpoint = '127.0.0.1:1', bucket = 'abc', access_key_id = 'AKIA1', secret_access_key = '"+secret+"')",
		pgerr.IOError, "could not reach 127.0.0.1:1")
	if f.cat.Disks["s3x"] != nil {
		t.Fatal("an unreachable disk was recorded")
	}

	// A name taken: refused without a probe; IF NOT EXISTS skips.
	wantErr(t, s, "CREATE DISK shared (type = 'file', path = '"+missing+"')", pgerr.DuplicateObject, `disk "shared" already exists`)
	res = mustRun(t, s, "CREATE DISK IF NOT EXISTS shared (type = 'file', path = '"+missing+"')")
	if len(f.probes) != 3 || len(res.Notices) != 1 || !strings.Contains(res.Notices[0], "already exists, skipping") {
		t.Fatalf("existing disk: %d probes (want 3), notices %q", len(f.probes), res.Notices)
	}

	// SHOW DISKS and the cluster table.
	res = mustRun(t, s, "SHOW DISKS")
	if len(res.Rows) != 1 || *res.Rows[0][0] != "shared" || *res.Rows[0][1] != "file" || *res.Rows[0][6] != dir || res.Rows[0][8] != nil || *res.Rows[0][10] != "alice" {
		t.Fatalf("SHOW DISKS: %v %v", res.Columns, rowsText(res))
	}
	if res, err := RunOne(context.Background(), f, "alice", "SHOW DISKS"); err != nil {
		t.Fatal(err)
	} else if got := strings.Join(res.Columns, ","); got != "name,type,endpoint,bucket,region,prefix,path,access_key_id,tls,used_by,owner,created_at" {
		t.Errorf("SHOW DISKS columns: %s", got)
	}

	// A disk in use by a scheduled view cannot be dropped; nothing of a
	// multi-name DROP is dropped then.
	other := t.TempDir()
	mustRun(t, s, "CREATE DISK spare (type = 'file', path = '"+other+"')")
	f.cat.Views["v"] = &catalog.View{ID: 50, Name: "v", Stream: "s", Shards: 1, Replicas: 1, Sched: &catalog.Scheduled{Disk: "shared", IntervalMS: 5000}}
	wantErr(t, s, "DROP DISK spare, shared", pgerr.ObjectInUse, `disk "shared" is in use by view v`, "DROP VIEW")
	if f.cat.Disks["spare"] == nil {
		t.Fatal("DROP DISK that failed dropped spare")
	}
	res = mustRun(t, s, "SELECT name, used_by FROM cairn_cluster.disks ORDER BY name")
	if got := rowsText(res); got != "shared|view v;spare|" {
		t.Errorf("cairn_cluster.disks used_by: %s", got)
	}
	delete(f.cat.Views, "v")
	mustRun(t, s, "DROP DISK shared, spare")
	if len(f.cat.Disks) != 0 {
		t.Fatalf("disks left after DROP DISK: %v", f.cat.Disks)
	}
	wantErr(t, s, "DROP DISK shared", pgerr.UndefinedObject, `disk "shared" does not exist`, "SHOW DISKS")
	res = mustRun(t, s, "DROP DISK IF EXISTS shared")
	if len(res.Notices) != 1 || !strings.Contains(res.Notices[0], "does not exist, skipping") {
		t.Errorf("DROP DISK IF EXISTS: notices %q", res.Notices)
	}

	// Not an admin: refused before the store is probed or anything looked up.
	bob := New(f, "bob", nil)
	probes := len(f.probes)
	wantErr(t, bob, "CREATE DISK b (type = 'file', path = '"+other+"')", pgerr.InsufficientPrivilege)
	wantErr(t, bob, "CREATE DISK b (type = 's3', endpoint = '127.0.0.1:1', bucket = 'abc', access_key_id = 'AKIA1', secret_access_key = '"+secret+"')", pgerr.InsufficientPrivilege)
	wantErr(t, bob, "DROP DISK IF EXISTS nothing", pgerr.InsufficientPrivilege)
	if res := mustRun(t, bob, "SHOW DISKS"); len(res.Rows) != 0 {
		t.Errorf("SHOW DISKS as bob: %s", rowsText(res))
	}
	if len(f.probes) != probes || f.cat.Disks["b"] != nil {
		t.Fatalf("a non-admin's CREATE DISK probed (%d probes, had %d) or recorded a disk", len(f.probes), probes)
	}

	// The audit log: every CREATE/DROP DISK, the secret masked.
	n := 0
	for _, ev := range f.events {
		if strings.Contains(ev.What, secret) || strings.Contains(ev.Outcome, secret) {
			t.Errorf("audit event holds the secret: %+v", ev)
		}
		if strings.Contains(ev.What, "DISK") {
			n++
			if ev.Kind != "sql" {
				t.Errorf("audit event kind %q: %+v", ev.Kind, ev)
			}
		}
	}
	if n < 12 {
		t.Errorf("%d disk statements audited, want every one (12): %+v", n, f.events)
	}
}

// TestDiskSecretNeverShown: a disk with a secret shows no trace of it in
// SHOW DISKS, the cluster table or EXPLAIN of a query on it.
func TestDiskSecretNeverShown(t *testing.T) {
	f := newDiskBackend()
	const secret = "wJalrXUtnFEMI-K7MDENG-bPxRfiCY"
	f.cat.Disks = map[string]*catalog.Disk{"b": {Name: "b", Type: catalog.DiskS3, Endpoint: "s3.example.com:443", Bucket: "bkt", Region: "eu-west-1",
		AccessKeyID: "AKIAEXAMPLE", SecretAccessKey: secret, Prefix: "cairn", TLS: true, Owner: "alice", CreatedAt: 1_700_000_000_000_000}}
	s := New(f, "alice", nil)
	var all strings.Builder
	for _, sql := range []string{"SHOW DISKS", "SELECT * FROM cairn_cluster.disks", "EXPLAIN SELECT * FROM cairn_cluster.disks",
		"SELECT * FROM cairn_cluster.disks WHERE access_key_id = 'AKIAEXAMPLE'"} {
		res := mustRun(t, s, sql)
		all.WriteString(rowsText(res) + "\n")
	}
	if strings.Contains(all.String(), secret) || strings.Contains(all.String(), "<redacted>") {
		t.Fatalf("the secret (or its mask) shows:\n%s", all.String())
	}
	if !strings.Contains(all.String(), "b|s3|s3.example.com:443|bkt|eu-west-1|cairn||AKIAEXAMPLE|t||alice|") {
		t.Fatalf("SHOW DISKS:\n%s", all.String())
	}
}

// rowsText prints rows as a|b;c|d (NULL as empty).
func rowsText(res *Result) string {
	var rows []string
	for _, r := range res.Rows {
		vals := make([]string, len(r))
		for i, v := range r {
			if v != nil {
				vals[i] = *v
			}
		}
		rows = append(rows, strings.Join(vals, "|"))
	}
	return strings.Join(rows, ";")
}
