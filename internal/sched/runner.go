// Package sched runs the scheduled views (issue 13) this node owns: for
// each view the catalog assigns here (View.Sched.Node) it loads the last
// committed checkpoint from the view's disk, folds the view's streams
// with the same view task as a Raft view (one shard, state in memory),
// checkpoints {offsets, window state, rows} to the disk every interval
// and commits each checkpoint with catalog.RecordCheckpoint, the only
// commit point. DESIGN.md explains the shape.
package sched

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/objstore"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/replica"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/types"
	"github.com/cairndb/cairn/internal/viewsm"
)

// DefaultInterval is the checkpoint interval of a view that names none.
const DefaultInterval = 5 * time.Second

// Timing holds the runner's intervals (zero fields: defaults).
type Timing struct {
	Poll     time.Duration // how often the catalog is looked at (also on Wake): 200 ms
	Lag      time.Duration // how often lag is measured: 1 s
	RetryMin time.Duration // first backoff of a retried load, checkpoint or task: 50 ms
	RetryMax time.Duration // largest backoff: 2 s
	// MaxPause and PausePerKey pace the view task (viewsm.TaskConfig).
	MaxPause, PausePerKey time.Duration
	// RejectWait bounds how long a refused RecordCheckpoint waits for
	// this node's catalog to say whether it was fenced or had already
	// committed that checkpoint (a retried proposal): 2 s.
	RejectWait time.Duration
	// IOTimeout bounds one attempt to open the disk, load a checkpoint or
	// write one (a stalled object store must not hold an owner forever):
	// 15 s.
	IOTimeout time.Duration
}

func (t Timing) withDefaults() Timing {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.Poll, 200*time.Millisecond)
	def(&t.Lag, time.Second)
	def(&t.RetryMin, 50*time.Millisecond)
	def(&t.RetryMax, 2*time.Second)
	def(&t.MaxPause, 40*time.Millisecond)
	def(&t.PausePerKey, 4*time.Microsecond)
	def(&t.RejectWait, 2*time.Second)
	def(&t.IOTimeout, 15*time.Second)
	return t
}

// Config wires a Runner to its node.
type Config struct {
	Self    uint64 // this node's raft id
	Catalog func() *catalog.Catalog
	// Disk opens a disk by name (disk.Registry.Get).
	Disk func(ctx context.Context, name string) (objstore.Store, error)
	// Propose proposes a catalog command (RecordCheckpoint).
	Propose func(ctx context.Context, c catalog.Command) (*catalog.Result, error)
	// Sources reads stream shards (router.StreamShards).
	Sources func(groups []uint64) viewsm.Source
	// Table reads the table a view joins (nil: such views fail).
	Table func(t *catalog.Table) exec.KeyedSource
	// StreamEnd is a stream shard's end offset (router.StreamEnd), for
	// lag; nil: lag is not measured.
	StreamEnd func(ctx context.Context, st *catalog.Stream, shard int) (uint64, error)
	Metrics   *metrics.Sched
	Logger    *slog.Logger
	Timing    Timing
}

// ViewStatus is one scheduled view as this node runs it.
type ViewStatus = rpc.SchedViewStatus

// Runner runs the scheduled views this node owns.
type Runner struct {
	cfg  Config
	t    Timing
	log  *slog.Logger
	ctx  context.Context
	wake chan struct{}
	wg   sync.WaitGroup

	mu struct {
		sync.Mutex
		owners map[uint64]*owner // by view id: the views this node runs
		// fenced is, per view id, the epoch at which a checkpoint of this
		// node was refused: no owner restarts at that epoch or before,
		// even while this node's catalog has not caught up yet.
		fenced map[uint64]uint64
	}
}

// New returns a runner whose owners end with ctx; Start starts it.
func New(ctx context.Context, cfg Config) *Runner {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	r := &Runner{cfg: cfg, t: cfg.Timing.withDefaults(), log: cfg.Logger, ctx: ctx, wake: make(chan struct{}, 1)}
	r.mu.owners = map[uint64]*owner{}
	r.mu.fenced = map[uint64]uint64{}
	return r
}

// Start starts the runner's loops.
func (r *Runner) Start() {
	r.wg.Add(2)
	go r.loop()
	go r.lagLoop()
}

