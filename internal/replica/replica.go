// Package replica runs this node's replicas of data shards: it starts and
// destroys them as the catalog's placement says (reconcile), serves the
// data RPCs other nodes send to them (appends at a leader, stream scans and
// view reads at any replica), answers shard-admin requests, and supervises
// the view task of every view shard this node leads. It reads streams it
// has no replica of through the Sources function the node gives it (the
// router), so it never calls another node itself.
package replica

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	pb "go.etcd.io/raft/v3/raftpb"

	"github.com/cairndb/cairn/internal/bugs"
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/cluster/placement"
	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/tablesm"
	"github.com/cairndb/cairn/internal/timing"
	"github.com/cairndb/cairn/internal/types"
	"github.com/cairndb/cairn/internal/viewsm"
)

// Config configures a Manager.
type Config struct {
	Self    uint64 // this node's raft id
	Name    string // this node's --node-id, for messages
	Store   *raftstore.Store
	Meta    *catalog.MetaSM
	Logger  *slog.Logger
	Timing  timing.Timing
	Bugs    *bugs.Set // deliberate defects (checker self-tests); nil: none
	Sources func(groups []uint64) viewsm.Source
	// Live is the liveness of the catalog's nodes, for handing a
	// leadership off a replica being removed.
	Live func(cat *catalog.Catalog) membership.Snapshot
	// ViewOffsets asks a replica of view shard gid on another node for
	// the source offsets it folded (nil if none answers): retention never
	// trims what a view has not seen.
	ViewOffsets func(ctx context.Context, gid uint64) []uint64
	Metrics     *metrics.Metrics // view lag gauges
	// Table reads a table for the views that join one (enrichment):
	// point lookups by primary key and scans, each as current as the
	// table's shards are when it runs.
	Table func(t *catalog.Table) exec.KeyedSource
	// MaxDeltaEvents bounds the events a view task folds into one delta
	// (the node's view-delta memory budget; 0: viewsm's default).
	MaxDeltaEvents int
	// BeforeDelta, if set, is called before a view task proposes a delta
	// and may block (the test knob that stalls view tasks).
	BeforeDelta func(ctx context.Context) error
	// ViewCache caches clean view rows for every view shard of the node
	// (nil: none; rows are then read from the engine).
	ViewCache *viewsm.Cache
	// Snapshots lists the snapshots of group gid this node is streaming
	// (shown in a shard status, so operations report their progress).
	Snapshots func(gid uint64) []rpc.SnapshotProgress
}

// Manager holds this node's data-shard replicas.
type Manager struct {
	self    uint64
	name    string
	store   *raftstore.Store
	meta    *catalog.MetaSM
	log     *slog.Logger
	t       timing.Timing
	bugs    *bugs.Set
	sources func(groups []uint64) viewsm.Source
	live    func(cat *catalog.Catalog) membership.Snapshot
	// viewOffsets: Config.ViewOffsets.
	viewOffsets func(ctx context.Context, gid uint64) []uint64
	metrics     *metrics.Metrics
	table       func(t *catalog.Table) exec.KeyedSource
	viewCache   *viewsm.Cache
	snapshots   func(gid uint64) []rpc.SnapshotProgress
	ctx         context.Context // ends when the node stops: view tasks stop
	maxDelta    int             // Config.MaxDeltaEvents
	beforeDelta func(ctx context.Context) error
	regions     learnerState // permanent learners (regions.go)

	mu struct {
		sync.Mutex
		groups map[uint64]*Group // running replicas (and stand-ins for remote view shards)
	}
}

// New returns a manager whose view tasks run until ctx ends.
func New(ctx context.Context, cfg Config) *Manager {
	m := &Manager{self: cfg.Self, name: cfg.Name, store: cfg.Store, meta: cfg.Meta, log: cfg.Logger, t: cfg.Timing.WithDefaults(),
		bugs: cfg.Bugs, sources: cfg.Sources, live: cfg.Live, viewOffsets: cfg.ViewOffsets, metrics: cfg.Metrics, table: cfg.Table, snapshots: cfg.Snapshots, ctx: ctx,
		maxDelta: cfg.MaxDeltaEvents, beforeDelta: cfg.BeforeDelta, viewCache: cfg.ViewCache}
	m.mu.groups = map[uint64]*Group{}
	return m
}

