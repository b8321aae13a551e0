package viewsm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/types"
)

// Source gives a view task access to the shards of its source stream.
type Source interface {
	// Shards returns the number of stream shards.
	Shards() int
	// End returns shard i's durable end offset and a channel closed when it changes.
	End(shard int) (uint64, <-chan struct{})
	// Scan reads shard i's batches from offset from (see streamsm.Scan),
	// each with its target set; b.Arrival is the batch's ingest time
	// (arrival_timestamp).
	Scan(shard int, from uint64, maxEvents int, fn func(start uint64, ingestMicros int64, targets streamsm.Targets, b *types.Batch) error) (uint64, error)
}

// Proposer proposes a command to the view shard's Raft group and returns
// its apply result once applied on this node.
type Proposer func(ctx context.Context, cmd []byte) (any, error)

// TaskConfig configures a view task.
type TaskConfig struct {
	SM        *SM
	ViewID    uint64 // the view's catalog id: a batch whose target set lacks it is skipped
	Shard     int    // this view shard's number
	NumShards int
	Src       Source
	// Table is the table an enrichment view joins (the plan's
	// JoinTableName); nil for other views. Each batch is widened with the
	// table rows current when it is folded (exec.Enricher).
	Table exec.KeyedSource
	// LeftShards and Right are set for a join of two streams
	// (plan.StreamJoin): Src's first LeftShards shards are the left
	// stream's, the rest the right stream's, whose columns are Right.
	LeftShards int
	Right      []exec.Column
	Propose    Proposer
	// MaxEvents bounds the events folded into one proposal.
	MaxEvents int
	// MaxPause caps the pause between two delta proposals. The pause
	// grows with the size of the last delta (PausePerKey per group key):
	// a trickle of events is folded at once, while under heavy ingest
	// fewer, larger deltas cost far less than many small ones (each
	// delta's keys are replicated and merged). It bounds view freshness
	// from below only under load.
	MaxPause    time.Duration
	PausePerKey time.Duration
	// OnSkip, if set, is told about each event the view cannot fold (for
	// example a cast in its GROUP BY that fails on this event's value).
	// The event is left out of the view, like a row a WHERE rejects;
	// without this one bad event would stop the view forever.
	OnSkip func(offset uint64, err error)
	// CheckpointInterval, if set (the view's SETTINGS checkpoint_interval),
	// is the longest time between two checkpoints of the view shard while
	// deltas are applied: the first delta proposed after it passed asks
	// every replica to fold its delta log into its rows.
	CheckpointInterval time.Duration
	// OnProgress, if set, is told the events folded and the ingest time of
	// the newest batch in each applied delta (for lag metrics).
	OnProgress func(events int, newestIngestMicros int64)
}

