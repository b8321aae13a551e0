// Package alert holds the operator's health signals and alerts: the
// report every node measures about itself and sends with its heartbeats
// (Sampler), the health score computed from it (Score), the conditions
// an alert may watch (ParseCondition, Evaluate), and the evaluator that
// turns condition changes into webhook notifications delivered at least
// once (Evaluator, Deliver). Score, ParseCondition and Evaluate are pure;
// only the Sampler, the Evaluator and Deliver touch the clock, the disk
// or the network. docs/health.md and docs/alerts.md describe them for
// operators.
package alert

import "math"

// Report is what one node measured about itself, sent in every heartbeat
// (and kept by the others). Zero values mean "nothing measured yet" only
// where noted; a percentage is of the whole (0–100).
type Report struct {
	At          int64   `json:"at"`            // unix µs when sampled
	CPUPct      float64 `json:"cpu_pct"`       // this process's CPU time over the last interval, of all cores
	MemPct      float64 `json:"mem_pct"`       // memory in use against --max-memory (internal/memory)
	DiskUsedPct float64 `json:"disk_used_pct"` // space used on the data dir's file system
	FsyncP99Ms  float64 `json:"fsync_p99_ms"`  // 99th percentile of storage syncs over the last interval (0: none)
	RTTMs       float64 `json:"rtt_ms"`        // mean heartbeat round trip to the members that answered
	// FollowerLagMs and GroupLagMs come from the groups this node leads:
	// how long each follower has been behind the commit index (by node
	// id), and the largest such lag per group (by group id). Zero lags are
	// left out.
	FollowerLagMs map[uint64]int64 `json:"follower_lag_ms,omitempty"`
	GroupLagMs    map[uint64]int64 `json:"group_lag_ms,omitempty"`
	// Elections counts the elections this node's replicas started and
	// LeaderChanges the leader changes they saw, since the process
	// started (cairn_raft_elections_total, cairn_raft_leader_changes_total).
	Elections     uint64 `json:"elections"`
	LeaderChanges uint64 `json:"leader_changes"`
}

// A component's score is 100 at or below Good, 0 at or above Bad, and
// linear between.
type band struct{ Good, Bad float64 }

func (b band) score(v float64) float64 {
	switch {
	case math.IsNaN(v) || v <= b.Good:
		return 100
	case v >= b.Bad:
		return 0
	}
	return 100 * (b.Bad - v) / (b.Bad - b.Good)
}

// The bands and weights of the health score (docs/health.md).
var (
	cpuBand   = band{Good: 50, Bad: 100} // % of all cores
	memBand   = band{Good: 60, Bad: 100} // % of --max-memory
	spaceBand = band{Good: 70, Bad: 98}  // % of the data dir's file system
	fsyncBand = band{Good: 10, Bad: 500} // ms, p99
	rttBand   = band{Good: 10, Bad: 1000}
	lagBand   = band{Good: 1000, Bad: 30000} // ms
)

// Weights of the components; they sum to 1.
const (
	WeightCPU     = 0.20
	WeightMemory  = 0.20
	WeightDisk    = 0.25
	WeightNetwork = 0.15
	WeightLag     = 0.20
)

// Components are the per-component scores (0–100) behind a health score.
type Components struct {
	CPU, Memory, Disk, Network, Lag float64
}

// ComponentsOf scores each input: the disk's is the worse of space and
// fsync latency; lagMs is the largest lag of the node's replicas as
// their leaders report it.
func ComponentsOf(r Report, lagMs int64) Components {
	return Components{
		CPU:     cpuBand.score(r.CPUPct),
		Memory:  memBand.score(r.MemPct),
		Disk:    min(spaceBand.score(r.DiskUsedPct), fsyncBand.score(r.FsyncP99Ms)),
		Network: rttBand.score(r.RTTMs),
		Lag:     lagBand.score(float64(lagMs)),
	}
}

// Node liveness states that bound the score.
const (
	StateDead    = "dead"
	StateSuspect = "suspect"
)

// SuspectCap is the highest score of a suspect node.
const SuspectCap = 50

// Score is a node's health, 0–100: the weighted sum of its components,
// rounded; a dead node scores 0 and a suspect one at most SuspectCap.
func Score(state string, r Report, lagMs int64) int {
	if state == StateDead {
		return 0
	}
	c := ComponentsOf(r, lagMs)
	s := WeightCPU*c.CPU + WeightMemory*c.Memory + WeightDisk*c.Disk + WeightNetwork*c.Network + WeightLag*c.Lag
	score := int(math.Round(s))
	if state == StateSuspect {
		score = min(score, SuspectCap)
	}
	return max(0, min(100, score))
}

// LagOf is node id's replication lag: the largest lag any leader reports
// for it.
func LagOf(reports map[uint64]Report, id uint64) int64 {
	var lag int64
	for _, r := range reports {
		lag = max(lag, r.FollowerLagMs[id])
	}
	return lag
}
