package raftstore

import (
	"bytes"
	"time"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
)

// Quiescence: an idle group stops ticking, so 10,000 idle groups cost
// nothing per tick (DESIGN.md, "Quiescence"). A leader whose followers all
// have its whole log, with nothing pending, sends each follower a quiesce
// heartbeat (a real MsgHeartbeat carrying quiesceCtx) and stops ticking; a
// follower that finds itself in step with that leader stops ticking too.
// Anything that needs the group wakes it. The two ends watch each other's
// nodes through store-level pings: a quiesced follower whose leader's node
// goes quiet wakes with its election clock advanced by the silence (so it
// elects as soon as an active follower would), and a quiesced leader whose
// follower's node goes quiet wakes so that CheckQuorum can judge it.

// pingGroupID is the group id of store-level pings: one MsgHeartbeat per
// peer node per heartbeat interval, sent only to nodes that share a
// quiesced group with this one. No raft group has this id.
const pingGroupID = ^uint64(0)

var (
	// quiesceCtx marks a leader's quiesce heartbeat. The follower's raft
	// echoes it in its MsgHeartbeatResp, which the store drops.
	quiesceCtx = []byte("cairn-quiesce")
	// wakeCtx marks a wake-up: a MsgHeartbeatResp that is never stepped
	// into raft, only wakes the group (a follower asking its quiesced
	// leader to resume heartbeats, or refusing to quiesce).
	wakeCtx = []byte("cairn-wake")
)

// quiesceState is the loop-owned bookkeeping of quiescence.
type quiesceState struct {
	active map[uint64]*group            // groups that tick: every group not quiesced
	heard  map[uint64]time.Time         // node → when a message from it last arrived
	watch  map[uint64]map[uint64]*group // node → quiesced groups that wake if it goes silent; pinged
	ticks  uint64                       // ticks so far, for the ping cadence
	out    []GroupMessage               // messages built outside a Ready, sent with the next batch
	check  map[uint64]*pb.Message       // groups that got a quiesce heartbeat this iteration
}

func newQuiesceState() quiesceState {
	return quiesceState{
		active: make(map[uint64]*group),
		heard:  make(map[uint64]time.Time),
		watch:  make(map[uint64]map[uint64]*group),
		check:  make(map[uint64]*pb.Message),
	}
}

func isQuiesceHeartbeat(m *pb.Message) bool {
	return m.GetType() == pb.MsgHeartbeat && bytes.Equal(m.GetContext(), quiesceCtx)
}

func isWakeMsg(m *pb.Message) bool {
	return m.GetType() == pb.MsgHeartbeatResp && bytes.Equal(m.GetContext(), wakeCtx)
}

// silenceLimit is how long a quiesced follower waits without a message
// from its leader's node before it wakes. Pings come every heartbeat
// interval, so it is several of them; it is half an election timeout so
// that, with the election clock advanced by the silence, the group elects
// as soon as an active one would.
func (s *Store) silenceLimit() time.Duration {
	ticks := max(s.cfg.ElectionTicks/2, 2*s.cfg.HeartbeatTicks+1)
	return time.Duration(ticks) * s.cfg.TickInterval
}

// stepMessage steps a received message into its group, waking a quiesced
// group unless the message is one a quiet group may take: the answer of an
// up-to-date follower to the leader's last heartbeat. Wake-ups are not
// stepped at all; a quiesce heartbeat is stepped and then judged after the
// iteration's batch is written (finishQuiesceChecks).
func (s *Store) stepMessage(g *group, m *pb.Message) {
	switch {
	case isWakeMsg(m):
		s.wakeGroup(g, m.GetFrom())
		return
	case isQuiesceHeartbeat(m):
		s.q.check[g.id] = m
	case g.quiesced && m.GetType() == pb.MsgHeartbeatResp && m.GetTerm() == g.rn.BasicStatus().GetTerm():
		// Errors are raft refusing a stale message.
		_ = g.rn.Step(m)
		if g.rn.HasReady() {
			s.wakeGroup(g, m.GetFrom())
		}
		return
	default:
		s.wakeGroup(g, m.GetFrom())
	}
	// Errors here are raft refusing a stale or local message; dropping
	// it is what the sender's retry logic expects.
	_ = g.rn.Step(m)
}

