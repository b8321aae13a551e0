package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cockroachdb/pebble/v2"
	pb "go.etcd.io/raft/v3/raftpb"
)

// indexSM is a test state machine: each command is a key whose value is
// the log index it was applied at. Apply returns that index, so a test
// knows at which index each acknowledged proposal landed.
type indexSM struct {
	gid uint64

	mu    sync.Mutex
	at    map[string]uint64 // cmd → index it was applied at
	dups  int               // commands applied a second time
	loads int               // Load calls (start, and each snapshot)
}

func newIndexSM(gid uint64) *indexSM { return &indexSM{gid: gid, at: map[string]uint64{}} }

func (m *indexSM) Apply(wb *pebble.Batch, index uint64, cmd []byte) any {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.at[string(cmd)]; ok {
		m.dups++
	}
	m.at[string(cmd)] = index
	_ = wb.Set(raftstore.DataKey(m.gid, cmd), binary.BigEndian.AppendUint64(nil, index), nil)
	return index
}

func (m *indexSM) Load(r pebble.Reader) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	m.at = map[string]uint64{}
	lo, hi := raftstore.DataPrefix(m.gid), raftstore.DataPrefix(m.gid+1)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return err
	}
	for valid := it.First(); valid; valid = it.Next() {
		m.at[string(it.Key()[len(lo):])] = binary.BigEndian.Uint64(it.Value())
	}
	return it.Close()
}

func (m *indexSM) state() (map[string]uint64, int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.at), m.dups, m.loads
}

// storeHandler delivers raft messages to a store that is opened after the
// transport (the store needs the transport in its config).
type storeHandler struct {
	store atomic.Pointer[raftstore.Store]
}

func (h *storeHandler) HandleRaft(msgs []raftstore.GroupMessage) {
	s := h.store.Load()
	if s == nil {
		return
	}
	for _, m := range msgs {
		_ = s.Step(m.GroupID, m.Msg) // unknown group or stopped store: a lost message
	}
}

func (h *storeHandler) ReceiveSnapshot(gid uint64, msg *pb.Message) (*raftstore.IncomingSnapshot, error) {
	s := h.store.Load()
	if s == nil {
		return nil, errors.New("store not open")
	}
	return s.ReceiveSnapshot(gid, msg)
}

func (h *storeHandler) HandleRPC(ctx context.Context, method string, req []byte) ([]byte, error) {
	return nil, fmt.Errorf("no method %q", method)
}

// addrBook is the Resolve of a test cluster: node → current address.
type addrBook struct {
	mu    sync.Mutex
	addrs map[uint64]string
}

func (b *addrBook) set(id uint64, addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.addrs == nil {
		b.addrs = map[uint64]string{}
	}
	b.addrs[id] = addr
}

func (b *addrBook) resolve(id uint64) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a, ok := b.addrs[id]
	return a, ok
}

// serve starts tr on a fresh loopback port (never one in avoid) and
// returns the address and a channel with Serve's result.
func serve(t testing.TB, tr *Transport, avoid string) (string, chan error) {
	t.Helper()
	var ln net.Listener
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if l.Addr().String() != avoid {
			ln = l
			break
		}
		_ = l.Close()
	}
	if ln == nil {
		t.Fatalf("no free port other than %s", avoid)
	}
	done := make(chan error, 1)
	go func() { done <- tr.Serve(ln) }()
	return ln.Addr().String(), done
}

// closeAndWait closes tr and checks that Serve returned nil.
func closeAndWait(t testing.TB, tr *Transport, served chan error) {
	t.Helper()
	if err := tr.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Serve did not return after Close")
	}
}

// eventually retries f every 10ms until it returns nil or d passes.
func eventually(t testing.TB, d time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v: %v", d, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkNoLeaks waits (bounded) until the goroutine count is back to what
// it was before the test started its transports, then reports what is
// left over.
func checkNoLeaks(t testing.TB, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			var ours []string
			for _, g := range strings.Split(string(buf[:n]), "\n\n") {
				if strings.Contains(g, "grpc") || strings.Contains(g, "transport") {
					ours = append(ours, g)
				}
			}
			t.Fatalf("%d goroutines after close, %d before:\n%s", runtime.NumGoroutine(), before, strings.Join(ours, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var errNoLeader = errors.New("no leader")
