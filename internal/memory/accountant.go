package memory

import (
	"context"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Component names a part of a node's memory: the component label of
// cairn_memory_bytes. The components are disjoint, so they add up to
// the node's total (Usage.Total).
type Component string

// The components. BlockCache and MemTables are Pebble's, measured and
// (with cgo) outside the Go heap; ViewCache is measured once a view row
// cache is wired (SetGauge); Ingest is accounted by the router and the
// append handler with AdmitIngest and Reserve/Release; GoOther is the
// rest of the Go runtime's memory.
const (
	GoOther    Component = "go_other"
	BlockCache Component = "block_cache"
	MemTables  Component = "memtables"
	ViewCache  Component = "view_cache"
	Ingest     Component = "ingest"
)

// accounted are the components whose users reserve and release bytes.
var accounted = []Component{Ingest}

// Config configures an Accountant.
type Config struct {
	Node    string // this node's --node-id, for messages
	Budgets Budgets
	// SoftPercent and HardPercent of the limit are the admission
	// thresholds (defaults 75 and 90): above soft, new ingest waits;
	// above hard, or after MaxWait, it is refused with 53200.
	SoftPercent, HardPercent int
	// MaxWait is the longest an append waits for memory before it is
	// refused (default 2s).
	MaxWait time.Duration
	// BacklogBytesPerEvent makes the backlog rule: a view's events not
	// yet folded will need up to this much memory each once it folds
	// them (a new group's row; default 600, about what a row of a
	// count/sum view costs in memory). While the node's memory plus that
	// cost of the stream's furthest-behind view reaches the soft
	// threshold, an append waits for the view to catch up (up to MaxWait)
	// instead of piling up more backlog than the node could fold.
	BacklogBytesPerEvent uint64
	// ReadGo returns the Go runtime's memory in use (nil: runtime/metrics,
	// mapped memory less what was returned to the OS). Tests replace it.
	ReadGo func() uint64
	// OnDelay and OnRefuse, if set, count admissions that waited and
	// that were refused (cairn_backpressure_total).
	OnDelay, OnRefuse func()
}

// Usage is one sample of a node's memory, by component.
type Usage struct {
	Total uint64
	By    map[Component]uint64
	At    time.Time
}

// gauge measures a component: fn returns its bytes; inGo says whether
// they are part of the Go runtime's memory (then GoOther excludes them).
type gauge struct {
	fn   func() uint64
	inGo bool
}

// Accountant is a node's memory accountant: it samples the memory of
// each component, holds the budgets, and admits ingest (AdmitIngest)
// under the thresholds. Safe for concurrent use.
type Accountant struct {
	cfg        Config
	soft, hard uint64                      // the thresholds, in bytes
	used       map[Component]*atomic.Int64 // accounted components
	last       atomic.Pointer[Usage]

	mu struct {
		sync.Mutex
		gauges  map[Component]gauge
		changed chan struct{} // closed when memory may have been freed
	}
}

// New returns an accountant for cfg.
func New(cfg Config) *Accountant {
	if cfg.SoftPercent <= 0 {
		cfg.SoftPercent = 75
	}
	if cfg.HardPercent <= 0 {
		cfg.HardPercent = 90
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 2 * time.Second
	}
	if cfg.BacklogBytesPerEvent == 0 {
		cfg.BacklogBytesPerEvent = 600
	}
	if cfg.ReadGo == nil {
		cfg.ReadGo = readGo
	}
	a := &Accountant{cfg: cfg, used: map[Component]*atomic.Int64{}}
	a.soft = cfg.Budgets.Limit / 100 * uint64(cfg.SoftPercent)
	a.hard = cfg.Budgets.Limit / 100 * uint64(cfg.HardPercent)
	for _, c := range accounted {
		a.used[c] = new(atomic.Int64)
	}
	a.mu.gauges = map[Component]gauge{}
	a.mu.changed = make(chan struct{})
	return a
}

// Budgets returns the budgets the accountant keeps to.
func (a *Accountant) Budgets() Budgets { return a.cfg.Budgets }

// Limit is the node's memory limit in bytes.
func (a *Accountant) Limit() uint64 { return a.cfg.Budgets.Limit }

// SetGauge makes fn the measure of component c (BlockCache, MemTables,
// ViewCache); inGo says its bytes are Go heap, so GoOther leaves them
// out. fn is called on every Sample and must be cheap.
func (a *Accountant) SetGauge(c Component, inGo bool, fn func() uint64) {
	a.mu.Lock()
	a.mu.gauges[c] = gauge{fn: fn, inGo: inGo}
	a.mu.Unlock()
}

// Reserve accounts n more bytes to an accounted component (Ingest) and
// Release gives them back. Reserve does not refuse: AdmitIngest does.
func (a *Accountant) Reserve(c Component, n int64) { a.used[c].Add(n) }

// Release gives back n bytes reserved on c and wakes waiting admissions.
func (a *Accountant) Release(c Component, n int64) {
	a.used[c].Add(-n)
	a.wake()
}

// Reserved is what component c has reserved now.
func (a *Accountant) Reserved(c Component) int64 { return a.used[c].Load() }

func (a *Accountant) wake() {
	a.mu.Lock()
	close(a.mu.changed)
	a.mu.changed = make(chan struct{})
	a.mu.Unlock()
}

func (a *Accountant) changed() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.mu.changed
}

