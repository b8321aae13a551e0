package router

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/replica"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/sched"
	"github.com/cairndb/cairn/internal/viewsm"
)

// Scheduled views (issue 13) have no shards: their one owner node holds
// the state in memory. Reads go to the owner (here, or an RPC); when it
// cannot be read, skip_unavailable = on serves the last committed
// checkpoint from the view's disk with a NOTICE saying how old it is,
// and off fails with 40001.

// SchedOwner gives the router the scheduled views this node runs.
type SchedOwner interface {
	// Owned returns the state of view id run here at epoch, or nil.
	Owned(id, epoch uint64) *viewsm.SM
}

// schedGroups is a scheduled view's one stand-in shard, planned from
// the catalog: its rows come from schedRows.
func (s *viewSource) schedGroups() ([]*replica.Group, error) {
	st := s.rt.meta.Catalog().Streams[s.v.Stream]
	if st == nil {
		return nil, catalog.ErrNoStream(s.v.Stream)
	}
	plan, err := replica.PlanStoredView(s.v, st)
	if err != nil {
		return nil, err
	}
	return []*replica.Group{{Remote: true, Plan: plan}}, nil
}

// schedRetries bounds the retries of a read whose owner is loading the
// view or being assigned: 25+50+100+200 ms.
const schedRetries = 4

// schedRows reads every (key, state) of scheduled view v from its owner,
// or (skip_unavailable on) from its last committed checkpoint.
func (rt *Router) schedRows(ctx context.Context, v *catalog.View, skip func(string, error) error, notice func(string), fn func(key, state []byte) error) error {
	var err error
	var owner string
	for attempt := 0; ; attempt++ {
		cat := rt.meta.Catalog()
		cur := cat.Views[v.Name]
		if cur == nil || cur.ID != v.ID || cur.Sched == nil {
			return catalog.ErrNoView(v.Name)
		}
		s := cur.Sched
		owner = cat.NodeLabel(s.Node)
		var rep *rpc.ViewRowsReply
		var unreachable bool
		rep, unreachable, err = rt.ownerCall(ctx, cur, false)
		if err == nil {
			for _, r := range rep.Rows {
				if err := fn(r.Key, r.State); err != nil {
					return err
				}
			}
			return nil
		}
		// An owner that answered is loading the view or just lost it:
		// worth another look. One that does not answer is not (each try
		// could take a whole call timeout).
		if unreachable || attempt >= schedRetries || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(25<<attempt) * time.Millisecond):
		}
	}
	if skip == nil {
		if pgerr.Code(err) == pgerr.SerializationFailure {
			return pgerr.From(err).WithHint("Retry once the view has a live owner again, or SET skip_unavailable = on to read its last committed checkpoint instead.")
		}
		return err
	}
	return rt.checkpointRows(ctx, v, owner, err, skip, notice, fn)
}

// ownerCall asks view v's owner (as the catalog names it) for its
// offsets and (unless offsetsOnly) its rows; unreachable reports an owner
// that did not answer (as opposed to one that answered it cannot serve).
func (rt *Router) ownerCall(ctx context.Context, v *catalog.View, offsetsOnly bool) (_ *rpc.ViewRowsReply, unreachable bool, _ error) {
	s := v.Sched
	switch {
	case s.Node == 0:
		return nil, false, pgerr.SchedNoOwner.New(v.Name)
	case s.Node == rt.self:
		var sm *viewsm.SM
		if rt.sched != nil {
			sm = rt.sched.Owned(v.ID, s.Epoch)
		}
		if sm == nil {
			return nil, false, pgerr.SchedViewNotHere.New(v.Name, rt.name, s.Epoch)
		}
		rep := &rpc.ViewRowsReply{}
		rep.Offsets, _ = sm.DurableOffsets()
		if offsetsOnly {
			return rep, false, nil
		}
		err := sm.Rows(func(k, st []byte) error {
			rep.Rows = append(rep.Rows, rpc.ViewRow{Key: append([]byte(nil), k...), State: append([]byte(nil), st...)})
			return nil
		})
		return rep, false, err
	}
	if nd := rt.meta.Catalog().NodeByID(s.Node); nd != nil && rt.liveness(nd) == "dead" {
		return nil, true, pgerr.SchedOwnerUnavailable.New(v.Name, nd.Name, "it is dead (no heartbeat within dead_after)")
	}
	cctx, cancel := context.WithTimeout(ctx, rt.t.ReplicaCall)
	defer cancel()
	out, err := rt.tr.Call(cctx, s.Node, rpc.SchedViewRows, rpc.SchedRowsRequest{View: v.ID, Epoch: s.Epoch, OffsetsOnly: offsetsOnly}.AppendTo(nil))
	if err != nil {
		if pe := pgerr.From(err); pe.Code == pgerr.SerializationFailure && strings.Contains(pe.Message, "is not running on node") {
			return nil, false, err // the owner answered: loading, or moved
		}
		return nil, true, pgerr.SchedOwnerUnavailable.New(v.Name, rt.meta.Catalog().NodeLabel(s.Node), err)
	}
	rep, err := rpc.DecodeViewRowsReply(out)
	if err != nil {
		return nil, false, err
	}
	return &rep, false, nil
}

