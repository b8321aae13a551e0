package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/testutil/testcerts"
)

// tlsNet is a set of transports on loopback ports with mutual TLS; each
// node's certificates come from the CA it was started with.
type tlsNet struct {
	book   addrBook
	tr     map[uint64]*Transport
	rec    map[uint64]*recorder
	served map[uint64]chan error
}

func newTLSNet() *tlsNet {
	return &tlsNet{tr: map[uint64]*Transport{}, rec: map[uint64]*recorder{}, served: map[uint64]chan error{}}
}

func (n *tlsNet) close(t *testing.T) {
	for id, tr := range n.tr {
		closeAndWait(t, tr, n.served[id])
	}
}

// start runs node id with the given server and client configs (nil:
// plaintext).
func (n *tlsNet) start(t *testing.T, id uint64, server, client *tls.Config) {
	t.Helper()
	n.rec[id] = &recorder{}
	n.tr[id] = New(Config{NodeID: id, Resolve: n.book.resolve, Handler: n.rec[id], ServerTLS: server, ClientTLS: client})
	addr, served := serve(t, n.tr[id], "")
	n.book.set(id, addr)
	n.served[id] = served
}

func callCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Two nodes with certificates of one CA exchange raft messages and calls
// over mutual TLS; a node with certificates of another CA, a plaintext
// client and a TLS client without a certificate get nothing through.
func TestMutualTLS(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		a, b := testcerts.New(t), testcerts.New(t)
		n := newTLSNet()
		defer n.close(t)
		n.start(t, 1, a.PeerServerConfig(t), a.PeerClientConfig(t))
		n.start(t, 2, a.PeerServerConfig(t), a.PeerClientConfig(t))
		n.start(t, 3, b.PeerServerConfig(t), b.PeerClientConfig(t)) // another cluster's CA
		n.start(t, 4, nil, nil)                                     // plaintext

		got, err := n.tr[1].Call(callCtx(t, 10*time.Second), 2, "echo", []byte("hi"))
		if err != nil || string(got) != "echo:hi" {
			t.Fatalf("call over mutual TLS: %q %v", got, err)
		}
		n.tr[2].Send([]raftstore.GroupMessage{{GroupID: 7, Msg: heartbeat(2, 1)}})
		eventually(t, 10*time.Second, func() error {
			if msgs, _ := n.rec[1].received(); len(msgs) != 1 || msgs[0].GroupID != 7 {
				return errors.New("heartbeat over mutual TLS not received")
			}
			return nil
		})

		// Refused both ways between the CAs, and from a plaintext node.
		for _, c := range []struct{ from, to uint64 }{{3, 2}, {2, 3}, {4, 2}, {2, 4}} {
			_, err := n.tr[c.from].Call(callCtx(t, 2*time.Second), c.to, "echo", []byte("x"))
			if !errors.Is(err, ErrUnreachable) {
				t.Errorf("call %d→%d: %v, want unreachable", c.from, c.to, err)
			}
			n.tr[c.from].Send([]raftstore.GroupMessage{{GroupID: 9, Msg: heartbeat(c.from, c.to)}})
		}
		// The joining path: CallAddrTLS with the cluster's client config
		// works; plaintext, another CA's node certificate and a client
		// without a certificate do not.
		addr2, _ := n.book.resolve(2)
		if got, err := CallAddrTLS(a.PeerClientConfig(t))(callCtx(t, 10*time.Second), addr2, "echo", []byte("j")); err != nil || string(got) != "echo:j" {
			t.Errorf("CallAddrTLS with the cluster's certificate: %q %v", got, err)
		}
		noCert := &tls.Config{RootCAs: a.Pool, MinVersion: tls.VersionTLS12}
		for name, call := range map[string]func(context.Context, string, string, []byte) ([]byte, error){
			"plaintext": CallAddr,
			"other CA":  CallAddrTLS(b.PeerClientConfig(t)),
			"no cert":   CallAddrTLS(noCert),
		} {
			if _, err := call(callCtx(t, 2*time.Second), addr2, "echo", nil); !errors.Is(err, ErrUnreachable) {
				t.Errorf("CallAddr %s: %v, want unreachable", name, err)
			}
		}
		// Let refused lanes retry a while: still nothing arrives.
		time.Sleep(300 * time.Millisecond)
		for id := uint64(2); id <= 4; id++ {
			if msgs, _ := n.rec[id].received(); len(msgs) != 0 {
				t.Errorf("node %d received %d raft messages from a peer it should refuse", id, len(msgs))
			}
		}
		if s := n.tr[2].Stats(); s.FramesRecv != 0 {
			t.Errorf("node 2 received frames: %+v", s)
		}
	}()
	checkNoLeaks(t, before)
}

// A server config whose GetConfigForClient hands out the current
// certificates (as a reloadable one does) works, though the configs it
// returns do not offer ALPN h2 themselves (credentials.NewTLS adds it to
// them; gRPC clients insist on it).
func TestMutualTLSConfigCallback(t *testing.T) {
	ca := testcerts.New(t)
	cur := ca.PeerServerConfig(t)
	callback := &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return cur, nil }}
	n := newTLSNet()
	defer n.close(t)
	n.start(t, 1, ca.PeerServerConfig(t), ca.PeerClientConfig(t))
	n.start(t, 2, callback, ca.PeerClientConfig(t))
	if got, err := n.tr[1].Call(callCtx(t, 10*time.Second), 2, "echo", []byte("cb")); err != nil || string(got) != "echo:cb" {
		t.Fatalf("call to a server with a config callback: %q %v", got, err)
	}
}