// Sample measures every component now and keeps the result for Usage.
func (a *Accountant) Sample() Usage {
	a.mu.Lock()
	gauges := make(map[Component]gauge, len(a.mu.gauges))
	for c, g := range a.mu.gauges {
		gauges[c] = g
	}
	a.mu.Unlock()
	u := Usage{By: make(map[Component]uint64, 5), At: time.Now()}
	goMem := a.cfg.ReadGo()
	inGo := uint64(0)
	for c, g := range gauges {
		v := g.fn()
		u.By[c] = v
		if g.inGo {
			inGo += v
		} else {
			u.Total += v
		}
	}
	for _, c := range accounted {
		v := uint64(max(0, a.used[c].Load()))
		u.By[c] = v
		inGo += v
	}
	u.By[GoOther] = goMem - min(goMem, inGo)
	u.Total += max(goMem, inGo)
	a.last.Store(&u)
	a.wake()
	return u
}

// Usage is the last sample (Run keeps it fresh), or a new one.
func (a *Accountant) Usage() Usage {
	if u := a.last.Load(); u != nil {
		return *u
	}
	return a.Sample()
}

// Run samples every interval until ctx ends.
func (a *Accountant) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		a.Sample()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pressure is how the node stands against its thresholds.
type Pressure int

// The pressures: below the soft threshold, between soft and hard, above hard.
const (
	Normal Pressure = iota
	Soft
	Hard
)

// Pressure is the node's pressure in the last sample.
func (a *Accountant) Pressure() Pressure {
	t := a.Usage().Total
	switch {
	case t >= a.hard:
		return Hard
	case t >= a.soft:
		return Soft
	}
	return Normal
}

// Admission is the outcome of one AdmitIngest.
type Admission struct {
	Delayed bool          // it waited for memory or for the ingest budget
	Waited  time.Duration // how long
	n       int64
	a       *Accountant
	once    sync.Once
}

// Release gives the admitted bytes back; call it once the append is
// acknowledged or failed. Safe to call more than once, and on nil.
func (ad *Admission) Release() {
	if ad == nil {
		return
	}
	ad.once.Do(func() { ad.a.Release(Ingest, ad.n) })
}

// Lagging reports the view of the stream being written that is furthest
// behind: how many events, and a sentence naming it for a refusal's hint
// (0 and "" when every view is caught up).
type Lagging func() (events int64, hint string)

