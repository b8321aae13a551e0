package transport

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/raftstore"
)

// These tests run real raftstore.Stores wired through Transports over
// gRPC on 127.0.0.1.

const testGroup = 7

type tnode struct {
	id     uint64
	dir    string
	h      *storeHandler
	tr     *Transport
	served chan error
	addr   string
	store  *raftstore.Store
	sm     *indexSM
}

type tcluster struct {
	t      *testing.T
	cfg    raftstore.Config
	faults *Faults
	knobs  TestingKnobs // every node's transport knobs
	book   addrBook
	peers  []uint64
	nodes  map[uint64]*tnode
}

func newTCluster(t *testing.T, n int, cfg raftstore.Config) *tcluster {
	t.Helper()
	return newTClusterKnobs(t, n, cfg, TestingKnobs{})
}

func newTClusterKnobs(t *testing.T, n int, cfg raftstore.Config, knobs TestingKnobs) *tcluster {
	t.Helper()
	c := &tcluster{t: t, cfg: cfg, faults: NewFaults(), knobs: knobs, nodes: map[uint64]*tnode{}}
	for i := 1; i <= n; i++ {
		c.peers = append(c.peers, uint64(i))
	}
	for _, id := range c.peers {
		c.nodes[id] = &tnode{id: id, dir: t.TempDir()}
		c.start(id)
	}
	t.Cleanup(func() {
		for _, id := range c.peers {
			c.stop(id)
		}
	})
	return c
}

// start opens node id's transport (on a port it did not use before) and
// store, and starts the test group on it.
func (c *tcluster) start(id uint64) {
	c.t.Helper()
	nd := c.nodes[id]
	nd.h = &storeHandler{}
	nd.tr = New(Config{NodeID: id, Resolve: c.book.resolve, Handler: nd.h, Faults: c.faults, TestingKnobs: c.knobs})
	nd.addr, nd.served = serve(c.t, nd.tr, nd.addr)
	c.book.set(id, nd.addr)
	cfg := c.cfg
	cfg.Dir, cfg.NodeID, cfg.Transport = nd.dir, id, nd.tr
	if cfg.TickInterval == 0 {
		cfg.TickInterval = 10 * time.Millisecond
	}
	s, err := raftstore.Open(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	nd.store = s
	nd.h.store.Store(s)
	nd.sm = newIndexSM(testGroup)
	if err := s.StartGroup(testGroup, nd.sm, c.peers); err != nil {
		c.t.Fatal(err)
	}
}

// stop closes node id's transport and store (idempotent).
func (c *tcluster) stop(id uint64) {
	c.t.Helper()
	nd := c.nodes[id]
	if nd.store == nil {
		return
	}
	closeAndWait(c.t, nd.tr, nd.served)
	if err := nd.store.Close(); err != nil {
		c.t.Errorf("close store %d: %v", id, err)
	}
	nd.store = nil
}

func (c *tcluster) waitLeader(among []uint64, d time.Duration) uint64 {
	c.t.Helper()
	var leader uint64
	eventually(c.t, d, func() error {
		for _, id := range among {
			if st, ok := c.nodes[id].store.Status(testGroup); ok && st.IsLeader {
				leader = id
				return nil
			}
		}
		return errNoLeader
	})
	return leader
}

// propose proposes n commands named prefix-i on node id with `workers`
// concurrent proposers and returns each command's acknowledged index.
func (c *tcluster) propose(id uint64, prefix string, n, workers int) map[string]uint64 {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		mu    sync.Mutex
		acked = map[string]uint64{}
		wg    sync.WaitGroup
		errc  = make(chan error, workers)
	)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				cmd := fmt.Sprintf("%s-%04d", prefix, i)
				res, err := c.nodes[id].store.Propose(ctx, testGroup, []byte(cmd))
				if err != nil {
					errc <- fmt.Errorf("propose %s on node %d: %w", cmd, id, err)
					return
				}
				mu.Lock()
				acked[cmd] = res.(uint64)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		c.t.Fatal(err)
	}
	return acked
}

// waitConverged waits until every listed node applied as far as the
// leader, then checks all state machines hold the same commands at the
// same indexes, none applied twice.
func (c *tcluster) waitConverged(leader uint64, nodes []uint64) map[string]uint64 {
	c.t.Helper()
	eventually(c.t, 20*time.Second, func() error {
		ls, _ := c.nodes[leader].store.Status(testGroup)
		for _, id := range nodes {
			st, _ := c.nodes[id].store.Status(testGroup)
			if st.Applied != ls.Applied {
				return fmt.Errorf("node %d applied %d, leader %d applied %d", id, st.Applied, leader, ls.Applied)
			}
		}
		return nil
	})
	want, dups, _ := c.nodes[leader].sm.state()
	if dups != 0 {
		c.t.Fatalf("leader applied %d commands twice", dups)
	}
	for _, id := range nodes {
		got, dups, _ := c.nodes[id].sm.state()
		if dups != 0 {
			c.t.Fatalf("node %d applied %d commands twice", id, dups)
		}
		if !maps.Equal(got, want) {
			c.t.Fatalf("node %d state (%d commands) differs from leader %d (%d commands)", id, len(got), leader, len(want))
		}
	}
	return want
}

func checkAcked(t *testing.T, state, acked map[string]uint64) {
	t.Helper()
	for cmd, idx := range acked {
		if got, ok := state[cmd]; !ok || got != idx {
			t.Fatalf("acknowledged %s at index %d; state has it at %d (present %v)", cmd, idx, got, ok)
		}
	}
}

