package catalog

import (
	"slices"
	"testing"
)

// TestFailoverRegion: the command survives its wire form, moves the
// listed groups' voters to the promoted learners, takes them out of the
// learners, and changes the primary region only of objects that list
// the target region and have the old primary.
func TestFailoverRegion(t *testing.T) {
	c := New()
	c.Streams["ev"] = &Stream{Name: "ev", Shards: 2, Groups: []uint64{2, 3}, Nodes: [][]uint64{{1, 4}, {1, 4}},
		Regional: &Regional{Regions: []string{"w", "e", "c"}, Primary: "w", PerRegion: 1, Learners: [][]uint64{{2, 3}, {5, 3}}}}
	c.Streams["other"] = &Stream{Name: "other", Shards: 1, Groups: []uint64{4}, Nodes: [][]uint64{{1}},
		Regional: &Regional{Regions: []string{"w", "c"}, Primary: "w", PerRegion: 1, Learners: [][]uint64{{3}}}}
	ref := c.Groups()[2]
	if !ref.Holds(2) || !ref.Holds(1) || ref.Holds(5) || ref.Primary != "w" || !slices.Equal(ref.AllNodes(), []uint64{1, 4, 2, 3}) {
		t.Fatalf("group 2: %+v", ref)
	}
	if !c.IsPermanentLearner(3, 5) || c.IsPermanentLearner(3, 1) {
		t.Fatal("IsPermanentLearner")
	}
	cmd, err := Decode(Encode(&FailoverRegion{From: "w", To: "e", Voters: map[uint64][]uint64{2: {2}, 3: {5}}, At: 7}))
	if err != nil {
		t.Fatal(err)
	}
	if res := cmd.apply(c); res.Err != nil {
		t.Fatal(res.Err)
	}
	ev := c.Streams["ev"]
	if !slices.Equal(ev.Nodes[0], []uint64{2}) || !slices.Equal(ev.Nodes[1], []uint64{5}) {
		t.Errorf("ev voters: %v", ev.Nodes)
	}
	if !slices.Equal(ev.Regional.Learners[0], []uint64{3}) || !slices.Equal(ev.Regional.Learners[1], []uint64{3}) {
		t.Errorf("ev learners: %v", ev.Regional.Learners)
	}
	if ev.Regional.Primary != "e" || ev.Regional.From != "w" || ev.Regional.FailedOver != 7 {
		t.Errorf("ev regional: %+v", ev.Regional)
	}
	if o := c.Streams["other"]; o.Regional.Primary != "w" || !slices.Equal(o.Nodes[0], []uint64{1}) {
		t.Errorf("other (does not list e) changed: %+v %v", o.Regional, o.Nodes)
	}
	if res := (&FailoverRegion{To: "e"}).apply(c); res.Err == nil {
		t.Error("a failover without From was accepted")
	}
}
