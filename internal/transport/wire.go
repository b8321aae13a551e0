package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	pb "go.etcd.io/raft/v3/raftpb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// The wire: one gRPC service with no generated code. Every message on it is
// an opaque byte frame (rawCodec); the frame layouts are below.
//
//	raft / snapshot stream frame: version byte, then per message
//	    uvarint group id, uvarint length, marshaled raftpb.Message
//	call request:  uvarint len(method), method, payload
//	call reply:    0, payload                        (success)
//	               1, code, message, detail, hint,   (error; each string as
//	                  severity, uvarint position      uvarint length + bytes)
const (
	serviceName = "cairn.transport.Transport"
	methodRaft  = "/" + serviceName + "/Raft"
	methodSnap  = "/" + serviceName + "/Snapshot"
	methodCall  = "/" + serviceName + "/Call"
	// methodSnapStream carries one streamed snapshot (snapstream.go).
	methodSnapStream = "/" + serviceName + "/SnapStream"
	frameVersion     = 1
	replyOK          = 0
	replyError       = 1
	mdFrom           = "cairn-from" // sending node id (decimal)
	mdTo             = "cairn-to"   // node id the sender believes it dialed
	codecName        = "cairn-raw"
	maxMethodName    = 256
)

// Frame size limits. Normal frames are cut near frameTarget so one frame
// never holds the stream for long; the receiver rejects frames above
// MaxFrameSize on the raft stream and MaxSnapshotFrameSize on the snapshot
// stream. A single non-snapshot message too big for a normal frame travels
// on the snapshot stream.
const (
	frameTarget          = 4 << 20
	MaxFrameSize         = 64 << 20
	MaxSnapshotFrameSize = 512 << 20
	// grpcMaxMsg is the gRPC message limit: the largest frame plus slack.
	grpcMaxMsg = MaxSnapshotFrameSize + 1<<20
)

// frame is the message type of every RPC on the service: gRPC hands it to
// rawCodec, which passes the bytes through untouched.
type frame struct{ b []byte }

// rawCodec moves frames without any further encoding: the payloads are
// already protobuf (raft messages) or opaque bytes (internal RPCs).
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	f, ok := v.(*frame)
	if !ok {
		return nil, fmt.Errorf("transport: codec cannot marshal %T", v)
	}
	return mem.BufferSlice{mem.SliceBuffer(f.b)}, nil
}

func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	f, ok := v.(*frame)
	if !ok {
		return fmt.Errorf("transport: codec cannot unmarshal into %T", v)
	}
	// gRPC frees data when we return: the frame needs its own copy.
	f.b = data.Materialize()
	return nil
}

func (rawCodec) Name() string { return codecName }

// server is the interface the service handlers are registered against
// (grpc.ServiceDesc.HandlerType); *Transport implements it.
type server interface {
	serveRaft(stream grpc.ServerStream) error
	serveSnap(stream grpc.ServerStream) error
	serveSnapStream(stream grpc.ServerStream) error
	serveCall(ctx context.Context, req []byte) ([]byte, error)
}

// serviceDesc is written by hand (no protoc): two client-streaming methods
// carrying raft frames and one unary method for internal RPCs.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: serviceName,
	HandlerType: (*server)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Call",
		Handler: func(srv any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
			var req frame
			if err := dec(&req); err != nil {
				return nil, err
			}
			reply, err := srv.(server).serveCall(ctx, req.b)
			if err != nil {
				return nil, err
			}
			return &frame{b: reply}, nil
		},
	}},
	Streams: []grpc.StreamDesc{
		{
			StreamName:    "Raft",
			ClientStreams: true,
			Handler:       func(srv any, s grpc.ServerStream) error { return srv.(server).serveRaft(s) },
		},
		{
			StreamName:    "Snapshot",
			ClientStreams: true,
			Handler:       func(srv any, s grpc.ServerStream) error { return srv.(server).serveSnap(s) },
		},
		{
			StreamName:    "SnapStream",
			ClientStreams: true,
			ServerStreams: true,
			Handler:       func(srv any, s grpc.ServerStream) error { return srv.(server).serveSnapStream(s) },
		},
	},
}

