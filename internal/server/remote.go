package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/types"
)

// handleDataRPC serves the data-shard RPCs; ok is false for other methods.
func (n *Node) handleDataRPC(ctx context.Context, method string, req []byte) (out []byte, ok bool, err error) {
	switch method {
	case rpc.Append:
		gid, cmd, err := rpc.DecodeAppend(req)
		if err != nil {
			return nil, true, err
		}
		rep, err := n.appendLocal(ctx, gid, cmd)
		if err != nil {
			return nil, true, err
		}
		out, err := json.Marshal(rep)
		return out, true, err
	case rpc.StreamScan:
		r, err := rpc.DecodeScanRequest(req)
		if err != nil {
			return nil, true, err
		}
		g := n.getGroup(r.Group)
		if g == nil || g.stream == nil {
			return nil, true, pgerr.New(pgerr.CannotConnectNow, "stream shard group %d is not on this node", r.Group)
		}
		if err := n.servableReplica(r.Group); err != nil {
			return nil, true, err
		}
		if r.Linearizable {
			if err := n.readIndex(ctx, r.Group); err != nil {
				return nil, true, err
			}
		}
		rep := rpc.ScanReply{First: g.stream.First()}
		rep.End, _ = g.stream.End()
		from := max(r.From, rep.First)
		next, err := streamsm.Scan(n.store.DB(), raftstore.DataPrefix(r.Group), from, r.MaxEvents, func(start uint64, ingest int64, b *types.Batch) error {
			rep.Batches = append(rep.Batches, rpc.ScanBatch{Start: start, Ingest: ingest, Data: types.AppendEncoded(nil, b)})
			return nil
		})
		if err != nil {
			return nil, true, err
		}
		if err := n.stillHere(g); err != nil {
			return nil, true, err
		}
		rep.Next = max(next, from)
		return rep.AppendTo(nil), true, nil
	case rpc.ViewRows, rpc.ViewOffsets:
		r, err := rpc.DecodeViewRowsRequest(req)
		if err != nil {
			return nil, true, err
		}
		g := n.getGroup(r.Group)
		if g == nil || g.view == nil {
			return nil, true, pgerr.New(pgerr.CannotConnectNow, "view shard group %d is not on this node", r.Group)
		}
		if err := n.servableReplica(r.Group); err != nil {
			return nil, true, err
		}
		if r.Linearizable {
			if err := n.readIndex(ctx, r.Group); err != nil {
				return nil, true, err
			}
		}
		var rep rpc.ViewRowsReply
		rep.Offsets, _ = g.view.DurableOffsets()
		if method == rpc.ViewRows {
			err := g.view.Rows(func(key, state []byte) error {
				rep.Rows = append(rep.Rows, rpc.ViewRow{Key: append([]byte(nil), key...), State: append([]byte(nil), state...)})
				return nil
			})
			if err != nil {
				return nil, true, err
			}
		}
		if err := n.stillHere(g); err != nil {
			return nil, true, err
		}
		return rep.AppendTo(nil), true, nil
	}
	return nil, false, nil
}

// stillHere checks, after a read of a local replica, that the replica was
// not deleted meanwhile (moved off this node): whoever deletes one takes
// it out of n.mu.groups first, so if g is still there the read saw all of
// its data. Otherwise the read may have seen part of it, or none, and the
// caller gets a retryable error instead of a silently short result.
func (n *Node) stillHere(g *group) error {
	if n.getGroup(g.id) != g {
		return pgerr.New(pgerr.SerializationFailure, "the replica of group %d on %s was moved off while it was read; retry", g.id, n.cfg.NodeID)
	}
	return nil
}

// servableReplica refuses reads of a replica that is still a learner
// (being added: it may not even have its snapshot yet); the caller then
// tries another replica.
func (n *Node) servableReplica(gid uint64) error {
	if st, ok := n.store.Status(gid); ok && slices.Contains(st.Learners, n.id.RaftID) {
		return pgerr.New(pgerr.CannotConnectNow, "the replica of group %d on %s is still catching up", gid, n.cfg.NodeID)
	}
	return nil
}

// appendLocal proposes an append if this node leads the shard, or says
// who does.
func (n *Node) appendLocal(ctx context.Context, gid uint64, cmd []byte) (*rpc.AppendReply, error) {
	st, ok := n.store.Status(gid)
	if !ok {
		return nil, pgerr.New(pgerr.SerializationFailure, "stream shard group %d is not on this node; retry", gid)
	}
	if !st.IsLeader {
		return &rpc.AppendReply{NotHim: true, Leader: st.Leader}, nil
	}
	if n.cfg.Bugs.AckWithoutCommit() {
		// --unsafe-bug ack-before-commit: never proposed; the reply says the
		// shard's current end, as if the batch were there.
		rep := &rpc.AppendReply{}
		if g := n.getGroup(gid); g != nil && g.stream != nil {
			rep.End, _ = g.stream.End()
		}
		return rep, nil
	}
	res, err := n.store.Propose(ctx, gid, cmd)
	if errors.Is(err, raftstore.ErrNotLeader) {
		st, _ := n.store.Status(gid)
		return &rpc.AppendReply{NotHim: true, Leader: st.Leader}, nil
	}
	if err != nil {
		return nil, storeErr(err)
	}
	switch r := res.(type) {
	case streamsm.AppendResult:
		return &rpc.AppendReply{End: r.End}, nil
	case error:
		return nil, pgerr.New(pgerr.InternalError, "append: %v", r)
	}
	return nil, pgerr.New(pgerr.InternalError, "append: unexpected result %T", res)
}