func TestClusterReplicates(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		c := newTCluster(t, 3, raftstore.Config{NoSync: true})
		leader := c.waitLeader(c.peers, 10*time.Second)
		acked := c.propose(leader, "p", 1000, 8)
		if len(acked) != 1000 {
			t.Fatalf("%d proposals acknowledged, want 1000", len(acked))
		}
		state := c.waitConverged(leader, c.peers)
		if len(state) != 1000 {
			t.Fatalf("state has %d commands, want 1000", len(state))
		}
		checkAcked(t, state, acked)
		st := c.nodes[leader].tr.Stats()
		if st.MsgsSent == 0 || st.FramesSent == 0 || st.MsgsSent < st.FramesSent {
			t.Fatalf("leader transport stats %+v", st)
		}
		for _, id := range c.peers {
			c.stop(id)
		}
	}()
	checkNoLeaks(t, before)
}

func TestClusterPartitionedLeader(t *testing.T) {
	c := newTCluster(t, 3, raftstore.Config{NoSync: true})
	old := c.waitLeader(c.peers, 10*time.Second)
	acked := c.propose(old, "a", 20, 2)
	var others []uint64
	for _, id := range c.peers {
		if id != old {
			others = append(others, id)
			c.faults.Partition(old, id)
		}
	}
	// The old leader still believes it leads for a moment; what it accepts
	// now must not be acknowledged.
	type res struct {
		idx uint64
		err error
	}
	oldRes := make(chan res, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		v, err := c.nodes[old].store.Propose(ctx, testGroup, []byte("old-side"))
		idx, _ := v.(uint64)
		oldRes <- res{idx, err}
	}()
	start := time.Now()
	newLeader := c.waitLeader(others, 5*time.Second)
	t.Logf("node %d took over from node %d in %v", newLeader, old, time.Since(start))
	for k, v := range c.propose(newLeader, "b", 50, 2) {
		acked[k] = v
	}
	r := <-oldRes
	if r.err == nil {
		t.Fatalf("old leader acknowledged a proposal at index %d while cut off from the majority", r.idx)
	}
	if !errors.Is(r.err, raftstore.ErrNotLeader) && !errors.Is(r.err, context.DeadlineExceeded) && !errors.Is(r.err, raftstore.ErrProposalDropped) {
		t.Fatalf("old leader's proposal failed with %v", r.err)
	}
	// CheckQuorum: the old leader steps down on its own.
	eventually(t, 5*time.Second, func() error {
		if st, _ := c.nodes[old].store.Status(testGroup); st.IsLeader {
			return fmt.Errorf("node %d still leads (term %d)", old, st.Term)
		}
		return nil
	})
	c.faults.HealAll()
	state := c.waitConverged(newLeader, c.peers)
	checkAcked(t, state, acked)
	if idx, ok := state["old-side"]; ok {
		t.Fatalf("the unacknowledged old-side proposal was applied at %d", idx)
	}
	// No index holds two acknowledged commands.
	byIdx := map[uint64]string{}
	for cmd, idx := range acked {
		if prev, ok := byIdx[idx]; ok {
			t.Fatalf("index %d acknowledged for both %s and %s", idx, prev, cmd)
		}
		byIdx[idx] = cmd
	}
	if d := c.nodes[old].tr.Stats().MsgsDropped; d == 0 {
		t.Fatal("the partition dropped no messages on the old leader")
	}
}

func TestClusterRestartOnNewPortCatchesUpBySnapshot(t *testing.T) {
	c := newTCluster(t, 3, raftstore.Config{NoSync: true, MaxLogEntries: 20, MaxRetainEntries: 1})
	leader := c.waitLeader(c.peers, 10*time.Second)
	acked := c.propose(leader, "a", 30, 2)
	down := leader%3 + 1
	c.waitConverged(leader, c.peers)
	downSt, _ := c.nodes[down].store.Status(testGroup)
	oldAddr := c.nodes[down].addr
	c.stop(down)

	for k, v := range c.propose(leader, "b", 200, 4) {
		acked[k] = v
	}
	if ls, _ := c.nodes[leader].store.Status(testGroup); ls.FirstIndex <= downSt.Applied+1 {
		t.Fatalf("leader log (first index %d) not truncated past the stopped node (applied %d)", ls.FirstIndex, downSt.Applied)
	}
	snapsBefore := c.nodes[leader].tr.Stats().SnapshotsSent

	c.start(down) // same dir, new transport, new port, address book updated
	if c.nodes[down].addr == oldAddr {
		t.Fatalf("restarted node reuses %s", oldAddr)
	}
	state := c.waitConverged(leader, c.peers)
	checkAcked(t, state, acked)
	if _, _, loads := c.nodes[down].sm.state(); loads < 2 {
		t.Fatalf("restarted node caught up without a snapshot (%d loads)", loads)
	}
	if s := c.nodes[leader].tr.Stats().SnapshotsSent; s <= snapsBefore {
		t.Fatalf("leader sent no snapshot over the snapshot stream (%d before, %d after)", snapsBefore, s)
	}
	if s := c.nodes[down].tr.Stats().SnapshotsRecv; s == 0 {
		t.Fatal("restarted node received no snapshot")
	}
	// And it keeps replicating afterwards.
	for k, v := range c.propose(leader, "c", 20, 1) {
		acked[k] = v
	}
	checkAcked(t, c.waitConverged(leader, c.peers), acked)
}
