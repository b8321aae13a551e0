package raftstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// countSM is a test state machine: every command is a key whose apply count
// is stored under DataKey(gid, cmd). Apply returns the entry index.
type countSM struct {
	gid uint64

	mu       sync.Mutex
	counts   map[string]uint64 // cmd → times applied, as loaded + applied
	loads    int               // Load calls
	leader   bool              // last LeaderChanged value
	atLeader int               // len(counts) at the last LeaderChanged(true)
}

func newCountSM(gid uint64) *countSM { return &countSM{gid: gid, counts: map[string]uint64{}} }

func (m *countSM) Apply(wb *pebble.Batch, index uint64, cmd []byte) any {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counts[string(cmd)]++
	_ = wb.Set(DataKey(m.gid, cmd), binary.BigEndian.AppendUint64(nil, m.counts[string(cmd)]), nil)
	return index
}

func (m *countSM) Load(r pebble.Reader) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	m.counts = map[string]uint64{}
	start, end := dataSpan(m.gid)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		return err
	}
	for valid := it.First(); valid; valid = it.Next() {
		m.counts[string(it.Key()[len(start):])] = binary.BigEndian.Uint64(it.Value())
	}
	return it.Close()
}

func (m *countSM) LeaderChanged(isLeader bool, term uint64) {
	m.mu.Lock()
	m.leader = isLeader
	if isLeader {
		m.atLeader = len(m.counts)
	}
	m.mu.Unlock()
}

// leaderState reports whether the SM was told it leads, and how many
// commands it had applied when it was told.
func (m *countSM) leaderState() (bool, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.leader, m.atLeader
}

func (m *countSM) loadCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.loads
}

func (m *countSM) snapshot() map[string]uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]uint64, len(m.counts))
	for k, v := range m.counts {
		out[k] = v
	}
	return out
}

func openTestStore(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.NodeID == 0 {
		cfg.NodeID = 1
	}
	if cfg.TickInterval == 0 {
		cfg.TickInterval = 10 * time.Millisecond
	}
	s, err := Open(cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return s
}

// eventually retries f until it returns nil or the deadline passes.
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
		time.Sleep(5 * time.Millisecond)
	}
}

func waitLeader(t testing.TB, stores []*Store, gid uint64) *Store {
	t.Helper()
	var leader *Store
	eventually(t, 10*time.Second, func() error {
		for _, s := range stores {
			if st, ok := s.Status(gid); ok && st.IsLeader {
				leader = s
				return nil
			}
		}
		return fmt.Errorf("no leader for group %d", gid)
	})
	return leader
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dataRange returns every key/value of the group's data range.
func dataRange(t testing.TB, s *Store, gid uint64) [][2][]byte {
	t.Helper()
	start, end := dataSpan(gid)
	it, err := s.DB().NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out [][2][]byte
	for valid := it.First(); valid; valid = it.Next() {
		out = append(out, [2][]byte{bytes.Clone(it.Key()), bytes.Clone(it.Value())})
	}
	return out
}

func countKeys(t testing.TB, db *pebble.DB, start, end []byte) int {
	t.Helper()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: end})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		n++
	}
	return n
}

// testNet connects stores in one process. Send marshals every message (as
// a network would) and delivers it with Step; isolated nodes neither send
// nor receive.
type testNet struct {
	mu       sync.Mutex
	stores   map[uint64]*Store
	isolated map[uint64]bool
	// drop, if set, drops the messages (sent by from) it returns true for.
	drop func(from uint64, m *pb.Message) bool
	// snapHook, if set, is called before each snapshot chunk is written;
	// an error breaks the stream (the sender resumes).
	snapHook func(gid uint64, chunk int, data []byte) error
}

func newTestNet() *testNet {
	return &testNet{stores: map[uint64]*Store{}, isolated: map[uint64]bool{}}
}

func (n *testNet) transport(from uint64) Transport { return netTransport{n, from} }

func (n *testNet) add(id uint64, s *Store) {
	n.mu.Lock()
	n.stores[id] = s
	n.mu.Unlock()
}

// setDrop installs (nil: removes) a message filter.
func (n *testNet) setDrop(drop func(from uint64, m *pb.Message) bool) {
	n.mu.Lock()
	n.drop = drop
	n.mu.Unlock()
}

func (n *testNet) isolate(id uint64, on bool) {
	n.mu.Lock()
	n.isolated[id] = on
	n.mu.Unlock()
}

type netTransport struct {
	n    *testNet
	from uint64
}

func (t netTransport) Send(msgs []GroupMessage) {
	for _, m := range msgs {
		to := m.Msg.GetTo()
		t.n.mu.Lock()
		dst := t.n.stores[to]
		cut := t.n.isolated[to] || t.n.isolated[t.from] || (t.n.drop != nil && t.n.drop(t.from, m.Msg))
		t.n.mu.Unlock()
		if dst == nil || cut {
			continue
		}
		b, err := proto.Marshal(m.Msg)
		if err != nil {
			panic(err)
		}
		var cp pb.Message
		if err := proto.Unmarshal(b, &cp); err != nil {
			panic(err)
		}
		_ = dst.Step(m.GroupID, &cp) // a stopped or missing peer is a lost message
	}
}

// SendSnapshot implements SnapshotStreamer in process: chunks go straight
// into the receiving store's IncomingSnapshot, resuming where it got to.
// snapHook, if set, sees each chunk before it is written and may fail the
// stream (a broken connection).
func (t netTransport) SendSnapshot(ctx context.Context, gid uint64, msg *pb.Message, src *SnapshotSource) error {
	to := msg.GetTo()
	for attempt := 0; ; attempt++ {
		t.n.mu.Lock()
		dst, hook := t.n.stores[to], t.n.snapHook
		cut := t.n.isolated[to] || t.n.isolated[t.from]
		t.n.mu.Unlock()
		if dst == nil || cut || attempt >= 5 || ctx.Err() != nil {
			return fmt.Errorf("snapshot to %d not delivered", to)
		}
		var cp pb.Message
		b, _ := proto.Marshal(msg)
		_ = proto.Unmarshal(b, &cp)
		in, err := dst.ReceiveSnapshot(gid, &cp)
		if err != nil {
			return err
		}
		err = func() error {
			defer in.Release()
			for i := in.Next(); !in.Complete(); i++ {
				data, _, err := src.Chunk(i)
				if err != nil {
					return err
				}
				if hook != nil {
					if err := hook(gid, i, data); err != nil {
						return err
					}
				}
				if _, err := in.WriteChunk(i, data); err != nil {
					return err
				}
			}
			return in.Finish()
		}()
		if err == nil {
			return nil
		}
	}
}

// newCrashFS returns a crashable in-memory FS.
func newCrashFS() *vfs.MemFS { return vfs.NewCrashableMem() }
