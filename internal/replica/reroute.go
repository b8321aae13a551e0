package replica

import (
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/streamsm"
)

// rerouteReply answers a park or fence proposal (on_shard_unavailable =
// 'reroute', router/reroute.go): a fence's answer travels in End.
func rerouteReply(res any) *rpc.AppendReply {
	if f, ok := res.(streamsm.FenceResult); ok {
		if f.Had {
			return &rpc.AppendReply{End: rpc.FenceHad}
		}
		return &rpc.AppendReply{End: rpc.FenceFenced}
	}
	return &rpc.AppendReply{}
}

// rerouteStatus is a stream shard's reroute counters for
// cairn_cluster.shards; nil when no part was ever rerouted into it.
func rerouteStatus(sm *streamsm.SM) *rpc.RerouteStatus {
	st, pending := sm.RerouteStats()
	if st.InBatches == 0 && pending == 0 {
		return nil
	}
	return &rpc.RerouteStatus{InBatches: st.InBatches, InEvents: st.InEvents, Released: st.Released,
		Dropped: st.Dropped, Pending: pending, From: st.From}
}
