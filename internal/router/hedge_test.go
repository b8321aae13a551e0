package router

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/replica"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/timing"
	"github.com/cairndb/cairn/internal/transport"
	"github.com/cairndb/cairn/internal/types"
)

// fakeShard is one stream shard replicated on nodes 1..3, as the append
// path sees it from a node (9) that holds no replica: its log is applied
// to a real streamsm.SM (so the dedupe table is the real one), a node can
// be paused (its calls hang until the caller gives up) or down (calls fail
// at once), and a leader change happens at a set time.
type fakeShard struct {
	t  *testing.T
	db *pebble.DB
	sm *streamsm.SM

	mu struct {
		sync.Mutex
		leader    uint64
		newLeader uint64    // leads from electAt on
		electAt   time.Time // zero: no election
		paused    map[uint64]bool
		down      map[uint64]bool
		calls     []uint64 // targets, in order
		cmds      [][]byte // the command of every call
		carried   [][]byte // commands a paused leader had replicated: the next leader commits them
		index     uint64
		dups      int // appends the dedupe table recognised
	}
}

func newFakeShard(t *testing.T, leader uint64) *fakeShard {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	prefix := []byte("d\x00\x00\x00\x00\x00\x00\x00\x07")
	// Written-out batches go into the engine by a plain batch: this test
	// exercises the dedupe table, not the write-once storage.
	seg := streamsm.Segments{
		Prefix: append([]byte("~"), prefix...),
		DB:     db,
		Ingest: func(fill func(add func(k, v []byte) error) error) error {
			b := db.NewBatch()
			if err := fill(func(k, v []byte) error { return b.Set(k, v, nil) }); err != nil {
				return err
			}
			return b.Commit(pebble.Sync)
		},
		Excise: func(start, end []byte) error { return db.DeleteRange(start, end, pebble.Sync) },
	}
	f := &fakeShard{t: t, db: db, sm: streamsm.New(7, prefix, seg)}
	t.Cleanup(f.sm.Close) // before the engine closes
	if err := f.sm.Load(db); err != nil {
		t.Fatal(err)
	}
	f.mu.leader = leader
	f.mu.paused, f.mu.down = map[uint64]bool{}, map[uint64]bool{}
	return f
}

// applyLocked commits cmd at the next index, as the raft loop would.
func (f *fakeShard) applyLocked(cmd []byte) streamsm.AppendResult {
	f.mu.index++
	wb := f.db.NewBatch()
	res := f.sm.Apply(wb, f.mu.index, cmd)
	if err := wb.Commit(pebble.Sync); err != nil {
		f.t.Fatal(err)
	}
	f.sm.Durable()
	r, ok := res.(streamsm.AppendResult)
	if !ok {
		f.t.Fatalf("apply: %v", res)
	}
	if r.Dup {
		f.mu.dups++
	}
	return r
}

func (f *fakeShard) leaderLocked() uint64 {
	if !f.mu.electAt.IsZero() && !time.Now().Before(f.mu.electAt) && f.mu.leader != f.mu.newLeader {
		f.mu.leader = f.mu.newLeader
		// The new leader's log holds what the old one had replicated; its
		// first commit commits those entries too.
		for _, c := range f.mu.carried {
			f.applyLocked(c)
		}
		f.mu.carried = nil
	}
	return f.mu.leader
}

func (f *fakeShard) call(ctx context.Context, node, gid uint64, cmd []byte) (*rpc.AppendReply, error) {
	f.mu.Lock()
	f.mu.calls = append(f.mu.calls, node)
	f.mu.cmds = append(f.mu.cmds, bytes.Clone(cmd))
	if f.mu.down[node] {
		f.mu.Unlock()
		return nil, &transport.Error{Code: pgerr.ConnectionFailure, Msg: fmt.Sprintf("node %d unreachable", node), Err: transport.ErrUnreachable}
	}
	if f.mu.paused[node] {
		if f.mu.leader == node {
			// The frozen leader had appended and replicated the entry
			// just before it stopped.
			f.mu.carried = append(f.mu.carried, bytes.Clone(cmd))
		}
		f.mu.Unlock()
		<-ctx.Done()
		return nil, replica.StoreErr(ctx.Err())
	}
	defer f.mu.Unlock()
	if l := f.leaderLocked(); l != node {
		return &rpc.AppendReply{NotHim: true, Leader: l}, nil
	}
	r := f.applyLocked(cmd)
	return &rpc.AppendReply{End: r.End}, nil
}

