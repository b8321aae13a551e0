package server

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/errkind"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/types"
)

// hashValue hashes row i of column c for shard routing. It must be the
// same on every node and across restarts, so it uses FNV-style mixing of
// the value's bytes rather than a seeded hash.
func hashValue(c *types.Column, i int) uint64 {
	if c.IsNull(i) {
		return 0
	}
	var h uint64 = 14695981039346656037
	mix := func(b byte) { h ^= uint64(b); h *= 1099511628211 }
	switch {
	case c.T == types.Text:
		for _, b := range c.StrBytes(i) {
			mix(b)
		}
	case c.T.IsFloat():
		v := math.Float64bits(c.F[i])
		for k := 0; k < 8; k++ {
			mix(byte(v >> (8 * k)))
		}
	case c.T == types.Interval:
		v := c.Iv[i]
		for k := 0; k < 8; k++ {
			mix(byte(v.Micros >> (8 * k)))
		}
	default:
		v := uint64(c.I[i])
		for k := 0; k < 8; k++ {
			mix(byte(v >> (8 * k)))
		}
	}
	return h
}

// InsertResult says where an insert landed: per stream shard, the end
// offset of what was appended (0 when the shard got nothing).
type InsertResult struct {
	Stream *catalog.Stream
	Ends   []uint64
	N      int
}

// Insert appends b (whose columns are the stream's) to stream name and
// returns once every part is committed on a majority and durable.
func (n *Node) Insert(ctx context.Context, name string, b *types.Batch) (*InsertResult, error) {
	if err := n.checkBatch(name, b); err != nil {
		return nil, err
	}
	s := n.meta.Catalog().Streams[name]
	res := &InsertResult{Stream: s, Ends: make([]uint64, len(s.Groups)), N: b.N}
	if b.N == 0 {
		return res, nil
	}
	parts := n.split(s, b)
	now := time.Now().UnixMicro()
	if len(parts) == 1 {
		for shard, p := range parts {
			end, err := n.appendShard(ctx, s.Groups[shard], p, now)
			if err != nil {
				return nil, err
			}
			res.Ends[shard] = end
		}
	} else {
		type out struct {
			shard int
			end   uint64
			err   error
		}
		ch := make(chan out, len(parts))
		for shard, p := range parts {
			go func() {
				end, err := n.appendShard(ctx, s.Groups[shard], p, now)
				ch <- out{shard, end, err}
			}()
		}
		var firstErr error
		for range parts {
			o := <-ch
			if o.err != nil && firstErr == nil {
				firstErr = o.err
			}
			res.Ends[o.shard] = o.end
		}
		if firstErr != nil {
			return nil, firstErr
		}
	}
	n.metrics.Ingested(name, b.N)
	return res, nil
}

// checkBatch verifies that stream name exists and that b has its column
// types. A statement prepared before the stream was dropped and created
// again with other columns must fail here, not store rows that no view
// can read.
func (n *Node) checkBatch(name string, b *types.Batch) error {
	s := n.meta.Catalog().Streams[name]
	if s == nil {
		return catalog.ErrNoStream(name)
	}
	ok := len(b.Cols) == len(s.Cols)
	for i := 0; ok && i < len(s.Cols); i++ {
		ok = b.Cols[i].T == s.Cols[i].T
	}
	if !ok {
		return pgerr.StreamChangedSincePrepare.New(name).
			WithHint("Prepare the statement again.")
	}
	return nil
}

// split routes rows to shards: by shard-key hash when the stream has a
// shard key, else the whole batch to the next shard in turn.
func (n *Node) split(s *catalog.Stream, b *types.Batch) map[int]*types.Batch {
	if len(s.Groups) == 1 {
		return map[int]*types.Batch{0: b}
	}
	ki := s.ShardKeyIndex()
	if ki < 0 {
		return map[int]*types.Batch{int(n.rr.Add(1) % uint64(len(s.Groups))): b}
	}
	parts := map[int]*types.Batch{}
	ts := b.Types()
	row := make([]types.Datum, len(b.Cols))
	for i := 0; i < b.N; i++ {
		shard := int(hashValue(&b.Cols[ki], i) % uint64(len(s.Groups)))
		p := parts[shard]
		if p == nil {
			p = types.NewBatch(ts)
			parts[shard] = p
		}
		for c := range b.Cols {
			row[c] = b.Cols[c].Datum(i)
		}
		p.AppendRow(row)
	}
	return parts
}

// appendShard appends one batch to a stream shard through its leader
// (here or on another node), retrying with the same batch id across
// leader changes and unreachable nodes so the batch is applied once.
func (n *Node) appendShard(ctx context.Context, gid uint64, b *types.Batch, ingest int64) (uint64, error) {
	id := newBatchID()
	enc := types.AppendEncoded(nil, b)
	cmd := streamsm.EncodeAppend(make([]byte, 0, len(enc)+32), id, ingest, enc)
	deadline := time.Now().Add(10 * time.Second)
	var hint uint64
	var lastErr error
	for attempt := 0; ; attempt++ {
		end, leader, err := n.tryAppend(ctx, gid, cmd, hint, attempt)
		if err == nil {
			return end, nil
		}
		lastErr, hint = err, leader
		// An attempt that timed out while the statement still has time (a
		// node paused or cut off) is retried elsewhere with the same batch
		// id: if the first attempt lands after all, the id dedupes it.
		attemptTimedOut := ctx.Err() == nil && pgerr.KindOf(err) == errkind.Cancelled
		if (!retryableAppend(err) && !attemptTimedOut) || time.Now().After(deadline) || ctx.Err() != nil {
			if ctx.Err() != nil {
				return 0, storeErr(ctx.Err())
			}
			if retryableAppend(err) || attemptTimedOut {
				return 0, pgerr.NoLeaderToAppend.New(gid).
					WithDetail("Last attempt: %v", lastErr)
			}
			return 0, storeErr(lastErr)
		}
		if hint == 0 {
			select {
			case <-ctx.Done():
				return 0, storeErr(ctx.Err())
			case <-time.After(time.Duration(min(attempt+1, 10)) * 10 * time.Millisecond):
			}
		}
	}
}

