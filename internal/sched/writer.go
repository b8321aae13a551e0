package sched

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/metrics"
	"github.com/cairndb/cairn/internal/objstore"
	"github.com/cairndb/cairn/internal/viewsm"
)

// Incremental checkpoints: a new base (every row) once the deltas on top
// of the last one add up to more than half its size, or number maxDeltas.
const maxDeltas = 32

// chain is the parts of the last committed checkpoint, which the next
// delta builds on.
type chain struct {
	parts      []PartRef
	baseBytes  int64
	deltaBytes int64
	offsets    []uint64 // the offsets it covers
	seq        uint64   // its sequence number, when of this owner's epoch
}

// newChain continues from committed checkpoint m, loaded by the owner of
// epoch: after m's seq when m is of that epoch (this node restarted as
// the owner), so no object m needs is overwritten.
func newChain(m *Manifest, epoch uint64) chain {
	c := chain{parts: slices.Clone(m.Parts), offsets: slices.Clone(m.Offsets)}
	if m.Epoch == epoch {
		c.seq = m.Seq
	}
	for i, p := range m.Parts {
		if i == 0 {
			c.baseBytes = p.Bytes
		} else {
			c.deltaBytes += p.Bytes
		}
	}
	return c
}

// wantBase says whether the next checkpoint must be a new base.
func (c *chain) wantBase() bool {
	return len(c.parts) == 0 || c.deltaBytes*2 > c.baseBytes || len(c.parts) > maxDeltas
}

// checkpointer writes an owner's checkpoints, one at a time.
type checkpointer struct {
	o     *owner
	st    objstore.Store
	sm    *viewsm.SM
	chain chain
	seq   uint64 // of the last checkpoint this owner wrote
	log   *slog.Logger
}

// checkpoint captures the state, writes it and commits it, retrying with
// backoff while the disk or the meta group fails (the task folds on
// meanwhile). It returns false when the owner must stop: fenced, or
// stopped meanwhile.
func (c *checkpointer) checkpoint(final bool) bool {
	o := c.o
	snap := c.sm.Capture(c.chain.wantBase())
	if !final && !snap.Full && len(snap.Rows) == 0 && len(snap.Deleted) == 0 && slices.Equal(snap.Offsets, c.chain.offsets) {
		return true // nothing new since the last checkpoint
	}
	c.seq++
	v, seq := o.v, c.seq
	parts := slices.Clone(c.chain.parts)
	var part []byte
	var ref PartRef
	if snap.Full || len(snap.Rows) > 0 || len(snap.Deleted) > 0 {
		kind := kindDelta
		if snap.Full {
			kind, parts = kindBase, nil
		}
		part = EncodePart(&Part{ViewID: v.ID, Epoch: o.epoch, Seq: seq, Full: snap.Full, Rows: snap.Rows, Deleted: snap.Deleted})
		ref = PartRef{Key: ObjectKey(v.ID, o.epoch, seq, kind), Full: snap.Full, Rows: len(snap.Rows) + len(snap.Deleted), Bytes: int64(len(part))}
		parts = append(parts, ref)
	}
	at := time.Now().UnixMicro()
	mkey := ObjectKey(v.ID, o.epoch, seq, kindManifest)
	manifest := EncodeManifest(&Manifest{ViewID: v.ID, Epoch: o.epoch, Seq: seq, At: at, Offsets: snap.Offsets, Window: snap.Window, Parts: parts, Final: final})
	bytes := int64(len(part) + len(manifest))
	rec := &catalog.RecordCheckpoint{View: v.Name, ViewID: v.ID, Node: o.r.cfg.Self, Checkpoint: &catalog.ViewCheckpoint{
		Epoch: o.epoch, Seq: seq, Key: mkey, Offsets: snap.Offsets, At: at, Bytes: bytes, Final: final}}
	backoff := o.r.t.RetryMin
	partDone := part == nil
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(o.ctx, o.r.t.IOTimeout)
		err := ctx.Err()
		if err == nil && !partDone {
			if err = c.st.Put(ctx, ref.Key, part); err == nil {
				partDone = true
			}
		}
		if err == nil {
			err = c.st.Put(ctx, mkey, manifest)
		}
		cancel()
		if err == nil {
			err = c.record(rec)
		}
		if err == nil {
			break
		}
		if o.ctx.Err() != nil {
			return false
		}
		if err == errFenced {
			o.r.cfg.Metrics.Checkpoint(metrics.CheckpointFenced, 0)
			c.log.Warn("scheduled view fenced: another node owns it now; this owner stops and drops its state", "seq", seq)
			o.r.fence(v.ID, o.epoch)
			return false
		}
		o.r.cfg.Metrics.Checkpoint(metrics.CheckpointFailed, 0)
		o.setErr(err)
		if attempt%20 == 0 {
			c.log.Warn("checkpoint failed; retrying (the view keeps folding)", "seq", seq, "err", err)
		}
		if !sleep(o.ctx, backoff) {
			return false
		}
		backoff = min(2*backoff, o.r.t.RetryMax)
	}
	o.r.cfg.Metrics.Checkpoint(metrics.CheckpointCommitted, bytes)
	o.setErr(nil)
	o.mu.Lock()
	o.mu.ckSeq, o.mu.ckAt, o.mu.ckOffs = seq, at, snap.Offsets
	o.mu.Unlock()
	if snap.Full {
		c.chain = chain{parts: parts, baseBytes: ref.Bytes}
	} else if part != nil {
		c.chain.parts = parts
		c.chain.deltaBytes += ref.Bytes
	}
	c.chain.offsets = snap.Offsets
	c.collect(mkey, parts)
	return true
}

