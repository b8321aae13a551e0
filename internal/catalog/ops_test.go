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
	apply := func(cmd *Command) *Result {
		t.Helper()
		return applyCommand(c, cmd)
	}
	apply(&Command{Op: "init", Node: &Node{Name: "n1"}})
	for i, name := range []string{"n2", "n3", "n4"} {
		if r := apply(&Command{Op: "add_node", Node: &Node{Name: name}}); r.Err != nil || r.Node.ID != uint64(i+2) {
			t.Fatalf("add_node %s: %+v", name, r)
		}
	}
	st := &Stream{Name: "s", Cols: []Column{{Name: "id", T: types.Int8}}, Shards: 1, Replicas: 3, Nodes: [][]uint64{{1, 2, 3}}}
	r := apply(&Command{Op: "create_stream", Stream: st})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	gid := r.Stream.Groups[0]

	// One active operation per shard.
	r = apply(&Command{Op: "op_create", Operation: &Operation{Type: OpReplaceReplica, Group: gid, From: 3}})
	if r.Err != nil || r.Operation.ID != 1 || r.Operation.Status != OpPending {
		t.Fatalf("op_create: %+v", r)
	}
	if r := apply(&Command{Op: "op_create", Operation: &Operation{Type: OpTransferLeader, Group: gid, To: 2}}); r.Err == nil || r.Err.Code != "55006" {
		t.Fatalf("a second operation on the shard: %+v", r.Err)
	}
	if r := apply(&Command{Op: "op_create", Operation: &Operation{Type: OpTransferLeader, Group: 99}}); r.Err == nil || r.Err.Code != "42704" {
		t.Fatalf("an operation on a missing shard: %+v", r.Err)
	}
	// The executor records progress and the node it picked.
	if r := apply(&Command{Op: "op_update", Operation: &Operation{ID: 1, Status: OpRunning, Progress: 0.5, Step: "catching up", To: 4}}); r.Err != nil || c.Ops[1].To != 4 || c.Ops[1].Progress != 0.5 {
		t.Fatalf("op_update: %+v %+v", r.Err, c.Ops[1])
	}
	// An operator cancels; the executor's next update learns it.
	if r := apply(&Command{Op: "op_update", Key: "cancel", Operation: &Operation{ID: 1, Status: OpCancelled, End: 7}}); r.Err != nil || c.Ops[1].Status != OpCancelled || c.Ops[1].End != 7 {
		t.Fatalf("cancel: %+v %+v", r.Err, c.Ops[1])
	}
	if r := apply(&Command{Op: "op_update", Operation: &Operation{ID: 1, Status: OpRunning, Progress: 0.9}}); r.Err == nil || r.Err.Code != "55000" {
		t.Fatalf("update of a cancelled operation: %+v", r.Err)
	}
	if c.ActiveOpOn(gid) != nil {
		t.Fatal("a cancelled operation still blocks the shard")
	}

	// Placement: n4 joins the running group, n3 leaves.
	if r := apply(&Command{Op: "set_placement", Placement: &Placement{Group: gid, Nodes: []uint64{1, 2, 3, 4}, Added: 4}}); r.Err != nil {
		t.Fatal(r.Err)
	}
	if nodes, _ := c.ShardNodes(gid); !slices.Equal(nodes, []uint64{1, 2, 3, 4}) || !slices.Equal(c.Added[gid], []uint64{4}) {
		t.Fatalf("placement %v added %v", nodes, c.Added[gid])
	}
	apply(&Command{Op: "set_placement", Placement: &Placement{Group: gid, Nodes: []uint64{1, 2, 4}}})
	if got := c.ReplicaCounts(); got[3] != 0 || got[4] != 1 {
		t.Fatalf("replica counts %v", got)
	}

	// Node states and removal.
	v := NodeDecommissioning
	if r := apply(&Command{Op: "set_node_state", Key: "n4", Value: &v}); r.Err != nil || !c.Nodes["n4"].Evacuating() || c.Nodes["n4"].Placeable() {
		t.Fatalf("set_node_state: %+v %+v", r.Err, c.Nodes["n4"])
	}
	if r := apply(&Command{Op: "remove_node", Key: "n4"}); r.Err == nil || r.Err.Code != "55006" {
		t.Fatalf("removing a node that holds a replica: %+v", r.Err)
	}
	if r := apply(&Command{Op: "remove_node", Key: "n3"}); r.Err != nil || c.Nodes["n3"] != nil || !c.Removed[3] {
		t.Fatalf("remove_node: %+v", r.Err)
	}
	if r := apply(&Command{Op: "add_node", Node: &Node{Name: "n3", ID: 3}}); r.Err == nil || r.Err.Code != "55000" {
		t.Fatalf("a removed node registering again: %+v", r.Err)
	}
	// A restart ends a drain but keeps other operator states.
	d := NodeDraining
	apply(&Command{Op: "set_node_state", Key: "n2", Value: &d})
	apply(&Command{Op: "add_node", Key: "restart", Node: &Node{Name: "n2", ID: 2}})
	apply(&Command{Op: "add_node", Key: "restart", Node: &Node{Name: "n4", ID: 4}})
	if c.Nodes["n2"].State != "" || c.Nodes["n4"].State != NodeDecommissioning {
		t.Fatalf("after restarts: n2 %q, n4 %q", c.Nodes["n2"].State, c.Nodes["n4"].State)
	}
	// Dropping the stream forgets its added replicas.
	apply(&Command{Op: "drop_stream", Names: []string{"s"}})
	if len(c.Added) != 0 {
		t.Fatalf("added after drop: %v", c.Added)
	}
}

// TestFinishedOpsAreTrimmed keeps the history bounded.
func TestFinishedOpsAreTrimmed(t *testing.T) {
	c := New()
	for i := 0; i < maxFinishedOps+10; i++ {
		applyCommand(c, &Command{Op: "op_create", Operation: &Operation{Type: OpRemoveNode, Status: OpDone}})
	}
	applyCommand(c, &Command{Op: "op_create", Operation: &Operation{Type: OpRebalance}})
	if len(c.Ops) != maxFinishedOps+1 || c.Ops[1] != nil || c.Ops[uint64(maxFinishedOps+11)] == nil {
		t.Fatalf("ops kept: %d", len(c.Ops))
	}
}
