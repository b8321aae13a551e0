package node

import (
	"context"
	"encoding/json"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/disk"
	"github.com/cairndb/cairn/internal/objstore"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/sched"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/viewsm"
)

// newSched builds the runner of the scheduled views this node owns
// (internal/sched), once the router exists and before any RPC is served:
// the runner reads streams through the router, and the router reads the
// runner's views (schedOwner). Start starts it after the first reconcile.
func (n *Node) newSched() {
	if n.disks == nil {
		n.disks = disk.NewRegistry(n.meta.Catalog)
	}
	n.sched = sched.New(n.ctx, sched.Config{
		Self: n.id.RaftID, Catalog: n.meta.Catalog, Disk: n.disks.Get, Propose: n.proposeMeta,
		Sources:   func(groups []uint64) viewsm.Source { return n.router.StreamShards(groups) },
		Table:     func(t *catalog.Table) exec.KeyedSource { return n.router.TableSource(t, true) },
		StreamEnd: n.router.StreamEnd,
		Metrics:   n.metrics.NewSched(), Logger: n.log,
		Timing: sched.Timing{Lag: n.timing.Lag, RetryMin: n.timing.ViewRetryMin, RetryMax: n.timing.ViewRetryMax,
			MaxPause: n.timing.ViewMaxPause, PausePerKey: n.timing.ViewPausePerKey},
	})
	n.schedWake.Store(n.sched)
}

// schedOwner is the runner as the router sees it (router.SchedOwner);
// the router is built before the runner.
type schedOwner struct{ n *Node }

func (s schedOwner) Owned(id, epoch uint64) *viewsm.SM { return s.n.sched.Owned(id, epoch) }

// diskOf opens a disk for the router (stale reads of scheduled views).
func (n *Node) diskOf(ctx context.Context, name string) (objstore.Store, error) {
	return n.disks.Get(ctx, name)
}

// handleSched serves the scheduled-view RPCs; ok is false for others.
func (n *Node) handleSched(method string, req []byte) (out []byte, ok bool, err error) {
	switch method {
	case rpc.SchedViewRows:
		r, err := rpc.DecodeSchedRowsRequest(req)
		if err != nil {
			return nil, true, err
		}
		sm := n.sched.Owned(r.View, r.Epoch)
		if sm == nil {
			name := ""
			for _, v := range n.meta.Catalog().Views {
				if v.ID == r.View {
					name = v.Name
				}
			}
			return nil, true, pgerr.SchedViewNotHere.New(name, n.cfg.NodeID, r.Epoch)
		}
		var rep rpc.ViewRowsReply
		rep.Offsets, _ = sm.DurableOffsets()
		if !r.OffsetsOnly {
			err = sm.Rows(func(k, st []byte) error {
				rep.Rows = append(rep.Rows, rpc.ViewRow{Key: append([]byte(nil), k...), State: append([]byte(nil), st...)})
				return nil
			})
		}
		return rep.AppendTo(nil), true, err
	case rpc.SchedStatus:
		out, err := json.Marshal(n.sched.Status())
		return out, true, err
	}
	return nil, false, nil
}

// SchedStatus lists the scheduled views this node runs.
func (n *Node) SchedStatus() []sched.ViewStatus { return n.sched.Status() }

// ProposeMeta proposes a catalog command through this node (tests and
// tools that drive the catalog directly).
func (n *Node) ProposeMeta(ctx context.Context, c catalog.Command) (*catalog.Result, error) {
	return n.proposeMeta(ctx, c)
}
