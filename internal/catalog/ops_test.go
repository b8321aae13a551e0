package catalog

import (
	"slices"
	"testing"

	"github.com/cairndb/cairn/internal/types"
)

// TestOperationsAndPlacement covers the operation, node-state and
// placement commands: one active operation per shard, cancellation seen
// by the executor's next update, placement changes with added replicas,
// refused removal of a node that holds replicas, and removed ids kept out.
func TestOperationsAndPlacement(t *testing.T) {
	c := New()
	apply := func(cmd Command) *Result {
		t.Helper()
		return cmd.apply(c)
	}
	apply(&Init{Node: &Node{Name: "n1"}})
	for i, name := range []string{"n2", "n3", "n4"} {
		if r := apply(&AddNode{Node: &Node{Name: name}}); r.Err != nil || r.Node.ID != uint64(i+2) {
			t.Fatalf("add_node %s: %+v", name, r)
		}
	}
	st := &Stream{Name: "s", Cols: []Column{{Name: "id", T: types.Int8}}, Shards: 1, Replicas: 3, Nodes: [][]uint64{{1, 2, 3}}}
	r := apply(&CreateStream{Stream: st})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	gid := r.Stream.Groups[0]

	// One active operation per shard.
	r = apply(&CreateOperation{Operation: &Operation{Type: OpReplaceReplica, Group: gid, From: 3}})
	if r.Err != nil || r.Operation.ID != 1 || r.Operation.Status != OpPending {
		t.Fatalf("op_create: %+v", r)
	}
	if r := apply(&CreateOperation{Operation: &Operation{Type: OpTransferLeader, Group: gid, To: 2}}); r.Err == nil || r.Err.Code != "55006" {
		t.Fatalf("a second operation on the shard: %+v", r.Err)
	}
	if r := apply(&CreateOperation{Operation: &Operation{Type: OpTransferLeader, Group: 99}}); r.Err == nil || r.Err.Code != "42704" {
		t.Fatalf("an operation on a missing shard: %+v", r.Err)
	}
	// The executor records progress and the node it picked.
	if r := apply(&UpdateOperation{Operation: &Operation{ID: 1, Status: OpRunning, Progress: 0.5, Step: "catching up", To: 4}}); r.Err != nil || c.Ops[1].To != 4 || c.Ops[1].Progress != 0.5 {
		t.Fatalf("op_update: %+v %+v", r.Err, c.Ops[1])
	}
	// An operator cancels; the executor's next update learns it.
	if r := apply(&UpdateOperation{Cancel: true, Operation: &Operation{ID: 1, Status: OpCancelled, End: 7}}); r.Err != nil || c.Ops[1].Status != OpCancelled || c.Ops[1].End != 7 {
		t.Fatalf("cancel: %+v %+v", r.Err, c.Ops[1])
	}
	if r := apply(&UpdateOperation{Operation: &Operation{ID: 1, Status: OpRunning, Progress: 0.9}}); r.Err == nil || r.Err.Code != "55000" {
		t.Fatalf("update of a cancelled operation: %+v", r.Err)
	}
	if c.ActiveOpOn(gid) != nil {
		t.Fatal("a cancelled operation still blocks the shard")
	}

	// Placement: n4 joins the running group, n3 leaves.
	if r := apply(&SetPlacement{Group: gid, Nodes: []uint64{1, 2, 3, 4}, Added: 4}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if nodes, _ := c.ShardNodes(gid); !slices.Equal(nodes, []uint64{1, 2, 3, 4}) || !slices.Equal(c.Added[gid], []uint64{4}) {
		t.Fatalf("placement %v added %v", nodes, c.Added[gid])
	}
	apply(&SetPlacement{Group: gid, Nodes: []uint64{1, 2, 4}})
	if got := c.ReplicaCounts(); got[3] != 0 || got[4] != 1 {
		t.Fatalf("replica counts %v", got)
	}

	// Node states and removal.
	v := NodeDecommissioning
	if r := apply(&SetNodeState{Node: "n4", State: v}); r.Err != nil || !c.Nodes["n4"].Evacuating() || c.Nodes["n4"].Placeable() {
		t.Fatalf("set_node_state: %+v %+v", r.Err, c.Nodes["n4"])
	}
	if r := apply(&RemoveNode{Node: "n4"}); r.Err == nil || r.Err.Code != "55006" {
		t.Fatalf("removing a node that holds a replica: %+v", r.Err)
	}
	if r := apply(&RemoveNode{Node: "n3"}); r.Err != nil || c.Nodes["n3"] != nil || !c.Removed[3] {
		t.Fatalf("remove_node: %+v", r.Err)
	}
	if r := apply(&AddNode{Node: &Node{Name: "n3", ID: 3}}); r.Err == nil || r.Err.Code != "55000" {
		t.Fatalf("a removed node registering again: %+v", r.Err)
	}
	// A restart ends a drain but keeps other operator states.
	d := NodeDraining
	apply(&SetNodeState{Node: "n2", State: d})
	apply(&AddNode{Restart: true, Node: &Node{Name: "n2", ID: 2}})
	apply(&AddNode{Restart: true, Node: &Node{Name: "n4", ID: 4}})
	if c.Nodes["n2"].State != "" || c.Nodes["n4"].State != NodeDecommissioning {
		t.Fatalf("after restarts: n2 %q, n4 %q", c.Nodes["n2"].State, c.Nodes["n4"].State)
	}
	// Dropping the stream forgets its added replicas.
	apply(&DropStreams{Names: []string{"s"}})
	if len(c.Added) != 0 {
		t.Fatalf("added after drop: %v", c.Added)
	}
}

// TestFinishedOpsAreTrimmed keeps the history bounded.
func TestFinishedOpsAreTrimmed(t *testing.T) {
	c := New()
	for i := 0; i < maxFinishedOps+10; i++ {
		(&CreateOperation{Operation: &Operation{Type: OpRemoveNode, Status: OpDone}}).apply(c)
	}
	(&CreateOperation{Operation: &Operation{Type: OpRebalance}}).apply(c)
	if len(c.Ops) != maxFinishedOps+1 || c.Ops[1] != nil || c.Ops[uint64(maxFinishedOps+11)] == nil {
		t.Fatalf("ops kept: %d", len(c.Ops))
	}
}
