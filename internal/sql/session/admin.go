package session

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Admin statements: ALTER NODE, ALTER SHARD, ALTER SYSTEM FAILOVER /
// REBALANCE and CANCEL OPERATION. Each records an operation (or changes
// one) and answers with its row: op_id, op_type, target, status. The
// scheduler on the meta leader does the work; SHOW OPERATIONS follows it.

var opResultCols = []pgwire.Column{{Name: "op_id", T: types.Int8}, {Name: "op_type", T: types.Text}, {Name: "target", T: types.Text}, {Name: "status", T: types.Text}}

func opRow(o *catalog.Operation) []types.Datum {
	return []types.Datum{i8(int64(o.ID)), txt(o.Type), txt(o.Target), txt(o.Status)}
}

// opStmt runs fn when executed and answers with the operations it returns.
func opStmt(tag string, fn func(ctx context.Context, w pgwire.ResultWriter) ([]*catalog.Operation, error)) *prepared {
	return &prepared{cols: opResultCols, run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		ops, err := fn(ctx, w)
		if err != nil {
			return "", err
		}
		for _, o := range ops {
			if err := w.Row(opRow(o)); err != nil {
				return "", err
			}
		}
		return tag, nil
	}}
}

// activeNodeOp returns an unfinished operation of type typ on node name.
func activeNodeOp(cat *catalog.Catalog, typ, name string) *catalog.Operation {
	for _, o := range cat.SortedOps() {
		if o.Active() && o.Type == typ && o.Node == name {
			return o
		}
	}
	return nil
}

func (s *Session) prepareAlterNode(a *parser.AlterNode) (*prepared, error) {
	b := s.b
	nd, err := lookupNode(b.Catalog(), a.Node, a.P)
	if err != nil {
		return nil, err
	}
	name := nd.Name
	if a.Action == parser.ActionSetWeight {
		return s.prepareNodeWeight(name, a.Weight) // weight.go
	}
	setState := func(ctx context.Context, state string) error {
		_, err := b.Propose(ctx, &catalog.SetNodeState{Node: name, State: state})
		return err
	}
	// nodeOp sets the node's state and records a node operation (or
	// returns the one already running).
	nodeOp := func(typ, state string) *prepared {
		return opStmt("ALTER NODE", func(ctx context.Context, _ pgwire.ResultWriter) ([]*catalog.Operation, error) {
			if o := activeNodeOp(b.Catalog(), typ, name); o != nil {
				return []*catalog.Operation{o}, nil
			}
			if err := setState(ctx, state); err != nil {
				return nil, err
			}
			o, err := b.CreateOp(ctx, &catalog.Operation{Type: typ, Target: "node " + name, Node: name, To: nd.ID})
			if err != nil {
				return nil, err
			}
			return []*catalog.Operation{o}, nil
		})
	}
	others := 0
	for _, x := range b.Catalog().SortedNodes() {
		if x.ID != nd.ID && x.Role != "compute" && x.State == "" {
			others++
		}
	}
	switch a.Action {
	case "offline":
		if others == 0 {
			return nil, pgerr.NowhereToMove.New(name, "replicas and leaders").WithPos(a.P)
		}
		return nodeOp(catalog.OpNodeOffline, catalog.NodeOffline), nil
	case "decommission":
		if nd.State == catalog.NodeDecommissioned {
			return nil, pgerr.NodeAlreadyDecommissioned.New(name).
				WithHint("ALTER NODE '%s' REMOVE deletes it from the cluster.", name).WithPos(a.P)
		}
		if others == 0 {
			return nil, pgerr.NowhereToMove.New(name, "replicas").WithPos(a.P)
		}
		return nodeOp(catalog.OpDecommission, catalog.NodeDecommissioning), nil
	case "drain":
		if others == 0 {
			return nil, pgerr.NowhereToMove.New(name, "leaders").WithPos(a.P)
		}
		return nodeOp(catalog.OpDrain, catalog.NodeDraining), nil
	case "recover", "online":
		return opStmt("ALTER NODE", func(ctx context.Context, _ pgwire.ResultWriter) ([]*catalog.Operation, error) {
			cat := b.Catalog()
			// Recovering ends whatever took the node out.
			for _, o := range cat.SortedOps() {
				if o.Active() && o.Node == name && o.Type != catalog.OpNodeRecover {
					cp := *o
					cp.Status, cp.End = catalog.OpCancelled, time.Now().UnixMicro()
					_, _ = b.Propose(ctx, &catalog.UpdateOperation{Cancel: true, Operation: &cp})
				}
			}
			if err := setState(ctx, ""); err != nil {
				return nil, err
			}
			if o := activeNodeOp(b.Catalog(), catalog.OpNodeRecover, name); o != nil {
				return []*catalog.Operation{o}, nil
			}
			o, err := b.CreateOp(ctx, &catalog.Operation{Type: catalog.OpNodeRecover, Target: "node " + name, Node: name, To: nd.ID})
			if err != nil {
				return nil, err
			}
			return []*catalog.Operation{o}, nil
		}), nil
	case "remove":
		return opStmt("ALTER NODE", func(ctx context.Context, _ pgwire.ResultWriter) ([]*catalog.Operation, error) {
			cur := b.Catalog().Nodes[name]
			if cur == nil {
				return nil, pgerr.NodeNotFound.New(name)
			}
			if cur.State != catalog.NodeDecommissioned && b.Liveness(cur) != "dead" {
				return nil, pgerr.NodeNotRemovable.New(name, nodeState(b, cur)).
					WithHint("ALTER NODE '%s' DECOMMISSION moves its replicas off first.", name)
			}
			if slices.Contains(b.MetaVoters(), cur.ID) {
				return nil, pgerr.NodeVotesInMeta.New(name).
					WithHint("Wait until its decommission operation is done (it leaves the meta group last).")
			}
			if _, err := b.Propose(ctx, &catalog.RemoveNode{Node: name}); err != nil {
				return nil, err
			}
			now := time.Now().UnixMicro()
			o, err := b.CreateOp(ctx, &catalog.Operation{Type: catalog.OpRemoveNode, Target: "node " + name, Node: name, Status: catalog.OpDone, Progress: 1, End: now})
			if err != nil {
				return nil, err
			}
			return []*catalog.Operation{o}, nil
		}), nil
	}
	return nil, pgerr.AlterNodeUnsupported.New(a.Action).WithPos(a.P)
}