// tickGroups ticks every active group, quiescing leaders that may, then
// sends pings and wakes followers whose leader's node went silent.
func (s *Store) tickGroups(now time.Time) {
	for _, g := range s.q.active {
		s.dirty[g.id] = g
		if s.shouldQuiesceLeader(g, now) {
			s.quiesceLeader(g)
			continue
		}
		g.rn.Tick()
		s.pruneReads(g)
	}
	s.q.ticks++
	if s.q.ticks%uint64(s.cfg.HeartbeatTicks) == 0 {
		for node := range s.q.watch {
			s.q.out = append(s.q.out, GroupMessage{GroupID: pingGroupID, Msg: &pb.Message{
				Type: pb.MsgHeartbeat.Enum(), To: new(node), From: new(s.cfg.NodeID)}})
		}
	}
	limit := s.silenceLimit()
	for node, gs := range s.q.watch {
		silent := now.Sub(s.q.heard[node])
		if silent < limit {
			continue
		}
		s.log.Info("raftstore: node silent; waking the quiesced groups it shares", "node", node, "silent", silent.Round(time.Millisecond), "groups", len(gs))
		ticks := min(int(silent/s.cfg.TickInterval), 2*s.cfg.ElectionTicks)
		for _, g := range gs {
			follower := g.qLead == node
			s.wakeGroup(g, 0)
			if follower {
				// Advance the election clock by the leader's silence, so
				// that it campaigns when an active follower would have.
				for range ticks {
					g.rn.Tick()
				}
			}
		}
	}
}

// shouldQuiesceLeader reports whether g is a leader with nothing to do:
// every entry committed and applied, an entry of its term among them, all
// replicas holding the whole log and their nodes heard from lately, no
// proposal, read, transfer or joint configuration under way.
func (s *Store) shouldQuiesceLeader(g *group, now time.Time) bool {
	if s.cfg.TestingKnobs.DisableQuiescence || len(g.pending) > 0 || len(g.reads) > 0 {
		return false
	}
	bs := g.rn.BasicStatus()
	last := g.st.lastIdx
	if bs.RaftState != raft.StateLeader || bs.LeadTransferee != 0 || bs.GetCommit() != last ||
		g.st.applied != last || g.st.appliedT != bs.GetTerm() {
		return false
	}
	if len(g.st.conf.GetVotersOutgoing()) > 0 || len(g.st.conf.GetLearnersNext()) > 0 {
		return false
	}
	ok, limit := true, s.silenceLimit()
	g.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id != s.cfg.NodeID && (pr.Match != last || pr.State != tracker.StateReplicate || now.Sub(s.q.heard[id]) >= limit) {
			ok = false
		}
	})
	return ok && !g.rn.HasReady()
}

// quiesceLeader stops ticking g and tells each replica to do the same.
func (s *Store) quiesceLeader(g *group) {
	bs := g.rn.BasicStatus()
	g.quiesced, g.qLead, g.qPeers = true, 0, g.qPeers[:0]
	delete(s.q.active, g.id)
	s.nQuiesced.Add(1)
	g.st.dropCache()
	g.rn.WithProgress(func(id uint64, _ raft.ProgressType, pr tracker.Progress) {
		if id == s.cfg.NodeID {
			return
		}
		s.watchNode(g, id)
		s.q.out = append(s.q.out, GroupMessage{GroupID: g.id, Msg: &pb.Message{
			Type: pb.MsgHeartbeat.Enum(), To: new(id), From: new(s.cfg.NodeID), Term: new(bs.GetTerm()),
			Commit: new(min(pr.Match, bs.GetCommit())), Context: quiesceCtx}})
	})
	// A match index that moved without a Ready (a late MsgAppResp) is
	// published here, since a quiet group has no more Readies.
	s.publishStatus(g)
}

