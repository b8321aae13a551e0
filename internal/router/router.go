// Package router finds where data lives and goes there: it splits an
// insert by the shard hash and appends each part at its shard's leader
// (retrying across leader changes and hedging to the next likely leader
// when one does not answer, with a batch id so every copy is applied
// once: append.go), reads streams and views from a local replica or a remote one
// under the session's read policy (ReadIndex for read_from = leader,
// skip_unavailable), and calls shard-admin and status RPCs on other nodes.
// Every routing decision reads the catalog the meta group applied.
package router

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/errkind"
	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/objstore"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/replica"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/timing"
	"github.com/cairndb/cairn/internal/types"
	"github.com/cairndb/cairn/internal/viewsm"
)

// Caller calls an internal RPC method on another node.
type Caller interface {
	Call(ctx context.Context, node uint64, method string, body []byte) ([]byte, error)
}

// Config configures a Router.
type Config struct {
	Self     uint64 // this node's raft id
	Name     string // this node's --node-id, for messages
	Meta     *catalog.MetaSM
	Store    *raftstore.Store
	Replicas *replica.Manager
	Caller   Caller
	// Local serves an internal RPC on this node (a call to itself).
	Local   func(ctx context.Context, method string, body []byte) ([]byte, error)
	Live    func(cat *catalog.Catalog) membership.Snapshot
	Metrics *metrics.Metrics
	Timing  timing.Timing
	// Sched and Disk serve scheduled views (sched.go).
	Sched SchedOwner
	Disk  func(ctx context.Context, name string) (objstore.Store, error)
	// Admit, if set, admits an insert of about bytes bytes into stream
	// before any of it is appended (the node's memory accountant): it may
	// wait, or refuse with 53200. release is called once the insert is
	// acknowledged or failed.
	Admit func(ctx context.Context, stream string, bytes int64) (release func(), err error)
}

// Router routes this node's reads and writes.
type Router struct {
	self     uint64
	name     string
	meta     *catalog.MetaSM
	store    *raftstore.Store
	replicas *replica.Manager
	tr       Caller
	local    func(ctx context.Context, method string, body []byte) ([]byte, error)
	live     func(cat *catalog.Catalog) membership.Snapshot
	metrics  *metrics.Metrics
	t        timing.Timing
	ctx      context.Context // ends when the node stops
	rr       atomic.Uint64   // round-robin choice of shard and replica
	sched    SchedOwner
	disk     func(ctx context.Context, name string) (objstore.Store, error)
	hints    leaderHints // who leads which group, which nodes answer slowly (append.go)
	admit    func(ctx context.Context, stream string, bytes int64) (release func(), err error)
}

// New returns a router whose background reads end with ctx.
func New(ctx context.Context, cfg Config) *Router {
	return &Router{self: cfg.Self, name: cfg.Name, meta: cfg.Meta, store: cfg.Store, replicas: cfg.Replicas, tr: cfg.Caller,
		local: cfg.Local, live: cfg.Live, metrics: cfg.Metrics, t: cfg.Timing.WithDefaults(), ctx: ctx, sched: cfg.Sched, disk: cfg.Disk, admit: cfg.Admit}
}

// liveness is node nd's liveness as this node sees it.
func (rt *Router) liveness(nd *catalog.Node) string {
	return string(rt.live(rt.meta.Catalog()).Of(nd.ID))
}

// StreamShards gives a view task the shards of a stream (its groups):
// local replicas read from the engine, others over RPC.
func (rt *Router) StreamShards(groups []uint64) viewsm.Source {
	return &streamShardSource{rt: rt, groups: groups}
}

// StreamSource reads a stream's retained history; linearizable asks for
// a ReadIndex barrier, skip (skip_unavailable) is called for a shard no
// replica serves.
func (rt *Router) StreamSource(st *catalog.Stream, linearizable bool, skip func(what string, err error) error) exec.Source {
	return &streamSource{rt: rt, st: st, linearizable: linearizable, skip: skip}
}

// ViewSource reads a view's rows: partial states merged across its
// shards. notice (may be nil) tells the client about a stale read (a
// scheduled view read from its last checkpoint).
func (rt *Router) ViewSource(v *catalog.View, linearizable bool, skip func(what string, err error) error, notice func(string)) exec.Source {
	return &viewSource{rt: rt, v: v, linearizable: linearizable, skip: skip, notice: notice}
}

