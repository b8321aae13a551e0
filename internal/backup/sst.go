package backup

import (
	"bytes"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// A group's data in a backup is one Pebble SST file: the keys of the
// group's data range without the group prefix (so a restore can put
// them under a new group id), in key order. Pebble's own block
// checksums guard the file; the object store's SHA-256 guards the object.

// SSTWriter builds an SST in memory.
type SSTWriter struct {
	fs   vfs.FS
	w    *sstable.Writer
	n    int
	last []byte
}

// NewSSTWriter returns a writer of an empty SST.
func NewSSTWriter() (*SSTWriter, error) {
	fs := vfs.NewMem()
	f, err := fs.Create("t.sst", vfs.WriteCategoryUnspecified)
	if err != nil {
		return nil, err
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), sstable.WriterOptions{})
	return &SSTWriter{fs: fs, w: w}, nil
}

// Set adds a key; keys must come in increasing order.
func (s *SSTWriter) Set(k, v []byte) error {
	if s.n > 0 && bytes.Compare(k, s.last) <= 0 {
		return fmt.Errorf("backup: sst keys out of order: %x after %x", k, s.last)
	}
	s.last = append(s.last[:0], k...)
	s.n++
	return s.w.Set(k, v)
}

// Len is the number of keys set.
func (s *SSTWriter) Len() int { return s.n }

// Finish closes the SST and returns its bytes.
func (s *SSTWriter) Finish() ([]byte, error) {
	if err := s.w.Close(); err != nil {
		return nil, err
	}
	f, err := s.fs.Open("t.sst")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// ScanSST calls fn with every key and value of the SST in data, in key
// order (the slices are valid during the call only).
func ScanSST(data []byte, fn func(k, v []byte) error) (err error) {
	r, err := sstable.NewMemReader(data, sstable.ReaderOptions{})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorruptSST, err)
	}
	defer r.Close()
	it, err := r.NewIter(sstable.NoTransforms, nil, nil, sstable.AssertNoBlobHandles)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrCorruptSST, err)
	}
	defer func() {
		if cerr := it.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("%w: %v", ErrCorruptSST, cerr)
		}
	}()
	var buf []byte
	for kv := it.First(); kv != nil; kv = it.Next() {
		v, _, verr := kv.Value(buf)
		if verr != nil {
			return fmt.Errorf("%w: %v", ErrCorruptSST, verr)
		}
		if err := fn(kv.K.UserKey, v); err != nil {
			return err
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("%w: %v", ErrCorruptSST, err)
	}
	return nil
}
