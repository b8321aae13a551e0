// Package transport carries node-to-node traffic over gRPC: raft messages
// of every group batched into one frame per destination node on a
// long-lived stream per peer, raft snapshots on a second stream (its own
// connection) so they never delay heartbeats, and unary internal RPCs. It
// implements raftstore.Transport. See DESIGN.md in this directory.
package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Config configures a Transport.
type Config struct {
	NodeID uint64 // this node's raft id (== its replica id in every group)
	Addr   string // listen address for ListenAndServe (host:port); Serve takes a listener instead
	// Resolve returns where a peer listens. It is called again on every
	// reconnect and every Call, so a peer that moved is found; it must be
	// safe for concurrent use.
	Resolve func(nodeID uint64) (addr string, ok bool)
	Handler Handler
	Logger  *slog.Logger // nil: discard
	Faults  *Faults      // nil in production; tests inject drops, delays and partitions
	// ServerTLS, when set, makes the server speak only TLS with this
	// config; for mutual TLS it has ClientAuth RequireAndVerifyClientCert
	// and ClientCAs (or a GetConfigForClient giving them), so a peer
	// without a certificate of the cluster CA fails the handshake before
	// any raft message or call reaches the Handler.
	ServerTLS *tls.Config
	// ClientTLS, when set, is what every connection to a peer (both
	// lanes and Call) dials with: it presents this node's certificate
	// and verifies the peer's. Both configs are used as given (callbacks
	// kept), so certificates they reload take effect on new connections.
	ClientTLS *tls.Config
	// TestingKnobs are hooks for tests only.
	TestingKnobs TestingKnobs
}

// Handler receives what peers send. Its methods are called concurrently
// from the server's goroutines.
type Handler interface {
	// HandleRaft delivers incoming raft messages (each tagged with its group);
	// the node calls store.Step for each. It must not block for long: it
	// holds up the sending peer's stream.
	HandleRaft(msgs []raftstore.GroupMessage)
	// HandleRPC serves an internal request (forwarded ingest, remote reads,
	// join): method name and opaque payload → reply payload or error. The
	// error's SQLSTATE, message, detail and hint reach the caller (as a
	// *pgerr.Error); ctx ends with the caller's deadline.
	HandleRPC(ctx context.Context, method string, req []byte) ([]byte, error)
}

// Stats are cumulative counters of one Transport.
type Stats struct {
	FramesSent, MsgsSent, BytesSent uint64 // raft + snapshot streams, as written to gRPC
	SnapshotsSent                   uint64 // MsgSnap messages written
	MsgsDropped                     uint64 // queue full, peer unreachable, faults
	FramesRecv, MsgsRecv, BytesRecv uint64
	SnapshotsRecv                   uint64
	// Streamed snapshots: chunk bytes acked by peers / staged here, and
	// snapshot streams in flight (both directions).
	SnapshotBytesSent, SnapshotBytesRecv uint64
	SnapshotsInFlight                    int64
	SnapshotsFailed                      uint64 // abandoned after no progress (raft retries)
	// The most chunk bytes one snapshot stream had sent and not yet acked
	// (bounded by the window), and received and not yet staged.
	SnapshotMaxUnacked, SnapshotMaxBuffered int64
}

// Transport is one node's endpoint: a gRPC server for what peers send and a
// client per peer for what this node sends.
type Transport struct {
	cfg Config
	log *slog.Logger
	srv *grpc.Server

	// ctx ends with Close: it stops the lanes' goroutines and streams.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // lane goroutines
	once   sync.Once

	mu struct {
		sync.Mutex
		closed bool
		peers  map[uint64]*peer // created on first use, never removed before Close
	}

	stats struct {
		framesSent, msgsSent, bytesSent, snapsSent, dropped atomic.Uint64
		framesRecv, msgsRecv, bytesRecv, snapsRecv          atomic.Uint64
	}
	snap    snapStats // snapstream.go
	limiter limiter   // paces outgoing snapshot chunks (snapshot_rate)
}

