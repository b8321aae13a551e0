package catalog

import (
	"reflect"
	"testing"
)

// A node's weight is set by SetNodeWeight (encoded and decoded like every
// command), refused out of range or for an unknown node, and kept when
// the node registers again after a restart.
func TestSetNodeWeight(t *testing.T) {
	cat := New()
	apply := func(c Command) *Result {
		t.Helper()
		dec, err := Decode(Encode(c))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(dec, c) {
			t.Fatalf("decoded %#v, want %#v", dec, c)
		}
		next, res := Apply(cat, dec)
		cat = next
		return res
	}
	if res := apply(&AddNode{Node: &Node{Name: "n1", Role: "data"}}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if w := cat.Nodes["n1"].Weight(); w != DefaultNodeWeight {
		t.Fatalf("default weight %d", w)
	}
	if res := apply(&SetNodeWeight{Node: "n1", Weight: 3}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := apply(&SetNodeWeight{Node: "n1", Weight: 101}); res.Err == nil || res.Err.Code != "22023" {
		t.Fatalf("weight 101: %v", res.Err)
	}
	if res := apply(&SetNodeWeight{Node: "n9", Weight: 1}); res.Err == nil || res.Err.Code != "42704" {
		t.Fatalf("unknown node: %v", res.Err)
	}
	if res := apply(&AddNode{Node: &Node{Name: "n1", Role: "data", PGAddr: "127.0.0.1:5433"}, Restart: true}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if w := cat.Nodes["n1"].Weight(); w != 3 {
		t.Fatalf("weight after a restart: %d", w)
	}
	if res := apply(&SetNodeWeight{Node: "n1", Weight: 0}); res.Err != nil || cat.Nodes["n1"].Weight() != 0 {
		t.Fatalf("weight 0: %v %d", res.Err, cat.Nodes["n1"].Weight())
	}
}
