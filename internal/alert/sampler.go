package alert

import (
	"math"
	"runtime"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// GroupState is one of this node's raft replicas, as the sampler needs it.
type GroupState struct {
	ID       uint64
	IsLeader bool
	Commit   uint64
	Match    map[uint64]uint64 // leader only: each replica's replicated index
}

// SamplerConfig says where a Sampler reads its inputs.
type SamplerConfig struct {
	Self    uint64 // this node's raft id (left out of its own follower lags)
	DataDir string // the file system whose space is reported
	// Memory is the memory in use and the limit (--max-memory).
	Memory func() (used, limit uint64)
	// Fsync is the storage-sync latency histogram (cumulative, seconds);
	// nil: no fsync figure.
	Fsync interface{ Write(*dto.Metric) error }
	// Groups lists this node's replicas.
	Groups func() []GroupState
	// Counts are the elections this node's replicas started and the
	// leader changes they saw since the process started (the
	// cairn_raft_elections_total and cairn_raft_leader_changes_total
	// counters); nil: none reported.
	Counts func() (elections, leaderChanges uint64)
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// rttKeep is how long a heartbeat round trip counts towards RTTMs.
const rttKeep = 5 * time.Second

// lagHistory bounds the commit history kept per led group.
const lagHistory = 128

// commitAt is when a led group's commit index reached a value.
type commitAt struct {
	at     time.Time
	commit uint64
}

// Sampler measures this node's Report. Sample is called periodically
// (each heartbeat); the rest is safe to call from anywhere.
type Sampler struct {
	cfg SamplerConfig

	mu struct {
		sync.Mutex
		last       Report
		cpuAt      time.Time
		cpuUsed    time.Duration
		fsyncCount []uint64 // cumulative bucket counts at the last sample
		fsyncTotal uint64   // and the count of syncs
		rtt        map[uint64]rttSample
		commits    map[uint64][]commitAt // led group -> commit history, oldest first
	}
}

type rttSample struct {
	at time.Time
	d  time.Duration
}

// NewSampler returns a sampler; its first Sample measures CPU from now.
func NewSampler(cfg SamplerConfig) *Sampler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Sampler{cfg: cfg}
	s.mu.rtt = map[uint64]rttSample{}
	s.mu.commits = map[uint64][]commitAt{}
	s.mu.cpuAt, s.mu.cpuUsed = cfg.Now(), cpuTime()
	return s
}

// ObserveRTT records a heartbeat round trip to peer.
func (s *Sampler) ObserveRTT(peer uint64, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.rtt[peer] = rttSample{at: s.cfg.Now(), d: d}
}

// Last returns the last sampled report (zero before the first Sample).
func (s *Sampler) Last() Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.last
}

// Sample measures a new report and keeps it.
func (s *Sampler) Sample() Report {
	now := s.cfg.Now()
	groups := []GroupState(nil)
	if s.cfg.Groups != nil {
		groups = s.cfg.Groups()
	}
	r := Report{At: now.UnixMicro(), DiskUsedPct: diskUsedPct(s.cfg.DataDir)}
	if s.cfg.Memory != nil {
		if used, limit := s.cfg.Memory(); limit > 0 {
			r.MemPct = round1(100 * float64(used) / float64(limit))
		}
	}
	var fsync dto.Metric
	haveFsync := s.cfg.Fsync != nil && s.cfg.Fsync.Write(&fsync) == nil && fsync.Histogram != nil

	s.mu.Lock()
	defer s.mu.Unlock()
	used := cpuTime()
	if wall := now.Sub(s.mu.cpuAt); wall > 0 {
		r.CPUPct = round1(100 * float64(used-s.mu.cpuUsed) / float64(wall) / float64(runtime.NumCPU()))
	}
	s.mu.cpuAt, s.mu.cpuUsed = now, used
	if haveFsync {
		r.FsyncP99Ms = s.fsyncP99Locked(fsync.Histogram)
	}
	var sum time.Duration
	n := 0
	for id, x := range s.mu.rtt {
		if now.Sub(x.at) > rttKeep {
			delete(s.mu.rtt, id)
			continue
		}
		sum += x.d
		n++
	}
	if n > 0 {
		r.RTTMs = round1(float64(sum) / float64(n) / float64(time.Millisecond))
	}
	s.lagsLocked(now, groups, &r)
	if s.cfg.Counts != nil {
		r.Elections, r.LeaderChanges = s.cfg.Counts()
	}
	s.mu.last = r
	return r
}