// hashValue hashes row i of column c for shard routing. It must be the
// same on every node and across restarts, so it uses FNV-style mixing of
// the value's bytes rather than a seeded hash.
func hashValue(c *types.Column, i int) uint64 {
	if c.IsNull(i) {
		return 0
	}
	var h uint64 = 14695981039346656037
	mix := func(b byte) { h ^= uint64(b); h *= 1099511628211 }
	switch {
	case c.T == types.Numeric:
		// Equal values of different scale (1.5, 1.50) hash alike.
		s := types.NumericNormalized(string(c.StrBytes(i)))
		for k := 0; k < len(s); k++ {
			mix(s[k])
		}
	case c.T.UsesBytes(): // text, json, jsonb, uuid
		for _, b := range c.StrBytes(i) {
			mix(b)
		}
	case c.T.IsFloat():
		v := math.Float64bits(c.F[i])
		for k := 0; k < 8; k++ {
			mix(byte(v >> (8 * k)))
		}
	case c.T == types.Interval:
		v := c.Iv[i]
		for k := 0; k < 8; k++ {
			mix(byte(v.Micros >> (8 * k)))
		}
	default:
		v := uint64(c.I[i])
		for k := 0; k < 8; k++ {
			mix(byte(v >> (8 * k)))
		}
	}
	return h
}

// InsertResult says where an insert landed: per stream shard, the end
// offset of what was appended (0 when the shard got nothing).
type InsertResult struct {
	Stream *catalog.Stream
	Ends   []uint64
	N      int
}

// Insert appends b (whose columns are the stream's) to stream name and
// returns once every part is committed on a majority and durable.
func (rt *Router) Insert(ctx context.Context, name string, b *types.Batch) (*InsertResult, error) {
	return rt.InsertTo(ctx, name, b, nil)
}

// InsertTo is Insert for the views whose ids are targets only
// (pipelinedb.stream_targets; nil: every view). The target set is part
// of the append command, so it is in the stream's Raft log with the
// batch: every replica, and every view task reading any of them, sees
// the same set, and views not named skip the batch but move past it.
func (rt *Router) InsertTo(ctx context.Context, name string, b *types.Batch, targets []uint64) (*InsertResult, error) {
	if err := rt.CheckBatch(name, b); err != nil {
		return nil, err
	}
	s := rt.meta.Catalog().Streams[name]
	res := &InsertResult{Stream: s, Ends: make([]uint64, len(s.Groups)), N: b.N}
	if b.N == 0 {
		return res, nil
	}
	if rt.admit != nil {
		release, err := rt.admit(ctx, name, InFlightBytes(b))
		if err != nil {
			return nil, err
		}
		defer release()
	}
	parts := rt.split(s, b)
	now := time.Now().UnixMicro()
	if len(parts) == 1 {
		for shard, p := range parts {
			end, err := rt.appendPart(ctx, s, shard, p, now, targets) // reroute.go
			if err != nil {
				return nil, err
			}
			res.Ends[shard] = end
		}
	} else {
		type out struct {
			shard int
			end   uint64
			err   error
		}
		ch := make(chan out, len(parts))
		for shard, p := range parts {
			go func() {
				end, err := rt.appendPart(ctx, s, shard, p, now, targets) // reroute.go
				ch <- out{shard, end, err}
			}()
		}
		var firstErr error
		for range parts {
			o := <-ch
			if o.err != nil && firstErr == nil {
				firstErr = o.err
			}
			res.Ends[o.shard] = o.end
		}
		if firstErr != nil {
			return nil, firstErr
		}
	}
	rt.metrics.Ingested(name, b.N)
	return res, nil
}

// checkBatch verifies that stream name exists and that b has its column
// types. A statement prepared before the stream was dropped and created
// again with other columns must fail here, not store rows that no view
// can read.
func (rt *Router) CheckBatch(name string, b *types.Batch) error {
	s := rt.meta.Catalog().Streams[name]
	if s == nil {
		return catalog.ErrNoStream(name)
	}
	ok := len(b.Cols) == len(s.Cols)
	for i := 0; ok && i < len(s.Cols); i++ {
		ok = b.Cols[i].T == s.Cols[i].T
	}
	if !ok {
		return pgerr.StreamChangedSincePrepare.New(name).
			WithHint("Prepare the statement again.")
	}
	return nil
}