func (s *Session) prepareAlterShard(a *parser.AlterShard) (*prepared, error) {
	b := s.b
	cat := b.Catalog()
	if a.Shard <= 0 {
		return nil, pgerr.ShardIDNotPositive.New(a.Shard).WithPos(a.P)
	}
	gid := uint64(a.Shard)
	nodes, ok := cat.ShardNodes(gid)
	if gid == catalog.MetaGroupID {
		ok = true
		nodes = b.MetaVoters()
	}
	if !ok {
		return nil, pgerr.ShardNotFound.New(gid).
			WithHint("cairn_cluster.shards lists every shard's group_id.").WithPos(a.P)
	}
	if a.Action == "force_recover" {
		return s.prepareForceRecover(a, gid)
	}
	nd, err := lookupNode(b.Catalog(), a.Node, a.P)
	if err != nil {
		return nil, err
	}
	switch a.Action {
	case "transfer_leader":
		if !slices.Contains(nodes, nd.ID) {
			return nil, pgerr.NodeHoldsNoReplica.New(nd.Name, gid, b.Catalog().NodeNames(nodes)).WithPos(a.P)
		}
		if l := b.Liveness(nd); l != "live" {
			return nil, pgerr.LeaderTargetNotLive.New(nd.Name, l).WithPos(a.P)
		}
		return opStmt("ALTER SHARD", func(ctx context.Context, _ pgwire.ResultWriter) ([]*catalog.Operation, error) {
			o, err := b.CreateOp(ctx, &catalog.Operation{Type: catalog.OpTransferLeader, Target: cat.GroupTarget(gid), Group: gid, To: nd.ID})
			if err != nil {
				return nil, err
			}
			return []*catalog.Operation{o}, nil
		}), nil
	case "recover_replica":
		if gid == catalog.MetaGroupID {
			return nil, pgerr.MetaPlacesItself.New().WithPos(a.P)
		}
		if l := b.Liveness(nd); l != "live" || !nd.Placeable() {
			return nil, pgerr.RecoverTargetNotInService.New(nd.Name, nodeState(b, nd)).WithPos(a.P)
		}
		return opStmt("ALTER SHARD", func(ctx context.Context, _ pgwire.ResultWriter) ([]*catalog.Operation, error) {
			cat := b.Catalog()
			nodes, _ := cat.ShardNodes(gid)
			var from uint64
			if !slices.Contains(nodes, nd.ID) {
				// Replace a replica that cannot serve, if there is one.
				for _, id := range nodes {
					if x := cat.NodeByID(id); x == nil || x.Evacuating() || b.Liveness(x) == "dead" {
						from = id
						break
					}
				}
			}
			o, err := b.CreateOp(ctx, &catalog.Operation{Type: catalog.OpReplaceReplica, Target: cat.GroupTarget(gid), Group: gid, From: from, To: nd.ID})
			if err != nil {
				return nil, err
			}
			return []*catalog.Operation{o}, nil
		}), nil
	}
	return nil, pgerr.AlterShardUnsupported.New(a.Action).WithPos(a.P)
}

