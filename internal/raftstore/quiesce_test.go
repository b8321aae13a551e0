package raftstore

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"
)

// isQuiesced reports whether gid is quiesced on s.
func isQuiesced(s *Store, gid uint64) bool {
	q := false
	_ = s.runInLoop(func() {
		if g, ok := s.groups[gid]; ok {
			q = g.quiesced
		}
	})
	return q
}

func waitQuiesced(t *testing.T, stores []*Store, gid uint64) {
	t.Helper()
	eventually(t, 5*time.Second, func() error {
		for i, s := range stores {
			if !isQuiesced(s, gid) {
				return fmt.Errorf("group %d not quiesced on store %d", gid, i+1)
			}
		}
		return nil
	})
}

// msgCounter counts what the test network carries: store pings apart from
// everything else.
type msgCounter struct{ pings, other atomic.Int64 }

func (c *msgCounter) count(_ uint64, m *pb.Message) bool {
	if m.GetType() == pb.MsgHeartbeat && m.GetTerm() == 0 {
		c.pings.Add(1)
	} else {
		c.other.Add(1)
	}
	return false
}

// TestQuiescedGroupWakes: an idle 3-replica group quiesces on every
// replica and then sends nothing but store pings; a proposal wakes it and
// commits on all replicas, a follower read wakes it and completes, and
// neither costs an election.
func TestQuiescedGroupWakes(t *testing.T) {
	// Production ticks: a quiesced follower wakes after 500ms without a
	// ping, so a stall of the shared test machine does not wake it.
	c := newCluster(t, 3, Config{NoSync: true, TickInterval: 50 * time.Millisecond})
	const gid = 5
	c.start(t, gid, []uint64{1, 2, 3}, []uint64{1, 2, 3})
	leader := waitLeader(t, c.stores, gid)
	proposeN(t, leader, gid, "a", 3)
	c.waitSameData(t, gid, leader, []uint64{1, 2, 3})
	waitQuiesced(t, c.stores, gid)
	term := mustStatus(t, leader, gid).Term

	// An active group sends 16 messages in 400ms (a heartbeat and its
	// answer per follower per 100ms). A quiesced one sends none; a stall
	// of the shared machine longer than the silence limit may wake it
	// for a moment, so one quiet window out of three is required.
	quiet := false
	for range 3 {
		var mc msgCounter
		c.net.setDrop(mc.count)
		time.Sleep(400 * time.Millisecond) // 8 ticks, 4 heartbeat intervals
		c.net.setDrop(nil)
		if mc.pings.Load() == 0 {
			t.Fatal("no store pings between nodes sharing a quiesced group")
		}
		if n := mc.other.Load(); n == 0 {
			quiet = true
			break
		} else {
			t.Logf("%d raft messages in 400ms", n)
		}
		waitQuiesced(t, c.stores, gid)
	}
	if !quiet {
		t.Fatal("a quiesced group kept sending raft messages")
	}

	start := time.Now()
	proposeN(t, leader, gid, "b", 1)
	t.Logf("first proposal to a quiesced group committed in %v", time.Since(start))
	c.waitSameData(t, gid, leader, []uint64{1, 2, 3})
	waitQuiesced(t, c.stores, gid)

	f := otherThan(3, nodeOf(c, leader))[0]
	if err := c.stores[f-1].ReadIndex(ctxT(t), gid); err != nil {
		t.Fatalf("follower read of a quiesced group: %v", err)
	}
	waitQuiesced(t, c.stores, gid)
	for i, s := range c.stores {
		if st := mustStatus(t, s, gid); st.Term != term {
			t.Fatalf("store %d at term %d, was %d: waking cost an election", i+1, st.Term, term)
		}
	}
}

// TestQuiescedLeaderFailover: when the node of a quiesced group's leader
// stops (or is cut off), the followers notice its silence, wake and elect
// a new leader about as fast as active followers would; a cut-off old
// leader wakes too and steps down (CheckQuorum).
func TestQuiescedLeaderFailover(t *testing.T) {
	// 10ms ticks: election timeout 200-400ms, silence limit 100ms.
	bound := 2 * time.Second
	if raceEnabled {
		bound = 4 * time.Second
	}
	for _, tc := range []struct {
		name    string
		quiesce bool
		isolate bool
	}{
		{"stop/active", false, false},
		{"stop/quiesced", true, false},
		{"isolate/quiesced", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 3, Config{NoSync: true, TestingKnobs: TestingKnobs{DisableQuiescence: !tc.quiesce}})
			const gid = 6
			c.start(t, gid, []uint64{1, 2, 3}, []uint64{1, 2, 3})
			leader := waitLeader(t, c.stores, gid)
			proposeN(t, leader, gid, "a", 3)
			c.waitSameData(t, gid, leader, []uint64{1, 2, 3})
			if tc.quiesce {
				waitQuiesced(t, c.stores, gid)
			}
			time.Sleep(200 * time.Millisecond) // idle for a while
			ln := nodeOf(c, leader)
			term := mustStatus(t, leader, gid).Term
			start := time.Now()
			if tc.isolate {
				c.net.isolate(ln, true)
			} else if err := leader.Close(); err != nil {
				t.Fatal(err)
			}
			var rest []*Store
			for _, id := range otherThan(3, ln) {
				rest = append(rest, c.stores[id-1])
			}
			var nl *Store
			eventually(t, 10*time.Second, func() error {
				for _, s := range rest {
					if st, ok := s.Status(gid); ok && st.IsLeader && st.Term > term {
						nl = s
						return nil
					}
				}
				return fmt.Errorf("no new leader")
			})
			took := time.Since(start)
			t.Logf("new leader after %v", took)
			if took > bound {
				t.Fatalf("new leader after %v, want under %v", took, bound)
			}
			proposeN(t, nl, gid, "b", 2)
			if tc.isolate {
				// The cut-off leader, quiesced, must not go on believing it leads.
				eventually(t, bound, func() error {
					if st := mustStatus(t, leader, gid); st.IsLeader {
						return fmt.Errorf("cut-off node still leads term %d", st.Term)
					}
					return nil
				})
				c.net.isolate(ln, false)
				c.waitSameData(t, gid, nl, []uint64{1, 2, 3})
			}
		})
	}
}

func mustStatus(t *testing.T, s *Store, gid uint64) GroupStatus {
	t.Helper()
	st, ok := s.Status(gid)
	if !ok {
		t.Fatalf("group %d not on store", gid)
	}
	return st
}
