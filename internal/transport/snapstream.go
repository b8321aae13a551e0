package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairndb/cairn/internal/raftstore"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Streamed snapshots: one bidirectional gRPC stream per snapshot attempt,
// on the peer's snapshot connection (never the raft one).
//
//	client → server  header: 1, uvarint gid, marshaled MsgSnap (Data = token)
//	                 chunk:  2, uvarint index, chunk (raftstore encoding)
//	server → client  ack:    3, uvarint next (chunks durably staged), done byte
//
// The server answers the header with where to start (a resumed snapshot:
// the chunks it already staged) and every chunk with an ack once it is
// durably staged; the client keeps at most snapshotWindow chunks unacked,
// so a snapshot in flight holds a small constant of memory on both ends.
// done=1 means the receiver stepped the MsgSnap into its store.
const (
	snapKindHeader = 1
	snapKindChunk  = 2
	snapKindAck    = 3

	// snapshotWindow is how many chunks may be sent and not yet acked.
	snapshotWindow = 2
	// DefaultSnapshotRate is the default of the snapshot_rate setting.
	DefaultSnapshotRate = 64 << 20
)

// SnapshotReceiver may be implemented by a Handler to receive streamed
// snapshots (the node forwards to raftstore.Store.ReceiveSnapshot). A
// Handler without it refuses them.
type SnapshotReceiver interface {
	ReceiveSnapshot(gid uint64, msg *pb.Message) (*raftstore.IncomingSnapshot, error)
}

// SnapshotProgress is one outgoing snapshot in flight.
type SnapshotProgress struct {
	GroupID uint64
	To      uint64 // receiving node
	ID      string // snapshot id (hex)
	Sent    int64  // bytes of chunks acknowledged by the receiver
	Total   int64  // size of the snapshot's key/value pairs (at least Sent; chunk bounds add a little)
	Started time.Time
}

// TestingKnobs hook into the snapshot stream for tests only.
type TestingKnobs struct {
	// BeforeSnapshotChunk is called before chunk index of a snapshot is
	// written to the stream; an error breaks the stream there (as a lost
	// connection would), and the sender resumes.
	BeforeSnapshotChunk func(gid, to uint64, index int) error
	// OnSnapshotResume is told where each attempt of a snapshot started
	// (the chunk the receiver reported it had staged).
	OnSnapshotResume func(gid, to uint64, attempt, next int)
	// MaxSnapshotFrameSize, if set, lowers the largest frame the snapshot
	// streams accept (MaxSnapshotFrameSize).
	MaxSnapshotFrameSize int
	// SnapshotGiveUp, if set, replaces how long a snapshot may make no
	// progress before the sender abandons it (default 30s).
	SnapshotGiveUp time.Duration
}

// snapStats are the transport's snapshot counters and the progress of
// the snapshots it is sending.
type snapStats struct {
	bytesSent, bytesRecv atomic.Uint64 // chunk bytes acked by / staged from peers
	inFlight             atomic.Int64  // outgoing + incoming snapshot streams
	failed               atomic.Uint64 // outgoing snapshots abandoned (raft was told SnapshotFailure)
	maxUnacked           atomic.Int64  // most chunk bytes sent and not yet acked by one stream
	maxBuffered          atomic.Int64  // most chunk bytes received and not yet staged by one stream

	mu       sync.Mutex
	progress map[*SnapshotProgress]bool
}

// SetSnapshotRate sets how many bytes per second all outgoing snapshots of
// this node may send together (0: unlimited). It applies to chunks not yet
// sent, so a change takes effect at once.
func (t *Transport) SetSnapshotRate(bytesPerSec int64) { t.limiter.setRate(bytesPerSec) }

// SnapshotProgress lists the outgoing snapshots in flight.
func (t *Transport) SnapshotProgress() []SnapshotProgress {
	t.snap.mu.Lock()
	defer t.snap.mu.Unlock()
	out := make([]SnapshotProgress, 0, len(t.snap.progress))
	for p := range t.snap.progress {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b SnapshotProgress) int { return a.Started.Compare(b.Started) })
	return out
}

