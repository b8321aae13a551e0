package metrics

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// PeerStates lists the liveness states reported by cairn_peers, always
// present (0 when no peer is in them).
var PeerStates = []string{"live", "suspect", "dead"}

// RegisterPeers registers cairn_peers{state}: f returns, at each scrape,
// how many other nodes this node sees in each state.
func (m *Metrics) RegisterPeers(f func() map[string]int) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(defPeers.vecFunc(prometheus.GaugeValue, func(emit func(float64, ...string)) {
		by := f()
		for _, s := range PeerStates {
			emit(float64(by[s]), s)
		}
		for _, s := range sortedKeys(by) {
			if !contains(PeerStates, s) {
				emit(float64(by[s]), s)
			}
		}
	}))
}

// OpKey is an operation type and status, a label set of cairn_operations.
type OpKey struct{ Type, Status string }

// RegisterOperations registers cairn_operations{type,status}: f returns,
// at each scrape, how many operations of the catalog have each type and
// status. Types and statuses are the catalog's fixed sets.
func (m *Metrics) RegisterOperations(f func() map[OpKey]int) {
	if m == nil {
		return
	}
	m.Registry.MustRegister(defOperations.vecFunc(prometheus.GaugeValue, func(emit func(float64, ...string)) {
		by := f()
		keys := make([]OpKey, 0, len(by))
		for k := range by {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].Type != keys[j].Type {
				return keys[i].Type < keys[j].Type
			}
			return keys[i].Status < keys[j].Status
		})
		for _, k := range keys {
			emit(float64(by[k]), k.Type, k.Status)
		}
	}))
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