func (f *fakeShard) calls() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint64(nil), f.mu.calls...)
}

func (f *fakeShard) env(h *leaderHints, t timing.Timing) *appendEnv {
	return &appendEnv{
		self:   9,
		status: func(uint64) (uint64, bool, bool) { return 0, false, false },
		local: func(context.Context, uint64, []byte) (*rpc.AppendReply, error) {
			return nil, errors.New("no local replica")
		},
		replicas: func(uint64) []uint64 { return []uint64{1, 2, 3} },
		call:     f.call,
		hints:    h,
		t:        t.WithDefaults(),
	}
}

// rows is the number of events in the shard.
func (f *fakeShard) rows() int {
	n := 0
	if _, err := f.sm.Scan(0, 0, func(_ uint64, _ int64, _ streamsm.Targets, b *types.Batch) error {
		n += b.N
		return nil
	}); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func appendCmd(n int) []byte {
	b := types.NewBatch([]types.T{types.Int8})
	for i := range n {
		b.AppendRow([]types.Datum{types.NewInt(types.Int8, int64(i))})
	}
	return streamsm.EncodeAppend(nil, NewBatchID(), time.Now().UnixMicro(), types.AppendEncoded(nil, b))
}

// A frozen leader (SIGSTOP) does not hold a write for the whole attempt
// timeout: after AppendHedge the same command goes to the other replicas,
// which name the new leader once it is elected, and the write is
// acknowledged there. The frozen leader had replicated the entry, so the
// new leader commits it too: the shard's dedupe table applies it once.
func TestHedgedAppendAfterFrozenLeaderAppliedOnce(t *testing.T) {
	f := newFakeShard(t, 1)
	f.mu.paused[1] = true
	f.mu.newLeader, f.mu.electAt = 2, time.Now().Add(300*time.Millisecond)
	var h leaderHints
	h.learn(7, 1) // this node had written through node 1 before
	e := f.env(&h, timing.Timing{AppendAttempt: 5 * time.Second, AppendHedge: 100 * time.Millisecond})
	cmd := appendCmd(10)
	start := time.Now()
	end, err := e.propose(context.Background(), 7, cmd)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	// The election takes 300 ms; the attempt timeout is 5 s. Hedging
	// answers soon after the election (2 s leaves room for a slow machine).
	if took > 2*time.Second {
		t.Fatalf("the write took %v with a frozen leader (attempt timeout 5s, election after 300ms)", took)
	}
	calls := f.calls()
	if calls[0] != 1 {
		t.Fatalf("first attempt went to %d, want the remembered leader 1 (calls %v)", calls[0], calls)
	}
	f.mu.Lock()
	for i, c := range f.mu.cmds {
		if !bytes.Equal(c, cmd) {
			t.Fatalf("attempt %d (node %d) sent other bytes than the first: a retry must carry the same batch id", i, f.mu.calls[i])
		}
	}
	dups := f.mu.dups
	f.mu.Unlock()
	if dups != 1 {
		t.Fatalf("dedupe table caught %d copies, want 1 (the frozen leader's and the hedge both committed)", dups)
	}
	if n := f.rows(); n != 10 || end != 10 {
		t.Fatalf("shard holds %d events (end %d), want the batch once: 10", n, end)
	}
	if got := h.leaderOf(7); got != 2 {
		t.Fatalf("hint for group 7 = %d, want the new leader 2", got)
	}
	// The next write goes straight to the new leader.
	before := len(f.calls())
	if _, err := e.propose(context.Background(), 7, appendCmd(5)); err != nil {
		t.Fatal(err)
	}
	if next := f.calls()[before:]; len(next) != 1 || next[0] != 2 {
		t.Fatalf("next write's attempts went to %v, want [2]", next)
	}
}

// A replica that names the leader sends the attempt there at once, not
// after the hedge delay; a node that cannot be reached is skipped and
// tried last by later writes.
func TestAppendFollowsLeaderHintAndAvoidsDownNode(t *testing.T) {
	f := newFakeShard(t, 3)
	var h leaderHints
	e := f.env(&h, timing.Timing{AppendHedge: time.Second, AppendBackoff: time.Millisecond})
	start := time.Now()
	if _, err := e.propose(context.Background(), 7, appendCmd(1)); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Fatalf("took %v: the leader hint was not followed at once", took)
	}
	if got := f.calls(); len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Fatalf("attempts %v, want [1 3]: replica 1 names 3", got)
	}

	// Node 3 goes down; node 1 takes over.
	f.mu.Lock()
	f.mu.down[3] = true
	f.mu.leader = 1
	f.mu.Unlock()
	before := len(f.calls())
	if _, err := e.propose(context.Background(), 7, appendCmd(1)); err != nil {
		t.Fatal(err)
	}
	if got := f.calls()[before:]; len(got) < 2 || got[0] != 3 || got[len(got)-1] != 1 {
		t.Fatalf("attempts %v, want 3 (remembered, down) first and 1 last", got)
	}
	if !h.isSlow(3, time.Now()) {
		t.Fatal("node 3 failed to connect but is not marked slow")
	}
	before = len(f.calls())
	if _, err := e.propose(context.Background(), 7, appendCmd(1)); err != nil {
		t.Fatal(err)
	}
	if got := f.calls()[before:]; len(got) != 1 || got[0] != 1 {
		t.Fatalf("attempts %v after the failover, want [1]", got)
	}
	if n := f.rows(); n != 3 {
		t.Fatalf("%d events, want 3", n)
	}
}