// replicasOf returns the nodes holding group gid.
func (n *Node) replicasOf(gid uint64) []uint64 {
	return n.meta.Catalog().Groups()[gid].Nodes
}

// callReplica calls method on some replica of gid other than this node,
// trying them in turn (from a rotating start) until one answers.
func (n *Node) callReplica(ctx context.Context, gid uint64, method string, req rpc.Request) ([]byte, error) {
	body := req.AppendTo(nil)
	nodes := n.replicasOf(gid)
	if len(nodes) == 0 {
		return nil, pgerr.New(pgerr.SerializationFailure, "group %d has no replicas (dropped meanwhile?); retry", gid)
	}
	start := int(n.rr.Add(1))
	var lastErr error
	for i := range nodes {
		id := nodes[(start+i)%len(nodes)]
		if id == n.id.RaftID {
			continue
		}
		if nd := n.meta.Catalog().NodeByID(id); nd != nil && n.liveness(nd) == "dead" {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		out, err := n.tr.Call(cctx, id, method, body)
		cancel()
		if err == nil {
			return out, nil
		}
		lastErr = err
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("no live replica")
	}
	return nil, pgerr.New(pgerr.SerializationFailure, "no replica of group %d answered: %v", gid, lastErr).WithHint("Retry; the shard may be failing over.")
}

// streamShardSource gives a view task the shards of its stream, local
// replicas read from the engine, others over RPC.
type streamShardSource struct {
	n      *Node
	groups []uint64
	// linearizable: remote reads ask for a ReadIndex barrier (read_from =
	// leader); view tasks do not need one.
	linearizable bool
}

func (s *streamShardSource) Shards() int { return len(s.groups) }

// remotePoll is how often a view task polls a stream shard it has no
// replica of.
const remotePoll = 5 * time.Millisecond

func (s *streamShardSource) End(i int) (uint64, <-chan struct{}) {
	if g := s.n.getGroup(s.groups[i]); g != nil && g.stream != nil {
		return g.stream.End()
	}
	// Remote: always worth a look (Scan returns nothing if there is
	// nothing), and wake the task soon to look again. The end a replica
	// last reported is no bound: a lagging follower may have answered, and
	// trusting its end would stop the view at that offset for good.
	ch := make(chan struct{})
	time.AfterFunc(remotePoll, func() { close(ch) })
	return ^uint64(0) >> 1, ch
}

func (s *streamShardSource) Scan(i int, from uint64, max int, fn func(uint64, int64, *types.Batch) error) (uint64, error) {
	gid := s.groups[i]
	// A local replica serves view tasks, unless it is still a learner. A
	// linearizable reader pages through a remote replica even if one
	// appears here meanwhile (a replica being added mid-read): reading it
	// without a barrier cut the read short.
	if g := s.n.getGroup(gid); g != nil && g.stream != nil && !s.linearizable && s.n.servableReplica(gid) == nil {
		return streamsm.Scan(s.n.store.DB(), raftstore.DataPrefix(gid), from, max, fn)
	}
	ctx, cancel := context.WithTimeout(s.n.ctx, 10*time.Second)
	defer cancel()
	out, err := s.n.callReplica(ctx, gid, rpc.StreamScan, rpc.ScanRequest{Group: gid, From: from, MaxEvents: max, Linearizable: s.linearizable})
	if err != nil {
		return from, err
	}
	rep, err := rpc.DecodeScanReply(out)
	if err != nil {
		return from, err
	}
	var b types.Batch
	next := from
	for _, sb := range rep.Batches {
		if err := types.Decode(sb.Data, &b); err != nil {
			return next, err
		}
		if err := fn(sb.Start, sb.Ingest, &b); err != nil {
			return next, err
		}
		next = sb.Start + uint64(b.N)
	}
	if len(rep.Batches) == 0 {
		return from, nil
	}
	return next, nil
}

// readIndex is a linearizable read barrier on a local replica. A replica
// that does not know its leader yet (just restarted, or an election under
// way) is given up to 3 s before the statement fails with 40001.
func (n *Node) readIndex(ctx context.Context, gid uint64) error {
	if n.cfg.Bugs.SkipReadIndex(gid == catalog.MetaGroupID) {
		return nil // --unsafe-bug stale-read: no barrier
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := n.store.ReadIndex(ctx, gid)
		if err == nil {
			return nil
		}
		if !errors.Is(err, raftstore.ErrNotLeader) || time.Now().After(deadline) {
			return storeErr(err)
		}
		select {
		case <-ctx.Done():
			return storeErr(ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
