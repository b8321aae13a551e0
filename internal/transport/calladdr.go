package transport

import (
	"context"
	"crypto/tls"
	"fmt"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/cairndb/cairn/internal/pgerr"
)

// AnyNode is the node id a caller that knows only an address puts in its
// request (a node joining through a seed address): the server at that
// address answers whatever its id.
const AnyNode = 0

// CallAddr sends one internal request over plaintext to whichever node
// listens at addr, from a caller that is not (yet) a node: it has no
// Transport. Errors are as for Transport.Call. A secure cluster's nodes
// refuse it: use CallAddrTLS.
func CallAddr(ctx context.Context, addr, method string, req []byte) ([]byte, error) {
	return callAddr(ctx, nil, addr, method, req)
}

// CallAddrTLS is CallAddr over TLS with clientTLS (the node's peer client
// config, which presents its certificate); nil means plaintext. A node
// joining a secure cluster calls its seeds with it, so the join goes
// through the same mutual TLS as the node's later traffic.
func CallAddrTLS(clientTLS *tls.Config) func(ctx context.Context, addr, method string, req []byte) ([]byte, error) {
	return func(ctx context.Context, addr, method string, req []byte) ([]byte, error) {
		return callAddr(ctx, clientTLS, addr, method, req)
	}
}

func callAddr(ctx context.Context, clientTLS *tls.Config, addr, method string, req []byte) ([]byte, error) {
	c, err := grpc.NewClient("passthrough:///"+addr,
		dialCreds(clientTLS),
		grpc.WithDefaultCallOptions(
			grpc.ForceCodecV2(rawCodec{}),
			grpc.MaxCallRecvMsgSize(grpcMaxMsg),
			grpc.MaxCallSendMsgSize(grpcMaxMsg),
		),
	)
	if err != nil {
		return nil, &Error{pgerr.ConnectionFailure, fmt.Sprintf("%s: %v", addr, err), ErrUnreachable}
	}
	defer c.Close()
	cctx := metadata.AppendToOutgoingContext(ctx, mdFrom, "0", mdTo, strconv.Itoa(AnyNode))
	var reply frame
	if err := c.Invoke(cctx, methodCall, &frame{b: encodeCallRequest(method, req)}, &reply, grpc.WaitForReady(false)); err != nil {
		if ctx.Err() != nil {
			return nil, ctxError(0, method, ctx.Err())
		}
		return nil, &Error{pgerr.ConnectionFailure, fmt.Sprintf("%s at %s: %v", method, addr, err), ErrUnreachable}
	}
	return decodeReply(reply.b)
}
