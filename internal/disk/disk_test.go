package disk_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/disk"
	"github.com/cairndb/cairn/internal/pgerr"
)

// TestRegistry: Get opens a catalog disk's store once, reopens it when
// the disk is defined again under its name, and refuses a name the
// catalog does not have and a file disk whose directory is missing on
// this node (never making it).
func TestRegistry(t *testing.T) {
	ctx := context.Background()
	a, b := t.TempDir(), t.TempDir()
	cat := catalog.New()
	cat.Disks = map[string]*catalog.Disk{"d": {Name: "d", Type: catalog.DiskFile, Path: a}}
	r := disk.NewRegistry(func() *catalog.Catalog { return cat })

	s1, err := r.Get(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	if err := s1.Put(ctx, "k", []byte("in a")); err != nil {
		t.Fatal(err)
	}
	if s2, err := r.Get(ctx, "d"); err != nil || s2 != s1 {
		t.Fatalf("second Get: %v %v (want the same store)", s2, err)
	}
	// Dropped and created again elsewhere: a new store, over b.
	cat.Disks["d"] = &catalog.Disk{Name: "d", Type: catalog.DiskFile, Path: b}
	s3, err := r.Get(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3.Get(ctx, "k"); err == nil {
		t.Fatal("the redefined disk still reads the old directory")
	}
	if _, err := r.Get(ctx, "nope"); err == nil || pgerr.From(err).Code != pgerr.UndefinedObject {
		t.Fatalf("Get of an unknown disk: %v", err)
	}
	missing := filepath.Join(b, "not-mounted")
	cat.Disks["m"] = &catalog.Disk{Name: "m", Type: catalog.DiskFile, Path: missing}
	if _, err := r.Get(ctx, "m"); err == nil || pgerr.From(err).Code != pgerr.UndefinedFile {
		t.Fatalf("Get of a disk whose directory is missing: %v", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("Open made the missing shared directory")
	}
}