// Wait waits, once the runner's context ended, for every owner to stop.
func (r *Runner) Wait() { r.wg.Wait() }

// Wake makes the runner look at the catalog now (it changed).
func (r *Runner) Wake() {
	if r == nil {
		return
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Runner) loop() {
	defer r.wg.Done()
	t := time.NewTicker(r.t.Poll)
	defer t.Stop()
	for {
		r.reconcile()
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
	}
}

// reconcile starts an owner for every scheduled view assigned here and
// stops those whose view moved (another node or epoch) or was dropped.
func (r *Runner) reconcile() {
	if r.ctx.Err() != nil {
		return
	}
	cat := r.cfg.Catalog()
	byID := map[uint64]*catalog.View{}
	for _, v := range cat.Views {
		byID[v.ID] = v
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, o := range r.mu.owners {
		v := byID[id]
		if v != nil && v.Sched != nil && v.Sched.Node == r.cfg.Self && v.Sched.Epoch == o.epoch {
			if v.Sched.Handoff {
				o.requestHandoff()
			}
			continue
		}
		// Moved, or dropped (its objects go with it: this was its last owner).
		o.stop(v == nil)
		delete(r.mu.owners, id)
		r.cfg.Metrics.DropView(o.v.Name)
	}
	for _, v := range cat.ScheduledViews() {
		s := v.Sched
		if s.Node != r.cfg.Self || s.Epoch == 0 || s.Epoch <= r.mu.fenced[v.ID] || r.mu.owners[v.ID] != nil {
			continue
		}
		o := newOwner(r, v)
		r.mu.owners[v.ID] = o
		if s.Handoff {
			o.requestHandoff()
		}
		r.wg.Add(1)
		go o.run()
	}
	r.cfg.Metrics.SetOwned(len(r.mu.owners))
}

// fence records that this node lost view id at epoch (a refused
// checkpoint) and stops its owner.
func (r *Runner) fence(id, epoch uint64) {
	dropped := true // refused because the view is gone: its objects go too
	for _, v := range r.cfg.Catalog().Views {
		if v.ID == id {
			dropped = false
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.mu.fenced[id] = max(r.mu.fenced[id], epoch)
	if o := r.mu.owners[id]; o != nil && o.epoch <= epoch {
		o.stop(dropped)
		delete(r.mu.owners, id)
		r.cfg.Metrics.DropView(o.v.Name)
	}
	r.cfg.Metrics.SetOwned(len(r.mu.owners))
}

// Owned returns the state of scheduled view id as this node runs it at
// epoch (0: whatever epoch), or nil when it does not (not the owner, or
// still loading the checkpoint).
func (r *Runner) Owned(id, epoch uint64) *viewsm.SM {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	o := r.mu.owners[id]
	r.mu.Unlock()
	if o == nil || (epoch != 0 && o.epoch != epoch) {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.mu.sm
}

// Status lists the scheduled views this node runs, by name.
func (r *Runner) Status() []ViewStatus {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	owners := make([]*owner, 0, len(r.mu.owners))
	for _, o := range r.mu.owners {
		owners = append(owners, o)
	}
	r.mu.Unlock()
	out := make([]ViewStatus, 0, len(owners))
	for _, o := range owners {
		out = append(out, o.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].View < out[j].View })
	return out
}

// lagLoop measures every owned view's lag (events not folded, the age
// of the oldest) for Status and cairn_scheduled_view_lag_seconds.
func (r *Runner) lagLoop() {
	defer r.wg.Done()
	if r.cfg.StreamEnd == nil {
		return
	}
	t := time.NewTicker(r.t.Lag)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		owners := make([]*owner, 0, len(r.mu.owners))
		for _, o := range r.mu.owners {
			owners = append(owners, o)
		}
		r.mu.Unlock()
		for _, o := range owners {
			o.measureLag()
		}
	}
}

// sleep waits d, or less when ctx ends (false then).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// owner runs one scheduled view at one epoch.
type owner struct {
	r      *Runner
	v      *catalog.View // as assigned
	epoch  uint64
	ctx    context.Context
	cancel context.CancelFunc

	handoffOnce sync.Once
	handoff     chan struct{} // closed: hand the view off (final checkpoint, stop folding)

	mu struct {
		sync.Mutex
		sm      *viewsm.SM    // nil until the checkpoint is loaded
		src     viewsm.Source // the task's source, for lag
		running bool          // the task folds
		dropped bool          // the view was dropped: delete its objects on the way out
		err     string
		ckSeq   uint64
		ckAt    int64
		ckOffs  []uint64
		lag     float64
		behind  int64
	}
}

func newOwner(r *Runner, v *catalog.View) *owner {
	o := &owner{r: r, v: v, epoch: v.Sched.Epoch, handoff: make(chan struct{})}
	o.ctx, o.cancel = context.WithCancel(r.ctx)
	return o
}

func (o *owner) requestHandoff() { o.handoffOnce.Do(func() { close(o.handoff) }) }

// stop stops the owner and drops its state; dropped: the view is gone,
// delete its objects.
func (o *owner) stop(dropped bool) {
	o.mu.Lock()
	o.mu.dropped = o.mu.dropped || dropped
	o.mu.Unlock()
	o.cancel()
}

func (o *owner) setErr(err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err == nil {
		o.mu.err = ""
	} else {
		o.mu.err = err.Error()
	}
}

func (o *owner) status() ViewStatus {
	o.mu.Lock()
	defer o.mu.Unlock()
	st := ViewStatus{View: o.v.Name, ViewID: o.v.ID, Node: o.r.cfg.Self, Epoch: o.epoch, Running: o.mu.running,
		CheckpointSeq: o.mu.ckSeq, CheckpointAt: o.mu.ckAt, CheckpointOffsets: slices.Clone(o.mu.ckOffs), Err: o.mu.err, LagSeconds: o.mu.lag, EventsBehind: o.mu.behind}
	if o.mu.sm != nil {
		st.Offsets = o.mu.sm.Offsets()
	}
	return st
}

// run is the owner's life: open the disk, load the checkpoint, fold and
// checkpoint until the view moves, is handed off or the node stops.
func (o *owner) run() {
	defer o.r.wg.Done()
	defer o.cleanup()
	log := o.r.log.With("view", o.v.Name, "epoch", o.epoch)
	st, sm, ch, ok := o.load(log)
	if !ok {
		return
	}
	o.mu.Lock()
	o.mu.sm = sm
	o.mu.Unlock()
	log.Info("scheduled view running", "offsets", sm.Offsets(), "rows", sm.Len())
	taskCtx, stopTask := context.WithCancel(o.ctx)
	taskDone := make(chan struct{})
	go func() {
		defer close(taskDone)
		o.fold(taskCtx, sm, log)
	}()
	defer func() {
		stopTask()
		<-taskDone
	}()
	ck := &checkpointer{o: o, st: st, sm: sm, chain: ch, seq: ch.seq, log: log}
	interval := DefaultInterval
	if ms := o.v.Sched.IntervalMS; ms > 0 {
		interval = time.Duration(ms) * time.Millisecond
	}
	t := time.NewTimer(interval)
	defer t.Stop()
	for {
		select {
		case <-o.ctx.Done():
			return
		case <-t.C:
			if !ck.checkpoint(false) {
				return
			}
			t.Reset(interval)
		case <-o.handoff:
			// Stop folding, then record everything folded in a final
			// checkpoint: the next owner replays nothing.
			stopTask()
			<-taskDone
			if ck.checkpoint(true) {
				log.Info("scheduled view handed off with a final checkpoint", "seq", ck.seq)
			}
			<-o.ctx.Done() // reads are served until the view moves
			return
		}
	}
}

// load opens the view's disk and builds its state from the last
// committed checkpoint (or the view's start offsets), retrying with
// backoff while the disk cannot be read.
func (o *owner) load(log *slog.Logger) (objstore.Store, *viewsm.SM, chain, bool) {
	backoff := o.r.t.RetryMin
	for attempt := 0; ; attempt++ {
		st, sm, ch, err := o.loadOnce()
		if err == nil {
			o.setErr(nil)
			return st, sm, ch, true
		}
		if o.ctx.Err() != nil {
			return nil, nil, chain{}, false
		}
		o.setErr(err)
		if attempt%20 == 0 {
			log.Warn("scheduled view cannot load its checkpoint; retrying", "err", err)
		}
		if !sleep(o.ctx, backoff) {
			return nil, nil, chain{}, false
		}
		backoff = min(2*backoff, o.r.t.RetryMax)
	}
}

func (o *owner) loadOnce() (objstore.Store, *viewsm.SM, chain, error) {
	ctx, cancel := context.WithTimeout(o.ctx, o.r.t.IOTimeout)
	defer cancel()
	v := o.v
	stream := o.r.cfg.Catalog().Streams[v.Stream]
	if stream == nil {
		return nil, nil, chain{}, catalog.ErrNoStream(v.Stream)
	}
	plan, err := planOf(v, stream)
	if err != nil {
		return nil, nil, chain{}, err
	}
	st, err := o.r.cfg.Disk(ctx, v.Sched.Disk)
	if err != nil {
		return nil, nil, chain{}, err
	}
	sm := viewsm.New(nil, plan, v.Start, nil)
	// Number this owner's checkpoints after every object of its epoch
	// already on the disk: an earlier run of this node at this epoch may
	// have written (and committed, or still be committing) checkpoints
	// this node's catalog copy does not show yet. Reusing their sequence
	// numbers would overwrite objects a committed manifest names.
	written, err := lastSeq(ctx, st, v.ID, o.epoch)
	if err != nil {
		return nil, nil, chain{}, err
	}
	// The checkpoint the catalog holds now: at least the one committed
	// when this epoch was assigned (a stale catalog copy may name an
	// older one; AssignView ordered after it, so it is the newest).
	ck := v.Sched.Checkpoint
	if cur := o.r.cfg.Catalog().Views[v.Name]; cur != nil && cur.ID == v.ID && cur.Sched != nil && cur.Sched.Checkpoint != nil {
		ck = cur.Sched.Checkpoint
	}
	if ck == nil {
		return st, sm, chain{seq: written}, nil
	}
	m, rows, err := Load(ctx, st, v.ID, ck.Key)
	if err != nil {
		return nil, nil, chain{}, err
	}
	if err := sm.Restore(m.Offsets, rows, m.Window); err != nil {
		return nil, nil, chain{}, err
	}
	ch := newChain(m, o.epoch)
	ch.seq = max(ch.seq, written)
	return st, sm, ch, nil
}

// lastSeq is the largest sequence number of view id's objects of epoch
// on the disk (0: none).
func lastSeq(ctx context.Context, st objstore.Store, id, epoch uint64) (uint64, error) {
	keys, err := st.List(ctx, Prefix(id))
	if err != nil {
		return 0, err
	}
	var last uint64
	for _, k := range keys {
		if e, s, _, ok := parseKey(id, k); ok && e == epoch {
			last = max(last, s)
		}
	}
	return last, nil
}

// fold runs the view task until ctx ends, restarting it locally with
// backoff when it fails or panics: the in-memory state stays, so
// nothing is replayed.
func (o *owner) fold(ctx context.Context, sm *viewsm.SM, log *slog.Logger) {
	backoff := o.r.t.RetryMin
	for ctx.Err() == nil {
		err := o.runTask(ctx, sm, log)
		o.mu.Lock()
		o.mu.running = false
		o.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		o.setErr(err)
		log.Warn("scheduled view task stopped; restarting", "err", err)
		if !sleep(ctx, backoff) {
			return
		}
		backoff = min(2*backoff, o.r.t.RetryMax)
	}
}

func (o *owner) runTask(ctx context.Context, sm *viewsm.SM, log *slog.Logger) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("view task panicked: %v\n%s", p, debug.Stack())
		}
	}()
	cat := o.r.cfg.Catalog()
	ss := cat.ViewStreams(o.v)
	if slices.Contains(ss, nil) {
		return fmt.Errorf("a stream of view %q is gone", o.v.Name)
	}
	groups := slices.Clone(ss[0].Groups)
	var right []exec.Column
	if len(ss) > 1 {
		groups = append(groups, ss[1].Groups...)
		right = exec.StreamColumns(ss[1])
	}
	var table exec.KeyedSource
	if len(o.v.Tables) > 0 {
		t := cat.Tables[o.v.Tables[0]]
		if t == nil || o.r.cfg.Table == nil {
			return fmt.Errorf("view %q joins table %q, which this node cannot read", o.v.Name, o.v.Tables[0])
		}
		table = o.r.cfg.Table(t)
	}
	src := o.r.cfg.Sources(groups)
	o.mu.Lock()
	o.mu.src, o.mu.running = src, true
	o.mu.Unlock()
	return viewsm.RunTask(ctx, viewsm.TaskConfig{
		SM: sm, ViewID: o.v.ID, Shard: 0, NumShards: 1, Src: src, Table: table, LeftShards: len(ss[0].Groups), Right: right,
		MaxPause: o.r.t.MaxPause, PausePerKey: o.r.t.PausePerKey,
		// The owner's memory is the state: a delta applies at once.
		Propose: func(_ context.Context, cmd []byte) (any, error) { return sm.ApplyLocal(cmd), nil },
		OnSkip: func(offset uint64, err error) {
			log.Warn("view skips an event it cannot fold", "offset", offset, "err", err)
		},
	})
}

