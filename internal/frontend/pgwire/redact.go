package pgwire

import (
	"context"
	"net"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
)

// peerKey is the context key of the client's address.
type peerKey struct{}

func withPeer(ctx context.Context, addr net.Addr) context.Context {
	return context.WithValue(ctx, peerKey{}, addr)
}

// PeerAddr is the address of the client whose connection ctx (the one
// Handler.NewSession gets) belongs to; nil when unknown.
func PeerAddr(ctx context.Context) net.Addr {
	a, _ := ctx.Value(peerKey{}).(net.Addr)
	return a
}

// redactError hides in err the secrets (passwords, secret keys) of the
// query text it is about, so an ErrorResponse never echoes them: the
// client sent them, but error text ends up in client logs and proxies.
// A parse error becomes a *pgerr.Error as parseError would make it.
func redactError(query string, err error) error {
	r := parser.RedactError(query, err)
	if pe, ok := r.(*parser.Error); ok {
		return parseError(pe)
	}
	if r == err {
		return err
	}
	return pgerr.From(r)
}
