package member

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/clock"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/cluster/placement"
	"github.com/cairndb/cairn/internal/errkind"
	"github.com/cairndb/cairn/internal/rpc"
)

// fakeRaft is a store whose meta group this node leads (or not), with the
// catalog applied through a real MetaSM.
type fakeRaft struct {
	mu        sync.Mutex
	meta      *catalog.MetaSM
	db        *pebble.DB
	leads     bool
	status    map[uint64]GroupState
	changes   []placement.MetaChange
	transfers [][2]uint64
}

func (f *fakeRaft) Status(gid uint64) (GroupState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.status[gid]
	return st, ok
}

func (f *fakeRaft) Propose(_ context.Context, gid uint64, cmd []byte) (any, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.leads {
		return nil, errkind.New(errkind.NotLeader, "not the leader")
	}
	b := f.db.NewBatch()
	defer b.Close()
	return f.meta.Apply(b, 1, cmd), nil
}

func (f *fakeRaft) ChangeMeta(_ context.Context, ch placement.MetaChange) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, ch)
	return nil
}

func (f *fakeRaft) TransferLeader(gid, to uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.transfers = append(f.transfers, [2]uint64{gid, to})
	return nil
}

func (f *fakeRaft) ReadIndex(context.Context, uint64) error { return nil }

// fakeCaller records calls and answers the meta leader's proposals.
type fakeCaller struct {
	mu    sync.Mutex
	calls []string
	reply func(method string, body []byte) ([]byte, error)
}

func (c *fakeCaller) Call(_ context.Context, node uint64, method string, body []byte) ([]byte, error) {
	c.mu.Lock()
	c.calls = append(c.calls, fmt.Sprintf("%s@%d", method, node))
	c.mu.Unlock()
	if c.reply != nil {
		return c.reply(method, body)
	}
	return nil, nil
}

func newMember(t *testing.T, self uint64, leads bool) (*Member, *fakeRaft, *fakeCaller, *clock.Manual) {
	t.Helper()
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fakeRaft{meta: catalog.NewMetaSM([]byte("catalog"), nil), db: db, leads: leads, status: map[uint64]GroupState{}}
	c := &fakeCaller{}
	clk := clock.NewManual(time.Unix(1_000_000, 0))
	m := New(context.Background(), Config{Self: self, Name: fmt.Sprintf("n%d", self), Meta: f.meta, Raft: f, Caller: c,
		Tracker: membership.NewTracker(clk), Clock: clk, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		StoreErr: func(err error) error { return err }, Led: func() []uint64 { return nil }})
	return m, f, c, clk
}

// A new cluster registers its first node; joining nodes are admitted by
// the meta leader, and the meta-growth loop adds each as a learner.
func TestRegisterAdmitGrow(t *testing.T) {
	m, f, _, _ := newMember(t, 1, true)
	f.status[catalog.MetaGroupID] = GroupState{Leader: 1, IsLeader: true, Voters: []uint64{1}, Match: map[uint64]uint64{}}
	if err := m.Register(catalog.Node{ID: 1, Name: "n1", ClusterAddr: "a1", Role: "data"}, "c1"); err != nil {
		t.Fatal(err)
	}
	if cat := m.Catalog(); cat.ClusterID != "c1" || cat.Nodes["n1"] == nil {
		t.Fatalf("after Register: cluster %q, nodes %v", cat.ClusterID, cat.Nodes)
	}
	body, _ := json.Marshal(JoinRequest{Node: catalog.Node{Name: "n2", ClusterAddr: "a2", Role: "data"}})
	out, err := m.Admit(context.Background(), body)
	if err != nil {
		t.Fatal(err)
	}
	var rep JoinReply
	if err := json.Unmarshal(out, &rep); err != nil || rep.Node.ID == 0 || rep.ClusterID != "c1" || len(rep.Members) != 2 {
		t.Fatalf("join reply %+v, %v", rep, err)
	}
	// A second node under the same name at another live address is refused.
	m.cfg.Tracker.Saw(rep.Node.ID)
	body, _ = json.Marshal(JoinRequest{Node: catalog.Node{Name: "n2", ClusterAddr: "elsewhere", Role: "data"}})
	if _, err := m.Admit(context.Background(), body); err == nil {
		t.Fatal("a live node's name was taken by another address")
	}
	// The meta leader adds the live new node as a learner.
	m.GrowMeta()
	if len(f.changes) != 1 || f.changes[0].Type != placement.MetaAddLearner || f.changes[0].Node != rep.Node.ID {
		t.Fatalf("meta changes %+v, want one learner for node %d", f.changes, rep.Node.ID)
	}
}

// A node that does not lead the meta group forwards a catalog change to
// the leader it knows.
func TestProposeForwards(t *testing.T) {
	m, f, c, _ := newMember(t, 2, false)
	f.status[catalog.MetaGroupID] = GroupState{Leader: 1}
	c.reply = func(method string, body []byte) ([]byte, error) {
		return json.Marshal(catalog.Result{Notice: "applied at the leader"})
	}
	res, err := m.Propose(context.Background(), &catalog.SetSetting{Key: "auto_failover"})
	if err != nil || res.Notice != "applied at the leader" {
		t.Fatalf("Propose = %+v, %v", res, err)
	}
	if len(c.calls) != 1 || c.calls[0] != rpc.MetaPropose+"@1" {
		t.Fatalf("calls %v, want one meta_propose to node 1", c.calls)
	}
}

// Heartbeats make a node live; silence makes it suspect, then dead, on
// the tracker's clock.
func TestHeartbeatsAndLiveness(t *testing.T) {
	m, _, _, clk := newMember(t, 1, true)
	if err := m.Register(catalog.Node{ID: 1, Name: "n1", Role: "data"}, "c1"); err != nil {
		t.Fatal(err)
	}
	n2 := &catalog.Node{ID: 2, Name: "n2"}
	if got := m.Liveness(n2); got != "unknown" {
		t.Fatalf("never heard: %s", got)
	}
	body, _ := json.Marshal(heartbeat{From: 2, Leaders: 3})
	if err := m.HandleHeartbeat(body); err != nil {
		t.Fatal(err)
	}
	if got := m.Liveness(n2); got != "live" {
		t.Fatalf("after a heartbeat: %s", got)
	}
	clk.Advance(10 * time.Second)
	if got := m.Liveness(n2); got != "suspect" {
		t.Fatalf("10 s silent: %s", got)
	}
	clk.Advance(30 * time.Second)
	if got := m.Liveness(n2); got != "dead" {
		t.Fatalf("40 s silent: %s", got)
	}
	if n, ok := m.cfg.Tracker.LeadersOf(2); !ok || n != 3 {
		t.Fatalf("leaders of n2: %d %v", n, ok)
	}
}
