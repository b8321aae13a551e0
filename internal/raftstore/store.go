// Package raftstore runs many etcd raft groups (RawNodes) on one node,
// driven by a single loop goroutine, with every group's log, hard state,
// applied state and state-machine data in one Pebble engine. Each loop
// iteration writes all groups' Ready into one batch and syncs it once.
// See DESIGN.md in this directory.
package raftstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
	"google.golang.org/protobuf/proto"
)

// Config configures a Store.
type Config struct {
	Dir            string        // Pebble directory (created if missing)
	FS             vfs.FS        // nil = vfs.Default; tests use a crashable in-memory FS
	NodeID         uint64        // this node's raft replica id in every group (single node: 1)
	TickInterval   time.Duration // default 50ms
	ElectionTicks  int           // default 20 (1s election timeout at 50ms ticks)
	HeartbeatTicks int           // default 2
	// MaxLogEntries: a group's log is truncated up to its applied index once
	// applied - firstIndex exceeds this (default 10000).
	MaxLogEntries uint64
	// MaxLogBytes: the log is also truncated once this many bytes of
	// entries were applied since the last truncation (default 2 MiB), so
	// that busy groups cut their log while it is still in the memtable:
	// a range deletion there costs nothing, while flushed entries are
	// rewritten by compaction until the deletion reaches them.
	MaxLogBytes int
	// MaxRetainEntries caps how far a leader holds truncation back for a
	// lagging follower (default 32768 entries: seconds of heavy ingest).
	MaxRetainEntries uint64
	NoSync           bool // skip fsync: tests and benchmarks only
	// SyncFault, if set, is called before every synced commit (test-only
	// disk faults): it may block to stall the disk, and an error is handled
	// exactly like a failed fsync, which ends the process (see diskFailed).
	// Called on the loop goroutine.
	SyncFault func() error
	Transport Transport // nil on a single node
	// Metrics hooks, each may be nil. They are called from the loop and must not block.
	OnFsync   func(time.Duration)               // each synced batch commit
	OnCommit  func(gid uint64, d time.Duration) // propose → applied latency of a local proposal to group gid
	OnPropose func(gid uint64)                  // a local proposal to group gid
	// OnElection is called when a replica of group gid becomes a
	// candidate (starts an election; pre-vote rounds are not counted).
	OnElection func(gid uint64)
	// OnLeaderChange is called when a replica of group gid learns of a
	// new leader, or loses the one it knew (leader 0).
	OnLeaderChange func(gid, leader uint64)
	// OnLeader, if set, is called (from the loop; it must not block) when
	// this replica starts leading a group in a term, once it has committed
	// an entry of that term: the record a checker uses to prove no two
	// replicas committed as leader in one term.
	OnLeader func(gid, term uint64)
	Logger   *slog.Logger
	// MemTableSize and BlockCacheSize size Pebble from the node's memory
	// budget (internal/memory); 0: 64 MiB memtables and Pebble's default
	// cache. At most 4 memtables exist at once (MemTableStopWritesThreshold).
	MemTableSize   uint64
	BlockCacheSize int64
	// SnapshotChunkBytes is how many bytes of key/value pairs one chunk
	// of a streamed snapshot holds (default DefaultSnapshotChunkBytes;
	// tests make it tiny).
	SnapshotChunkBytes int
	// TestingKnobs are hooks for tests only.
	TestingKnobs TestingKnobs
}

// TestingKnobs hook into the loop for tests.
type TestingKnobs struct {
	// BeforeApply is called in the loop before committed entries of a group
	// are applied; every entry in ents is durable at that moment, none of
	// them (from this Ready) is applied yet.
	BeforeApply func(gid uint64, ents []*pb.Entry)
	// DisableQuiescence keeps every group ticking (the behaviour before
	// quiescence), to measure what quiescing saves.
	DisableQuiescence bool
	// OnDiskFailure, if set, is told of a failed synced write instead of
	// the process exiting; the store's loop then stops (every waiter gets
	// ErrStopped), which is what a crash looks like to this process.
	OnDiskFailure func(err error)
	// BeforeIngest is called in the loop just before a received snapshot's
	// staged SSTs are ingested (paths: the raft-state SST, then chunks).
	BeforeIngest func(gid uint64, paths []string)
}

