package catalog

import (
	"encoding/json"
	"testing"
)

func TestAlertCommands(t *testing.T) {
	cat := New()
	apply := func(c Command) *Result {
		t.Helper()
		// Every command survives its wire form.
		dec, err := Decode(Encode(c))
		if err != nil {
			t.Fatalf("decode %T: %v", c, err)
		}
		var res *Result
		cat, res = Apply(cat, dec)
		return res
	}
	a := &Alert{Name: "down", Metric: "node.state", Op: "=", Value: "dead", Condition: "node.state = 'dead'", Target: "webhook:http://h"}
	if res := apply(&CreateAlert{Alert: a}); res.Err != nil {
		t.Fatal(res.Err)
	}
	if res := apply(&CreateAlert{Alert: a}); res.Err == nil || res.Err.Code != "42710" {
		t.Fatalf("duplicate: %v", res.Err)
	}
	if res := apply(&CreateAlert{Alert: a, IfNotExists: true}); res.Err != nil || res.Notice == "" {
		t.Fatalf("IF NOT EXISTS: %+v", res)
	}
	id := cat.Alerts["down"].ID
	rec := func(seq uint64, firing bool) *Result {
		return apply(&RecordAlert{Alert: "down", AlertID: id, Subject: "node:n2", Seq: seq, Firing: firing, Value: "dead", At: int64(seq)})
	}
	rec(1, true)
	if res := rec(1, true); res.Notice != "stale" {
		t.Fatalf("a second evaluator's same transition: %+v", res)
	}
	s := cat.Alerts["down"].Subjects["node:n2"]
	if !s.Firing || s.Seq != 1 || len(s.Pending) != 1 {
		t.Fatalf("after firing: %+v", s)
	}
	rec(2, false)
	// Delivering out of order is refused; in order pops.
	if res := apply(&AlertDelivery{Alert: "down", AlertID: id, Subject: "node:n2", Seq: 2, Attempts: 1, Result: "delivered", Done: true}); res.Notice != "stale" {
		t.Fatalf("delivering seq 2 first: %+v", res)
	}
	apply(&AlertDelivery{Alert: "down", AlertID: id, Subject: "node:n2", Seq: 1, Attempts: 1, Result: "attempt 1 failed"})
	if s := cat.Alerts["down"].Subjects["node:n2"]; len(s.Pending) != 2 || s.Attempts != 1 {
		t.Fatalf("after a failed attempt: %+v", s)
	}
	apply(&AlertDelivery{Alert: "down", AlertID: id, Subject: "node:n2", Seq: 1, Attempts: 2, Result: "delivered", Done: true})
	if s := cat.Alerts["down"].Subjects["node:n2"]; len(s.Pending) != 1 || s.Pending[0].Seq != 2 || s.DeliveredSeq != 1 {
		t.Fatalf("after delivering seq 1: %+v", s)
	}
	// Pending is bounded.
	for seq := uint64(3); seq < 3+2*MaxPendingNotices; seq++ {
		rec(seq, seq%2 == 1)
	}
	if s := cat.Alerts["down"].Subjects["node:n2"]; len(s.Pending) != MaxPendingNotices || s.Dropped == 0 {
		t.Fatalf("pending %d dropped %d", len(s.Pending), s.Dropped)
	}
	// The catalog keeps it all across a clone (its stored form).
	b, _ := json.Marshal(cat)
	var back Catalog
	if err := json.Unmarshal(b, &back); err != nil || back.Alerts["down"].Subjects["node:n2"].Seq != cat.Alerts["down"].Subjects["node:n2"].Seq {
		t.Fatalf("round trip: %v", err)
	}
	// A dropped and re-created alert is another alert: old records miss.
	apply(&DropAlerts{Names: []string{"down"}})
	apply(&CreateAlert{Alert: a})
	if res := rec(1, true); res.Err == nil || res.Err.Code != "42704" {
		t.Fatalf("a record for the dropped alert: %+v", res)
	}
	if res := apply(&DropAlerts{Names: []string{"nope"}}); res.Err == nil || res.Err.Code != "42704" {
		t.Fatalf("drop missing: %+v", res)
	}
	if res := apply(&DropAlerts{Names: []string{"nope"}, IfExists: true}); res.Err != nil || res.Notice == "" {
		t.Fatalf("drop if exists: %+v", res)
	}
}
