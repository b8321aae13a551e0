package server

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
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
	for shard := range parts {
		if g := n.getGroup(s.Groups[shard]); g == nil || g.stream == nil {
			return nil, n.notHere("stream", s.Name, shard, s.Groups[shard])
		}
	}
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
		return pgerr.New(pgerr.FeatureNotSupported, "cached plan must not change result type: stream %q changed since the statement was prepared", name).
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

// appendShard proposes one batch to a stream shard, retrying with the
// same batch id across leader changes so the batch is applied once.
func (n *Node) appendShard(ctx context.Context, gid uint64, b *types.Batch, ingest int64) (uint64, error) {
	id := newBatchID()
	enc := types.AppendEncoded(nil, b)
	cmd := streamsm.EncodeAppend(make([]byte, 0, len(enc)+32), id, ingest, enc)
	deadline := time.Now().Add(10 * time.Second)
	for attempt := 0; ; attempt++ {
		res, err := n.store.Propose(ctx, gid, cmd)
		if err == nil {
			switch r := res.(type) {
			case streamsm.AppendResult:
				return r.End, nil
			case error:
				return 0, pgerr.New(pgerr.InternalError, "append: %v", r)
			default:
				return 0, pgerr.New(pgerr.InternalError, "append: unexpected result %T", res)
			}
		}
		retryable := errors.Is(err, raftstore.ErrProposalDropped) || errors.Is(err, raftstore.ErrNotLeader)
		if !retryable || time.Now().After(deadline) || ctx.Err() != nil {
			return 0, storeErr(err)
		}
		select {
		case <-ctx.Done():
			return 0, storeErr(ctx.Err())
		case <-time.After(time.Duration(attempt+1) * 10 * time.Millisecond):
		}
	}
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
				g := n.getGroup(gid)
				if g == nil || g.view == nil {
					break // dropped, or not on this node
				}
				offs, ch := g.view.DurableOffsets()
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
