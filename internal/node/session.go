package node

import (
	"context"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/router"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/session"
	"github.com/cairndb/cairn/internal/sql/systables"
	"github.com/cairndb/cairn/internal/types"
)

// ServerVersion is the PostgreSQL version Cairn speaks (session.ServerVersion).
const ServerVersion = session.ServerVersion

// NewSession implements pgwire.Handler.
func (n *Node) NewSession(ctx context.Context, params map[string]string) (pgwire.Session, error) {
	user := params["user"]
	if user == "" {
		user = "cairn"
	}
	if cat := n.meta.Catalog(); cat.Removed[n.id.RaftID] {
		return nil, pgerr.NodeGone.New(n.cfg.NodeID)
	}
	if me := n.meta.Catalog().NodeByID(n.id.RaftID); me != nil && (me.State == catalog.NodeDraining || me.State == catalog.NodeOffline || me.State == catalog.NodeDecommissioned) {
		return nil, pgerr.NodeNoSessions.New(n.cfg.NodeID, me.State, n.cfg.NodeID)
	}
	s, err := session.NewChecked(sessionBackend{n}, user, params)
	if a := pgwire.PeerAddr(ctx); a != nil {
		s.SetSource(a.String()) // for its audit events
	}
	return s, err
}

// sessionBackend is the node as a SQL session sees it (session.Backend).
type sessionBackend struct{ n *Node }

func (b sessionBackend) NodeName() string          { return b.n.cfg.NodeID }
func (b sessionBackend) RaftID() uint64            { return b.n.id.RaftID }
func (b sessionBackend) Version() string           { return Version }
func (b sessionBackend) Catalog() *catalog.Catalog { return b.n.meta.Catalog() }
func (b sessionBackend) PokeOps()                  { b.n.ops.Poke() }
func (b sessionBackend) Reconcile()                { b.n.poke() }

func (b sessionBackend) Propose(ctx context.Context, c catalog.Command) (*catalog.Result, error) {
	return b.n.proposeMeta(ctx, c)
}

func (b sessionBackend) CreateOp(ctx context.Context, o *catalog.Operation) (*catalog.Operation, error) {
	return b.n.ops.Create(ctx, o)
}

func (b sessionBackend) Liveness(nd *catalog.Node) string { return b.n.liveness(nd) }

func (b sessionBackend) MetaVoters() []uint64 {
	if st, ok := b.n.store.Status(catalog.MetaGroupID); ok {
		return st.Voters
	}
	return nil
}

func (b sessionBackend) Place(shards, replicas int) ([][]uint64, error) {
	return b.n.place(shards, replicas)
}

func (b sessionBackend) WaitGroups(ctx context.Context, groups []uint64) error {
	return b.n.waitGroups(ctx, groups)
}

func (b sessionBackend) StreamEnd(ctx context.Context, st *catalog.Stream, shard int) (uint64, error) {
	return b.n.router.StreamEnd(ctx, st, shard)
}

func (b sessionBackend) WaitViewsCover(ctx context.Context, vs []*catalog.View, ends []uint64) error {
	return b.n.router.WaitViewsCover(ctx, vs, ends)
}

func (b sessionBackend) CheckBatch(stream string, batch *types.Batch) error {
	return b.n.router.CheckBatch(stream, batch)
}

func (b sessionBackend) Insert(ctx context.Context, stream string, batch *types.Batch, o session.InsertOptions) error {
	if o.SyncViews {
		ctx = router.WithoutReroute(ctx) // sync_commit waits for every shard
	}
	res, err := b.n.router.InsertTo(ctx, stream, batch, o.Targets)
	if err != nil || !o.SyncViews {
		return err
	}
	return b.n.router.WaitViews(ctx, res)
}

func (b sessionBackend) ViewOffsets(ctx context.Context, v *catalog.View) [][]uint64 {
	return viewOffsets(ctx, b.n, v)
}

// viewOffsets are the offsets each shard of v folded up to, from a
// replica here or on another node.
func viewOffsets(ctx context.Context, n *Node, v *catalog.View) [][]uint64 {
	if v.Sched != nil {
		// A paused owner must not hold up cairn_cluster.views: ask it
		// for as long as a shard's status (unknown progress otherwise).
		cctx, cancel := context.WithTimeout(ctx, n.timing.StatusCallTimeout)
		defer cancel()
		return [][]uint64{n.router.SchedOffsets(cctx, v)}
	}
	out := make([][]uint64, len(v.Groups))
	for i, gid := range v.Groups {
		out[i] = n.router.ViewOffsets(ctx, gid)
	}
	return out
}

func (b sessionBackend) StreamSource(st *catalog.Stream, r session.ReadPolicy) exec.Source {
	return b.n.router.StreamSource(st, r.Linearizable, r.Skip)
}

func (b sessionBackend) ViewSource(v *catalog.View, r session.ReadPolicy) exec.Source {
	return b.n.router.ViewSource(v, r.Linearizable, r.Skip, r.Notice)
}

func (b sessionBackend) SystemTable(name string) (exec.Source, bool, error) {
	st := clusterStatus(b)
	switch name {
	case "shards":
		return systables.Shards(b.n.ctx, st), true, nil
	case "nodes":
		return systables.Nodes(st), true, nil
	case "streams":
		return systables.Streams(st.Catalog()), true, nil
	case "tables":
		return systables.Tables(st.Catalog()), true, nil
	case "views":
		return systables.Views(b.n.ctx, st), true, nil
	case systables.AuditLogTable:
		return systables.AuditLog(st.Catalog()), true, nil
	case "compute_load": // issue 13; the owners' lag: clusterStatus.ScheduledLag (schedplace.go)
		return systables.ComputeLoad(b.n.ctx, st), true, nil
	case "leader_terms":
		t, err := systables.LeaderTerms(st)
		return t, true, err
	case systables.HealthTable: // issue 15 (alerts.go)
		return systables.Health(st), true, nil
	case systables.QuorumTable:
		return systables.Quorum(st), true, nil
	}
	return nil, false, nil
}

// Audit implements session.Auditor.
func (b sessionBackend) Audit(ctx context.Context, ev catalog.AuditEvent) { b.n.Audit(ctx, ev) }

func (b sessionBackend) ForceRecover(ctx context.Context, gid uint64, confirm bool, w pgwire.ResultWriter) ([]types.Datum, error) {
	return b.n.forceRecover(ctx, gid, confirm, w)
}
