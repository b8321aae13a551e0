package rpc

import "testing"

func TestSchedRowsRequest(t *testing.T) {
	for _, r := range []SchedRowsRequest{{View: 7, Epoch: 3}, {View: 1 << 40, Epoch: 0, OffsetsOnly: true}} {
		got, err := DecodeSchedRowsRequest(r.AppendTo(nil))
		if err != nil || got != r {
			t.Fatalf("round trip of %+v: %+v, %v", r, got, err)
		}
	}
	b := SchedRowsRequest{View: 7, Epoch: 3}.AppendTo(nil)
	for i := range b {
		if _, err := DecodeSchedRowsRequest(b[:i]); err == nil {
			t.Fatalf("truncated at %d: accepted", i)
		}
	}
	for _, bad := range [][]byte{append(b[:len(b)-1:len(b)-1], 4), append(b, 0), []byte(`{"view":7}`)} {
		if _, err := DecodeSchedRowsRequest(bad); err == nil {
			t.Fatalf("%q accepted", bad)
		}
	}
}