// appendMessage appends one group message to a frame being built.
func appendMessage(buf []byte, gid uint64, m *pb.Message) ([]byte, error) {
	n := proto.Size(m)
	buf = binary.AppendUvarint(buf, gid)
	buf = binary.AppendUvarint(buf, uint64(n))
	// UseCachedSize: proto.Size just computed and cached every size.
	return proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(buf, m)
}

// messageSize is the encoded size of one message in a frame.
func messageSize(gid uint64, n int) int {
	return uvarintLen(gid) + uvarintLen(uint64(n)) + n
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

var errBadFrame = errors.New("transport: malformed frame")

// decodeFrame parses a raft frame. A frame that does not parse is rejected
// whole: it came from a broken or hostile peer, and raft retries anyway.
func decodeFrame(b []byte) ([]raftstore.GroupMessage, error) {
	if len(b) == 0 || b[0] != frameVersion {
		return nil, fmt.Errorf("%w: unknown version", errBadFrame)
	}
	b = b[1:]
	var out []raftstore.GroupMessage
	for len(b) > 0 {
		gid, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("%w: group id", errBadFrame)
		}
		b = b[n:]
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return nil, fmt.Errorf("%w: message length", errBadFrame)
		}
		b = b[n:]
		m := new(pb.Message)
		if err := proto.Unmarshal(b[:l], m); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadFrame, err)
		}
		b = b[l:]
		out = append(out, raftstore.GroupMessage{GroupID: gid, Msg: m})
	}
	return out, nil
}

func encodeCallRequest(method string, req []byte) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(method)+len(req))
	b = appendString(b, method)
	return append(b, req...)
}

func decodeCallRequest(b []byte) (method string, req []byte, err error) {
	m, rest, ok := readString(b)
	if !ok || len(m) > maxMethodName {
		return "", nil, fmt.Errorf("%w: call method", errBadFrame)
	}
	return m, rest, nil
}

func encodeReply(payload []byte, herr error) []byte {
	if herr == nil {
		b := make([]byte, 0, 1+len(payload))
		b = append(b, replyOK)
		return append(b, payload...)
	}
	e := pgerr.From(herr)
	if e.Code == pgerr.InternalError && (errors.Is(herr, context.DeadlineExceeded) || errors.Is(herr, context.Canceled)) {
		// The handler gave up because the caller's deadline passed.
		e = &pgerr.Error{Code: pgerr.QueryCanceled, Message: herr.Error()}
	}
	b := []byte{replyError}
	for _, s := range []string{e.Code, e.Message, e.Detail, e.Hint, e.Severity} {
		b = appendString(b, s)
	}
	return binary.AppendUvarint(b, uint64(max(e.Position, 0)))
}

// decodeReply returns the payload, or the handler's error rebuilt as a
// *pgerr.Error with the code and message it had on the remote node.
func decodeReply(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty reply", errBadFrame)
	}
	if b[0] == replyOK {
		return b[1:], nil
	}
	if b[0] != replyError {
		return nil, fmt.Errorf("%w: reply kind %d", errBadFrame, b[0])
	}
	b = b[1:]
	var f [5]string
	for i := range f {
		s, rest, ok := readString(b)
		if !ok {
			return nil, fmt.Errorf("%w: reply error", errBadFrame)
		}
		f[i], b = s, rest
	}
	pos, n := binary.Uvarint(b)
	if n <= 0 || pos > 1<<31 {
		return nil, fmt.Errorf("%w: reply error position", errBadFrame)
	}
	return nil, &pgerr.Error{Code: f[0], Message: f[1], Detail: f[2], Hint: f[3], Severity: f[4], Position: int(pos)}
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readString(b []byte) (string, []byte, bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return "", nil, false
	}
	return string(b[n : n+int(l)]), b[n+int(l):], true
}
