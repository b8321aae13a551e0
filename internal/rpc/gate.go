package rpc

import (
	"sync"
	"time"
)

// Gate counts running RPC handlers so that a node can wait for them to
// end before it closes what they read (its store). The zero value is open.
type Gate struct {
	mu     sync.Mutex
	n      int
	closed bool
	zero   chan struct{}
}

// Enter admits a handler; false once the gate is closed.
func (f *Gate) Enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.n++
	return true
}

// Leave marks an admitted handler done.
func (f *Gate) Leave() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.n == 0 && f.zero != nil {
		close(f.zero)
		f.zero = nil
	}
}

// CloseAndWait refuses new handlers and waits (at most timeout) for the
// running ones.
func (f *Gate) CloseAndWait(timeout time.Duration) {
	f.mu.Lock()
	f.closed = true
	if f.n == 0 {
		f.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	f.zero = ch
	f.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(timeout):
	}
}