// finishQuiesceChecks runs after the iteration's batch is written and
// Advance: each group that got a quiesce heartbeat quiesces if it is a
// follower in step with that leader (same term and leader, its whole log
// committed and applied, nothing pending); otherwise it stays (or becomes)
// active and wakes the leader.
func (s *Store) finishQuiesceChecks() {
	for gid, m := range s.q.check {
		delete(s.q.check, gid)
		g, ok := s.groups[gid]
		if !ok {
			continue
		}
		bs := g.rn.BasicStatus()
		from := m.GetFrom()
		if !s.cfg.TestingKnobs.DisableQuiescence && bs.RaftState == raft.StateFollower &&
			bs.Lead == from && bs.GetTerm() == m.GetTerm() && bs.GetCommit() == g.st.lastIdx &&
			g.st.applied == g.st.lastIdx && len(g.reads) == 0 && !g.rn.HasReady() {
			if g.quiesced && g.qLead != from {
				s.wakeGroup(g, from)
			}
			if !g.quiesced {
				g.quiesced, g.qLead = true, from
				delete(s.q.active, gid)
				s.nQuiesced.Add(1)
				g.st.dropCache()
				s.watchNode(g, from)
			}
			continue
		}
		s.wakeGroup(g, 0)
		s.q.out = append(s.q.out, wakeMsg(g.id, s.cfg.NodeID, from))
	}
}

// wakeGroup makes a quiesced group tick again. cause is the node whose message
// woke it (0: a local reason or a silent leader). A follower woken by
// anything but its leader asks the leader to wake as well, since a follower
// that ticks while its leader sleeps would call an election.
func (s *Store) wakeGroup(g *group, cause uint64) {
	if !g.quiesced {
		return
	}
	g.quiesced = false
	s.q.active[g.id] = g
	s.nQuiesced.Add(-1)
	s.dirty[g.id] = g
	if lead := g.qLead; lead != 0 && cause != lead {
		s.q.out = append(s.q.out, wakeMsg(g.id, s.cfg.NodeID, lead))
	}
	for _, id := range g.qPeers {
		delete(s.q.watch[id], g.id)
		if len(s.q.watch[id]) == 0 {
			delete(s.q.watch, id)
		}
	}
	g.qLead, g.qPeers = 0, g.qPeers[:0]
}

// watchNode registers quiesced g under node id: id is pinged, and g wakes
// if id goes silent.
func (s *Store) watchNode(g *group, id uint64) {
	if s.q.watch[id] == nil {
		s.q.watch[id] = make(map[uint64]*group)
	}
	s.q.watch[id][g.id] = g
	g.qPeers = append(g.qPeers, id)
}

func wakeMsg(gid, from, to uint64) GroupMessage {
	return GroupMessage{GroupID: gid, Msg: &pb.Message{
		Type: pb.MsgHeartbeatResp.Enum(), To: new(to), From: new(from), Context: wakeCtx}}
}

// keepOutgoing filters a group's outgoing Ready message: the answer to a
// quiesce heartbeat never leaves (finishQuiesceChecks answers with a
// wake-up when the follower does not quiesce).
func keepOutgoing(m *pb.Message) bool {
	return !(m.GetType() == pb.MsgHeartbeatResp && bytes.Equal(m.GetContext(), quiesceCtx))
}

// forgetGroupQuiescence drops a destroyed group from the bookkeeping.
func (s *Store) forgetGroupQuiescence(g *group) {
	s.wakeGroup(g, g.qLead) // no wake-up message: the group is going away
	delete(s.q.active, g.id)
	delete(s.q.check, g.id)
}

// GroupCounts returns how many groups run on this store and how many of
// them are quiesced (for metrics; as of the loop's last change).
func (s *Store) GroupCounts() (groups, quiesced int) {
	return int(s.nGroups.Load()), int(s.nQuiesced.Load())
}

// dropCache empties the entry cache of a quiesced group: every replica has
// the whole log, so nothing will be sent from it, and an idle group should
// not hold up to entryCacheBytes. Entries are read from Pebble if needed.
func (gs *groupStorage) dropCache() {
	gs.cache, gs.cacheBytes = nil, 0
}
