package rpc

import "encoding/binary"

// Scheduled views (issue 13): reads go to the view's owner node.
const (
	// SchedViewRows reads a scheduled view's rows and offsets from its
	// owner (SchedRowsRequest → ViewRowsReply).
	SchedViewRows = "sched_view_rows"
	// SchedStatus returns the scheduled views a node runs (JSON
	// []SchedViewStatus).
	SchedStatus = "sched_status"
)

// SchedRowsRequest asks the owner of scheduled view View at epoch Epoch
// for its rows (OffsetsOnly: only its offsets). Binary like the other
// view reads:
//
//	version view epoch flags
//
// flags bit 1 = offsets only.
type SchedRowsRequest struct {
	View, Epoch uint64
	OffsetsOnly bool
}

const flagOffsetsOnly = 2

func (r SchedRowsRequest) AppendTo(dst []byte) []byte {
	dst = append(dst, WireVersion)
	dst = binary.AppendUvarint(dst, r.View)
	dst = binary.AppendUvarint(dst, r.Epoch)
	if r.OffsetsOnly {
		return append(dst, flagOffsetsOnly)
	}
	return append(dst, 0)
}

func DecodeSchedRowsRequest(b []byte) (SchedRowsRequest, error) {
	w := wireReader{buf: b, what: "scheduled-view rows request"}
	w.version()
	r := SchedRowsRequest{View: w.uvarint(), Epoch: w.uvarint()}
	if len(w.buf) == 0 {
		w.fail("truncated flags")
	} else {
		f := w.buf[0]
		w.buf = w.buf[1:]
		if f&^flagOffsetsOnly != 0 {
			w.fail("unknown flags %#x", f)
		}
		r.OffsetsOnly = f&flagOffsetsOnly != 0
	}
	return r, w.end()
}

// SchedViewStatus is one scheduled view as its owner runs it.
type SchedViewStatus struct {
	View   string `json:"view"`
	ViewID uint64 `json:"view_id"`
	Node   uint64 `json:"node"` // the owner (the node answering)
	Epoch  uint64 `json:"epoch"`
	// Offsets are the source offsets folded so far (nil while loading).
	Offsets []uint64 `json:"offsets,omitempty"`
	// LagSeconds is the age of the oldest event not folded yet and
	// EventsBehind how many events are not folded (both 0 when caught up).
	LagSeconds   float64 `json:"lag_seconds"`
	EventsBehind int64   `json:"events_behind"`
	// Running: the state is loaded and the view task folds.
	Running bool `json:"running"`
	// CheckpointSeq and CheckpointAt are this owner's last committed
	// checkpoint (0 before its first).
	CheckpointSeq uint64 `json:"checkpoint_seq,omitempty"`
	CheckpointAt  int64  `json:"checkpoint_at,omitempty"`
	// CheckpointOffsets are the offsets that checkpoint covers.
	CheckpointOffsets []uint64 `json:"checkpoint_offsets,omitempty"`
	// Err is the last error loading, folding or checkpointing ("" when
	// all is well); the owner retries.
	Err string `json:"err,omitempty"`
}
