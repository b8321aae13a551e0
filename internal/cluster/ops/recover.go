package ops

import (
	"context"
	"fmt"
	"slices"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/rpc"
)

// forceRecover plans (and with confirm, performs) the forced recovery of
// group gid.
// ForceResult is what a forced recovery did, or (without confirm) would do.
type ForceResult struct {
	Survivor uint64   // the replica that becomes the only voter
	Applied  uint64   // its applied index
	Holds    string   // what its state machine holds
	Lost     []uint64 // the members whose replicas are gone
	Outcome  string
}

// ForceRecover is ALTER SHARD … FORCE RECOVER [CONFIRM DATA LOSS]: for a
// group that lost a majority of its replicas for good, the surviving
// replica with the highest applied index becomes its only voter. Without
// confirm it only says what it would do. It refuses while a replica leads.
// notice reports what could not be cleaned up.
func (e *Executor) ForceRecover(ctx context.Context, gid uint64, confirm bool, notice func(string)) (*ForceResult, error) {
	cat := e.c.Catalog()
	// Every replica on a node that answers.
	type survivor struct {
		id  uint64
		rep *rpc.ShardReply
	}
	var found []survivor
	for _, nd := range cat.SortedNodes() {
		if e.liveness(nd) == "dead" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, e.t.LeadersCall)
		rep, err := e.c.ShardAdminAt(cctx, nd.ID, rpc.ShardRequest{Group: gid, Action: rpc.ShardStatus})
		cancel()
		if err != nil {
			continue
		}
		found = append(found, survivor{nd.ID, rep})
	}
	if len(found) == 0 {
		return nil, pgerr.NothingToRecoverFrom.New(gid)
	}
	for _, f := range found {
		if f.rep.Leader != 0 && f.rep.Leader == f.id {
			return nil, pgerr.NothingToForce.New(gid, cat.NodeLabel(f.id)).
				WithHint("If a node is gone for good, the scheduler replaces its replicas (auto_failover), or use ALTER SHARD %d RECOVER REPLICA ON '<node>'.", gid)
		}
	}
	best := found[0]
	for _, f := range found[1:] {
		if f.rep.Applied > best.rep.Applied {
			best = f
		}
	}
	members := best.rep.Voters
	if nodes, ok := cat.ShardNodes(gid); ok {
		members = nodes
	}
	var lost []uint64
	for _, id := range members {
		if !slices.ContainsFunc(found, func(f survivor) bool { return f.id == id }) {
			lost = append(lost, id)
		}
	}
	row := func(outcome string) *ForceResult {
		return &ForceResult{Survivor: best.id, Applied: best.rep.Applied, Holds: best.rep.Holds, Lost: lost, Outcome: outcome}
	}
	if !confirm {
		return row(fmt.Sprintf("plan only, nothing changed: %s would become the only voter (applied index %d); writes acknowledged after that index by the lost replicas may be lost. Run again with CONFIRM DATA LOSS to do it.",
			cat.NodeLabel(best.id), best.rep.Applied)), nil
	}
	rep, err := e.c.ShardAdminAt(ctx, best.id, rpc.ShardRequest{Group: gid, Action: rpc.ShardForce})
	if err != nil {
		return nil, err
	}
	e.log.Warn("forced recovery", "group", gid, "survivor", best.id, "applied", rep.Applied, "lost", lost)
	// The other survivors' logs may disagree with the new only voter: they
	// are deleted, and re-added from a snapshot.
	for _, f := range found {
		if f.id == best.id {
			continue
		}
		if _, err := e.c.ShardAdminAt(ctx, f.id, rpc.ShardRequest{Group: gid, Action: rpc.ShardDestroy}); err != nil {
			notice(fmt.Sprintf("could not delete the stale replica of shard %d on %s: %v", gid, cat.NodeLabel(f.id), err))
		}
	}
	outcome := fmt.Sprintf("recovered: %s is the only voter and leads shard %d", cat.NodeLabel(best.id), gid)
	if gid != catalog.MetaGroupID {
		// The placement needs the meta group; give it time to elect.
		if err := e.c.WaitMetaLeader(e.t.MetaProposeTimeout); err == nil {
			if _, err := e.c.Propose(ctx, &catalog.SetPlacement{Group: gid, Nodes: []uint64{best.id}}); err != nil {
				return nil, err
			}
		}
		now := e.clock.Now().UnixMicro()
		_, _ = e.Create(ctx, &catalog.Operation{Type: catalog.OpForceRecover, Target: cat.GroupTarget(gid), Group: gid, To: best.id,
			Status: catalog.OpDone, Progress: 1, End: now, Step: fmt.Sprintf("survivor %s at applied index %d; lost %s", cat.NodeLabel(best.id), rep.Applied, cat.NodeNames(lost))})
		if cat.SettingOn("auto_failover") {
			outcome += "; new replicas are being added (SHOW OPERATIONS)"
		} else {
			outcome += fmt.Sprintf("; auto_failover is off: add replicas with ALTER SHARD %d RECOVER REPLICA ON '<node>'", gid)
		}
	}
	return row(outcome), nil
}
