package sched

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/cairndb/cairn/internal/objstore"
	"github.com/cairndb/cairn/internal/viewsm"
)

// A checkpoint of a scheduled view is a manifest and the parts it
// names, all under Prefix(view id) on the view's disk:
//
//	views/<id>/<epoch 16 hex>-<seq 16 hex>.manifest
//	views/<id>/<epoch 16 hex>-<seq 16 hex>.base    every row
//	views/<id>/<epoch 16 hex>-<seq 16 hex>.delta   rows changed, keys deleted
//
// A manifest lists a base part and the delta parts written on top of
// it, oldest first; loading applies them in order. Each object is
// written once under a name holding the writer's epoch, so an owner
// never overwrites another epoch's objects, and only the catalog's
// RecordCheckpoint makes a manifest the view's checkpoint.

// Prefix is the object prefix of view id's checkpoints.
func Prefix(viewID uint64) string { return "views/" + strconv.FormatUint(viewID, 10) + "/" }

// Object kinds (the key's suffix).
const (
	kindManifest = "manifest"
	kindBase     = "base"
	kindDelta    = "delta"
)

// ObjectKey names an object of view viewID written at (epoch, seq).
func ObjectKey(viewID, epoch, seq uint64, kind string) string {
	return fmt.Sprintf("%s%016x-%016x.%s", Prefix(viewID), epoch, seq, kind)
}

// parseKey reads (epoch, seq, kind) back from an object key of view id.
func parseKey(viewID uint64, key string) (epoch, seq uint64, kind string, ok bool) {
	rest, ok := strings.CutPrefix(key, Prefix(viewID))
	if !ok || len(rest) < 34 || rest[16] != '-' || rest[33] != '.' {
		return 0, 0, "", false
	}
	e, err1 := strconv.ParseUint(rest[:16], 16, 64)
	s, err2 := strconv.ParseUint(rest[17:33], 16, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, "", false
	}
	return e, s, rest[34:], true
}

// PartRef names one part of a checkpoint.
type PartRef struct {
	Key   string
	Full  bool  // a base (every row); else a delta on top of the parts before it
	Rows  int   // rows (and deleted keys) it holds
	Bytes int64 // its encoded size
}

// Manifest describes one checkpoint.
type Manifest struct {
	ViewID, Epoch, Seq uint64
	At                 int64    // when its state was captured (unix µs)
	Offsets            []uint64 // the source offsets the state covers
	Window             []byte   // the encoded window state (viewsm)
	Parts              []PartRef
	Final              bool // written by an owner handing the view off
}

// Part holds rows of a checkpoint: all of them (a base) or the changes
// since the previous part (a delta: rows changed, keys deleted).
type Part struct {
	ViewID, Epoch, Seq uint64
	Full               bool
	Rows               []viewsm.Row
	Deleted            [][]byte
}

var (
	manifestMagic = []byte("CKMF1")
	partMagic     = []byte("CKPT1")
)

// EncodeManifest encodes m.
func EncodeManifest(m *Manifest) []byte {
	b := append([]byte(nil), manifestMagic...)
	b = binary.AppendUvarint(b, m.ViewID)
	b = binary.AppendUvarint(b, m.Epoch)
	b = binary.AppendUvarint(b, m.Seq)
	b = binary.AppendVarint(b, m.At)
	b = appendBool(b, m.Final)
	b = binary.AppendUvarint(b, uint64(len(m.Offsets)))
	for _, o := range m.Offsets {
		b = binary.AppendUvarint(b, o)
	}
	b = appendBytes(b, m.Window)
	b = binary.AppendUvarint(b, uint64(len(m.Parts)))
	for _, p := range m.Parts {
		b = appendBytes(b, []byte(p.Key))
		b = appendBool(b, p.Full)
		b = binary.AppendUvarint(b, uint64(p.Rows))
		b = binary.AppendUvarint(b, uint64(p.Bytes))
	}
	return b
}