// AdmitIngest admits an append of n bytes. Under the soft threshold,
// with the ingest budget not used up (or nothing in flight) and no view
// of the stream too far behind (the backlog rule,
// Config.BacklogBytesPerEvent), it
// is admitted at once. Otherwise it waits for memory to be freed, the
// appends in flight to finish or the view to catch up, up to MaxWait:
// the client sees a slower acknowledgement. Above the hard threshold, or
// after MaxWait, it is refused with 53200 out_of_memory, a retryable
// error whose hint names the lagging view when there is one.
func (a *Accountant) AdmitIngest(ctx context.Context, n int64, lagging Lagging) (*Admission, error) {
	start := time.Now()
	deadline := start.Add(a.cfg.MaxWait)
	delayed := false
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		ch := a.changed()
		u := a.Usage()
		pending := a.used[Ingest].Load()
		fits := pending == 0 || uint64(pending+n) <= a.cfg.Budgets.Ingest
		behind := false
		if lagging != nil {
			ev, _ := lagging()
			behind = a.backlogShort(u, ev)
		}
		switch {
		case u.Total >= a.hard:
			return nil, a.refuse(u, pending, lagging, false)
		case u.Total < a.soft && fits && !behind:
			a.used[Ingest].Add(n)
			return &Admission{Delayed: delayed, Waited: time.Since(start), n: n, a: a}, nil
		}
		now := time.Now()
		if !now.Before(deadline) {
			return nil, a.refuse(u, pending, lagging, true)
		}
		if !delayed {
			delayed = true
			if a.cfg.OnDelay != nil {
				a.cfg.OnDelay()
			}
		}
		// Wake on a release or a new sample, or after a short poll.
		wait := min(deadline.Sub(now), 20*time.Millisecond)
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-ch:
		case <-timer.C:
		}
	}
}

// backlog is what folding ev events may cost.
func (a *Accountant) backlog(ev int64) uint64 {
	return uint64(max(0, ev)) * a.cfg.BacklogBytesPerEvent
}

// backlogShort says the node's memory, plus what folding a backlog of ev
// events may cost, reaches the soft threshold.
func (a *Accountant) backlogShort(u Usage, ev int64) bool {
	return ev > 0 && u.Total+a.backlog(ev) >= a.soft
}

func (a *Accountant) refuse(u Usage, pending int64, lagging Lagging, waited bool) error {
	if a.cfg.OnRefuse != nil {
		a.cfg.OnRefuse()
	}
	var ev int64
	why := ""
	if lagging != nil {
		if ev, why = lagging(); why != "" {
			why = " " + why
		}
	}
	var e *pgerr.Error
	switch {
	case u.Total < a.soft && a.backlogShort(u, ev):
		e = pgerr.IngestBacklog.New(ev, Format(a.backlog(ev)), a.cfg.Node, Format(u.Total), Format(a.cfg.Budgets.Limit), why)
	case u.Total < a.soft:
		e = pgerr.IngestBudgetFull.New(a.cfg.Node, Format(uint64(max(0, pending))), Format(a.cfg.Budgets.Ingest), a.cfg.MaxWait, why)
	default:
		e = pgerr.IngestMemoryShort.New(a.cfg.Node, Format(u.Total), Format(a.cfg.Budgets.Limit), why)
	}
	if waited {
		e = e.WithDetail("The write waited %s.", a.cfg.MaxWait)
	}
	return e
}

// goSamples are the runtime/metrics readGo uses: the live heap, and the
// runtime's memory less the heap's (stacks, GC metadata, buffers).
var goSamples = []string{"/gc/heap/live:bytes", "/memory/classes/total:bytes",
	"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes", "/memory/classes/heap/released:bytes"}

// readGo is the Go memory in use: the heap live at the last GC plus what
// the runtime holds outside the heap. Garbage does not count: with
// GOGC=400 the heap fills with it up to the Go memory limit
// (Budgets.GoLimit), where the GC collects it, so mapped memory says
// little about what the node needs.
func readGo() uint64 {
	s := make([]metrics.Sample, len(goSamples))
	for i, n := range goSamples {
		s[i].Name = n
	}
	metrics.Read(s)
	v := make([]uint64, len(s))
	for i := range s {
		if s[i].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		v[i] = s[i].Value.Uint64()
	}
	heap := v[2] + v[3] + v[4] + v[5]
	return v[0] + v[1] - min(v[1], heap)
}