// Stop stops every view task and waits for them.
func (m *Manager) Stop() {
	// Without holding mu: a task may need it (Get) on its way out.
	m.mu.Lock()
	groups := make([]*Group, 0, len(m.mu.groups))
	for _, g := range m.mu.groups {
		groups = append(groups, g)
	}
	m.mu.Unlock()
	for _, g := range groups {
		if g.stop != nil {
			g.stop()
			<-g.done
		}
	}
}

// Holds says what the replica of gid holds, for shard-admin replies.
func (m *Manager) Holds(gid uint64) string { return m.holds(gid) }

// Group is one running data group on this node.
// group is one running data group on this node.
type Group struct {
	ID     uint64
	Ref    catalog.GroupRef
	Stream *streamsm.SM  // a stream shard's state machine, or nil
	View   *viewsm.SM    // a view shard's state machine, or nil
	Table  *tablesm.SM   // a table shard's state machine, or nil
	Desc   *catalog.View // the view, for a view shard
	leader chan struct{} // poked on leadership changes
	stop   context.CancelFunc
	done   chan struct{}
	// Remote marks a stand-in for a view shard with no replica here: reads
	// go to a replica on another node, planned with Plan.
	Remote bool
	Plan   *exec.ViewPlan
}

// Reconcile starts the groups the catalog has and this node lacks, and
// destroys the groups of dropped objects. Streams start before views
// because a view reads its stream's shards.
func (m *Manager) Reconcile() {
	cat := m.meta.Catalog()
	want := cat.Groups()
	m.mu.Lock()
	var drop []*Group
	for id, g := range m.mu.groups {
		// Dropped objects, and replicas moved off this node (an operation
		// removes a replica from the raft group before the placement).
		if ref, ok := want[id]; !ok || !ref.Holds(m.self) {
			drop = append(drop, g)
			delete(m.mu.groups, id)
		}
	}
	m.mu.Unlock()
	for _, g := range drop {
		if g.stop != nil {
			g.stop()
			<-g.done
		}
		if g.Stream != nil {
			g.Stream.Close() // no background write-out into a destroyed range
		}
		if err := m.store.DestroyGroup(g.ID); err != nil {
			m.log.Warn("destroy group", "group", g.ID, "err", err)
		}
	}
	for _, s := range cat.SortedStreams() {
		for i, gid := range s.Groups {
			peers, ok := m.startPeers(cat, want, gid)
			if !ok {
				continue
			}
			sm := streamsm.New(gid, raftstore.DataPrefix(gid), streamsm.StoreSegments(m.store, gid))
			if err := m.store.StartGroup(gid, sm, peers); err != nil {
				m.log.Error("start stream shard", "stream", s.Name, "shard", i, "group", gid, "err", err)
				continue
			}
			m.Add(&Group{ID: gid, Ref: catalog.GroupRef{Kind: catalog.GroupStream, Object: s.Name, Shard: i}, Stream: sm})
		}
	}
	m.startTables(cat, want)
	for _, v := range cat.SortedViews() {
		s := cat.Streams[v.Stream]
		if s == nil || v.Transform {
			continue // a transform has no groups
		}
		if v.JoinStream != "" && cat.Streams[v.JoinStream] == nil {
			continue // being dropped with its right-hand stream
		}
		plan, err := PlanStoredView(v, s)
		if err != nil {
			m.log.Error("plan view", "view", v.Name, "err", err)
			continue
		}
		for i, gid := range v.Groups {
			peers, ok := m.startPeers(cat, want, gid)
			if !ok {
				continue
			}
			g := &Group{ID: gid, Ref: catalog.GroupRef{Kind: catalog.GroupView, Object: v.Name, Shard: i}, Desc: v,
				leader: make(chan struct{}, 1), done: make(chan struct{})}
			g.View = viewsm.New(raftstore.DataPrefix(gid), plan, v.Start, func(bool, uint64) {
				select {
				case g.leader <- struct{}{}:
				default:
				}
			})
			g.View.SetStorage(m.store.DB(), m.viewCache)
			if err := m.store.StartGroup(gid, g.View, peers); err != nil {
				m.log.Error("start view shard", "view", v.Name, "shard", i, "group", gid, "err", err)
				continue
			}
			ctx, cancel := context.WithCancel(m.ctx)
			g.stop = cancel
			m.Add(g)
			go m.superviseView(ctx, g, cat.ViewStreams(v))
		}
	}
	m.EnsureLearners() // regions.go
}

