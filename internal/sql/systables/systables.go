// Package systables builds the cairn_cluster tables (streams, views,
// shards, nodes, leader_terms) from the catalog and what this node knows
// of the cluster, through the Status interface it declares.
package systables

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/types"
)

// Status is what the cluster tables read from the node.
type Status interface {
	Catalog() *catalog.Catalog
	Self() uint64 // this node's raft id
	Name() string // its --node-id
	Now() time.Time
	// Liveness is a node's liveness as this node sees it.
	Liveness(nd *catalog.Node) string
	// LastHeard and LeadersOf come from the node's last heartbeat.
	LastHeard(id uint64) (time.Time, bool)
	LeadersOf(id uint64) (int, bool)
	// MetaMembers are the meta group's voters and learners (ok: known).
	MetaMembers() (voters, learners []uint64, ok bool)
	// Leads reports whether this node's replica of gid leads it.
	Leads(gid uint64) bool
	// GroupStatus is every live node's replicas' raft state.
	GroupStatus(ctx context.Context) map[uint64]map[uint64]rpc.ReplicaStatus
	// LeaderTermsLog is the content of this node's leader-terms.log.
	LeaderTermsLog() ([]byte, error)
	// ViewOffsets are, per shard of v, the stream offsets it folded up
	// to (nil for a shard no replica reported).
	ViewOffsets(ctx context.Context, v *catalog.View) [][]uint64
}

func txt(s string) types.Datum { return types.NewText(s) }
func i8(v int64) types.Datum   { return types.NewInt(types.Int8, v) }

// state is the operator's state of nd if one is set, else its liveness.
func state(n Status, nd *catalog.Node) string {
	if nd.State != "" {
		return nd.State
	}
	return n.Liveness(nd)
}

// Streams is cairn_cluster.streams: every stream and its options.
func Streams(cat *catalog.Catalog) *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "name", T: types.Text}, {Name: "columns", T: types.Text}, {Name: "shards", T: types.Int8},
		{Name: "replicas", T: types.Int8}, {Name: "shard_key", T: types.Text}, {Name: "retention", T: types.Text},
		{Name: "on_shard_unavailable", T: types.Text}}}
	for _, s := range cat.SortedStreams() {
		cols := make([]string, len(s.Cols))
		for i, c := range s.Cols {
			cols[i] = c.Name + " " + c.T.String()
		}
		t.Rows = append(t.Rows, []types.Datum{txt(s.Name), txt(strings.Join(cols, ", ")), i8(int64(s.Shards)), i8(int64(s.Replicas)), txt(s.ShardKey), txt(s.Retention), txt(s.OnShardUnavailableText())})
	}
	return t
}

// Views is cairn_cluster.views: every continuous view.
//
// start is the view's back-fill choice (earliest or latest); the
// back-fill columns say how far it got: backfill_target events lay
// between the view's start and the stream's end when it was created,
// backfill_done of them are folded by every view shard, and backfilled
// is true once all are (NULL when a shard's progress is unknown, or for
// a view created before targets were recorded). time_window describes
// the view's window and expiry; for a view with tumble() or hop()
// windows, watermark is the largest event time its shards have folded and
// late_events the events they left out as late (NULL when no replica of
// some shard answered, or the view has no such window).
func Views(ctx context.Context, n Status) *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "name", T: types.Text}, {Name: "stream", T: types.Text}, {Name: "kind", T: types.Text},
		{Name: "shards", T: types.Int8}, {Name: "replicas", T: types.Int8}, {Name: "query", T: types.Text},
		{Name: "start", T: types.Text}, {Name: "backfill_target", T: types.Int8}, {Name: "backfill_done", T: types.Int8}, {Name: "backfilled", T: types.Bool},
		{Name: "time_window", T: types.Text}, {Name: "watermark", T: types.TimestampTZ}, {Name: "late_events", T: types.Int8}}}
	t.Cols = append(t.Cols, schedCols...) // elastic.go
	var states map[uint64]map[uint64]rpc.ReplicaStatus
	for _, v := range n.Catalog().SortedViews() {
		start := types.NullOf(types.Text)
		if v.StartFrom != "" {
			start = txt(v.StartFrom)
		}
		target, done, backfilled := types.NullOf(types.Int8), types.NullOf(types.Int8), types.NullOf(types.Bool)
		if v.BackfillTo != nil {
			p := v.BackfillProgress(n.ViewOffsets(ctx, v))
			target = i8(int64(p.Target))
			if p.Known {
				done, backfilled = i8(int64(p.Done)), types.NewBool(p.Complete)
			}
		}
		wm, late := types.NullOf(types.TimestampTZ), types.NullOf(types.Int8)
		if strings.HasPrefix(v.Window, "tumble") || strings.HasPrefix(v.Window, "hop") {
			if states == nil {
				states = n.GroupStatus(ctx)
			}
			var maxWM, sum int64
			found := 0
			for _, gid := range v.Groups {
				// Replicas apply the same log: the most advanced one
				// (the largest count, which only grows) is the freshest.
				var shardLate uint64
				seen := false
				for _, byGroup := range states {
					if st, ok := byGroup[gid]; ok {
						maxWM = max(maxWM, st.Watermark)
						shardLate = max(shardLate, st.Late)
						seen = true
					}
				}
				if seen {
					sum += int64(shardLate)
					found++
				}
			}
			if found == len(v.Groups) {
				late = i8(sum)
				if maxWM != 0 {
					wm = types.NewInt(types.TimestampTZ, maxWM)
				}
			}
		}
		t.Rows = append(t.Rows, []types.Datum{txt(v.Name), txt(v.Stream), txt(v.Kind), i8(int64(v.Shards)), i8(int64(v.Replicas)), txt(v.Query),
			start, target, done, backfilled, txt(v.Window), wm, late})
		t.Rows[len(t.Rows)-1] = append(t.Rows[len(t.Rows)-1], schedRow(n.Catalog(), v)...)
	}
	return t
}