// GroupMessage is a raft message of one group. Raft messages carry no group
// id, so the transport frames them with it.
type GroupMessage struct {
	GroupID uint64
	Msg     *pb.Message
}

// Transport sends raft messages to other nodes (Msg.To is the node id).
// Send is called from the loop once per iteration with all outgoing
// messages, after they were made durable. It must not block for long, must
// finish reading (marshal) the messages before it returns, and must not
// modify them. The receiving node calls Store.Step.
type Transport interface {
	Send(msgs []GroupMessage)
}

// StateMachine is a group's replicated state machine.
type StateMachine interface {
	// Apply applies one committed command. Durable effects go into wb, the batch
	// the store commits (with one fsync, together with the applied index) after
	// applying everything in this loop iteration. Deterministic. The result is
	// returned to the Propose caller on this node. wb is an indexed batch: reads
	// through it see this iteration's earlier writes.
	Apply(wb *pebble.Batch, index uint64, cmd []byte) any
	// Load rebuilds in-memory state from the engine: at group start and after a
	// snapshot was ingested.
	Load(r pebble.Reader) error
}

// LeaderWatcher may be implemented by a StateMachine to learn leadership
// changes. It is called from the loop and must not block. LeaderChanged(true)
// comes once this replica leads and has applied an entry of its own term,
// so its state machine reflects every entry committed before; a loss of
// leadership is reported at once.
type LeaderWatcher interface {
	LeaderChanged(isLeader bool, term uint64)
}

// DurableNotifier may be implemented by a StateMachine: Durable is called
// from the loop after the batch containing this group's applies is
// committed to the engine (readers see it). Every entry applied in it is
// synced to the log; the applied state itself may not be fsynced yet, but a
// crash cannot roll it back: replay of the synced log rebuilds it exactly.
// So what Durable publishes is never lost.
type DurableNotifier interface {
	Durable()
}

// GroupStatus is a snapshot of one group's raft state on this node.
type GroupStatus struct {
	ID         uint64 // group id
	Leader     uint64 // replica id of the leader, 0 if unknown
	Term       uint64
	Commit     uint64
	Applied    uint64
	FirstIndex uint64
	LastIndex  uint64
	IsLeader   bool
	Voters     []uint64
	Learners   []uint64
	// Match is, on the leader only, the highest log index known to be
	// replicated on each replica (voters and learners, this node included),
	// from raft's progress tracker; nil on other replicas.
	Match map[uint64]uint64
}

const (
	// Entry payload header: version byte, store epoch, proposal sequence. The
	// epoch is random per Store.Open so that a result is never matched to a
	// waiter of an earlier incarnation of this node.
	hdrVersion = 1
	hdrLen     = 17

	// bootstrapIndex/Term is the initial log position of a bootstrapped
	// group: every replica starts from the same truncated state with the
	// voters in its conf state, so nothing needs to be replicated to agree
	// on the initial membership, and a new replica (empty log) is caught up
	// by a snapshot.
	bootstrapIndex = 5
	bootstrapTerm  = 5
)

type result struct {
	val any
	err error
}

type proposal struct {
	ctx   context.Context
	gid   uint64
	seq   uint64
	data  []byte           // header + command (normal entries)
	cc    *pb.ConfChangeV2 // non-nil for a conf change
	start time.Time
	index uint64 // log index, set once the entry is seen in a Ready
	done  chan result
}

type readReq struct {
	ctx   context.Context
	rctx  []byte
	index uint64 // read index, valid when known
	known bool
	done  chan error
}