// record commits a written checkpoint in the catalog. A refusal is
// errFenced unless this node's catalog shows this very checkpoint
// committed (an earlier attempt of the same proposal went through); any
// other committed checkpoint at this epoch is not ours to build on.
func (c *checkpointer) record(rec *catalog.RecordCheckpoint) error {
	o := c.o
	_, err := o.r.cfg.Propose(o.ctx, rec)
	if err == nil || !rejected(err) {
		return err
	}
	deadline := time.Now().Add(o.r.t.RejectWait)
	for {
		v := o.r.cfg.Catalog().Views[o.v.Name]
		switch {
		case v == nil || v.ID != o.v.ID || v.Sched == nil || v.Sched.Epoch != o.epoch || v.Sched.Node != o.r.cfg.Self:
			return errFenced
		case v.Sched.Checkpoint != nil && v.Sched.Checkpoint.Epoch == o.epoch && v.Sched.Checkpoint.Seq == rec.Checkpoint.Seq && v.Sched.Checkpoint.Key == rec.Checkpoint.Key:
			return nil
		case time.Now().After(deadline):
			return errFenced
		}
		if !sleep(o.ctx, 50*time.Millisecond) {
			return o.ctx.Err()
		}
	}
}

// collect deletes (best effort) the view's objects the committed
// checkpoint mkey does not need: older manifests and parts of older
// checkpoints, of this epoch or earlier ones. Objects of later epochs
// (a newer owner's) are never touched.
func (c *checkpointer) collect(mkey string, parts []PartRef) {
	o := c.o
	keep := map[string]bool{mkey: true}
	for _, p := range parts {
		keep[p.Key] = true
	}
	ctx, cancel := context.WithTimeout(o.ctx, 30*time.Second)
	defer cancel()
	keys, err := c.st.List(ctx, Prefix(o.v.ID))
	if err != nil {
		return
	}
	for _, k := range keys {
		epoch, seq, _, ok := parseKey(o.v.ID, k)
		if !ok || keep[k] || epoch > o.epoch || (epoch == o.epoch && seq >= c.seq) {
			continue
		}
		if err := c.st.Delete(ctx, k); err != nil {
			return
		}
	}
}
