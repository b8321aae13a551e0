package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/exec"
	"github.com/cairndb/cairn/internal/httpapi"
	"github.com/cairndb/cairn/internal/parser"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/pgwire"
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

// lookupNode returns the named node or a 42704 error.
func (n *Node) lookupNode(name string, pos int) (*catalog.Node, error) {
	cat := n.meta.Catalog()
	nd := cat.Nodes[name]
	if nd == nil {
		names := make([]string, 0, len(cat.Nodes))
		for _, x := range cat.SortedNodes() {
			names = append(names, x.Name)
		}
		return nil, pgerr.NodeNotFound.New(name).
			WithHint("The cluster's nodes are %v (SHOW NODES).", names).WithPos(pos)
	}
	return nd, nil
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
	n := s.n
	nd, err := n.lookupNode(a.Node, a.P)
	if err != nil {
		return nil, err
	}
	name := nd.Name
	setState := func(ctx context.Context, state string) error {
		_, err := n.proposeMeta(ctx, &catalog.SetNodeState{Node: name, State: state})
		return err
	}
	// nodeOp sets the node's state and records a node operation (or
	// returns the one already running).
	nodeOp := func(typ, state string) *prepared {
		return opStmt("ALTER NODE", func(ctx context.Context, _ pgwire.ResultWriter) ([]*catalog.Operation, error) {
			if o := activeNodeOp(n.meta.Catalog(), typ, name); o != nil {
				return []*catalog.Operation{o}, nil
			}
			if err := setState(ctx, state); err != nil {
				return nil, err
			}
			o, err := n.createOp(ctx, &catalog.Operation{Type: typ, Target: "node " + name, Node: name, To: nd.ID})
			if err != nil {
				return nil, err
			}
			return []*catalog.Operation{o}, nil
		})
	}
	others := 0
	for _, x := range n.meta.Catalog().SortedNodes() {
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
			cat := n.meta.Catalog()
			// Recovering ends whatever took the node out.
			for _, o := range cat.SortedOps() {
				if o.Active() && o.Node == name && o.Type != catalog.OpNodeRecover {
					cp := *o
					cp.Status, cp.End = catalog.OpCancelled, time.Now().UnixMicro()
					_, _ = n.proposeMeta(ctx, &catalog.UpdateOperation{Cancel: true, Operation: &cp})
				}
			}
			if err := setState(ctx, ""); err != nil {
				return nil, err
			}
			if o := activeNodeOp(n.meta.Catalog(), catalog.OpNodeRecover, name); o != nil {
				return []*catalog.Operation{o}, nil
			}
			o, err := n.createOp(ctx, &catalog.Operation{Type: catalog.OpNodeRecover, Target: "node " + name, Node: name, To: nd.ID})
			if err != nil {
				return nil, err
			}
			return []*catalog.Operation{o}, nil
		}), nil
	case "remove":
		return opStmt("ALTER NODE", func(ctx context.Context, _ pgwire.ResultWriter) ([]*catalog.Operation, error) {
			cur := n.meta.Catalog().Nodes[name]
			if cur == nil {
				return nil, pgerr.NodeNotFound.New(name)
			}
			if cur.State != catalog.NodeDecommissioned && n.liveness(cur) != "dead" {
				return nil, pgerr.NodeNotRemovable.New(name, n.state(cur)).
					WithHint("ALTER NODE '%s' DECOMMISSION moves its replicas off first.", name)
			}
			if st, ok := n.store.Status(catalog.MetaGroupID); ok && slices.Contains(st.Voters, cur.ID) {
				return nil, pgerr.NodeVotesInMeta.New(name).
					WithHint("Wait until its decommission operation is done (it leaves the meta group last).")
			}
			if _, err := n.proposeMeta(ctx, &catalog.RemoveNode{Node: name}); err != nil {
				return nil, err
			}
			now := time.Now().UnixMicro()
			o, err := n.createOp(ctx, &catalog.Operation{Type: catalog.OpRemoveNode, Target: "node " + name, Node: name, Status: catalog.OpDone, Progress: 1, End: now})
			if err != nil {
				return nil, err
			}
			return []*catalog.Operation{o}, nil
		}), nil
	}
	return nil, pgerr.AlterNodeUnsupported.New(a.Action).WithPos(a.P)
}