// New returns a Transport. Nothing listens until Serve or ListenAndServe;
// Send and Call work at once.
func New(cfg Config) *Transport {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Transport{cfg: cfg, log: cfg.Logger.With("node", cfg.NodeID)}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.mu.peers = make(map[uint64]*peer)
	t.snap.progress = make(map[*SnapshotProgress]bool)
	opts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(rawCodec{}),
		grpc.MaxRecvMsgSize(grpcMaxMsg),
		grpc.MaxSendMsgSize(grpcMaxMsg),
		// Clients ping every 10s so a silently dead peer is noticed.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 5 * time.Second, PermitWithoutStream: true}),
		// Close must not return while a handler still runs (it would call
		// into a store the caller is about to close).
		grpc.WaitForHandlers(true),
	}
	if cfg.ServerTLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(cfg.ServerTLS)))
	}
	t.srv = grpc.NewServer(opts...)
	t.srv.RegisterService(&serviceDesc, t)
	return t
}

// ListenAndServe listens on Config.Addr and serves until Close.
func (t *Transport) ListenAndServe() error {
	ln, err := net.Listen("tcp", t.cfg.Addr)
	if err != nil {
		return fmt.Errorf("transport: listen on %s: %w", t.cfg.Addr, err)
	}
	return t.Serve(ln)
}

// Serve serves peers on ln until Close (then it returns nil). It closes ln.
func (t *Transport) Serve(ln net.Listener) error {
	err := t.srv.Serve(ln)
	if errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return err
}

// Close stops serving, ends every stream and connection, and waits for
// every goroutine the transport started (and every running handler).
// Later Sends are dropped and Calls fail with ErrClosed.
func (t *Transport) Close() error {
	t.once.Do(func() {
		t.mu.Lock()
		t.mu.closed = true
		peers := t.mu.peers
		t.mu.Unlock()
		t.cancel()
		t.srv.Stop()
		t.wg.Wait()
		for _, p := range peers {
			p.raft.closeConn()
			p.snap.closeConn()
		}
	})
	return nil
}

// Stats returns the transport's counters.
func (t *Transport) Stats() Stats {
	return Stats{
		FramesSent:    t.stats.framesSent.Load(),
		MsgsSent:      t.stats.msgsSent.Load(),
		BytesSent:     t.stats.bytesSent.Load(),
		SnapshotsSent: t.stats.snapsSent.Load(),
		MsgsDropped:   t.stats.dropped.Load(),
		FramesRecv:    t.stats.framesRecv.Load(),
		MsgsRecv:      t.stats.msgsRecv.Load(),
		BytesRecv:     t.stats.bytesRecv.Load(),
		SnapshotsRecv: t.stats.snapsRecv.Load(),

		SnapshotBytesSent:   t.snap.bytesSent.Load(),
		SnapshotBytesRecv:   t.snap.bytesRecv.Load(),
		SnapshotsInFlight:   t.snap.inFlight.Load(),
		SnapshotsFailed:     t.snap.failed.Load(),
		SnapshotMaxUnacked:  t.snap.maxUnacked.Load(),
		SnapshotMaxBuffered: t.snap.maxBuffered.Load(),
	}
}

// destBuf is the frame being built for one destination in Send.
type destBuf struct {
	to   uint64
	buf  []byte
	n    int // messages in buf
	peer *peer
}

