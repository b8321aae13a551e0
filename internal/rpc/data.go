package rpc

import (
	"encoding/binary"
	"slices"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Data RPCs: appends go to a shard's leader; stream
// and view shards are read from any replica.
const (
	Append      = "append"
	StreamScan  = "stream_scan"
	ViewRows    = "view_rows"
	ViewOffsets = "view_offsets"
)

// An append request is binary, not JSON (it carries a whole batch): the
// group id (8 bytes, big-endian) then a streamsm append command, with its
// batch id.
func EncodeAppend(gid uint64, cmd []byte) []byte {
	b := make([]byte, 8, 8+len(cmd))
	binary.BigEndian.PutUint64(b, gid)
	return append(b, cmd...)
}

func DecodeAppend(b []byte) (gid uint64, cmd []byte, err error) {
	if len(b) < 8 {
		return 0, nil, pgerr.New(pgerr.ProtocolViolation, "short append request")
	}
	return binary.BigEndian.Uint64(b), b[8:], nil
}

type AppendReply struct {
	End    uint64 `json:"end"`
	Leader uint64 `json:"leader,omitempty"` // set when this node is not the leader: who is
	NotHim bool   `json:"not_leader,omitempty"`
}

type ScanRequest struct {
	Group     uint64
	From      uint64
	MaxEvents int
	// Linearizable asks for a ReadIndex barrier first (read_from = leader).
	Linearizable bool
}

type ScanBatch struct {
	Start  uint64
	Ingest int64
	Data   []byte // encoded batch (types.AppendEncoded)
	// Targets is the batch's encoded target set (streamsm.Targets; empty:
	// every view). It travels in a trailer after the batches, present
	// only when some batch has one, so replies without targets are as
	// before.
	Targets []byte
}

type ScanReply struct {
	Batches []ScanBatch
	Next    uint64
	End     uint64
	First   uint64
}

type ViewRowsRequest struct {
	Group        uint64
	Linearizable bool
}

type ViewRow struct {
	Key   []byte
	State []byte
}

type ViewRowsReply struct {
	Rows    []ViewRow
	Offsets []uint64
}

// Stream scans and view reads between nodes are binary, not JSON: they
// carry encoded batches and view states, which JSON would base64. Each
// message is WireVersion, then its fields in order: integers as
// uvarints (ingest times and max_events as zigzag varints), byte strings
// as a uvarint length then the bytes, lists as a uvarint count then the
// items:
//
//	scan request:      version group from max_events flags
//	scan reply:        version first end next n n×(start ingest batch)
//	view-rows request: version group flags
//	view-rows reply:   version n n×offset m m×(key state)
//
// flags is one byte, bit 0 = linearizable; batch is the columnar encoding
// of types.AppendEncoded, carried as is. A message of another version (an
// older node's JSON starts with '{') is refused with an error, never
// misread, and so is any malformed or truncated message.
const WireVersion byte = 1

const flagLinearizable = 1

// Request is a data-RPC request; it encodes itself for callReplica.
type Request interface {
	AppendTo(dst []byte) []byte
}

func appendFlags(dst []byte, linearizable bool) []byte {
	if linearizable {
		return append(dst, flagLinearizable)
	}
	return append(dst, 0)
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

func (r ScanRequest) AppendTo(dst []byte) []byte {
	dst = append(dst, WireVersion)
	dst = binary.AppendUvarint(dst, r.Group)
	dst = binary.AppendUvarint(dst, r.From)
	dst = binary.AppendVarint(dst, int64(r.MaxEvents))
	return appendFlags(dst, r.Linearizable)
}

func DecodeScanRequest(b []byte) (ScanRequest, error) {
	w := wireReader{buf: b, what: "stream-scan request"}
	w.version()
	r := ScanRequest{Group: w.uvarint(), From: w.uvarint(), MaxEvents: int(w.varint())}
	r.Linearizable = w.flags()
	return r, w.end()
}

func (r *ScanReply) AppendTo(dst []byte) []byte {
	size := 1 + 4*binary.MaxVarintLen64
	for _, sb := range r.Batches {
		size += 3*binary.MaxVarintLen64 + len(sb.Data)
	}
	dst = slices.Grow(dst, size)
	dst = append(dst, WireVersion)
	dst = binary.AppendUvarint(dst, r.First)
	dst = binary.AppendUvarint(dst, r.End)
	dst = binary.AppendUvarint(dst, r.Next)
	dst = binary.AppendUvarint(dst, uint64(len(r.Batches)))
	targeted := 0
	for _, sb := range r.Batches {
		dst = binary.AppendUvarint(dst, sb.Start)
		dst = binary.AppendVarint(dst, sb.Ingest)
		dst = appendBytes(dst, sb.Data)
		if len(sb.Targets) > 0 {
			targeted++
		}
	}
	if targeted > 0 {
		dst = binary.AppendUvarint(dst, uint64(targeted))
		for i, sb := range r.Batches {
			if len(sb.Targets) > 0 {
				dst = binary.AppendUvarint(dst, uint64(i))
				dst = appendBytes(dst, sb.Targets)
			}
		}
	}
	return dst
}

// DecodeScanReply decodes a stream-scan reply; the batches' Data alias b.
func DecodeScanReply(b []byte) (ScanReply, error) {
	w := wireReader{buf: b, what: "stream-scan reply"}
	w.version()
	r := ScanReply{First: w.uvarint(), End: w.uvarint(), Next: w.uvarint()}
	if n := w.count(3); n > 0 {
		r.Batches = make([]ScanBatch, n)
		for i := range r.Batches {
			r.Batches[i] = ScanBatch{Start: w.uvarint(), Ingest: w.varint(), Data: w.bytes()}
		}
	}
	if len(w.buf) > 0 && w.err == nil { // the target-set trailer
		n := w.count(2)
		if n == 0 {
			w.fail("empty target-set trailer")
		}
		for ; n > 0; n-- {
			i := w.uvarint()
			t := w.bytes()
			if i >= uint64(len(r.Batches)) {
				w.fail("target set for batch %d of %d", i, len(r.Batches))
				break
			}
			r.Batches[i].Targets = t
		}
	}
	return r, w.end()
}

func (r ViewRowsRequest) AppendTo(dst []byte) []byte {
	dst = append(dst, WireVersion)
	dst = binary.AppendUvarint(dst, r.Group)
	return appendFlags(dst, r.Linearizable)
}

func DecodeViewRowsRequest(b []byte) (ViewRowsRequest, error) {
	w := wireReader{buf: b, what: "view-rows request"}
	w.version()
	r := ViewRowsRequest{Group: w.uvarint()}
	r.Linearizable = w.flags()
	return r, w.end()
}

func (r *ViewRowsReply) AppendTo(dst []byte) []byte {
	size := 1 + (2+len(r.Offsets))*binary.MaxVarintLen64
	for _, row := range r.Rows {
		size += 2*binary.MaxVarintLen64 + len(row.Key) + len(row.State)
	}
	dst = slices.Grow(dst, size)
	dst = append(dst, WireVersion)
	dst = binary.AppendUvarint(dst, uint64(len(r.Offsets)))
	for _, o := range r.Offsets {
		dst = binary.AppendUvarint(dst, o)
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.Rows)))
	for _, row := range r.Rows {
		dst = appendBytes(dst, row.Key)
		dst = appendBytes(dst, row.State)
	}
	return dst
}

