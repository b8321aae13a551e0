package node

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/httpapi"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/sql/session"
	"github.com/cairndb/cairn/internal/types"
)

// Admin statements: ALTER NODE, ALTER SHARD, ALTER SYSTEM FAILOVER /
// REBALANCE and CANCEL OPERATION. Each records an operation (or changes
// one) and answers with its row: op_id, op_type, target, status. The
// scheduler on the meta leader does the work; SHOW OPERATIONS follows it.

// RunSQL implements httpapi.SQLRunner: one statement in a fresh session
// (the admin API). It works on a draining node too.
func (n *Node) RunSQL(ctx context.Context, sql string) (*httpapi.SQLResult, error) {
	stmts, _, err := parser.Parse(sql)
	if err != nil {
		return nil, pgerr.From(err)
	}
	if len(stmts) != 1 {
		return nil, pgerr.AdminOneStatement.New(len(stmts))
	}
	s := session.New(sessionBackend{n}, "cairn", nil)
	defer s.Close()
	p, err := s.Prepare(ctx, stmts[0], sql, nil)
	if err != nil {
		return nil, err
	}
	res := &httpapi.SQLResult{}
	for _, c := range p.Columns() {
		res.Columns = append(res.Columns, c.Name)
	}
	w := &collectWriter{res: res}
	tag, err := p.Execute(ctx, nil, w)
	if err != nil {
		return nil, err
	}
	res.Tag = tag
	return res, nil
}

// collectWriter gathers a statement's rows as text for the admin API.
type collectWriter struct {
	res *httpapi.SQLResult
	buf []byte
}

func (w *collectWriter) Row(row []types.Datum) error {
	out := make([]*string, len(row))
	for i, d := range row {
		if d.Null {
			continue
		}
		w.buf = types.AppendText(w.buf[:0], d)
		s := string(w.buf)
		out[i] = &s
	}
	w.res.Rows = append(w.res.Rows, out)
	return nil
}

func (w *collectWriter) Notice(msg string)           { w.res.Notices = append(w.res.Notices, msg) }
func (w *collectWriter) ParameterStatus(_, _ string) {}
func (w *collectWriter) CopyIn(pgwire.CopyOptions, []types.T) (pgwire.CopySource, error) {
	return nil, pgerr.AdminNoCopy.New()
}

// forceRecover plans (and with confirm, performs) the forced recovery of
// group gid.
func (n *Node) forceRecover(ctx context.Context, gid uint64, confirm bool, w pgwire.ResultWriter) ([]types.Datum, error) {
	cat := n.meta.Catalog()
	// Every replica on a node that answers.
	type survivor struct {
		id  uint64
		rep *rpc.ShardReply
	}
	var found []survivor
	for _, nd := range cat.SortedNodes() {
		if nd.ID != n.id.RaftID && n.liveness(nd) == "dead" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		rep, err := n.router.ShardAdminAt(cctx, nd.ID, rpc.ShardRequest{Group: gid, Action: rpc.ShardStatus})
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
			return nil, pgerr.NothingToForce.New(gid, n.nodeName(f.id)).
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
	row := func(outcome string) []types.Datum {
		return []types.Datum{txt(fmt.Sprint(gid)), txt(n.bareName(best.id)), txt(fmt.Sprint(best.rep.Applied)), txt(best.rep.Holds), txt(n.nodeNames(lost)), txt(outcome)}
	}
	if !confirm {
		return row(fmt.Sprintf("plan only, nothing changed: %s would become the only voter (applied index %d); writes acknowledged after that index by the lost replicas may be lost. Run again with CONFIRM DATA LOSS to do it.",
			n.nodeName(best.id), best.rep.Applied)), nil
	}
	rep, err := n.router.ShardAdminAt(ctx, best.id, rpc.ShardRequest{Group: gid, Action: rpc.ShardForce})
	if err != nil {
		return nil, err
	}
	n.log.Warn("forced recovery", "group", gid, "survivor", best.id, "applied", rep.Applied, "lost", lost)
	// The other survivors' logs may disagree with the new only voter: they
	// are deleted, and re-added from a snapshot.
	for _, f := range found {
		if f.id == best.id {
			continue
		}
		if _, err := n.router.ShardAdminAt(ctx, f.id, rpc.ShardRequest{Group: gid, Action: rpc.ShardDestroy}); err != nil {
			w.Notice(fmt.Sprintf("could not delete the stale replica of shard %d on %s: %v", gid, n.nodeName(f.id), err))
		}
	}
	outcome := fmt.Sprintf("recovered: %s is the only voter and leads shard %d", n.nodeName(best.id), gid)
	if gid != catalog.MetaGroupID {
		// The placement needs the meta group; give it time to elect.
		if err := n.waitLeader(catalog.MetaGroupID, 10*time.Second); err == nil {
			if _, err := n.proposeMeta(ctx, &catalog.SetPlacement{Group: gid, Nodes: []uint64{best.id}}); err != nil {
				return nil, err
			}
		}
		now := time.Now().UnixMicro()
		_, _ = n.ops.Create(ctx, &catalog.Operation{Type: catalog.OpForceRecover, Target: cat.GroupTarget(gid), Group: gid, To: best.id,
			Status: catalog.OpDone, Progress: 1, End: now, Step: fmt.Sprintf("survivor %s at applied index %d; lost %s", n.nodeName(best.id), rep.Applied, n.nodeNames(lost))})
		if n.settingOn("auto_failover") {
			outcome += "; new replicas are being added (SHOW OPERATIONS)"
		} else {
			outcome += fmt.Sprintf("; auto_failover is off: add replicas with ALTER SHARD %d RECOVER REPLICA ON '<node>'", gid)
		}
	}
	return row(outcome), nil
}
