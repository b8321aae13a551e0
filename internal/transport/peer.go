package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/keepalive"
)

// Queue bounds per lane. A lane to a slow or dead peer holds at most this
// much; beyond it frames are dropped (raft resends), never Send blocked.
const (
	raftQueueFrames = 1024
	raftQueueBytes  = 256 << 20
	snapQueueFrames = 2
	snapQueueBytes  = 1 << 30
	maxBackoff      = time.Second
)

// peer is the sending side towards one node: two lanes, each with its own
// gRPC connection (so its own TCP connection) and one long-lived stream.
type peer struct {
	id   uint64
	raft *lane // heartbeats, appends, votes; also carries Calls
	snap *lane // MsgSnap and oversized messages
}

// outFrame is a frame waiting in a lane's queue.
type outFrame struct {
	b    []byte
	n    int       // raft messages in b
	snap bool      // b holds a MsgSnap
	due  time.Time // zero, or not before this (Faults delay)
}

// lane owns one connection and one stream to a peer; its goroutine (run)
// is the only writer of the stream.
type lane struct {
	t        *Transport
	peer     *peer
	snap     bool
	q        chan outFrame
	queued   atomic.Int64 // bytes in q
	maxBytes int64

	mu struct {
		sync.Mutex
		addr string           // address conn was dialed for
		conn *grpc.ClientConn // nil until first use, and after closeConn
	}
}

func newLane(t *Transport, p *peer, snap bool) *lane {
	l := &lane{t: t, peer: p, snap: snap, q: make(chan outFrame, raftQueueFrames), maxBytes: raftQueueBytes}
	if snap {
		l.q, l.maxBytes = make(chan outFrame, snapQueueFrames), snapQueueBytes
	}
	return l
}

// conn returns the lane's connection to the peer's current address,
// replacing the connection when Resolve now says something else.
func (l *lane) conn() (*grpc.ClientConn, error) {
	addr, ok := "", false
	if l.t.cfg.Resolve != nil {
		addr, ok = l.t.cfg.Resolve(l.peer.id)
	}
	if !ok || addr == "" {
		return nil, &Error{pgerr.ConnectionFailure, fmt.Sprintf("node %d has no known address", l.peer.id), ErrUnreachable}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.conn != nil && l.mu.addr == addr {
		return l.mu.conn, nil
	}
	if l.t.ctx.Err() != nil {
		return nil, &Error{pgerr.AdminShutdown, "node transport is shutting down", ErrClosed}
	}
	if l.mu.conn != nil {
		_ = l.mu.conn.Close()
		l.mu.conn = nil
	}
	c, err := grpc.NewClient("passthrough:///"+addr,
		dialCreds(l.t.cfg.ClientTLS),
		// gRPC's own reconnects are capped like ours: a restarted peer
		// is found within about a second.
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 2, Jitter: 0.2, MaxDelay: maxBackoff},
			MinConnectTimeout: 2 * time.Second,
		}),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 10 * time.Second, Timeout: 3 * time.Second, PermitWithoutStream: true}),
		grpc.WithDefaultCallOptions(
			grpc.ForceCodecV2(rawCodec{}),
			grpc.MaxCallRecvMsgSize(grpcMaxMsg),
			grpc.MaxCallSendMsgSize(grpcMaxMsg),
		),
	)
	if err != nil {
		return nil, &Error{pgerr.ConnectionFailure, fmt.Sprintf("node %d at %s: %v", l.peer.id, addr, err), ErrUnreachable}
	}
	l.mu.addr, l.mu.conn = addr, c
	return c, nil
}

func (l *lane) closeConn() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.conn != nil {
		_ = l.mu.conn.Close()
		l.mu.conn = nil
	}
}

// run writes queued frames to the peer until the transport closes. On a
// failure it drops the frame in hand, waits (exponential backoff with
// jitter, capped at maxBackoff; the queue meanwhile fills and then drops)
// and reconnects, re-resolving the address.
func (l *lane) run() {
	defer l.t.wg.Done()
	var (
		stream grpc.ClientStream
		cancel context.CancelFunc
		delay  time.Duration // current backoff
		up     bool          // last logged state
		timer  = time.NewTimer(0)
	)
	<-timer.C
	defer timer.Stop()
	closeStream := func() {
		if stream != nil {
			cancel()
			stream, cancel = nil, nil
		}
	}
	defer closeStream()
	// sleep waits d or until Close; false on Close.
	sleep := func(d time.Duration) bool {
		timer.Reset(d)
		select {
		case <-timer.C:
			return true
		case <-l.t.ctx.Done():
			return false
		}
	}
	fail := func(f outFrame, err error) bool {
		l.t.stats.dropped.Add(uint64(f.n))
		closeStream()
		if up {
			l.t.log.Warn("transport: lost peer stream", "peer", l.peer.id, "snapshot", l.snap, "err", err)
			up = false
		} else {
			l.t.log.Debug("transport: peer unreachable", "peer", l.peer.id, "snapshot", l.snap, "err", err)
		}
		delay = min(max(2*delay, 50*time.Millisecond), maxBackoff)
		return sleep(delay/2 + rand.N(delay/2+1))
	}
	for {
		var f outFrame
		select {
		case f = <-l.q:
		case <-l.t.ctx.Done():
			return
		}
		l.queued.Add(-int64(len(f.b)))
		if !f.due.IsZero() {
			if d := time.Until(f.due); d > 0 && !sleep(d) {
				return
			}
		}
		// A partition installed while the frame waited applies to it too.
		if l.t.cfg.Faults.blocked(l.t.cfg.NodeID, l.peer.id) {
			l.t.stats.dropped.Add(uint64(f.n))
			continue
		}
		if stream == nil {
			s, c, err := l.open()
			if err != nil {
				if !fail(f, err) {
					return
				}
				continue
			}
			stream, cancel = s, c
		}
		if err := stream.SendMsg(&frame{b: f.b}); err != nil {
			if errors.Is(err, io.EOF) {
				// The server ended the stream; its status says why.
				err = stream.RecvMsg(&frame{})
			}
			if !fail(f, err) {
				return
			}
			continue
		}
		if !up {
			l.t.log.Info("transport: connected to peer", "peer", l.peer.id, "snapshot", l.snap)
			up = true
		}
		delay = 0
		l.t.stats.framesSent.Add(1)
		l.t.stats.msgsSent.Add(uint64(f.n))
		l.t.stats.bytesSent.Add(uint64(len(f.b)))
		if f.snap {
			l.t.stats.snapsSent.Add(1)
		}
	}
}

// open starts the lane's stream on a connection to the peer's current
// address.
func (l *lane) open() (grpc.ClientStream, context.CancelFunc, error) {
	conn, err := l.conn()
	if err != nil {
		return nil, nil, err
	}
	desc, method := &serviceDesc.Streams[0], methodRaft
	if l.snap {
		desc, method = &serviceDesc.Streams[1], methodSnap
	}
	ctx, cancel := context.WithCancel(l.t.outgoing(l.t.ctx, l.peer.id))
	s, err := conn.NewStream(ctx, desc, method)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return s, cancel, nil
}