// fsyncP99Locked is the 99th percentile of the syncs since the last
// sample: the upper bound of the bucket it falls in (0: no sync; syncs
// beyond the last bucket report its bound).
func (s *Sampler) fsyncP99Locked(h *dto.Histogram) float64 {
	bs := h.GetBucket()
	counts := make([]uint64, len(bs))
	for i, b := range bs {
		counts[i] = b.GetCumulativeCount()
	}
	prev, prevTotal := s.mu.fsyncCount, s.mu.fsyncTotal
	s.mu.fsyncCount, s.mu.fsyncTotal = counts, h.GetSampleCount()
	if len(prev) != len(counts) {
		prev, prevTotal = make([]uint64, len(counts)), 0
	}
	syncs := h.GetSampleCount() - prevTotal
	if syncs == 0 || len(bs) == 0 {
		return 0
	}
	want := uint64(math.Ceil(0.99 * float64(syncs)))
	for i, b := range bs {
		if counts[i]-prev[i] >= want {
			return round1(b.GetUpperBound() * 1000)
		}
	}
	return round1(bs[len(bs)-1].GetUpperBound() * 1000)
}

// lagsLocked fills r's follower and group lags from the groups this node
// leads.
func (s *Sampler) lagsLocked(now time.Time, groups []GroupState, r *Report) {
	led := map[uint64]bool{}
	for _, g := range groups {
		if !g.IsLeader {
			continue
		}
		led[g.ID] = true
		h := s.mu.commits[g.ID]
		if len(h) == 0 || h[len(h)-1].commit < g.Commit {
			h = append(h, commitAt{at: now, commit: g.Commit})
			if len(h) > lagHistory {
				h = h[len(h)-lagHistory:]
			}
			s.mu.commits[g.ID] = h
		}
		for id, match := range g.Match {
			if id == s.cfg.Self || match >= g.Commit {
				continue
			}
			// Behind since the commit index first passed match.
			since := h[0].at
			for _, c := range h {
				if c.commit > match {
					since = c.at
					break
				}
			}
			lag := now.Sub(since).Milliseconds()
			if lag <= 0 {
				continue
			}
			if r.FollowerLagMs == nil {
				r.FollowerLagMs, r.GroupLagMs = map[uint64]int64{}, map[uint64]int64{}
			}
			r.FollowerLagMs[id] = max(r.FollowerLagMs[id], lag)
			r.GroupLagMs[g.ID] = max(r.GroupLagMs[g.ID], lag)
		}
	}
	for id := range s.mu.commits {
		if !led[id] {
			delete(s.mu.commits, id)
		}
	}
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// cpuTime is the CPU time this process used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// diskUsedPct is the share of dir's file system in use, as df counts it
// (blocks reserved for root count as unavailable).
func diskUsedPct(dir string) float64 {
	if dir == "" {
		return 0
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	used := float64(st.Blocks - st.Bfree)
	avail := float64(st.Bavail)
	if used+avail <= 0 {
		return 0
	}
	return round1(100 * used / (used + avail))
}

// Book keeps the last report heard from every node. Safe for concurrent
// use.
type Book struct {
	mu struct {
		sync.Mutex
		reports map[uint64]Report
	}
}

// Put records node id's report (an older one than kept is ignored).
func (b *Book) Put(id uint64, r Report) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.reports == nil {
		b.mu.reports = map[uint64]Report{}
	}
	if old, ok := b.mu.reports[id]; ok && old.At > r.At {
		return
	}
	b.mu.reports[id] = r
}

// All returns a copy of the reports, by node id.
func (b *Book) All() map[uint64]Report {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[uint64]Report, len(b.mu.reports))
	for id, r := range b.mu.reports {
		out[id] = r
	}
	return out
}
