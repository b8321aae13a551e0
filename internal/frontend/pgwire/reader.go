package pgwire

import (
	"net"
	"sync"
)

// connReader reads the socket on its own goroutine so that a client that
// disconnects while a statement runs is noticed at once (the statement's
// context is cancelled) rather than at the next write. It hands filled
// buffers to the connection goroutine and recycles at most readBufCount
// of them, so a client that pipelines a lot is held back by TCP, not by
// memory. Buffers start small and grow while reads fill them (bulk COPY),
// so idle connections stay cheap.
type connReader struct {
	full chan []byte
	free chan []byte
	done chan struct{}
	wg   sync.WaitGroup
	err  error // the read error; written before full is closed

	cur []byte // unread part of the buffer being consumed
	buf []byte // the buffer being consumed, to recycle
}

const (
	readBufMin   = 8 << 10
	readBufMax   = 64 << 10
	readBufCount = 3
)

func newConnReader(nc net.Conn, onEOF func()) *connReader {
	r := &connReader{
		full: make(chan []byte, readBufCount),
		free: make(chan []byte, readBufCount),
		done: make(chan struct{}),
	}
	r.wg.Add(1)
	go r.loop(nc, onEOF)
	return r
}

func (r *connReader) loop(nc net.Conn, onEOF func()) {
	defer r.wg.Done()
	defer close(r.full)
	allocated, size := 0, readBufMin
	for {
		var b []byte
		select {
		case b = <-r.free:
		default:
			if allocated < readBufCount {
				allocated++
				break
			}
			select {
			case b = <-r.free:
			case <-r.done:
				r.err = net.ErrClosed
				return
			}
		}
		if cap(b) < size {
			b = make([]byte, size)
		}
		n, err := nc.Read(b[:cap(b)])
		if n == cap(b) && size < readBufMax {
			size *= 2
		}
		if n > 0 {
			select {
			case r.full <- b[:n]:
			case <-r.done:
				r.err = net.ErrClosed
				return
			}
		} else {
			r.free <- b
		}
		if err != nil {
			r.err = err
			onEOF()
			return
		}
	}
}

// Read implements io.Reader for the connection goroutine.
func (r *connReader) Read(p []byte) (int, error) {
	if len(r.cur) == 0 {
		if r.buf != nil {
			r.free <- r.buf
			r.buf = nil
		}
		b, ok := <-r.full
		if !ok {
			return 0, r.err
		}
		r.buf, r.cur = b, b
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// stop ends the reader goroutine (the socket must be closed first so a
// blocked Read returns) and waits for it.
func (r *connReader) stop() {
	close(r.done)
	r.wg.Wait()
}
