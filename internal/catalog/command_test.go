package catalog

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairndb/cairn/internal/types"
)

// legacyCommand is the untyped command older binaries wrote to the meta
// group's raft log (one struct of optional fields keyed by Op), kept here
// to prove that those entries still decode, and that typed commands encode
// to the same bytes.
type legacyCommand struct {
	Op          string     `json:"op"`
	Node        *Node      `json:"node,omitempty"`
	Stream      *Stream    `json:"stream,omitempty"`
	View        *View      `json:"view,omitempty"`
	Names       []string   `json:"names,omitempty"`
	IfExists    bool       `json:"if_exists,omitempty"`
	IfNotExists bool       `json:"if_not_exists,omitempty"`
	Cascade     bool       `json:"cascade,omitempty"`
	Key         string     `json:"key,omitempty"`
	Value       *string    `json:"value,omitempty"`
	Operation   *Operation `json:"operation,omitempty"`
	Placement   *struct {
		Group uint64   `json:"group"`
		Nodes []uint64 `json:"nodes"`
		Added uint64   `json:"added,omitempty"`
	} `json:"placement,omitempty"`
}

func TestLegacyCommandsDecode(t *testing.T) {
	str := func(s string) *string { return &s }
	nd := &Node{Name: "n2", ClusterAddr: "127.0.0.1:7001"}
	st := &Stream{Name: "ev", Cols: []Column{{Name: "k", T: types.Text}}, Shards: 2, Replicas: 1}
	vw := &View{Name: "v", Stream: "ev", Shards: 1, Query: "SELECT k, count(*) FROM ev GROUP BY k"}
	op := &Operation{ID: 3, Type: OpTransferLeader, Group: 5, To: 2, Status: OpCancelled, End: 9}
	for _, tc := range []struct {
		old  legacyCommand
		want Command
	}{
		{legacyCommand{Op: "init", Value: str("c1"), Node: nd}, &Init{ClusterID: "c1", Node: nd}},
		{legacyCommand{Op: "add_node", Node: nd}, &AddNode{Node: nd}},
		{legacyCommand{Op: "add_node", Node: nd, Key: "restart"}, &AddNode{Node: nd, Restart: true}},
		{legacyCommand{Op: "create_stream", Stream: st, IfNotExists: true}, &CreateStream{Stream: st, IfNotExists: true}},
		{legacyCommand{Op: "create_view", View: vw}, &CreateView{View: vw}},
		{legacyCommand{Op: "drop_stream", Names: []string{"a", "b"}, IfExists: true, Cascade: true}, &DropStreams{Names: []string{"a", "b"}, IfExists: true, Cascade: true}},
		{legacyCommand{Op: "drop_view", Names: []string{"v"}, IfExists: true}, &DropViews{Names: []string{"v"}, IfExists: true}},
		{legacyCommand{Op: "set_setting", Key: "auto_failover", Value: str("off")}, &SetSetting{Key: "auto_failover", Value: str("off")}},
		{legacyCommand{Op: "set_setting", Key: "preferred_leader"}, &SetSetting{Key: "preferred_leader"}},
		{legacyCommand{Op: "set_node_state", Key: "n2", Value: str(NodeDraining)}, &SetNodeState{Node: "n2", State: NodeDraining}},
		{legacyCommand{Op: "set_node_state", Key: "n2"}, &SetNodeState{Node: "n2"}},
		{legacyCommand{Op: "remove_node", Key: "n2"}, &RemoveNode{Node: "n2"}},
		{legacyCommand{Op: "op_create", Operation: op}, &CreateOperation{Operation: op}},
		{legacyCommand{Op: "op_update", Operation: op}, &UpdateOperation{Operation: op}},
		{legacyCommand{Op: "op_update", Key: "cancel", Operation: op}, &UpdateOperation{Operation: op, Cancel: true}},
	} {
		old, err := json.Marshal(&tc.old)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(old)
		if err != nil {
			t.Fatalf("%s: %v", old, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s decoded to %#v, want %#v", old, got, tc.want)
		}
		if enc := Encode(tc.want); string(enc) != string(old) {
			t.Errorf("%T encodes to\n%s\nwant the legacy form\n%s", tc.want, enc, old)
		}
	}
}

// Bytes as the untyped code wrote them, without going through any struct.
func TestLegacyCommandBytes(t *testing.T) {
	for in, want := range map[string]Command{
		`{"op":"set_placement","placement":{"group":7,"nodes":[1,2,4],"added":4}}`: &SetPlacement{Group: 7, Nodes: []uint64{1, 2, 4}, Added: 4},
		// Older binaries ignored cascade on drop_view; their catalogs have
		// no views over views, so reading it now changes no replay.
		`{"op":"drop_view","names":["v"],"cascade":true}`: &DropViews{Names: []string{"v"}, Cascade: true},
		`{"op":"set_node_state","key":"n3","value":""}`:   &SetNodeState{Node: "n3"},
		`{"op":"remove_node","key":"n3"}`:                 &RemoveNode{Node: "n3"},
	} {
		got, err := Decode([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s decoded to %#v, want %#v", in, got, want)
		}
	}
	if enc := string(Encode(&SetPlacement{Group: 7, Nodes: []uint64{1, 2, 4}, Added: 4})); enc != `{"op":"set_placement","placement":{"group":7,"nodes":[1,2,4],"added":4}}` {
		t.Errorf("set_placement encodes to %s", enc)
	}
	for _, bad := range []string{`{"op":"frobnicate"}`, `{"op":"create_stream"}`, `{"op":"op_update"}`, `{not json`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
	// The meta state machine refuses them with the same errors as before.
	m := NewMetaSM([]byte("catalog"), nil)
	if r := m.Apply(nil, 4, []byte(`{"op":"frobnicate"}`)).(*Result); r.Err == nil || r.Err.Code != "XX000" || r.Err.Message != `catalog: unknown command "frobnicate"` {
		t.Errorf("unknown command: %+v", r.Err)
	}
}

// A node restarted on this binary replays a meta log written by older
// ones: the legacy entries build the same catalog as the typed commands.
func TestReplayLegacyLog(t *testing.T) {
	str := func(s string) *string { return &s }
	cols := []Column{{Name: "k", T: types.Text}}
	legacy := []legacyCommand{
		{Op: "init", Value: str("cluster-1"), Node: &Node{Name: "n1"}},
		{Op: "add_node", Node: &Node{Name: "n2"}},
		{Op: "add_node", Node: &Node{Name: "n3"}},
		{Op: "create_stream", Stream: &Stream{Name: "ev", Cols: cols, Shards: 2, Replicas: 2, Nodes: [][]uint64{{1, 2}, {2, 3}}}},
		{Op: "create_view", View: &View{Name: "v", Stream: "ev", Shards: 1, Query: "SELECT k, count(*) FROM ev GROUP BY k"}},
		{Op: "set_setting", Key: "auto_failover", Value: str("off")},
		{Op: "set_node_state", Key: "n3", Value: str(NodeDraining)},
		{Op: "add_node", Key: "restart", Node: &Node{Name: "n3"}},
		{Op: "op_create", Operation: &Operation{Type: OpReplaceReplica, Group: 2, From: 1, To: 3}},
		{Op: "op_update", Operation: &Operation{ID: 1, Status: OpDone, Progress: 1, End: 5}},
		{Op: "drop_view", Names: []string{"v"}, Cascade: true},
		{Op: "set_setting", Key: "auto_failover"},
	}
	legacy = append(legacy, legacyCommand{Op: "set_placement"})
	legacy[len(legacy)-1].Placement = &struct {
		Group uint64   `json:"group"`
		Nodes []uint64 `json:"nodes"`
		Added uint64   `json:"added,omitempty"`
	}{Group: 2, Nodes: []uint64{2, 3}, Added: 3}
	typed := []Command{
		&Init{ClusterID: "cluster-1", Node: &Node{Name: "n1"}},
		&AddNode{Node: &Node{Name: "n2"}},
		&AddNode{Node: &Node{Name: "n3"}},
		&CreateStream{Stream: &Stream{Name: "ev", Cols: cols, Shards: 2, Replicas: 2, Nodes: [][]uint64{{1, 2}, {2, 3}}}},
		&CreateView{View: &View{Name: "v", Stream: "ev", Shards: 1, Query: "SELECT k, count(*) FROM ev GROUP BY k"}},
		&SetSetting{Key: "auto_failover", Value: str("off")},
		&SetNodeState{Node: "n3", State: NodeDraining},
		&AddNode{Node: &Node{Name: "n3"}, Restart: true},
		&CreateOperation{Operation: &Operation{Type: OpReplaceReplica, Group: 2, From: 1, To: 3}},
		&UpdateOperation{Operation: &Operation{ID: 1, Status: OpDone, Progress: 1, End: 5}},
		&DropViews{Names: []string{"v"}},
		&SetSetting{Key: "auto_failover"},
		&SetPlacement{Group: 2, Nodes: []uint64{2, 3}, Added: 3},
	}
	replay := func(entries [][]byte) string {
		t.Helper()
		db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		m := NewMetaSM([]byte("catalog"), nil)
		for i, e := range entries {
			if r := m.Apply(db.NewBatch(), uint64(i+1), e).(*Result); r.Err != nil {
				t.Fatalf("entry %d %s: %v", i+1, e, r.Err)
			}
		}
		b, err := json.Marshal(m.Catalog())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var old, cur [][]byte
	for i := range legacy {
		b, err := json.Marshal(&legacy[i])
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, b)
		cur = append(cur, Encode(typed[i]))
	}
	got, want := replay(old), replay(cur)
	if got != want {
		t.Fatalf("legacy log built\n%s\ntyped commands built\n%s", got, want)
	}
	c := New()
	if err := json.Unmarshal([]byte(got), c); err != nil {
		t.Fatal(err)
	}
	if c.ClusterID != "cluster-1" || len(c.Nodes) != 3 || c.Nodes["n3"].State != "" || c.Views["v"] != nil ||
		c.Ops[1].Status != OpDone || len(c.Settings) != 0 || !reflect.DeepEqual(c.Added[2], []uint64{3}) {
		t.Fatalf("replayed catalog: %s", got)
	}
}
