// Package member is this node as a member of the cluster: it joins
// through a seed, registers itself in the catalog, proposes catalog
// changes (forwarding them to the meta leader), sends and records
// heartbeats, grows and repairs the meta group when it leads it, and hands
// away the leaderships placement says it should not keep. The decisions
// come from the pure placement package; this package only acts on them,
// through the Raft and Caller interfaces it declares.
package member

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/clock"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/cluster/placement"
	"github.com/cairndb/cairn/internal/errkind"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/timing"
)

// JoinRequest is the body of a join RPC.
type JoinRequest struct {
	Node      catalog.Node `json:"node"`
	ClusterID string       `json:"cluster_id,omitempty"` // the joiner's, if its data dir already has one
}

// JoinReply is what a joining node learns.
type JoinReply struct {
	Node      catalog.Node   `json:"node"`
	ClusterID string         `json:"cluster_id"`
	Members   []catalog.Node `json:"members"`
}

// heartbeat is the body of a heartbeat RPC.
type heartbeat struct {
	From    uint64          `json:"from"`
	Leaders int             `json:"leaders"`
	Health  json.RawMessage `json:"health,omitempty"` // the sender's health report (Config.Health)
}

// GroupState is a raft group's state as this node's replica sees it.
type GroupState struct {
	Leader   uint64
	IsLeader bool
	Voters   []uint64
	Learners []uint64
	Match    map[uint64]uint64 // leader only: replicated index per replica
	Commit   uint64
}

// Raft is this node's multi-raft store, as a member needs it.
type Raft interface {
	Status(gid uint64) (GroupState, bool)
	// Propose proposes cmd to group gid and returns what applying it
	// produced; an error of kind errkind.NotLeader says to forward.
	Propose(ctx context.Context, gid uint64, cmd []byte) (any, error)
	// ChangeMeta applies one membership change to the meta group.
	ChangeMeta(ctx context.Context, ch placement.MetaChange) error
	TransferLeader(gid, to uint64) error
	// ReadIndex is a linearizable read barrier on this node's replica.
	ReadIndex(ctx context.Context, gid uint64) error
}

// Caller calls an internal RPC method on another node.
type Caller interface {
	Call(ctx context.Context, node uint64, method string, body []byte) ([]byte, error)
}

// Join asks the seeds (cluster addresses of live members) to admit self,
// retrying until deadline; dial calls a method at an address. An answer
// that refuses for good (the name is taken, another cluster) ends it.
func Join(ctx context.Context, dial func(ctx context.Context, addr, method string, body []byte) ([]byte, error),
	seeds []string, self catalog.Node, t timing.Timing) (*JoinReply, string, error) {
	t = t.WithDefaults()
	req, _ := json.Marshal(JoinRequest{Node: self})
	var lastErr error
	deadline := time.Now().Add(t.JoinDeadline)
	for attempt := 0; time.Now().Before(deadline); attempt++ {
		for _, seed := range seeds {
			cctx, cancel := context.WithTimeout(ctx, t.JoinAttempt)
			out, err := dial(cctx, seed, rpc.Join, req)
			cancel()
			if err != nil {
				lastErr = fmt.Errorf("join through %s: %w", seed, err)
				var pe *pgerr.Error
				if errors.As(err, &pe) && (pe.Code == pgerr.NodeIDTaken.Code || pe.Code == pgerr.WrongCluster.Code) {
					return nil, "", lastErr // refused for good (name clash, other cluster)
				}
				continue
			}
			var rep JoinReply
			if err := json.Unmarshal(out, &rep); err != nil {
				return nil, "", fmt.Errorf("join through %s: bad reply: %v", seed, err)
			}
			return &rep, seed, nil
		}
		select {
		case <-ctx.Done():
			return nil, "", ctx.Err()
		case <-time.After(time.Duration(min(attempt+1, 5)) * t.JoinBackoff):
		}
	}
	return nil, "", fmt.Errorf("could not join the cluster through %s within %s: %w", strings.Join(seeds, ","), t.JoinDeadline, lastErr)
}

