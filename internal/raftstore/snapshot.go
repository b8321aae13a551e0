package raftstore

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// snapshotVersion is the first byte of snapshot Data. The rest is a
// sequence of (uvarint len, key suffix, uvarint len, value) for every key in
// the group's data range, in key order, then (version 2) the same for the
// group's write-once stream range, each suffix there led by
// snapStreamMark.
const snapshotVersion = 2

// snapStreamMark leads the suffix of a write-once stream key in snapshot
// data. Data-range suffixes are the state machines' own keys, which never
// start with it (0xff would be past every key the state machines write).
const snapStreamMark = 0xff

func encodeSnapshotData(r pebble.Reader, gid uint64) ([]byte, error) {
	out := []byte{snapshotVersion}
	for i, span := range [2][2][]byte{pair(dataSpan(gid)), pair(streamSpan(gid))} {
		start, end := span[0], span[1]
		it, err := r.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
		if err != nil {
			return nil, err
		}
		for valid := it.First(); valid; valid = it.Next() {
			k := it.Key()[len(start):]
			v, err := it.ValueAndErr()
			if err != nil {
				it.Close()
				return nil, err
			}
			if i == 1 {
				out = binary.AppendUvarint(out, uint64(len(k)+1))
				out = append(out, snapStreamMark)
			} else {
				out = binary.AppendUvarint(out, uint64(len(k)))
			}
			out = append(out, k...)
			out = binary.AppendUvarint(out, uint64(len(v)))
			out = append(out, v...)
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func pair(a, b []byte) [2][]byte { return [2][]byte{a, b} }

// writeSnapshotData replaces the group's data range in wb with the keys in
// data, and calls stream with each write-once stream key (full key) and
// value, in order: the caller ingests those (writeonce.go). Bad input
// returns an error and leaves wb to be discarded.
func writeSnapshotData(wb *pebble.Batch, gid uint64, data []byte, stream func(k, v []byte) error) error {
	start, end := dataSpan(gid)
	if err := wb.DeleteRange(start, end, nil); err != nil {
		return err
	}
	if len(data) == 0 {
		return nil // an empty snapshot carries no data
	}
	if data[0] != snapshotVersion && data[0] != 1 {
		return fmt.Errorf("%w: snapshot version %d", errCorrupt, data[0])
	}
	rest := data[1:]
	next := func() ([]byte, error) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return nil, fmt.Errorf("%w: truncated snapshot", errCorrupt)
		}
		b := rest[w : w+int(n)]
		rest = rest[w+int(n):]
		return b, nil
	}
	for len(rest) > 0 {
		k, err := next()
		if err != nil {
			return err
		}
		v, err := next()
		if err != nil {
			return err
		}
		if data[0] >= 2 && len(k) > 0 && k[0] == snapStreamMark {
			if err := stream(append(StreamPrefix(gid), k[1:]...), v); err != nil {
				return err
			}
			continue
		}
		if err := wb.Set(DataKey(gid, k), v, nil); err != nil {
			return err
		}
	}
	return nil
}

// validateSnapshotData checks the framing of snapshot data received from
// another node, so that a malformed snapshot is dropped before raft accepts it.
func validateSnapshotData(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	if data[0] != snapshotVersion && data[0] != 1 {
		return fmt.Errorf("%w: snapshot version %d", errCorrupt, data[0])
	}
	rest := data[1:]
	for i := 0; len(rest) > 0; i++ {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return fmt.Errorf("%w: truncated snapshot", errCorrupt)
		}
		rest = rest[w+int(n):]
		if i%2 == 0 && len(rest) == 0 {
			return fmt.Errorf("%w: snapshot key without value", errCorrupt)
		}
	}
	return nil
}
