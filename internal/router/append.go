package router

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/cairndb/cairn/internal/errkind"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/replica"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/timing"
)

// maxHedges bounds the attempts of one command in flight at once: the
// believed leader plus the other replicas of a 3-way group, plus one.
const maxHedges = 4

// slowFor is how long a node whose append attempt timed out, or that
// could not be reached, is tried only when no other node can be: long
// enough to cover an election, short enough that a node resumed after a
// pause is used again soon.
const slowFor = 2 * time.Second

// leaderHints is what this node's router learned about who leads each
// group and which nodes did not answer lately, shared by every append:
// a batch after a failover goes straight to the new leader instead of
// relearning it from a timeout.
type leaderHints struct {
	mu struct {
		sync.Mutex
		leader     map[uint64]uint64    // group → the node that last acknowledged or was named its leader
		slow       map[uint64]time.Time // node → until when it is tried last (timed out or unreachable)
		leaderless map[uint64]time.Time // group → until when it is taken for leaderless (a replica said it knows no leader)
		lagging    map[uint64]time.Time // node → until when keyless batches avoid it (no answer within the hedge delay)
	}
}

// noLeader records that a replica of gid knows no leader (an election, or
// no quorum): a stream without a shard key avoids the group for slowFor.
func (h *leaderHints) noLeader(gid uint64, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mu.leaderless = markUntil(h.mu.leaderless, gid, now.Add(slowFor))
}

func (h *leaderHints) isLeaderless(gid uint64, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return activeAt(h.mu.leaderless, gid, now)
}

func (h *leaderHints) leaderOf(gid uint64) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mu.leader[gid]
}

// learn records that node leads gid (it acknowledged, or a replica named
// it); node 0 is ignored.
func (h *leaderHints) learn(gid, node uint64) {
	if node == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.mu.leader == nil {
		h.mu.leader = map[uint64]uint64{}
	}
	h.mu.leader[gid] = node
	delete(h.mu.leaderless, gid)
}

// answered clears node's slow mark: it acknowledged a write.
func (h *leaderHints) answered(node uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.mu.slow, node)
	delete(h.mu.lagging, node)
}

// markSlow makes node a last choice until now+slowFor: an attempt at it
// timed out, or it could not be reached.
func (h *leaderHints) markSlow(node uint64, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mu.slow = markUntil(h.mu.slow, node, now.Add(slowFor))
}

func (h *leaderHints) isSlow(node uint64, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return activeAt(h.mu.slow, node, now)
}

// markLagging records that node did not answer an append within the hedge
// delay (frozen, or only busy): a stream without a shard key sends its
// next batches elsewhere for slowFor, but appends that need the node still
// go to it first.
func (h *leaderHints) markLagging(node uint64, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.mu.lagging = markUntil(h.mu.lagging, node, now.Add(slowFor))
}

func (h *leaderHints) isLagging(node uint64, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return activeAt(h.mu.lagging, node, now)
}

// markUntil sets m[k] = until, making m if needed.
func markUntil(m map[uint64]time.Time, k uint64, until time.Time) map[uint64]time.Time {
	if m == nil {
		m = map[uint64]time.Time{}
	}
	m[k] = until
	return m
}

// activeAt reports whether m[k] is set and not past at now (a past entry
// is dropped).
func activeAt(m map[uint64]time.Time, k uint64, now time.Time) bool {
	until, ok := m[k]
	if ok && !now.Before(until) {
		delete(m, k)
		return false
	}
	return ok
}

// appendEnv is what the append path needs from the node: the local
// replica's raft status, a local proposal, the group's replicas from the
// catalog and a call to another node. The router fills it from its store,
// replica manager, catalog and transport; tests fake it.
type appendEnv struct {
	self uint64
	// status: the leader the local replica of gid knows (ok: there is one).
	status func(gid uint64) (leader uint64, isLeader, ok bool)
	local  func(ctx context.Context, gid uint64, cmd []byte) (*rpc.AppendReply, error)
	// replicas: the nodes of gid in the catalog.
	replicas func(gid uint64) []uint64
	call     func(ctx context.Context, node, gid uint64, cmd []byte) (*rpc.AppendReply, error)
	hints    *leaderHints
	t        timing.Timing
}

func (rt *Router) appendEnv() *appendEnv {
	return &appendEnv{
		self: rt.self,
		status: func(gid uint64) (uint64, bool, bool) {
			st, ok := rt.store.Status(gid)
			return st.Leader, st.IsLeader, ok
		},
		local:    rt.replicas.AppendLocal,
		replicas: rt.replicasOf,
		call: func(ctx context.Context, node, gid uint64, cmd []byte) (*rpc.AppendReply, error) {
			out, err := rt.tr.Call(ctx, node, rpc.Append, rpc.EncodeAppend(gid, cmd))
			if err != nil {
				return nil, err
			}
			var rep rpc.AppendReply
			if err := json.Unmarshal(out, &rep); err != nil {
				return nil, err
			}
			return &rep, nil
		},
		hints: &rt.hints,
		t:     rt.t,
	}
}

