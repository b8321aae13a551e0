package rpc

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

func testScanReply() *ScanReply {
	b := types.NewBatch([]types.T{types.Int8, types.Text})
	b.AppendRow([]types.Datum{types.NewInt(types.Int8, 7), types.NewText("eu")})
	b.AppendRow([]types.Datum{types.NullOf(types.Int8), types.NewText("")})
	return &ScanReply{
		First: 3, End: 1 << 40, Next: 12,
		Batches: []ScanBatch{
			{Start: 10, Ingest: -5, Data: types.AppendEncoded(nil, b)},
			{Start: 12, Ingest: 1<<62 + 1, Data: []byte{}},
		},
	}
}

func testViewRowsReply() *ViewRowsReply {
	return &ViewRowsReply{
		Offsets: []uint64{0, 1, 1 << 63},
		Rows:    []ViewRow{{Key: []byte{1, 2}, State: []byte("state")}, {Key: []byte{}, State: []byte{}}},
	}
}

func TestRPCWireRoundTrip(t *testing.T) {
	for _, r := range []ScanRequest{{}, {Group: 9, From: 1 << 50, MaxEvents: 4096, Linearizable: true}, {MaxEvents: -1}} {
		got, err := DecodeScanRequest(r.AppendTo(nil))
		if err != nil || got != r {
			t.Fatalf("scan request %+v: got %+v, %v", r, got, err)
		}
	}
	for _, r := range []ViewRowsRequest{{}, {Group: 1<<64 - 1, Linearizable: true}} {
		got, err := DecodeViewRowsRequest(r.AppendTo(nil))
		if err != nil || got != r {
			t.Fatalf("view-rows request %+v: got %+v, %v", r, got, err)
		}
	}

	sr := testScanReply()
	got, err := DecodeScanReply(sr.AppendTo(nil))
	if err != nil || !reflect.DeepEqual(&got, sr) {
		t.Fatalf("scan reply: got %+v, %v; want %+v", got, err, sr)
	}
	var b types.Batch
	if err := types.Decode(got.Batches[0].Data, &b); err != nil || b.N != 2 {
		t.Fatalf("batch carried in the reply: %v, %d rows", err, b.N)
	}
	// Batches with a target set (pipelinedb.stream_targets) carry it in a
	// trailer; the others come back without one.
	sr.Batches = append(sr.Batches, ScanBatch{Start: 12, Ingest: 9, Data: []byte{1}, Targets: []byte{1, 7}})
	sr.Batches[0].Targets = []byte{2, 5, 6}
	got, err = DecodeScanReply(sr.AppendTo(nil))
	if err != nil || !reflect.DeepEqual(&got, sr) {
		t.Fatalf("scan reply with targets: got %+v, %v; want %+v", got, err, sr)
	}
	bad := append(testScanReply().AppendTo(nil), 1, 5, 1, 7) // a target set for batch 5 of 2
	if _, err := DecodeScanReply(bad); err == nil {
		t.Fatal("target set for a missing batch accepted")
	}
	if got, err := DecodeScanReply((&ScanReply{}).AppendTo(nil)); err != nil || got.Batches != nil {
		t.Fatalf("empty scan reply: %+v, %v", got, err)
	}

	vr := testViewRowsReply()
	gotV, err := DecodeViewRowsReply(vr.AppendTo(nil))
	if err != nil || !reflect.DeepEqual(&gotV, vr) {
		t.Fatalf("view-rows reply: got %+v, %v; want %+v", gotV, err, vr)
	}
}

