package raftstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
)

type cluster struct {
	net    *testNet
	stores []*Store
	sms    map[uint64][]*countSM // gid → per-store SM (index = node-1)
}

func newCluster(t *testing.T, n int, cfg Config) *cluster {
	t.Helper()
	c := &cluster{net: newTestNet(), sms: map[uint64][]*countSM{}}
	for i := 1; i <= n; i++ {
		cc := cfg
		cc.Dir = t.TempDir()
		cc.NodeID = uint64(i)
		cc.Transport = c.net.transport(uint64(i))
		s := openTestStore(t, cc)
		c.net.add(uint64(i), s)
		c.stores = append(c.stores, s)
	}
	t.Cleanup(func() {
		for _, s := range c.stores {
			_ = s.Close()
		}
	})
	return c
}

func (c *cluster) start(t *testing.T, gid uint64, nodes []uint64, peers []uint64) {
	t.Helper()
	if c.sms[gid] == nil {
		c.sms[gid] = make([]*countSM, len(c.stores))
	}
	for _, id := range nodes {
		sm := newCountSM(gid)
		c.sms[gid][id-1] = sm
		if err := c.stores[id-1].StartGroup(gid, sm, peers); err != nil {
			t.Fatal(err)
		}
	}
}

// waitSameData waits until the listed nodes applied the same index as the
// leader and then compares their data ranges byte for byte.
func (c *cluster) waitSameData(t *testing.T, gid uint64, leader *Store, nodes []uint64) {
	t.Helper()
	eventually(t, 15*time.Second, func() error {
		ls, _ := leader.Status(gid)
		for _, id := range nodes {
			st, _ := c.stores[id-1].Status(gid)
			if st.Applied != ls.Applied {
				return fmt.Errorf("node %d applied %d, leader %d", id, st.Applied, ls.Applied)
			}
		}
		return nil
	})
	want := dataRange(t, leader, gid)
	for _, id := range nodes {
		got := dataRange(t, c.stores[id-1], gid)
		if len(got) != len(want) {
			t.Fatalf("node %d has %d keys, leader %d", id, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i][0], want[i][0]) || !bytes.Equal(got[i][1], want[i][1]) {
				t.Fatalf("node %d key %d differs: %q=%x vs %q=%x", id, i, got[i][0], got[i][1], want[i][0], want[i][1])
			}
		}
	}
}

func nodeOf(c *cluster, s *Store) uint64 {
	for i, x := range c.stores {
		if x == s {
			return uint64(i + 1)
		}
	}
	return 0
}