// Send implements raftstore.Transport. It never blocks on the network: it
// marshals the messages (so the caller may reuse them), packs each
// destination's messages into one frame (cut near 4 MiB), and queues the
// frame on the peer's raft lane; MsgSnap goes alone to the snapshot lane.
// A full queue drops the frame: raft resends what matters.
func (t *Transport) Send(msgs []raftstore.GroupMessage) {
	var stack [4]destBuf
	dests := stack[:0]
	for _, gm := range msgs {
		m := gm.Msg
		to := m.GetTo()
		if to == 0 || to == t.cfg.NodeID {
			t.stats.dropped.Add(1)
			continue
		}
		i := 0
		for i < len(dests) && dests[i].to != to {
			i++
		}
		if i == len(dests) {
			p := t.peer(to)
			if p == nil { // closed
				t.stats.dropped.Add(1)
				continue
			}
			dests = append(dests, destBuf{to: to, peer: p})
		}
		d := &dests[i]
		size := messageSize(gm.GroupID, proto.Size(m))
		if 1+size > MaxSnapshotFrameSize {
			// The receiver would refuse it; raft will keep asking, so say why.
			t.log.Error("transport: raft message exceeds the frame limit", "group", gm.GroupID, "to", to,
				"type", m.GetType().String(), "bytes", size, "limit", MaxSnapshotFrameSize)
			t.stats.dropped.Add(1)
			continue
		}
		if m.GetType() == pb.MsgSnap || 1+size > MaxFrameSize {
			// Alone on the snapshot lane: a big frame there does not hold
			// up heartbeats and appends on the raft lane.
			t.sendFrame(d.peer.snap, gm.GroupID, m, size)
			continue
		}
		if d.n > 0 && len(d.buf)+size > frameTarget {
			t.enqueue(d.peer.raft, d.buf, d.n, false)
			d.buf, d.n = nil, 0
		}
		if d.buf == nil {
			d.buf = make([]byte, 1, min(frameTarget, 1+size*2))
			d.buf[0] = frameVersion
		}
		var err error
		if d.buf, err = appendMessage(d.buf, gm.GroupID, m); err != nil {
			t.log.Error("transport: marshal raft message", "group", gm.GroupID, "to", to, "err", err)
			t.stats.dropped.Add(1)
			continue
		}
		d.n++
	}
	for i := range dests {
		if dests[i].n > 0 {
			t.enqueue(dests[i].peer.raft, dests[i].buf, dests[i].n, false)
		}
	}
}

func (t *Transport) sendFrame(l *lane, gid uint64, m *pb.Message, size int) {
	buf := make([]byte, 1, 1+size)
	buf[0] = frameVersion
	buf, err := appendMessage(buf, gid, m)
	if err != nil {
		t.log.Error("transport: marshal raft message", "group", gid, "to", m.GetTo(), "err", err)
		t.stats.dropped.Add(1)
		return
	}
	t.enqueue(l, buf, 1, m.GetType() == pb.MsgSnap)
}

// enqueue hands a frame to a lane without blocking; faults are decided
// here (loss now, delay as a due time the lane waits for).
func (t *Transport) enqueue(l *lane, b []byte, n int, snap bool) {
	lose, delay := t.cfg.Faults.decide(t.cfg.NodeID, l.peer.id)
	if lose {
		t.stats.dropped.Add(uint64(n))
		return
	}
	f := outFrame{b: b, n: n, snap: snap}
	if delay > 0 {
		f.due = time.Now().Add(delay)
	}
	if l.queued.Add(int64(len(b))) > l.maxBytes && l.queued.Load() != int64(len(b)) {
		// Over the byte budget (one frame alone is always let in).
		l.queued.Add(-int64(len(b)))
		t.stats.dropped.Add(uint64(n))
		return
	}
	select {
	case l.q <- f:
	default:
		l.queued.Add(-int64(len(b)))
		t.stats.dropped.Add(uint64(n))
	}
}

// peer returns the peer for node id, starting its lanes on first use; nil
// once the transport is closed.
func (t *Transport) peer(id uint64) *peer {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mu.closed {
		return nil
	}
	if p, ok := t.mu.peers[id]; ok {
		return p
	}
	p := &peer{id: id}
	p.raft = newLane(t, p, false)
	p.snap = newLane(t, p, true)
	t.mu.peers[id] = p
	t.wg.Add(2)
	go p.raft.run()
	go p.snap.run()
	return p
}

// Call sends an internal request to node and waits for its reply until
// ctx ends. A handler's error comes back as a *pgerr.Error with the
// remote code and message; a transport failure is an *Error (SQLSTATE
// 08006 with ErrUnreachable, 57014 wrapping the context's error, 57P01
// with ErrClosed).
func (t *Transport) Call(ctx context.Context, node uint64, method string, req []byte) ([]byte, error) {
	p := t.peer(node)
	if p == nil {
		return nil, &Error{pgerr.AdminShutdown, "node transport is shutting down", ErrClosed}
	}
	if lose, delay := t.cfg.Faults.decide(t.cfg.NodeID, node); lose || delay > 0 {
		// A lost request is a black hole: the caller learns only from its
		// deadline, as on a real partition.
		var timer <-chan time.Time
		if !lose {
			tm := time.NewTimer(delay)
			defer tm.Stop()
			timer = tm.C
		}
		select {
		case <-timer:
		case <-ctx.Done():
			return nil, ctxError(node, method, ctx.Err())
		case <-t.ctx.Done():
			return nil, &Error{pgerr.AdminShutdown, "node transport is shutting down", ErrClosed}
		}
	}
	conn, err := p.raft.conn()
	if err != nil {
		return nil, err
	}
	var reply frame
	cctx := t.outgoing(ctx, node)
	if err := conn.Invoke(cctx, methodCall, &frame{b: encodeCallRequest(method, req)}, &reply); err != nil {
		if ctx.Err() != nil {
			return nil, ctxError(node, method, ctx.Err())
		}
		if t.ctx.Err() != nil {
			return nil, &Error{pgerr.AdminShutdown, "node transport is shutting down", ErrClosed}
		}
		return nil, callError(node, method, err)
	}
	out, err := decodeReply(reply.b)
	if err != nil && ctx.Err() != nil {
		// The handler saw the same deadline; report it the same way as
		// a call that timed out in flight.
		return nil, ctxError(node, method, ctx.Err())
	}
	return out, err
}

