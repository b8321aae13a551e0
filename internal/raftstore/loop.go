package raftstore

import (
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// loop is the only goroutine that touches RawNodes, groupStorage and the
// groups map.
func (s *Store) loop() {
	defer close(s.done)
	defer s.shutdown()
	defer recoverDiskFailure()
	ticker := time.NewTicker(s.cfg.TickInterval)
	defer ticker.Stop()
	for {
		tick := false
		select {
		case <-s.stopc:
			return
		case <-s.wake:
		case <-ticker.C:
			tick = true
		}
		// Keep iterating while raft has more to hand out (commits that
		// became known at Advance), without waiting for a wake-up; a busy
		// group must not starve the others of ticks (heartbeats).
		for more := true; more; {
			more = s.iterate(tick)
			tick = false
			select {
			case <-s.stopc:
				return
			case <-ticker.C:
				tick = true
				more = true
			default:
			}
		}
	}
}

// shutdown fails everything still waiting, once the loop stops.
func (s *Store) shutdown() {
	s.mu.Lock()
	s.mu.stopped = true
	// Queued functions are dropped: their callers see s.done closed and
	// return ErrStopped.
	props := append(s.mu.props, s.held...)
	s.mu.props, s.mu.msgs, s.mu.fns, s.held = nil, nil, nil, nil
	s.mu.Unlock()
	for _, p := range props {
		p.done <- result{err: ErrStopped}
	}
	for _, g := range s.groups {
		s.failGroup(g, ErrStopped)
	}
}

type groupReady struct {
	g       *group
	rd      raft.Ready
	applied []appliedProp
	synced  bool // g applied something in this batch (DurableNotifier)
}

type appliedProp struct {
	p   *proposal
	val any
}

// iterate runs one loop iteration: drain the inbox, step/propose/tick,
// persist and apply every group's Ready in one batch with one sync, send,
// notify, Advance. It reports whether some group has another Ready.
func (s *Store) iterate(tick bool) bool {
	s.mu.Lock()
	props, msgs, fns := s.mu.props, s.mu.msgs, s.mu.fns
	s.mu.props, s.mu.msgs, s.mu.fns = nil, nil, nil
	s.mu.Unlock()

	// Queued functions mark the groups they touch dirty; nothing here is
	// O(all groups): ticks go to active (not quiesced) groups only.
	for _, fn := range fns {
		fn()
	}
	var now time.Time
	if len(msgs) > 0 || tick {
		now = time.Now()
	}
	for _, m := range msgs {
		s.q.heard[m.Msg.GetFrom()] = now
		if m.GroupID == pingGroupID {
			continue
		}
		if g, ok := s.groups[m.GroupID]; ok {
			s.stepMessage(g, m.Msg) // quiesce.go
			s.dirty[g.id] = g
		}
	}
	if len(s.held) > 0 {
		props = append(s.held, props...)
		s.held = nil
	}
	for _, p := range props {
		s.propose(p)
	}
	if tick {
		s.tickGroups(now) // quiesce.go
	}

	// Only groups touched in this iteration (or left with a Ready by the
	// last Advance) can have a Ready.
	var work []*groupReady
	for id, g := range s.dirty {
		delete(s.dirty, id)
		if g.rn.HasReady() {
			work = append(work, &groupReady{g: g, rd: g.rn.Ready()})
		}
	}
	if len(work) == 0 {
		// Held proposals wait for an election that ends in a later Ready.
		s.finishQuiesceChecks()
		s.sendOut(nil)
		return false
	}

	wb := s.db.NewBatch() // not indexed: nothing reads its own writes here, and indexing costs a skiplist insert per key
	defer wb.Close()
	for _, w := range work {
		s.persistReady(wb, w)
	}
	s.applying = true // raft may ask for a snapshot in ApplyConfChange: not now (snapstream.go)
	for _, w := range work {
		s.applyCommitted(wb, w)
	}
	s.applying = false
	// Only new entries and term/vote changes must be on disk before we send
	// or ack (Ready.MustSync). Applied state and the commit index are
	// rebuilt identically from the synced log after a crash, so an
	// iteration that only applies skips the fsync: a single proposer then
	// waits for one fsync, not two.
	needSync := false
	for _, w := range work {
		needSync = needSync || w.rd.MustSync
	}
	if !wb.Empty() {
		start := time.Now()
		if needSync {
			s.commitSynced(wb, "commit raft batch")
			if s.cfg.OnFsync != nil && !s.cfg.NoSync {
				s.cfg.OnFsync(time.Since(start))
			}
		} else if err := wb.Commit(pebble.NoSync); err != nil {
			// The engine failed: the same end as a failed fsync, since
			// the raft state in memory is ahead of the disk.
			s.diskFailed("commit raft batch", err)
		}
	}

	// Persisted: now send. Messages of all groups go out in one call so the
	// transport can frame those to the same node together.
	var out []GroupMessage
	for _, w := range work {
		for _, m := range w.rd.Messages {
			if keepOutgoing(m) {
				out = append(out, GroupMessage{GroupID: w.g.id, Msg: m})
			}
		}
	}
	out = s.sendSnapshots(out) // snapstream.go: streamed beside the raft lane
	s.sendOut(out)

	// What was applied is committed to the engine: let the state machines
	// publish it to readers before any proposer or ReadIndex waiter wakes,
	// so a read that follows an acknowledged write (or a barrier) sees it.
	// Notifying after the waiters let a client's SELECT right after its
	// INSERT miss the rows, and a linearizable read miss acknowledged
	// events.
	for _, w := range work {
		if w.synced {
			if dn, ok := w.g.sm.(DurableNotifier); ok {
				dn.Durable()
			}
		}
	}

	// Publish status before waking waiters, so that a caller that returns
	// from Propose or ReadIndex sees its applied index in Status.
	for _, w := range work {
		s.publishStatus(w.g)
	}

	// Notify waiters.
	for _, w := range work {
		for _, ap := range w.applied {
			// Count before waking: a proposer that returns must find its
			// commit already counted.
			if s.cfg.OnCommit != nil {
				s.cfg.OnCommit(w.g.id, time.Since(ap.p.start))
			}
			ap.p.done <- result{val: ap.val}
		}
		s.completeReads(w.g)
		s.maybeNotifyLeader(w.g)
	}

	more := false
	for _, w := range work {
		w.g.rn.Advance(w.rd)
		if w.g.rn.HasReady() {
			s.dirty[w.g.id] = w.g
			more = true
		}
	}
	s.finishQuiesceChecks()
	return more || len(s.q.out) > 0
}

// sendOut sends out and the messages built outside a Ready (quiesce.go)
// in one Transport.Send.
func (s *Store) sendOut(out []GroupMessage) {
	out = append(out, s.q.out...)
	clear(s.q.out)
	s.q.out = s.q.out[:0]
	if len(out) > 0 && s.cfg.Transport != nil {
		s.cfg.Transport.Send(out)
	}
}

// propose hands a local proposal to its group's raft.
func (s *Store) propose(p *proposal) {
	g, ok := s.groups[p.gid]
	if !ok {
		p.done <- result{err: fmt.Errorf("group %d: %w", p.gid, ErrGroupNotFound)}
		return
	}
	switch g.rn.BasicStatus().RaftState {
	case raft.StateLeader:
	case raft.StatePreCandidate, raft.StateCandidate:
		// An election is under way (e.g. a group that just started): hold
		// the proposal until it is decided rather than fail it, but not
		// longer than an election timeout, so a replica cut off from its
		// peers (which keeps pre-campaigning) sends callers elsewhere.
		if time.Since(p.start) < time.Duration(s.cfg.ElectionTicks)*s.cfg.TickInterval && p.ctx.Err() == nil {
			s.held = append(s.held, p)
			return
		}
		p.done <- result{err: fmt.Errorf("group %d: %w", p.gid, ErrNotLeader)}
		return
	default:
		p.done <- result{err: fmt.Errorf("group %d: %w", p.gid, ErrNotLeader)}
		return
	}
	s.wakeGroup(g, 0)
	var err error
	if p.cc != nil {
		err = g.rn.ProposeConfChange(p.cc)
	} else {
		err = g.rn.Propose(p.data)
	}
	s.dirty[g.id] = g
	if err != nil {
		p.done <- result{err: fmt.Errorf("group %d: %w: %v", p.gid, ErrProposalDropped, err)}
		return
	}
	g.pending[p.seq] = p
}

// persistReady writes the Ready's snapshot, entries and hard state.
func (s *Store) persistReady(wb *pebble.Batch, w *groupReady) {
	g, rd, gid := w.g, &w.rd, w.g.id
	if !raft.IsEmptySnap(rd.Snapshot) {
		s.applySnapshot(g, rd)
	}
	if n := len(rd.Entries); n > 0 {
		last := rd.Entries[n-1].GetIndex()
		for _, e := range rd.Entries {
			var err error
			s.scratch, err = proto.MarshalOptions{}.MarshalAppend(s.scratch[:0], e)
			if err != nil {
				panic(fmt.Sprintf("raftstore: marshal entry: %v", err))
			}
			_ = wb.Set(logKey(gid, e.GetIndex()), s.scratch, nil)
			if len(g.pending) > 0 && e.GetType() == pb.EntryNormal {
				if seq, local, _, ok := s.parseHeader(e.GetData()); ok && local {
					if p := g.pending[seq]; p != nil {
						p.index = e.GetIndex()
					}
				}
			}
		}
		if g.st.lastIdx > last {
			// A new leader replaced our tail: entries after the new ones go.
			_ = wb.DeleteRange(logKey(gid, last+1), logKey(gid, g.st.lastIdx+1), nil)
		}
		g.st.append(rd.Entries)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		hs, err := proto.Marshal(rd.HardState)
		if err != nil {
			panic(fmt.Sprintf("raftstore: marshal hard state: %v", err))
		}
		_ = wb.Set(raftStateKey(gid, suffixHardState), hs, nil)
		g.st.hard = proto.Clone(rd.HardState).(*pb.HardState)
	}
	if ss := rd.SoftState; ss != nil {
		// An election this replica started: it became a candidate, or a
		// leader straight from (pre-)follower when it won within one
		// step (a sole voter) and the Ready never showed the candidate.
		rs, prev := ss.RaftState, g.raftState
		started := rs == raft.StateCandidate && prev != raft.StateCandidate ||
			rs == raft.StateLeader && prev != raft.StateCandidate && prev != raft.StateLeader
		if started && s.cfg.OnElection != nil {
			s.cfg.OnElection(gid)
		}
		g.raftState = rs
	}
	if rd.SoftState != nil && rd.SoftState.Lead != g.lead {
		g.lead = rd.SoftState.Lead
		if s.cfg.OnLeaderChange != nil {
			s.cfg.OnLeaderChange(gid, g.lead)
		}
		// Read requests raft may have dropped with the old leader fail
		// fast; the caller retries.
		s.failUnknownReads(g)
	}
	for _, rs := range rd.ReadStates {
		for _, r := range g.reads {
			if !r.known && string(r.rctx) == string(rs.RequestCtx) {
				r.index, r.known = rs.Index, true
			}
		}
	}
}

// applySnapshot installs a received snapshot: its staged SSTs and the new
// raft state in one atomic ingest (snapstream.go), then reloads the state
// machine, so that the committed entries that follow in this Ready apply
// on top of it.
func (s *Store) applySnapshot(g *group, rd *raft.Ready) {
	gid, meta := g.id, rd.Snapshot.GetMetadata()
	if f, ok := g.sm.(SnapshotFlusher); ok {
		// Let no write-out of the old tail land after the new range.
		if err := f.FlushBeforeSnapshot(); err != nil {
			s.log.Warn("raftstore: write out before installing a snapshot", "group", gid, "err", err)
		}
	}
	// The hard state must not lag the snapshot on disk (commit >= index).
	hard := g.st.hard
	if !raft.IsEmptyHardState(rd.HardState) {
		hard = rd.HardState
	}
	if err := s.ingestSnapshot(gid, rd.Snapshot, hard); err != nil {
		// Step checked the chunks are staged, so this is an engine failure.
		s.diskFailed(fmt.Sprintf("group %d: ingest snapshot", gid), err)
	}
	g.st.restore(meta)
	g.st.hard = proto.Clone(hard).(*pb.HardState)
	if err := g.sm.Load(s.db); err != nil {
		panic(fmt.Sprintf("raftstore: group %d: load state machine after snapshot: %v", gid, err))
	}
	// Local proposals at or below the snapshot can no longer be matched.
	s.sweepDropped(g)
}

// applyCommitted applies the Ready's committed entries into wb, with the
// new applied index, and truncates the log when it grew too long.
func (s *Store) applyCommitted(wb *pebble.Batch, w *groupReady) {
	g, ents := w.g, w.rd.CommittedEntries
	if len(ents) == 0 {
		return
	}
	if k := s.cfg.TestingKnobs.BeforeApply; k != nil {
		k(g.id, ents)
	}
	gid, before := g.id, g.st.applied
	for _, e := range ents {
		idx := e.GetIndex()
		if idx <= g.st.applied {
			continue // covered by a snapshot
		}
		switch e.GetType() {
		case pb.EntryNormal:
			if seq, local, cmd, ok := s.parseHeader(e.GetData()); ok {
				val := g.sm.Apply(wb, idx, cmd)
				w.synced = true
				if local {
					if p := g.pending[seq]; p != nil {
						delete(g.pending, seq)
						w.applied = append(w.applied, appliedProp{p: p, val: val})
					}
				}
			}
		case pb.EntryConfChange, pb.EntryConfChangeV2:
			s.applyConfChange(wb, w, e)
		}
		g.st.applied, g.st.appliedT = idx, e.GetTerm()
		g.logBytes += len(e.GetData())
	}
	if g.st.applied == before {
		return
	}
	_ = wb.Set(raftStateKey(gid, suffixApplied), encodeIndexTerm(g.st.applied, g.st.appliedT), nil)
	s.sweepDropped(g)
	g.st.trimApplied()
	if g.st.applied-g.st.truncIdx > s.cfg.MaxLogEntries || g.logBytes > s.cfg.MaxLogBytes || retainerMoved(g) {
		g.logBytes = 0 // held back or not, try again after as many bytes
		if idx, term, ok := s.truncationPoint(g); ok && idx > g.st.truncIdx {
			_ = wb.DeleteRange(logKey(gid, 0), logKey(gid, idx+1), nil)
			_ = wb.Set(raftStateKey(gid, suffixTruncated), encodeIndexTerm(idx, term), nil)
			g.st.compact(idx, term)
		}
	}
}

// truncationPoint is where a group's log may be cut: the applied index,
// held back on a leader to what its followers have (so a follower that
// was down for a moment, or is restarting, catches up from the log rather
// than by a snapshot), but never keeping more than MaxRetainEntries; a
// follower further behind gets a snapshot.
func (s *Store) truncationPoint(g *group) (index, term uint64, ok bool) {
	index, term = g.st.applied, g.st.appliedT
	if g.rn.BasicStatus().RaftState == raft.StateLeader {
		floor := uint64(0)
		if index > s.cfg.MaxRetainEntries {
			floor = index - s.cfg.MaxRetainEntries
		}
		self := s.cfg.NodeID
		for id, pr := range g.rn.Status().Progress {
			if id != self && pr.Match < index {
				index = max(pr.Match, floor)
			}
		}
	}
	// A state machine whose applied state is partly in memory keeps the
	// log it would rebuild it from (writeonce.go).
	index = logRetainFloor(g.sm, index)
	if index == g.st.applied {
		return index, term, true
	}
	if index <= g.st.truncIdx {
		return 0, 0, false
	}
	t, err := g.st.Term(index)
	if err != nil {
		return 0, 0, false
	}
	return index, t, true
}

func (s *Store) applyConfChange(wb *pebble.Batch, w *groupReady, e *pb.Entry) {
	g := w.g
	var cc pb.ConfChangeI
	if e.GetType() == pb.EntryConfChange {
		var c pb.ConfChange
		if err := proto.Unmarshal(e.GetData(), &c); err != nil {
			s.log.Error("raftstore: undecodable conf change; ignored", "group", g.id, "index", e.GetIndex(), "err", err)
			c = pb.ConfChange{}
		}
		cc = &c
	} else {
		var c pb.ConfChangeV2
		if err := proto.Unmarshal(e.GetData(), &c); err != nil {
			s.log.Error("raftstore: undecodable conf change; ignored", "group", g.id, "index", e.GetIndex(), "err", err)
			c = pb.ConfChangeV2{}
		}
		cc = &c
		if seq, local, _, ok := s.parseHeader(c.GetContext()); ok && local {
			if p := g.pending[seq]; p != nil {
				delete(g.pending, seq)
				w.applied = append(w.applied, appliedProp{p: p})
			}
		}
	}
	cs := g.rn.ApplyConfChange(cc)
	b, err := proto.Marshal(cs)
	if err != nil {
		panic(fmt.Sprintf("raftstore: marshal conf state: %v", err))
	}
	_ = wb.Set(raftStateKey(g.id, suffixConfState), b, nil)
	g.st.conf = cs
	w.synced = true
}

// sweepDropped fails local proposals whose index is applied without them:
// a new leader replaced their entry.
func (s *Store) sweepDropped(g *group) {
	for seq, p := range g.pending {
		if p.index != 0 && p.index <= g.st.applied {
			delete(g.pending, seq)
			p.done <- result{err: fmt.Errorf("group %d: %w", g.id, ErrProposalDropped)}
		}
	}
}

// completeReads finishes read requests whose index is applied.
func (s *Store) completeReads(g *group) {
	if len(g.reads) == 0 {
		return
	}
	keep := g.reads[:0]
	for _, r := range g.reads {
		if r.known && r.index <= g.st.applied {
			r.done <- nil
			continue
		}
		keep = append(keep, r)
	}
	clear(g.reads[len(keep):])
	g.reads = keep
}

// failUnknownReads fails reads that have no read index yet (raft may have
// dropped them with a leader change).
func (s *Store) failUnknownReads(g *group) {
	keep := g.reads[:0]
	for _, r := range g.reads {
		if !r.known {
			r.done <- fmt.Errorf("group %d: %w", g.id, ErrNotLeader)
			continue
		}
		keep = append(keep, r)
	}
	clear(g.reads[len(keep):])
	g.reads = keep
}

// pruneReads forgets reads whose caller gave up.
func (s *Store) pruneReads(g *group) {
	keep := g.reads[:0]
	for _, r := range g.reads {
		if r.ctx.Err() != nil {
			continue
		}
		keep = append(keep, r)
	}
	clear(g.reads[len(keep):])
	g.reads = keep
}

// maybeNotifyLeader tells a LeaderWatcher about leadership. Leadership is
// reported only once the leader has applied an entry of its own term, so
// every entry committed before its term is applied too: a leader-side task
// (view task) that starts then reads up-to-date state. Losing leadership
// (or a new term) is reported at once.
func (s *Store) maybeNotifyLeader(g *group) {
	lw, _ := g.sm.(LeaderWatcher)
	if lw == nil && s.cfg.OnLeader == nil {
		return
	}
	bs := g.rn.BasicStatus()
	raftLeader, term := bs.RaftState == raft.StateLeader, bs.GetTerm()
	if g.isLeader && (!raftLeader || g.leaderTerm != term) {
		g.isLeader = false
		if lw != nil {
			lw.LeaderChanged(false, term)
		}
	}
	if !g.isLeader && raftLeader && g.st.appliedT == term {
		g.isLeader, g.leaderTerm = true, term
		if lw != nil {
			lw.LeaderChanged(true, term)
		}
		if s.cfg.OnLeader != nil {
			s.cfg.OnLeader(g.id, term)
		}
	}
}