// proposeShard proposes cmd (which carries an id its state machine
// dedupes by) to shard gid through its leader, retrying across leader
// changes and unreachable nodes; it returns the reply's End.
func (rt *Router) proposeShard(ctx context.Context, gid uint64, cmd []byte) (uint64, error) {
	return rt.appendEnv().propose(ctx, gid, cmd)
}

// attemptResult is the outcome of one append attempt at one node.
type attemptResult struct {
	target   uint64
	end      uint64
	leader   uint64 // with errNotLeaderHere: the leader the target named (0: none)
	err      error
	timedOut bool // it gave up waiting after sending: the command may still commit
}

// propose sends cmd to the node believed to lead gid and, when no answer
// comes within Timing.AppendHedge, also to the next likely leader (a
// hedge), up to maxHedges attempts at once, each bounded by
// Timing.AppendAttempt. Every attempt carries the same bytes, so the
// same id: whichever copies commit, the shard's dedupe table applies the
// command once, and the first acknowledgement answers the caller. An
// acknowledgement means the command is committed on a majority and
// applied, whichever attempt brought it.
func (e *appendEnv) propose(ctx context.Context, gid uint64, cmd []byte) (uint64, error) {
	per := attemptTimeout(e.t.AppendAttempt, len(cmd))
	hedgeAfter := attemptTimeout(e.t.AppendHedge, len(cmd))
	deadline := time.Now().Add(e.t.AppendDeadline + 2*(per-e.t.AppendAttempt))
	actx, cancel := context.WithCancel(ctx)
	defer cancel() // attempts still running are abandoned; a copy that commits later is deduped
	results := make(chan attemptResult, maxHedges)
	inflight := map[uint64]time.Time{} // target → when its attempt started
	var hint uint64
	var lastErr error
	// unknown: some attempt gave up (or is abandoned) after the command
	// was sent, so it may still commit; a failure is then "outcome
	// unknown", not a plain failure.
	unknown := false
	// heard: some replica answered (even "not me"); with none for
	// AppendSilence this node is likely cut off, and a client is better
	// served by an error than by a wait until the deadline.
	heard := false
	silence := e.t.AppendSilence + 2*(per-e.t.AppendAttempt)
	begin := time.Now()
	attempt := 0
	launch := func() {
		if len(inflight) >= maxHedges {
			return
		}
		target, local := e.target(gid, hint, attempt, inflight)
		attempt++
		if target == 0 {
			if len(inflight) == 0 {
				if len(e.replicas(gid)) == 0 {
					lastErr = pgerr.NoReplicas.New(gid)
				} else {
					lastErr = errNotLeaderHere // our replica has no leader yet
				}
			}
			return
		}
		inflight[target] = time.Now()
		go func() { results <- e.try(actx, gid, cmd, target, local, per) }()
	}
	fail := func() (uint64, error) {
		if ctx.Err() != nil {
			return 0, replica.StoreErr(ctx.Err())
		}
		if unknown || len(inflight) > 0 {
			return 0, pgerr.AppendOutcomeUnknown.New(gid).WithDetail("Last attempt: %v", lastErr)
		}
		if retryableAppend(lastErr) {
			return 0, pgerr.NoLeaderToAppend.New(gid).WithDetail("Last attempt: %v", lastErr)
		}
		return 0, replica.StoreErr(lastErr)
	}
	launch()
	wake := time.NewTimer(hedgeAfter)
	if len(inflight) == 0 {
		wake.Reset(e.t.AppendBackoff)
	}
	defer wake.Stop()
	for polls := 0; ; {
		select {
		case <-ctx.Done():
			return fail()
		case <-wake.C:
			now := time.Now()
			// Silence counts only while no local proposal is out: this
			// node's own replica is not cut off from it (a lone node on a
			// stalled disk waits, as before).
			_, localOut := inflight[e.self]
			if !heard && now.Sub(begin) >= silence && len(inflight) > 0 && !localOut {
				err := pgerr.AppendNoAnswer.New(gid, silence)
				if lastErr != nil {
					err = err.WithDetail("Last attempt: %v", lastErr)
				}
				return 0, err
			}
			if now.After(deadline) {
				if len(inflight) == 0 {
					return fail()
				}
				wake.Reset(hedgeAfter)
				continue
			}
			// No answer within hedgeAfter: keyless batches avoid the
			// node until it answers one.
			for n, at := range inflight {
				if n != e.self && now.Sub(at) >= hedgeAfter {
					e.hints.markLagging(n, now)
				}
			}
			launch()
			if len(inflight) == 0 {
				polls++
				wake.Reset(time.Duration(min(polls, 10)) * e.t.AppendBackoff)
			} else {
				wake.Reset(hedgeAfter)
			}
		case r := <-results:
			delete(inflight, r.target)
			if r.err == nil {
				e.hints.learn(gid, r.target)
				e.hints.answered(r.target)
				return r.end, nil
			}
			lastErr = r.err
			unknown = unknown || r.timedOut
			heard = heard || !(r.timedOut || pgerr.KindOf(r.err) == errkind.Unavailable)
			notLeader := errors.Is(r.err, errNotLeaderHere)
			hint = 0
			switch {
			case r.timedOut || pgerr.KindOf(r.err) == errkind.Unavailable:
				e.hints.markSlow(r.target, time.Now())
			case notLeader && r.leader == 0:
				e.hints.noLeader(gid, time.Now())
			case notLeader:
				e.hints.learn(gid, r.leader)
				hint = r.leader
			case !retryableAppend(r.err):
				// A definitive answer (a table write refused, a bad
				// command): every other copy dedupes to the same one.
				return 0, replica.StoreErr(r.err)
			}
			if time.Now().After(deadline) {
				if len(inflight) == 0 {
					return fail()
				}
				continue // wait for the attempts still out
			}
			// A replica named a leader not being tried: go there at once.
			if hint != 0 && hint != e.self {
				if _, busy := inflight[hint]; !busy {
					launch()
					wake.Reset(hedgeAfter)
					continue
				}
			}
			// Else ask again after a short, growing pause: an election is
			// under way, or the named leader is still being waited for.
			polls++
			wake.Reset(min(time.Duration(min(polls, 10))*e.t.AppendBackoff, hedgeAfter))
		}
	}
}

