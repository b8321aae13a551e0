package catalog

import "github.com/cairndb/cairn/internal/pgerr"

// Security modes a node reports (Node.Security).
const (
	NodeSecure   = "secure"   // --certs-dir: TLS on every port
	NodeInsecure = "insecure" // --insecure, or loopback without certificates
)

// SetNodeSecurity records what a node reports about its own security: its
// mode and its node certificate's expiry. A node proposes it after each
// certificate reload (its registration at start carries both already).
type SetNodeSecurity struct {
	Node          string
	Security      string
	CertExpiresAt int64 // unix seconds; 0 when insecure
}

const opSetNodeSecurity = "set_node_security"

// The envelope carries the report in a Node holding only the name and the
// two fields, so the envelope needs no new field.
func (c *SetNodeSecurity) envelope() *envelope {
	return &envelope{Op: opSetNodeSecurity, Node: &Node{Name: c.Node, Security: c.Security, CertExpiresAt: c.CertExpiresAt}}
}

func (e *envelope) nodeSecCommand() (Command, bool, *pgerr.Error) {
	if e.Op != opSetNodeSecurity {
		return nil, false, nil
	}
	if e.Node == nil {
		return nil, true, pgerr.CatalogIncomplete.New(e.Op, "node")
	}
	return &SetNodeSecurity{Node: e.Node.Name, Security: e.Node.Security, CertExpiresAt: e.Node.CertExpiresAt}, true, nil
}

func (cmd *SetNodeSecurity) apply(c *Catalog) *Result {
	nd := c.Nodes[cmd.Node]
	if nd == nil {
		return &Result{Err: pgerr.NodeNotFound.New(cmd.Node)}
	}
	nd.Security, nd.CertExpiresAt = cmd.Security, cmd.CertExpiresAt
	return &Result{Node: nd}
}