// DecodeViewRowsReply decodes a view-rows reply; keys and states alias b.
func DecodeViewRowsReply(b []byte) (ViewRowsReply, error) {
	w := wireReader{buf: b, what: "view-rows reply"}
	w.version()
	var r ViewRowsReply
	if n := w.count(1); n > 0 {
		r.Offsets = make([]uint64, n)
		for i := range r.Offsets {
			r.Offsets[i] = w.uvarint()
		}
	}
	if n := w.count(2); n > 0 {
		r.Rows = make([]ViewRow, n)
		for i := range r.Rows {
			r.Rows[i] = ViewRow{Key: w.bytes(), State: w.bytes()}
		}
	}
	return r, w.end()
}

// wireReader decodes one binary RPC message. The first error sticks:
// later reads return zero values, and end reports it.
type wireReader struct {
	buf  []byte
	what string // the message, for errors
	err  error
}

func (w *wireReader) fail(format string, args ...any) {
	if w.err == nil {
		w.err = pgerr.New(pgerr.ProtocolViolation, "%s: "+format, append([]any{w.what}, args...)...)
	}
	w.buf = nil
}

func (w *wireReader) version() {
	switch {
	case len(w.buf) == 0:
		w.fail("empty message")
	case w.buf[0] == '{':
		w.fail("JSON from a node of an older release; this node speaks binary version %d", WireVersion)
	case w.buf[0] != WireVersion:
		w.fail("wire version %d, this node speaks %d", w.buf[0], WireVersion)
	default:
		w.buf = w.buf[1:]
	}
}

func (w *wireReader) uvarint() uint64 {
	v, k := binary.Uvarint(w.buf)
	if k <= 0 {
		w.fail("truncated or malformed integer")
		return 0
	}
	w.buf = w.buf[k:]
	return v
}

func (w *wireReader) varint() int64 {
	v, k := binary.Varint(w.buf)
	if k <= 0 {
		w.fail("truncated or malformed integer")
		return 0
	}
	w.buf = w.buf[k:]
	return v
}

func (w *wireReader) flags() bool {
	if len(w.buf) == 0 {
		w.fail("truncated flags")
		return false
	}
	f := w.buf[0]
	w.buf = w.buf[1:]
	if f&^flagLinearizable != 0 {
		w.fail("unknown flags %#x", f)
	}
	return f&flagLinearizable != 0
}

// count reads a list length whose items take at least minBytes bytes each, so
// a corrupt count cannot make the decoder allocate more than the message
// could hold.
func (w *wireReader) count(minBytes int) int {
	n := w.uvarint()
	if n > uint64(len(w.buf)/minBytes) {
		w.fail("list of %d items in %d bytes", n, len(w.buf))
		return 0
	}
	return int(n)
}

func (w *wireReader) bytes() []byte {
	n := w.uvarint()
	if n > uint64(len(w.buf)) {
		w.fail("byte string of %d bytes in %d", n, len(w.buf))
		return nil
	}
	b := w.buf[:n:n]
	w.buf = w.buf[n:]
	return b
}

// end returns the first error, or one if bytes are left over.
func (w *wireReader) end() error {
	if w.err == nil && len(w.buf) != 0 {
		w.fail("%d trailing bytes", len(w.buf))
	}
	return w.err
}
