// Package backup is the pure part of BACKUP, RESTORE and SHOW BACKUPS:
// the layout of a backup on a disk (a catalog, one SST per group, a
// manifest written last), listing backups, choosing what AS OF or an id
// restores (with its incremental chain), and which catalog objects a
// scope covers and in which order a restore recreates them. The node
// (node/backup.go) does the I/O: it asks replicas for their groups' SSTs
// and proposes what a restore loads. See DESIGN.md.
package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/objstore"
)

// Prefix is where backups live on a disk: backups/<id>/….
const Prefix = "backups/"

// ErrCorruptSST is the error of an SST that does not decode.
var ErrCorruptSST = errors.New("backup: corrupt SST")

// Group kinds in a manifest.
const (
	KindStream = "stream"
	KindView   = "view"
	KindTable  = "table"
)

// Scope kinds: what a BACKUP or RESTORE statement names.
const (
	ScopeAll    = "all"
	ScopeStream = "stream"
	ScopeView   = "view"
	ScopeTable  = "table"
)

// Scope is what a backup holds or a restore recreates: everything, or
// one object (a view with the streams and tables it reads).
type Scope struct {
	Kind string `json:"kind"`           // ScopeAll, ScopeStream, ScopeView or ScopeTable
	Name string `json:"name,omitempty"` // the object, unless ScopeAll
}

// String is the scope as SQL says it: "ALL", "STREAM s", ….
func (s Scope) String() string {
	if s.Kind == ScopeAll || s.Kind == "" {
		return "ALL"
	}
	return strings.ToUpper(s.Kind) + " " + s.Name
}

// Group is one group's data in a backup.
type Group struct {
	Kind   string `json:"kind"`   // KindStream, KindView or KindTable
	Object string `json:"object"` // the stream, view or table
	Shard  int    `json:"shard"`
	Key    string `json:"key"`    // the SST's object key on the disk
	Size   int64  `json:"size"`   // the SST's bytes
	SHA256 string `json:"sha256"` // hex SHA-256 of the SST
	Keys   int    `json:"keys"`   // keys in the SST
	// ObjectID is the object's id in the backed-up cluster (an
	// incremental backup builds on a group only of the same object).
	ObjectID uint64 `json:"object_id"`
	// Streams: the shard's events in this backup are [From, End). Full:
	// From is the shard's first kept offset (the group holds all it had);
	// else the events follow those of the same shard in the base backup.
	From uint64 `json:"from,omitempty"`
	End  uint64 `json:"end,omitempty"`
	Full bool   `json:"full,omitempty"`
	// Views: per source stream shard, the offsets the state covers.
	Offsets []uint64 `json:"offsets,omitempty"`
}

// Manifest describes one backup. It is written last: a backup without a
// manifest does not exist.
type Manifest struct {
	ID          string  `json:"id"`
	Time        int64   `json:"time"` // unix µs: when the backup started
	End         int64   `json:"end"`  // unix µs: when its manifest was written
	Scope       Scope   `json:"scope"`
	Incremental bool    `json:"incremental,omitempty"`
	Base        string  `json:"base,omitempty"` // the backup an incremental one builds on
	Catalog     string  `json:"catalog"`        // object key of the catalog (JSON)
	ClusterID   string  `json:"cluster_id,omitempty"`
	Groups      []Group `json:"groups"`
}

// Bytes is the total size of the backup's SSTs.
func (m *Manifest) Bytes() int64 {
	var n int64
	for _, g := range m.Groups {
		n += g.Size
	}
	return n
}

// NewID returns a backup id for a backup started at t: sortable by time.
func NewID(t time.Time) string {
	return t.UTC().Format("20060102T150405.000000Z")
}

// ManifestKey, CatalogKey and GroupKey are the object keys of a backup.
func ManifestKey(id string) string { return Prefix + id + "/manifest.json" }

// CatalogKey is the key of the backup's catalog.
func CatalogKey(id string) string { return Prefix + id + "/catalog.json" }

