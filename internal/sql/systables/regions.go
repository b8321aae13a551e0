package systables

import "github.com/cairndb/cairn/internal/rpc"

// learnerLag is how many entries a learner of gid is behind its
// leader's commit index, when this node heard from the leader (else
// behind the commit index the learner knows).
func learnerLag(states map[uint64]map[uint64]rpc.ReplicaStatus, gid uint64, st rpc.ReplicaStatus) int64 {
	for _, byGroup := range states {
		if l, ok := byGroup[gid]; ok && l.Role == "leader" {
			return max(int64(l.Commit)-int64(st.Applied), 0)
		}
	}
	return int64(st.Commit) - int64(st.Applied)
}
