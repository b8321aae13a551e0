package node

import (
	"encoding/json"
	"net/http"
)

// PebbleStats are the engine's write figures, for `cairn bench` (issue 14:
// how many bytes compaction rewrites against what is written in).
type PebbleStats struct {
	WALBytes       uint64  `json:"wal_bytes"`       // written to the WAL
	FlushedBytes   uint64  `json:"flushed_bytes"`   // memtable flushes
	CompactedBytes uint64  `json:"compacted_bytes"` // written by compactions
	IngestedBytes  uint64  `json:"ingested_bytes"`  // ingested SSTs (stream write-out)
	WriteAmp       float64 `json:"write_amp"`       // (flushed+compacted+ingested) / (WAL+ingested)
	Text           string  `json:"text"`            // Pebble's own table
}

// servePebble answers GET /debug/pebble with PebbleStats as JSON (behind
// the same handler chain as /debug/pprof).
func (n *Node) servePebble(w http.ResponseWriter, _ *http.Request) {
	m := n.store.DB().Metrics()
	total := m.Total()
	st := PebbleStats{WALBytes: m.WAL.BytesWritten, WriteAmp: total.WriteAmp(), Text: m.String()}
	// Per level: Total's flushed bytes also count the bytes that came in.
	for _, l := range m.Levels {
		st.FlushedBytes += l.TableBytesFlushed
		st.CompactedBytes += l.TableBytesCompacted
		st.IngestedBytes += l.TableBytesIngested
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(st)
}
