package exec

import (
	"fmt"

	"github.com/cairndb/cairn/internal/sql/exec/agg"
)

// OrderDependence says why the view's result could depend on the order
// its events are folded in, or on which stream shard holds them ("" when
// it cannot): a stream with on_shard_unavailable = 'reroute' folds a
// rerouted event later than its neighbours, from another shard
// (router/reroute.go). count, sum, min, max and avg merge the same way
// whatever the order; windows, expiring groups and the other aggregates
// are refused rather than reasoned about one by one.
func (v *ViewPlan) OrderDependence() string {
	switch {
	case v.win != nil:
		return "its window closes by time, and a rerouted event may arrive after it closed"
	case v.ttl != nil:
		return "its groups expire (ttl), and a rerouted event may arrive after its group expired"
	case v.join != nil:
		return "a join looks rows up when an event is folded"
	}
	for _, a := range v.aggs {
		switch a.Kind {
		case agg.CountStar, agg.Count, agg.Sum, agg.Min, agg.Max, agg.Avg:
			if !a.Distinct {
				continue
			}
		}
		what := a.Func
		if a.Distinct {
			what += "(DISTINCT …)"
		}
		return fmt.Sprintf("aggregate %s is not one of count, sum, min, max, avg", what)
	}
	return ""
}
