package rpc

// BackupGroup asks a node holding a replica of a group to back it up:
// after a ReadIndex barrier it reads the group's data range from one
// Pebble snapshot, writes it as an SST to the disk itself and answers
// with what it wrote.
const BackupGroup = "backup_group"

// BackupGroupRequest is the body of a BackupGroup call.
type BackupGroupRequest struct {
	Group uint64 `json:"group"`
	Kind  string `json:"kind"` // backup.KindStream, KindView or KindTable
	Disk  string `json:"disk"` // the catalog disk to write to
	Key   string `json:"key"`  // the object key of the SST
	// From: a stream shard's events before it are left out (an
	// incremental backup); 0 with Full: all of them.
	From uint64 `json:"from,omitempty"`
	Full bool   `json:"full,omitempty"`
}

// BackupGroupReply says what a BackupGroup call wrote.
type BackupGroupReply struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	Keys   int    `json:"keys"`
	// Streams: the shard's first kept offset and its end offset in the
	// snapshot (the SST holds [max(From, First), End)).
	First uint64 `json:"first"`
	End   uint64 `json:"end"`
	// Views: the offsets the snapshot's state covers.
	Offsets []uint64 `json:"offsets,omitempty"`
}
