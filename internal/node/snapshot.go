package node

import (
	"errors"

	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/rpc"
	pb "go.etcd.io/raft/v3/raftpb"
)

// ReceiveSnapshot implements transport.SnapshotReceiver: a streamed
// snapshot's chunks are staged by the store.
func (n *Node) ReceiveSnapshot(gid uint64, msg *pb.Message) (*raftstore.IncomingSnapshot, error) {
	if !n.ready.Load() {
		return nil, errors.New("node is still opening its store") // the sender retries
	}
	n.live.Saw(msg.GetFrom())
	return n.store.ReceiveSnapshot(gid, msg)
}

// applySnapshotRate hands the snapshot_rate cluster setting to the
// transport (run with every reconcile: at each catalog change).
func (n *Node) applySnapshotRate() {
	if n.meta == nil || n.tr == nil {
		return
	}
	n.tr.SetSnapshotRate(n.meta.Catalog().SnapshotRateBytes())
}

// snapshotsOf lists the snapshots of group gid this node is streaming.
func (n *Node) snapshotsOf(gid uint64) []rpc.SnapshotProgress {
	var out []rpc.SnapshotProgress
	for _, p := range n.tr.SnapshotProgress() {
		if p.GroupID == gid {
			out = append(out, rpc.SnapshotProgress{To: p.To, Sent: p.Sent, Total: p.Total})
		}
	}
	return out
}

// registerSnapshotMetrics exposes the transport's snapshot counters.
func (n *Node) registerSnapshotMetrics() {
	n.metrics.RegisterSnapshots(func() (uint64, uint64, int64) {
		st := n.tr.Stats()
		return st.SnapshotBytesSent, st.SnapshotBytesRecv, st.SnapshotsInFlight
	})
}
