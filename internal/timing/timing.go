// Package timing is the one table of a node's intervals, timeouts and
// limits: raft ticks, heartbeats, background loops, the scheduler and the
// operations executor. Zero fields take the defaults.
package timing

import "time"

// Timing is every interval, timeout and pause the node's background work
// uses, in one table. Zero fields take their defaults (Default);
// tests shorten them.
type Timing struct {
	// Raft: the clock's tick; a leader heartbeats every RaftHeartbeat and
	// followers elect after RaftElection without one (randomized up to
	// twice that).
	RaftTick, RaftHeartbeat, RaftElection time.Duration

	// Membership.
	Heartbeat          time.Duration // heartbeats to every member; also paces meta-group growth
	JoinDeadline       time.Duration // a joining node gives up after this
	JoinAttempt        time.Duration // one join RPC
	MetaChangeTimeout  time.Duration // one meta-group membership change
	LeaderBalance      time.Duration // leadership transfers from one node, one round each
	StatusCallTimeout  time.Duration // one node's answer for cairn_cluster.shards
	MetaLeaderWait     time.Duration // at start, for the meta group to elect a leader
	RegisterTimeout    time.Duration // at start, to register this node in the catalog
	MetaProposeTimeout time.Duration // one catalog change
	MetaForwardWait    time.Duration // forwarding a catalog change to the meta leader

	// Background loops.
	Schedule  time.Duration // scheduler and operations runner (also on a poke)
	Reconcile time.Duration // catalog → groups on this node (also on a poke)
	Retention time.Duration // trimming expired stream batches
	Lag       time.Duration // view lag gauges

	// The scheduler.
	RebalanceCooldown time.Duration // spaces automatic rebalances
	StartupGrace      time.Duration // no automatic rebalance sooner after start
	MaxNewOps         int           // replica operations one round creates
	MaxMoves          int           // replica moves running at once

	// The operations executor.
	OpAttempts        int           // runs of one operation after retryable errors
	MoveTimeout       time.Duration // one replica move (a large shard's snapshot)
	ShardAdminTimeout time.Duration // one shard-admin call on a node
	ShardAdminRetry   time.Duration // finding a group's leader for a shard-admin call
	OpPoll            time.Duration // operation steps checking for their result
	DrainTimeout      time.Duration // a drain's wait for the node to lead nothing
	FailoverTimeout   time.Duration // a failover's wait for the preferred node to lead
	RecoverTimeout    time.Duration // ALTER NODE … RECOVER's wait for the node to heartbeat

	// Shutdown.
	ShutdownGrace time.Duration // front ends and running RPCs finishing on Close
}

// Default is the timing of a production node.
func Default() Timing {
	return Timing{
		RaftTick: 50 * time.Millisecond, RaftHeartbeat: 100 * time.Millisecond, RaftElection: time.Second,
		Heartbeat: 500 * time.Millisecond, JoinDeadline: 30 * time.Second, JoinAttempt: 5 * time.Second,
		MetaChangeTimeout: 10 * time.Second, LeaderBalance: time.Second, StatusCallTimeout: time.Second,
		MetaLeaderWait: 30 * time.Second, RegisterTimeout: 30 * time.Second, MetaProposeTimeout: 10 * time.Second,
		MetaForwardWait: 5 * time.Second,
		Schedule:        time.Second, Reconcile: time.Second, Retention: time.Second, Lag: time.Second,
		RebalanceCooldown: 10 * time.Second, StartupGrace: 5 * time.Second, MaxNewOps: 4, MaxMoves: 2,
		OpAttempts: 5, MoveTimeout: 30 * time.Minute, ShardAdminTimeout: 12 * time.Second, ShardAdminRetry: 15 * time.Second,
		OpPoll: 250 * time.Millisecond, DrainTimeout: time.Minute, FailoverTimeout: time.Minute, RecoverTimeout: 10 * time.Minute,
		ShutdownGrace: 10 * time.Second,
	}
}

// WithDefaults fills zero fields from Default.
func (t Timing) WithDefaults() Timing {
	d := Default()
	fill := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	fill(&t.RaftTick, d.RaftTick)
	fill(&t.RaftHeartbeat, d.RaftHeartbeat)
	fill(&t.RaftElection, d.RaftElection)
	fill(&t.Heartbeat, d.Heartbeat)
	fill(&t.JoinDeadline, d.JoinDeadline)
	fill(&t.JoinAttempt, d.JoinAttempt)
	fill(&t.MetaChangeTimeout, d.MetaChangeTimeout)
	fill(&t.LeaderBalance, d.LeaderBalance)
	fill(&t.StatusCallTimeout, d.StatusCallTimeout)
	fill(&t.MetaLeaderWait, d.MetaLeaderWait)
	fill(&t.RegisterTimeout, d.RegisterTimeout)
	fill(&t.MetaProposeTimeout, d.MetaProposeTimeout)
	fill(&t.MetaForwardWait, d.MetaForwardWait)
	fill(&t.Schedule, d.Schedule)
	fill(&t.Reconcile, d.Reconcile)
	fill(&t.Retention, d.Retention)
	fill(&t.Lag, d.Lag)
	fill(&t.RebalanceCooldown, d.RebalanceCooldown)
	fill(&t.StartupGrace, d.StartupGrace)
	fill(&t.MoveTimeout, d.MoveTimeout)
	fill(&t.ShardAdminTimeout, d.ShardAdminTimeout)
	fill(&t.ShardAdminRetry, d.ShardAdminRetry)
	fill(&t.OpPoll, d.OpPoll)
	fill(&t.DrainTimeout, d.DrainTimeout)
	fill(&t.FailoverTimeout, d.FailoverTimeout)
	fill(&t.RecoverTimeout, d.RecoverTimeout)
	fill(&t.ShutdownGrace, d.ShutdownGrace)
	if t.MaxNewOps <= 0 {
		t.MaxNewOps = d.MaxNewOps
	}
	if t.MaxMoves <= 0 {
		t.MaxMoves = d.MaxMoves
	}
	if t.OpAttempts <= 0 {
		t.OpAttempts = d.OpAttempts
	}
	return t
}