// split routes rows to shards: by shard-key hash when the stream has a
// shard key, else the whole batch to the next shard in turn.
func (rt *Router) split(s *catalog.Stream, b *types.Batch) map[int]*types.Batch {
	if len(s.Groups) == 1 {
		return map[int]*types.Batch{0: b}
	}
	ki := s.ShardKeyIndex()
	if ki < 0 {
		return map[int]*types.Batch{rt.nextShard(s.Groups): b}
	}
	parts := map[int]*types.Batch{}
	ts := b.Types()
	row := make([]types.Datum, len(b.Cols))
	for i := 0; i < b.N; i++ {
		shard := int(hashValue(&b.Cols[ki], i) % uint64(len(s.Groups)))
		p := parts[shard]
		if p == nil {
			p = types.NewBatch(ts)
			parts[shard] = p
		}
		for c := range b.Cols {
			row[c] = b.Cols[c].Datum(i)
		}
		p.AppendRow(row)
	}
	return parts
}

// appendShard appends one batch to a stream shard through its leader
// (here or on another node), retrying with the same batch id across
// leader changes and unreachable nodes so the batch is applied once.
func (rt *Router) appendShard(ctx context.Context, gid uint64, b *types.Batch, ingest int64, targets []uint64) (uint64, error) {
	id := NewBatchID()
	enc := types.AppendEncoded(nil, b)
	cmd := streamsm.EncodeAppendTo(make([]byte, 0, len(enc)+32+10*len(targets)), id, ingest, targets, enc)
	return rt.proposeShard(ctx, gid, cmd)
}

// attemptTimeout is how long one append attempt of an n-byte command
// waits: base, plus a second per 2 MiB, so that a large write on a busy
// disk is not given up (and proposed again) while it is still committing.
func attemptTimeout(base time.Duration, n int) time.Duration {
	return base + time.Duration(n>>20)*time.Second/2
}

// retryableAppend reports whether an append may succeed if tried again
// (elsewhere): leader changes, unreachable or restarting nodes.
func retryableAppend(err error) bool {
	if errors.Is(err, errNotLeaderHere) {
		return true
	}
	switch pgerr.KindOf(err) {
	case errkind.Retryable, errkind.NotLeader, errkind.NoQuorum, errkind.Unavailable, errkind.ShuttingDown:
		return true
	}
	return false
}

var errNotLeaderHere = errors.New("not the leader of the shard")

// waitViews blocks until every view over the stream has folded the
// events up to ends (stream_insert_level = sync_commit).
func (rt *Router) WaitViews(ctx context.Context, r *InsertResult) error {
	cat := rt.meta.Catalog()
	for _, v := range cat.ViewsOn(r.Stream.Name) {
		// A view joining two streams has offsets for both: the other
		// stream's shards need not move (0 is always covered).
		base, ok := cat.OffsetBase(v, r.Stream.Name)
		if !ok {
			continue // dropped meanwhile
		}
		ends := make([]uint64, max(len(v.Start), base+len(r.Ends)))
		copy(ends[base:], r.Ends)
		if err := rt.WaitViewsCover(ctx, []*catalog.View{v}, ends); err != nil {
			return err
		}
	}
	return nil
}

// waitViewsCover blocks until every shard of every view in vs has folded
// its stream up to ends.
func (rt *Router) WaitViewsCover(ctx context.Context, vs []*catalog.View, ends []uint64) error {
	for _, v := range vs {
		if v.Sched != nil {
			if err := rt.waitSchedCovers(ctx, v, ends); err != nil {
				return err
			}
			continue
		}
		for _, gid := range v.Groups {
			for {
				if _, ok := rt.meta.Catalog().Groups()[gid]; !ok {
					break // dropped meanwhile
				}
				var offs []uint64
				var ch <-chan struct{}
				if g := rt.replicas.Get(gid); g != nil && g.View != nil {
					offs, ch = g.View.DurableOffsets()
				} else {
					offs = rt.RemoteViewOffsets(ctx, gid)
					c := make(chan struct{})
					time.AfterFunc(rt.t.RemoteStreamPoll, func() { close(c) })
					ch = c
				}
				if covers(offs, ends) {
					break
				}
				select {
				case <-ctx.Done():
					return replica.StoreErr(ctx.Err())
				case <-ch:
				case <-time.After(rt.t.ViewCoverPoll):
				}
			}
		}
	}
	return nil
}

// ViewOffsets are the offsets view shard gid folded up to: from a
// replica here, else from another node's (nil when none answers).
func (rt *Router) ViewOffsets(ctx context.Context, gid uint64) []uint64 {
	if g := rt.replicas.Get(gid); g != nil && g.View != nil {
		offs, _ := g.View.DurableOffsets()
		return offs
	}
	return rt.RemoteViewOffsets(ctx, gid)
}

