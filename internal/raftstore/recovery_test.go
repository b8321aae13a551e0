package raftstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
)

func confChange(typ pb.ConfChangeType, node uint64) *pb.ConfChangeV2 {
	return &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{{Type: typ.Enum(), NodeId: new(node)}}}
}

// otherThan returns the node ids 1..n except the given ones.
func otherThan(n int, except ...uint64) []uint64 {
	var out []uint64
	for id := uint64(1); id <= uint64(n); id++ {
		if !slices.Contains(except, id) {
			out = append(out, id)
		}
	}
	return out
}

func proposeN(t *testing.T, s *Store, gid uint64, prefix string, n int) {
	t.Helper()
	ctx := ctxT(t)
	for i := range n {
		if _, err := s.Propose(ctx, gid, fmt.Appendf(nil, "%s%03d", prefix, i)); err != nil {
			t.Fatalf("propose %s%03d: %v", prefix, i, err)
		}
	}
}

// TestClearTombstoneReAddsReplica: a replica removed by a conf change and
// destroyed can be added back once its tombstone is cleared; it catches up
// by snapshot as a learner and is promoted.
func TestClearTombstoneReAddsReplica(t *testing.T) {
	c := newCluster(t, 3, Config{MaxLogEntries: 5, MaxRetainEntries: 1, NoSync: true})
	const gid = 11
	c.start(t, gid, []uint64{1, 2, 3}, []uint64{1, 2, 3})
	leader := waitLeader(t, c.stores, gid)
	ln := nodeOf(c, leader)
	f := ln%3 + 1 // a follower
	ctx := ctxT(t)
	proposeN(t, leader, gid, "a", 10)

	if err := leader.ProposeConfChange(ctx, gid, confChange(pb.ConfChangeRemoveNode, f)); err != nil {
		t.Fatal(err)
	}
	if err := c.stores[f-1].DestroyGroup(gid); err != nil {
		t.Fatal(err)
	}
	if err := c.stores[f-1].StartGroup(gid, newCountSM(gid), nil); !errors.Is(err, ErrGroupRemoved) {
		t.Fatalf("StartGroup of a tombstoned group: %v", err)
	}
	if err := leader.ClearTombstone(gid); err == nil {
		t.Fatal("ClearTombstone of a running group succeeded")
	}
	proposeN(t, leader, gid, "b", 10) // the leader's log moves past anything f had

	if err := c.stores[f-1].ClearTombstone(gid); err != nil {
		t.Fatal(err)
	}
	if tomb, err := c.stores[f-1].IsTombstoned(gid); err != nil || tomb {
		t.Fatalf("tombstoned after ClearTombstone: %v %v", tomb, err)
	}
	c.start(t, gid, []uint64{f}, nil)
	if err := leader.ProposeConfChange(ctx, gid, confChange(pb.ConfChangeAddLearnerNode, f)); err != nil {
		t.Fatal(err)
	}
	if st, _ := leader.Status(gid); !slices.Equal(st.Learners, []uint64{f}) {
		t.Fatalf("learners %v, want [%d]", st.Learners, f)
	}
	c.waitSameData(t, gid, leader, []uint64{f})
	// Loaded once empty at start, then from the snapshot.
	if n := c.sms[gid][f-1].loadCount(); n < 2 {
		t.Fatalf("re-added replica caught up without a snapshot (loads %d)", n)
	}
	if err := leader.ProposeConfChange(ctx, gid, confChange(pb.ConfChangeAddNode, f)); err != nil {
		t.Fatal(err)
	}
	proposeN(t, leader, gid, "c", 5)
	c.waitSameData(t, gid, leader, []uint64{1, 2, 3})
	got := c.sms[gid][f-1].snapshot()
	if len(got) != 25 {
		t.Fatalf("re-added replica has %d commands, want 25", len(got))
	}
	for k, n := range got {
		if n != 1 {
			t.Fatalf("%s applied %d times on the re-added replica", k, n)
		}
	}
	if st, _ := c.stores[f-1].Status(gid); !slices.Equal(st.Voters, []uint64{1, 2, 3}) || len(st.Learners) != 0 {
		t.Fatalf("re-added replica's config: voters %v learners %v", st.Voters, st.Learners)
	}
}

