package raftstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	pb "go.etcd.io/raft/v3/raftpb"
)

func TestSingleGroupProposeApplyRestart(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, Config{Dir: dir})
	sm := newCountSM(1)
	if err := s.StartGroup(1, sm, []uint64{1}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	const n = 50
	var last uint64
	for i := 0; i < n; i++ {
		res, err := s.Propose(ctx, 1, []byte(fmt.Sprintf("cmd-%03d", i)))
		if err != nil {
			t.Fatalf("propose %d: %v", i, err)
		}
		idx := res.(uint64)
		if idx <= last {
			t.Fatalf("result %d: index %d not after %d", i, idx, last)
		}
		last = idx
	}
	counts := sm.snapshot()
	if len(counts) != n {
		t.Fatalf("state machine has %d commands, want %d", len(counts), n)
	}
	for k, c := range counts {
		if c != 1 {
			t.Fatalf("%s applied %d times", k, c)
		}
	}
	st, ok := s.Status(1)
	if !ok || st.Applied != last || !st.IsLeader || st.Leader != 1 {
		t.Fatalf("status %+v, want applied %d and leader 1", st, last)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Applied index is persisted with the state.
	s = openTestStore(t, Config{Dir: dir})
	defer s.Close()
	gs, ok, err := loadGroupStorage(s.DB(), 1)
	if err != nil || !ok || gs.applied != last {
		t.Fatalf("persisted applied = %d (ok %v, err %v), want %d", gs.applied, ok, err, last)
	}
	groups, err := s.PersistedGroups()
	if err != nil || len(groups) != 1 || groups[0] != 1 {
		t.Fatalf("persisted groups %v, %v", groups, err)
	}
	sm2 := newCountSM(1)
	if err := s.StartGroup(1, sm2, []uint64{1}); err != nil {
		t.Fatal(err)
	}
	if got := sm2.snapshot(); len(got) != n {
		t.Fatalf("after restart Load sees %d commands, want %d", len(got), n)
	}
	for i := 0; i < 10; i++ {
		if _, err := s.Propose(ctx, 1, []byte(fmt.Sprintf("after-%d", i))); err != nil {
			t.Fatalf("propose after restart: %v", err)
		}
	}
	for k, c := range sm2.snapshot() {
		if c != 1 {
			t.Fatalf("%s applied %d times after restart", k, c)
		}
	}
	if len(sm2.snapshot()) != n+10 {
		t.Fatalf("got %d commands, want %d", len(sm2.snapshot()), n+10)
	}
}

func TestProposeUnknownGroupAndClosed(t *testing.T) {
	s := openTestStore(t, Config{Dir: t.TempDir(), NoSync: true})
	if _, err := s.Propose(ctxT(t), 42, []byte("x")); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("propose to unknown group: %v", err)
	}
	if err := s.Step(42, &pb.Message{To: new(uint64(1))}); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("step to unknown group: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Propose(ctxT(t), 1, []byte("x")); !errors.Is(err, ErrStopped) {
		t.Fatalf("propose after close: %v", err)
	}
}

// TestCrashBetweenPersistAndApply crashes (clones the in-memory FS keeping
// only synced data) when committed entries are durable but not applied, then
// reopens the clone: replay must apply each of them exactly once.
func TestCrashBetweenPersistAndApply(t *testing.T) {
	// Percent 0: the image holds exactly the synced data. Otherwise a random
	// part of the unsynced writes (apply-only batches) survives too.
	for _, pct := range []int{0, 50, 100} {
		t.Run(fmt.Sprintf("unsynced=%d%%", pct), func(t *testing.T) {
			testCrashBetweenPersistAndApply(t, vfs.CrashCloneCfg{UnsyncedDataPercent: pct, RNG: rand.New(rand.NewPCG(uint64(pct), 1))})
		})
	}
}