// remoteViewOffsets asks a replica of a view shard for its offsets (nil
// when none answers).
func (rt *Router) RemoteViewOffsets(ctx context.Context, gid uint64) []uint64 {
	out, err := rt.callReplica(ctx, gid, rpc.ViewOffsets, rpc.ViewRowsRequest{Group: gid})
	if err != nil {
		return nil
	}
	rep, err := rpc.DecodeViewRowsReply(out)
	if err != nil {
		return nil
	}
	return rep.Offsets
}

func covers(offs, ends []uint64) bool {
	if len(offs) != len(ends) {
		return false
	}
	for i := range ends {
		if offs[i] < ends[i] {
			return false
		}
	}
	return true
}

// scanChunk is the number of rows per batch handed to the executor.
const scanChunk = 1024

// streamSource scans a stream's retained history.
type streamSource struct {
	rt           *Router
	st           *catalog.Stream
	linearizable bool                               // read_from = leader: a ReadIndex barrier before reading a local replica
	skip         func(what string, err error) error // skip_unavailable on: called for a shard no replica serves
}

func (s *streamSource) Columns() []exec.Column { return exec.StreamColumns(s.st) }

// Arrival implements exec.ArrivalSource: batches carry arrival_timestamp.
func (s *streamSource) Arrival() bool { return true }

func (s *streamSource) Scan(ctx context.Context, fn func(b *types.Batch) error) error {
	src := &streamShardSource{rt: s.rt, groups: s.st.Groups, linearizable: s.linearizable}
	for i, gid := range s.st.Groups {
		each := func(_ uint64, _ int64, _ streamsm.Targets, b *types.Batch) error {
			if err := ctx.Err(); err != nil {
				return replica.StoreErr(err)
			}
			return fn(b)
		}
		if g := s.rt.replicas.Get(gid); g != nil && g.Stream != nil && s.rt.replicas.Servable(gid) == nil {
			if s.linearizable {
				if err := s.rt.replicas.ReadIndex(ctx, gid); err != nil {
					return err
				}
			}
			if _, err := g.Stream.Scan(g.Stream.First(), 0, each); err != nil {
				return err
			}
			if err := s.rt.replicas.StillHere(g); err != nil {
				return err
			}
			continue
		}
		// A shard with no replica here: page through a replica.
		for from := uint64(0); ; {
			next, err := src.Scan(i, from, 64<<10, each)
			if err != nil {
				what := fmt.Sprintf("stream %q shard %d (group %d)", s.st.Name, i, gid)
				if s.skip != nil && from == 0 && pgerr.Code(err) == pgerr.SerializationFailure {
					if err := s.skip(what, err); err != nil {
						return err
					}
					break
				}
				return pgerr.From(err).WithDetail("Reading %s.", what)
			}
			if next == from {
				break
			}
			from = next
		}
	}
	return nil
}

// viewSource reads a view: the partial states of all its shards merged
// per group key, then finalized.
type viewSource struct {
	rt           *Router
	v            *catalog.View
	linearizable bool
	skip         func(what string, err error) error // skip_unavailable on: called for a shard no replica serves
	notice       func(string)                       // a NOTICE to the client (may be nil)
}

// groups returns the view's shards: local replicas, or stand-ins that
// read a replica on another node.
func (s *viewSource) groups() ([]*replica.Group, error) {
	if s.v.Sched != nil {
		return s.schedGroups()
	}
	gs := make([]*replica.Group, len(s.v.Groups))
	var plan *exec.ViewPlan
	for i, gid := range s.v.Groups {
		g := s.rt.replicas.Get(gid)
		if g == nil || g.View == nil || s.rt.replicas.Servable(gid) != nil {
			if plan == nil {
				st := s.rt.meta.Catalog().Streams[s.v.Stream]
				if st == nil {
					return nil, catalog.ErrNoStream(s.v.Stream)
				}
				var err error
				if plan, err = replica.PlanStoredView(s.v, st); err != nil {
					return nil, err
				}
			}
			g = &replica.Group{ID: gid, Remote: true, Plan: plan}
		}
		gs[i] = g
	}
	return gs, nil
}

func (s *viewSource) Columns() []exec.Column {
	gs, err := s.groups()
	if err != nil || len(gs) == 0 {
		st := s.rt.meta.Catalog().Streams[s.v.Stream]
		if st == nil {
			return nil
		}
		plan, err := replica.PlanStoredView(s.v, st)
		if err != nil {
			return nil
		}
		return plan.Columns()
	}
	return gs[0].ViewPlan().Columns()
}

