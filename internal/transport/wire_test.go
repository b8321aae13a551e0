package transport

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

func TestFrameRoundTrip(t *testing.T) {
	msgs := []*pb.Message{
		heartbeat(1, 2),
		{Type: pb.MsgApp.Enum(), To: new(uint64(2)), Entries: []*pb.Entry{{Data: bytes.Repeat([]byte{7}, 1000)}}},
		{Type: pb.MsgVote.Enum(), To: new(uint64(2)), Term: new(uint64(1) << 40)},
	}
	buf := []byte{frameVersion}
	ends := map[int]bool{1: true} // frame lengths that end on a message boundary
	for i, m := range msgs {
		var err error
		if buf, err = appendMessage(buf, uint64(1)<<uint(i*20), m); err != nil {
			t.Fatal(err)
		}
		ends[len(buf)] = true
	}
	got, err := decodeFrame(buf)
	if err != nil || len(got) != len(msgs) {
		t.Fatalf("decode: %d messages, %v", len(got), err)
	}
	for i := range got {
		if got[i].GroupID != uint64(1)<<uint(i*20) || !proto.Equal(got[i].Msg, msgs[i]) {
			t.Fatalf("message %d: group %d %v", i, got[i].GroupID, got[i].Msg)
		}
	}
	// A frame cut anywhere but between messages is rejected; none panics.
	for n := range len(buf) {
		if _, err := decodeFrame(buf[:n]); (err == nil) != ends[n] {
			t.Fatalf("frame cut at %d/%d bytes: %v", n, len(buf), err)
		}
	}
	if _, err := decodeFrame([]byte{9, 1, 2}); !errors.Is(err, errBadFrame) {
		t.Fatalf("unknown version: %v", err)
	}
}

func TestReplyRoundTrip(t *testing.T) {
	p, err := decodeReply(encodeReply([]byte("ok"), nil))
	if err != nil || string(p) != "ok" {
		t.Fatalf("ok reply: %q %v", p, err)
	}
	in := &pgerr.Error{Code: pgerr.DuplicateTable, Message: "m", Detail: "d", Hint: "h", Position: 12, Severity: "FATAL"}
	_, err = decodeReply(encodeReply(nil, in))
	var out *pgerr.Error
	if !errors.As(err, &out) || *out != *in {
		t.Fatalf("error reply: %+v", err)
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 5, 'a'}} {
		if _, err := decodeReply(bad); !errors.Is(err, errBadFrame) {
			t.Fatalf("reply %v: %v", bad, err)
		}
	}
	m, req, err := decodeCallRequest(encodeCallRequest("ingest", []byte{1, 2}))
	if err != nil || m != "ingest" || !bytes.Equal(req, []byte{1, 2}) {
		t.Fatalf("call request: %q %v %v", m, req, err)
	}
}

func FuzzDecodeFrame(f *testing.F) {
	buf, _ := appendMessage([]byte{frameVersion}, 3, heartbeat(1, 2))
	f.Add(buf)
	f.Add([]byte{frameVersion, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeFrame(b)
		_, _ = decodeReply(b)
		_, _, _ = decodeCallRequest(b)
	})
}