func testCrashBetweenPersistAndApply(t *testing.T, crashCfg vfs.CrashCloneCfg) {
	fs := newCrashFS()
	var (
		once    sync.Once
		crashed *vfs.MemFS
		pending []string // commands durable but not applied at the crash
		maxIdx  uint64
	)
	cfg := Config{Dir: "db", FS: fs}
	cfg.TestingKnobs.BeforeApply = func(gid uint64, ents []*pb.Entry) {
		for _, e := range ents {
			if e.GetIndex() < 30 || len(e.GetData()) == 0 {
				return
			}
		}
		once.Do(func() {
			crashed = fs.CrashClone(crashCfg)
			for _, e := range ents {
				if len(e.GetData()) >= hdrLen {
					pending = append(pending, string(e.GetData()[hdrLen:]))
				}
				maxIdx = max(maxIdx, e.GetIndex())
			}
		})
	}
	s := openTestStore(t, cfg)
	sm := newCountSM(1)
	if err := s.StartGroup(1, sm, []uint64{1}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if _, err := s.Propose(ctx, 1, []byte(fmt.Sprintf("w%d-%02d", w, i))); err != nil {
					t.Errorf("propose: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if crashed == nil || len(pending) == 0 {
		t.Fatalf("crash point not reached (pending %d)", len(pending))
	}

	// The crashed image: the pending commands are in the log, not applied.
	s2 := openTestStore(t, Config{Dir: "db", FS: crashed})
	defer s2.Close()
	before := newCountSM(1)
	if err := before.Load(s2.DB()); err != nil {
		t.Fatal(err)
	}
	for _, c := range pending {
		if before.counts[c] != 0 {
			t.Fatalf("%s already applied in the crash image", c)
		}
	}
	sm2 := newCountSM(1)
	if err := s2.StartGroup(1, sm2, []uint64{1}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if st, _ := s2.Status(1); st.Applied < maxIdx {
			return fmt.Errorf("applied %d < %d", st.Applied, maxIdx)
		}
		return nil
	})
	got := sm2.snapshot()
	// Leadership is announced only after the replay caught the state up.
	eventually(t, 5*time.Second, func() error {
		if lead, _ := sm2.leaderState(); !lead {
			return errors.New("LeaderChanged(true) not called")
		}
		return nil
	})
	if _, n := sm2.leaderState(); n < len(before.counts)+len(pending) {
		t.Fatalf("LeaderChanged(true) with %d commands applied, want >= %d", n, len(before.counts)+len(pending))
	}
	for _, c := range pending {
		if got[c] != 1 {
			t.Fatalf("%s applied %d times after replay, want 1", c, got[c])
		}
	}
	for k, c := range got {
		if c != 1 {
			t.Fatalf("%s applied %d times after replay", k, c)
		}
	}
	if len(got) < len(before.counts)+len(pending) {
		t.Fatalf("state shrank: %d < %d + %d", len(got), len(before.counts), len(pending))
	}
	// And new proposals work on the recovered store.
	if _, err := s2.Propose(ctx, 1, []byte("after-crash")); err != nil {
		t.Fatal(err)
	}
}

func TestManyGroupsShareFsyncs(t *testing.T) {
	var fsyncs, proposals atomic.Int64
	s := openTestStore(t, Config{
		Dir:       t.TempDir(),
		OnFsync:   func(time.Duration) { fsyncs.Add(1) },
		OnPropose: func(uint64) { proposals.Add(1) },
	})
	defer s.Close()
	const groups, workers, per = 8, 4, 10
	sms := make([]*countSM, groups)
	for g := range groups {
		sms[g] = newCountSM(uint64(g + 1))
		if err := s.StartGroup(uint64(g+1), sms[g], []uint64{1}); err != nil {
			t.Fatal(err)
		}
	}
	waitLeader(t, []*Store{s}, groups)
	start := fsyncs.Load()
	ctx := ctxT(t)
	var wg sync.WaitGroup
	for g := range groups {
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range per {
					if _, err := s.Propose(ctx, uint64(g+1), []byte(fmt.Sprintf("%d-%d", w, i))); err != nil {
						t.Errorf("propose: %v", err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	synced := fsyncs.Load() - start
	total := proposals.Load()
	if total != groups*workers*per {
		t.Fatalf("OnPropose counted %d, want %d", total, groups*workers*per)
	}
	t.Logf("%d proposals in %d fsyncs", total, synced)
	if synced <= 0 || synced >= total/2 {
		t.Fatalf("%d fsyncs for %d proposals: loop does not batch", synced, total)
	}
	for g, sm := range sms {
		if n := len(sm.snapshot()); n != workers*per {
			t.Fatalf("group %d applied %d commands, want %d", g+1, n, workers*per)
		}
	}
}

func TestLogTruncationAndRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, MaxLogEntries: 20, NoSync: true}
	s := openTestStore(t, cfg)
	sm := newCountSM(1)
	if err := s.StartGroup(1, sm, []uint64{1}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	for i := range 100 {
		if _, err := s.Propose(ctx, 1, []byte(fmt.Sprintf("c%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	st, _ := s.Status(1)
	if st.FirstIndex < 50 || st.Applied-st.FirstIndex > 21 {
		t.Fatalf("log not truncated: %+v", st)
	}
	ls, le := raftSpan(1)
	_ = ls
	logKeys := countKeys(t, s.DB(), logKey(1, 0), le)
	if logKeys > 22 {
		t.Fatalf("%d log keys remain after truncation", logKeys)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, cfg)
	defer s.Close()
	sm2 := newCountSM(1)
	if err := s.StartGroup(1, sm2, []uint64{1}); err != nil {
		t.Fatal(err)
	}
	st2, _ := s.Status(1)
	if st2.FirstIndex != st.FirstIndex || st2.Applied < st.Applied {
		t.Fatalf("after restart %+v, before %+v", st2, st)
	}
	for i := range 30 {
		if _, err := s.Propose(ctx, 1, []byte(fmt.Sprintf("d%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	got := sm2.snapshot()
	if len(got) != 130 {
		t.Fatalf("%d commands, want 130", len(got))
	}
	for k, c := range got {
		if c != 1 {
			t.Fatalf("%s applied %d times", k, c)
		}
	}
}

func TestDestroyGroupLeavesTombstone(t *testing.T) {
	s := openTestStore(t, Config{Dir: t.TempDir(), NoSync: true})
	defer s.Close()
	ctx := ctxT(t)
	for _, gid := range []uint64{1, 2} {
		if err := s.StartGroup(gid, newCountSM(gid), []uint64{1}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Propose(ctx, gid, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DestroyGroup(1); err != nil {
		t.Fatal(err)
	}
	rs, re := raftSpan(1)
	ds, de := dataSpan(1)
	if n := countKeys(t, s.DB(), rs, re) + countKeys(t, s.DB(), ds, de); n != 0 {
		t.Fatalf("%d keys left for destroyed group", n)
	}
	if tomb, err := s.IsTombstoned(1); err != nil || !tomb {
		t.Fatalf("tombstone %v %v", tomb, err)
	}
	if err := s.StartGroup(1, newCountSM(1), []uint64{1}); !errors.Is(err, ErrGroupRemoved) {
		t.Fatalf("restart destroyed group: %v", err)
	}
	if err := s.Step(1, &pb.Message{To: new(uint64(1)), Type: pb.MsgHeartbeat.Enum()}); !errors.Is(err, ErrGroupRemoved) {
		t.Fatalf("step to destroyed group: %v", err)
	}
	if _, err := s.Propose(ctx, 1, []byte("y")); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("propose to destroyed group: %v", err)
	}
	groups, err := s.PersistedGroups()
	if err != nil || len(groups) != 1 || groups[0] != 2 {
		t.Fatalf("persisted groups %v %v, want [2]", groups, err)
	}
	// The other group is untouched.
	if _, err := s.Propose(ctx, 2, []byte("z")); err != nil {
		t.Fatal(err)
	}
}

func TestReadIndexAndCancel(t *testing.T) {
	s := openTestStore(t, Config{Dir: t.TempDir(), NoSync: true})
	defer s.Close()
	sm := newCountSM(1)
	if err := s.StartGroup(1, sm, []uint64{1}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	res, err := s.Propose(ctx, 1, []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ReadIndex(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.Status(1); st.Applied < res.(uint64) {
		t.Fatalf("read index returned before apply: %+v", st)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Propose(cctx, 1, []byte("b")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled propose: %v", err)
	}
}

// notifySM records Durable and LeaderChanged calls.
type notifySM struct {
	*countSM
	durable atomic.Int64
	leaders atomic.Int64
}

func (m *notifySM) Durable() { m.durable.Add(1) }
func (m *notifySM) LeaderChanged(isLeader bool, term uint64) {
	if isLeader && term > bootstrapTerm {
		m.leaders.Add(1)
	}
}

func TestNotifiersAndMalformedSnapshot(t *testing.T) {
	var fsyncs atomic.Int64
	s := openTestStore(t, Config{Dir: t.TempDir(), OnFsync: func(time.Duration) { fsyncs.Add(1) }})
	defer s.Close()
	sm := &notifySM{countSM: newCountSM(1)}
	if err := s.StartGroup(1, sm, []uint64{1}); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	for i := range 5 {
		if _, err := s.Propose(ctx, 1, []byte(fmt.Sprintf("n%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	// Durable runs after the result is delivered, in the same iteration.
	eventually(t, 5*time.Second, func() error {
		if sm.durable.Load() < 1 {
			return errors.New("Durable not called")
		}
		return nil
	})
	if sm.leaders.Load() != 1 {
		t.Fatalf("LeaderChanged(true) called %d times, want 1", sm.leaders.Load())
	}
	// A MsgSnap whose data is not a token, and one whose token names
	// chunks never staged here, are both refused before raft sees them.
	for _, data := range [][]byte{{1, 200}, append([]byte{snapshotTokenVersion}, make([]byte, snapshotIDLen)...)} {
		bad := &pb.Message{To: new(uint64(1)), From: new(uint64(2)), Type: pb.MsgSnap.Enum(),
			Snapshot: &pb.Snapshot{Data: data, Metadata: &pb.SnapshotMetadata{Index: new(uint64(100)), Term: new(uint64(9))}}}
		if err := s.Step(1, bad); err == nil {
			t.Fatalf("malformed snapshot %x accepted", data)
		}
	}
	if _, err := s.Propose(ctx, 1, []byte("still-works")); err != nil {
		t.Fatal(err)
	}
}
