package ops

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/rpc"
)

// OpFailoverRegion is the operation SHOW OPERATIONS lists for an ALTER
// SYSTEM FAILOVER REGION (recorded done, with what each shard may have
// lost in its step).
const OpFailoverRegion = "failover_region"

// RegionFailoverRow is one shard of a region failover: the learner that
// becomes its voter and how far behind it may have been when the old
// primary region was lost.
type RegionFailoverRow struct {
	Object  string // "stream ev", "view ev_count", "table t"
	Shard   int
	Group   uint64
	From    string   // the lost primary region
	Learner uint64   // the learner promoted (0: the shard kept its voters)
	Lost    []uint64 // the voters given up
	Applied uint64   // the learner's applied index
	Behind  uint64   // entries it knew committed but had not applied
	End     uint64   // a stream shard's end offset on the learner (events held)
	// Since is how long before the failover the learner last applied an
	// entry (-1: unknown): writes acknowledged after then may be lost.
	Since time.Duration
	// Newest is when the newest event a stream learner holds was ingested
	// (zero: unknown, or not a stream): events acknowledged after it may
	// be lost.
	Newest time.Time
	Action string
}

// regionPlan is one shard to fail over.
type regionPlan struct {
	row RegionFailoverRow
	rep *rpc.ShardReply
	// others: the learners of the shard that answered, besides the one
	// promoted: their logs may disagree with it, so they are rebuilt.
	others []uint64
}

// FailoverRegion is ALTER SYSTEM FAILOVER REGION TO 'to' [FORCE]: every
// regional object that lists region to and has another primary region
// takes to as its primary. A shard whose voters were all in the old
// primary region gets its learner in region to as its only voter
// (forced recovery: entries the learner had not received are lost, and
// the rows say how far behind it was); the other learners that answered
// are rebuilt from it. It refuses, before changing anything, when the
// old primary region still has a live quorum of a shard (unless force)
// or a shard has no answering learner in region to.
func (e *Executor) FailoverRegion(ctx context.Context, to string, force bool) ([]RegionFailoverRow, error) {
	cat := e.c.Catalog()
	regions := cat.RegionNames()
	if !slices.Contains(regions, to) {
		return nil, pgerr.RegionUnknown.New(to, strings.Join(regions, ", "))
	}
	var plans []*regionPlan
	now := e.clock.Now()
	for _, obj := range cat.RegionalObjects() {
		r := obj.Regional
		if r.Primary == to || !slices.Contains(r.Regions, to) {
			continue
		}
		kind := map[catalog.GroupKind]string{catalog.GroupStream: "stream", catalog.GroupView: "view", catalog.GroupTable: "table"}[obj.Kind]
		for i, gid := range obj.Groups {
			var voters, learners []uint64
			if i < len(obj.Nodes) {
				voters = obj.Nodes[i]
			}
			if i < len(r.Learners) {
				learners = r.Learners[i]
			}
			label := fmt.Sprintf("%s %s shard %d", kind, obj.Name, i)
			row := RegionFailoverRow{Object: kind + " " + obj.Name, Shard: i, Group: gid, From: r.Primary, Since: -1}
			var live []uint64
			for _, id := range voters {
				if nd := cat.NodeByID(id); nd != nil && e.liveness(nd) == "live" {
					live = append(live, id)
				}
			}
			if len(live)*2 > len(voters) && !force {
				return nil, pgerr.FailoverQuorumLeft.New(r.Primary, label, cat.NodeNames(live), to)
			}
			p := &regionPlan{row: row}
			for _, id := range learners {
				nd := cat.NodeByID(id)
				if nd == nil || e.liveness(nd) == "dead" {
					continue
				}
				cctx, cancel := context.WithTimeout(ctx, e.t.LeadersCall)
				rep, err := e.c.ShardAdminAt(cctx, id, rpc.ShardRequest{Group: gid, Action: rpc.ShardStatus})
				cancel()
				if err != nil {
					continue
				}
				if rep.Leader != 0 && rep.Leader == id {
					return nil, pgerr.FailoverStillLeads.New(label, cat.NodeLabel(id))
				}
				if nd.Region != to || (p.rep != nil && rep.Applied <= p.rep.Applied) {
					p.others = append(p.others, id)
					continue
				}
				if p.rep != nil {
					p.others = append(p.others, p.row.Learner)
				}
				p.rep, p.row.Learner = rep, id
			}
			if p.rep == nil {
				return nil, pgerr.FailoverNoLearner.New(label, to, cat.NodeNames(learners), gid)
			}
			p.row.Lost, p.row.Applied, p.row.End = voters, p.rep.Applied, p.rep.End
			p.row.Behind = p.rep.Commit - min(p.rep.Commit, p.rep.Applied)
			if p.rep.Newest > 0 {
				p.row.Newest = time.UnixMicro(p.rep.Newest)
			}
			if p.rep.AppliedAt > 0 {
				p.row.Since = max(now.Sub(time.UnixMicro(p.rep.AppliedAt)), 0)
			}
			plans = append(plans, p)
		}
	}
	if len(plans) == 0 {
		return nil, pgerr.FailoverNoRegional.New(to)
	}
	// Act: every shard's learner becomes its only voter, then the catalog
	// records the new voters and primary region at once.
	voters := map[uint64][]uint64{}
	var out []RegionFailoverRow
	from := plans[0].row.From
	for _, p := range plans {
		if _, err := e.c.ShardAdminAt(ctx, p.row.Learner, rpc.ShardRequest{Group: p.row.Group, Action: rpc.ShardForce}); err != nil {
			return out, err
		}
		voters[p.row.Group] = []uint64{p.row.Learner}
		for _, id := range p.others {
			if _, err := e.c.ShardAdminAt(ctx, id, rpc.ShardRequest{Group: p.row.Group, Action: rpc.ShardDestroy}); err != nil {
				e.log.Warn("region failover: could not rebuild a learner", "group", p.row.Group, "node", id, "err", err)
			}
		}
		p.row.Action = fmt.Sprintf("%s is the only voter (applied index %d)", cat.BareName(p.row.Learner), p.row.Applied)
		out = append(out, p.row)
		e.log.Warn("region failover: learner promoted by forced recovery", "group", p.row.Group, "learner", p.row.Learner, "applied", p.row.Applied, "since", p.row.Since)
	}
	if err := e.c.WaitMetaLeader(e.t.MetaProposeTimeout); err != nil {
		return out, err
	}
	if _, err := e.c.Propose(ctx, &catalog.FailoverRegion{From: from, To: to, Voters: voters, At: now.UnixMicro()}); err != nil {
		return out, err
	}
	var step []string
	for _, r := range out {
		since := "unknown"
		if r.Since >= 0 {
			since = r.Since.Round(time.Millisecond).String()
		}
		newest := ""
		if !r.Newest.IsZero() {
			newest = fmt.Sprintf(", holds the events ingested up to %s", r.Newest.UTC().Format("15:04:05.000"))
		}
		step = append(step, fmt.Sprintf("%s/%d: %s at applied index %d, last applied %s before%s", r.Object, r.Shard, cat.BareName(r.Learner), r.Applied, since, newest))
	}
	_, _ = e.Create(ctx, &catalog.Operation{Type: OpFailoverRegion, Target: "region " + to, Status: catalog.OpDone, Progress: 1,
		Start: now.UnixMicro(), End: e.clock.Now().UnixMicro(), Step: fmt.Sprintf("primary region %s -> %s; %s", from, to, strings.Join(step, "; "))})
	return out, nil
}