// group is one raft group on this store; owned by the loop goroutine.
type group struct {
	id         uint64
	rn         *raft.RawNode
	st         *groupStorage
	sm         StateMachine
	pending    map[uint64]*proposal // local proposals awaiting apply, by seq
	reads      []*readReq           // read-index requests awaiting index or apply
	lead       uint64               // leader as of the last Ready's SoftState
	raftState  raft.StateType       // raft state as of the last Ready's SoftState
	isLeader   bool                 // as last reported to the LeaderWatcher
	leaderTerm uint64               // term of the reported leadership
	// logBytes counts the bytes of entries applied since the log was
	// last truncated (MaxLogBytes).
	logBytes int
	quiesced bool     // not ticking (quiesce.go); false iff in q.active
	qLead    uint64   // quiesced follower: the leader node it watches
	qPeers   []uint64 // quiesced: the nodes it is registered under in q.watch
}

// Store is one node's multi-raft engine.
type Store struct {
	cfg   Config
	log   *slog.Logger
	db    *pebble.DB
	epoch uint64
	seq   atomic.Uint64

	bg     sync.WaitGroup  // snapshot senders
	ctx    context.Context // ends with Close: stops snapshot senders
	cancel context.CancelFunc
	snaps  snapStore
	wake   chan struct{} // cap 1: there is work in mu
	stopc  chan struct{}
	done   chan struct{} // closed when the loop exited
	once   sync.Once

	mu struct {
		sync.Mutex
		props   []*proposal
		msgs    []GroupMessage
		fns     []func()
		stopped bool
		running map[uint64]bool // groups started and not destroyed, for Step
	}

	// Loop-owned state.
	groups map[uint64]*group
	held   []*proposal       // proposals waiting for an election in their group to end
	dirty  map[uint64]*group // groups that may have a Ready
	q      quiesceState      // quiesce.go
	// applying is set while committed entries are applied into a batch
	// not yet committed: the engine then lags raft's state, so no
	// snapshot is taken (raft retries on a later heartbeat response).
	applying bool

	// Counts published by the loop for metrics.
	nGroups, nQuiesced atomic.Int64
	scratch            []byte

	// statuses is published by the loop after each iteration, so that Status
	// does not wait for the loop (which may be in an fsync).
	statusMu sync.RWMutex
	statuses map[uint64]GroupStatus
}

// engineFilter is the engine's bloom filter: 10 bits a key.
var engineFilter = bloom.FilterPolicy(10)

