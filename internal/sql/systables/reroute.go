package systables

import (
	"fmt"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/rpc"
)

// reroutedText is cairn_cluster.shards' rerouted column for every shard
// of a stream with on_shard_unavailable = 'reroute' (issue 15): the
// batch parts (and their events) rerouted away from the shard and into
// it, and of those taken in, how many still wait for their origin
// shard's answer (pending) and how many it had after all (dropped).
// Each shard's counters come from its most advanced replica that
// answered; a shard no replica reported counts nothing.
func reroutedText(cat *catalog.Catalog, states map[uint64]map[uint64]rpc.ReplicaStatus) map[uint64]string {
	type best struct {
		applied uint64
		rs      *rpc.RerouteStatus
	}
	counters := map[uint64]best{}
	for _, groups := range states {
		for gid, st := range groups {
			if b, ok := counters[gid]; !ok || st.Applied > b.applied {
				counters[gid] = best{st.Applied, st.Reroute}
			}
		}
	}
	out := map[uint64]string{}
	for _, s := range cat.Streams {
		if s.OnShardUnavailable != catalog.Reroute {
			continue
		}
		for _, gid := range s.Groups {
			var away [2]uint64
			for _, other := range s.Groups {
				if rs := counters[other].rs; rs != nil {
					away[0] += rs.From[gid][0]
					away[1] += rs.From[gid][1]
				}
			}
			in := rpc.RerouteStatus{}
			if rs := counters[gid].rs; rs != nil {
				in = *rs
			}
			out[gid] = fmt.Sprintf("away %d/%d, in %d/%d, pending %d, dropped %d",
				away[0], away[1], in.InBatches, in.InEvents, in.Pending, in.Dropped)
		}
	}
	return out
}