// Shards is cairn_cluster.shards: one row per replica of every
// group (a regional object's permanent learners included: role
// learner, lag behind the leader's commit index). Raft state is known for this node's replicas; other nodes'
// replicas show their node's liveness.
func Shards(ctx context.Context, n Status) *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "object", T: types.Text}, {Name: "shard", T: types.Int8}, {Name: "group_id", T: types.Int8},
		{Name: "node_id", T: types.Text}, {Name: "role", T: types.Text}, {Name: "is_alive", T: types.Bool},
		{Name: "applied_index", T: types.Int8}, {Name: "commit_index", T: types.Int8}, {Name: "lag", T: types.Int8},
		{Name: "rerouted", T: types.Text}}}
	cat := n.Catalog()
	states := n.GroupStatus(ctx)
	rerouted := reroutedText(cat, states) // reroute.go
	add := func(object string, shard int, gid uint64, nodes []uint64) {
		rr := types.NullOf(types.Text)
		if r, ok := rerouted[gid]; ok {
			rr = txt(r)
		}
		for _, id := range nodes {
			name := fmt.Sprint(id)
			nd := cat.NodeByID(id)
			if nd != nil {
				name = nd.Name
			}
			st, ok := states[id][gid]
			if !ok {
				// The node did not answer (down, or the replica is not started).
				alive := nd != nil && n.Liveness(nd) == "live"
				null := types.NullOf(types.Int8)
				t.Rows = append(t.Rows, []types.Datum{txt(object), i8(int64(shard)), i8(int64(gid)), txt(name), txt("unknown"), types.NewBool(alive), null, null, null, rr})
				continue
			}
			lag := int64(st.Commit) - int64(st.Applied)
			if st.Role == "learner" {
				lag = learnerLag(states, gid, st) // regions.go
			}
			t.Rows = append(t.Rows, []types.Datum{txt(object), i8(int64(shard)), i8(int64(gid)), txt(name), txt(st.Role), types.NewBool(true),
				i8(int64(st.Applied)), i8(int64(st.Commit)), i8(lag), rr})
		}
	}
	metaNodes := []uint64{n.Self()}
	if voters, learners, ok := n.MetaMembers(); ok {
		metaNodes = append(slices.Clone(voters), learners...)
		slices.Sort(metaNodes)
	}
	add("meta", 0, catalog.MetaGroupID, metaNodes)
	refs := cat.Groups()
	for _, s := range cat.SortedStreams() {
		for i, g := range s.Groups {
			add(s.Name, i, g, refs[g].AllNodes())
		}
	}
	for _, v := range cat.SortedViews() {
		for i, g := range v.Groups {
			add(v.Name, i, g, refs[g].AllNodes())
		}
	}
	for _, tb := range cat.SortedTables() {
		for i, g := range tb.Groups {
			add(tb.Name, i, g, refs[g].AllNodes())
		}
	}
	return t
}