// Open opens (or creates) the engine and starts the loop. Groups are started
// with StartGroup.
func Open(cfg Config) (*Store, error) {
	if cfg.NodeID == 0 {
		return nil, errors.New("raftstore: NodeID must be non-zero")
	}
	if cfg.FS == nil {
		cfg.FS = vfs.Default
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 50 * time.Millisecond
	}
	if cfg.ElectionTicks <= 0 {
		cfg.ElectionTicks = 20
	}
	if cfg.HeartbeatTicks <= 0 {
		cfg.HeartbeatTicks = 2
	}
	if cfg.MaxRetainEntries == 0 {
		cfg.MaxRetainEntries = 32768
	}
	if cfg.MaxLogEntries == 0 {
		cfg.MaxLogEntries = 10000
	}
	if cfg.MaxLogBytes == 0 {
		cfg.MaxLogBytes = 2 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SnapshotChunkBytes <= 0 {
		cfg.SnapshotChunkBytes = DefaultSnapshotChunkBytes
	}
	if err := cfg.FS.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("raftstore: create %s: %w", cfg.Dir, err)
	}
	if err := cleanSnapshotDir(cfg); err != nil {
		return nil, err
	}
	var self atomic.Pointer[Store] // for pebbleLogger.Fatalf
	opts := &pebble.Options{
		FS:           cfg.FS,
		MemTableSize: cmp.Or(cfg.MemTableSize, 64<<20),
		// Ingest writes every event twice (raft log, then stream shard) at
		// tens of MB/s; the defaults stall writes too early for that.
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       64,
		Logger:                      pebbleLogger{l: cfg.Logger, store: &self},
		// Virtual SSTs: Excise drops stream data below the retention
		// point without rewriting files (writeonce.go).
		FormatMajorVersion: pebble.FormatVirtualSSTables,
	}
	// Bloom filters (10 bits a key, about 1% false positives) on every
	// level: a view shard looks up each group key of a delta, and with
	// many groups most are new, so absent from every table; a prefix seek
	// (viewsm.readMissing) then reads one filter block per table instead
	// of an index and a data block per level.
	opts.Levels[0].FilterPolicy = engineFilter
	if cfg.BlockCacheSize > 0 {
		c := pebble.NewCache(cfg.BlockCacheSize)
		defer c.Unref() // the DB holds its own reference
		opts.Cache = c
	}
	// Columnar batches of numbers compress poorly with snappy and the CPU
	// is better spent on ingest; a later issue may pick zstd for cold levels.
	opts.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionNone })
	db, err := pebble.Open(cfg.Dir, opts)
	if err != nil {
		return nil, fmt.Errorf("raftstore: open pebble at %s: %w", cfg.Dir, err)
	}
	var eb [8]byte
	_, _ = rand.Read(eb[:])
	s := &Store{
		cfg:    cfg,
		log:    cfg.Logger,
		db:     db,
		epoch:  binary.BigEndian.Uint64(eb[:]),
		wake:   make(chan struct{}, 1),
		stopc:  make(chan struct{}),
		done:   make(chan struct{}),
		groups: make(map[uint64]*group),
		dirty:  make(map[uint64]*group),
		q:      newQuiesceState(),

		statuses: make(map[uint64]GroupStatus),
	}
	s.mu.running = make(map[uint64]bool)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.snaps.out = make(map[[snapshotIDLen]byte]*outSnap)
	s.snaps.in = make(map[[snapshotIDLen]byte]*IncomingSnapshot)
	self.Store(s)
	go s.loop()
	return s, nil
}

// DB returns the engine, for reads of state-machine data.
func (s *Store) DB() *pebble.DB { return s.db }

// Close stops the loop, fails outstanding requests with ErrStopped and
// closes the engine.
func (s *Store) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.mu.stopped = true
		s.mu.Unlock()
		close(s.stopc)
		<-s.done
		s.cancel()
		s.bg.Wait() // snapshot senders hold Pebble snapshots
		s.snaps.mu.Lock()
		for _, o := range s.snaps.out {
			o.src.close()
		}
		s.snaps.out = nil
		s.snaps.mu.Unlock()
		err = s.db.Close()
	})
	return err
}

func (s *Store) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// enqueue adds work under mu; false when the store is stopped.
func (s *Store) enqueue(f func()) bool {
	s.mu.Lock()
	if s.mu.stopped {
		s.mu.Unlock()
		return false
	}
	f()
	s.mu.Unlock()
	s.signal()
	return true
}

// runInLoop runs fn on the loop goroutine and waits for it.
func (s *Store) runInLoop(fn func()) error {
	done := make(chan struct{})
	if !s.enqueue(func() { s.mu.fns = append(s.mu.fns, func() { fn(); close(done) }) }) {
		return ErrStopped
	}
	select {
	case <-done:
		return nil
	case <-s.done:
		select {
		case <-done:
			return nil
		default:
			return ErrStopped
		}
	}
}

// StartGroup starts group gid on this store: it resumes the persisted group,
// or bootstraps it with peers as voters when nothing is persisted. With no
// peers and no persisted state the replica starts empty and waits for a
// snapshot from the leader (a replica being added by a conf change). A group
// whose only voter is this node campaigns at once.
func (s *Store) StartGroup(gid uint64, sm StateMachine, peers []uint64) error {
	var err error
	if rerr := s.runInLoop(func() { err = s.startGroupInLoop(gid, sm, peers) }); rerr != nil {
		return rerr
	}
	return err
}