// TestStatusMatch: the leader publishes every replica's match index;
// followers publish none; Status hands out a copy.
func TestStatusMatch(t *testing.T) {
	c := newCluster(t, 3, Config{NoSync: true})
	const gid = 4
	c.start(t, gid, []uint64{1, 2, 3}, []uint64{1, 2, 3})
	leader := waitLeader(t, c.stores, gid)
	ln := nodeOf(c, leader)
	proposeN(t, leader, gid, "a", 5)
	allAt := func(want int) func() error {
		return func() error {
			st, _ := leader.Status(gid)
			if len(st.Match) != want {
				return fmt.Errorf("match %v, want %d replicas", st.Match, want)
			}
			for id, m := range st.Match {
				if m != st.LastIndex {
					return fmt.Errorf("replica %d match %d, last index %d", id, m, st.LastIndex)
				}
			}
			return nil
		}
	}
	eventually(t, 5*time.Second, allAt(3))
	for _, id := range otherThan(3, ln) {
		if st, _ := c.stores[id-1].Status(gid); st.Match != nil {
			t.Fatalf("follower %d publishes match %v", id, st.Match)
		}
	}
	st, _ := leader.Status(gid)
	st.Match[99] = 1
	if st2, _ := leader.Status(gid); len(st2.Match) != 3 {
		t.Fatalf("Status shares its match map: %v", st2.Match)
	}

	lag := ln%3 + 1
	c.net.isolate(lag, true)
	proposeN(t, leader, gid, "b", 5)
	st, _ = leader.Status(gid)
	if st.Match[ln] != st.LastIndex || st.Match[lag] >= st.LastIndex {
		t.Fatalf("with node %d cut off: match %v, last index %d", lag, st.Match, st.LastIndex)
	}
	c.net.isolate(lag, false)
	eventually(t, 5*time.Second, allAt(3))

	// A learner is listed too.
	if err := leader.ProposeConfChange(ctxT(t), gid, confChange(pb.ConfChangeAddLearnerNode, 7)); err != nil {
		t.Fatal(err)
	}
	st, _ = leader.Status(gid)
	if _, ok := st.Match[7]; !ok || len(st.Match) != 4 {
		t.Fatalf("match with a learner: %v", st.Match)
	}
}

