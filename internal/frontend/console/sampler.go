package console

import (
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// The metrics the charts are drawn from (internal/metrics).
const (
	ingestMetric  = "cairn_events_ingested_total"       // counter, by stream
	commitMetric  = "cairn_raft_commit_latency_seconds" // histogram, by group kind
	lagEvMetric   = "cairn_view_lag_events"             // gauge, by view
	lagSecMetric  = "cairn_view_lag_seconds"            // gauge, by view
	viewLabelName = "view"
)

// Series are the charts' points, oldest first, one per sample.
type Series struct {
	At           []int64   `json:"at"`             // unix milliseconds
	EventsPerSec []float64 `json:"events_per_sec"` // events acknowledged by this node
	CommitAvgMS  []float64 `json:"commit_avg_ms"`  // mean Raft commit latency over the interval
	CommitP99MS  []float64 `json:"commit_p99_ms"`  // its 99th percentile (bucket bound)
}

// point is one sample's derived values.
type point struct {
	at                 time.Time
	rate, avgMS, p99MS float64
}

// totals are the raw counters of one gather.
type totals struct {
	at      time.Time
	ingest  float64
	count   uint64
	sum     float64
	buckets map[float64]uint64 // upper bound → cumulative count
}

// sampler keeps the last n points of the node's counters in a ring.
type sampler struct {
	g prometheus.Gatherer
	n int

	mu struct {
		sync.Mutex
		prev   *totals
		points []point // ring, at most n, oldest first after rotate
		lag    map[string]Lag
	}
}

func newSampler(g prometheus.Gatherer, n int) *sampler { return &sampler{g: g, n: n} }

// sample gathers once and appends a point (rates against the last gather).
func (s *sampler) sample(now time.Time) {
	if s.g == nil {
		return
	}
	fams, err := s.g.Gather()
	if err != nil && len(fams) == 0 {
		return
	}
	cur := &totals{at: now, buckets: map[float64]uint64{}}
	lag := map[string]Lag{}
	for _, f := range fams {
		switch f.GetName() {
		case ingestMetric:
			for _, m := range f.GetMetric() {
				cur.ingest += m.GetCounter().GetValue()
			}
		case commitMetric:
			for _, m := range f.GetMetric() {
				h := m.GetHistogram()
				cur.count += h.GetSampleCount()
				cur.sum += h.GetSampleSum()
				for _, b := range h.GetBucket() {
					cur.buckets[b.GetUpperBound()] += b.GetCumulativeCount()
				}
			}
		case lagEvMetric, lagSecMetric:
			for _, m := range f.GetMetric() {
				v := label(m, viewLabelName)
				l := lag[v]
				if f.GetName() == lagEvMetric {
					l.Events = m.GetGauge().GetValue()
				} else {
					l.Seconds = m.GetGauge().GetValue()
				}
				lag[v] = l
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.lag = lag
	prev := s.mu.prev
	s.mu.prev = cur
	if prev == nil {
		return
	}
	s.mu.points = append(s.mu.points, derive(prev, cur))
	if len(s.mu.points) > s.n {
		s.mu.points = s.mu.points[len(s.mu.points)-s.n:]
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// derive is the point between two gathers: the ingest rate, and the mean
// and 99th percentile of the commits that finished in between (0 when
// none did). A counter that went back (a restart) counts from zero.
func derive(prev, cur *totals) point {
	p := point{at: cur.at}
	dt := cur.at.Sub(prev.at).Seconds()
	if dt > 0 {
		d := cur.ingest - prev.ingest
		if d < 0 {
			d = cur.ingest
		}
		p.rate = d / dt
	}
	if cur.count > prev.count {
		n := cur.count - prev.count
		p.avgMS = (cur.sum - prev.sum) / float64(n) * 1000
		want := uint64(math.Ceil(float64(n) * 0.99))
		best := math.Inf(1)
		for ub, c := range cur.buckets {
			if c-prev.buckets[ub] >= want && ub < best {
				best = ub
			}
		}
		if !math.IsInf(best, 1) {
			p.p99MS = best * 1000
		} else {
			p.p99MS = p.avgMS // beyond the last bucket: the mean is all we know
		}
	}
	return p
}

// series returns the points and the latest view lags.
func (s *sampler) series() (Series, map[string]Lag) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Series{At: []int64{}, EventsPerSec: []float64{}, CommitAvgMS: []float64{}, CommitP99MS: []float64{}}
	for _, p := range s.mu.points {
		out.At = append(out.At, p.at.UnixMilli())
		out.EventsPerSec = append(out.EventsPerSec, round(p.rate))
		out.CommitAvgMS = append(out.CommitAvgMS, round(p.avgMS))
		out.CommitP99MS = append(out.CommitP99MS, round(p.p99MS))
	}
	lag := make(map[string]Lag, len(s.mu.lag))
	for k, v := range s.mu.lag {
		lag[k] = v
	}
	return out, lag
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }
