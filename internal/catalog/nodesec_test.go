package catalog

import "testing"

// TestSetNodeSecurity: the report survives encoding, lands on the node and
// is refused for a node the catalog does not know.
func TestSetNodeSecurity(t *testing.T) {
	c := New()
	(&Init{Node: &Node{Name: "n1", Security: NodeInsecure}}).apply(c)
	if got := c.Nodes["n1"].Security; got != NodeInsecure {
		t.Fatalf("security after init: %q", got)
	}
	cmd, err := Decode(Encode(&SetNodeSecurity{Node: "n1", Security: NodeSecure, CertExpiresAt: 1893456000}))
	if err != nil {
		t.Fatal(err)
	}
	if r := cmd.apply(c); r.Err != nil {
		t.Fatal(r.Err)
	}
	if nd := c.Nodes["n1"]; nd.Security != NodeSecure || nd.CertExpiresAt != 1893456000 {
		t.Fatalf("after set_node_security: %+v", nd)
	}
	// A restart's registration replaces the report with the new one.
	(&AddNode{Node: &Node{Name: "n1", Security: NodeInsecure}, Restart: true}).apply(c)
	if nd := c.Nodes["n1"]; nd.Security != NodeInsecure || nd.CertExpiresAt != 0 {
		t.Fatalf("after a restart's add_node: %+v", nd)
	}
	if r := (&SetNodeSecurity{Node: "n9", Security: NodeSecure}).apply(c); r.Err == nil || r.Err.Code != "42704" {
		t.Fatalf("an unknown node: %+v", r.Err)
	}
	if _, err := Decode([]byte(`{"op":"set_node_security"}`)); err == nil {
		t.Fatal("a set_node_security without its node decoded")
	}
}