// startPeers says whether this node should start group gid and with
// which initial voters: the placement for a group's first replicas, none
// for a replica added to a running group (it waits for a snapshot; a
// tombstone left by an earlier removal from the same group is cleared).
func (m *Manager) startPeers(cat *catalog.Catalog, want map[uint64]catalog.GroupRef, gid uint64) ([]uint64, bool) {
	peers := want[gid].Nodes
	if m.Has(gid) || !want[gid].Holds(m.self) {
		return nil, false
	}
	// A permanent learner (regions.go) starts empty like an added replica:
	// the leader adds it and sends it a snapshot.
	if !slices.Contains(cat.Added[gid], m.self) && slices.Contains(peers, m.self) {
		return peers, true
	}
	if tomb, err := m.store.IsTombstoned(gid); err == nil && tomb {
		if err := m.store.ClearTombstone(gid); err != nil {
			m.log.Warn("clear tombstone to rejoin a group", "group", gid, "err", err)
			return nil, false
		}
	}
	return nil, true
}

// DestroyOrphans removes groups persisted on this node whose object the
// catalog no longer has (dropped while the node was down or before the
// reconciler got to them).
func (m *Manager) DestroyOrphans() {
	// Only a current catalog may say a replica is no longer wanted: a
	// restarted node's copy can lag (a replica added to it, or an object
	// created, after the version it holds), and deleting a replica the
	// group still counts on would put committed entries at risk. A
	// ReadIndex barrier on the meta group brings it up to date; without
	// one nothing is deleted (a later restart cleans up).
	ctx, cancel := context.WithTimeout(m.ctx, m.t.CatalogCatchUp)
	defer cancel()
	if err := m.ReadIndex(ctx, catalog.MetaGroupID); err != nil {
		m.log.Info("not cleaning up replicas moved off this node: the catalog could not be brought up to date", "err", err)
		return
	}
	persisted, err := m.store.PersistedGroups()
	if err != nil {
		m.log.Warn("list persisted groups", "err", err)
		return
	}
	want := m.meta.Catalog().Groups()
	for _, gid := range persisted {
		if ref, ok := want[gid]; (ok && ref.Holds(m.self)) || gid == catalog.MetaGroupID {
			continue
		}
		if err := m.store.DestroyGroup(gid); err != nil {
			m.log.Warn("destroy orphan group", "group", gid, "err", err)
		} else {
			m.log.Info("destroyed a replica of a dropped object, or one moved off this node", "group", gid)
		}
	}
}

func (m *Manager) Has(id uint64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.mu.groups[id]
	return ok
}

func (m *Manager) Add(g *Group) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.groups[g.ID] = g
}

func (m *Manager) Get(id uint64) *Group {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mu.groups[id]
}

// PlanStoredView re-plans an aggregating view from its stored query
// text over its base stream s, inlining the transforms of its chain.
func PlanStoredView(v *catalog.View, s *catalog.Stream) (*exec.ViewPlan, error) {
	if v.Transform {
		return nil, fmt.Errorf("view %q is a transform: it has no state to plan", v.Name)
	}
	if v.Joins() {
		return exec.PlanStoredJoinView(v, s) // a stream joined to a table or a stream
	}
	plan, _, err := exec.PlanStoredChain(v.Query, s.Name, exec.StreamColumns(s), v.Chain, v.Options)
	if err != nil {
		return nil, err
	}
	if plan == nil {
		return nil, fmt.Errorf("view %q: stored query does not aggregate", v.Name)
	}
	return plan, nil
}