// checkpointRows serves view v from its last committed checkpoint
// (skip_unavailable on), with a NOTICE saying how old it is.
func (rt *Router) checkpointRows(ctx context.Context, v *catalog.View, owner string, cause error, skip func(string, error) error, notice func(string), fn func(key, state []byte) error) error {
	what := fmt.Sprintf("scheduled view %q (owner %s)", v.Name, owner)
	var rows map[string][]byte
	var at int64
	for attempt := 0; ; attempt++ {
		cur := rt.meta.Catalog().Views[v.Name]
		if cur == nil || cur.ID != v.ID || cur.Sched == nil {
			return catalog.ErrNoView(v.Name)
		}
		ck := cur.Sched.Checkpoint
		if ck == nil {
			return skip(what, pgerr.SchedNoCheckpoint.New(v.Name))
		}
		if rt.disk == nil {
			return skip(what, cause)
		}
		st, err := rt.disk(ctx, cur.Sched.Disk)
		if err == nil {
			_, rows, err = sched.Load(ctx, st, v.ID, ck.Key)
		}
		if err == nil {
			at = ck.At
			break
		}
		// A newer checkpoint may have been committed (and this one
		// collected) meanwhile: look once more with the catalog.
		if attempt >= 1 || ctx.Err() != nil {
			return skip(what, pgerr.SchedCheckpointRead.New(v.Name, ck.Key, err, cur.Sched.Disk))
		}
	}
	if notice != nil {
		age := time.Since(time.UnixMicro(at)).Round(100 * time.Millisecond)
		notice(fmt.Sprintf("skip_unavailable: %s cannot be read (%v); these rows are from its last checkpoint, taken %s ago (%s)",
			what, cause, age, time.UnixMicro(at).UTC().Format(time.RFC3339)))
	}
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn([]byte(k), rows[k]); err != nil {
			return err
		}
	}
	return nil
}

// SchedOffsets are the offsets scheduled view v's owner folded up to
// (nil when it cannot be asked).
func (rt *Router) SchedOffsets(ctx context.Context, v *catalog.View) []uint64 {
	cur := rt.meta.Catalog().Views[v.Name]
	if cur == nil || cur.ID != v.ID || cur.Sched == nil {
		return nil
	}
	rep, _, err := rt.ownerCall(ctx, cur, true)
	if err != nil {
		return nil
	}
	return rep.Offsets
}

// waitSchedCovers blocks until scheduled view v's owner folded its
// streams up to ends (CREATE VIEW's back-fill, sync_commit).
func (rt *Router) waitSchedCovers(ctx context.Context, v *catalog.View, ends []uint64) error {
	for {
		cur := rt.meta.Catalog().Views[v.Name]
		if cur == nil || cur.ID != v.ID {
			return nil // dropped meanwhile
		}
		var ch <-chan struct{}
		var offs []uint64
		if cur.Sched.Node == rt.self && rt.sched != nil {
			if sm := rt.sched.Owned(v.ID, cur.Sched.Epoch); sm != nil {
				offs, ch = sm.DurableOffsets()
			}
		} else {
			offs = rt.SchedOffsets(ctx, cur)
		}
		if covers(offs, ends) {
			return nil
		}
		select {
		case <-ctx.Done():
			return replica.StoreErr(ctx.Err())
		case <-ch:
		case <-time.After(rt.t.ViewCoverPoll):
		}
	}
}

// SchedStatus asks node id which scheduled views it runs and how they
// fare (for cairn_cluster.views and cairn_cluster.compute_load).
func (rt *Router) SchedStatus(ctx context.Context, id uint64) ([]rpc.SchedViewStatus, error) {
	cctx, cancel := context.WithTimeout(ctx, rt.t.ReplicaCall)
	defer cancel()
	out, err := rt.CallNode(cctx, id, rpc.SchedStatus, struct{}{})
	if err != nil {
		return nil, err
	}
	var st []rpc.SchedViewStatus
	if err := json.Unmarshal(out, &st); err != nil {
		return nil, pgerr.BadReply.New(rpc.SchedStatus, err)
	}
	return st, nil
}