// With no leader anywhere the write fails once the append deadline has
// passed, as an unknown outcome when an attempt timed out after sending.
func TestAppendNoLeaderFailsAtDeadline(t *testing.T) {
	f := newFakeShard(t, 1)
	f.mu.paused[1] = true
	var h leaderHints
	e := f.env(&h, timing.Timing{AppendDeadline: 300 * time.Millisecond, AppendAttempt: 100 * time.Millisecond,
		AppendHedge: 30 * time.Millisecond, AppendBackoff: time.Millisecond})
	start := time.Now()
	_, err := e.propose(context.Background(), 7, appendCmd(1))
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("took %v, deadline 300ms", took)
	}
	if err == nil {
		t.Fatal("a write with no reachable leader succeeded")
	}
	if pgerr.Code(err) != pgerr.SerializationFailure || !bytes.Contains([]byte(err.Error()), []byte("may or may not have been applied")) {
		t.Fatalf("err = %v (%s), want the outcome-unknown error", err, pgerr.Code(err))
	}
	if n := f.rows(); n != 0 {
		t.Fatalf("%d events, want 0", n)
	}
}

// A node cut off from every replica (a partition, or all of them frozen)
// fails the write after AppendSilence, well before the append deadline,
// so its client can go through another node; the error says the outcome
// is unknown.
func TestAppendFailsFastWhenNoReplicaAnswers(t *testing.T) {
	f := newFakeShard(t, 1)
	for n := uint64(1); n <= 3; n++ {
		f.mu.paused[n] = true
	}
	var h leaderHints
	e := f.env(&h, timing.Timing{AppendDeadline: 10 * time.Second, AppendAttempt: time.Second,
		AppendHedge: 50 * time.Millisecond, AppendSilence: 300 * time.Millisecond})
	start := time.Now()
	_, err := e.propose(context.Background(), 7, appendCmd(1))
	took := time.Since(start)
	if err == nil {
		t.Fatal("a write no replica answered succeeded")
	}
	if took < 300*time.Millisecond || took > 3*time.Second {
		t.Fatalf("failed after %v, want about AppendSilence (300ms), far below the 10s deadline", took)
	}
	if pgerr.Code(err) != pgerr.SerializationFailure || !strings.Contains(err.Error(), "no replica of shard group 7 answered") ||
		!strings.Contains(err.Error(), "may or may not have been applied") {
		t.Fatalf("err = %v", err)
	}
	// Every replica was tried.
	seen := map[uint64]bool{}
	for _, n := range f.calls() {
		seen[n] = true
	}
	if len(seen) != 3 {
		t.Fatalf("tried %v, want all three replicas", f.calls())
	}
}