func (s *Store) startGroupInLoop(gid uint64, sm StateMachine, peers []uint64) error {
	if _, ok := s.groups[gid]; ok {
		return fmt.Errorf("raftstore: group %d already started", gid)
	}
	if _, tomb, err := getValue(s.db, tombstoneKey(gid)); err != nil {
		return err
	} else if tomb {
		return fmt.Errorf("group %d: %w", gid, ErrGroupRemoved)
	}
	gs, ok, err := loadGroupStorage(s.db, gid)
	if err != nil {
		return err
	}
	if !ok {
		if err := s.bootstrap(gid, peers); err != nil {
			return err
		}
		if gs, _, err = loadGroupStorage(s.db, gid); err != nil {
			return err
		}
	}
	s.hookStorage(gs, sm)
	if err := sm.Load(s.db); err != nil {
		return fmt.Errorf("raftstore: group %d: load state machine: %w", gid, err)
	}
	rn, err := raft.NewRawNode(s.raftConfig(gid, gs))
	if err != nil {
		return fmt.Errorf("raftstore: group %d: %w", gid, err)
	}
	g := &group{id: gid, rn: rn, st: gs, sm: sm, pending: make(map[uint64]*proposal)}
	s.groups[gid] = g
	s.dirty[gid] = g
	s.q.active[gid] = g
	s.nGroups.Add(1)
	// Replicas of this group elsewhere may be quiesced under this node's
	// earlier incarnation as leader: wake them (they then elect as usual).
	for _, id := range append(gs.conf.GetVoters(), gs.conf.GetLearners()...) {
		if id != s.cfg.NodeID {
			s.q.out = append(s.q.out, wakeMsg(gid, s.cfg.NodeID, id))
		}
	}
	s.mu.Lock()
	s.mu.running[gid] = true
	s.mu.Unlock()
	if slices.Equal(gs.conf.GetVoters(), []uint64{s.cfg.NodeID}) && len(gs.conf.GetVotersOutgoing()) == 0 {
		// Alone: no reason to wait for an election timeout.
		_ = rn.Campaign()
	}
	s.publishStatus(g)
	return nil
}

// raftConfig is the raft configuration of every group's RawNode, started
// from gs (its persisted state, applied index included).
func (s *Store) raftConfig(gid uint64, gs *groupStorage) *raft.Config {
	return &raft.Config{
		ID:                        s.cfg.NodeID,
		ElectionTick:              s.cfg.ElectionTicks,
		HeartbeatTick:             s.cfg.HeartbeatTicks,
		Storage:                   gs,
		Applied:                   gs.applied,
		MaxSizePerMsg:             1 << 20,
		MaxInflightMsgs:           64,
		MaxCommittedSizePerReady:  16 << 20,
		MaxUncommittedEntriesSize: 256 << 20,
		CheckQuorum:               true,
		PreVote:                   true,
		DisableProposalForwarding: true,
		Logger:                    raftLogger{s.log.With("group", gid)},
	}
}

// bootstrap persists the initial state of a group that has none.
func (s *Store) bootstrap(gid uint64, peers []uint64) error {
	b := s.db.NewBatch()
	defer b.Close()
	if len(peers) == 0 {
		// An empty replica: log position 0, waits for a snapshot.
		_ = b.Set(raftStateKey(gid, suffixTruncated), encodeIndexTerm(0, 0), nil)
	} else {
		voters := slices.Clone(peers)
		slices.Sort(voters)
		voters = slices.Compact(voters)
		cs, err := proto.Marshal(&pb.ConfState{Voters: voters})
		if err != nil {
			return err
		}
		hs, err := proto.Marshal(&pb.HardState{Term: new(uint64(bootstrapTerm)), Commit: new(uint64(bootstrapIndex))})
		if err != nil {
			return err
		}
		_ = b.Set(raftStateKey(gid, suffixTruncated), encodeIndexTerm(bootstrapIndex, bootstrapTerm), nil)
		_ = b.Set(raftStateKey(gid, suffixApplied), encodeIndexTerm(bootstrapIndex, bootstrapTerm), nil)
		_ = b.Set(raftStateKey(gid, suffixConfState), cs, nil)
		_ = b.Set(raftStateKey(gid, suffixHardState), hs, nil)
	}
	s.commitSynced(b, fmt.Sprintf("group %d: bootstrap", gid))
	return nil
}

