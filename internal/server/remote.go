package server

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/types"
)

// Internal RPCs for data shards: appends go to a shard's leader; stream
// and view shards are read from any replica.
const (
	rpcAppend      = "append"
	rpcStreamScan  = "stream_scan"
	rpcViewRows    = "view_rows"
	rpcViewOffsets = "view_offsets"
)

// An append request is binary, not JSON (it carries a whole batch): the
// group id (8 bytes, big-endian) then a streamsm append command, with its
// batch id.
func encodeAppendRequest(gid uint64, cmd []byte) []byte {
	b := make([]byte, 8, 8+len(cmd))
	binary.BigEndian.PutUint64(b, gid)
	return append(b, cmd...)
}

func decodeAppendRequest(b []byte) (gid uint64, cmd []byte, err error) {
	if len(b) < 8 {
		return 0, nil, pgerr.New(pgerr.ProtocolViolation, "short append request")
	}
	return binary.BigEndian.Uint64(b), b[8:], nil
}

type appendReply struct {
	End    uint64 `json:"end"`
	Leader uint64 `json:"leader,omitempty"` // set when this node is not the leader: who is
	NotHim bool   `json:"not_leader,omitempty"`
}

type scanRequest struct {
	Group     uint64
	From      uint64
	MaxEvents int
	// Linearizable asks for a ReadIndex barrier first (read_from = leader).
	Linearizable bool
}

type scanBatch struct {
	Start  uint64
	Ingest int64
	Data   []byte // encoded batch (types.AppendEncoded)
}

type scanReply struct {
	Batches []scanBatch
	Next    uint64
	End     uint64
	First   uint64
}

type viewRowsRequest struct {
	Group        uint64
	Linearizable bool
}

type viewRow struct {
	Key   []byte
	State []byte
}

type viewRowsReply struct {
	Rows    []viewRow
	Offsets []uint64
}

// Stream scans and view reads between nodes are binary, not JSON: they
// carry encoded batches and view states, which JSON would base64. Each
// message is rpcWireVersion, then its fields in order: integers as
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
const rpcWireVersion byte = 1

const flagLinearizable = 1

