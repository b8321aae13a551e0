package proxy

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// fakeNode speaks just enough PostgreSQL for the proxy's relay: trust
// login, then every Query answered with CommandComplete and
// ReadyForQuery, BEGIN and COMMIT moving the transaction status.
type fakeNode struct {
	name    string
	ln      net.Listener
	wg      sync.WaitGroup
	cancels chan []byte // CancelRequest keys received
}

func startFake(t *testing.T, name string) *fakeNode {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeNode{name: name, ln: ln, cancels: make(chan []byte, 4)}
	f.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.wg.Go(func() { f.serve(c) })
		}
	})
	t.Cleanup(func() { _ = ln.Close(); f.wg.Wait() })
	return f
}

func msg(typ byte, body []byte) []byte {
	b := []byte{typ, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(b[1:], uint32(len(body)+4))
	return append(b, body...)
}

func (f *fakeNode) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	code, pkt, err := readStartup(r)
	if err != nil {
		return
	}
	if code == cancelCode {
		f.cancels <- pkt[8:]
		return
	}
	var out []byte
	out = append(out, msg('R', []byte{0, 0, 0, 0})...)
	out = append(out, msg('S', []byte("cairn.node\x00"+f.name+"\x00"))...)
	out = append(out, msg('K', []byte{0, 0, 0, 7, 1, 2, 3, f.name[0]})...) // a key per node
	out = append(out, msg('Z', []byte{'I'})...)
	if _, err := c.Write(out); err != nil {
		return
	}
	status := byte('I')
	for {
		fr, _, err := readFrame(r)
		if err != nil {
			return
		}
		body := make([]byte, fr.body)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		switch fr.typ {
		case 'X':
			return
		case 'Q':
			q := strings.TrimRight(string(body), "\x00")
			switch strings.ToUpper(q) {
			case "BEGIN":
				status = 'T'
			case "COMMIT":
				status = 'I'
			}
			out := msg('C', []byte(strings.ToUpper(strings.Fields(q)[0])+"\x00"))
			out = append(out, msg('Z', []byte{status})...)
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	}
}

// testProxy runs a proxy whose membership the test sets (no cluster).
func testProxy(t *testing.T, mode Mode, nodes ...Node) *Proxy {
	p, err := New(Config{Listen: "127.0.0.1:0", Join: []string{"127.0.0.1:1"}, Mode: mode, Refresh: time.Hour,
		BackendTimeout: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	p.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.apply(membership{nodes: nodes, minScore: 50})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

type client struct {
	c    *pgconn.PgConn
	node string
}

func connect(t *testing.T, p *Proxy, sslmode string) (*client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgconn.Connect(ctx, "postgres://cairn@"+p.Addr()+"/cairn?sslmode="+sslmode)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return &client{c: c, node: c.ParameterStatus("cairn.node")}, nil
}

func (c *client) exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.c.Exec(ctx, sql).ReadAll()
	return err
}

func fakeNodes(fs ...*fakeNode) []Node {
	var ns []Node
	for _, f := range fs {
		ns = append(ns, Node{Name: f.name, Addr: f.ln.Addr().String(), Role: "data", State: "live", Weight: 1, Score: 90})
	}
	return ns
}

// TestDrainClosesIdleSessions: after a node starts draining, its idle
// sessions are closed with 57P01, a session in a transaction is left
// alone until COMMIT, and new sessions go elsewhere.
func TestDrainClosesIdleSessions(t *testing.T) {
	a, b := startFake(t, "a"), startFake(t, "b")
	nodes := fakeNodes(a, b)
	p := testProxy(t, RoundRobin, nodes...)
	var onA []*client
	for i := range 6 {
		mode := "disable"
		if i%2 == 0 {
			mode = "prefer" // SSLRequest first: the proxy answers N
		}
		c, err := connect(t, p, mode)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"a", "b"}[i%2]; c.node != want {
			t.Fatalf("session %d on %s, want %s", i, c.node, want)
		}
		if c.node == "a" {
			onA = append(onA, c)
		}
	}
	tx := onA[0]
	if err := tx.exec("BEGIN"); err != nil {
		t.Fatal(err)
	}
	draining := append([]Node(nil), nodes...)
	draining[0].State = "draining"
	p.apply(membership{nodes: draining, minScore: 50})
	for _, c := range onA[1:] {
		err := c.exec("SELECT 1")
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57P01" || !strings.Contains(pe.Message, `node "a" is draining`) {
			t.Fatalf("idle session on a draining node: %v", err)
		}
	}
	if err := tx.exec("SELECT 1"); err != nil {
		t.Fatalf("the transaction was cut: %v", err)
	}
	if err := tx.exec("COMMIT"); err != nil {
		t.Fatalf("COMMIT: %v", err)
	}
	if err := tx.exec("SELECT 1"); err == nil {
		t.Fatal("the session stayed open after its transaction ended on a draining node")
	}
	for range 4 {
		c, err := connect(t, p, "disable")
		if err != nil || c.node != "b" {
			t.Fatalf("new session with a draining: %v %v", c, err)
		}
	}
	rows := p.Backends()
	if len(rows) != 2 || rows[0].Sessions != 0 || rows[0].Eligible || rows[0].Why != "draining" || rows[1].Sessions != 7 {
		t.Fatalf("backends: %+v", rows)
	}
}

// TestNoBackend: with no eligible node a client gets 57P03 naming why;
// with the only node's address dead, 57P03 after it is marked down.
func TestNoBackend(t *testing.T) {
	a := startFake(t, "a")
	nodes := fakeNodes(a)
	nodes[0].State = "dead"
	p := testProxy(t, RoundRobin, nodes...)
	_, err := connect(t, p, "disable")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "57P03" || !strings.Contains(pe.Message, "a dead") {
		t.Fatalf("no live node: %v", err)
	}
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := dead.Addr().String()
	_ = dead.Close()
	p.apply(membership{nodes: []Node{{Name: "z", Addr: addr, Role: "data", State: "live", Weight: 1}}})
	_, err = connect(t, p, "disable")
	if !errors.As(err, &pe) || pe.Code != "57P03" || !strings.Contains(pe.Message, "z unreachable from the proxy") {
		t.Fatalf("unreachable node: %v", err)
	}
}

// TestCancelRouted: a CancelRequest reaches the node that issued the key.
func TestCancelRouted(t *testing.T) {
	a, b := startFake(t, "a"), startFake(t, "b")
	p := testProxy(t, RoundRobin, fakeNodes(a, b)...)
	var onB *client
	for range 2 {
		c, err := connect(t, p, "disable")
		if err != nil {
			t.Fatal(err)
		}
		if c.node == "b" {
			onB = c
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := onB.c.CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case key := <-b.cancels:
		if string(key) != string([]byte{0, 0, 0, 7, 1, 2, 3, 'b'}) {
			t.Fatalf("node b got cancel key %v", key)
		}
	case key := <-a.cancels:
		t.Fatalf("b's cancel went to a: %v", key)
	case <-ctx.Done():
		t.Fatal("no cancel request reached b")
	}
}