// retryableAppend reports whether an append may succeed if tried again
// (elsewhere): leader changes, unreachable or restarting nodes.
func retryableAppend(err error) bool {
	if errors.Is(err, errNotLeaderHere) {
		return true
	}
	switch pgerr.KindOf(err) {
	case errkind.Retryable, errkind.NotLeader, errkind.NoQuorum, errkind.Unavailable, errkind.ShuttingDown:
		return true
	}
	return false
}

var errNotLeaderHere = errors.New("not the leader of the shard")

// appendAttemptTimeout bounds one append attempt at one node; a paused or
// cut-off leader is then given up for another replica.
const appendAttemptTimeout = time.Second

// tryAppend makes one attempt: locally when this node leads the shard,
// else at the hinted or believed leader, else at some replica. leader is
// a hint for the next attempt.
func (n *Node) tryAppend(ctx context.Context, gid uint64, cmd []byte, hint uint64, attempt int) (end, leader uint64, err error) {
	target := hint
	if st, ok := n.store.Status(gid); ok {
		if st.IsLeader {
			// Bounded too: a leader cut off from its quorum keeps its
			// proposal pending until it hears from a new leader.
			actx, cancel := context.WithTimeout(ctx, 2*appendAttemptTimeout)
			defer cancel()
			rep, err := n.appendLocal(actx, gid, cmd)
			if err != nil {
				return 0, 0, err
			}
			if rep.NotHim {
				return 0, rep.Leader, errNotLeaderHere
			}
			return rep.End, 0, nil
		}
		if target == 0 && st.Leader != 0 && st.Leader != n.id.RaftID {
			target = st.Leader
		}
	}
	if target == 0 || target == n.id.RaftID {
		nodes := n.replicasOf(gid)
		if len(nodes) == 0 {
			return 0, 0, pgerr.NoReplicas.New(gid)
		}
		target = nodes[attempt%len(nodes)]
		if target == n.id.RaftID {
			return 0, 0, errNotLeaderHere // our replica has no leader yet
		}
	}
	body := encodeAppendRequest(gid, cmd)
	cctx, cancel := context.WithTimeout(ctx, appendAttemptTimeout)
	defer cancel()
	out, err := n.tr.Call(cctx, target, rpcAppend, body)
	if err != nil {
		return 0, 0, err
	}
	var rep appendReply
	if err := json.Unmarshal(out, &rep); err != nil {
		return 0, 0, err
	}
	if rep.NotHim {
		return 0, rep.Leader, errNotLeaderHere
	}
	return rep.End, 0, nil
}

// waitViews blocks until every view over the stream has folded the
// events up to ends (stream_insert_level = sync_commit).
func (n *Node) waitViews(ctx context.Context, r *InsertResult) error {
	return n.waitViewsCover(ctx, n.meta.Catalog().ViewsOn(r.Stream.Name), r.Ends)
}

// waitViewsCover blocks until every shard of every view in vs has folded
// its stream up to ends.
func (n *Node) waitViewsCover(ctx context.Context, vs []*catalog.View, ends []uint64) error {
	for _, v := range vs {
		for _, gid := range v.Groups {
			for {
				if _, ok := n.meta.Catalog().Groups()[gid]; !ok {
					break // dropped meanwhile
				}
				var offs []uint64
				var ch <-chan struct{}
				if g := n.getGroup(gid); g != nil && g.view != nil {
					offs, ch = g.view.DurableOffsets()
				} else {
					offs = n.remoteViewOffsets(ctx, gid)
					c := make(chan struct{})
					time.AfterFunc(remotePoll, func() { close(c) })
					ch = c
				}
				if covers(offs, ends) {
					break
				}
				select {
				case <-ctx.Done():
					return storeErr(ctx.Err())
				case <-ch:
				case <-time.After(100 * time.Millisecond):
				}
			}
		}
	}
	return nil
}

// remoteViewOffsets asks a replica of a view shard for its offsets (nil
// when none answers).
func (n *Node) remoteViewOffsets(ctx context.Context, gid uint64) []uint64 {
	out, err := n.callReplica(ctx, gid, rpcViewOffsets, viewRowsRequest{Group: gid})
	if err != nil {
		return nil
	}
	var rep viewRowsReply
	if json.Unmarshal(out, &rep) != nil {
		return nil
	}
	return rep.Offsets
}

func covers(offs, ends []uint64) bool {
	if len(offs) != len(ends) {
		return false
	}
	for i := range ends {
		if offs[i] < ends[i] {
			return false
		}
	}
	return true
}