// TestForceSoleVoter: a group loses two of its three replicas for good;
// the survivor is forced to be the sole voter, leads, keeps its data,
// commits new proposals, and stays so across a restart.
func TestForceSoleVoter(t *testing.T) {
	c := newCluster(t, 3, Config{NoSync: true})
	const gid = 21
	c.start(t, gid, []uint64{1, 2, 3}, []uint64{1, 2, 3})
	leader := waitLeader(t, c.stores, gid)
	ln := nodeOf(c, leader)
	proposeN(t, leader, gid, "a", 20)
	c.waitSameData(t, gid, leader, []uint64{1, 2, 3})

	surv := ln%3 + 1 // a follower survives; the leader is lost
	s := c.stores[surv-1]
	before, _ := s.Status(gid)
	for _, id := range otherThan(3, surv) {
		if err := c.stores[id-1].Close(); err != nil {
			t.Fatal(err)
		}
	}
	rec, err := s.ForceSoleVoter(gid)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.OldVoters, []uint64{1, 2, 3}) || len(rec.OldLearners) != 0 ||
		rec.Applied != before.Applied || rec.Commit < rec.Applied || rec.LastIndex < rec.Commit || rec.Term == 0 {
		t.Fatalf("recovery %+v, status before %+v", rec, before)
	}
	start := time.Now()
	eventually(t, 5*time.Second, func() error {
		if st, _ := s.Status(gid); !st.IsLeader {
			return fmt.Errorf("survivor not leader: %+v", st)
		}
		if lead, _ := c.sms[gid][surv-1].leaderState(); !lead {
			return errors.New("state machine not told it leads")
		}
		return nil
	})
	t.Logf("leader %v after ForceSoleVoter", time.Since(start))
	st, _ := s.Status(gid)
	if !slices.Equal(st.Voters, []uint64{surv}) || len(st.Learners) != 0 || st.Term <= rec.Term {
		t.Fatalf("after recovery: %+v (recovery %+v)", st, rec)
	}
	if got := c.sms[gid][surv-1].snapshot(); len(got) != 20 {
		t.Fatalf("survivor has %d commands, want 20", len(got))
	}
	proposeN(t, s, gid, "b", 5)

	// Restart the survivor: the forced configuration was persisted.
	cfg := s.cfg
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := openTestStore(t, cfg)
	c.stores[surv-1] = s2
	c.net.add(surv, s2)
	sm := newCountSM(gid)
	if err := s2.StartGroup(gid, sm, nil); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, func() error {
		if st, _ := s2.Status(gid); !st.IsLeader || !slices.Equal(st.Voters, []uint64{surv}) {
			return fmt.Errorf("after restart: %+v", st)
		}
		return nil
	})
	proposeN(t, s2, gid, "c", 1)
	got := sm.snapshot()
	if len(got) != 26 {
		t.Fatalf("after restart the survivor has %d commands, want 26", len(got))
	}
	for k, n := range got {
		if n != 1 {
			t.Fatalf("%s applied %d times", k, n)
		}
	}
}

// TestForceSoleVoterJointConfigAndTail: the survivor is in a joint config
// and holds entries past its commit index, among them a conf change (leave
// joint). Recovery clears the joint config, commits the tail and blanks the
// conf change, which would no longer apply.
func TestForceSoleVoterJointConfigAndTail(t *testing.T) {
	c := newCluster(t, 3, Config{NoSync: true})
	const gid = 22
	c.start(t, gid, []uint64{1, 2, 3}, []uint64{1, 2, 3})
	leader := waitLeader(t, c.stores, gid)
	ln := nodeOf(c, leader)
	surv := ln%3 + 1
	other := otherThan(3, ln, surv)[0]
	s := c.stores[surv-1]
	ctx := ctxT(t)
	proposeN(t, leader, gid, "a", 5)

	// Enter a joint config {ln, surv, 4} & {1, 2, 3} and stay there.
	joint := &pb.ConfChangeV2{
		Transition: pb.ConfChangeTransition_ConfChangeTransitionJointExplicit.Enum(),
		Changes: []*pb.ConfChangeSingle{
			{Type: pb.ConfChangeRemoveNode.Enum(), NodeId: new(other)},
			{Type: pb.ConfChangeAddNode.Enum(), NodeId: new(uint64(4))},
		},
	}
	if err := leader.ProposeConfChange(ctx, gid, joint); err != nil {
		t.Fatal(err)
	}
	c.waitSameData(t, gid, leader, []uint64{surv})

	// The survivor receives the next entries but its acks are lost, so
	// they stay uncommitted.
	c.net.isolate(other, true)
	c.net.setDrop(func(from uint64, m *pb.Message) bool {
		return from == surv && m.GetType() == pb.MsgAppResp
	})
	ls, _ := leader.Status(gid)
	errc := make(chan error, 2)
	go func() {
		_, err := leader.Propose(ctx, gid, []byte("tail"))
		errc <- err
	}()
	go func() { errc <- leader.ProposeConfChange(ctx, gid, &pb.ConfChangeV2{}) }() // leave joint
	eventually(t, 5*time.Second, func() error {
		st, _ := s.Status(gid)
		if st.LastIndex < ls.LastIndex+2 || st.Commit >= st.LastIndex {
			return fmt.Errorf("survivor %+v, leader was at %d", st, ls.LastIndex)
		}
		return nil
	})
	for _, id := range []uint64{ln, other} {
		if err := c.stores[id-1].Close(); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if err := <-errc; err == nil {
			t.Fatal("a proposal committed without the survivor's ack")
		}
	}

	rec, err := s.ForceSoleVoter(gid)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.OldVoters, []uint64{1, 2, 3, 4}) || rec.Commit >= rec.LastIndex {
		t.Fatalf("recovery %+v", rec)
	}
	eventually(t, 5*time.Second, func() error {
		st, _ := s.Status(gid)
		if !st.IsLeader || st.Applied <= rec.LastIndex {
			return fmt.Errorf("survivor %+v", st)
		}
		return nil
	})
	if n := c.sms[gid][surv-1].snapshot()["tail"]; n != 1 {
		t.Fatalf("uncommitted tail entry applied %d times after recovery, want 1", n)
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.Propose(pctx, gid, []byte("after")); err != nil {
		t.Fatal(err)
	}
	gs, ok, err := loadGroupStorage(s.DB(), gid)
	if err != nil || !ok {
		t.Fatalf("load raft state: %v %v", ok, err)
	}
	cs := gs.conf
	if !slices.Equal(cs.GetVoters(), []uint64{surv}) || len(cs.GetVotersOutgoing()) != 0 ||
		len(cs.GetLearners()) != 0 || len(cs.GetLearnersNext()) != 0 || cs.GetAutoLeave() {
		t.Fatalf("persisted conf state after recovery: %v", cs)
	}
}