// Config configures a Member.
type Config struct {
	Self     uint64 // this node's raft id
	Name     string // its --node-id
	Meta     *catalog.MetaSM
	Raft     Raft
	Caller   Caller
	Tracker  *membership.Tracker
	Clock    clock.Clock
	Timing   timing.Timing
	Logger   *slog.Logger
	StoreErr func(error) error // turns a store error into a client-facing one
	// Led lists the data groups whose leader is this node's replica.
	Led func() []uint64
	// Health, if set, is this node's health report, sent with every
	// heartbeat; OnHealth receives another node's, and OnRTT each
	// heartbeat's round trip (issue 15: cairn_cluster.health).
	Health   func() json.RawMessage
	OnHealth func(from uint64, report json.RawMessage)
	OnRTT    func(to uint64, d time.Duration)
}

// Member is this node as a member of the cluster.
type Member struct {
	cfg  Config
	t    timing.Timing
	ctx  context.Context
	wake chan struct{}
}

// New returns a member whose background work ends with ctx.
func New(ctx context.Context, cfg Config) *Member {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &Member{cfg: cfg, t: cfg.Timing.WithDefaults(), ctx: ctx, wake: make(chan struct{}, 1)}
}

// Wake fires when the meta group's membership should be looked at soon.
func (m *Member) Wake() <-chan struct{} { return m.wake }

func (m *Member) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Liveness is node nd's liveness as this node sees it: live, suspect,
// dead, or unknown (not heard from since this node started, for less
// than dead_after).
func (m *Member) Liveness(nd *catalog.Node) string {
	cat := m.cfg.Meta.Catalog()
	return string(m.cfg.Tracker.State(m.cfg.Self, nd.ID, cat.SettingDuration("suspect_after"), cat.SettingDuration("dead_after")))
}

// Snapshot is the liveness of every node in cat, for placement and
// scheduling decisions.
func (m *Member) Snapshot(cat *catalog.Catalog) membership.Snapshot {
	nodes := cat.SortedNodes()
	ids := make([]uint64, len(nodes))
	for i, nd := range nodes {
		ids[i] = nd.ID
	}
	return m.cfg.Tracker.Snapshot(m.cfg.Self, ids, cat.SettingDuration("suspect_after"), cat.SettingDuration("dead_after"))
}

// WaitLeader waits up to timeout until group gid has a leader.
func (m *Member) WaitLeader(gid uint64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if st, ok := m.cfg.Raft.Status(gid); ok && st.Leader != 0 {
			return nil
		}
		time.Sleep(m.t.SpinPoll)
	}
	return pgerr.GroupNoLeader.New(gid, timeout)
}

// Propose proposes a catalog change and returns its result; on a node
// that does not lead the meta group it forwards the change to the leader.
func (m *Member) Propose(ctx context.Context, c catalog.Command) (*catalog.Result, error) {
	// Bounded: a meta leader cut off from its quorum would otherwise keep
	// the proposal pending until it hears of a new leader.
	pctx, cancel := context.WithTimeout(ctx, m.t.MetaProposeTimeout)
	defer cancel()
	res, err := m.cfg.Raft.Propose(pctx, catalog.MetaGroupID, catalog.Encode(c))
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return nil, pgerr.MetaUnconfirmed.New(m.t.MetaProposeTimeout)
	}
	if errkind.Is(err, errkind.NotLeader) {
		return m.forward(ctx, c)
	}
	if err != nil {
		return nil, m.cfg.StoreErr(err)
	}
	r, ok := res.(*catalog.Result)
	if !ok {
		return nil, pgerr.BadApplyResult.New(res)
	}
	if r.Err != nil {
		return nil, r.Err
	}
	return r, nil
}

// forward sends a catalog change to the meta leader, then waits until
// this node's catalog has it (so the session reads its own writes).
func (m *Member) forward(ctx context.Context, c catalog.Command) (*catalog.Result, error) {
	var leader uint64
	for deadline := time.Now().Add(m.t.MetaForwardWait); ; {
		if st, ok := m.cfg.Raft.Status(catalog.MetaGroupID); ok && st.Leader != 0 && st.Leader != m.cfg.Self {
			leader = st.Leader
			break
		}
		if time.Now().After(deadline) {
			return nil, pgerr.MetaNoLeader.New()
		}
		select {
		case <-ctx.Done():
			return nil, m.cfg.StoreErr(ctx.Err())
		case <-time.After(m.t.ForwardPoll):
		}
	}
	out, err := m.cfg.Caller.Call(ctx, leader, rpc.MetaPropose, catalog.Encode(c))
	if err != nil {
		return nil, err
	}
	var r catalog.Result
	if err := json.Unmarshal(out, &r); err != nil {
		return nil, pgerr.BadReply.New("meta leader", err)
	}
	if r.Err != nil {
		return nil, r.Err
	}
	if err := m.cfg.Raft.ReadIndex(ctx, catalog.MetaGroupID); err != nil {
		return nil, m.cfg.StoreErr(err)
	}
	return &r, nil
}

