package chaos

import (
	"fmt"
	"sync"
)

// Gateway policies: how a writer picks the node its next batch goes
// through (--gateways).
const (
	// GatewaysLeastBusy: among the running nodes, one with the fewest
	// statements of the workload in flight, in turn among equals — what a
	// least-outstanding-requests load balancer does (Envoy LEAST_REQUEST,
	// HAProxy leastconn). A frozen or cut-off node then holds the one
	// writer whose statement runs to its timeout there, not every writer:
	// the write outage measures the cluster, not the pile-up of clients on
	// one dead gateway.
	GatewaysLeastBusy = "least-busy"
	// GatewaysRoundRobin: writer w's i-th batch goes through running node
	// (w+i) mod n, whatever happened there (the workload before issue 14:
	// every writer soon blocks on a frozen node for its whole timeout).
	GatewaysRoundRobin = "round-robin"
)

// ParseGateways checks a --gateways value ("" is least-busy).
func ParseGateways(s string) (string, error) {
	switch s {
	case "":
		return GatewaysLeastBusy, nil
	case GatewaysLeastBusy, GatewaysRoundRobin:
		return s, nil
	}
	return "", fmt.Errorf("--gateways must be %s or %s, got %q", GatewaysLeastBusy, GatewaysRoundRobin, s)
}

// gateways counts the workload's statements in flight per node and picks
// the next gateway under a policy.
type gateways struct {
	policy string
	mu     struct {
		sync.Mutex
		busy map[string]int // node → statements in flight through it
		turn int            // rotates the choice among equally busy nodes
	}
}

func newGateways(policy string) *gateways {
	g := &gateways{policy: policy}
	g.mu.busy = map[string]int{}
	return g
}

// acquire picks the gateway of writer w's i-th batch among up (not empty)
// and counts it busy until release.
func (g *gateways) acquire(up []string, w, i int) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	node := up[(w+i)%len(up)]
	if g.policy != GatewaysRoundRobin {
		g.mu.turn++
		best := -1
		for k := range up {
			n := up[(g.mu.turn+k)%len(up)]
			if b := g.mu.busy[n]; best < 0 || b < best {
				node, best = n, b
			}
		}
	}
	g.mu.busy[node]++
	return node
}

func (g *gateways) release(node string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.mu.busy[node]--
}