// TestRPCWireRefusesOtherVersions: an older node's JSON reply, or any
// other version, is an error naming the message, never misread.
func TestRPCWireRefusesOtherVersions(t *testing.T) {
	old, err := json.Marshal(map[string]any{"batches": nil, "next": 5})
	if err != nil {
		t.Fatal(err)
	}
	_, err = DecodeScanReply(old)
	if pgerr.Code(err) != pgerr.ProtocolViolation || !strings.Contains(err.Error(), "older release") {
		t.Fatalf("JSON reply: %v", err)
	}
	next := testViewRowsReply().AppendTo(nil)
	next[0] = WireVersion + 1
	if _, err := DecodeViewRowsReply(next); pgerr.Code(err) != pgerr.ProtocolViolation || !strings.Contains(err.Error(), "wire version") {
		t.Fatalf("version %d: %v", next[0], err)
	}
	if _, err := DecodeViewRowsRequest(nil); err == nil {
		t.Fatal("empty request decoded")
	}
}

// TestRPCWireMalformed: every truncation and every single-byte change of
// valid messages decodes to a value or an error, never a panic;
// truncations and trailing bytes are always errors.
func TestRPCWireMalformed(t *testing.T) {
	for _, c := range []struct {
		msg    []byte
		decode func([]byte) error
	}{
		{testScanReply().AppendTo(nil), func(m []byte) error { _, err := DecodeScanReply(m); return err }},
		{testViewRowsReply().AppendTo(nil), func(m []byte) error { _, err := DecodeViewRowsReply(m); return err }},
		{ScanRequest{Group: 9, From: 300, MaxEvents: 4096, Linearizable: true}.AppendTo(nil),
			func(m []byte) error { _, err := DecodeScanRequest(m); return err }},
		{ViewRowsRequest{Group: 9, Linearizable: true}.AppendTo(nil),
			func(m []byte) error { _, err := DecodeViewRowsRequest(m); return err }},
	} {
		m := c.msg
		for i := 0; i < len(m); i++ {
			if err := c.decode(m[:i]); err == nil {
				t.Fatalf("truncated to %d of %d bytes: no error for %x", i, len(m), m)
			}
			for _, x := range []byte{0, 0x7f, 0x80, 0xff} {
				b := bytes.Clone(m)
				b[i] = x
				_ = decodeAll(b)
			}
		}
		if err := c.decode(append(bytes.Clone(m), 0)); err == nil {
			t.Fatalf("trailing byte accepted: %x", m)
		}
	}
	// A huge count must not allocate what the message cannot hold.
	huge := []byte{WireVersion, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
	if _, err := DecodeScanReply(huge); err == nil {
		t.Fatal("huge batch count accepted")
	}
}

// decodeAll tries m as each kind of message; it returns nil if any
// decoder accepts it.
func decodeAll(m []byte) error {
	_, err1 := DecodeScanRequest(m)
	_, err2 := DecodeViewRowsRequest(m)
	r, err3 := DecodeScanReply(m)
	if err3 == nil {
		var b types.Batch
		for _, sb := range r.Batches {
			_ = types.Decode(sb.Data, &b)
		}
	}
	_, err4 := DecodeViewRowsReply(m)
	if err1 == nil || err2 == nil || err3 == nil || err4 == nil {
		return nil
	}
	return err1
}

func FuzzRPCWire(f *testing.F) {
	f.Add(testScanReply().AppendTo(nil))
	f.Add(testViewRowsReply().AppendTo(nil))
	f.Add(ScanRequest{Group: 1, MaxEvents: 10}.AppendTo(nil))
	f.Add([]byte(`{"rows":[]}`))
	f.Fuzz(func(t *testing.T, m []byte) {
		// What decodes re-encodes to something that decodes the same (the
		// bytes may differ: varints need not be minimal).
		if r, err := DecodeScanReply(m); err == nil {
			again, err := DecodeScanReply(r.AppendTo(nil))
			if err != nil || !reflect.DeepEqual(again, r) {
				t.Fatalf("scan reply %+v round-trips to %+v, %v", r, again, err)
			}
		}
		if r, err := DecodeViewRowsReply(m); err == nil {
			again, err := DecodeViewRowsReply(r.AppendTo(nil))
			if err != nil || !reflect.DeepEqual(again, r) {
				t.Fatalf("view-rows reply %+v round-trips to %+v, %v", r, again, err)
			}
		}
		_ = decodeAll(m)
	})
}
