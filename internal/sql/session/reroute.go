package session

import (
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/parser"
)

// on_shard_unavailable (issue 15): see router/reroute.go and
// docs/reroute.md.

func init() {
	clusterSettings[catalog.RerouteAfter] = clusterSetting{checkDurationIn(catalog.RerouteAfter, 100*time.Millisecond, time.Minute),
		"how long a part of a batch for a stream with on_shard_unavailable = 'reroute' waits for its own shard before it goes to the next one"}
}

// optOnShardUnavailable reads WITH (on_shard_unavailable = …) into st.
func optOnShardUnavailable(o parser.Option, st *catalog.Stream) error {
	v, _ := optString(o)
	switch strings.ToLower(v) {
	case catalog.Wait:
		st.OnShardUnavailable = ""
	case catalog.Reroute:
		st.OnShardUnavailable = catalog.Reroute
	default:
		return pgerr.BadOnShardUnavailable.New(v).WithPos(o.P)
	}
	return nil
}

// checkRerouteStream refuses reroute on a stream with one shard: there
// is no other shard to go to.
func checkRerouteStream(st *catalog.Stream, with []parser.Option) error {
	if st.OnShardUnavailable != catalog.Reroute || st.Shards >= 2 {
		return nil
	}
	pos := 0
	for _, o := range with {
		if o.Key == "on_shard_unavailable" {
			pos = o.P
		}
	}
	return pgerr.RerouteOneShard.New(st.Shards).WithPos(pos)
}

// checkRerouteView refuses a view over a reroute stream whose result
// could depend on the order or the shard its events are folded in: a
// rerouted event is folded when its origin shard answers, in the shard
// it was rerouted to. plan is nil for a transform (accepted: it maps each
// event on its own); joined is set for a view that joins a table or
// another stream.
func checkRerouteView(name string, st *catalog.Stream, plan *exec.ViewPlan, joined bool, pos int) error {
	if st == nil || st.OnShardUnavailable != catalog.Reroute {
		return nil
	}
	why := ""
	switch {
	case plan == nil:
		// A transform maps each event on its own; the views over it are
		// checked with it (their plan includes the chain).
	case joined:
		why = "a join looks rows up when an event is folded"
	default:
		why = plan.OrderDependence()
	}
	if why == "" {
		return nil
	}
	return pgerr.RerouteViewOrder.New(name, st.Name, why).WithPos(pos)
}