// PersistedGroups lists the groups with raft state in the engine (those to
// StartGroup after a restart).
func (s *Store) PersistedGroups() ([]uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixRaft}, UpperBound: []byte{prefixRaft + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []uint64
	for valid := it.First(); valid; {
		k := it.Key()
		if len(k) < 9 {
			valid = it.Next()
			continue
		}
		gid := binary.BigEndian.Uint64(k[1:9])
		out = append(out, gid)
		if gid == ^uint64(0) {
			break
		}
		valid = it.SeekGE(groupKey(prefixRaft, gid+1, 0))
	}
	return out, it.Error()
}

// DestroyGroup stops the group on this store, deletes its log, raft state and
// data, and leaves a tombstone: later messages for it are dropped and
// StartGroup refuses it.
func (s *Store) DestroyGroup(gid uint64) error {
	var err error
	if rerr := s.runInLoop(func() { err = s.destroyGroupInLoop(gid) }); rerr != nil {
		return rerr
	}
	return err
}

func (s *Store) destroyGroupInLoop(gid uint64) error {
	if g, ok := s.groups[gid]; ok {
		s.failGroup(g, fmt.Errorf("group %d: %w", gid, ErrGroupRemoved))
		s.forgetGroupQuiescence(g)
		delete(s.groups, gid)
		s.nGroups.Add(-1)
		delete(s.dirty, gid)
	}
	s.statusMu.Lock()
	delete(s.statuses, gid)
	s.statusMu.Unlock()
	s.mu.Lock()
	delete(s.mu.running, gid)
	s.mu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	rs, re := raftSpan(gid)
	ds, de := dataSpan(gid)
	_ = b.DeleteRange(rs, re, nil)
	_ = b.DeleteRange(ds, de, nil)
	_ = b.Set(tombstoneKey(gid), nil, nil)
	s.commitSynced(b, fmt.Sprintf("group %d: destroy", gid))
	// Write-once data is never deleted through a batch (writeonce.go).
	ss, se := streamSpan(gid)
	if err := s.db.Excise(context.Background(), pebble.KeyRange{Start: ss, End: se}); err != nil {
		return fmt.Errorf("group %d: destroy stream data: %w", gid, err)
	}
	return nil
}

// IsTombstoned reports whether gid was destroyed on this store.
func (s *Store) IsTombstoned(gid uint64) (bool, error) {
	_, ok, err := getValue(s.db, tombstoneKey(gid))
	return ok, err
}

func (s *Store) failGroup(g *group, err error) {
	for seq, p := range g.pending {
		p.done <- result{err: err}
		delete(g.pending, seq)
	}
	for _, r := range g.reads {
		r.done <- err
	}
	g.reads = nil
}

func (s *Store) newProposal(ctx context.Context, gid uint64) *proposal {
	return &proposal{ctx: ctx, gid: gid, seq: s.seq.Add(1), start: time.Now(), done: make(chan result, 1)}
}

func (s *Store) putHeader(b []byte, seq uint64) {
	b[0] = hdrVersion
	binary.BigEndian.PutUint64(b[1:9], s.epoch)
	binary.BigEndian.PutUint64(b[9:17], seq)
}

// parseHeader returns the local proposal seq of a payload (ok false when it
// was proposed by another node or incarnation) and the command.
func (s *Store) parseHeader(b []byte) (seq uint64, local bool, cmd []byte, ok bool) {
	if len(b) < hdrLen || b[0] != hdrVersion {
		return 0, false, nil, false
	}
	return binary.BigEndian.Uint64(b[9:17]), binary.BigEndian.Uint64(b[1:9]) == s.epoch, b[hdrLen:], true
}