// groupTarget describes a group for operation rows.
func groupTarget(cat *catalog.Catalog, gid uint64) string {
	if gid == catalog.MetaGroupID {
		return "shard 1 (meta)"
	}
	ref := cat.Groups()[gid]
	return fmt.Sprintf("shard %d (%s %s/%d)", gid, kindName(ref.Kind), ref.Object, ref.Shard)
}

func (s *Session) prepareAlterShard(a *parser.AlterShard) (*prepared, error) {
	n := s.n
	cat := n.meta.Catalog()
	if a.Shard <= 0 {
		return nil, pgerr.ShardIDNotPositive.New(a.Shard).WithPos(a.P)
	}
	gid := uint64(a.Shard)
	nodes, ok := cat.ShardNodes(gid)
	if gid == catalog.MetaGroupID {
		ok = true
		if st, have := n.store.Status(gid); have {
			nodes = st.Voters
		}
	}
	if !ok {
		return nil, pgerr.ShardNotFound.New(gid).
			WithHint("cairn_cluster.shards lists every shard's group_id.").WithPos(a.P)
	}
	if a.Action == "force_recover" {
		return s.prepareForceRecover(a, gid)
	}
	nd, err := n.lookupNode(a.Node, a.P)
	if err != nil {
		return nil, err
	}
	switch a.Action {
	case "transfer_leader":
		if !slices.Contains(nodes, nd.ID) {
			return nil, pgerr.NodeHoldsNoReplica.New(nd.Name, gid, n.nodeNames(nodes)).WithPos(a.P)
		}
		if l := n.liveness(nd); l != "live" {
			return nil, pgerr.LeaderTargetNotLive.New(nd.Name, l).WithPos(a.P)
		}
		return opStmt("ALTER SHARD", func(ctx context.Context, _ pgwire.ResultWriter) ([]*catalog.Operation, error) {
			o, err := n.createOp(ctx, &catalog.Operation{Type: catalog.OpTransferLeader, Target: groupTarget(cat, gid), Group: gid, To: nd.ID})
			if err != nil {
				return nil, err
			}
			return []*catalog.Operation{o}, nil
		}), nil
	case "recover_replica":
		if gid == catalog.MetaGroupID {
			return nil, pgerr.MetaPlacesItself.New().WithPos(a.P)
		}
		if l := n.liveness(nd); l != "live" || !nd.Placeable() {
			return nil, pgerr.RecoverTargetNotInService.New(nd.Name, n.state(nd)).WithPos(a.P)
		}
		return opStmt("ALTER SHARD", func(ctx context.Context, _ pgwire.ResultWriter) ([]*catalog.Operation, error) {
			cat := n.meta.Catalog()
			nodes, _ := cat.ShardNodes(gid)
			var from uint64
			if !slices.Contains(nodes, nd.ID) {
				// Replace a replica that cannot serve, if there is one.
				for _, id := range nodes {
					if x := cat.NodeByID(id); x == nil || x.Evacuating() || n.liveness(x) == "dead" {
						from = id
						break
					}
				}
			}
			o, err := n.createOp(ctx, &catalog.Operation{Type: catalog.OpReplaceReplica, Target: groupTarget(cat, gid), Group: gid, From: from, To: nd.ID})
			if err != nil {
				return nil, err
			}
			return []*catalog.Operation{o}, nil
		}), nil
	}
	return nil, pgerr.AlterShardUnsupported.New(a.Action).WithPos(a.P)
}

func (s *Session) prepareFailover(f *parser.Failover) (*prepared, error) {
	n := s.n
	nd, err := n.lookupNode(f.Node, f.P)
	if err != nil {
		return nil, err
	}
	if l := n.liveness(nd); l != "live" || !nd.Leadable() {
		return nil, pgerr.LeadersTargetNotInService.New(nd.Name, n.state(nd)).WithPos(f.P)
	}
	return opStmt("ALTER SYSTEM", func(ctx context.Context, _ pgwire.ResultWriter) ([]*catalog.Operation, error) {
		v := nd.Name
		if _, err := n.proposeMeta(ctx, &catalog.SetSetting{Key: "preferred_leader", Value: &v}); err != nil {
			return nil, err
		}
		o, err := n.createOp(ctx, &catalog.Operation{Type: catalog.OpFailover, Target: "node " + nd.Name, Node: nd.Name, To: nd.ID})
		if err != nil {
			return nil, err
		}
		return []*catalog.Operation{o}, nil
	}), nil
}

