package proxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
)

// session is one client connection relayed to one node. The proxy reads
// the message frames both ways (not their contents, except
// ReadyForQuery and BackendKeyData) so that it knows when the session is
// idle: the last ReadyForQuery said 'I' (no transaction) and the client
// sent nothing since. Only then may a drain close it.
type session struct {
	p      *Proxy
	client net.Conn
	server net.Conn
	node   Node
	cw     *bufio.Writer // to the client, under wmu
	wmu    sync.Mutex

	mu struct {
		sync.Mutex
		ready       bool // a ReadyForQuery arrived (startup is over)
		status      byte // the last ReadyForQuery's: I, T or E
		outstanding int  // Query/Sync/FunctionCall sent minus ReadyForQuery received
		sinceIdle   int  // messages sent since the ReadyForQuery that ended the last exchange
		drain       bool // the node is draining: close at the next idle point
		closing     bool // closed (or closing) by the proxy
	}
	cancelKey string // BackendKeyData, for CancelRequest routing
}

// idleLocked reports whether the session may be closed without cutting
// a statement or a transaction.
func (s *session) idleLocked() bool {
	return s.mu.ready && s.mu.status == 'I' && s.mu.outstanding == 0 && s.mu.sinceIdle == 0
}

// setDrain marks the session's node draining and closes the session now
// if it is idle (otherwise at its next idle point).
func (s *session) setDrain() {
	s.mu.Lock()
	s.mu.drain = true
	s.mu.Unlock()
	s.maybeDrainClose()
}

// maybeDrainClose closes a draining, idle session with 57P01, telling the
// client to reconnect (through the proxy, to another node).
func (s *session) maybeDrainClose() {
	s.mu.Lock()
	if !s.mu.drain || s.mu.closing || !s.idleLocked() {
		s.mu.Unlock()
		return
	}
	s.mu.closing = true
	s.mu.Unlock()
	s.wmu.Lock()
	_, _ = s.cw.Write(errorResponse("FATAL", pgerr.ProxyNodeDraining.New(s.node.Name)))
	_ = s.cw.Flush()
	s.wmu.Unlock()
	_, _ = s.server.Write([]byte{'X', 0, 0, 0, 4}) // Terminate: a clean end for the node
	s.p.m.DrainCloses.WithLabelValues(s.node.Name).Inc()
	s.p.log.Info("closed an idle session on a draining node", "node", s.node.Name, "client", s.client.RemoteAddr().String())
	s.close()
}

func (s *session) close() {
	_ = s.client.Close()
	_ = s.server.Close()
}

// relay runs the session until either side ends. first is the node's
// first message header, already read; sr the node's reader.
func (s *session) relay(cr, sr *bufio.Reader, first frame, firstHdr [5]byte) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.fromServer(sr, first, firstHdr)
	}()
	s.fromClient(cr)
	s.close()
	<-done
}

// fromClient copies the client's messages to the node.
func (s *session) fromClient(cr *bufio.Reader) {
	sw := bufio.NewWriterSize(s.server, 32<<10)
	for {
		f, hdr, err := readFrame(cr)
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.mu.closing {
			s.mu.Unlock()
			return // the proxy closed the session at an idle point: the client reads 57P01
		}
		switch f.typ {
		case 'Q', 'S', 'F':
			s.mu.outstanding++
		}
		s.mu.sinceIdle++
		s.mu.Unlock()
		if _, err := sw.Write(hdr[:]); err != nil {
			return
		}
		if _, err := io.CopyN(sw, cr, f.body); err != nil {
			return
		}
		if cr.Buffered() == 0 {
			if err := sw.Flush(); err != nil {
				return
			}
		}
		if f.typ == 'X' {
			_ = sw.Flush()
			return
		}
	}
}

// fromServer copies the node's messages to the client, noting
// ReadyForQuery and BackendKeyData.
func (s *session) fromServer(sr *bufio.Reader, f frame, hdr [5]byte) {
	defer s.close()
	for {
		var body []byte
		small := f.typ == 'Z' || f.typ == 'K'
		if small {
			if f.body > 256 {
				return
			}
			body = make([]byte, f.body)
			if _, err := io.ReadFull(sr, body); err != nil {
				return
			}
		}
		s.wmu.Lock()
		_, err := s.cw.Write(hdr[:])
		if err == nil {
			if small {
				_, err = s.cw.Write(body)
			} else {
				_, err = io.CopyN(s.cw, sr, f.body)
			}
		}
		if err == nil && sr.Buffered() == 0 {
			err = s.cw.Flush()
		}
		s.wmu.Unlock()
		if err != nil {
			return
		}
		switch {
		case f.typ == 'K' && len(body) >= 8:
			s.cancelKey = string(body)
			s.p.addCancelKey(s.cancelKey, s.node.Addr)
		case f.typ == 'Z' && len(body) == 1:
			s.mu.Lock()
			s.mu.ready, s.mu.status = true, body[0]
			if s.mu.outstanding > 0 {
				s.mu.outstanding--
			}
			if s.mu.outstanding == 0 {
				s.mu.sinceIdle = 0
			}
			s.mu.Unlock()
			s.maybeDrainClose()
		}
		var err2 error
		f, hdr, err2 = readFrame(sr)
		if err2 != nil {
			return
		}
	}
}

// dialNode connects to n, sends the client's startup packet and waits up
// to timeout for the node's first message header (so a node that
// accepts connections but does not answer, say a paused process, is
// skipped before the client sees anything).
func dialNode(n Node, startup []byte, timeout time.Duration) (net.Conn, *bufio.Reader, frame, [5]byte, string, error) {
	var hdr [5]byte
	c, err := net.DialTimeout("tcp", n.Addr, timeout)
	if err != nil {
		return nil, nil, frame{}, hdr, "dial", err
	}
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write(startup); err != nil {
		_ = c.Close()
		return nil, nil, frame{}, hdr, "dial", err
	}
	sr := bufio.NewReaderSize(c, 32<<10)
	f, hdr, err := readFrame(sr)
	if err != nil {
		_ = c.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil, nil, frame{}, hdr, "timeout", err
		}
		return nil, nil, frame{}, hdr, "dial", err
	}
	_ = c.SetDeadline(time.Time{})
	return c, sr, f, hdr, "", nil
}

// cancelKeyOf is a CancelRequest packet's key (process id and secret).
func cancelKeyOf(pkt []byte) string {
	if len(pkt) < 16 {
		return ""
	}
	return string(pkt[8:])
}