func TestForceSoleVoterErrors(t *testing.T) {
	s := openTestStore(t, Config{Dir: t.TempDir(), NoSync: true})
	defer s.Close()
	if _, err := s.ForceSoleVoter(5); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("group never started: %v", err)
	}
	if err := s.StartGroup(5, newCountSM(5), []uint64{1}); err != nil {
		t.Fatal(err)
	}
	if err := s.DestroyGroup(5); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ForceSoleVoter(5); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("destroyed group: %v", err)
	}
	// An empty replica (added, never caught up) has nothing to recover.
	if err := s.StartGroup(6, newCountSM(6), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ForceSoleVoter(6); err == nil {
		t.Fatal("forced an empty replica")
	}
	if err := s.ClearTombstone(6); err == nil {
		t.Fatal("cleared the tombstone of a running group")
	}
	if err := s.ClearTombstone(5); err != nil {
		t.Fatal(err)
	}
	if err := s.ClearTombstone(5); err != nil { // nothing to clear: fine
		t.Fatal(err)
	}
}

// TestForceSoleVoterCompletesSurvivingProposal: a leader that lost its
// followers holds an uncommitted local proposal; forced recovery commits
// it, and the caller gets its result rather than an error.
func TestForceSoleVoterCompletesSurvivingProposal(t *testing.T) {
	c := newCluster(t, 3, Config{NoSync: true})
	const gid = 23
	c.start(t, gid, []uint64{1, 2, 3}, []uint64{1, 2, 3})
	leader := waitLeader(t, c.stores, gid)
	ln := nodeOf(c, leader)
	proposeN(t, leader, gid, "a", 3)
	for _, id := range otherThan(3, ln) {
		if err := c.stores[id-1].Close(); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := leader.Status(gid)
	type res struct {
		val any
		err error
	}
	done := make(chan res, 1)
	go func() {
		v, err := leader.Propose(ctxT(t), gid, []byte("pending"))
		done <- res{v, err}
	}()
	eventually(t, 5*time.Second, func() error {
		if st, _ := leader.Status(gid); st.LastIndex <= before.LastIndex {
			return errors.New("proposal not in the log yet")
		}
		return nil
	})
	rec, err := leader.ForceSoleVoter(gid)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.val != rec.LastIndex {
			t.Fatalf("surviving proposal: %v %v, want applied at %d", r.val, r.err, rec.LastIndex)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("surviving proposal hangs")
	}
	if n := c.sms[gid][ln-1].snapshot()["pending"]; n != 1 {
		t.Fatalf("pending applied %d times", n)
	}
}