func (s *Session) prepareRebalance(*parser.Rebalance) (*prepared, error) {
	n := s.n
	return opStmt("ALTER SYSTEM", func(ctx context.Context, w pgwire.ResultWriter) ([]*catalog.Operation, error) {
		if v, _ := n.clusterSetting("preferred_leader"); v != "" {
			// A rebalance ends a planned failover: leaders spread again.
			if _, err := n.proposeMeta(ctx, &catalog.SetSetting{Key: "preferred_leader"}); err != nil {
				return nil, err
			}
			w.Notice(fmt.Sprintf("preferred_leader (%s) is cleared: leaders spread evenly again", v))
		}
		for _, o := range n.meta.Catalog().SortedOps() {
			if o.Active() && o.Type == catalog.OpRebalance {
				return []*catalog.Operation{o}, nil
			}
		}
		o, err := n.createOp(ctx, &catalog.Operation{Type: catalog.OpRebalance, Target: "cluster"})
		if err != nil {
			return nil, err
		}
		return []*catalog.Operation{o}, nil
	}), nil
}

func (s *Session) prepareCancel(c *parser.CancelOperation) (*prepared, error) {
	n := s.n
	return opStmt("CANCEL OPERATION", func(ctx context.Context, _ pgwire.ResultWriter) ([]*catalog.Operation, error) {
		o := n.meta.Catalog().Ops[uint64(c.ID)]
		if c.ID <= 0 || o == nil {
			return nil, pgerr.OperationNotFound.New(c.ID).WithHint("SHOW OPERATIONS lists them.")
		}
		if !o.Active() {
			return nil, pgerr.OperationFinished.New(c.ID, o.Status)
		}
		cp := *o
		cp.Status, cp.End = catalog.OpCancelled, time.Now().UnixMicro()
		res, err := n.proposeMeta(ctx, &catalog.UpdateOperation{Cancel: true, Operation: &cp})
		if err != nil {
			return nil, err
		}
		n.pokeOps()
		return []*catalog.Operation{res.Operation}, nil
	}), nil
}

// operationsTable is cairn_cluster.operations.
func (n *Node) operationsTable() *memTable {
	t := &memTable{cols: []exec.Column{{Name: "op_id", T: types.Int8}, {Name: "op_type", T: types.Text}, {Name: "target", T: types.Text},
		{Name: "status", T: types.Text}, {Name: "progress", T: types.Float8}, {Name: "current_step", T: types.Text},
		{Name: "start_time", T: types.TimestampTZ}, {Name: "end_time", T: types.TimestampTZ}, {Name: "error", T: types.Text}}}
	for _, o := range n.meta.Catalog().SortedOps() {
		end := types.NullOf(types.TimestampTZ)
		if o.End != 0 {
			end = types.NewInt(types.TimestampTZ, o.End)
		}
		errD := types.NullOf(types.Text)
		if o.Error != "" {
			errD = txt(o.Error)
		}
		t.rows = append(t.rows, []types.Datum{i8(int64(o.ID)), txt(o.Type), txt(o.Target), txt(o.Status), types.NewFloat(types.Float8, o.Progress),
			txt(o.Step), types.NewInt(types.TimestampTZ, o.Start), end, errD})
	}
	return t
}

// settingsTable is cairn_cluster.settings: every cluster setting's value.
func (n *Node) settingsTable() *memTable {
	t := &memTable{cols: []exec.Column{{Name: "name", T: types.Text}, {Name: "value", T: types.Text}, {Name: "default", T: types.Text}, {Name: "description", T: types.Text}}}
	names := make([]string, 0, len(clusterSettings))
	for k := range clusterSettings {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v, _ := n.clusterSetting(k)
		t.rows = append(t.rows, []types.Datum{txt(k), txt(v), txt(clusterSettings[k].def), txt(clusterSettings[k].desc)})
	}
	return t
}

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
	s := &Session{n: n, user: "cairn", values: map[string]string{}, tx: txIdle}
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

var forceRecoverCols = textCols("group_id", "survivor", "applied_index", "holds", "lost_replicas", "outcome")

// prepareForceRecover is ALTER SHARD … FORCE RECOVER [CONFIRM DATA LOSS]:
// for a group that lost a majority of its replicas for good, make the
// surviving replica with the highest applied index its only voter. Without
// CONFIRM DATA LOSS it only shows the plan. Group 1 is the meta group (the
// cluster-wide form): it works without a meta quorum.
func (s *Session) prepareForceRecover(a *parser.AlterShard, gid uint64) (*prepared, error) {
	n := s.n
	return &prepared{cols: forceRecoverCols, run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		row, err := n.forceRecover(ctx, gid, a.Confirm, w)
		if err != nil {
			return "", err
		}
		if err := w.Row(row); err != nil {
			return "", err
		}
		return "ALTER SHARD", nil
	}}, nil
}

