package raftstore

import (
	"sync"
	"testing"
	"time"
)

// The metrics hooks name the group they concern, so that the node can
// label proposals, commits, elections and leader changes by kind of
// group (issue 15: proposals of stream groups were all counted as "all").
func TestMetricsHooksNameTheGroup(t *testing.T) {
	var mu sync.Mutex
	proposed, committed, elections, leaders := map[uint64]int{}, map[uint64]int{}, map[uint64]int{}, map[uint64]uint64{}
	s := openTestStore(t, Config{
		Dir:            t.TempDir(),
		OnPropose:      func(gid uint64) { mu.Lock(); proposed[gid]++; mu.Unlock() },
		OnCommit:       func(gid uint64, _ time.Duration) { mu.Lock(); committed[gid]++; mu.Unlock() },
		OnElection:     func(gid uint64) { mu.Lock(); elections[gid]++; mu.Unlock() },
		OnLeaderChange: func(gid, lead uint64) { mu.Lock(); leaders[gid] = lead; mu.Unlock() },
	})
	defer s.Close()
	for gid := uint64(1); gid <= 3; gid++ {
		if err := s.StartGroup(gid, newCountSM(gid), []uint64{1}); err != nil {
			t.Fatal(err)
		}
	}
	waitLeader(t, []*Store{s}, 3)
	ctx := ctxT(t)
	for i := range 5 {
		if _, err := s.Propose(ctx, 2, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Propose(ctx, 3, []byte("x")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if proposed[1] != 0 || proposed[2] != 5 || proposed[3] != 1 {
		t.Errorf("proposals by group = %v, want 2:5 3:1", proposed)
	}
	if committed[2] != 5 || committed[3] != 1 {
		t.Errorf("commits by group = %v, want 2:5 3:1", committed)
	}
	for gid := uint64(1); gid <= 3; gid++ {
		if elections[gid] < 1 {
			t.Errorf("group %d: no election counted (%v)", gid, elections)
		}
		if leaders[gid] != 1 {
			t.Errorf("group %d: leader change to %d, want 1", gid, leaders[gid])
		}
	}
	var n, led int
	s.EachStatus(func(st GroupStatus) {
		n++
		if st.IsLeader && st.Leader == 1 {
			led++
		}
	})
	if n != 3 || led != 3 {
		t.Errorf("EachStatus: %d groups, %d led; want 3 and 3", n, led)
	}
}