// Register records this node (me; on a new cluster also the cluster id)
// in the catalog, or updates its addresses after a restart.
func (m *Member) Register(me catalog.Node, clusterID string) error {
	ctx, cancel := context.WithTimeout(m.ctx, m.t.RegisterTimeout)
	defer cancel()
	if m.cfg.Self != 1 {
		// A member's entry was written before it was let in: wait until the
		// catalog (from the leader's snapshot or log) has it.
		for m.cfg.Meta.Catalog().Nodes[me.Name] == nil {
			select {
			case <-ctx.Done():
				return fmt.Errorf("catch up the catalog: %w", ctx.Err())
			case <-time.After(m.t.CatalogPoll):
			}
		}
	}
	cat := m.cfg.Meta.Catalog()
	if cat.ClusterID == "" {
		_, err := m.Propose(ctx, &catalog.Init{ClusterID: clusterID, Node: &me})
		return err
	}
	old := cat.Nodes[me.Name]
	if old == nil || old.ClusterAddr != me.ClusterAddr || old.PGAddr != me.PGAddr || old.HTTPAddr != me.HTTPAddr || old.State == catalog.NodeDraining {
		// Key "restart": a drain ends with the process it drained (the
		// rolling-restart recipe is drain, restart, wait for live); other
		// operator states survive the restart.
		_, err := m.Propose(ctx, &catalog.AddNode{Node: &me, Restart: true})
		return err
	}
	return nil
}

// Admit registers a joining node (forwarding to the meta leader when this
// node is not it); the meta-growth loop then adds it to the meta group.
func (m *Member) Admit(ctx context.Context, body []byte) ([]byte, error) {
	var r JoinRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, err
	}
	if st, ok := m.cfg.Raft.Status(catalog.MetaGroupID); !ok || !st.IsLeader {
		if !ok || st.Leader == 0 {
			return nil, pgerr.MetaNoLeader.New()
		}
		return m.cfg.Caller.Call(ctx, st.Leader, rpc.Join, body)
	}
	cat := m.cfg.Meta.Catalog()
	if cat.ClusterID == "" {
		// The bootstrap node leads the meta group but has not registered
		// itself (Init) yet. Admitting now let the joiner's AddNode apply
		// first, so Init skipped the bootstrap node's own entry and the
		// joiner, knowing no address for node 1, never caught up (a node
		// started together with its seed, as in the README). Join retries.
		return nil, pgerr.ClusterStarting.New()
	}
	if r.ClusterID != "" && r.ClusterID != cat.ClusterID {
		return nil, pgerr.WrongCluster.New(r.Node.Name, r.ClusterID, cat.ClusterID)
	}
	if old := cat.Nodes[r.Node.Name]; old != nil && old.ClusterAddr != r.Node.ClusterAddr && m.Liveness(old) == "live" {
		return nil, pgerr.NodeIDTaken.New(r.Node.Name, old.ClusterAddr)
	}
	nd := r.Node
	res, err := m.Propose(ctx, &catalog.AddNode{Node: &nd})
	if err != nil {
		return nil, err
	}
	rep := &JoinReply{Node: *res.Node, ClusterID: cat.ClusterID}
	for _, x := range m.cfg.Meta.Catalog().SortedNodes() {
		rep.Members = append(rep.Members, *x)
	}
	m.poke()
	return json.Marshal(rep)
}

// HandleHeartbeat records a heartbeat from another node.
func (m *Member) HandleHeartbeat(body []byte) error {
	var hb heartbeat
	if err := json.Unmarshal(body, &hb); err != nil {
		return err
	}
	m.cfg.Tracker.Saw(hb.From)
	m.cfg.Tracker.SetLeaders(hb.From, hb.Leaders)
	if len(hb.Health) > 0 && m.cfg.OnHealth != nil {
		m.cfg.OnHealth(hb.From, hb.Health)
	}
	return nil
}

