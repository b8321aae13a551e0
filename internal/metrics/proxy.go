package metrics

import "github.com/prometheus/client_golang/prometheus"

// Proxy is the metrics of `cairn proxy` (issue 15), on its own registry
// and --http-addr: open sessions by backend, sessions routed, routing
// decisions by mode and outcome, backend failures by reason, sessions
// closed because their node drains, and membership refreshes that failed.
type Proxy struct {
	Registry      *prometheus.Registry
	Sessions      *prometheus.GaugeVec
	Routed        *prometheus.CounterVec
	Decisions     *prometheus.CounterVec
	BackendFails  *prometheus.CounterVec
	DrainCloses   *prometheus.CounterVec
	RefreshFails  prometheus.Counter
	EligibleNodes prometheus.Gauge
}

// NewProxy makes the proxy's metrics in a new registry.
func NewProxy() *Proxy {
	p := &Proxy{
		Registry: prometheus.NewRegistry(),
		Sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "cairn_proxy_sessions",
			Help: "Client sessions this proxy holds open, by the node they were routed to.",
		}, []string{"backend"}),
		Routed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_proxy_sessions_routed_total",
			Help: "Client sessions this proxy routed, by the node it picked.",
		}, []string{"backend"}),
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_proxy_routing_decisions_total",
			Help: "Routing decisions by mode and outcome (routed; no_backend: the client got 57P03; retried: the picked node failed and another was tried).",
		}, []string{"mode", "outcome"}),
		BackendFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_proxy_backend_failures_total",
			Help: "Failures to reach a node for a new session, by node and reason (dial, timeout).",
		}, []string{"backend", "reason"}),
		DrainCloses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_proxy_drain_closes_total",
			Help: "Idle sessions the proxy closed (57P01) because their node is draining, by node.",
		}, []string{"backend"}),
		RefreshFails: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cairn_proxy_membership_refresh_failures_total",
			Help: "Membership refreshes in which no known node answered.",
		}),
		EligibleNodes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cairn_proxy_eligible_nodes",
			Help: "Nodes that may get new sessions under the proxy's mode, as of the last refresh.",
		}),
	}
	p.Registry.MustRegister(p.Sessions, p.Routed, p.Decisions, p.BackendFails, p.DrainCloses, p.RefreshFails, p.EligibleNodes)
	return p
}