func (t *Transport) snapFrameLimit() int {
	if n := t.cfg.TestingKnobs.MaxSnapshotFrameSize; n > 0 {
		return n
	}
	return MaxSnapshotFrameSize
}

// SendSnapshot implements raftstore.SnapshotStreamer. It streams src to
// msg.To over the peer's snapshot connection, rate limited, resuming a
// broken stream from the chunk the receiver has staged; it gives up after
// a while without progress.
func (t *Transport) SendSnapshot(ctx context.Context, gid uint64, msg *pb.Message, src *raftstore.SnapshotSource) error {
	to := msg.GetTo()
	p := t.peer(to)
	if p == nil {
		return ErrClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(t.ctx, cancel)()
	header := binary.AppendUvarint([]byte{snapKindHeader}, gid)
	header, err := proto.MarshalOptions{}.MarshalAppend(header, msg)
	if err != nil {
		return err
	}
	total, err := src.Size()
	if err != nil {
		return err
	}
	prog := &SnapshotProgress{GroupID: gid, To: to, ID: src.ID, Total: total, Started: time.Now()}
	t.snap.mu.Lock()
	t.snap.progress[prog] = true
	t.snap.mu.Unlock()
	t.snap.inFlight.Add(1)
	defer func() {
		t.snap.inFlight.Add(-1)
		t.snap.mu.Lock()
		delete(t.snap.progress, prog)
		t.snap.mu.Unlock()
	}()
	giveUp := orDefault(t.cfg.TestingKnobs.SnapshotGiveUp, 30*time.Second)
	lastProgress, best, delay := time.Now(), -1, time.Duration(0)
	st := &snapSend{gid: gid, header: header, src: src, prog: prog}
	for attempt := 0; ; attempt++ {
		next, err := t.sendSnapshotAttempt(ctx, p, st, attempt)
		if err == nil {
			t.stats.snapsSent.Add(1)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("snapshot of group %d to node %d: %w", gid, to, ctx.Err())
		}
		if next > best {
			best, lastProgress, delay = next, time.Now(), 0
		}
		if time.Since(lastProgress) > giveUp {
			t.snap.failed.Add(1)
			return fmt.Errorf("snapshot of group %d to node %d: no progress for %v: %w", gid, to, giveUp, err)
		}
		t.log.Info("transport: snapshot stream broken; resuming", "group", gid, "to", to, "staged", next, "err", err)
		delay = min(max(2*delay, 50*time.Millisecond), maxBackoff)
		select {
		case <-time.After(delay/2 + rand.N(delay/2+1)):
		case <-ctx.Done():
			return fmt.Errorf("snapshot of group %d to node %d: %w", gid, to, ctx.Err())
		}
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// snapSend is one outgoing snapshot across its attempts.
type snapSend struct {
	gid    uint64
	header []byte
	src    *raftstore.SnapshotSource
	prog   *SnapshotProgress
	sizes  []int // sizes[i]: bytes of chunk i, for every chunk produced so far
}

// sendSnapshotAttempt runs one stream. It returns how many chunks the
// receiver had staged when it ended (for the give-up clock) and nil once
// the receiver stepped the snapshot.
func (t *Transport) sendSnapshotAttempt(ctx context.Context, p *peer, st *snapSend, attempt int) (int, error) {
	to, gid, src, prog, header := p.id, st.gid, st.src, st.prog, st.header
	if t.cfg.Faults.blocked(t.cfg.NodeID, to) {
		return -1, errors.New("partitioned")
	}
	conn, err := p.snap.conn()
	if err != nil {
		return -1, err
	}
	sctx, cancel := context.WithCancel(t.outgoing(ctx, to))
	defer cancel()
	s, err := conn.NewStream(sctx, &serviceDesc.Streams[2], methodSnapStream)
	if err != nil {
		return -1, err
	}
	if err := s.SendMsg(&frame{b: header}); err != nil {
		return -1, streamErr(s, err)
	}
	next, done, err := recvAck(s)
	if err != nil {
		return -1, err
	}
	if k := t.cfg.TestingKnobs.OnSnapshotResume; k != nil {
		k(gid, to, attempt, next)
	}
	if done {
		return next, nil
	}
	type sent struct{ index, size int }
	var (
		unacked  []sent
		unackedB int64
		i        = next
		lastSent bool
	)
	// Chunks before next are staged there: count them as sent.
	var staged int64
	for _, n := range st.sizes[:min(next, len(st.sizes))] {
		staged += int64(n)
	}
	t.snap.mu.Lock()
	prog.Sent = staged
	prog.Total = max(prog.Total, staged)
	t.snap.mu.Unlock()
	for {
		for !lastSent && len(unacked) < snapshotWindow {
			if t.cfg.Faults.blocked(t.cfg.NodeID, to) {
				return next, errors.New("partitioned")
			}
			data, last, err := src.Chunk(i)
			if err != nil {
				return next, err
			}
			if i == len(st.sizes) {
				st.sizes = append(st.sizes, len(data))
			}
			if err := t.limiter.wait(ctx, len(data)); err != nil {
				return next, err
			}
			if k := t.cfg.TestingKnobs.BeforeSnapshotChunk; k != nil {
				if err := k(gid, to, i); err != nil {
					return next, err
				}
			}
			f := binary.AppendUvarint([]byte{snapKindChunk}, uint64(i))
			f = append(f, data...)
			if err := s.SendMsg(&frame{b: f}); err != nil {
				return next, streamErr(s, err)
			}
			unacked = append(unacked, sent{i, len(data)})
			unackedB += int64(len(data))
			storeMax(&t.snap.maxUnacked, unackedB)
			i++
			lastSent = last
		}
		n, done, err := recvAck(s)
		if err != nil {
			return next, err
		}
		for len(unacked) > 0 && unacked[0].index < n {
			unackedB -= int64(unacked[0].size)
			t.snap.bytesSent.Add(uint64(unacked[0].size))
			t.snap.mu.Lock()
			prog.Sent += int64(unacked[0].size)
			prog.Total = max(prog.Total, prog.Sent)
			t.snap.mu.Unlock()
			unacked = unacked[1:]
		}
		next = n
		if done {
			_ = s.CloseSend()
			return next, nil
		}
	}
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// streamErr returns why a stream's SendMsg failed: on io.EOF the server
// ended the stream and its status says why.
func streamErr(s grpc.ClientStream, err error) error {
	if errors.Is(err, io.EOF) {
		return s.RecvMsg(&frame{})
	}
	return err
}

func recvAck(s grpc.ClientStream) (next int, done bool, err error) {
	var f frame
	if err := s.RecvMsg(&f); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, false, err
	}
	b := f.b
	if len(b) < 3 || b[0] != snapKindAck {
		return 0, false, fmt.Errorf("%w: snapshot ack", errBadFrame)
	}
	n, w := binary.Uvarint(b[1:])
	if w <= 0 || len(b) != 1+w+1 || n > 1<<31 {
		return 0, false, fmt.Errorf("%w: snapshot ack", errBadFrame)
	}
	return int(n), b[1+w] == 1, nil
}

func sendAck(ss grpc.ServerStream, next int, done bool) error {
	b := binary.AppendUvarint([]byte{snapKindAck}, uint64(next))
	if done {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return ss.SendMsg(&frame{b: b})
}

// serveSnapStream receives one snapshot attempt: header, then chunks,
// each staged (synced SST) before it is acked.
func (t *Transport) serveSnapStream(ss grpc.ServerStream) error {
	from, err := t.checkIncoming(ss.Context())
	if err != nil {
		return err
	}
	h, ok := t.cfg.Handler.(SnapshotReceiver)
	if !ok {
		return status.Errorf(codes.Unimplemented, "node %d does not receive snapshots", t.cfg.NodeID)
	}
	var f frame
	if err := ss.RecvMsg(&f); err != nil {
		return err
	}
	if len(f.b) < 2 || f.b[0] != snapKindHeader {
		return status.Error(codes.InvalidArgument, "snapshot stream must start with a header")
	}
	gid, w := binary.Uvarint(f.b[1:])
	if w <= 0 {
		return status.Error(codes.InvalidArgument, "snapshot header: group id")
	}
	msg := new(pb.Message)
	if err := proto.Unmarshal(f.b[1+w:], msg); err != nil || msg.GetType() != pb.MsgSnap || msg.GetFrom() != from {
		return status.Errorf(codes.InvalidArgument, "snapshot header: not a MsgSnap from node %d (%v)", from, err)
	}
	in, err := h.ReceiveSnapshot(gid, msg)
	if err != nil {
		return status.Errorf(codes.FailedPrecondition, "receive snapshot of group %d: %v", gid, err)
	}
	defer in.Release()
	t.snap.inFlight.Add(1)
	defer t.snap.inFlight.Add(-1)
	if in.Complete() {
		// A resumed stream whose chunks all arrived before it broke.
		if err := in.Finish(); err != nil {
			return status.Errorf(codes.FailedPrecondition, "step snapshot of group %d: %v", gid, err)
		}
		return sendAck(ss, in.Next(), true)
	}
	if err := sendAck(ss, in.Next(), false); err != nil {
		return err
	}
	limit := t.snapFrameLimit()
	for {
		var f frame
		if err := ss.RecvMsg(&f); err != nil {
			return err
		}
		// Held until staged: one chunk at a time per stream.
		storeMax(&t.snap.maxBuffered, int64(len(f.b)))
		if len(f.b) > limit {
			return status.Errorf(codes.ResourceExhausted, "snapshot frame of %d bytes exceeds the limit of %d", len(f.b), limit)
		}
		if len(f.b) < 2 || f.b[0] != snapKindChunk {
			return status.Error(codes.InvalidArgument, "snapshot stream: expected a chunk")
		}
		idx, w := binary.Uvarint(f.b[1:])
		if w <= 0 || idx > 1<<31 {
			return status.Error(codes.InvalidArgument, "snapshot chunk index")
		}
		chunk := f.b[1+w:]
		last, err := in.WriteChunk(int(idx), chunk)
		if err != nil {
			t.log.Warn("transport: snapshot chunk refused", "from", from, "group", gid, "chunk", idx, "err", err)
			return status.Errorf(codes.InvalidArgument, "snapshot chunk %d: %v", idx, err)
		}
		t.snap.bytesRecv.Add(uint64(len(chunk)))
		t.stats.bytesRecv.Add(uint64(len(f.b)))
		if last {
			if err := in.Finish(); err != nil {
				return status.Errorf(codes.FailedPrecondition, "step snapshot of group %d: %v", gid, err)
			}
			t.stats.snapsRecv.Add(1)
			return sendAck(ss, in.Next(), true)
		}
		if err := sendAck(ss, in.Next(), false); err != nil {
			return err
		}
	}
}

// limiter paces the bytes of all outgoing snapshots of a transport: each
// send reserves its bytes at the configured rate, after every earlier
// reservation, and waits until its reservation ends, so no more than
// rate x elapsed bytes are ever sent (no burst).
type limiter struct {
	rate atomic.Int64 // bytes per second; 0 = unlimited
	mu   sync.Mutex
	next time.Time // when the last reservation ends
}

func (l *limiter) setRate(r int64) { l.rate.Store(max(r, 0)) }

func (l *limiter) wait(ctx context.Context, n int) error {
	r := l.rate.Load()
	if r <= 0 {
		return nil
	}
	l.mu.Lock()
	now := time.Now()
	start := l.next
	if start.Before(now) {
		start = now
	}
	l.next = start.Add(time.Duration(float64(n) / float64(r) * float64(time.Second)))
	d := l.next.Sub(now)
	l.mu.Unlock()
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