// superviseView runs the view task while this replica leads the view
// shard. ss are the streams the view reads (catalog.ViewStreams): its
// task reads their shards in that order, as its offsets cover them.
func (m *Manager) superviseView(ctx context.Context, g *Group, ss []*catalog.Stream) {
	defer close(g.done)
	s := ss[0]
	groups := slices.Clone(s.Groups)
	var right []exec.Column
	if len(ss) > 1 {
		// A join of two streams: the left stream's shards, then the right's.
		groups = append(groups, ss[1].Groups...)
		right = exec.StreamColumns(ss[1])
	}
	src := m.sources(groups)
	backoff := m.t.ViewRetryMin
	for ctx.Err() == nil {
		st, ok := m.store.Status(g.ID)
		if !ok || !st.IsLeader {
			select {
			case <-ctx.Done():
				return
			case <-g.leader:
			case <-time.After(m.t.ViewLeaderPoll):
			}
			continue
		}
		table, err := m.joinedTable(g.Desc)
		if err == nil {
			err = m.runViewTask(ctx, viewsm.TaskConfig{
				SM: g.View, ViewID: g.Desc.ID, Table: table, CheckpointInterval: g.Desc.CheckpointInterval(), Shard: g.Ref.Shard, NumShards: len(g.Desc.Groups), Src: src, LeftShards: len(s.Groups), Right: right, MaxPause: m.t.ViewMaxPause, PausePerKey: m.t.ViewPausePerKey,
				MaxEvents: m.maxDelta,
				Propose: func(ctx context.Context, cmd []byte) (any, error) {
					if m.beforeDelta != nil {
						if err := m.beforeDelta(ctx); err != nil {
							return nil, err
						}
					}
					return m.store.Propose(ctx, g.ID, m.bugs.DropDelta(g.View.Plan(), cmd))
				},
				OnSkip: func(offset uint64, err error) {
					m.log.Warn("view skips an event it cannot fold", "view", g.Desc.Name, "stream", s.Name, "offset", offset, "err", err)
				},
			})
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			m.log.Warn("view task stopped; restarting", "view", g.Ref.Object, "shard", g.Ref.Shard, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		if backoff < m.t.ViewRetryMax {
			backoff *= 2
		}
	}
}

// joinedTable returns the source of the table view v joins, nil for a
// view without a join.
func (m *Manager) joinedTable(v *catalog.View) (exec.KeyedSource, error) {
	if len(v.Tables) == 0 {
		return nil, nil
	}
	t := m.meta.Catalog().Tables[v.Tables[0]]
	switch {
	case t == nil:
		return nil, fmt.Errorf("view %q joins table %q, which does not exist", v.Name, v.Tables[0])
	case m.table == nil:
		return nil, fmt.Errorf("view %q joins table %q: this node has no table reader", v.Name, t.Name)
	}
	return m.table(t), nil
}

// runViewTask runs one view task, turning a panic (a bug, or data no
// plan can read) into an error so the node and its other views keep
// serving; superviseView logs it and retries with backoff.
func (m *Manager) runViewTask(ctx context.Context, c viewsm.TaskConfig) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("view task panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return viewsm.RunTask(ctx, c)
}

// StoreErr maps store errors to client errors.
func StoreErr(err error) error {
	var pe *pgerr.Error
	if errors.As(err, &pe) {
		return pe
	}
	switch {
	case errors.Is(err, context.Canceled):
		return pgerr.CanceledByUser.New().
			WithDetail("A write already handed to Raft may still be applied.")
	case errors.Is(err, context.DeadlineExceeded):
		return pgerr.StatementTimeout.New().
			WithDetail("A write already handed to Raft may still be applied.")
	case errors.Is(err, raftstore.ErrNotLeader), errors.Is(err, raftstore.ErrProposalDropped):
		return pgerr.StoreRetry.New(err)
	case errors.Is(err, raftstore.ErrStopped):
		return pgerr.NodeShuttingDown.New()
	case errors.Is(err, raftstore.ErrGroupNotFound), errors.Is(err, raftstore.ErrGroupRemoved):
		return pgerr.ShardMoved.New(err)
	}
	return pgerr.Internal.New(err)
}

// HandleData serves the data-shard RPCs; ok is false for other methods.
func (m *Manager) HandleData(ctx context.Context, method string, req []byte) (out []byte, ok bool, err error) {
	switch method {
	case rpc.TableRows:
		out, err := m.handleTableRows(ctx, req)
		return out, true, err
	case rpc.Append:
		gid, cmd, err := rpc.DecodeAppend(req)
		if err != nil {
			return nil, true, err
		}
		rep, err := m.AppendLocal(ctx, gid, cmd)
		if err != nil {
			return nil, true, err
		}
		out, err := json.Marshal(rep)
		return out, true, err
	case rpc.StreamScan:
		r, err := rpc.DecodeScanRequest(req)
		if err != nil {
			return nil, true, err
		}
		g := m.Get(r.Group)
		if g == nil || g.Stream == nil {
			return nil, true, pgerr.GroupNotOnNode.New("stream", r.Group)
		}
		if err := m.Servable(r.Group); err != nil {
			return nil, true, err
		}
		if r.Linearizable {
			if err := m.ReadIndex(ctx, r.Group); err != nil {
				return nil, true, err
			}
		}
		rep := rpc.ScanReply{First: g.Stream.First()}
		rep.End, _ = g.Stream.End()
		from := max(r.From, rep.First)
		next, err := g.Stream.Scan(from, r.MaxEvents, func(start uint64, ingest int64, targets streamsm.Targets, b *types.Batch) error {
			rep.Batches = append(rep.Batches, rpc.ScanBatch{Start: start, Ingest: ingest, Data: types.AppendEncoded(nil, b), Targets: bytes.Clone(targets)})
			return nil
		})
		if err != nil {
			return nil, true, err
		}
		if err := m.StillHere(g); err != nil {
			return nil, true, err
		}
		rep.Next = max(next, from)
		return rep.AppendTo(nil), true, nil
	case rpc.ViewRows, rpc.ViewOffsets:
		r, err := rpc.DecodeViewRowsRequest(req)
		if err != nil {
			return nil, true, err
		}
		g := m.Get(r.Group)
		if g == nil || g.View == nil {
			return nil, true, pgerr.GroupNotOnNode.New("view", r.Group)
		}
		if err := m.Servable(r.Group); err != nil {
			return nil, true, err
		}
		if r.Linearizable {
			if err := m.ReadIndex(ctx, r.Group); err != nil {
				return nil, true, err
			}
		}
		var rep rpc.ViewRowsReply
		rep.Offsets, _ = g.View.DurableOffsets()
		if method == rpc.ViewRows {
			err := g.View.Rows(func(key, state []byte) error {
				rep.Rows = append(rep.Rows, rpc.ViewRow{Key: append([]byte(nil), key...), State: append([]byte(nil), state...)})
				return nil
			})
			if err != nil {
				return nil, true, err
			}
		}
		if err := m.StillHere(g); err != nil {
			return nil, true, err
		}
		return rep.AppendTo(nil), true, nil
	}
	return nil, false, nil
}

// StillHere checks, after a read of a local replica, that the replica was
// not deleted meanwhile (moved off this node): whoever deletes one takes
// it out of m.mu.groups first, so if g is still there the read saw all of
// its data. Otherwise the read may have seen part of it, or none, and the
// caller gets a retryable error instead of a silently short result.
func (m *Manager) StillHere(g *Group) error {
	if m.Get(g.ID) != g {
		return pgerr.ReplicaMovedOff.New(g.ID, m.name)
	}
	return nil
}

// Servable refuses reads of a replica that is still a learner
// (being added: it may not even have its snapshot yet); the caller then
// tries another replica. A permanent learner of a regional object serves
// (possibly stale) reads once it holds the group's state (regions.go).
func (m *Manager) Servable(gid uint64) error {
	if st, ok := m.store.Status(gid); ok && slices.Contains(st.Learners, m.self) && !m.servesAsLearner(gid, st) {
		return pgerr.ReplicaCatchingUp.New(gid, m.name)
	}
	return nil
}

// AppendLocal proposes an append if this node leads the shard, or says
// who does.
func (m *Manager) AppendLocal(ctx context.Context, gid uint64, cmd []byte) (*rpc.AppendReply, error) {
	st, ok := m.store.Status(gid)
	if !ok {
		return nil, pgerr.StreamGroupNotOnNode.New(gid)
	}
	if !st.IsLeader {
		return &rpc.AppendReply{NotHim: true, Leader: st.Leader}, nil
	}
	if m.bugs.AckWithoutCommit() {
		// --unsafe-bug ack-before-commit: never proposed; the reply says the
		// shard's current end, as if the batch were there.
		rep := &rpc.AppendReply{}
		if g := m.Get(gid); g != nil && g.Stream != nil {
			rep.End, _ = g.Stream.End()
		}
		return rep, nil
	}
	res, err := m.store.Propose(ctx, gid, cmd)
	if errors.Is(err, raftstore.ErrNotLeader) {
		st, _ := m.store.Status(gid)
		return &rpc.AppendReply{NotHim: true, Leader: st.Leader}, nil
	}
	if err != nil {
		return nil, StoreErr(err)
	}
	switch r := res.(type) {
	case streamsm.AppendResult:
		return &rpc.AppendReply{End: r.End}, nil
	case streamsm.ParkResult, streamsm.FenceResult:
		return rerouteReply(r), nil // reroute.go
	case tablesm.Result:
		// A table write: End carries the rows it changed.
		return &rpc.AppendReply{End: uint64(r.N)}, nil
	case viewsm.Restored:
		// A view shard's restore (RESTORE): End carries its rows.
		return &rpc.AppendReply{End: uint64(r.Rows)}, nil
	case *pgerr.Error:
		return nil, r // a table write refused (duplicate key, NOT NULL, ...)
	case error:
		return nil, pgerr.AppendFailed.New(r)
	}
	return nil, pgerr.AppendBadResult.New(res)
}

// ReadIndex is a linearizable read barrier on a local replica. A replica
// that does not know its leader yet (just restarted, or an election under
// way) is given up to Timing.ReadIndexWait (3 s) before the statement
// fails with 40001.
func (m *Manager) ReadIndex(ctx context.Context, gid uint64) error {
	if m.bugs.SkipReadIndex(gid == catalog.MetaGroupID) {
		return nil // --unsafe-bug stale-read: no barrier
	}
	deadline := time.Now().Add(m.t.ReadIndexWait)
	for {
		err := m.store.ReadIndex(ctx, gid)
		if err == nil {
			return nil
		}
		if !errors.Is(err, raftstore.ErrNotLeader) || time.Now().After(deadline) {
			return StoreErr(err)
		}
		select {
		case <-ctx.Done():
			return StoreErr(ctx.Err())
		case <-time.After(m.t.ReadIndexPoll):
		}
	}
}

// HandleShardAdmin serves rpc.ShardAdmin on this node.
func (m *Manager) HandleShardAdmin(ctx context.Context, req *rpc.ShardRequest) (*rpc.ShardReply, error) {
	st, ok := m.store.Status(req.Group)
	if !ok {
		return nil, pgerr.NoReplicaOnNode.New(m.name, req.Group)
	}
	rep := &rpc.ShardReply{Leader: st.Leader, Term: st.Term, Commit: st.Commit, Applied: st.Applied, Voters: st.Voters, Learners: st.Learners, Match: st.Match}
	switch req.Action {
	case rpc.ShardStatus:
		rep.Holds = m.holds(req.Group)
		m.statusSince(req.Group, rep) // regions.go
		if m.snapshots != nil && st.IsLeader {
			rep.Snapshots = m.snapshots(req.Group)
		}
		return rep, nil
	case rpc.ShardForce:
		// Unsafe recovery (FORCE RECOVER … CONFIRM DATA LOSS): this replica
		// becomes the group's only voter.
		rep.Holds = m.holds(req.Group)
		fr, err := m.store.ForceSoleVoter(req.Group)
		if err != nil {
			return nil, StoreErr(err)
		}
		m.log.Warn("FORCED RECOVERY: this replica is now the only voter of its group; entries the lost replicas alone had are gone",
			"group", req.Group, "applied", fr.Applied, "commit", fr.Commit, "last_index", fr.LastIndex, "old_voters", fr.OldVoters)
		rep.Applied, rep.Commit, rep.Voters = fr.Applied, fr.Commit, fr.OldVoters
		return rep, nil
	case rpc.ShardDestroy:
		// A replica left out by a forced recovery: its log may disagree with
		// the survivor's, so it is deleted (re-added later from a snapshot).
		if req.Group == catalog.MetaGroupID {
			return nil, m.resetMeta()
		}
		if st.IsLeader {
			return nil, pgerr.DestroyLeader.New(req.Group, m.name)
		}
		m.mu.Lock()
		g := m.mu.groups[req.Group]
		delete(m.mu.groups, req.Group)
		m.mu.Unlock()
		if g != nil && g.stop != nil {
			g.stop()
			<-g.done
		}
		if g != nil && g.Stream != nil {
			g.Stream.Close() // no background write-out into a destroyed range
		}
		if err := m.store.DestroyGroup(req.Group); err != nil {
			return nil, StoreErr(err)
		}
		m.log.Warn("destroyed a replica left out by a forced recovery", "group", req.Group)
		return rep, nil
	}
	if !st.IsLeader {
		rep.NotLeader = true
		return rep, nil
	}
	var change *pb.ConfChangeSingle
	switch req.Action {
	case rpc.ShardTransfer:
		if st.Leader == req.Node {
			return rep, nil
		}
		if !rep.IsVoter(req.Node) {
			return nil, pgerr.NotAVoter.New(m.meta.Catalog().NodeLabel(req.Node), req.Group)
		}
		if err := m.store.TransferLeader(req.Group, req.Node); err != nil {
			return nil, StoreErr(err)
		}
		return rep, nil
	case rpc.ShardAddLearner:
		if rep.IsMember(req.Node) {
			return rep, nil
		}
		change = &pb.ConfChangeSingle{Type: pb.ConfChangeAddLearnerNode.Enum(), NodeId: new(req.Node)}
	case rpc.ShardPromote:
		if rep.IsVoter(req.Node) {
			return rep, nil
		}
		if !rep.IsLearner(req.Node) {
			return nil, pgerr.NotALearner.New(m.meta.Catalog().NodeLabel(req.Node), req.Group)
		}
		change = &pb.ConfChangeSingle{Type: pb.ConfChangeAddNode.Enum(), NodeId: new(req.Node)}
	case rpc.ShardRemove:
		if !rep.IsMember(req.Node) {
			return rep, nil
		}
		if req.Node == m.self {
			// Leadership came back here (an election, say) after the caller
			// moved it off: hand it on and let the caller retry.
			cat := m.meta.Catalog()
			if to := placement.HandOff(cat, m.live(cat), m.self, st.Voters); to != 0 {
				_ = m.store.TransferLeader(req.Group, to)
			}
			return nil, pgerr.RemoveLeaderRetry.New(req.Group)
		}
		change = &pb.ConfChangeSingle{Type: pb.ConfChangeRemoveNode.Enum(), NodeId: new(req.Node)}
	default:
		return nil, pgerr.UnknownShardAction.New(req.Action)
	}
	cctx, cancel := context.WithTimeout(ctx, m.t.ConfChangeTimeout)
	defer cancel()
	if err := m.store.ProposeConfChange(cctx, req.Group, &pb.ConfChangeV2{Changes: []*pb.ConfChangeSingle{change}}); err != nil {
		return nil, StoreErr(err)
	}
	st, _ = m.store.Status(req.Group)
	rep.Voters, rep.Learners, rep.Commit = st.Voters, st.Learners, st.Commit
	return rep, nil
}

// Led returns the data groups whose leader is this node's replica.
func (m *Manager) Led() []uint64 {
	m.mu.Lock()
	ids := make([]uint64, 0, len(m.mu.groups))
	for id := range m.mu.groups {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	var led []uint64
	for _, id := range ids {
		if st, ok := m.store.Status(id); ok && st.IsLeader {
			led = append(led, id)
		}
	}
	return led
}

// LocalStatus returns the state of every replica on this node, by group.
func (m *Manager) LocalStatus() map[uint64]rpc.ReplicaStatus {
	ids := []uint64{catalog.MetaGroupID}
	m.mu.Lock()
	for id := range m.mu.groups {
		ids = append(ids, id)
	}
	m.mu.Unlock()
	out := map[uint64]rpc.ReplicaStatus{}
	for _, id := range ids {
		st, ok := m.store.Status(id)
		if !ok {
			continue
		}
		role := "follower"
		switch {
		case st.IsLeader:
			role = "leader"
		case slices.Contains(st.Learners, m.self):
			role = "learner"
		}
		rs := rpc.ReplicaStatus{Role: role, Applied: st.Applied, Commit: st.Commit}
		if g := m.Get(id); g != nil && g.View != nil && g.View.Plan().Watermarked() {
			rs.Watermark, rs.Late, _, _ = g.View.Window()
		}
		if g := m.Get(id); g != nil && g.Stream != nil {
			rs.Reroute = rerouteStatus(g.Stream) // reroute.go
		}
		out[id] = rs
	}
	return out
}

// holds describes what this node's replica of gid holds, for FORCE RECOVER.
func (m *Manager) holds(gid uint64) string {
	if gid == catalog.MetaGroupID {
		cat := m.meta.Catalog()
		return fmt.Sprintf("catalog: %d streams, %d views, %d tables, %d nodes", len(cat.Streams), len(cat.Views), len(cat.Tables), len(cat.Nodes))
	}
	g := m.Get(gid)
	switch {
	case g == nil:
		return ""
	case g.Stream != nil:
		end, _ := g.Stream.End()
		return fmt.Sprintf("stream %s shard %d: events at offsets [%d, %d)", g.Ref.Object, g.Ref.Shard, g.Stream.First(), end)
	case g.View != nil:
		offs, _ := g.View.DurableOffsets()
		return fmt.Sprintf("view %s shard %d: folded source offsets %v", g.Ref.Object, g.Ref.Shard, offs)
	case g.Table != nil:
		return fmt.Sprintf("table %s shard %d", g.Ref.Object, g.Ref.Shard)
	}
	return ""
}

// viewPlan returns the plan of a view shard, local or remote.
func (g *Group) ViewPlan() *exec.ViewPlan {
	if g.Remote {
		return g.Plan
	}
	return g.View.Plan()
}

// resetMeta deletes this node's meta replica and starts it empty, to be
// re-added by the meta leader from a snapshot (after a forced recovery of
// the meta group elsewhere).
func (m *Manager) resetMeta() error {
	if st, ok := m.store.Status(catalog.MetaGroupID); ok && st.IsLeader {
		return pgerr.MetaReplicaLeads.New(m.name)
	}
	if err := m.store.DestroyGroup(catalog.MetaGroupID); err != nil {
		return StoreErr(err)
	}
	if err := m.store.ClearTombstone(catalog.MetaGroupID); err != nil {
		return StoreErr(err)
	}
	if err := m.store.StartGroup(catalog.MetaGroupID, m.meta, nil); err != nil {
		return StoreErr(err)
	}
	m.log.Warn("reset the meta replica after a forced recovery of the meta group; waiting for a snapshot")
	return nil
}

// WaitReady waits until every group of groups that has a replica here
// runs and has a leader, so a statement right after CREATE finds its
// shards ready.
func (m *Manager) WaitReady(ctx context.Context, groups []uint64) error {
	deadline := time.Now().Add(m.t.GroupsReadyWait)
	for _, gid := range groups {
		if ref, ok := m.meta.Catalog().Groups()[gid]; ok && !slices.Contains(ref.Nodes, m.self) {
			continue // no replica here; appends find the leader wherever it is
		}
		for {
			if m.Has(gid) {
				if st, ok := m.store.Status(gid); ok && st.Leader != 0 {
					break
				}
			}
			if time.Now().After(deadline) {
				return pgerr.ShardNotReady.New(gid)
			}
			select {
			case <-ctx.Done():
				return StoreErr(ctx.Err())
			case <-time.After(m.t.GroupsReadyPoll):
			}
		}
	}
	return nil
}
