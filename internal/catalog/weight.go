package catalog

import "github.com/cairndb/cairn/internal/pgerr"

// Load balancing (issue 15): a node's weight for `cairn proxy --mode
// weighted`, and the health floor of `--mode health_based`.

// DefaultNodeWeight is a node's weight until ALTER NODE … SET WEIGHT.
const DefaultNodeWeight = 1

// MaxNodeWeight bounds a node's weight (the parser refuses more).
const MaxNodeWeight = 100

// LBMinHealthScore is the cluster setting below which (a health score
// of cairn_cluster.health) `cairn proxy --mode health_based` sends a node
// no new sessions.
const LBMinHealthScore = "lb_min_health_score"

// Weight is the node's load-balancing weight (DefaultNodeWeight unset).
func (n *Node) Weight() int64 {
	if n.LBWeight == nil {
		return DefaultNodeWeight
	}
	return *n.LBWeight
}

// SetNodeWeight sets a node's load-balancing weight (0: no new sessions).
type SetNodeWeight struct {
	Node   string
	Weight int64
}

const opSetNodeWeight = "set_node_weight"

// The envelope carries the weight in a Node holding only the name and
// the weight, so the envelope needs no new field.
func (c *SetNodeWeight) envelope() *envelope {
	w := c.Weight
	return &envelope{Op: opSetNodeWeight, Node: &Node{Name: c.Node, LBWeight: &w}}
}

func (e *envelope) weightCommand() (Command, bool, *pgerr.Error) {
	if e.Op != opSetNodeWeight {
		return nil, false, nil
	}
	if e.Node == nil || e.Node.LBWeight == nil {
		return nil, true, pgerr.CatalogIncomplete.New(e.Op, "node weight")
	}
	return &SetNodeWeight{Node: e.Node.Name, Weight: *e.Node.LBWeight}, true, nil
}

func (cmd *SetNodeWeight) apply(c *Catalog) *Result {
	nd := c.Nodes[cmd.Node]
	if nd == nil {
		return &Result{Err: pgerr.NodeNotFound.New(cmd.Node)}
	}
	if cmd.Weight < 0 || cmd.Weight > MaxNodeWeight {
		return &Result{Err: pgerr.NodeWeightRange.New(MaxNodeWeight, cmd.Weight)}
	}
	w := cmd.Weight
	nd.LBWeight = &w
	return &Result{Node: nd}
}
