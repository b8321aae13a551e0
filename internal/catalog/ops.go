package catalog

import (
	"fmt"
	"slices"
	"sort"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Operation is one change the scheduler or an operator makes to the
// cluster (cairn_cluster.operations). It lives in the catalog, so it
// survives a meta-leader change: the new leader resumes every operation
// that is pending or running, and each step is written so that running it
// again is harmless.
type Operation struct {
	ID       uint64  `json:"id"`
	Type     string  `json:"type"`   // OpReplaceReplica, OpTransferLeader, …
	Target   string  `json:"target"` // what it acts on, for people: "group 17", "node n2"
	Status   string  `json:"status"` // OpPending … OpCancelled
	Progress float64 `json:"progress"`
	Step     string  `json:"step,omitempty"`
	Start    int64   `json:"start"` // unix µs
	End      int64   `json:"end,omitempty"`
	Error    string  `json:"error,omitempty"`
	Auto     bool    `json:"auto,omitempty"` // made by the scheduler, not an operator

	// The plan. Group ops name a group and the nodes (raft ids) losing and
	// gaining a replica or leadership; node ops name the node.
	Group uint64 `json:"group,omitempty"`
	From  uint64 `json:"from,omitempty"`
	To    uint64 `json:"to,omitempty"`
	Node  string `json:"node,omitempty"`
	Total int    `json:"total,omitempty"` // node ops: replicas or leaders to move, for progress
	// View names the scheduled view a move_scheduled_view moves (From
	// and To are then its old and new owner).
	View string `json:"view,omitempty"`
}

// Operation types.
const (
	OpReplaceReplica = "replace_replica" // add a replica on To (learner, catch up, promote), remove the one on From
	OpTransferLeader = "transfer_leader"
	OpNodeOffline    = "node_offline"
	OpNodeRecover    = "node_recover"
	OpDrain          = "drain"
	OpDecommission   = "decommission"
	OpRemoveNode     = "remove_node"
	OpFailover       = "failover"
	OpRebalance      = "rebalance"
	OpForceRecover   = "force_recover"
)

// Operation statuses.
const (
	OpPending   = "pending"
	OpRunning   = "running"
	OpDone      = "done"
	OpFailed    = "failed"
	OpCancelled = "cancelled"
)

// Active reports whether the operation has not finished.
func (o *Operation) Active() bool { return o.Status == OpPending || o.Status == OpRunning }

// maxFinishedOps bounds the history of finished operations kept.
const maxFinishedOps = 1000

// SortedOps returns the operations by id.
func (c *Catalog) SortedOps() []*Operation {
	ops := make([]*Operation, 0, len(c.Ops))
	for _, o := range c.Ops {
		ops = append(ops, o)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].ID < ops[j].ID })
	return ops
}

// ActiveOpOn returns an unfinished operation on group gid, if any.
func (c *Catalog) ActiveOpOn(gid uint64) *Operation {
	for _, o := range c.SortedOps() {
		if o.Active() && o.Group == gid && gid != 0 {
			return o
		}
	}
	return nil
}

// ActiveOpOnView returns an unfinished operation moving scheduled view
// name, if any.
func (c *Catalog) ActiveOpOnView(name string) *Operation {
	for _, o := range c.SortedOps() {
		if o.Active() && o.View == name && name != "" {
			return o
		}
	}
	return nil
}

func (cmd *CreateOperation) apply(c *Catalog) *Result {
	o := *cmd.Operation
	if o.View != "" {
		// One move of a scheduled view at a time.
		if a := c.ActiveOpOnView(o.View); a != nil {
			return &Result{Err: pgerr.ViewMoveBusy.New(o.View, a.ID, a.Status)}
		}
	}
	if o.Group != 0 {
		if _, ok := c.ShardNodes(o.Group); !ok && o.Type != OpForceRecover && o.Group != MetaGroupID {
			return &Result{Err: pgerr.ShardNotFound.New(o.Group)}
		}
		if a := c.ActiveOpOn(o.Group); a != nil && o.Type != OpForceRecover {
			return &Result{Err: pgerr.ShardBusy.New(o.Group, a.ID, a.Type, a.Status, a.ID, a.ID)}
		}
	}
	if c.NextOpID == 0 {
		c.NextOpID = 1
	}
	o.ID = c.NextOpID
	c.NextOpID++
	if o.Status == "" {
		o.Status = OpPending
	}
	c.Ops[o.ID] = &o
	c.trimOps()
	return &Result{Operation: &o}
}

func (cmd *UpdateOperation) apply(c *Catalog) *Result {
	u := cmd.Operation
	o := c.Ops[u.ID]
	if o == nil {
		return &Result{Err: pgerr.OperationNotFound.New(u.ID)}
	}
	if !o.Active() {
		// Finished (or cancelled by an operator): the executor learns it here.
		return &Result{Err: pgerr.OperationFinished.New(u.ID, o.Status)}
	}
	if u.Status == OpCancelled && cmd.Cancel {
		o.Status, o.End, o.Error = OpCancelled, u.End, "cancelled by an operator"
		return &Result{Operation: o}
	}
	o.Status, o.Progress, o.Step, o.Error = u.Status, u.Progress, u.Step, u.Error
	if u.To != 0 {
		o.To = u.To
	}
	if u.Total != 0 {
		o.Total = u.Total
	}
	if !o.Active() {
		o.End = u.End
	}
	return &Result{Operation: o}
}

func (cmd *SetNodeState) apply(c *Catalog) *Result {
	nd := c.Nodes[cmd.Node]
	if nd == nil {
		return &Result{Err: pgerr.NodeNotFound.New(cmd.Node)}
	}
	nd.State = cmd.State
	return &Result{Node: nd}
}

func (cmd *RemoveNode) apply(c *Catalog) *Result {
	nd := c.Nodes[cmd.Node]
	if nd == nil {
		return &Result{Err: pgerr.NodeNotFound.New(cmd.Node)}
	}
	if n := c.ReplicaCounts()[nd.ID]; n > 0 {
		return &Result{Err: pgerr.NodeHoldsReplicas.New(nd.Name, n, nd.Name)}
	}
	delete(c.Nodes, cmd.Node)
	c.Removed[nd.ID] = true
	return &Result{Node: nd}
}

func (cmd *SetPlacement) apply(c *Catalog) *Result {
	if !c.setShardNodes(cmd.Group, cmd.Nodes) {
		return &Result{Err: pgerr.ShardNotFound.New(cmd.Group)}
	}
	if cmd.Added != 0 && !slices.Contains(c.Added[cmd.Group], cmd.Added) {
		c.Added[cmd.Group] = append(c.Added[cmd.Group], cmd.Added)
	}
	return &Result{}
}

// trimOps forgets the oldest finished operations beyond maxFinishedOps.
func (c *Catalog) trimOps() {
	var done []uint64
	for id, o := range c.Ops {
		if !o.Active() {
			done = append(done, id)
		}
	}
	if len(done) <= maxFinishedOps {
		return
	}
	slices.Sort(done)
	for _, id := range done[:len(done)-maxFinishedOps] {
		delete(c.Ops, id)
	}
}

// String describes the operation for logs.
func (o *Operation) String() string {
	return fmt.Sprintf("op %d %s %s (%s)", o.ID, o.Type, o.Target, o.Status)
}