// forceRecover plans (and with confirm, performs) the forced recovery of
// group gid.
func (n *Node) forceRecover(ctx context.Context, gid uint64, confirm bool, w pgwire.ResultWriter) ([]types.Datum, error) {
	cat := n.meta.Catalog()
	// Every replica on a node that answers.
	type survivor struct {
		id  uint64
		rep *shardAdminReply
	}
	var found []survivor
	for _, nd := range cat.SortedNodes() {
		if nd.ID != n.id.RaftID && n.liveness(nd) == "dead" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		rep, err := n.shardAdminAt(cctx, nd.ID, shardAdminRequest{Group: gid, Action: shardStatus})
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
	rep, err := n.shardAdminAt(ctx, best.id, shardAdminRequest{Group: gid, Action: shardForce})
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
		if _, err := n.shardAdminAt(ctx, f.id, shardAdminRequest{Group: gid, Action: shardDestroy}); err != nil {
			w.Notice(fmt.Sprintf("could not delete the stale replica of shard %d on %s: %v", gid, n.nodeName(f.id), err))
		}
	}
	outcome := fmt.Sprintf("recovered: %s is the only voter and leads shard %d", n.nodeName(best.id), gid)
	if gid != catalog.MetaGroupID {
		// The placement needs the meta group; give it time to elect.
		if err := n.waitLeader(catalog.MetaGroupID, 10*time.Second); err == nil {
			if err := n.setPlacement(ctx, gid, []uint64{best.id}, 0); err != nil {
				return nil, err
			}
		}
		now := time.Now().UnixMicro()
		_, _ = n.createOp(ctx, &catalog.Operation{Type: catalog.OpForceRecover, Target: groupTarget(cat, gid), Group: gid, To: best.id,
			Status: catalog.OpDone, Progress: 1, End: now, Step: fmt.Sprintf("survivor %s at applied index %d; lost %s", n.nodeName(best.id), rep.Applied, n.nodeNames(lost))})
		if n.settingOn("auto_failover") {
			outcome += "; new replicas are being added (SHOW OPERATIONS)"
		} else {
			outcome += fmt.Sprintf("; auto_failover is off: add replicas with ALTER SHARD %d RECOVER REPLICA ON '<node>'", gid)
		}
	}
	return row(outcome), nil
}

// holds describes what this node's replica of gid holds, for FORCE RECOVER.
func (n *Node) holds(gid uint64) string {
	if gid == catalog.MetaGroupID {
		cat := n.meta.Catalog()
		return fmt.Sprintf("catalog: %d streams, %d views, %d nodes", len(cat.Streams), len(cat.Views), len(cat.Nodes))
	}
	g := n.getGroup(gid)
	switch {
	case g == nil:
		return ""
	case g.stream != nil:
		end, _ := g.stream.End()
		return fmt.Sprintf("stream %s shard %d: events at offsets [%d, %d)", g.ref.Object, g.ref.Shard, g.stream.First(), end)
	case g.view != nil:
		offs, _ := g.view.DurableOffsets()
		return fmt.Sprintf("view %s shard %d: folded source offsets %v", g.ref.Object, g.ref.Shard, offs)
	}
	return ""
}

// resetMeta deletes this node's meta replica and starts it empty, to be
// re-added by the meta leader from a snapshot (after a forced recovery of
// the meta group elsewhere).
func (n *Node) resetMeta() error {
	if st, ok := n.store.Status(catalog.MetaGroupID); ok && st.IsLeader {
		return pgerr.MetaReplicaLeads.New(n.cfg.NodeID)
	}
	if err := n.store.DestroyGroup(catalog.MetaGroupID); err != nil {
		return storeErr(err)
	}
	if err := n.store.ClearTombstone(catalog.MetaGroupID); err != nil {
		return storeErr(err)
	}
	if err := n.store.StartGroup(catalog.MetaGroupID, n.meta, nil); err != nil {
		return storeErr(err)
	}
	n.log.Warn("reset the meta replica after a forced recovery of the meta group; waiting for a snapshot")
	return nil
}
