package proxy

import (
	"fmt"
	"strings"
	"testing"
)

func nodes(specs ...string) []Node {
	var ns []Node
	for _, s := range specs {
		var n Node
		n.Role, n.State, n.Weight, n.Score = "data", "live", 1, -1
		f := strings.Fields(s)
		n.Name = f[0]
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			switch k {
			case "state":
				n.State = v
			case "role":
				n.Role = v
			case "w":
				fmt.Sscan(v, &n.Weight)
			case "score":
				fmt.Sscan(v, &n.Score)
			}
		}
		ns = append(ns, n)
	}
	return ns
}

// spread picks k sessions and counts them by node (sessions stay open:
// least_connections sees them).
func spread(t *testing.T, b *Balancer, v View, k int) map[string]int {
	t.Helper()
	got := map[string]int{}
	if v.Sessions == nil {
		v.Sessions = map[string]int{}
	}
	for range k {
		n, why, ok := b.Pick(v)
		if !ok {
			t.Fatalf("no node: %s", why)
		}
		got[n.Name]++
		v.Sessions[n.Name]++
	}
	return got
}

func TestRoundRobin(t *testing.T) {
	b := NewBalancer(RoundRobin)
	v := View{Nodes: nodes("n1", "n2", "n3", "n4 role=compute", "n5 state=draining", "n6 state=dead")}
	if got := fmt.Sprint(spread(t, b, v, 300)); got != "map[n1:100 n2:100 n3:100]" {
		t.Fatal(got)
	}
	// The turn order survives a node leaving: after n1 comes n3.
	b = NewBalancer(RoundRobin)
	v = View{Nodes: nodes("n1", "n2", "n3")}
	b.Pick(v)
	v.Nodes[1].State = "draining"
	if n, _, _ := b.Pick(v); n.Name != "n3" {
		t.Fatalf("after n1 with n2 draining: %s", n.Name)
	}
}

func TestLeastConnections(t *testing.T) {
	b := NewBalancer(LeastConnections)
	// n1 already holds 10 sessions (say, opened before the others
	// joined): the next 20 go to n2 and n3 until they catch up.
	v := View{Nodes: nodes("n1", "n2", "n3"), Sessions: map[string]int{"n1": 10}}
	got := spread(t, b, v, 20)
	if fmt.Sprint(got) != "map[n2:10 n3:10]" {
		t.Fatal(got)
	}
	got = spread(t, b, View{Nodes: nodes("n1", "n2", "n3")}, 301)
	for _, c := range got {
		if c < 100 || c > 101 {
			t.Fatal(got)
		}
	}
}

func TestWeighted(t *testing.T) {
	b := NewBalancer(Weighted)
	v := View{Nodes: nodes("n1 w=3", "n2", "n3", "n4 w=0")}
	if got := fmt.Sprint(spread(t, b, v, 300)); got != "map[n1:180 n2:60 n3:60]" {
		t.Fatal(got)
	}
	// Smooth: the heavy node's sessions are spread out, not in a row.
	b = NewBalancer(Weighted)
	var seq []string
	for range 5 {
		n, _, _ := b.Pick(View{Nodes: nodes("n1 w=3", "n2", "n3")})
		seq = append(seq, n.Name)
	}
	if s := strings.Join(seq, " "); s != "n1 n2 n1 n3 n1" {
		t.Fatal(s)
	}
	_, why, ok := NewBalancer(Weighted).Pick(View{Nodes: nodes("n1 w=0", "n2 state=draining", "n3 state=dead")})
	if ok || why != "n1 weight 0, n2 draining, n3 dead" {
		t.Fatalf("%v %q", ok, why)
	}
}

func TestHealthBased(t *testing.T) {
	b := NewBalancer(HealthBased)
	v := View{Nodes: nodes("n1 score=90", "n2 score=90", "n3 score=30", "n4 score=-1"), MinScore: 50}
	if got := fmt.Sprint(spread(t, b, v, 300)); got != "map[n1:150 n2:150]" {
		t.Fatal(got)
	}
	// Weighted by score: 80 and 40 share 2:1.
	v = View{Nodes: nodes("n1 score=80", "n2 score=40"), MinScore: 0}
	if got := fmt.Sprint(spread(t, NewBalancer(HealthBased), v, 300)); got != "map[n1:200 n2:100]" {
		t.Fatal(got)
	}
	_, why, ok := b.Pick(View{Nodes: nodes("n1 score=10", "n2"), MinScore: 50})
	if ok || why != "n1 health score 10 < lb_min_health_score 50, n2 health score unknown" {
		t.Fatalf("%v %q", ok, why)
	}
}

func TestPickDown(t *testing.T) {
	b := NewBalancer(RoundRobin)
	v := View{Nodes: nodes("n1", "n2"), Down: map[string]bool{"n1": true}}
	if got := fmt.Sprint(spread(t, b, v, 4)); got != "map[n2:4]" {
		t.Fatal(got)
	}
}

func TestParseMode(t *testing.T) {
	if m, err := ParseMode("weighted"); err != nil || m != Weighted {
		t.Fatal(m, err)
	}
	if _, err := ParseMode("random"); err == nil || !strings.Contains(err.Error(), "round_robin, least_connections, weighted, health_based") {
		t.Fatal(err)
	}
}
