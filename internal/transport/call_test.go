package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	pb "go.etcd.io/raft/v3/raftpb"
)

// recorder is a Handler that answers a few methods and records raft
// messages.
type recorder struct {
	mu       sync.Mutex
	msgs     []raftstore.GroupMessage
	at       []time.Time // arrival of each message
	sawDline atomic.Bool // "wait" saw a deadline on its ctx
	entered  atomic.Bool // "wait" ran
}

func (r *recorder) HandleRaft(msgs []raftstore.GroupMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for _, m := range msgs {
		r.msgs = append(r.msgs, m)
		r.at = append(r.at, now)
	}
}

func (r *recorder) received() ([]raftstore.GroupMessage, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs), slices.Clone(r.at)
}

func (r *recorder) HandleRPC(ctx context.Context, method string, req []byte) ([]byte, error) {
	switch method {
	case "echo":
		return append([]byte("echo:"), req...), nil
	case "missing":
		return nil, pgerr.New(pgerr.UndefinedTable, "stream %q does not exist", string(req)).
			WithHint("create it with CREATE STREAM").WithDetail("looked on node 2")
	case "notleader":
		return nil, fmt.Errorf("group 4: %w", raftstore.ErrNotLeader)
	case "plain":
		return nil, errors.New("something broke")
	case "wait":
		_, ok := ctx.Deadline()
		r.sawDline.Store(ok)
		r.entered.Store(true)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return nil, pgerr.New(pgerr.UndefinedFunction, "no internal method %q", method)
}

// pair starts two transports (nodes 1 and 2) sharing one Faults.
type tpair struct {
	faults *Faults
	book   addrBook
	tr     [3]*Transport // index = node id
	rec    [3]*recorder
	served [3]chan error
}

func newPair(t *testing.T) *tpair {
	t.Helper()
	p := &tpair{faults: NewFaults()}
	for id := uint64(1); id <= 2; id++ {
		p.rec[id] = &recorder{}
		p.tr[id] = New(Config{NodeID: id, Resolve: p.book.resolve, Handler: p.rec[id], Faults: p.faults})
		addr, served := serve(t, p.tr[id], "")
		p.book.set(id, addr)
		p.served[id] = served
	}
	t.Cleanup(p.close(t))
	return p
}

func (p *tpair) close(t *testing.T) func() {
	return func() {
		for id := 1; id <= 2; id++ {
			if p.served[id] != nil {
				closeAndWait(t, p.tr[id], p.served[id])
				p.served[id] = nil
			}
		}
	}
}

func TestCallRoundTripAndErrors(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		p := newPair(t)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()

		got, err := p.tr[1].Call(ctx, 2, "echo", []byte("hello"))
		if err != nil || string(got) != "echo:hello" {
			t.Fatalf("echo: %q, %v", got, err)
		}
		// Empty and large payloads.
		if got, err := p.tr[2].Call(ctx, 1, "echo", nil); err != nil || string(got) != "echo:" {
			t.Fatalf("empty echo: %q, %v", got, err)
		}
		big := bytes.Repeat([]byte("x"), 8<<20)
		if got, err := p.tr[1].Call(ctx, 2, "echo", big); err != nil || len(got) != len(big)+5 {
			t.Fatalf("8 MiB echo: %d bytes, %v", len(got), err)
		}

		// A handler's *pgerr.Error arrives with every field.
		_, err = p.tr[1].Call(ctx, 2, "missing", []byte("evnts"))
		var pe *pgerr.Error
		if !errors.As(err, &pe) {
			t.Fatalf("missing: %T %v", err, err)
		}
		if pe.Code != pgerr.UndefinedTable || pe.Message != `stream "evnts" does not exist` ||
			pe.Hint != "create it with CREATE STREAM" || pe.Detail != "looked on node 2" {
			t.Fatalf("remote error arrived as %+v", pe)
		}
		// An error with a SQLState() method keeps its code; a plain one is XX000.
		_, err = p.tr[1].Call(ctx, 2, "notleader", nil)
		if pgerr.Code(err) != pgerr.SerializationFailure || err.Error() != "group 4: raft group leader is not on this node; retry" {
			t.Fatalf("notleader: %s %v", pgerr.Code(err), err)
		}
		if _, err = p.tr[1].Call(ctx, 2, "plain", nil); pgerr.Code(err) != pgerr.InternalError || err.Error() != "something broke" {
			t.Fatalf("plain: %s %v", pgerr.Code(err), err)
		}

		// The caller's deadline reaches the handler, and ends the call. On
		// a loaded machine the deadline can pass before the handler runs
		// at all; then try again with a longer one (bounded).
		for _, dl := range []time.Duration{200 * time.Millisecond, time.Second, 3 * time.Second} {
			dctx, dcancel := context.WithTimeout(ctx, dl)
			start := time.Now()
			_, err = p.tr[1].Call(dctx, 2, "wait", nil)
			dcancel()
			// Either side may notice the deadline first: the code is 57014 both ways.
			if pgerr.Code(err) != pgerr.QueryCanceled {
				t.Fatalf("wait: %s %v", pgerr.Code(err), err)
			}
			if d := time.Since(start); d > dl+2*time.Second {
				t.Fatalf("deadline of %v honoured after %v", dl, d)
			}
			if p.rec[2].entered.Load() {
				break
			}
		}
		if !p.rec[2].entered.Load() {
			t.Fatal("the handler never ran, even with a 3s deadline")
		}
		if !p.rec[2].sawDline.Load() {
			t.Fatal("handler's ctx had no deadline")
		}

		// A partitioned peer: the call ends at the caller's deadline.
		p.faults.Partition(1, 2)
		dctx, dcancel := context.WithTimeout(ctx, 300*time.Millisecond)
		start := time.Now()
		_, err = p.tr[1].Call(dctx, 2, "echo", []byte("x"))
		dcancel()
		d := time.Since(start)
		if !errors.Is(err, context.DeadlineExceeded) || pgerr.Code(err) != pgerr.QueryCanceled {
			t.Fatalf("partitioned call: %s %v", pgerr.Code(err), err)
		}
		if d < 250*time.Millisecond || d > 2*time.Second {
			t.Fatalf("partitioned call returned after %v, deadline 300ms", d)
		}
		p.faults.Heal(1, 2)
		if _, err := p.tr[1].Call(ctx, 2, "echo", nil); err != nil {
			t.Fatalf("after heal: %v", err)
		}

		// Unknown node, closed peer, closed self.
		if _, err := p.tr[1].Call(ctx, 9, "echo", nil); !errors.Is(err, ErrUnreachable) || pgerr.Code(err) != pgerr.ConnectionFailure {
			t.Fatalf("unknown node: %s %v", pgerr.Code(err), err)
		}
		closeAndWait(t, p.tr[2], p.served[2])
		p.served[2] = nil
		if _, err := p.tr[1].Call(ctx, 2, "echo", nil); !errors.Is(err, ErrUnreachable) {
			t.Fatalf("closed peer: %s %v", pgerr.Code(err), err)
		}
		if _, err := p.tr[2].Call(ctx, 1, "echo", nil); !errors.Is(err, ErrClosed) || pgerr.Code(err) != pgerr.AdminShutdown {
			t.Fatalf("call on a closed transport: %v", err)
		}
		p.close(t)()
	}()
	checkNoLeaks(t, before)
}