// viewReader finalizes view rows into batches of the view's columns.
type viewReader struct {
	rt           *Router
	v            *catalog.View
	skip         func(what string, err error) error
	notice       func(string)
	ctx          context.Context
	linearizable bool
	gs           []*replica.Group
	plan         *exec.ViewPlan
	ec           exec.Ctx
	b            *types.Batch
	row          []types.Datum
	emitted      int // rows emitted
	fn           func(b *types.Batch) error
}

// open returns a reader over the view's shards (nil when the view has
// none), after a ReadIndex barrier on each when reads are linearizable.
func (s *viewSource) open(ctx context.Context, fn func(b *types.Batch) error) (*viewReader, error) {
	gs, err := s.groups()
	if err != nil || len(gs) == 0 {
		return nil, err
	}
	if s.linearizable {
		for _, g := range gs {
			if g.Remote {
				continue // the replica does the ReadIndex
			}
			if err := s.rt.replicas.ReadIndex(ctx, g.ID); err != nil {
				return nil, err
			}
		}
	}
	plan := gs[0].ViewPlan()
	cols := plan.Columns()
	ts := make([]types.T, len(cols))
	for i, c := range cols {
		ts[i] = c.T
	}
	return &viewReader{rt: s.rt, v: s.v, ctx: ctx, linearizable: s.linearizable, skip: s.skip, notice: s.notice, gs: gs, plan: plan, b: types.NewBatch(ts), fn: fn}, nil
}

// rows reads every (key, state) of view shard g, here or from a replica.
func (r *viewReader) rows(g *replica.Group, fn func(key, state []byte) error) error {
	if r.v.Sched != nil {
		return r.rt.schedRows(r.ctx, r.v, r.skip, r.notice, fn)
	}
	if !g.Remote {
		if err := g.View.Rows(fn); err != nil {
			return err
		}
		return r.rt.replicas.StillHere(g)
	}
	out, err := r.rt.callReplica(r.ctx, g.ID, rpc.ViewRows, rpc.ViewRowsRequest{Group: g.ID, Linearizable: r.linearizable})
	if err != nil {
		what := fmt.Sprintf("view %q shard %d (group %d)", r.v.Name, slices.Index(r.v.Groups, g.ID), g.ID)
		if r.skip != nil && pgerr.Code(err) == pgerr.SerializationFailure {
			return r.skip(what, err)
		}
		return pgerr.From(err).WithDetail("Reading %s; SET skip_unavailable = on to read what the reachable shards hold.", what)
	}
	rep, err := rpc.DecodeViewRowsReply(out)
	if err != nil {
		return err
	}
	for _, row := range rep.Rows {
		if err := fn(row.Key, row.State); err != nil {
			return err
		}
	}
	return nil
}

// emit finalizes one group and hands out a batch when it is full.
func (r *viewReader) emit(key, state []byte) error {
	var err error
	if r.row, err = r.plan.Finalize(&r.ec, key, state, r.row[:0]); err != nil {
		return err
	}
	r.b.AppendRow(r.row)
	r.emitted++
	if r.b.N >= scanChunk {
		if err := r.fn(r.b); err != nil {
			return err
		}
		r.b.Reset()
	}
	return nil
}

// flush hands out the last partial batch.
func (r *viewReader) flush() error {
	if r.b.N > 0 {
		return r.fn(r.b)
	}
	return nil
}

