package metrics

import "github.com/prometheus/client_golang/prometheus"

// secProxy is the docs' and dashboard's section of `cairn proxy`'s
// metrics, which the proxy serves on its own --http-addr.
const secProxy = "Proxy (cairn proxy, on its own --http-addr)"

var (
	defProxySessions     = define(secProxy, Gauge, "cairn_proxy_sessions", "Client sessions this proxy holds open, by the node they were routed to.", "backend")
	defProxyRouted       = define(secProxy, Counter, "cairn_proxy_sessions_routed_total", "Client sessions this proxy routed, by the node it picked.", "backend")
	defProxyDecisions    = define(secProxy, Counter, "cairn_proxy_routing_decisions_total", "Routing decisions by mode and outcome (routed; no_backend: the client got 57P03; retried: the picked node failed and another was tried).", "mode", "outcome")
	defProxyBackendFails = define(secProxy, Counter, "cairn_proxy_backend_failures_total", "Failures to reach a node for a new session, by node and reason (dial, timeout).", "backend", "reason")
	defProxyDrainCloses  = define(secProxy, Counter, "cairn_proxy_drain_closes_total", "Idle sessions the proxy closed (57P01) because their node is draining, by node.", "backend")
	defProxyRefreshFails = define(secProxy, Counter, "cairn_proxy_membership_refresh_failures_total", "Membership reads in which no known node answered (the proxy routes by the last membership it read).")
	defProxyEligible     = define(secProxy, Gauge, "cairn_proxy_eligible_nodes", "Nodes that may get new sessions under the proxy's mode, as of the last membership read.")
)

// Proxy is the metrics of `cairn proxy` (issue 15), in a registry of its
// own: open sessions by backend, sessions routed, routing decisions by
// mode and outcome, backend failures by reason, sessions closed because
// their node drains, and membership reads that failed.
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
		Registry:      prometheus.NewRegistry(),
		Sessions:      defProxySessions.gaugeVec(),
		Routed:        defProxyRouted.counterVec(),
		Decisions:     defProxyDecisions.counterVec(),
		BackendFails:  defProxyBackendFails.counterVec(),
		DrainCloses:   defProxyDrainCloses.counterVec(),
		RefreshFails:  defProxyRefreshFails.counter(),
		EligibleNodes: defProxyEligible.gauge(),
	}
	p.Registry.MustRegister(p.Sessions, p.Routed, p.Decisions, p.BackendFails, p.DrainCloses, p.RefreshFails, p.EligibleNodes)
	return p
}