// TestWrongNodeRefused: an address that now belongs to another node (a
// stale Resolve) is refused by that node, not served.
func TestWrongNodeRefused(t *testing.T) {
	p := newPair(t)
	p.book.set(3, p.book.addrs[2]) // node 3 "lives" where node 2 listens
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.tr[1].Call(ctx, 3, "echo", nil); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("call to node 3 at node 2's address: %v", err)
	}
	p.tr[1].Send([]raftstore.GroupMessage{{GroupID: 1, Msg: heartbeat(1, 3)}})
	time.Sleep(200 * time.Millisecond)
	if msgs, _ := p.rec[2].received(); len(msgs) != 0 {
		t.Fatalf("node 2 accepted %d messages meant for node 3", len(msgs))
	}
}

func heartbeat(from, to uint64) *pb.Message {
	return &pb.Message{Type: pb.MsgHeartbeat.Enum(), From: new(from), To: new(to), Term: new(uint64(3)), Commit: new(uint64(9))}
}

func TestSendBatchesPerNodeAndKeepsOrder(t *testing.T) {
	p := newPair(t)
	var batch []raftstore.GroupMessage
	for i := range 50 {
		m := &pb.Message{Type: pb.MsgApp.Enum(), From: new(uint64(1)), To: new(uint64(2)), Term: new(uint64(1)),
			Index: new(uint64(i)), Entries: []*pb.Entry{{Index: new(uint64(i + 1)), Term: new(uint64(1)), Data: []byte(fmt.Sprint("e", i))}}}
		batch = append(batch, raftstore.GroupMessage{GroupID: uint64(100 + i%5), Msg: m})
	}
	p.tr[1].Send(batch)
	// The caller may reuse its messages as soon as Send returns.
	for _, gm := range batch {
		gm.Msg.Entries[0].Data[0] = 'X'
	}
	eventually(t, 5*time.Second, func() error {
		if msgs, _ := p.rec[2].received(); len(msgs) != 50 {
			return fmt.Errorf("%d of 50 messages arrived", len(msgs))
		}
		return nil
	})
	msgs, _ := p.rec[2].received()
	for i, gm := range msgs {
		if gm.GroupID != uint64(100+i%5) || gm.Msg.GetIndex() != uint64(i) || string(gm.Msg.GetEntries()[0].GetData()) != fmt.Sprint("e", i) {
			t.Fatalf("message %d arrived as group %d index %d data %q", i, gm.GroupID, gm.Msg.GetIndex(), gm.Msg.GetEntries()[0].GetData())
		}
	}
	if st := p.tr[1].Stats(); st.FramesSent != 1 || st.MsgsSent != 50 {
		t.Fatalf("50 messages to one node went out as %d frames (%d messages)", st.FramesSent, st.MsgsSent)
	}
	// MsgSnap goes on the snapshot stream.
	snap := &pb.Message{Type: pb.MsgSnap.Enum(), From: new(uint64(1)), To: new(uint64(2)), Term: new(uint64(1)),
		Snapshot: &pb.Snapshot{Data: bytes.Repeat([]byte("s"), 3<<20), Metadata: &pb.SnapshotMetadata{Index: new(uint64(10)), Term: new(uint64(1))}}}
	p.tr[1].Send([]raftstore.GroupMessage{{GroupID: 5, Msg: snap}, {GroupID: 5, Msg: heartbeat(1, 2)}})
	eventually(t, 5*time.Second, func() error {
		if st := p.tr[2].Stats(); st.SnapshotsRecv != 1 || st.MsgsRecv != 52 {
			return fmt.Errorf("receiver stats %+v", st)
		}
		return nil
	})
	if st := p.tr[1].Stats(); st.SnapshotsSent != 1 || st.FramesSent != 3 {
		t.Fatalf("sender stats %+v", st)
	}
	msgs, _ = p.rec[2].received()
	for _, gm := range msgs[50:] {
		if gm.Msg.GetType() == pb.MsgSnap && len(gm.Msg.GetSnapshot().GetData()) != 3<<20 {
			t.Fatalf("snapshot arrived with %d bytes", len(gm.Msg.GetSnapshot().GetData()))
		}
	}
}

