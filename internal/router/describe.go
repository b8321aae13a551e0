package router

import (
	"fmt"
	"strings"
)

// EXPLAIN support (issue 11): a stream or view source says which shards
// a scan reads, who leads them (as this node last heard from Raft; "?"
// when it has not) and how many this node reads from its own replicas
// (the rest are read from a replica on another node).

// Describe implements exec.Describer.
func (s *streamSource) Describe() string { return s.rt.describeGroups(s.st.Groups) }

// Describe implements exec.Describer.
func (s *viewSource) Describe() string { return s.rt.describeGroups(s.v.Groups) }

func (rt *Router) describeGroups(gids []uint64) string {
	cat := rt.meta.Catalog()
	leaders := make([]string, len(gids))
	local := 0
	for i, gid := range gids {
		leaders[i] = "?"
		if st, ok := rt.store.Status(gid); ok && st.Leader != 0 {
			leaders[i] = cat.BareName(st.Leader)
		}
		if rt.replicas.Get(gid) != nil {
			local++
		}
	}
	shards := "shards"
	if len(gids) == 1 {
		shards = "shard"
	}
	return fmt.Sprintf("%d %s, leaders %s; %d of %d read locally on %s", len(gids), shards, strings.Join(leaders, ","), local, len(gids), cat.BareName(rt.self))
}