// Propose replicates cmd in group gid and returns Apply's result once the
// entry is committed, durable and applied on this node. It fails with
// ErrNotLeader when this replica is not the leader, and ErrProposalDropped
// when raft dropped the entry or a new leader replaced it.
func (s *Store) Propose(ctx context.Context, gid uint64, cmd []byte) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := s.newProposal(ctx, gid)
	p.data = make([]byte, hdrLen+len(cmd))
	s.putHeader(p.data, p.seq)
	copy(p.data[hdrLen:], cmd)
	return s.waitProposal(ctx, p)
}

// ProposeConfChange proposes a membership change in group gid and returns
// once it is applied on this node.
func (s *Store) ProposeConfChange(ctx context.Context, gid uint64, cc *pb.ConfChangeV2) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := s.newProposal(ctx, gid)
	p.cc = proto.Clone(cc).(*pb.ConfChangeV2)
	hdr := make([]byte, hdrLen, hdrLen+len(cc.GetContext()))
	s.putHeader(hdr, p.seq)
	p.cc.Context = append(hdr, cc.GetContext()...)
	_, err := s.waitProposal(ctx, p)
	return err
}

func (s *Store) waitProposal(ctx context.Context, p *proposal) (any, error) {
	if !s.enqueue(func() { s.mu.props = append(s.mu.props, p) }) {
		return nil, ErrStopped
	}
	if s.cfg.OnPropose != nil {
		s.cfg.OnPropose(p.gid)
	}
	select {
	case r := <-p.done:
		return r.val, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
		select {
		case r := <-p.done:
			return r.val, r.err
		default:
			return nil, ErrStopped
		}
	}
}

// ReadIndex is a linearizable read barrier: it returns once this replica
// has applied at least the group's commit index as of the call, confirmed by
// the leader with a heartbeat round (raft ReadIndex).
func (s *Store) ReadIndex(ctx context.Context, gid uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The request context carries the store's epoch: a response the leader
	// sent to an earlier incarnation of this node (queued while it was
	// down) must not complete a read of this one with an old index.
	rctx := binary.BigEndian.AppendUint64(nil, s.epoch)
	rctx = binary.BigEndian.AppendUint64(rctx, s.seq.Add(1))
	r := &readReq{ctx: ctx, rctx: rctx, done: make(chan error, 1)}
	err := s.runInLoop(func() {
		g, ok := s.groups[gid]
		if !ok {
			r.done <- fmt.Errorf("group %d: %w", gid, ErrGroupNotFound)
			return
		}
		if g.rn.BasicStatus().Lead == raft.None {
			r.done <- fmt.Errorf("group %d: %w", gid, ErrNotLeader)
			return
		}
		s.wakeGroup(g, 0)
		s.dirty[gid] = g
		g.rn.ReadIndex(r.rctx)
		g.reads = append(g.reads, r)
	})
	if err != nil {
		return err
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return ErrStopped
	}
}

// Status returns the group's raft state on this node, as of the loop's
// last iteration.
func (s *Store) Status(gid uint64) (GroupStatus, bool) {
	s.statusMu.RLock()
	st, ok := s.statuses[gid]
	s.statusMu.RUnlock()
	st.Voters, st.Learners = slices.Clone(st.Voters), slices.Clone(st.Learners)
	st.Match = maps.Clone(st.Match)
	return st, ok
}

// EachStatus calls f with the published status of every group on this
// node (as of the loop's last iteration), under a read lock: f must not
// call back into the store.
func (s *Store) EachStatus(f func(GroupStatus)) {
	s.statusMu.RLock()
	defer s.statusMu.RUnlock()
	for _, st := range s.statuses {
		f(st)
	}
}