// A stream without a shard key sends whole batches to the shards in turn,
// skipping one whose leader this node saw time out (any shard will do, so
// no batch waits for that shard's election); with every leader in trouble
// it takes the turn's shard.
func TestKeylessBatchSkipsShardWithSlowLeader(t *testing.T) {
	rt := &Router{}
	groups := []uint64{11, 12, 13}
	for i, g := range groups {
		rt.hints.learn(g, uint64(i+1)) // node i+1 leads group g
	}
	rt.hints.markLagging(2, time.Now())
	used := map[int]int{}
	for range 30 {
		used[rt.nextShard(groups)]++
	}
	if used[1] != 0 || used[0] == 0 || used[2] == 0 {
		t.Fatalf("shards used %v: want 0 and 2, never 1 (its leader node 2 is slow)", used)
	}
	rt.hints.markSlow(1, time.Now())
	rt.hints.markSlow(3, time.Now())
	used = map[int]int{}
	for range 30 {
		used[rt.nextShard(groups)]++
	}
	if len(used) != 3 {
		t.Fatalf("shards used %v with every leader slow: want the plain rotation", used)
	}
	rt.hints.answered(2)
	if !rt.leaderLooksReachable(12, time.Now()) {
		t.Fatal("node 2 answered but group 12 still looks unreachable")
	}
	// A replica of group 12 said it knows no leader (no quorum): skipped
	// until a leader is learned.
	rt.hints.noLeader(12, time.Now())
	if rt.leaderLooksReachable(12, time.Now()) {
		t.Fatal("group 12 has no leader but looks reachable")
	}
	rt.hints.learn(12, 2)
	if !rt.leaderLooksReachable(12, time.Now()) {
		t.Fatal("group 12 has a leader again but looks unreachable")
	}
}

// A definitive refusal (a table write's duplicate key) answers the
// statement as it is, even while a hedged copy is still out: every copy
// carries the same id, so none can be applied otherwise.
func TestAppendDefinitiveErrorWinsOverHedge(t *testing.T) {
	f := newFakeShard(t, 2)
	f.mu.paused[1] = true
	var h leaderHints
	e := f.env(&h, timing.Timing{AppendHedge: 30 * time.Millisecond, AppendAttempt: 5 * time.Second})
	e.call = func(ctx context.Context, node, gid uint64, cmd []byte) (*rpc.AppendReply, error) {
		if node == 2 {
			return nil, pgerr.DuplicateKey.New("t_pkey")
		}
		return f.call(ctx, node, gid, cmd)
	}
	start := time.Now()
	_, err := e.propose(context.Background(), 7, appendCmd(1))
	if pgerr.Code(err) != pgerr.UniqueViolation {
		t.Fatalf("err = %v (%s), want the leader's 23505", err, pgerr.Code(err))
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("took %v: the refusal waited for the frozen node's attempt", took)
	}
}

// A lone node (no other replica) whose own proposal is slow (a stalled
// disk) is not "cut off": the write waits for it past AppendSilence.
func TestAppendSilenceIgnoresLocalProposal(t *testing.T) {
	var h leaderHints
	release := make(chan struct{})
	e := &appendEnv{
		self:     9,
		status:   func(uint64) (uint64, bool, bool) { return 9, true, true },
		replicas: func(uint64) []uint64 { return []uint64{9} },
		local: func(ctx context.Context, _ uint64, _ []byte) (*rpc.AppendReply, error) {
			select {
			case <-release:
				return &rpc.AppendReply{End: 42}, nil
			case <-ctx.Done():
				return nil, replica.StoreErr(ctx.Err())
			}
		},
		call: func(context.Context, uint64, uint64, []byte) (*rpc.AppendReply, error) {
			return nil, errors.New("no call expected")
		},
		hints: &h,
		t:     timing.Timing{AppendHedge: 20 * time.Millisecond, AppendSilence: 100 * time.Millisecond, AppendAttempt: time.Second}.WithDefaults(),
	}
	time.AfterFunc(400*time.Millisecond, func() { close(release) })
	end, err := e.propose(context.Background(), 7, appendCmd(1))
	if err != nil || end != 42 {
		t.Fatalf("end %d, err %v: the local proposal was given up for silence", end, err)
	}
}
