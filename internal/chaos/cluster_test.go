package chaos

import (
	"slices"
	"testing"

	"github.com/cairndb/cairn/internal/security"
)

// A secure campaign's certificates load as a node's and as the workload's
// client (client.cairn), and its cluster starts every node with them.
func TestSecureCampaignCerts(t *testing.T) {
	root := t.TempDir()
	dir, err := makeCerts(root)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := security.LoadCerts(dir, security.LoadOptions{Hosts: []string{"127.0.0.1", "localhost"}})
	if err != nil {
		t.Fatalf("the node cannot load the campaign's certificates: %v", err)
	}
	if _, err := certs.ClientFor("cairn"); err != nil {
		t.Fatalf("no client certificate for the workload: %v", err)
	}
	c := newCluster("cairn", root, t.TempDir(), dir, nil)
	if c.CertsDir != dir || !slices.Contains(c.Args, "--unsafe-test-faults") {
		t.Errorf("cluster: certs dir %q, args %v", c.CertsDir, c.Args)
	}
	if _, err := makeCerts(root); err == nil {
		t.Errorf("making certificates over existing ones succeeded")
	}
}
