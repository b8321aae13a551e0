package router

import (
	"context"
	"sync"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/types"
)

// Writes that route around an unavailable stream shard (issue 15,
// WITH (on_shard_unavailable = 'reroute')); DESIGN.md has the argument
// for exactly once. In short: a part meant for shard A that A does not
// acknowledge within the reroute_after setting is parked in the next
// shard B on the stream's ring, with its batch id and A's group, and
// the statement succeeds. A parked part is not in B's log, so no reader
// and no view sees it. When A has a quorum again, B's leader proposes a
// fence of the id to A; A's log order decides once and for all whether A
// applied the id (B drops its copy) or never will (B releases its copy
// into its log under the same id).

type noRerouteKey struct{}

// WithoutReroute marks an insert whose parts wait for their own shard
// even on a reroute stream: stream_insert_level = sync_commit promises
// that the views folded the events when the INSERT returns, which a
// parked part (folded once its origin answers) cannot keep.
func WithoutReroute(ctx context.Context) context.Context {
	return context.WithValue(ctx, noRerouteKey{}, true)
}

// appendPart appends part b of a batch, meant for shard `shard` of
// stream s; on a reroute stream a part its shard does not take in time
// is parked in another shard. It returns the part's end offset in its
// own shard (0 when it was rerouted: nothing to wait for there).
func (rt *Router) appendPart(ctx context.Context, s *catalog.Stream, shard int, b *types.Batch, ingest int64, targets []uint64) (uint64, error) {
	gid := s.Groups[shard]
	if s.OnShardUnavailable != catalog.Reroute || len(s.Groups) < 2 || ctx.Value(noRerouteKey{}) != nil {
		return rt.appendShard(ctx, gid, b, ingest, targets)
	}
	id := NewBatchID()
	enc := types.AppendEncoded(nil, b)
	cmd := streamsm.EncodeAppendTo(make([]byte, 0, len(enc)+32+10*len(targets)), id, ingest, targets, enc)
	after := rt.meta.Catalog().SettingDuration(catalog.RerouteAfter)
	var firstErr error
	// A shard known to be in trouble (no leader, its leader timed out
	// lately) is not waited for: its parts go straight to the next shard
	// until the marks expire (slowFor), when one part tries it again.
	if rt.leaderLooksReachable(gid, time.Now()) {
		actx, cancel := context.WithTimeout(ctx, after)
		end, err := rt.proposeShard(actx, gid, cmd)
		timedOut := actx.Err() != nil
		cancel()
		if err == nil {
			return end, nil
		}
		if ctx.Err() != nil || !reroutable(err, timedOut) {
			return 0, err // the caller gave up, or a definitive answer
		}
		firstErr = err
		rt.hints.noLeader(gid, time.Now()) // the next parts skip it for slowFor
	}
	now := time.Now()
	to := rerouteTarget(len(s.Groups), shard, func(i int) bool { return rt.leaderLooksReachable(s.Groups[i], now) })
	_, body, _ := streamsm.AppendBody(cmd)
	if _, err := rt.proposeShard(ctx, s.Groups[to], streamsm.EncodePark(id, gid, body)); err != nil {
		e := pgerr.RerouteFailed.New(s.Name, shard, to, err)
		if firstErr != nil {
			e = e.WithDetail("Shard %d: %v", shard, firstErr)
		}
		return 0, e
	}
	rt.metrics.Rerouted(s.Name, b.N)
	return 0, nil
}

// reroutable reports whether a part whose append to its own shard failed
// with err goes to another shard: when the reroute_after wait ran out
// (timedOut) or the shard could not take it for now (40001: no leader,
// no answer, outcome unknown). A definitive answer (a bad batch, the
// stream dropped) is the statement's answer.
func reroutable(err error, timedOut bool) bool {
	return timedOut || pgerr.Code(err) == pgerr.SerializationFailure
}