// RunTask runs the view task until ctx ends or the proposer fails with a
// non-retryable error (for example when this replica lost leadership).
// It reads committed stream batches after the stored offsets, folds the
// rows whose group key hashes to this shard into a delta, and proposes
// {from, to, delta}. Batches whose target set (pipelinedb.stream_targets)
// leaves out this view are passed over: to moves past them unfolded.
func RunTask(ctx context.Context, c TaskConfig) error {
	if c.MaxEvents <= 0 {
		c.MaxEvents = 256 << 10
	}
	plan := c.SM.Plan()
	delta := plan.NewDelta()
	var keep func(uint64) bool
	if c.NumShards > 1 {
		shard, n := uint64(c.Shard), uint64(c.NumShards)
		keep = func(h uint64) bool { return h%n == shard }
	}
	ec := &exec.Ctx{}
	var enr *exec.Enricher
	if name := plan.JoinTableName(); name != "" {
		if c.Table == nil {
			return fmt.Errorf("viewsm: view joins table %q but the task has no source for it", name)
		}
		var err error
		if enr, err = plan.NewEnricher(c.Table); err != nil {
			return err
		}
	}
	var sj *exec.StreamJoiner
	if plan.StreamJoin() {
		var err error
		if sj, err = plan.NewStreamJoiner(c.Right); err != nil {
			return err
		}
	}
	// careful is set after a fold error: batches are then folded into a
	// scratch delta first, and a failing batch row by row, so the rows
	// that fail can be skipped without leaving the delta half folded.
	careful := false
	scratch := plan.NewDelta()
	var one *types.Batch
	row := []types.Datum(nil)
	fold := func(start uint64, b *types.Batch) error {
		if !careful {
			if err := plan.Fold(ec, delta, b, keep); err != nil {
				return errFold{err}
			}
			return nil
		}
		scratch.Reset()
		scratch.Now, scratch.Watermark = delta.Now, delta.Watermark
		if err := plan.Fold(ec, scratch, b, keep); err == nil {
			return plan.Merge(delta, scratch)
		}
		if one == nil {
			one = types.NewBatch(b.Types())
		}
		for i := 0; i < b.N; i++ {
			one.Reset()
			row = row[:0]
			for c := range b.Cols {
				row = append(row, b.Cols[c].Datum(i))
			}
			one.AppendRow(row)
			one.Arrival = b.Arrival
			scratch.Reset()
			scratch.Now, scratch.Watermark = delta.Now, delta.Watermark
			if err := plan.Fold(ec, scratch, one, keep); err != nil {
				if c.OnSkip != nil {
					c.OnSkip(start+uint64(i), err)
				}
				continue
			}
			if err := plan.Merge(delta, scratch); err != nil {
				return err
			}
		}
		return nil
	}
	var enc []byte
	var last time.Time
	lastCheckpoint := time.Now()
	var pause time.Duration
	nsrc := c.Src.Shards()
	cases := make([]reflect.SelectCase, nsrc+1)
	for ctx.Err() == nil {
		if wait := pause - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
		}
		from := c.SM.Offsets()
		if len(from) != nsrc {
			return errors.New("viewsm: view offsets do not match the stream's shard count")
		}
		to := slices.Clone(from)
		delta.Reset()
		delta.Now = time.Now().UnixMicro()
		watermark, _, minExpiry, lastSweep := c.SM.Window()
		delta.Watermark = watermark
		var err error
		if sj != nil && !sj.At(from) {
			// A new task, or the last round was not applied: the join
			// buffers become those the committed offsets imply.
			if err := rebuildJoin(ctx, ec, sj, c, from); err != nil {
				return err
			}
		}
		if enr != nil {
			// A hashed table is re-read when it changed: events of this
			// round join the table as it is now.
			if err := enr.Refresh(ctx); err != nil {
				return err
			}
		}
		events := 0
		var newest int64
		cases = cases[:0]
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())})
		for s := 0; s < nsrc; s++ {
			end, ch := c.Src.End(s)
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
			if end <= from[s] || events >= c.MaxEvents {
				continue
			}
			ec.Now = time.Now()
			var next uint64
			next, err = c.Src.Scan(s, from[s], c.MaxEvents-events, func(start uint64, ingest int64, targets streamsm.Targets, b *types.Batch) error {
				events += b.N
				if !targets.Has(c.ViewID) {
					// Aimed at other views (pipelinedb.stream_targets):
					// the offsets move past it, unfolded.
					return nil
				}
				if ingest > newest {
					newest = ingest
				}
				if enr != nil {
					w, err := enr.Widen(ctx, ec, b)
					if err != nil {
						return err
					}
					b = w
				}
				if sj != nil {
					side := 0
					if s >= c.LeftShards {
						side = 1
					}
					w, err := sj.Join(ec, side, b)
					if err != nil {
						return errFold{err}
					}
					b = w
				}
				return fold(start, b)
			})
			if err != nil {
				break
			}
			to[s] = next
		}
		if err != nil {
			var fe errFold
			if errors.As(err, &fe) && !careful {
				careful = true
				continue // refold the same range, skipping the rows that fail
			}
			return err
		}
		// A view whose rows expire proposes an empty delta when some row
		// is due, so that Apply drops it even when no events arrive.
		expire := plan.Expires() && minExpiry != 0 && delta.Now >= minExpiry && delta.Now >= lastSweep+plan.SweepEvery()
		if slices.Equal(from, to) && !expire {
			// Nothing new: wait for any source shard to grow (or a safety tick).
			timer := time.NewTimer(200 * time.Millisecond)
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer.C)})
			reflect.Select(cases)
			timer.Stop()
			continue
		}
		enc = plan.AppendDelta(enc[:0], delta)
		checkpoint := c.CheckpointInterval > 0 && time.Since(lastCheckpoint) >= c.CheckpointInterval
		var cmd []byte // fresh: the store may keep it in its entry cache
		if checkpoint {
			cmd = EncodeDeltaCheckpoint(nil, from, to, enc)
		} else {
			cmd = EncodeDelta(nil, from, to, enc)
		}
		last = time.Now()
		pause = min(c.MaxPause, time.Duration(delta.Len())*c.PausePerKey)
		res, err := c.Propose(ctx, cmd)
		if err != nil {
			return err
		}
		if sk, ok := res.(Skipped); ok && c.OnSkip != nil {
			c.OnSkip(from[0], fmt.Errorf("%d group keys kept their old state: %w", sk.Keys, sk.Err))
		}
		if err, ok := res.(error); ok {
			if errors.Is(err, ErrStale) {
				continue // someone else advanced the offsets; recompute from the stored ones
			}
			return err
		}
		careful = false
		if sj != nil {
			sj.Committed(to)
		}
		if checkpoint {
			lastCheckpoint = last
		}
		if c.OnProgress != nil {
			c.OnProgress(events, newest)
		}
	}
	return ctx.Err()
}

// rebuildJoin refills a stream join's buffers from the history of both
// streams before the offsets, reading only the batches aimed at the view.
func rebuildJoin(ctx context.Context, ec *exec.Ctx, sj *exec.StreamJoiner, c TaskConfig, offsets []uint64) error {
	errDone := errors.New("done")
	return sj.Rebuild(ctx, ec, offsets, c.LeftShards, func(shard int, upTo uint64, fn func(*types.Batch) error) error {
		_, err := c.Src.Scan(shard, 0, math.MaxInt, func(start uint64, _ int64, targets streamsm.Targets, b *types.Batch) error {
			if start >= upTo {
				return errDone
			}
			if !targets.Has(c.ViewID) {
				return nil
			}
			if end := start + uint64(b.N); end > upTo {
				b = b.Slice(0, int(upTo-start))
			}
			return fn(b)
		})
		if errors.Is(err, errDone) {
			return nil
		}
		return err
	})
}

// errFold marks an error from folding (as opposed to reading) a batch.
type errFold struct{ err error }

func (e errFold) Error() string { return e.err.Error() }
func (e errFold) Unwrap() error { return e.err }
