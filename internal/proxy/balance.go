package proxy

import (
	"fmt"
	"sort"
	"strings"
)

// Mode is how the proxy picks a node for a new session.
type Mode string

// The modes of --mode.
const (
	// RoundRobin takes the eligible nodes in turn, by name.
	RoundRobin Mode = "round_robin"
	// LeastConnections takes the node with the fewest of this proxy's open
	// sessions (each proxy counts only its own).
	LeastConnections Mode = "least_connections"
	// Weighted shares sessions in proportion to each node's weight (ALTER
	// NODE … SET WEIGHT; 0: none).
	Weighted Mode = "weighted"
	// HealthBased takes only nodes whose health score is at least
	// lb_min_health_score, in proportion to the score.
	HealthBased Mode = "health_based"
)

// Modes lists the modes, for usage messages.
var Modes = []Mode{RoundRobin, LeastConnections, Weighted, HealthBased}

// ParseMode reads a --mode value.
func ParseMode(s string) (Mode, error) {
	for _, m := range Modes {
		if string(m) == s {
			return m, nil
		}
	}
	names := make([]string, len(Modes))
	for i, m := range Modes {
		names[i] = string(m)
	}
	return "", fmt.Errorf("--mode must be one of %s, got %q", strings.Join(names, ", "), s)
}

// Node is what the proxy knows of one cluster member, from
// cairn_cluster.nodes (and cairn_cluster.health for Score).
type Node struct {
	Name   string
	Addr   string // its PostgreSQL address (pg_address)
	Role   string // data | compute
	State  string // live, suspect, dead, draining, offline, …
	Weight int64
	Score  int64 // health score 0-100; -1 unknown
}

// View is what one decision looks at.
type View struct {
	Nodes    []Node         // sorted by name
	Sessions map[string]int // this proxy's open sessions per node name
	Down     map[string]bool
	MinScore int64 // lb_min_health_score
}

// Balancer picks nodes for new sessions. It keeps what a mode carries
// from one decision to the next (where round robin stands, the smooth
// weighted round robin's running weights); it reads no clock and does no
// I/O. Not safe for concurrent use.
type Balancer struct {
	mode    Mode
	last    string           // the node picked last (round robin, ties)
	current map[string]int64 // smooth weighted round robin
}

// NewBalancer returns a balancer for mode.
func NewBalancer(mode Mode) *Balancer {
	return &Balancer{mode: mode, current: map[string]int64{}}
}

// ineligible says why node n may get no new session under b's mode
// ("" when it may).
func (b *Balancer) ineligible(v View, n Node) string {
	switch {
	case n.Role != "data":
		return n.Role + " node"
	case n.State != "live":
		return n.State
	case v.Down[n.Name]:
		return "unreachable from the proxy"
	}
	switch b.mode {
	case Weighted:
		if n.Weight <= 0 {
			return "weight 0"
		}
	case HealthBased:
		if n.Score < 0 {
			return "health score unknown"
		}
		if n.Score < v.MinScore {
			return fmt.Sprintf("health score %d < lb_min_health_score %d", n.Score, v.MinScore)
		}
	}
	return ""
}

// Pick returns the node for a new session, or ok false and why none
// may take it ("n1 draining, n2 dead, n3 weight 0").
func (b *Balancer) Pick(v View) (n Node, why string, ok bool) {
	var el []Node
	var reasons []string
	for _, x := range v.Nodes {
		if r := b.ineligible(v, x); r != "" {
			reasons = append(reasons, x.Name+" "+r)
			continue
		}
		el = append(el, x)
	}
	if len(el) == 0 {
		if len(reasons) == 0 {
			return Node{}, "the cluster lists no node", false
		}
		return Node{}, strings.Join(reasons, ", "), false
	}
	sort.Slice(el, func(i, j int) bool { return el[i].Name < el[j].Name })
	switch b.mode {
	case LeastConnections:
		n = b.fewest(v, el)
	case Weighted:
		n = b.smooth(el, func(x Node) int64 { return x.Weight })
	case HealthBased:
		n = b.smooth(el, func(x Node) int64 { return max(x.Score, 1) })
	default:
		n = b.after(el)
	}
	b.last = n.Name
	return n, "", true
}

// after is the first node (by name) after the last one picked, wrapping:
// a stable turn order even as nodes come and go.
func (b *Balancer) after(el []Node) Node {
	for _, x := range el {
		if x.Name > b.last {
			return x
		}
	}
	return el[0]
}

// fewest is the node with the fewest open sessions; ties go in turn.
func (b *Balancer) fewest(v View, el []Node) Node {
	least := -1
	var tied []Node
	for _, x := range el {
		c := v.Sessions[x.Name]
		switch {
		case least < 0 || c < least:
			least, tied = c, []Node{x}
		case c == least:
			tied = append(tied, x)
		}
	}
	return b.after(tied)
}

// smooth is smooth weighted round robin: every node gains its weight,
// the richest is picked and pays the total. Over any run of total-weight
// picks each node is picked exactly weight times, spread out evenly.
func (b *Balancer) smooth(el []Node, weight func(Node) int64) Node {
	total := int64(0)
	keep := map[string]int64{}
	best := -1
	for i, x := range el {
		w := weight(x)
		total += w
		keep[x.Name] = b.current[x.Name] + w
		if best < 0 || keep[x.Name] > keep[el[best].Name] {
			best = i
		}
	}
	keep[el[best].Name] -= total
	b.current = keep // nodes no longer eligible start again from 0
	return el[best]
}
