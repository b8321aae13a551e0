package catalog

import (
	"testing"

	"github.com/cairndb/cairn/internal/security"
)

// TestNodeRoleReserved: no role may be named node, the common name of
// every node certificate: pgwire and the HTTP API verify client
// certificates against the same CA, so a role of that name would let any
// node certificate log in as it.
func TestNodeRoleReserved(t *testing.T) {
	if NodeCertName != security.NodeCN {
		t.Fatalf("NodeCertName %q, security.NodeCN %q", NodeCertName, security.NodeCN)
	}
	c := New()
	if _, res := Apply(c, &CreateRole{Role: &Role{Name: "node", Login: true}}); res.Err == nil || res.Err.Code != "42939" {
		t.Errorf("CREATE ROLE node: %v, want 42939", res.Err)
	}
	c, res := Apply(c, &CreateRole{Role: &Role{Name: "alice", Login: true}})
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if _, res := Apply(c, &AlterRole{Name: "alice", RenameTo: "node"}); res.Err == nil || res.Err.Code != "42939" {
		t.Errorf("ALTER ROLE alice RENAME TO node: %v, want 42939", res.Err)
	}
}