func (s *viewSource) Scan(ctx context.Context, fn func(b *types.Batch) error) error {
	r, err := s.open(ctx, fn)
	if r == nil {
		return err
	}
	// A view whose groups expire shows only the live ones at read time; a
	// sliding window's buckets merge into their group.
	now := time.Now().UnixMicro()
	expires := r.plan.Expires()
	if len(r.gs) == 1 && !r.plan.Windowed() {
		err := r.rows(r.gs[0], func(key, state []byte) error {
			if expires && !r.plan.Live(key, now) {
				return nil
			}
			return r.emit(key, state)
		})
		if err != nil {
			return err
		}
	} else {
		// A key normally lives on one shard; merge anyway, states are mergeable.
		merged := map[string][]byte{}
		var order []string
		for _, g := range r.gs {
			err := r.rows(g, func(key, state []byte) error {
				if expires && !r.plan.Live(key, now) {
					return nil
				}
				k := string(r.plan.GroupKey(key))
				prev, ok := merged[k]
				if !ok {
					order = append(order, k)
				}
				m, err := r.plan.MergeState(nil, prev, state)
				if err != nil {
					return err
				}
				merged[k] = m
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, k := range order {
			if err := r.emit([]byte(k), merged[k]); err != nil {
				return err
			}
		}
	}
	if r.emitted == 0 && r.plan.Global() {
		// A view without GROUP BY has one row even before any event, like
		// SELECT count(*) over an empty table.
		if err := r.emit(nil, nil); err != nil {
			return err
		}
	}
	return r.flush()
}

// KeyColumns implements exec.KeyedSource: point lookups by group key.
func (s *viewSource) KeyColumns() []int {
	gs, err := s.groups()
	if err != nil || len(gs) == 0 {
		return nil
	}
	return gs[0].ViewPlan().KeyColumns()
}

// ScanKeys implements exec.KeyedSource: it reads only the given group
// keys, each from the view shard its hash maps to.
func (s *viewSource) ScanKeys(ctx context.Context, keys [][]types.Datum, fn func(b *types.Batch) error) error {
	r, err := s.open(ctx, fn)
	if r == nil {
		return err
	}
	var enc []byte
	var remote map[uint64]map[string][]byte
	now := time.Now().UnixMicro()
	for _, key := range keys {
		if enc, err = r.plan.EncodeKey(enc[:0], key); err != nil {
			return err
		}
		g := r.gs[r.plan.KeyHash(enc)%uint64(len(r.gs))]
		if g.Remote {
			// No replica here: read the shard's rows from a replica once.
			if remote == nil {
				remote = map[uint64]map[string][]byte{}
			}
			if remote[g.ID] == nil {
				m := map[string][]byte{}
				if err := r.rows(g, func(k, st []byte) error { m[string(k)] = append([]byte(nil), st...); return nil }); err != nil {
					return err
				}
				remote[g.ID] = m
			}
			if st, ok := remote[g.ID][string(enc)]; ok && r.plan.Live(enc, now) {
				if err := r.emit(enc, st); err != nil {
					return err
				}
			}
			continue
		}
		if !r.plan.Live(enc, now) {
			continue
		}
		if err := g.View.Lookup(enc, func(state []byte) error { return r.emit(enc, state) }); err != nil {
			return err
		}
	}
	return r.flush()
}

// replicasOf returns the nodes holding group gid.
func (rt *Router) replicasOf(gid uint64) []uint64 {
	return rt.meta.Catalog().Groups()[gid].Nodes
}

// callReplica calls method on some replica of gid other than this node,
// trying them in turn (from a rotating start) until one answers.
func (rt *Router) callReplica(ctx context.Context, gid uint64, method string, req rpc.Request) ([]byte, error) {
	body := req.AppendTo(nil)
	for attempt := 0; ; attempt++ {
		out, err, missed := rt.callReplicaOnce(ctx, gid, method, body)
		if err == nil || !missed || attempt >= replicaMissRetries {
			return out, err
		}
		// Every replica the catalog named said the group is not there
		// (yet, or any more): the replica is being created or moved.
		// Look again with the catalog a moment later.
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(time.Duration(25<<attempt) * time.Millisecond):
		}
	}
}

// replicaMissRetries bounds callReplica's retries when every replica it
// asked no longer (or not yet) holds the group: 25+50+100+200 ms.
const replicaMissRetries = 4

// callReplicaOnce calls the replicas of gid the catalog names, other than
// this node, until one answers; missed reports that every one that
// answered said it does not hold the group.
func (rt *Router) callReplicaOnce(ctx context.Context, gid uint64, method string, body []byte) (out []byte, err error, missed bool) {
	ref := rt.meta.Catalog().Groups()[gid]
	nodes := ref.Nodes
	if len(nodes) == 0 {
		return nil, pgerr.GroupNoReplicas.New(gid), false
	}
	start := int(rt.rr.Add(1))
	order := make([]uint64, 0, len(nodes))
	for i := range nodes {
		order = append(order, nodes[(start+i)%len(nodes)])
	}
	// A regional shard's permanent learners answer when no voter does
	// (its primary region is lost): reads go on, possibly stale.
	order = append(order, ref.Learners...)
	var lastErr error
	missed = true
	for _, id := range order {
		if id == rt.self {
			continue
		}
		if nd := rt.meta.Catalog().NodeByID(id); nd != nil && rt.liveness(nd) == "dead" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, rt.t.ReplicaCall)
		out, err := rt.tr.Call(cctx, id, method, body)
		cancel()
		if err == nil {
			return out, nil, false
		}
		lastErr = err
		missed = missed && strings.Contains(pgerr.From(err).Message, "is not on this node")
	}
	if lastErr == nil {
		lastErr, missed = fmt.Errorf("no live replica"), false
	}
	return nil, pgerr.NoReplicaAnswered.New(gid, lastErr), missed
}

// streamShardSource gives a view task the shards of its stream, local
// replicas read from the engine, others over RPC.
type streamShardSource struct {
	rt     *Router
	groups []uint64
	// linearizable: remote reads ask for a ReadIndex barrier (read_from =
	// leader); view tasks do not need one.
	linearizable bool
}

func (s *streamShardSource) Shards() int { return len(s.groups) }

func (s *streamShardSource) End(i int) (uint64, <-chan struct{}) {
	if g := s.rt.replicas.Get(s.groups[i]); g != nil && g.Stream != nil {
		return g.Stream.End()
	}
	// Remote: always worth a look (Scan returns nothing if there is
	// nothing), and wake the task soon to look again. The end a replica
	// last reported is no bound: a lagging follower may have answered, and
	// trusting its end would stop the view at that offset for good.
	ch := make(chan struct{})
	time.AfterFunc(s.rt.t.RemoteStreamPoll, func() { close(ch) })
	return ^uint64(0) >> 1, ch
}

func (s *streamShardSource) Scan(i int, from uint64, max int, fn func(uint64, int64, streamsm.Targets, *types.Batch) error) (uint64, error) {
	gid := s.groups[i]
	// A local replica serves view tasks, unless it is still a learner. A
	// linearizable reader pages through a remote replica even if one
	// appears here meanwhile (a replica being added mid-read): reading it
	// without a barrier cut the read short.
	if g := s.rt.replicas.Get(gid); g != nil && g.Stream != nil && !s.linearizable && s.rt.replicas.Servable(gid) == nil {
		return g.Stream.Scan(from, max, fn)
	}
	ctx, cancel := context.WithTimeout(s.rt.ctx, s.rt.t.RemoteScan)
	defer cancel()
	out, err := s.rt.callReplica(ctx, gid, rpc.StreamScan, rpc.ScanRequest{Group: gid, From: from, MaxEvents: max, Linearizable: s.linearizable})
	if err != nil {
		return from, err
	}
	rep, err := rpc.DecodeScanReply(out)
	if err != nil {
		return from, err
	}
	var b types.Batch
	next := from
	for _, sb := range rep.Batches {
		if err := types.Decode(sb.Data, &b); err != nil {
			return next, err
		}
		b.Arrival = sb.Ingest
		if err := fn(sb.Start, sb.Ingest, sb.Targets, &b); err != nil {
			return next, err
		}
		next = sb.Start + uint64(b.N)
	}
	if len(rep.Batches) == 0 {
		return from, nil
	}
	return next, nil
}

// StreamEnd returns the end offset of a stream shard, from a replica here
// or on another node, after a ReadIndex barrier: it covers every event
// acknowledged before the call (an acknowledged append is committed, but
// a replica may not have applied it yet), so a CREATE VIEW that waits
// for its back-fill up to this end sees every acknowledged event.
func (rt *Router) StreamEnd(ctx context.Context, st *catalog.Stream, shard int) (uint64, error) {
	gid := st.Groups[shard]
	if g := rt.replicas.Get(gid); g != nil && g.Stream != nil && rt.replicas.Servable(gid) == nil {
		if err := rt.replicas.ReadIndex(ctx, gid); err != nil {
			return 0, err
		}
		end, _ := g.Stream.End()
		return end, nil
	}
	out, err := rt.callReplica(ctx, gid, rpc.StreamScan, rpc.ScanRequest{Group: gid, From: ^uint64(0) >> 1, Linearizable: true})
	if err != nil {
		return 0, err
	}
	rep, err := rpc.DecodeScanReply(out)
	if err != nil {
		return 0, err
	}
	return rep.End, nil
}

// callNode calls an internal method on node id, or on this node directly.
func (rt *Router) CallNode(ctx context.Context, id uint64, method string, req any) ([]byte, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	if id == rt.self {
		return rt.local(ctx, method, body)
	}
	return rt.tr.Call(ctx, id, method, body)
}

func (rt *Router) ShardAdminAt(ctx context.Context, id uint64, req rpc.ShardRequest) (*rpc.ShardReply, error) {
	cctx, cancel := context.WithTimeout(ctx, rt.t.ShardAdminTimeout)
	defer cancel()
	out, err := rt.CallNode(cctx, id, rpc.ShardAdmin, req)
	if err != nil {
		return nil, err
	}
	var rep rpc.ShardReply
	if err := json.Unmarshal(out, &rep); err != nil {
		return nil, pgerr.BadReply.New("shard_admin", err)
	}
	return &rep, nil
}

// shardAdmin runs a shard action at the group's leader, finding it through
// the replicas the catalog places (and this node's own view), retrying
// for up to 15 s while the group elects a leader.
func (rt *Router) ShardAdmin(ctx context.Context, gid uint64, action rpc.ShardAction, node uint64) (*rpc.ShardReply, error) {
	deadline := time.Now().Add(rt.t.ShardAdminRetry)
	var lastErr error
	var leader uint64
	for attempt := 0; time.Now().Before(deadline) && attempt < 100; attempt++ {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if leader == 0 {
			leader = rt.FindLeader(ctx, gid)
		}
		if leader != 0 {
			rep, err := rt.ShardAdminAt(ctx, leader, rpc.ShardRequest{Group: gid, Action: action, Node: node})
			switch {
			case err == nil && !rep.NotLeader:
				return rep, nil
			case err == nil:
				leader, lastErr = rep.Leader, fmt.Errorf("%s no longer leads shard %d", rt.meta.Catalog().NodeLabel(leader), gid)
				continue
			default:
				var pe *pgerr.Error
				if errors.As(err, &pe) && pe.Code == pgerr.ObjectNotInPrerequisiteState {
					return nil, err
				}
				leader, lastErr = 0, err
			}
		} else {
			lastErr = fmt.Errorf("shard %d has no leader (no quorum of its replicas is reachable)", gid)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(rt.t.ShardAdminPoll):
		}
	}
	return nil, pgerr.ShardAdminFailed.New(gid, lastErr)
}

// findLeader asks this node and the shard's replicas who leads group gid.
func (rt *Router) FindLeader(ctx context.Context, gid uint64) uint64 {
	if st, ok := rt.store.Status(gid); ok && st.Leader != 0 {
		return st.Leader
	}
	nodes, _ := rt.meta.Catalog().ShardNodes(gid)
	if gid == catalog.MetaGroupID {
		nodes = nil
		for _, nd := range rt.meta.Catalog().SortedNodes() {
			nodes = append(nodes, nd.ID)
		}
	}
	for _, id := range nodes {
		if id == rt.self {
			continue
		}
		if nd := rt.meta.Catalog().NodeByID(id); nd == nil || rt.liveness(nd) == "dead" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, rt.t.StatusCallTimeout)
		rep, err := rt.ShardAdminAt(cctx, id, rpc.ShardRequest{Group: gid, Action: rpc.ShardStatus})
		cancel()
		if err == nil && rep.Leader != 0 {
			return rep.Leader
		}
	}
	return 0
}

