package metrics

import "github.com/prometheus/client_golang/prometheus"

// Sched holds the collectors of the scheduled views this node owns
// (issue 13). Like Metrics, every method is safe on a nil *Sched.
type Sched struct {
	// Lag is, per scheduled view owned here, the age of the oldest event
	// its owner has not folded yet (0 when caught up): the autoscaling
	// signal of compute nodes.
	Lag *prometheus.GaugeVec
	// Owned is the number of scheduled views this node runs.
	Owned prometheus.Gauge
	// Checkpoints counts checkpoint attempts by outcome: committed,
	// failed (a write or the commit failed; retried), fenced (another
	// owner took over: this one stopped).
	Checkpoints *prometheus.CounterVec
	// CheckpointBytes counts the object bytes of committed checkpoints.
	CheckpointBytes prometheus.Counter
}

// Checkpoint outcomes, the values of cairn_checkpoints_total's label.
const (
	CheckpointCommitted = "committed"
	CheckpointFailed    = "failed"
	CheckpointFenced    = "fenced"
)

// NewSched registers the scheduled-view collectors in m's registry.
func (m *Metrics) NewSched() *Sched {
	if m == nil {
		return nil
	}
	s := &Sched{
		Lag:             defSchedLag.gaugeVec(),
		Owned:           defSchedOwned.gauge(),
		Checkpoints:     defCheckpoints.counterVec(),
		CheckpointBytes: defCheckpointBytes.counter(),
	}
	m.Registry.MustRegister(s.Lag, s.Owned, s.Checkpoints, s.CheckpointBytes)
	for _, o := range []string{CheckpointCommitted, CheckpointFailed, CheckpointFenced} {
		s.Checkpoints.WithLabelValues(o)
	}
	return s
}

// SetLag records a scheduled view's lag.
func (s *Sched) SetLag(view string, seconds float64) {
	if s != nil {
		s.Lag.WithLabelValues(view).Set(seconds)
	}
}

// DropView removes the lag series of a view this node no longer owns.
func (s *Sched) DropView(view string) {
	if s != nil {
		s.Lag.DeleteLabelValues(view)
	}
}

// SetOwned records how many scheduled views this node runs.
func (s *Sched) SetOwned(n int) {
	if s != nil {
		s.Owned.Set(float64(n))
	}
}

// Checkpoint counts one checkpoint attempt; bytes only when committed.
func (s *Sched) Checkpoint(outcome string, bytes int64) {
	if s == nil {
		return
	}
	s.Checkpoints.WithLabelValues(outcome).Inc()
	if outcome == CheckpointCommitted {
		s.CheckpointBytes.Add(float64(bytes))
	}
}
