package catalog

import (
	"testing"

	"github.com/cairndb/cairn/internal/types"
)

// TestErrorMessages pins what clients are told for each error the catalog
// returns: SQLSTATE, message and hint, word for word.
func TestErrorMessages(t *testing.T) {
	c := New()
	run := func(cmd Command) *Result { t.Helper(); return cmd.apply(c) }
	run(&Init{ClusterID: "c", Node: &Node{Name: "n1"}})
	run(&AddNode{Node: &Node{Name: "n2"}})
	run(&AddNode{Node: &Node{Name: "n3"}})
	st := &Stream{Name: "ev", Cols: []Column{{Name: "k", T: types.Text}}, Shards: 1, Replicas: 1, Nodes: [][]uint64{{2}}}
	run(&CreateStream{Stream: st})
	run(&CreateView{View: &View{Name: "v", Stream: "ev", Shards: 1}})
	gid := c.Streams["ev"].Groups[0]
	op := run(&CreateOperation{Operation: &Operation{Type: OpTransferLeader, Group: gid}}).Operation
	run(&RemoveNode{Node: "n3"})
	for _, tc := range []struct {
		cmd                 Command
		code, message, hint string
	}{
		{&AddNode{Node: &Node{Name: "n3", ID: 3}}, "55000", `node "n3" (raft id 3) was removed from the cluster for good`, "To bring this machine back, start it with an empty --data-dir: it joins as a new node."},
		{&CreateStream{Stream: &Stream{Name: "v", Shards: 1}}, "42P07", `relation "v" already exists (a view)`, ""},
		{&CreateView{View: &View{Name: "ev", Stream: "ev", Shards: 1}}, "42P07", `relation "ev" already exists (a stream)`, ""},
		{&CreateView{View: &View{Name: "w", Stream: "nope", Shards: 1}}, "42P01", `stream "nope" does not exist`, ""},
		{&CreateView{View: &View{Name: "w", Stream: "ev", StreamID: 99, Shards: 1}}, "40001", `stream "ev" was dropped and created again while the view was being created; retry`, ""},
		{&DropStreams{Names: []string{"ev"}}, "2BP01", `cannot drop stream "ev" because views depend on it: "v"`, "Use DROP ... CASCADE to drop the dependent views too."},
		{&DropStreams{Names: []string{"v"}}, "42809", `"v" is a view`, "Use DROP VIEW to remove a view."},
		{&DropStreams{Names: []string{"zz"}}, "42P01", `stream "zz" does not exist`, ""},
		{&DropViews{Names: []string{"zz"}}, "42P01", `view "zz" does not exist`, ""},
		{&DropViews{Names: []string{"ev"}}, "42809", `"ev" is a stream`, "Use DROP STREAM to remove a stream."},
		{&CreateOperation{Operation: &Operation{Type: OpTransferLeader, Group: 999}}, "42704", "shard 999 does not exist", ""},
		{&CreateOperation{Operation: &Operation{Type: OpTransferLeader, Group: gid}}, "55006", "shard 2 already has operation 1 (transfer_leader) pending", "Wait for it (cairn ops wait 1) or cancel it (CANCEL OPERATION 1)."},
		{&UpdateOperation{Operation: &Operation{ID: 42}}, "42704", "operation 42 does not exist", ""},
		{&SetNodeState{Node: "n9", State: NodeDraining}, "42704", `node "n9" does not exist`, ""},
		{&RemoveNode{Node: "n9"}, "42704", `node "n9" does not exist`, ""},
		{&RemoveNode{Node: "n2"}, "55006", `node "n2" still holds 1 shard replicas`, "ALTER NODE 'n2' DECOMMISSION moves them off; remove it once that operation is done."},
		{&SetPlacement{Group: 999, Nodes: []uint64{1}}, "42704", "shard 999 does not exist", ""},
	} {
		r := run(tc.cmd)
		if r.Err == nil {
			t.Errorf("%#v: no error", tc.cmd)
			continue
		}
		if r.Err.Code != tc.code || r.Err.Message != tc.message || r.Err.Hint != tc.hint {
			t.Errorf("%#v:\n got %s %q hint %q\nwant %s %q hint %q", tc.cmd, r.Err.Code, r.Err.Message, r.Err.Hint, tc.code, tc.message, tc.hint)
		}
	}
	run(&UpdateOperation{Cancel: true, Operation: &Operation{ID: op.ID, Status: OpCancelled}})
	if r := run(&UpdateOperation{Operation: &Operation{ID: op.ID, Status: OpRunning}}); r.Err == nil || r.Err.Code != "55000" || r.Err.Message != "operation 1 is already cancelled" {
		t.Errorf("update of a finished op: %+v", r.Err)
	}
	if e := ErrNoView("x"); e.Code != "42P01" || e.Message != `view "x" does not exist` {
		t.Errorf("ErrNoView: %+v", e)
	}
}
