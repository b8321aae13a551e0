package testutil

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestStartNewPicksOtherAddresses: when an address NewNode picked is
// taken before the node binds it (another test got it first), StartNew
// starts the node on new addresses instead of failing.
func TestStartNewPicksOtherAddresses(t *testing.T) {
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	n, err := NewNode(bin, "n1", filepath.Join(t.TempDir(), "n1"))
	if err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", n.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	was := n.Cluster
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.StartNew(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = n.Kill() }()
	if n.Cluster == was {
		t.Fatalf("started on the taken cluster address %s", was)
	}
	if !n.Running() || !ready(ctx, n.URL()) {
		t.Fatal("the node is not serving after StartNew")
	}
}