func (s *Session) prepareFailover(f *parser.Failover) (*prepared, error) {
	b := s.b
	nd, err := lookupNode(b.Catalog(), f.Node, f.P)
	if err != nil {
		return nil, err
	}
	if nd.Role == "compute" {
		return nil, pgerr.ComputeLeadsNothing.New(nd.Name).WithPos(f.P)
	}
	if l := b.Liveness(nd); l != "live" || !nd.Leadable() {
		return nil, pgerr.LeadersTargetNotInService.New(nd.Name, nodeState(b, nd)).WithPos(f.P)
	}
	return opStmt("ALTER SYSTEM", func(ctx context.Context, _ pgwire.ResultWriter) ([]*catalog.Operation, error) {
		v := nd.Name
		if _, err := b.Propose(ctx, &catalog.SetSetting{Key: "preferred_leader", Value: &v}); err != nil {
			return nil, err
		}
		o, err := b.CreateOp(ctx, &catalog.Operation{Type: catalog.OpFailover, Target: "node " + nd.Name, Node: nd.Name, To: nd.ID})
		if err != nil {
			return nil, err
		}
		return []*catalog.Operation{o}, nil
	}), nil
}

func (s *Session) prepareRebalance(*parser.Rebalance) (*prepared, error) {
	b := s.b
	return opStmt("ALTER SYSTEM", func(ctx context.Context, w pgwire.ResultWriter) ([]*catalog.Operation, error) {
		if v, _ := b.Catalog().Setting("preferred_leader"); v != "" {
			// A rebalance ends a planned failover: leaders spread again.
			if _, err := b.Propose(ctx, &catalog.SetSetting{Key: "preferred_leader"}); err != nil {
				return nil, err
			}
			w.Notice(fmt.Sprintf("preferred_leader (%s) is cleared: leaders spread evenly again", v))
		}
		for _, o := range b.Catalog().SortedOps() {
			if o.Active() && o.Type == catalog.OpRebalance {
				return []*catalog.Operation{o}, nil
			}
		}
		o, err := b.CreateOp(ctx, &catalog.Operation{Type: catalog.OpRebalance, Target: "cluster"})
		if err != nil {
			return nil, err
		}
		return []*catalog.Operation{o}, nil
	}), nil
}

func (s *Session) prepareCancel(c *parser.CancelOperation) (*prepared, error) {
	b := s.b
	return opStmt("CANCEL OPERATION", func(ctx context.Context, _ pgwire.ResultWriter) ([]*catalog.Operation, error) {
		o := b.Catalog().Ops[uint64(c.ID)]
		if c.ID <= 0 || o == nil {
			return nil, pgerr.OperationNotFound.New(c.ID).WithHint("SHOW OPERATIONS lists them.")
		}
		if !o.Active() {
			return nil, pgerr.OperationFinished.New(c.ID, o.Status)
		}
		cp := *o
		cp.Status, cp.End = catalog.OpCancelled, time.Now().UnixMicro()
		res, err := b.Propose(ctx, &catalog.UpdateOperation{Cancel: true, Operation: &cp})
		if err != nil {
			return nil, err
		}
		b.PokeOps()
		return []*catalog.Operation{res.Operation}, nil
	}), nil
}

var forceRecoverCols = textCols("group_id", "survivor", "applied_index", "holds", "lost_replicas", "outcome")

// prepareForceRecover is ALTER SHARD … FORCE RECOVER [CONFIRM DATA LOSS]:
// for a group that lost a majority of its replicas for good, make the
// surviving replica with the highest applied index its only voter. Without
// CONFIRM DATA LOSS it only shows the plan. Group 1 is the meta group (the
// cluster-wide form): it works without a meta quorum.
func (s *Session) prepareForceRecover(a *parser.AlterShard, gid uint64) (*prepared, error) {
	b := s.b
	return &prepared{cols: forceRecoverCols, run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		row, err := b.ForceRecover(ctx, gid, a.Confirm, w)
		if err != nil {
			return "", err
		}
		if err := w.Row(row); err != nil {
			return "", err
		}
		return "ALTER SHARD", nil
	}}, nil
}