// outgoing tags a request with the sender and the node it is meant for, so
// a server that is not that node (a stale address) refuses it.
func (t *Transport) outgoing(ctx context.Context, to uint64) context.Context {
	return metadata.AppendToOutgoingContext(ctx,
		mdFrom, strconv.FormatUint(t.cfg.NodeID, 10),
		mdTo, strconv.FormatUint(to, 10))
}

// checkIncoming verifies a request was meant for this node; it returns the
// sender.
func (t *Transport) checkIncoming(ctx context.Context) (uint64, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	get := func(k string) uint64 {
		if v := md.Get(k); len(v) == 1 {
			n, _ := strconv.ParseUint(v[0], 10, 64)
			return n
		}
		return 0
	}
	from, to := get(mdFrom), get(mdTo)
	if to != t.cfg.NodeID && to != AnyNode {
		return 0, status.Errorf(codes.FailedPrecondition, "this is node %d, not node %d", t.cfg.NodeID, to)
	}
	return from, nil
}

func (t *Transport) serveRaft(ss grpc.ServerStream) error { return t.serveStream(ss, MaxFrameSize) }

func (t *Transport) serveSnap(ss grpc.ServerStream) error {
	return t.serveStream(ss, t.snapFrameLimit())
}

// serveStream receives frames from one peer's lane until it goes away.
func (t *Transport) serveStream(ss grpc.ServerStream, limit int) error {
	from, err := t.checkIncoming(ss.Context())
	if err != nil {
		return err
	}
	for {
		var f frame
		if err := ss.RecvMsg(&f); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if len(f.b) > limit {
			return status.Errorf(codes.ResourceExhausted, "frame of %d bytes exceeds the limit of %d", len(f.b), limit)
		}
		msgs, err := decodeFrame(f.b)
		if err != nil {
			t.log.Warn("transport: bad frame from peer", "from", from, "err", err)
			return status.Error(codes.InvalidArgument, err.Error())
		}
		t.stats.framesRecv.Add(1)
		t.stats.msgsRecv.Add(uint64(len(msgs)))
		t.stats.bytesRecv.Add(uint64(len(f.b)))
		for _, m := range msgs {
			if m.Msg.GetType() == pb.MsgSnap {
				t.stats.snapsRecv.Add(1)
			}
		}
		if t.cfg.Handler != nil && len(msgs) > 0 {
			t.cfg.Handler.HandleRaft(msgs)
		}
	}
}

func (t *Transport) serveCall(ctx context.Context, b []byte) ([]byte, error) {
	if _, err := t.checkIncoming(ctx); err != nil {
		return nil, err
	}
	method, req, err := decodeCallRequest(b)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if t.cfg.Handler == nil {
		return encodeReply(nil, pgerr.New(pgerr.FeatureNotSupported, "node %d serves no internal calls", t.cfg.NodeID)), nil
	}
	reply, herr := t.cfg.Handler.HandleRPC(ctx, method, req)
	return encodeReply(reply, herr), nil
}

// dialCreds is the transport security of connections dialed with
// clientTLS: TLS, or plaintext when nil.
func dialCreds(clientTLS *tls.Config) grpc.DialOption {
	if clientTLS == nil {
		return grpc.WithTransportCredentials(insecure.NewCredentials())
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(clientTLS))
}