// DecodeManifest decodes a manifest; a malformed one is objstore.ErrCorrupt.
func DecodeManifest(key string, b []byte) (*Manifest, error) {
	r := reader{key: key, buf: b}
	r.magic(manifestMagic)
	m := &Manifest{ViewID: r.uvarint(), Epoch: r.uvarint(), Seq: r.uvarint(), At: r.varint(), Final: r.bool()}
	if n := r.count(1); n > 0 {
		m.Offsets = make([]uint64, n)
		for i := range m.Offsets {
			m.Offsets[i] = r.uvarint()
		}
	}
	m.Window = r.bytes()
	if n := r.count(4); n > 0 {
		m.Parts = make([]PartRef, n)
		for i := range m.Parts {
			m.Parts[i] = PartRef{Key: string(r.bytes()), Full: r.bool(), Rows: int(r.uvarint()), Bytes: int64(r.uvarint())}
		}
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	if len(m.Parts) == 0 || !m.Parts[0].Full {
		return nil, fmt.Errorf("%w: %s: the manifest does not start with a base part", objstore.ErrCorrupt, key)
	}
	return m, nil
}

// EncodePart encodes p.
func EncodePart(p *Part) []byte {
	size := 64
	for _, r := range p.Rows {
		size += len(r.Key) + len(r.State) + 8
	}
	b := make([]byte, 0, size)
	b = append(b, partMagic...)
	b = binary.AppendUvarint(b, p.ViewID)
	b = binary.AppendUvarint(b, p.Epoch)
	b = binary.AppendUvarint(b, p.Seq)
	b = appendBool(b, p.Full)
	b = binary.AppendUvarint(b, uint64(len(p.Rows)))
	for _, r := range p.Rows {
		b = appendBytes(b, r.Key)
		b = appendBytes(b, r.State)
	}
	b = binary.AppendUvarint(b, uint64(len(p.Deleted)))
	for _, k := range p.Deleted {
		b = appendBytes(b, k)
	}
	return b
}

// DecodePart decodes a part; keys and states alias b.
func DecodePart(key string, b []byte) (*Part, error) {
	r := reader{key: key, buf: b}
	r.magic(partMagic)
	p := &Part{ViewID: r.uvarint(), Epoch: r.uvarint(), Seq: r.uvarint(), Full: r.bool()}
	if n := r.count(2); n > 0 {
		p.Rows = make([]viewsm.Row, n)
		for i := range p.Rows {
			p.Rows[i] = viewsm.Row{Key: r.bytes(), State: r.bytes()}
		}
	}
	if n := r.count(1); n > 0 {
		p.Deleted = make([][]byte, n)
		for i := range p.Deleted {
			p.Deleted[i] = r.bytes()
		}
	}
	return p, r.end()
}

// Load reads the checkpoint whose manifest is under key: the manifest
// and the rows its parts add up to. Any object missing, altered or not
// of this view is an error (objstore.ErrNotFound, objstore.ErrCorrupt).
func Load(ctx context.Context, st objstore.Store, viewID uint64, key string) (*Manifest, map[string][]byte, error) {
	b, err := st.Get(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	m, err := DecodeManifest(key, b)
	if err != nil {
		return nil, nil, err
	}
	if m.ViewID != viewID {
		return nil, nil, fmt.Errorf("%w: %s is a checkpoint of view id %d, not %d", objstore.ErrCorrupt, key, m.ViewID, viewID)
	}
	rows := map[string][]byte{}
	for i, ref := range m.Parts {
		b, err := st.Get(ctx, ref.Key)
		if err != nil {
			return nil, nil, fmt.Errorf("checkpoint %s: part %s: %w", key, ref.Key, err)
		}
		p, err := DecodePart(ref.Key, b)
		if err != nil {
			return nil, nil, err
		}
		if p.ViewID != viewID || p.Full != ref.Full || (i == 0) != p.Full {
			return nil, nil, fmt.Errorf("%w: %s does not match its manifest %s", objstore.ErrCorrupt, ref.Key, key)
		}
		for _, r := range p.Rows {
			rows[string(r.Key)] = r.State
		}
		for _, k := range p.Deleted {
			delete(rows, string(k))
		}
	}
	return m, rows, nil
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// reader decodes an object; the first error sticks.
type reader struct {
	key string
	buf []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s", objstore.ErrCorrupt, r.key, what)
	}
	r.buf = nil
}

func (r *reader) magic(m []byte) {
	if len(r.buf) < len(m) || string(r.buf[:len(m)]) != string(m) {
		r.fail("not a checkpoint object of this version")
		return
	}
	r.buf = r.buf[len(m):]
}

func (r *reader) uvarint() uint64 {
	v, k := binary.Uvarint(r.buf)
	if k <= 0 {
		r.fail("truncated or malformed integer")
		return 0
	}
	r.buf = r.buf[k:]
	return v
}

func (r *reader) varint() int64 {
	v, k := binary.Varint(r.buf)
	if k <= 0 {
		r.fail("truncated or malformed integer")
		return 0
	}
	r.buf = r.buf[k:]
	return v
}

func (r *reader) bool() bool {
	if len(r.buf) == 0 || r.buf[0] > 1 {
		r.fail("malformed flag")
		return false
	}
	v := r.buf[0] == 1
	r.buf = r.buf[1:]
	return v
}

// count reads a list length whose items take at least minBytes each.
func (r *reader) count(minBytes int) int {
	n := r.uvarint()
	if n > uint64(len(r.buf)/minBytes) {
		r.fail("list longer than the object")
		return 0
	}
	return int(n)
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.buf)) {
		r.fail("byte string longer than the object")
		return nil
	}
	b := r.buf[:n:n]
	r.buf = r.buf[n:]
	return b
}

func (r *reader) end() error {
	if r.err == nil && len(r.buf) > 0 {
		r.fail("trailing bytes")
	}
	return r.err
}
