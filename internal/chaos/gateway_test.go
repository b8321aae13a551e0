package chaos

import "testing"

// least-busy never sends a writer to a node that holds a statement while
// another node holds none, and spreads idle writers over every node;
// round-robin keeps the old rotation whatever is in flight.
func TestGatewaysLeastBusy(t *testing.T) {
	up := []string{"n1", "n2", "n3", "n4", "n5"}
	g := newGateways(GatewaysLeastBusy)
	stuck := g.acquire(up, 0, 0) // a writer blocked there (a frozen node)
	seen := map[string]bool{}
	for i := range 100 {
		n := g.acquire(up, 1, i)
		if n == stuck {
			t.Fatalf("batch %d went through %s, which holds a statement, while others are idle", i, n)
		}
		seen[n] = true
		g.release(n)
	}
	if len(seen) != 4 {
		t.Fatalf("idle nodes used: %v, want all four", seen)
	}
	// Four writers stuck: the fifth goes to the only free node.
	var held []string
	for range 3 {
		held = append(held, g.acquire(up, 2, 0))
	}
	free := g.acquire(up, 3, 0)
	for _, h := range append(held, stuck) {
		if h == free {
			t.Fatalf("free node %s already held a statement (%v)", free, held)
		}
	}

	rr := newGateways(GatewaysRoundRobin)
	rr.acquire(up, 0, 0)
	for i := range 10 {
		if n := rr.acquire(up, 1, i); n != up[(1+i)%5] {
			t.Fatalf("round-robin batch %d went to %s, want %s", i, n, up[(1+i)%5])
		}
	}
}

func TestParseGateways(t *testing.T) {
	for in, want := range map[string]string{"": GatewaysLeastBusy, "least-busy": GatewaysLeastBusy, "round-robin": GatewaysRoundRobin} {
		if got, err := ParseGateways(in); err != nil || got != want {
			t.Errorf("ParseGateways(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseGateways("random"); err == nil {
		t.Error("ParseGateways(random) accepted")
	}
}
