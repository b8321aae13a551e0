package router

import "context"

// Propose proposes a command that carries its own id (a stream append
// with its batch id, a view shard's restore, a table write) to group
// gid through its leader, retrying across leader changes like an
// insert; it returns the reply's End. RESTORE loads groups through it.
func (rt *Router) Propose(ctx context.Context, gid uint64, cmd []byte) (uint64, error) {
	return rt.proposeShard(ctx, gid, cmd)
}
