package raftstore

import (
	"fmt"
	"slices"

	"go.etcd.io/raft/v3"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// ClearTombstone forgets that group gid was destroyed on this store, so
// that a replica can be added here again: after it, StartGroup(gid, sm, nil)
// starts an empty replica that waits for the leader's snapshot. It is an
// error if the group is running here. Clearing a group that has no
// tombstone does nothing.
func (s *Store) ClearTombstone(gid uint64) error {
	var err error
	// In the loop, so that no StartGroup or DestroyGroup runs in between.
	if rerr := s.runInLoop(func() {
		if _, ok := s.groups[gid]; ok {
			err = fmt.Errorf("raftstore: group %d is running on this node; only the tombstone of a destroyed group can be cleared", gid)
			return
		}
		b := s.db.NewBatch()
		defer b.Close()
		_ = b.Delete(tombstoneKey(gid), nil)
		s.commitSynced(b, fmt.Sprintf("group %d: clear tombstone", gid))
	}); rerr != nil {
		return rerr
	}
	return err
}

// ForcedRecovery describes a replica as ForceSoleVoter found it: what
// survived of the group. Index and term fields are the persisted ones.
type ForcedRecovery struct {
	Applied   uint64 // applied index: the state machine holds everything up to it
	Commit    uint64 // commit index known to this replica
	LastIndex uint64 // last log entry; entries after Commit become committed
	Term      uint64 // term before the recovery's election
	// OldVoters are the voters before the change (incoming and outgoing
	// ones of a joint config), OldLearners the learners (and learners-next).
	OldVoters   []uint64
	OldLearners []uint64
}

// ForceSoleVoter is UNSAFE recovery for a group that lost a majority of
// its replicas for good: it makes this replica the group's only voter and
// leader. Use it only when the other replicas can never come back (their
// nodes are gone or their replicas destroyed): one that does could elect
// itself in the old configuration and the group would split.
//
// The replica keeps its log, hard state and applied state; its conf state
// becomes voters={this node}, no learners, no joint config, persisted with
// a sync before the group's RawNode is restarted in place with the same
// StateMachine (the group stays running). The replica campaigns at once
// (bumping the term) and, as the sole voter, commits its whole log:
// entries past the old commit index, which the lost majority may or may
// not have had, become committed and are applied. Conf changes among the
// unapplied entries are turned into empty entries, since they refer to the
// lost configuration (applying one, e.g. leaving a joint config that is no
// longer there, would fail).
//
// Local proposals whose entry is in the persisted log complete normally
// when it is applied; other waiting proposals fail with ErrProposalDropped
// and waiting reads with ErrNotLeader.
//
// It returns what survived. It is an error if the group is not running
// here or if this replica never received any state.
func (s *Store) ForceSoleVoter(gid uint64) (ForcedRecovery, error) {
	var (
		rec ForcedRecovery
		err error
	)
	if rerr := s.runInLoop(func() { rec, err = s.forceSoleVoterInLoop(gid) }); rerr != nil {
		return ForcedRecovery{}, rerr
	}
	return rec, err
}

func (s *Store) forceSoleVoterInLoop(gid uint64) (ForcedRecovery, error) {
	g, ok := s.groups[gid]
	if !ok {
		return ForcedRecovery{}, fmt.Errorf("group %d: %w", gid, ErrGroupNotFound)
	}
	// Loop functions run between iterations, so the engine holds exactly
	// what g.st describes (entries raft has not handed out in a Ready yet
	// were never persisted nor sent, and are dropped with the old RawNode).
	st := g.st
	if st.applied == 0 {
		return ForcedRecovery{}, fmt.Errorf("raftstore: group %d: this replica never received the group's state; it cannot be recovered from", gid)
	}
	conf := st.conf
	rec := ForcedRecovery{
		Applied:     st.applied,
		Commit:      st.hard.GetCommit(),
		LastIndex:   st.lastIdx,
		Term:        st.hard.GetTerm(),
		OldVoters:   sortedUnion(conf.GetVoters(), conf.GetVotersOutgoing()),
		OldLearners: sortedUnion(conf.GetLearners(), conf.GetLearnersNext()),
	}

	b := s.db.NewBatch()
	defer b.Close()
	cs, err := proto.Marshal(&pb.ConfState{Voters: []uint64{s.cfg.NodeID}})
	if err != nil {
		return ForcedRecovery{}, err
	}
	_ = b.Set(raftStateKey(gid, suffixConfState), cs, nil)
	if st.lastIdx > st.applied {
		ents, err := st.Entries(st.applied+1, st.lastIdx+1, ^uint64(0))
		if err != nil {
			return ForcedRecovery{}, fmt.Errorf("raftstore: group %d: read log tail: %w", gid, err)
		}
		for _, e := range ents {
			if t := e.GetType(); t != pb.EntryConfChange && t != pb.EntryConfChangeV2 {
				continue
			}
			// Same index and term, so the log stays a valid raft log.
			noop, err := proto.Marshal(&pb.Entry{Index: new(e.GetIndex()), Term: new(e.GetTerm()), Type: pb.EntryNormal.Enum()})
			if err != nil {
				return ForcedRecovery{}, err
			}
			_ = b.Set(logKey(gid, e.GetIndex()), noop, nil)
		}
	}
	s.commitSynced(b, fmt.Sprintf("group %d: persist forced conf state", gid))

	gs, ok, err := loadGroupStorage(s.db, gid)
	if err != nil || !ok {
		return ForcedRecovery{}, fmt.Errorf("raftstore: group %d: reload raft state (found %v): %v", gid, ok, err)
	}
	s.hookStorage(gs, g.sm)
	rn, err := raft.NewRawNode(s.raftConfig(gid, gs))
	if err != nil {
		// The conf state on disk is the forced one; a restart starts from it.
		return ForcedRecovery{}, fmt.Errorf("raftstore: group %d: restart raft: %w", gid, err)
	}
	// Local proposals whose entry is in the persisted log will be committed
	// and applied by the new RawNode and complete then, as usual (failing
	// them would tell the caller "not applied", which would be false). The
	// others (not yet in a Ready, so never persisted, or conf changes, which
	// were just blanked) are gone with the old RawNode. Held proposals never
	// reached raft: they go to the new leader.
	for seq, p := range g.pending {
		if p.cc == nil && p.index != 0 && p.index <= gs.lastIdx {
			continue
		}
		delete(g.pending, seq)
		p.done <- result{err: fmt.Errorf("group %d: %w", gid, ErrProposalDropped)}
	}
	// Reads wait for a read index from the old RawNode, which is gone.
	for _, r := range g.reads {
		r.done <- fmt.Errorf("group %d: %w", gid, ErrNotLeader)
	}
	g.reads = nil
	// The state machine already holds everything applied (the engine and
	// its memory agree between iterations), so it is not reloaded.
	// isLeader/leaderTerm stay: the new term makes maybeNotifyLeader report
	// the loss of the old leadership, if any, and then the new one.
	s.wakeGroup(g, g.qLead) // the old RawNode's quiescence means nothing to the new one
	g.rn, g.st, g.lead = rn, gs, 0
	_ = rn.Campaign()
	s.dirty[gid] = g
	s.publishStatus(g)
	s.log.Warn("raftstore: group forced to a sole voter (unsafe recovery)", "group", gid, "node", s.cfg.NodeID,
		"applied", rec.Applied, "commit", rec.Commit, "last_index", rec.LastIndex, "term", rec.Term,
		"old_voters", rec.OldVoters, "old_learners", rec.OldLearners)
	return rec, nil
}

// sortedUnion returns the sorted distinct ids of a and b.
func sortedUnion(a, b []uint64) []uint64 {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}