func TestThreeStoresReplicateAndSnapshotCatchUp(t *testing.T) {
	c := newCluster(t, 3, Config{MaxLogEntries: 10, MaxRetainEntries: 1, NoSync: true})
	const gid = 7
	c.start(t, gid, []uint64{1, 2, 3}, []uint64{1, 2, 3})
	leader := waitLeader(t, c.stores, gid)
	ctx := ctxT(t)
	for i := range 20 {
		if _, err := leader.Propose(ctx, gid, []byte(fmt.Sprintf("a%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	c.waitSameData(t, gid, leader, []uint64{1, 2, 3})

	// Followers reject proposals.
	ln := nodeOf(c, leader)
	lag := ln%3 + 1 // a follower
	if _, err := c.stores[lag-1].Propose(ctx, gid, []byte("x")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("propose on follower: %v", err)
	}
	// Follower read: ReadIndex through the leader.
	if err := c.stores[lag-1].ReadIndex(ctx, gid); err != nil {
		t.Fatalf("follower read index: %v", err)
	}

	// Isolate a follower; the other two make progress and truncate their logs
	// past what it has.
	c.net.isolate(lag, true)
	lagSt, _ := c.stores[lag-1].Status(gid)
	loadsBefore := c.sms[gid][lag-1].loadCount()
	for i := range 60 {
		if _, err := leader.Propose(ctx, gid, []byte(fmt.Sprintf("b%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	ls, _ := leader.Status(gid)
	if ls.FirstIndex <= lagSt.Applied+1 {
		t.Fatalf("leader log not truncated past the lagging node: leader %+v lagging %+v", ls, lagSt)
	}
	// The cut-off replica keeps pre-campaigning; proposals to it fail with
	// ErrNotLeader (after at most an election timeout) rather than hang.
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if _, err := c.stores[lag-1].Propose(ctx, gid, []byte("to-isolated")); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("propose on isolated replica: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("propose on isolated replica took %v", d)
	}
	c.net.isolate(lag, false)
	c.waitSameData(t, gid, leader, []uint64{1, 2, 3})
	if c.sms[gid][lag-1].loadCount() <= loadsBefore {
		t.Fatalf("lagging node caught up without a snapshot (loads %d)", c.sms[gid][lag-1].loadCount())
	}
	for k, n := range c.sms[gid][lag-1].snapshot() {
		if n != 1 {
			t.Fatalf("%s applied %d times on the lagging node", k, n)
		}
	}
	if got := len(c.sms[gid][lag-1].snapshot()); got != 80 {
		t.Fatalf("lagging node state has %d commands, want 80", got)
	}
}

func TestConfChangeAddVoter(t *testing.T) {
	c := newCluster(t, 2, Config{NoSync: true})
	const gid = 9
	c.start(t, gid, []uint64{1}, []uint64{1})
	leader := c.stores[0]
	ctx := ctxT(t)
	for i := range 10 {
		if _, err := leader.Propose(ctx, gid, []byte(fmt.Sprintf("a%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// The new replica starts empty and is caught up by the leader.
	// It joins as a learner, catches up (by snapshot), then is promoted.
	c.start(t, gid, []uint64{2}, nil)
	learner := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeAddLearnerNode.Enum(), NodeId: new(uint64(2))}}}
	if err := leader.ProposeConfChange(ctx, gid, learner); err != nil {
		t.Fatal(err)
	}
	if st, _ := leader.Status(gid); fmt.Sprint(st.Voters, st.Learners) != "[1] [2]" {
		t.Fatalf("after adding a learner: voters %v learners %v", st.Voters, st.Learners)
	}
	c.waitSameData(t, gid, leader, []uint64{2})
	if c.sms[gid][1].loadCount() < 2 {
		t.Fatal("learner caught up without a snapshot")
	}
	cc := &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: pb.ConfChangeAddNode.Enum(), NodeId: new(uint64(2))}}}
	if err := leader.ProposeConfChange(ctx, gid, cc); err != nil {
		t.Fatal(err)
	}
	st, _ := leader.Status(gid)
	if fmt.Sprint(st.Voters) != "[1 2]" {
		t.Fatalf("voters after conf change %v", st.Voters)
	}
	// Commits now need node 2.
	for i := range 10 {
		if _, err := leader.Propose(ctx, gid, []byte(fmt.Sprintf("b%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	c.waitSameData(t, gid, leader, []uint64{2})
	st2, _ := c.stores[1].Status(gid)
	if fmt.Sprint(st2.Voters) != "[1 2]" || st2.Leader != 1 {
		t.Fatalf("new voter's status %+v", st2)
	}
	// The conf state is persisted on both replicas.
	for i, s := range c.stores {
		gs, ok, err := loadGroupStorage(s.DB(), gid)
		if err != nil || !ok || fmt.Sprint(gs.conf.GetVoters()) != "[1 2]" {
			t.Fatalf("node %d persisted conf state %v (ok %v, err %v)", i+1, gs.conf.GetVoters(), ok, err)
		}
	}
	groups, err := c.stores[1].PersistedGroups()
	if err != nil || len(groups) != 1 || groups[0] != gid {
		t.Fatalf("persisted groups on node 2: %v %v", groups, err)
	}
	// With node 2 cut off the leader cannot commit: the proposal's context
	// ends it promptly.
	c.net.isolate(2, true)
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := leader.Propose(tctx, gid, []byte("stuck")); err == nil {
		t.Fatal("proposal committed without a quorum")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("cancelled proposal took %v", d)
	}
}

// TestOverwrittenProposalFails: a proposal appended by a leader that is then
// cut off is replaced by the new leader's entries; it fails with
// ErrProposalDropped once the old leader rejoins instead of hanging.
func TestOverwrittenProposalFails(t *testing.T) {
	c := newCluster(t, 3, Config{NoSync: true})
	const gid = 3
	c.start(t, gid, []uint64{1, 2, 3}, []uint64{1, 2, 3})
	old := waitLeader(t, c.stores, gid)
	ctx := ctxT(t)
	if _, err := old.Propose(ctx, gid, []byte("first")); err != nil {
		t.Fatal(err)
	}
	on := nodeOf(c, old)
	c.net.isolate(on, true)
	errc := make(chan error, 1)
	go func() {
		_, err := old.Propose(ctx, gid, []byte("lost"))
		errc <- err
	}()
	var others []*Store
	for i, s := range c.stores {
		if uint64(i+1) != on {
			others = append(others, s)
		}
	}
	eventually(t, 10*time.Second, func() error {
		for _, s := range others {
			if st, _ := s.Status(gid); st.IsLeader {
				_, err := s.Propose(ctx, gid, []byte("new-leader"))
				return err
			}
		}
		return errors.New("no new leader")
	})
	c.net.isolate(on, false)
	select {
	case err := <-errc:
		if !errors.Is(err, ErrProposalDropped) {
			t.Fatalf("overwritten proposal returned %v, want ErrProposalDropped", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("overwritten proposal hangs")
	}
	// The old leader's state machine was told it lost leadership, and
	// exactly one replica's was told it leads.
	eventually(t, 5*time.Second, func() error {
		leaders := 0
		for i, sm := range c.sms[gid] {
			lead, _ := sm.leaderState()
			if lead && uint64(i+1) == on {
				return errors.New("old leader still told it leads")
			}
			if lead {
				leaders++
			}
		}
		if leaders != 1 {
			return fmt.Errorf("%d replicas told they lead", leaders)
		}
		return nil
	})
	for i, sm := range c.sms[gid] {
		if n := sm.snapshot()["lost"]; n != 0 {
			t.Fatalf("node %d applied the dropped proposal", i+1)
		}
	}
}

// TestTransferLeader moves leadership of a three-voter group to a chosen
// follower.
func TestTransferLeader(t *testing.T) {
	c := newCluster(t, 3, Config{})
	c.start(t, 1, []uint64{1, 2, 3}, []uint64{1, 2, 3})
	leader := waitLeader(t, c.stores, 1)
	ls, _ := leader.Status(1)
	to := ls.Leader%3 + 1 // another node
	if err := c.stores[to-1].TransferLeader(1, ls.Leader); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("transfer from a follower: %v", err)
	}
	if err := leader.TransferLeader(1, to); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if st, ok := c.stores[to-1].Status(1); ok && st.IsLeader {
			return nil
		}
		return fmt.Errorf("leadership did not move to %d", to)
	})
}

// TestTruncationWaitsForFollower: a leader keeps the entries a stopped
// follower lacks (up to MaxRetainEntries), so it catches up from the log.
func TestTruncationWaitsForFollower(t *testing.T) {
	c := newCluster(t, 3, Config{MaxLogEntries: 10, MaxRetainEntries: 1000, NoSync: true})
	c.start(t, 1, []uint64{1, 2, 3}, []uint64{1, 2, 3})
	leader := waitLeader(t, c.stores, 1)
	ls, _ := leader.Status(1)
	lag := ls.Leader%3 + 1
	c.net.isolate(lag, true)
	for i := 0; i < 100; i++ {
		if _, err := leader.Propose(ctxT(t), 1, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := leader.Status(1)
	ll, _ := c.stores[lag-1].Status(1)
	// The follower holds its log up to LastIndex (it may not have applied
	// all of it yet): the leader may drop what the follower has, no more.
	if st.FirstIndex > ll.LastIndex+1 {
		t.Fatalf("leader truncated to %d past the stopped follower's last index %d", st.FirstIndex, ll.LastIndex)
	}
	c.net.isolate(lag, false)
	c.waitSameData(t, 1, leader, []uint64{1, 2, 3})
}
