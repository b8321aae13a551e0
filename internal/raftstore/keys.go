package raftstore

import "encoding/binary"

// Key layout (all big-endian so that byte order equals numeric order):
//
//	r <gid:8> a            applied state: applied index, term of that entry
//	r <gid:8> c            conf state (protobuf)
//	r <gid:8> h            hard state (protobuf)
//	r <gid:8> l <index:8>  raft log entry (protobuf)
//	r <gid:8> t            truncated state: index, term of the last compacted entry
//	d <gid:8> <suffix>     state-machine data, owned by the group's StateMachine
//	z <gid:8>              tombstone of a destroyed group
//	~ <gid:8> <suffix>     stream data written once (StreamPrefix), by ingestion only
//
// A group's raft state and its data are two contiguous ranges, so destroying
// or snapshotting a group is a range operation.
const (
	prefixRaft = 'r'
	prefixData = 'd'
	prefixTomb = 'z'
	// prefixStream sorts after every other key, so that no file flushed
	// from the memtable spans stream data (see StreamPrefix).
	prefixStream = '~'

	suffixApplied   = 'a'
	suffixConfState = 'c'
	suffixHardState = 'h'
	suffixLog       = 'l'
	suffixTruncated = 't'
)

func groupKey(prefix byte, gid uint64, extra int) []byte {
	k := make([]byte, 9, 9+extra)
	k[0] = prefix
	binary.BigEndian.PutUint64(k[1:], gid)
	return k
}

// DataPrefix returns the prefix of the group's state-machine key range.
// State machines write only keys that start with it.
func DataPrefix(gid uint64) []byte { return groupKey(prefixData, gid, 0) }

// DataKey returns the state-machine key suffix inside the group's range.
func DataKey(gid uint64, suffix []byte) []byte {
	return append(groupKey(prefixData, gid, len(suffix)), suffix...)
}

// StreamPrefix returns the prefix of the group's write-once key range: a
// stream shard's batches, written only by ingesting SSTs (IngestSorted) and
// dropped only by Excise, never through a batch. Every other key sorts
// before this region, so no memtable flush or compaction of other keys
// spans it and its files stay at the bottom of the LSM, never rewritten.
// The range is part of the group's data: destroy and snapshots cover it.
func StreamPrefix(gid uint64) []byte { return groupKey(prefixStream, gid, 0) }

// streamSpan returns [start, end) of the group's write-once range.
func streamSpan(gid uint64) (start, end []byte) {
	start = StreamPrefix(gid)
	return start, prefixEnd(start)
}

// dataSpan returns [start, end) of the group's data range.
func dataSpan(gid uint64) (start, end []byte) {
	start = DataPrefix(gid)
	return start, prefixEnd(start)
}

// raftSpan returns [start, end) of the group's raft state (log, hard state, ...).
func raftSpan(gid uint64) (start, end []byte) {
	start = groupKey(prefixRaft, gid, 0)
	return start, prefixEnd(start)
}

func raftStateKey(gid uint64, suffix byte) []byte {
	return append(groupKey(prefixRaft, gid, 1), suffix)
}

func logKey(gid, index uint64) []byte {
	k := append(groupKey(prefixRaft, gid, 9), suffixLog)
	return binary.BigEndian.AppendUint64(k, index)
}

func tombstoneKey(gid uint64) []byte { return groupKey(prefixTomb, gid, 0) }

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] != 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // p is all 0xff: no upper bound
}

// encodeIndexTerm encodes an (index, term) pair, used for the applied and
// truncated states.
func encodeIndexTerm(index, term uint64) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, index)
	binary.BigEndian.PutUint64(b[8:], term)
	return b
}

func decodeIndexTerm(b []byte) (index, term uint64, ok bool) {
	if len(b) != 16 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:]), true
}
