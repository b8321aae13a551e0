// Package timing is the one table of a node's intervals, timeouts and
// limits: raft ticks, heartbeats, background loops, routing retries,
// replicas and view tasks, the scheduler and the operations executor.
// Zero fields take the defaults.
package timing

import (
	"reflect"
	"time"
)

// Timing is every interval, timeout, pause and limit a node uses, in one
// table. Zero fields take their defaults (Default); tests shorten them.
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
	StatusCallTimeout  time.Duration // one node's answer for cairn_cluster.shards, or who leads a group
	MetaLeaderWait     time.Duration // at start, for the meta group to elect a leader
	RegisterTimeout    time.Duration // at start, to register this node in the catalog
	MetaProposeTimeout time.Duration // one catalog change
	MetaForwardWait    time.Duration // forwarding a catalog change to the meta leader

	// Background loops.
	Schedule  time.Duration // scheduler and operations runner (also on a poke)
	Reconcile time.Duration // catalog → groups on this node (also on a poke)
	Retention time.Duration // trimming expired stream batches
	Lag       time.Duration // view lag gauges

	// The router.
	AppendDeadline   time.Duration // one batch's appends, retried across leader changes
	AppendAttempt    time.Duration // one append attempt at one node (a paused leader is then given up)
	AppendHedge      time.Duration // no answer to an append this soon: the next likely leader is tried too (same batch id)
	AppendSilence    time.Duration // no replica of the shard answered at all this long: the write fails (this node is likely cut off)
	ReplicaCall      time.Duration // one call to one replica before the next is tried
	RemoteScan       time.Duration // one page of a stream shard read from another node
	RemoteStreamPoll time.Duration // a view task's look at a stream shard it has no replica of
	ViewCoverPoll    time.Duration // sync_commit's look at whether the views caught up
	ShardAdminPoll   time.Duration // between attempts to reach a group's leader for shard admin
	LeadersCall      time.Duration // asking a node about its replicas (how many it leads; forced recovery)
	RerouteAfter     time.Duration // a reroute stream's batch part unanswered this long goes to the next shard (on_shard_unavailable = 'reroute')
	RerouteReconcile time.Duration // a shard leader's look at its parked rerouted parts (fencing them at their origin)

	// Replicas and their view tasks.
	ViewMaxPause      time.Duration // pause after a large view delta (see viewsm.TaskConfig)
	ViewPausePerKey   time.Duration // pause per key of a view delta
	ViewLeaderPoll    time.Duration // a view shard replica's look at whether it leads
	ViewRetryMin      time.Duration // first backoff after a view task stopped
	ViewRetryMax      time.Duration // largest backoff after a view task stopped
	ReadIndexWait     time.Duration // a linearizable read's wait for its replica to know a leader
	ReadIndexPoll     time.Duration // between ReadIndex attempts
	ConfChangeTimeout time.Duration // one membership change of a data group
	GroupsReadyWait   time.Duration // CREATE's wait for the new shards to run here
	CatalogCatchUp    time.Duration // the meta barrier before deleting replicas moved off
	RetentionCall     time.Duration // one retention round's reads and trim of a shard

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
	OpPoll            time.Duration // node operations checking for their result
	CatchUpPoll       time.Duration // a new replica's catch-up checks
	TransferPoll      time.Duration // leadership transfer checks
	FailoverPoll      time.Duration // a failover's checks of who leads
	ProgressEvery     time.Duration // how often a catch-up's progress is recorded
	UndoTimeout       time.Duration // removing the learner of a cancelled move
	DrainTimeout      time.Duration // a drain's wait for the node to lead nothing
	FailoverTimeout   time.Duration // a failover's wait for the preferred node to lead
	RecoverTimeout    time.Duration // ALTER NODE … RECOVER's wait for the node to heartbeat
	// Scheduled views (issue 13): a move's wait for the live owner's
	// final checkpoint before it assigns the view anyway (and the new
	// owner replays), and its wait for the new owner to run the view.
	ViewHandoffTimeout, ViewStartTimeout time.Duration

	// Short waits between retries (backoffs grow from the step).
	AppendBackoff   time.Duration // step of the wait before retrying an append with no leader hint (×attempt, up to ×10)
	JoinBackoff     time.Duration // step of the wait between join rounds (×attempt, up to ×5)
	SpinPoll        time.Duration // waiting for a group to have a leader at start
	GroupsReadyPoll time.Duration // CREATE's checks that the new shards run here
	ForwardPoll     time.Duration // a forwarded catalog change's wait for a meta leader
	CatalogPoll     time.Duration // a joined node's wait for the catalog to list it

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

		Schedule: time.Second, Reconcile: time.Second, Retention: time.Second, Lag: time.Second,

		AppendDeadline: 10 * time.Second, AppendAttempt: time.Second, AppendHedge: 200 * time.Millisecond, AppendSilence: 2 * time.Second, ReplicaCall: 5 * time.Second,
		RemoteScan: 10 * time.Second, RemoteStreamPoll: 5 * time.Millisecond, ViewCoverPoll: 100 * time.Millisecond,
		ShardAdminPoll: 200 * time.Millisecond, LeadersCall: 2 * time.Second,
		RerouteAfter: time.Second, RerouteReconcile: 500 * time.Millisecond,

		ViewMaxPause: 40 * time.Millisecond, ViewPausePerKey: 4 * time.Microsecond, ViewLeaderPoll: 100 * time.Millisecond,
		ViewRetryMin: 10 * time.Millisecond, ViewRetryMax: time.Second, ReadIndexWait: 3 * time.Second,
		ReadIndexPoll: 50 * time.Millisecond, ConfChangeTimeout: 10 * time.Second, GroupsReadyWait: 10 * time.Second,
		CatalogCatchUp: 10 * time.Second, RetentionCall: 10 * time.Second,

		RebalanceCooldown: 10 * time.Second, StartupGrace: 5 * time.Second, MaxNewOps: 4, MaxMoves: 2,

		OpAttempts: 5, MoveTimeout: 30 * time.Minute, ShardAdminTimeout: 12 * time.Second, ShardAdminRetry: 15 * time.Second,
		OpPoll: 250 * time.Millisecond, CatchUpPoll: 200 * time.Millisecond, TransferPoll: 100 * time.Millisecond,
		FailoverPoll: 500 * time.Millisecond, ProgressEvery: time.Second, UndoTimeout: 20 * time.Second,
		DrainTimeout: time.Minute, FailoverTimeout: time.Minute, RecoverTimeout: 10 * time.Minute,
		ViewHandoffTimeout: 15 * time.Second, ViewStartTimeout: time.Minute,

		AppendBackoff: 10 * time.Millisecond, JoinBackoff: 200 * time.Millisecond, SpinPoll: 5 * time.Millisecond,
		GroupsReadyPoll: 2 * time.Millisecond, ForwardPoll: 20 * time.Millisecond, CatalogPoll: 10 * time.Millisecond,

		ShutdownGrace: 10 * time.Second,
	}
}

// WithDefaults fills every zero (or negative) field from Default.
func (t Timing) WithDefaults() Timing {
	d := reflect.ValueOf(Default())
	v := reflect.ValueOf(&t).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Int() <= 0 {
			f.Set(d.Field(i))
		}
	}
	return t
}