// measureLag records how far the view is behind its streams.
func (o *owner) measureLag() {
	o.mu.Lock()
	sm, src := o.mu.sm, o.mu.src
	o.mu.Unlock()
	if sm == nil {
		return
	}
	cat := o.r.cfg.Catalog()
	offs := sm.Offsets()
	ctx, cancel := context.WithTimeout(o.ctx, o.r.t.Lag)
	defer cancel()
	var behind int64
	var oldest int64
	i := 0
	errStop := errors.New("stop")
	for _, s := range cat.ViewStreams(o.v) {
		if s == nil {
			return
		}
		for shard := range s.Groups {
			if i >= len(offs) {
				return
			}
			end, err := o.r.cfg.StreamEnd(ctx, s, shard)
			if err != nil {
				return // unknown: keep the last measure
			}
			if end > offs[i] {
				behind += int64(end - offs[i])
				if src != nil {
					_, _ = src.Scan(i, offs[i], 1, func(_ uint64, ingest int64, _ streamsm.Targets, _ *types.Batch) error {
						if oldest == 0 || ingest < oldest {
							oldest = ingest
						}
						return errStop
					})
				}
			}
			i++
		}
	}
	var lag float64
	if behind > 0 && oldest > 0 {
		lag = max(0, time.Since(time.UnixMicro(oldest)).Seconds())
	}
	o.mu.Lock()
	o.mu.lag, o.mu.behind = lag, behind
	o.mu.Unlock()
	o.r.cfg.Metrics.SetLag(o.v.Name, lag)
}

