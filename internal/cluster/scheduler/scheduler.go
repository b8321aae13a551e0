// Package scheduler decides which cluster operations to start. It runs on
// the meta leader every round, but the decision itself is a pure function
// of (catalog, liveness snapshot, settings, now): it returns the new
// operations to record and which recorded ones to run, and the executor
// (the node's operations runner) acts on them. Tested by the scripts in
// ../placement/testdata, which drive placement and scheduling together.
package scheduler

import (
	"slices"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/cluster/placement"
)

// Settings are the knobs a scheduling round reads.
type Settings struct {
	AutoFailover  bool // replace replicas on dead nodes, fill under-replicated shards
	AutoRebalance bool // start a rebalance when replica counts are uneven
	// MaxNewOps bounds the replica operations one round creates.
	MaxNewOps int
	// MaxViewMoves bounds the scheduled views one round assigns or
	// starts moving (PlanScheduled); 0: 8.
	MaxViewMoves int
	// RebalanceCooldown spaces automatic rebalances; StartupGrace is how
	// long after the process started none is begun.
	RebalanceCooldown, StartupGrace time.Duration
}

// DefaultSettings are the limits the node uses, with both switches on.
func DefaultSettings() Settings {
	return Settings{AutoFailover: true, AutoRebalance: true, MaxNewOps: 4, MaxViewMoves: 8, RebalanceCooldown: 10 * time.Second, StartupGrace: 5 * time.Second}
}

// Input is everything a scheduling round sees.
type Input struct {
	Cat      *catalog.Catalog
	Live     membership.Snapshot
	Settings Settings
	Now      time.Time
	// Started is when this process started; LastRebalance when this meta
	// leader last began an automatic rebalance (zero: never).
	Started, LastRebalance time.Time
}

// Plan returns the operations to create this round, in order:
//   - for each shard (by group id) without an active operation, one
//     replace_replica when a replica is on a node that is gone, offline or
//     decommissioning, or (with auto_failover) dead, or when the shard has
//     fewer replicas than asked for (with auto_failover) — never for a
//     shard without a live majority, nor when no node can take the
//     replica; at most MaxNewOps of them;
//   - then a rebalance, with auto_rebalance, when candidates' replica
//     counts differ by two or more, nothing that moves replicas is
//     active, every data node's fate is known, and neither the cooldown
//     nor the startup grace is running.
func Plan(in Input) []*catalog.Operation {
	cat, live := in.Cat, in.Live
	groups := cat.Groups()
	gids := make([]uint64, 0, len(groups))
	for g := range groups {
		gids = append(gids, g)
	}
	slices.Sort(gids)
	var out []*catalog.Operation
	for _, gid := range gids {
		if len(out) >= in.Settings.MaxNewOps {
			break
		}
		ref := groups[gid]
		if cat.ActiveOpOn(gid) != nil {
			continue
		}
		var bad uint64
		healthy := 0
		for _, id := range ref.Nodes {
			nd := cat.NodeByID(id)
			switch {
			case nd == nil || nd.Evacuating() || (in.Settings.AutoFailover && live.Of(id) == membership.Dead):
				if bad == 0 {
					bad = id
				}
			case live.IsLive(id):
				healthy++
			}
		}
		short := in.Settings.AutoFailover && len(ref.Nodes) < ref.Replicas
		if bad == 0 && !short {
			continue
		}
		if healthy*2 <= len(ref.Nodes) {
			// No live majority: nothing can be added until it is back (or
			// an operator forces recovery).
			continue
		}
		if placement.TargetFor(cat, live, gid, ref.Nodes, bad) == 0 {
			continue // nowhere to put it: wait for a node
		}
		o := &catalog.Operation{Type: catalog.OpReplaceReplica, Target: cat.GroupTarget(gid), Group: gid, From: bad, Auto: true}
		if bad == 0 {
			o.Step = "under-replicated"
		}
		out = append(out, o)
	}
	if rebalanceDue(in) {
		out = append(out, &catalog.Operation{Type: catalog.OpRebalance, Target: "cluster", Auto: true})
	}
	return out
}

// rebalanceDue reports whether an automatic rebalance should start.
func rebalanceDue(in Input) bool {
	s := in.Settings
	if !s.AutoRebalance || in.Now.Sub(in.LastRebalance) < s.RebalanceCooldown || in.Now.Sub(in.Started) < s.StartupGrace {
		return false
	}
	for _, o := range in.Cat.Ops {
		if o.Active() && (o.Type == catalog.OpRebalance || o.Type == catalog.OpReplaceReplica || o.Type == catalog.OpNodeOffline || o.Type == catalog.OpDecommission) {
			return false
		}
	}
	for _, nd := range in.Cat.SortedNodes() {
		if l := in.Live.Of(nd.ID); nd.Placeable() && (l == membership.Suspect || l == membership.Unknown) {
			return false // wait until every node's fate is known
		}
	}
	_, ok := placement.RebalanceMove(in.Cat, in.Live)
	return ok
}

// Runnable returns the active operations to start now, by id: every one
// not running yet, except that at most maxMoves replica moves run at once
// (so snapshots do not starve ingest). running holds the ids of those
// already running.
func Runnable(cat *catalog.Catalog, running map[uint64]bool, maxMoves int) []*catalog.Operation {
	moves := 0
	for id := range running {
		if o := cat.Ops[id]; o != nil && o.Type == catalog.OpReplaceReplica {
			moves++
		}
	}
	var out []*catalog.Operation
	for _, o := range cat.SortedOps() {
		if !o.Active() || running[o.ID] {
			continue
		}
		if o.Type == catalog.OpBackup || o.Type == catalog.OpRestore {
			continue // run by the node whose statement started them (node/backup.go)
		}
		if o.Type == catalog.OpReplaceReplica {
			if moves >= maxMoves {
				continue
			}
			moves++
		}
		out = append(out, o)
	}
	return out
}
