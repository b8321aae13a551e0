package node

import (
	"time"

	"github.com/cairndb/cairn/internal/catalog"
)

// HandOffLeadership is the first step of a graceful stop (SIGTERM): every
// group this node leads, the meta group included, hands its leadership to
// its most caught-up voter, and the call waits until the node leads
// nothing or wait has passed. Writes then move in the time of a transfer
// (a round trip and an election the target starts at once) instead of the
// followers' election timeout after the node is gone. It returns how many
// groups still had their leader here when it gave up. A node alone in a
// group keeps it (there is no one to hand it to).
func (n *Node) HandOffLeadership(wait time.Duration) int {
	if n.store == nil || n.replicas == nil {
		return 0
	}
	led := func() []uint64 {
		ids := n.replicas.Led()
		if st, ok := n.store.Status(catalog.MetaGroupID); ok && st.IsLeader {
			ids = append(ids, catalog.MetaGroupID)
		}
		var out []uint64
		for _, gid := range ids {
			if st, ok := n.store.Status(gid); ok && handOffTarget(st.Voters, st.Match, n.id.RaftID) != 0 {
				out = append(out, gid)
			}
		}
		return out
	}
	start := time.Now()
	deadline := start.Add(wait)
	asked := map[uint64]time.Time{}
	for {
		gids := led()
		if len(gids) == 0 || time.Now().After(deadline) {
			if len(gids) > 0 {
				n.log.Warn("stopping while still leading groups: their followers elect after the election timeout", "groups", len(gids))
			} else if len(asked) > 0 {
				n.log.Info("handed off leadership before stopping", "groups", len(asked), "took", time.Since(start).Round(time.Millisecond))
			}
			return len(gids)
		}
		for _, gid := range gids {
			// Ask again if a transfer did not complete within an
			// election timeout (raft abandons it then).
			if at, ok := asked[gid]; ok && time.Since(at) < n.timing.RaftElection {
				continue
			}
			st, _ := n.store.Status(gid)
			if to := handOffTarget(st.Voters, st.Match, n.id.RaftID); to != 0 {
				_ = n.store.TransferLeader(gid, to) // not leading any more: the next look drops it
				asked[gid] = time.Now()
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// handOffTarget is the voter other than self with the highest match index
// (the one that can take over soonest), 0 when there is none.
func handOffTarget(voters []uint64, match map[uint64]uint64, self uint64) uint64 {
	var best, bestMatch uint64
	for _, v := range voters {
		if v == self {
			continue
		}
		if m := match[v]; best == 0 || m > bestMatch {
			best, bestMatch = v, m
		}
	}
	return best
}