// TestSendNeverBlocks: with the peer down (nothing listens at its
// address) Send keeps returning at once, drops what does not fit, and the
// lane reconnects when the peer comes up.
func TestSendNeverBlocks(t *testing.T) {
	before := runtime.NumGoroutine()
	func() {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		deadAddr := ln.Addr().String()
		_ = ln.Close()
		var book addrBook
		book.set(2, deadAddr)
		tr := New(Config{NodeID: 1, Resolve: book.resolve})
		msg := []raftstore.GroupMessage{{GroupID: 1, Msg: heartbeat(1, 2)}, {GroupID: 1, Msg: heartbeat(1, 3)}}
		start := time.Now()
		const n = 20000
		for range n {
			tr.Send(msg)
		}
		// A Send that waited for the dial would take n × the connect
		// timeout; the bound only has to tell that from a busy machine
		// (it took 3.7 s under -race with eight builds running).
		if d := time.Since(start); d > 30*time.Second {
			t.Fatalf("%d Sends to unreachable peers took %v", n, d)
		}
		if st := tr.Stats(); st.MsgsDropped < n {
			t.Fatalf("dropped %d of %d messages to unreachable peers", st.MsgsDropped, 2*n)
		}

		// The peer comes up (at a new address): traffic flows again within
		// about the backoff cap.
		rec := &recorder{}
		tr2 := New(Config{NodeID: 2, Resolve: book.resolve, Handler: rec})
		addr, served := serve(t, tr2, deadAddr)
		book.set(2, addr)
		eventually(t, 5*time.Second, func() error {
			tr.Send(msg[:1])
			if msgs, _ := rec.received(); len(msgs) == 0 {
				return errors.New("nothing delivered after the peer came up")
			}
			return nil
		})
		closeAndWait(t, tr2, served)
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		tr.Send(msg) // after Close: dropped, no panic
	}()
	checkNoLeaks(t, before)
}

