// Package disk opens the object stores that catalog disks name (CREATE
// DISK) and keeps one open store per disk definition.
package disk

import (
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/objstore"
	"github.com/cairndb/cairn/internal/pgerr"
)

// Open connects to the store disk d describes (checking that an S3
// bucket exists, or that a file disk's directory does: a shared directory
// that is missing is a mount missing on this node, and making it would
// give this node a private directory that the others never see).
func Open(ctx context.Context, d *catalog.Disk) (objstore.Store, error) {
	switch d.Type {
	case catalog.DiskFile:
		if st, err := os.Stat(d.Path); err != nil || !st.IsDir() {
			return nil, pgerr.DiskDirGone.New(d.Name, d.Path)
		}
		return objstore.NewFile(d.Path)
	case catalog.DiskS3:
		return objstore.NewS3(ctx, objstore.S3Config{
			Endpoint: d.Endpoint, Bucket: d.Bucket, Region: d.Region,
			AccessKeyID: d.AccessKeyID, SecretAccessKey: d.SecretAccessKey,
			Prefix: d.Prefix, TLS: d.TLS,
		})
	}
	return nil, fmt.Errorf("disk %q has unknown type %q", d.Name, d.Type)
}

// Registry keeps one open store per disk, reopened when the disk's
// definition changes (a disk dropped and created again under its name).
type Registry struct {
	cat func() *catalog.Catalog
	mu  sync.Mutex
	m   map[string]entry
}

type entry struct {
	def   catalog.Disk
	store objstore.Store
}

// NewRegistry returns a registry over the catalog cat returns.
func NewRegistry(cat func() *catalog.Catalog) *Registry {
	return &Registry{cat: cat, m: map[string]entry{}}
}

// Get returns the store of disk name (pgerr.DiskNotFound when the
// catalog has no such disk).
func (r *Registry) Get(ctx context.Context, name string) (objstore.Store, error) {
	d := r.cat().Disks[name]
	if d == nil {
		return nil, diskNotFound(name)
	}
	r.mu.Lock()
	e, ok := r.m[name]
	r.mu.Unlock()
	if ok && e.def == *d {
		return e.store, nil
	}
	s, err := Open(ctx, d)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.m[name] = entry{def: *d, store: s}
	r.mu.Unlock()
	return s, nil
}

func diskNotFound(name string) error { return pgerr.DiskNotFound.New(name) }