// GroupKey is the key of the SST of shard shard of object id objID.
func GroupKey(id, kind string, objID uint64, shard int) string {
	return fmt.Sprintf("%s%s/%s-%d-%d.sst", Prefix, id, kind, objID, shard)
}

// EncodeManifest and DecodeManifest are the manifest's JSON form.
func EncodeManifest(m *Manifest) ([]byte, error) { return json.MarshalIndent(m, "", "  ") }

// DecodeManifest decodes a manifest read from key.
func DecodeManifest(key string, b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", objstore.ErrCorrupt, key, err)
	}
	if m.ID == "" || ManifestKey(m.ID) != key {
		return nil, fmt.Errorf("%w: %s: manifest of backup %q", objstore.ErrCorrupt, key, m.ID)
	}
	return &m, nil
}

// List returns the backups on store, oldest first. A directory without
// a manifest (a backup that did not finish) is not listed.
func List(ctx context.Context, store objstore.Store) ([]*Manifest, error) {
	keys, err := store.List(ctx, Prefix)
	if err != nil {
		return nil, err
	}
	var out []*Manifest
	for _, k := range keys {
		if !strings.HasSuffix(k, "/manifest.json") || strings.Count(k, "/") != 2 {
			continue
		}
		b, err := store.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		m, err := DecodeManifest(k, b)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Errors of Pick, for the caller to turn into SQLSTATEs.
var (
	ErrNoBackup    = errors.New("no backup")
	ErrBrokenChain = errors.New("broken incremental chain")
)

// Pick chooses the backup to restore among ms (oldest first): the one
// with id id if set, else the newest that started at or before asOf (0:
// the newest), whose scope covers scope. It returns the backup and the
// incremental chain it builds on, full backup first.
func Pick(ms []*Manifest, id string, asOf int64, scope Scope) ([]*Manifest, error) {
	byID := map[string]*Manifest{}
	for _, m := range ms {
		byID[m.ID] = m
	}
	var pick *Manifest
	switch {
	case id != "":
		pick = byID[id]
		if pick == nil {
			return nil, fmt.Errorf("%w with id %q", ErrNoBackup, id)
		}
		if !Covers(pick.Scope, scope) {
			return nil, fmt.Errorf("%w: backup %q holds %s, not %s", ErrNoBackup, id, pick.Scope, scope)
		}
	default:
		for i := len(ms) - 1; i >= 0; i-- {
			m := ms[i]
			if (asOf == 0 || m.Time <= asOf) && Covers(m.Scope, scope) {
				pick = m
				break
			}
		}
		if pick == nil {
			if asOf != 0 {
				return nil, fmt.Errorf("%w of %s taken at or before %s", ErrNoBackup, scope, time.UnixMicro(asOf).UTC().Format(time.RFC3339Nano))
			}
			return nil, fmt.Errorf("%w of %s", ErrNoBackup, scope)
		}
	}
	chain := []*Manifest{pick}
	for m := pick; m.Incremental; {
		base := byID[m.Base]
		if base == nil {
			return nil, fmt.Errorf("%w: backup %q builds on %q, which is not on the disk", ErrBrokenChain, m.ID, m.Base)
		}
		if len(chain) > 10000 {
			return nil, fmt.Errorf("%w: a cycle at %q", ErrBrokenChain, m.ID)
		}
		chain = append(chain, base)
		m = base
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain, nil
}

// Covers reports whether a backup of scope have holds what want names
// (ALL holds everything; otherwise the same object).
func Covers(have, want Scope) bool {
	if have.Kind == ScopeAll {
		return true
	}
	return have == want
}

// Base returns the backup an incremental backup of scope builds on: the
// newest backup of the same scope (nil when there is none).
func Base(ms []*Manifest, scope Scope) *Manifest {
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].Scope == scope {
			return ms[i]
		}
	}
	return nil
}