// SendHeartbeats tells every other member this node is alive and how
// many data-shard leaders it holds.
func (m *Member) SendHeartbeats() {
	hb := heartbeat{From: m.cfg.Self, Leaders: len(m.cfg.Led())}
	if m.cfg.Health != nil {
		hb.Health = m.cfg.Health()
	}
	body, _ := json.Marshal(hb)
	for _, nd := range m.cfg.Meta.Catalog().SortedNodes() {
		if nd.ID == m.cfg.Self {
			continue
		}
		go func(id uint64) {
			ctx, cancel := context.WithTimeout(m.ctx, m.t.Heartbeat)
			defer cancel()
			start := time.Now()
			if _, err := m.cfg.Caller.Call(ctx, id, rpc.Heartbeat, body); err == nil {
				m.cfg.Tracker.Saw(id)
				if m.cfg.OnRTT != nil {
					m.cfg.OnRTT(id, time.Since(start))
				}
			}
		}(nd.ID)
	}
}

// GrowMeta runs on the meta leader: live nodes join the meta group as
// learners and data nodes are promoted to voters once caught up, up to 3
// voters (5 with five or more data nodes); placement.NextMetaChange
// decides, one change per round.
func (m *Member) GrowMeta() {
	st, ok := m.cfg.Raft.Status(catalog.MetaGroupID)
	if !ok || !st.IsLeader {
		return
	}
	cat := m.cfg.Meta.Catalog()
	ch, ok := placement.NextMetaChange(cat, m.Snapshot(cat), m.cfg.Self, placement.MetaStatus{Voters: st.Voters, Learners: st.Learners, Match: st.Match, Commit: st.Commit})
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(m.ctx, m.t.MetaChangeTimeout)
	defer cancel()
	if err := m.cfg.Raft.ChangeMeta(ctx, ch); err != nil {
		if m.ctx.Err() == nil {
			m.cfg.Logger.Debug("meta membership", "err", err)
		}
		return
	}
	m.cfg.Logger.Info("meta group: "+ch.Why, "raft_id", ch.Node)
}

// BalanceLeaders moves leadership off this node when it should not lead
// (draining, offline, decommissioning), to the preferred leader when one
// is set (ALTER SYSTEM FAILOVER TO), and otherwise spreads data-shard
// leaders evenly; placement.LeaderTransfers decides which.
func (m *Member) BalanceLeaders() {
	cat := m.cfg.Meta.Catalog()
	in := placement.LeaderInput{Cat: cat, Live: m.Snapshot(cat), Self: m.cfg.Self}
	in.Preferred, _ = cat.Setting("preferred_leader")
	for _, gid := range m.cfg.Led() {
		if st, ok := m.cfg.Raft.Status(gid); ok {
			in.Led = append(in.Led, placement.Led{Group: gid, Voters: st.Voters})
		}
	}
	if st, ok := m.cfg.Raft.Status(catalog.MetaGroupID); ok && st.IsLeader {
		in.Meta = &placement.Led{Group: catalog.MetaGroupID, Voters: st.Voters}
	}
	for _, t := range placement.LeaderTransfers(in) {
		if err := m.cfg.Raft.TransferLeader(t.Group, t.To); err == nil {
			m.cfg.Logger.Debug("leader transfer", "group", t.Group, "to", t.To)
			if t.Even {
				m.cfg.Tracker.SetLeaders(t.To, t.Theirs+1)
			}
		}
	}
}

// Catalog is the current catalog (read-only).
func (m *Member) Catalog() *catalog.Catalog { return m.cfg.Meta.Catalog() }

// Live is the liveness of every node in cat (Snapshot).
func (m *Member) Live(cat *catalog.Catalog) membership.Snapshot { return m.Snapshot(cat) }

// IsMetaLeader reports whether this node leads the meta group.
func (m *Member) IsMetaLeader() bool {
	st, ok := m.cfg.Raft.Status(catalog.MetaGroupID)
	return ok && st.IsLeader
}

// MetaVoters are the meta group's voters as this node knows them.
func (m *Member) MetaVoters() []uint64 {
	st, _ := m.cfg.Raft.Status(catalog.MetaGroupID)
	return st.Voters
}

// WaitMetaLeader waits up to timeout until the meta group has a leader.
func (m *Member) WaitMetaLeader(timeout time.Duration) error {
	return m.WaitLeader(catalog.MetaGroupID, timeout)
}