// clusterGroupStatus asks every live node for its replicas' state (1 s
// bound each, in parallel); a node that does not answer is left out.
func (rt *Router) GroupStatus(ctx context.Context) map[uint64]map[uint64]rpc.ReplicaStatus {
	out := map[uint64]map[uint64]rpc.ReplicaStatus{rt.self: rt.replicas.LocalStatus()}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, nd := range rt.meta.Catalog().SortedNodes() {
		if nd.ID == rt.self || rt.liveness(nd) != "live" {
			continue
		}
		wg.Add(1)
		go func(id uint64) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, rt.t.StatusCallTimeout)
			defer cancel()
			b, err := rt.tr.Call(cctx, id, rpc.NodeGroups, nil)
			if err != nil {
				return
			}
			var m map[uint64]rpc.ReplicaStatus
			if json.Unmarshal(b, &m) == nil {
				mu.Lock()
				out[id] = m
				mu.Unlock()
			}
		}(nd.ID)
	}
	wg.Wait()
	return out
}

// NewBatchID returns a random batch id for dedupe of retried appends.
func NewBatchID() (id [streamsm.BatchIDLen]byte) {
	_, _ = rand.Read(id[:])
	return id
}

// LeadersOn counts the groups (meta included) node id leads, asking it.
func (rt *Router) LeadersOn(ctx context.Context, id uint64) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, rt.t.LeadersCall)
	defer cancel()
	out, err := rt.CallNode(cctx, id, rpc.NodeGroups, nil)
	if err != nil {
		return 0, err
	}
	var m map[uint64]rpc.ReplicaStatus
	if err := json.Unmarshal(out, &m); err != nil {
		return 0, err
	}
	c := 0
	for _, r := range m {
		if r.Role == "leader" {
			c++
		}
	}
	return c, nil
}