// rerouteTarget picks where a part meant for shard `from` of an n-shard
// stream goes: the next shard on the ring (from+1, from+2, … mod n)
// that looks reachable, else from+1. Any shard will do for correctness
// (the part keeps its id and names its origin); this one spreads the
// parts of one lost shard over one neighbour, as PipelineDB did.
func rerouteTarget(n, from int, reachable func(i int) bool) int {
	for k := 1; k < n; k++ {
		if i := (from + k) % n; reachable(i) {
			return i
		}
	}
	return (from + 1) % n
}

// Fence outcomes, as settle decides them.
const (
	settleRelease = "released"
	settleDrop    = "dropped"
)

// settleCommand is what a shard holding parked part p proposes once its
// origin answered the fence with code (rpc.FenceHad or rpc.FenceFenced):
// drop the copy when the origin had the batch, else release it into the
// log. ok is false for an answer that is neither.
func settleCommand(p streamsm.Parked, code uint64) (cmd []byte, outcome string, ok bool) {
	switch code {
	case rpc.FenceHad:
		return streamsm.EncodeDrop(p.ID), settleDrop, true
	case rpc.FenceFenced:
		return streamsm.EncodeRelease(p.ID, p.Body), settleRelease, true
	}
	return nil, "", false
}

// settleParallel bounds the parked parts of one shard settled at once:
// their fences and releases are separate proposals, and the raft loop
// commits concurrent ones together.
const settleParallel = 32

// ReconcileReroutes settles the parked parts of the reroute streams'
// shards this node leads: each is fenced at its origin shard, then
// released or dropped. An origin that does not answer (still without a
// quorum) is asked again at the next round. The node calls it every
// Timing.RerouteReconcile.
func (rt *Router) ReconcileReroutes() {
	cat := rt.meta.Catalog()
	for _, s := range cat.SortedStreams() {
		if s.OnShardUnavailable != catalog.Reroute {
			continue
		}
		for _, gid := range s.Groups {
			if st, ok := rt.store.Status(gid); !ok || !st.IsLeader {
				continue
			}
			if g := rt.replicas.Get(gid); g != nil && g.Stream != nil {
				rt.settleParked(s.Name, gid, g.Stream.Parked())
			}
		}
	}
}

// settleParked fences and settles the parts parked in shard gid. Per
// origin shard, one part is settled first: if its origin does not answer
// (no quorum yet) the others wait for the next round without asking it
// again; if it does, the rest go settleParallel at a time.
func (rt *Router) settleParked(stream string, gid uint64, parked []streamsm.Parked) {
	byOrigin := map[uint64][]streamsm.Parked{}
	var origins []uint64
	for _, p := range parked {
		if byOrigin[p.Origin] == nil {
			origins = append(origins, p.Origin)
		}
		byOrigin[p.Origin] = append(byOrigin[p.Origin], p)
	}
	for _, origin := range origins {
		parts := byOrigin[origin]
		if rt.ctx.Err() != nil || !rt.settleOne(stream, gid, parts[0]) {
			continue
		}
		sem := make(chan struct{}, settleParallel)
		var wg sync.WaitGroup
		for _, p := range parts[1:] {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				rt.settleOne(stream, gid, p)
			}()
		}
		wg.Wait()
	}
}

// settleOne fences part p at its origin and drops or releases it in
// gid; false when the origin did not answer the fence.
func (rt *Router) settleOne(stream string, gid uint64, p streamsm.Parked) bool {
	ctx, cancel := context.WithTimeout(rt.ctx, rt.t.AppendDeadline)
	defer cancel()
	code, err := rt.proposeShard(ctx, p.Origin, streamsm.EncodeFence(p.ID))
	if err != nil {
		return false
	}
	cmd, outcome, ok := settleCommand(p, code)
	if !ok {
		return true
	}
	if _, err := rt.proposeShard(ctx, gid, cmd); err == nil {
		rt.metrics.RerouteSettled(stream, outcome)
	}
	return true
}