// rpcRequest is a data-RPC request; it encodes itself for callReplica.
type rpcRequest interface {
	appendTo(dst []byte) []byte
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

func (r scanRequest) appendTo(dst []byte) []byte {
	dst = append(dst, rpcWireVersion)
	dst = binary.AppendUvarint(dst, r.Group)
	dst = binary.AppendUvarint(dst, r.From)
	dst = binary.AppendVarint(dst, int64(r.MaxEvents))
	return appendFlags(dst, r.Linearizable)
}

func decodeScanRequest(b []byte) (scanRequest, error) {
	w := wireReader{buf: b, what: "stream-scan request"}
	w.version()
	r := scanRequest{Group: w.uvarint(), From: w.uvarint(), MaxEvents: int(w.varint())}
	r.Linearizable = w.flags()
	return r, w.end()
}

func (r *scanReply) appendTo(dst []byte) []byte {
	size := 1 + 4*binary.MaxVarintLen64
	for _, sb := range r.Batches {
		size += 3*binary.MaxVarintLen64 + len(sb.Data)
	}
	dst = slices.Grow(dst, size)
	dst = append(dst, rpcWireVersion)
	dst = binary.AppendUvarint(dst, r.First)
	dst = binary.AppendUvarint(dst, r.End)
	dst = binary.AppendUvarint(dst, r.Next)
	dst = binary.AppendUvarint(dst, uint64(len(r.Batches)))
	for _, sb := range r.Batches {
		dst = binary.AppendUvarint(dst, sb.Start)
		dst = binary.AppendVarint(dst, sb.Ingest)
		dst = appendBytes(dst, sb.Data)
	}
	return dst
}

// decodeScanReply decodes a stream-scan reply; the batches' Data alias b.
func decodeScanReply(b []byte) (scanReply, error) {
	w := wireReader{buf: b, what: "stream-scan reply"}
	w.version()
	r := scanReply{First: w.uvarint(), End: w.uvarint(), Next: w.uvarint()}
	if n := w.count(3); n > 0 {
		r.Batches = make([]scanBatch, n)
		for i := range r.Batches {
			r.Batches[i] = scanBatch{Start: w.uvarint(), Ingest: w.varint(), Data: w.bytes()}
		}
	}
	return r, w.end()
}

func (r viewRowsRequest) appendTo(dst []byte) []byte {
	dst = append(dst, rpcWireVersion)
	dst = binary.AppendUvarint(dst, r.Group)
	return appendFlags(dst, r.Linearizable)
}

func decodeViewRowsRequest(b []byte) (viewRowsRequest, error) {
	w := wireReader{buf: b, what: "view-rows request"}
	w.version()
	r := viewRowsRequest{Group: w.uvarint()}
	r.Linearizable = w.flags()
	return r, w.end()
}

func (r *viewRowsReply) appendTo(dst []byte) []byte {
	size := 1 + (2+len(r.Offsets))*binary.MaxVarintLen64
	for _, row := range r.Rows {
		size += 2*binary.MaxVarintLen64 + len(row.Key) + len(row.State)
	}
	dst = slices.Grow(dst, size)
	dst = append(dst, rpcWireVersion)
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

// decodeViewRowsReply decodes a view-rows reply; keys and states alias b.
func decodeViewRowsReply(b []byte) (viewRowsReply, error) {
	w := wireReader{buf: b, what: "view-rows reply"}
	w.version()
	var r viewRowsReply
	if n := w.count(1); n > 0 {
		r.Offsets = make([]uint64, n)
		for i := range r.Offsets {
			r.Offsets[i] = w.uvarint()
		}
	}
	if n := w.count(2); n > 0 {
		r.Rows = make([]viewRow, n)
		for i := range r.Rows {
			r.Rows[i] = viewRow{Key: w.bytes(), State: w.bytes()}
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
		w.fail("JSON from a node of an older release; this node speaks binary version %d", rpcWireVersion)
	case w.buf[0] != rpcWireVersion:
		w.fail("wire version %d, this node speaks %d", w.buf[0], rpcWireVersion)
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

// handleDataRPC serves the data-shard RPCs; ok is false for other methods.
func (n *Node) handleDataRPC(ctx context.Context, method string, req []byte) (out []byte, ok bool, err error) {
	switch method {
	case rpcAppend:
		gid, cmd, err := decodeAppendRequest(req)
		if err != nil {
			return nil, true, err
		}
		rep, err := n.appendLocal(ctx, gid, cmd)
		if err != nil {
			return nil, true, err
		}
		out, err := json.Marshal(rep)
		return out, true, err
	case rpcStreamScan:
		r, err := decodeScanRequest(req)
		if err != nil {
			return nil, true, err
		}
		g := n.getGroup(r.Group)
		if g == nil || g.stream == nil {
			return nil, true, pgerr.New(pgerr.CannotConnectNow, "stream shard group %d is not on this node", r.Group)
		}
		if err := n.servableReplica(r.Group); err != nil {
			return nil, true, err
		}
		if r.Linearizable {
			if err := n.readIndex(ctx, r.Group); err != nil {
				return nil, true, err
			}
		}
		rep := scanReply{First: g.stream.First()}
		rep.End, _ = g.stream.End()
		from := max(r.From, rep.First)
		next, err := streamsm.Scan(n.store.DB(), raftstore.DataPrefix(r.Group), from, r.MaxEvents, func(start uint64, ingest int64, b *types.Batch) error {
			rep.Batches = append(rep.Batches, scanBatch{Start: start, Ingest: ingest, Data: types.AppendEncoded(nil, b)})
			return nil
		})
		if err != nil {
			return nil, true, err
		}
		if err := n.stillHere(g); err != nil {
			return nil, true, err
		}
		rep.Next = max(next, from)
		return rep.appendTo(nil), true, nil
	case rpcViewRows, rpcViewOffsets:
		r, err := decodeViewRowsRequest(req)
		if err != nil {
			return nil, true, err
		}
		g := n.getGroup(r.Group)
		if g == nil || g.view == nil {
			return nil, true, pgerr.New(pgerr.CannotConnectNow, "view shard group %d is not on this node", r.Group)
		}
		if err := n.servableReplica(r.Group); err != nil {
			return nil, true, err
		}
		if r.Linearizable {
			if err := n.readIndex(ctx, r.Group); err != nil {
				return nil, true, err
			}
		}
		var rep viewRowsReply
		rep.Offsets, _ = g.view.DurableOffsets()
		if method == rpcViewRows {
			err := g.view.Rows(func(key, state []byte) error {
				rep.Rows = append(rep.Rows, viewRow{Key: append([]byte(nil), key...), State: append([]byte(nil), state...)})
				return nil
			})
			if err != nil {
				return nil, true, err
			}
		}
		if err := n.stillHere(g); err != nil {
			return nil, true, err
		}
		return rep.appendTo(nil), true, nil
	}
	return nil, false, nil
}

// stillHere checks, after a read of a local replica, that the replica was
// not deleted meanwhile (moved off this node): whoever deletes one takes
// it out of n.mu.groups first, so if g is still there the read saw all of
// its data. Otherwise the read may have seen part of it, or none, and the
// caller gets a retryable error instead of a silently short result.
func (n *Node) stillHere(g *group) error {
	if n.getGroup(g.id) != g {
		return pgerr.New(pgerr.SerializationFailure, "the replica of group %d on %s was moved off while it was read; retry", g.id, n.cfg.NodeID)
	}
	return nil
}

// servableReplica refuses reads of a replica that is still a learner
// (being added: it may not even have its snapshot yet); the caller then
// tries another replica.
func (n *Node) servableReplica(gid uint64) error {
	if st, ok := n.store.Status(gid); ok && slices.Contains(st.Learners, n.id.RaftID) {
		return pgerr.New(pgerr.CannotConnectNow, "the replica of group %d on %s is still catching up", gid, n.cfg.NodeID)
	}
	return nil
}

// appendLocal proposes an append if this node leads the shard, or says
// who does.
func (n *Node) appendLocal(ctx context.Context, gid uint64, cmd []byte) (*appendReply, error) {
	st, ok := n.store.Status(gid)
	if !ok {
		return nil, pgerr.New(pgerr.SerializationFailure, "stream shard group %d is not on this node; retry", gid)
	}
	if !st.IsLeader {
		return &appendReply{NotHim: true, Leader: st.Leader}, nil
	}
	if rep, ok := n.bugAckWithoutCommit(gid); ok {
		return rep, nil // --unsafe-bug ack-before-commit: never proposed
	}
	res, err := n.store.Propose(ctx, gid, cmd)
	if errors.Is(err, raftstore.ErrNotLeader) {
		st, _ := n.store.Status(gid)
		return &appendReply{NotHim: true, Leader: st.Leader}, nil
	}
	if err != nil {
		return nil, storeErr(err)
	}
	switch r := res.(type) {
	case streamsm.AppendResult:
		return &appendReply{End: r.End}, nil
	case error:
		return nil, pgerr.New(pgerr.InternalError, "append: %v", r)
	}
	return nil, pgerr.New(pgerr.InternalError, "append: unexpected result %T", res)
}

// replicasOf returns the nodes holding group gid.
func (n *Node) replicasOf(gid uint64) []uint64 {
	return n.meta.Catalog().Groups()[gid].Nodes
}

// callReplica calls method on some replica of gid other than this node,
// trying them in turn (from a rotating start) until one answers.
func (n *Node) callReplica(ctx context.Context, gid uint64, method string, req rpcRequest) ([]byte, error) {
	body := req.appendTo(nil)
	nodes := n.replicasOf(gid)
	if len(nodes) == 0 {
		return nil, pgerr.New(pgerr.SerializationFailure, "group %d has no replicas (dropped meanwhile?); retry", gid)
	}
	start := int(n.rr.Add(1))
	var lastErr error
	for i := range nodes {
		id := nodes[(start+i)%len(nodes)]
		if id == n.id.RaftID {
			continue
		}
		if nd := n.meta.Catalog().NodeByID(id); nd != nil && n.liveness(nd) == "dead" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, err := n.tr.Call(cctx, id, method, body)
		cancel()
		if err == nil {
			return out, nil
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no live replica")
	}
	return nil, pgerr.New(pgerr.SerializationFailure, "no replica of group %d answered: %v", gid, lastErr).WithHint("Retry; the shard may be failing over.")
}

// streamShardSource gives a view task the shards of its stream, local
// replicas read from the engine, others over RPC.
type streamShardSource struct {
	n      *Node
	groups []uint64
	// linearizable: remote reads ask for a ReadIndex barrier (read_from =
	// leader); view tasks do not need one.
	linearizable bool
}

func (s *streamShardSource) Shards() int { return len(s.groups) }

// remotePoll is how often a view task polls a stream shard it has no
// replica of.
const remotePoll = 5 * time.Millisecond

func (s *streamShardSource) End(i int) (uint64, <-chan struct{}) {
	if g := s.n.getGroup(s.groups[i]); g != nil && g.stream != nil {
		return g.stream.End()
	}
	// Remote: always worth a look (Scan returns nothing if there is
	// nothing), and wake the task soon to look again. The end a replica
	// last reported is no bound: a lagging follower may have answered, and
	// trusting its end would stop the view at that offset for good.
	ch := make(chan struct{})
	time.AfterFunc(remotePoll, func() { close(ch) })
	return ^uint64(0) >> 1, ch
}

func (s *streamShardSource) Scan(i int, from uint64, max int, fn func(uint64, int64, *types.Batch) error) (uint64, error) {
	gid := s.groups[i]
	// A local replica serves view tasks, unless it is still a learner. A
	// linearizable reader pages through a remote replica even if one
	// appears here meanwhile (a replica being added mid-read): reading it
	// without a barrier cut the read short.
	if g := s.n.getGroup(gid); g != nil && g.stream != nil && !s.linearizable && s.n.servableReplica(gid) == nil {
		return streamsm.Scan(s.n.store.DB(), raftstore.DataPrefix(gid), from, max, fn)
	}
	ctx, cancel := context.WithTimeout(s.n.ctx, 10*time.Second)
	defer cancel()
	out, err := s.n.callReplica(ctx, gid, rpcStreamScan, scanRequest{Group: gid, From: from, MaxEvents: max, Linearizable: s.linearizable})
	if err != nil {
		return from, err
	}
	rep, err := decodeScanReply(out)
	if err != nil {
		return from, err
	}
	var b types.Batch
	next := from
	for _, sb := range rep.Batches {
		if err := types.Decode(sb.Data, &b); err != nil {
			return next, err
		}
		if err := fn(sb.Start, sb.Ingest, &b); err != nil {
			return next, err
		}
		next = sb.Start + uint64(b.N)
	}
	if len(rep.Batches) == 0 {
		return from, nil
	}
	return next, nil
}

// readIndex is a linearizable read barrier on a local replica. A replica
// that does not know its leader yet (just restarted, or an election under
// way) is given up to 3 s before the statement fails with 40001.
func (n *Node) readIndex(ctx context.Context, gid uint64) error {
	if n.bugSkipReadIndex(gid) {
		return nil // --unsafe-bug stale-read: no barrier
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := n.store.ReadIndex(ctx, gid)
		if err == nil {
			return nil
		}
		if !errors.Is(err, raftstore.ErrNotLeader) || time.Now().After(deadline) {
			return storeErr(err)
		}
		select {
		case <-ctx.Done():
			return storeErr(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