// Nodes is cairn_cluster.nodes: every member, its liveness as this
// node sees it, and the replicas and leaders it holds (leaders are known
// for this node only); weight (ALTER NODE … SET WEIGHT) and pg_address
// are what cairn proxy routes by.
func Nodes(n Status) *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "node_id", T: types.Text}, {Name: "address", T: types.Text}, {Name: "role", T: types.Text},
		{Name: "zone", T: types.Text}, {Name: "region", T: types.Text}, {Name: "state", T: types.Text}, {Name: "leaders", T: types.Int8},
		{Name: "replicas", T: types.Int8}, {Name: "last_heartbeat", T: types.TimestampTZ},
		{Name: "security", T: types.Text}, {Name: "cert_expires_at", T: types.TimestampTZ},
		{Name: "weight", T: types.Int8}, {Name: "pg_address", T: types.Text}}}
	cat := n.Catalog()
	replicas := map[uint64]int64{}
	for _, ref := range cat.Groups() {
		for _, id := range ref.Nodes {
			replicas[id]++
		}
	}
	if voters, learners, ok := n.MetaMembers(); ok {
		for _, id := range append(slices.Clone(voters), learners...) {
			replicas[id]++
		}
	}
	leaders := int64(0)
	for gid := range cat.Groups() {
		if n.Leads(gid) {
			leaders++
		}
	}
	if n.Leads(catalog.MetaGroupID) {
		leaders++
	}
	for _, nd := range cat.SortedNodes() {
		ld := types.NullOf(types.Int8)
		hb := types.NullOf(types.TimestampTZ)
		if nd.ID == n.Self() {
			ld = i8(leaders)
			hb = types.NewInt(types.TimestampTZ, n.Now().UnixMicro())
		} else if at, ok := n.LastHeard(nd.ID); ok {
			hb = types.NewInt(types.TimestampTZ, at.UnixMicro())
			if c, ok := n.LeadersOf(nd.ID); ok && n.Liveness(nd) == "live" {
				ld = i8(int64(c)) // data-shard leaders, from its last heartbeat
			}
		}
		t.Rows = append(t.Rows, []types.Datum{txt(nd.Name), txt(nd.ClusterAddr), txt(nd.Role), txt(nd.Zone), txt(nd.Region),
			txt(state(n, nd)), ld, i8(replicas[nd.ID]), hb, nodeSecurity(nd), certExpiry(nd),
			i8(nd.Weight()), txt(nd.PGAddr)})
	}
	return t
}

// nodeSecurity is what the node reported about itself: 'secure' or
// 'insecure', NULL from a binary that reports nothing.
func nodeSecurity(nd *catalog.Node) types.Datum {
	if nd.Security == "" {
		return types.NullOf(types.Text)
	}
	return txt(nd.Security)
}

// certExpiry is the node certificate's expiry, NULL when insecure.
func certExpiry(nd *catalog.Node) types.Datum {
	if nd.CertExpiresAt == 0 {
		return types.NullOf(types.TimestampTZ)
	}
	return types.NewInt(types.TimestampTZ, nd.CertExpiresAt*1_000_000)
}

// LeaderTerms is cairn_cluster.leader_terms: every (group, term) this
// node led and committed in, read from its leader-terms.log.
func LeaderTerms(n Status) (*exec.MemTable, error) {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "group_id", T: types.Int8}, {Name: "term", T: types.Int8},
		{Name: "node_id", T: types.Text}, {Name: "since", T: types.TimestampTZ}}}
	b, err := n.LeaderTermsLog()
	if err != nil {
		return nil, pgerr.New(pgerr.IOError, "read leader-terms.log: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		var gid, term, at int64
		if _, err := fmt.Sscan(line, &gid, &term, &at); err != nil {
			continue // a torn last line after a crash
		}
		t.Rows = append(t.Rows, []types.Datum{i8(gid), i8(term), txt(n.Name()), types.NewInt(types.TimestampTZ, at)})
	}
	return t, nil
}

// Tables is cairn_cluster.tables: every table, its columns, key and
// options.
func Tables(cat *catalog.Catalog) *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "name", T: types.Text}, {Name: "columns", T: types.Text}, {Name: "primary_key", T: types.Text},
		{Name: "shards", T: types.Int8}, {Name: "replicas", T: types.Int8}}}
	for _, tb := range cat.SortedTables() {
		cols := make([]string, len(tb.Columns))
		for i, c := range tb.Columns {
			cols[i] = c.Name + " " + c.T.String()
			if c.NotNull && !tb.IsKey(i) {
				cols[i] += " not null"
			}
			if c.Default != "" {
				cols[i] += " default " + c.Default
			}
		}
		t.Rows = append(t.Rows, []types.Datum{txt(tb.Name), txt(strings.Join(cols, ", ")), txt(strings.Join(tb.KeyNames(), ", ")),
			i8(int64(tb.Shards)), i8(int64(tb.Replication))})
	}
	return t
}