// publishStatus refreshes the group's published status (loop only).
func (s *Store) publishStatus(g *group) {
	bs := g.rn.BasicStatus()
	st := GroupStatus{
		ID:         g.id,
		Leader:     bs.Lead,
		Term:       bs.GetTerm(),
		Commit:     bs.GetCommit(),
		Applied:    g.st.applied,
		FirstIndex: g.st.truncIdx + 1,
		LastIndex:  g.st.lastIdx,
		IsLeader:   bs.RaftState == raft.StateLeader,
		Voters:     g.st.conf.GetVoters(),
		Learners:   g.st.conf.GetLearners(),
	}
	if st.IsLeader {
		st.Match = s.leaderMatch(g)
	}
	s.statusMu.Lock()
	s.statuses[g.id] = st
	s.statusMu.Unlock()
}

// leaderMatch returns the match index of every replica of a group this
// node leads. The published map is never modified (Status hands out
// copies), so when nothing moved since the last publication it is reused
// and an idle leader allocates nothing.
func (s *Store) leaderMatch(g *group) map[uint64]uint64 {
	s.statusMu.RLock()
	prev := s.statuses[g.id].Match
	s.statusMu.RUnlock()
	same, n := prev != nil, 0
	g.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		n++
		if m, ok := prev[id]; !ok || m != pr.Match {
			same = false
		}
	})
	if same && n == len(prev) {
		return prev
	}
	m := make(map[uint64]uint64, n)
	g.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) { m[id] = pr.Match })
	return m
}

// Step delivers a message received from another node for group gid; the
// loop steps it into the group's raft. Messages that are not delivered
// return an error: ErrGroupRemoved for a tombstoned group, ErrGroupNotFound
// for a group not running here, and errors for messages addressed to
// another node or carrying a malformed snapshot.
func (s *Store) Step(gid uint64, msg *pb.Message) error {
	if msg == nil || msg.GetTo() != s.cfg.NodeID {
		return fmt.Errorf("raftstore: message for node %d delivered to node %d", msg.GetTo(), s.cfg.NodeID)
	}
	if msg.GetType() == pb.MsgSnap {
		if err := s.validateSnapshotMsg(gid, msg); err != nil {
			return err
		}
	}
	var err error
	ok := s.enqueue(func() {
		if !s.mu.running[gid] && gid != pingGroupID {
			err = fmt.Errorf("group %d: %w", gid, ErrGroupNotFound)
			return
		}
		s.mu.msgs = append(s.mu.msgs, GroupMessage{GroupID: gid, Msg: msg})
	})
	if !ok {
		return ErrStopped
	}
	if err != nil {
		if tomb, _ := s.IsTombstoned(gid); tomb {
			return fmt.Errorf("group %d: %w", gid, ErrGroupRemoved)
		}
	}
	return err
}

// TransferLeader asks this node's replica of gid, if it leads, to hand
// leadership to voter to. It returns at once; the transfer completes (or
// is abandoned after an election timeout) asynchronously.
func (s *Store) TransferLeader(gid, to uint64) error {
	var err error
	if rerr := s.runInLoop(func() {
		g, ok := s.groups[gid]
		if !ok {
			err = fmt.Errorf("group %d: %w", gid, ErrGroupNotFound)
			return
		}
		if g.rn.BasicStatus().RaftState != raft.StateLeader {
			err = fmt.Errorf("group %d: %w", gid, ErrNotLeader)
			return
		}
		s.wakeGroup(g, 0)
		g.rn.TransferLeader(to)
		s.dirty[gid] = g
	}); rerr != nil {
		return rerr
	}
	return err
}

// hookStorage connects a group's raft storage to the store and its state
// machine: snapshots are taken by the store, after the state machine put
// what it holds in memory into the engine (SnapshotFlusher). Every place
// that (re)builds a groupStorage must call it: a storage without the
// flusher would send snapshots that miss a stream shard's unwritten tail.
func (s *Store) hookStorage(gs *groupStorage, sm StateMachine) {
	gs.log, gs.newSnapshot = s.log, s.newSnapshot
	if f, ok := sm.(SnapshotFlusher); ok {
		gs.beforeSnapshot = f.FlushBeforeSnapshot
	}
}
