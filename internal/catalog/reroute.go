package catalog

// Values of a stream's on_shard_unavailable option (issue 15): Wait, the
// default, fails a write whose shard has no quorum after the append
// deadline; Reroute parks the part in the next shard (router/reroute.go).
const (
	Wait    = "wait"
	Reroute = "reroute"
)

// RerouteAfter is the cluster setting: how long a part of a reroute
// stream waits for its own shard before it goes to the next one.
const RerouteAfter = "reroute_after"

func init() { SettingDefaults[RerouteAfter] = "1s" }

// OnShardUnavailableText is the stream's on_shard_unavailable as
// cairn_cluster.streams shows it.
func (s *Stream) OnShardUnavailableText() string {
	if s.OnShardUnavailable == "" {
		return Wait
	}
	return s.OnShardUnavailable
}
