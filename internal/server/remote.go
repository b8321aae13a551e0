package server

import (
	"context"
	"fmt"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/types"
)

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
	if g := s.n.replicas.Get(s.groups[i]); g != nil && g.Stream != nil {
		return g.Stream.End()
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
	if g := s.n.replicas.Get(gid); g != nil && g.Stream != nil && !s.linearizable && s.n.replicas.Servable(gid) == nil {
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
