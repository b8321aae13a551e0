package alert

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestScore(t *testing.T) {
	healthy := Report{CPUPct: 10, MemPct: 30, DiskUsedPct: 40, FsyncP99Ms: 2, RTTMs: 1}
	for _, tc := range []struct {
		name  string
		state string
		r     Report
		lag   int64
		want  int
	}{
		{"healthy", "live", healthy, 0, 100},
		{"dead scores 0 whatever it reported", StateDead, healthy, 0, 0},
		{"suspect is capped", StateSuspect, healthy, 0, SuspectCap},
		// CPU at 75%: halfway between 50 and 100 → CPU 50 → 100 - 0.2*50.
		{"cpu 75%", "live", Report{CPUPct: 75}, 0, 90},
		{"cpu saturated", "live", Report{CPUPct: 100}, 0, 80},
		// Memory at 80% of --max-memory: halfway → 100 - 0.2*50.
		{"memory 80%", "live", Report{MemPct: 80}, 0, 90},
		// The disk is the worse of space and fsync: space 84% → 50;
		// fsync 255 ms → 50; both → still 50 → 100 - 0.25*50.
		{"disk space 84%", "live", Report{DiskUsedPct: 84}, 0, 88},
		{"fsync p99 255ms", "live", Report{FsyncP99Ms: 255}, 0, 88},
		{"disk full and slow", "live", Report{DiskUsedPct: 99, FsyncP99Ms: 900}, 0, 75},
		// RTT 505 ms: halfway between 10 and 1000 → 100 - 0.15*50.
		{"rtt 505ms", "live", Report{RTTMs: 505}, 0, 93},
		// Lag 15.5 s: halfway between 1 s and 30 s → 100 - 0.2*50.
		{"lag 15.5s", "live", Report{}, 15500, 90},
		{"everything bad", "live", Report{CPUPct: 100, MemPct: 100, DiskUsedPct: 100, FsyncP99Ms: 1000, RTTMs: 2000}, 60000, 0},
	} {
		if got := Score(tc.state, tc.r, tc.lag); got != tc.want {
			t.Errorf("%s: Score = %d, want %d (components %+v)", tc.name, got, tc.want, ComponentsOf(tc.r, tc.lag))
		}
	}
	if s := WeightCPU + WeightMemory + WeightDisk + WeightNetwork + WeightLag; s < 0.9999 || s > 1.0001 {
		t.Fatalf("weights sum to %v, want 1", s)
	}
}

func TestLagOf(t *testing.T) {
	reports := map[uint64]Report{
		1: {FollowerLagMs: map[uint64]int64{2: 300, 3: 5000}},
		2: {FollowerLagMs: map[uint64]int64{3: 7000}},
	}
	if got := LagOf(reports, 3); got != 7000 {
		t.Fatalf("LagOf(3) = %d, want the largest any leader reports, 7000", got)
	}
	if got := LagOf(reports, 1); got != 0 {
		t.Fatalf("LagOf(1) = %d, want 0", got)
	}
}

// TestSamplerLags drives the sampler with a fake clock and group states:
// a follower behind the commit index is lagging since the commit first
// passed its match.
func TestSamplerLags(t *testing.T) {
	now := time.Unix(1000, 0)
	var groups []GroupState
	s := NewSampler(SamplerConfig{Self: 1, Now: func() time.Time { return now }, Groups: func() []GroupState { return groups },
		Counts: func() (uint64, uint64) { return 4, 9 }})
	groups = []GroupState{{ID: 7, IsLeader: true, Commit: 10, Match: map[uint64]uint64{1: 10, 2: 10, 3: 10}}}
	r := s.Sample()
	if len(r.FollowerLagMs) != 0 || r.Elections != 4 || r.LeaderChanges != 9 {
		t.Fatalf("caught up: %+v", r)
	}
	now = now.Add(time.Second)
	groups = []GroupState{{ID: 7, IsLeader: true, Commit: 20, Match: map[uint64]uint64{1: 20, 2: 20, 3: 10}}}
	s.Sample()
	now = now.Add(1500 * time.Millisecond)
	groups = []GroupState{{ID: 7, IsLeader: true, Commit: 30, Match: map[uint64]uint64{1: 30, 2: 25, 3: 10}}}
	r = s.Sample()
	// n3 has been behind since commit 20 (1.5 s ago); n2 since commit 30 (now).
	if r.FollowerLagMs[3] != 1500 || r.GroupLagMs[7] != 1500 || r.FollowerLagMs[2] != 0 {
		t.Fatalf("lags %v / %v, want n3 1500 ms behind", r.FollowerLagMs, r.GroupLagMs)
	}
	// No longer leading: no lags reported.
	groups = []GroupState{{ID: 7, Commit: 30}}
	if r := s.Sample(); len(r.FollowerLagMs) != 0 {
		t.Fatalf("a follower reports lags: %v", r.FollowerLagMs)
	}
}

// TestSamplerFsync: the p99 covers the syncs since the last sample only.
func TestSamplerFsync(t *testing.T) {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x", Buckets: []float64{0.001, 0.01, 0.1, 1}})
	s := NewSampler(SamplerConfig{Fsync: h})
	if r := s.Sample(); r.FsyncP99Ms != 0 {
		t.Fatalf("no syncs: p99 %v", r.FsyncP99Ms)
	}
	for i := 0; i < 100; i++ {
		h.Observe(0.0005)
	}
	h.Observe(0.05)
	h.Observe(0.05)
	if r := s.Sample(); r.FsyncP99Ms != 100 {
		t.Fatalf("2 of 102 syncs in the 100 ms bucket: p99 %v, want 100", r.FsyncP99Ms)
	}
	for i := 0; i < 10; i++ {
		h.Observe(0.0005)
	}
	if r := s.Sample(); r.FsyncP99Ms != 1 {
		t.Fatalf("only fast syncs since: p99 %v, want 1", r.FsyncP99Ms)
	}
}

func TestSamplerMeasures(t *testing.T) {
	s := NewSampler(SamplerConfig{DataDir: t.TempDir(), Memory: func() (uint64, uint64) { return 250, 1000 }})
	s.ObserveRTT(2, 4*time.Millisecond)
	s.ObserveRTT(3, 8*time.Millisecond)
	r := s.Sample()
	if r.MemPct != 25 || r.RTTMs != 6 || r.DiskUsedPct <= 0 || r.DiskUsedPct > 100 || r.At == 0 {
		t.Fatalf("report %+v: want mem 25%%, rtt 6 ms, a disk share", r)
	}
}