// cleanup deletes a dropped view's objects (best effort).
func (o *owner) cleanup() {
	o.mu.Lock()
	dropped := o.mu.dropped
	o.mu.sm = nil
	o.mu.Unlock()
	if !dropped || o.r.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(o.r.ctx, 30*time.Second)
	defer cancel()
	st, err := o.r.cfg.Disk(ctx, o.v.Sched.Disk)
	if err != nil {
		o.r.log.Info("dropped scheduled view: its checkpoint objects stay (disk unreachable)", "view", o.v.Name, "err", err)
		return
	}
	keys, err := st.List(ctx, Prefix(o.v.ID))
	if err != nil {
		o.r.log.Info("dropped scheduled view: its checkpoint objects stay", "view", o.v.Name, "err", err)
		return
	}
	for _, k := range keys {
		if err := st.Delete(ctx, k); err != nil {
			o.r.log.Info("dropped scheduled view: some checkpoint objects stay", "view", o.v.Name, "err", err)
			return
		}
	}
}

// errFenced: the catalog refused this owner's checkpoint (another owner
// holds the view).
var errFenced = errors.New("fenced")

// rejected reports whether a RecordCheckpoint error is the catalog
// refusing it (fenced, or the view gone or no longer scheduled), as
// opposed to the meta group being unreachable.
func rejected(err error) bool {
	switch pgerr.Code(err) {
	case pgerr.ObjectNotInPrerequisiteState, pgerr.UndefinedTable:
		return true
	}
	return false
}

// planOf plans a scheduled view from the catalog, as a Raft view is.
var planOf = replica.PlanStoredView
