// Package rpc holds the wire types of the node-to-node services that more
// than one package speaks: the method names and their request and reply
// bodies. It is a leaf: the node serves these methods, the operations
// executor and the router call them.
package rpc

import "slices"

// Internal RPC methods.
const (
	Join        = "join"         // a new node asks to be let in
	MetaPropose = "meta_propose" // a catalog change forwarded to the meta leader
	Heartbeat   = "heartbeat"    // liveness, with the sender's leader count
	GroupStatus = "group_status" // one group's raft state on the node asked
	NodeGroups  = "node_groups"  // every replica's raft state on the node asked
	ShardAdmin  = "shard_admin"  // a replica's raft state, or a membership or leadership change at its leader
)

// ShardAction is what a ShardAdmin request asks of a replica; its value is
// the wire form.
type ShardAction string

// The shard actions. Status, force and destroy act on the replica asked;
// the others on the group's leader, for the replica on Node.
const (
	ShardStatus     ShardAction = "status"      // report the raft state and what the replica holds
	ShardForce      ShardAction = "force"       // unsafe recovery: this replica becomes the only voter
	ShardDestroy    ShardAction = "destroy"     // delete a replica left out by a forced recovery
	ShardTransfer   ShardAction = "transfer"    // move leadership to Node
	ShardAddLearner ShardAction = "add_learner" // add Node as a learner
	ShardPromote    ShardAction = "promote"     // make learner Node a voter
	ShardRemove     ShardAction = "remove"      // remove Node from the group
)

// ShardRequest is the body of a ShardAdmin call.
type ShardRequest struct {
	Group  uint64      `json:"group"`
	Action ShardAction `json:"action"`
	Node   uint64      `json:"node,omitempty"`
}

// ShardReply is a group's raft state as the replica asked sees it.
type ShardReply struct {
	Leader    uint64            `json:"leader"`
	Term      uint64            `json:"term"`
	Commit    uint64            `json:"commit"`
	Applied   uint64            `json:"applied"`
	Voters    []uint64          `json:"voters"`
	Learners  []uint64          `json:"learners"`
	Match     map[uint64]uint64 `json:"match,omitempty"`
	NotLeader bool              `json:"not_leader,omitempty"`
	Holds     string            `json:"holds,omitempty"` // status and force: what the replica's state machine holds
	// Snapshots (status, at the leader): the snapshots of the group it is
	// streaming to replicas now.
	Snapshots []SnapshotProgress `json:"snapshots,omitempty"`
	// AppliedAt (status): when the replica reached Applied, as its node
	// saw it (unix µs; 0: unknown); End: a stream shard's end offset.
	// FAILOVER REGION reports a learner's staleness from them.
	AppliedAt int64  `json:"applied_at,omitempty"`
	End       uint64 `json:"end,omitempty"`
	// Newest (status, a stream learner): the ingest time (unix µs) of
	// the newest event it holds, 0 if unknown.
	Newest int64 `json:"newest,omitempty"`
}

// SnapshotProgress is a snapshot being streamed to node To: bytes
// acknowledged so far of about Total.
type SnapshotProgress struct {
	To    uint64 `json:"to"`
	Sent  int64  `json:"sent"`
	Total int64  `json:"total"`
}

// IsVoter reports whether node id votes in the group.
func (r *ShardReply) IsVoter(id uint64) bool { return slices.Contains(r.Voters, id) }

// IsLearner reports whether node id is a learner of the group.
func (r *ShardReply) IsLearner(id uint64) bool { return slices.Contains(r.Learners, id) }

// IsMember reports whether node id holds a replica of the group.
func (r *ShardReply) IsMember(id uint64) bool { return r.IsVoter(id) || r.IsLearner(id) }

// ReplicaStatus is one replica's raft state, as cairn_cluster.shards
// shows it (NodeGroups replies map group id to it).
type ReplicaStatus struct {
	Role    string `json:"role"`
	Applied uint64 `json:"applied"`
	Commit  uint64 `json:"commit"`
	// View shards with tumble()/hop() windows: the watermark (Unix
	// microseconds) and the count of late events left out.
	Watermark int64  `json:"watermark,omitempty"`
	Late      uint64 `json:"late,omitempty"`
	// Stream shards of a reroute stream: the parts rerouted into it
	// (issue 15; nil when none ever were).
	Reroute *RerouteStatus `json:"reroute,omitempty"`
}

// RerouteStatus counts the batch parts a stream shard took in for other
// shards (on_shard_unavailable = 'reroute'): From is [batches, events]
// by origin group; Pending are parked until their origin answers a fence.
type RerouteStatus struct {
	InBatches uint64               `json:"in_batches"`
	InEvents  uint64               `json:"in_events"`
	Released  uint64               `json:"released"`
	Dropped   uint64               `json:"dropped"`
	Pending   int                  `json:"pending"`
	From      map[uint64][2]uint64 `json:"from,omitempty"`
}

// Fence answers in AppendReply.End (an append of a streamsm fence).
const (
	FenceHad    = 1 // the origin shard applied the batch before the fence
	FenceFenced = 2 // it never will: the fence came first
)