// target picks where the next attempt goes: this node when it leads,
// else the leader a replica just named (hint), else the locally known or
// remembered leader, else the next replica in turn; never a node already
// being tried, and a node marked slow only when nothing else is left.
// 0: nowhere (every candidate is being tried).
func (e *appendEnv) target(gid, hint uint64, attempt int, inflight map[uint64]time.Time) (node uint64, local bool) {
	now := time.Now()
	busy := func(n uint64) bool { _, ok := inflight[n]; return ok }
	leader, isLeader, ok := e.status(gid)
	if ok && isLeader && !busy(e.self) {
		return e.self, true
	}
	// A leader a replica just named is tried even if it was slow: the
	// replica's word is fresher than our mark.
	if hint != 0 && hint != e.self && !busy(hint) {
		return hint, false
	}
	if !ok || isLeader {
		leader = 0 // no replica here, or ours is the one being tried
	}
	cands := []uint64{hint, leader, e.hints.leaderOf(gid)}
	nodes := e.replicas(gid)
	for i := range nodes {
		cands = append(cands, nodes[(attempt+i)%len(nodes)])
	}
	usable := func(n uint64) bool { return n != 0 && n != e.self && !busy(n) }
	for _, n := range cands {
		if usable(n) && !e.hints.isSlow(n, now) {
			return n, false
		}
	}
	for _, n := range cands {
		if usable(n) {
			return n, false
		}
	}
	return 0, false
}

// try makes one attempt at target (locally when local).
func (e *appendEnv) try(ctx context.Context, gid uint64, cmd []byte, target uint64, local bool, per time.Duration) attemptResult {
	r := attemptResult{target: target}
	var rep *rpc.AppendReply
	if local {
		// Bounded too: a leader cut off from its quorum keeps its
		// proposal pending until it hears from a new leader.
		actx, cancel := context.WithTimeout(ctx, 2*per)
		rep, r.err = e.local(actx, gid, cmd)
		cancel()
	} else {
		cctx, cancel := context.WithTimeout(ctx, per)
		rep, r.err = e.call(cctx, target, gid, cmd)
		cancel()
	}
	if r.err != nil {
		// Timed out (not cancelled by the caller): the command was sent
		// and may still commit.
		r.timedOut = ctx.Err() == nil && pgerr.KindOf(r.err) == errkind.Cancelled
		return r
	}
	if rep.NotHim {
		r.leader, r.err = rep.Leader, errNotLeaderHere
		return r
	}
	r.end = rep.End
	return r
}

// nextShard picks the shard of a stream without a shard key for the next
// whole batch: the next in turn whose leader looks reachable. Any shard
// will do for such a stream, so a batch need not wait for the election of
// one whose leader just froze or died. The choice is made before anything
// is sent, so it cannot put one batch in two shards.
func (rt *Router) nextShard(groups []uint64) int {
	first := int(rt.rr.Add(1) % uint64(len(groups)))
	now := time.Now()
	for k := range len(groups) {
		i := (first + k) % len(groups)
		if rt.leaderLooksReachable(groups[i], now) {
			return i
		}
	}
	return first // none looks good: take the turn's
}

// leaderLooksReachable is false when this node has seen trouble with gid's
// leader lately: a replica said it knows no leader, its local replica
// knows none, or the leader it last wrote through (or was told of) timed
// out, could not be reached or lagged. No knowledge is good news.
func (rt *Router) leaderLooksReachable(gid uint64, now time.Time) bool {
	if rt.hints.isLeaderless(gid, now) {
		return false
	}
	if rt.store != nil {
		if st, ok := rt.store.Status(gid); ok {
			if st.Leader == 0 {
				return false
			}
			if st.IsLeader {
				return true
			}
			return !rt.hints.isSlow(st.Leader, now) && !rt.hints.isLagging(st.Leader, now)
		}
	}
	if l := rt.hints.leaderOf(gid); l != 0 {
		return !rt.hints.isSlow(l, now) && !rt.hints.isLagging(l, now)
	}
	return true
}