func TestFaultsDropAndDelay(t *testing.T) {
	p := newPair(t)
	hb := []raftstore.GroupMessage{{GroupID: 1, Msg: heartbeat(1, 2)}}
	p.faults.SetDrop(1, 2, 1)
	for range 10 {
		p.tr[1].Send(hb)
	}
	// The reverse direction is unaffected.
	p.tr[2].Send([]raftstore.GroupMessage{{GroupID: 1, Msg: heartbeat(2, 1)}})
	eventually(t, 5*time.Second, func() error {
		if msgs, _ := p.rec[1].received(); len(msgs) != 1 {
			return errors.New("2→1 not delivered")
		}
		return nil
	})
	if msgs, _ := p.rec[2].received(); len(msgs) != 0 {
		t.Fatalf("%d messages crossed a 100%% drop rule", len(msgs))
	}
	if st := p.tr[1].Stats(); st.MsgsDropped != 10 {
		t.Fatalf("dropped %d, want 10", st.MsgsDropped)
	}
	p.faults.SetDrop(1, 2, 0)

	const delay = 300 * time.Millisecond
	p.faults.SetDelay(1, 2, delay)
	sent := time.Now()
	for i := range 5 {
		m := heartbeat(1, 2)
		m.Commit = new(uint64(i))
		p.tr[1].Send([]raftstore.GroupMessage{{GroupID: 1, Msg: m}})
	}
	eventually(t, 5*time.Second, func() error {
		if msgs, _ := p.rec[2].received(); len(msgs) != 5 {
			return fmt.Errorf("%d of 5 delayed messages arrived", len(msgs))
		}
		return nil
	})
	msgs, at := p.rec[2].received()
	for i := range msgs {
		if msgs[i].Msg.GetCommit() != uint64(i) {
			t.Fatalf("delayed messages reordered: %d at %d", msgs[i].Msg.GetCommit(), i)
		}
		if d := at[i].Sub(sent); d < delay {
			t.Fatalf("message %d arrived after %v, delay %v", i, d, delay)
		}
	}

	// Isolate cuts both ways; HealAll restores.
	p.faults.Isolate(2)
	if lose, _ := p.faults.decide(1, 2); !lose {
		t.Fatal("isolated node reachable")
	}
	if lose, _ := p.faults.decide(2, 1); !lose {
		t.Fatal("isolated node can send")
	}
	p.faults.HealAll()
	if lose, d := p.faults.decide(1, 2); lose || d != 0 {
		t.Fatalf("after HealAll: lose %v delay %v", lose, d)
	}
	var nilFaults *Faults
	if lose, d := nilFaults.decide(1, 2); lose || d != 0 || nilFaults.blocked(1, 2) {
		t.Fatal("nil Faults injects faults")
	}
}
