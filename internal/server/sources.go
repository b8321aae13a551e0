package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/exec"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/raftstore"
	"github.com/cairndb/cairn/internal/replica"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/sql/session"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/types"
)

// scanChunk is the number of rows per batch handed to the executor.
const scanChunk = 1024

// streamSource scans a stream's retained history.
type streamSource struct {
	n            *Node
	st           *catalog.Stream
	linearizable bool                               // read_from = leader: a ReadIndex barrier before reading a local replica
	skip         func(what string, err error) error // skip_unavailable on: called for a shard no replica serves
}

func (s *streamSource) Columns() []exec.Column { return session.StreamColumns(s.st) }

func (s *streamSource) Scan(ctx context.Context, fn func(b *types.Batch) error) error {
	src := &streamShardSource{n: s.n, groups: s.st.Groups, linearizable: s.linearizable}
	for i, gid := range s.st.Groups {
		each := func(_ uint64, _ int64, b *types.Batch) error {
			if err := ctx.Err(); err != nil {
				return replica.StoreErr(err)
			}
			return fn(b)
		}
		if g := s.n.replicas.Get(gid); g != nil && g.Stream != nil && s.n.replicas.Servable(gid) == nil {
			if s.linearizable {
				if err := s.n.replicas.ReadIndex(ctx, gid); err != nil {
					return err
				}
			}
			if _, err := streamsm.Scan(s.n.store.DB(), raftstore.DataPrefix(gid), g.Stream.First(), 0, each); err != nil {
				return err
			}
			if err := s.n.replicas.StillHere(g); err != nil {
				return err
			}
			continue
		}
		// A shard with no replica here: page through a replica.
		for from := uint64(0); ; {
			next, err := src.Scan(i, from, 64<<10, each)
			if err != nil {
				what := fmt.Sprintf("stream %q shard %d (group %d)", s.st.Name, i, gid)
				if s.skip != nil && from == 0 && pgerr.Code(err) == pgerr.SerializationFailure {
					if err := s.skip(what, err); err != nil {
						return err
					}
					break
				}
				return pgerr.From(err).WithDetail("Reading %s.", what)
			}
			if next == from {
				break
			}
			from = next
		}
	}
	return nil
}

// viewSource reads a view: the partial states of all its shards merged
// per group key, then finalized.
type viewSource struct {
	n            *Node
	v            *catalog.View
	linearizable bool
	skip         func(what string, err error) error // skip_unavailable on: called for a shard no replica serves
}

// groups returns the view's shards: local replicas, or stand-ins that
// read a replica on another node.
func (s *viewSource) groups() ([]*replica.Group, error) {
	gs := make([]*replica.Group, len(s.v.Groups))
	var plan *exec.ViewPlan
	for i, gid := range s.v.Groups {
		g := s.n.replicas.Get(gid)
		if g == nil || g.View == nil || s.n.replicas.Servable(gid) != nil {
			if plan == nil {
				st := s.n.meta.Catalog().Streams[s.v.Stream]
				if st == nil {
					return nil, catalog.ErrNoStream(s.v.Stream)
				}
				var err error
				if plan, err = replica.PlanStoredView(s.v, st); err != nil {
					return nil, err
				}
			}
			g = &replica.Group{ID: gid, Remote: true, Plan: plan}
		}
		gs[i] = g
	}
	return gs, nil
}

func (s *viewSource) Columns() []exec.Column {
	gs, err := s.groups()
	if err != nil || len(gs) == 0 {
		st := s.n.meta.Catalog().Streams[s.v.Stream]
		if st == nil {
			return nil
		}
		plan, err := replica.PlanStoredView(s.v, st)
		if err != nil {
			return nil
		}
		return plan.Columns()
	}
	return gs[0].ViewPlan().Columns()
}

// viewReader finalizes view rows into batches of the view's columns.
type viewReader struct {
	n            *Node
	v            *catalog.View
	skip         func(what string, err error) error
	ctx          context.Context
	linearizable bool
	gs           []*replica.Group
	plan         *exec.ViewPlan
	ec           exec.Ctx
	b            *types.Batch
	row          []types.Datum
	emitted      int // rows emitted
	fn           func(b *types.Batch) error
}

// open returns a reader over the view's shards (nil when the view has
// none), after a ReadIndex barrier on each when reads are linearizable.
func (s *viewSource) open(ctx context.Context, fn func(b *types.Batch) error) (*viewReader, error) {
	gs, err := s.groups()
	if err != nil || len(gs) == 0 {
		return nil, err
	}
	if s.linearizable {
		for _, g := range gs {
			if g.Remote {
				continue // the replica does the ReadIndex
			}
			if err := s.n.replicas.ReadIndex(ctx, g.ID); err != nil {
				return nil, err
			}
		}
	}
	plan := gs[0].ViewPlan()
	cols := plan.Columns()
	ts := make([]types.T, len(cols))
	for i, c := range cols {
		ts[i] = c.T
	}
	return &viewReader{n: s.n, v: s.v, ctx: ctx, linearizable: s.linearizable, skip: s.skip, gs: gs, plan: plan, b: types.NewBatch(ts), fn: fn}, nil
}

// rows reads every (key, state) of view shard g, here or from a replica.
func (r *viewReader) rows(g *replica.Group, fn func(key, state []byte) error) error {
	if !g.Remote {
		if err := g.View.Rows(fn); err != nil {
			return err
		}
		return r.n.replicas.StillHere(g)
	}
	out, err := r.n.callReplica(r.ctx, g.ID, rpc.ViewRows, rpc.ViewRowsRequest{Group: g.ID, Linearizable: r.linearizable})
	if err != nil {
		what := fmt.Sprintf("view %q shard %d (group %d)", r.v.Name, slices.Index(r.v.Groups, g.ID), g.ID)
		if r.skip != nil && pgerr.Code(err) == pgerr.SerializationFailure {
			return r.skip(what, err)
		}
		return pgerr.From(err).WithDetail("Reading %s; SET skip_unavailable = on to read what the reachable shards hold.", what)
	}
	rep, err := rpc.DecodeViewRowsReply(out)
	if err != nil {
		return err
	}
	for _, row := range rep.Rows {
		if err := fn(row.Key, row.State); err != nil {
			return err
		}
	}
	return nil
}

// emit finalizes one group and hands out a batch when it is full.
func (r *viewReader) emit(key, state []byte) error {
	var err error
	if r.row, err = r.plan.Finalize(&r.ec, key, state, r.row[:0]); err != nil {
		return err
	}
	r.b.AppendRow(r.row)
	r.emitted++
	if r.b.N >= scanChunk {
		if err := r.fn(r.b); err != nil {
			return err
		}
		r.b.Reset()
	}
	return nil
}

// flush hands out the last partial batch.
func (r *viewReader) flush() error {
	if r.b.N > 0 {
		return r.fn(r.b)
	}
	return nil
}

func (s *viewSource) Scan(ctx context.Context, fn func(b *types.Batch) error) error {
	r, err := s.open(ctx, fn)
	if r == nil {
		return err
	}
	if len(r.gs) == 1 {
		if err := r.rows(r.gs[0], r.emit); err != nil {
			return err
		}
	} else {
		// A key normally lives on one shard; merge anyway, states are mergeable.
		merged := map[string][]byte{}
		var order []string
		for _, g := range r.gs {
			err := r.rows(g, func(key, state []byte) error {
				k := string(key)
				prev, ok := merged[k]
				if !ok {
					order = append(order, k)
				}
				m, err := r.plan.MergeState(nil, prev, state)
				if err != nil {
					return err
				}
				merged[k] = m
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, k := range order {
			if err := r.emit([]byte(k), merged[k]); err != nil {
				return err
			}
		}
	}
	if r.emitted == 0 && r.plan.Global() {
		// A view without GROUP BY has one row even before any event, like
		// SELECT count(*) over an empty table.
		if err := r.emit(nil, nil); err != nil {
			return err
		}
	}
	return r.flush()
}

// KeyColumns implements exec.KeyedSource: point lookups by group key.
func (s *viewSource) KeyColumns() []int {
	gs, err := s.groups()
	if err != nil || len(gs) == 0 {
		return nil
	}
	return gs[0].ViewPlan().KeyColumns()
}

// ScanKeys implements exec.KeyedSource: it reads only the given group
// keys, each from the view shard its hash maps to.
func (s *viewSource) ScanKeys(ctx context.Context, keys [][]types.Datum, fn func(b *types.Batch) error) error {
	r, err := s.open(ctx, fn)
	if r == nil {
		return err
	}
	var enc []byte
	var remote map[uint64]map[string][]byte
	for _, key := range keys {
		if enc, err = r.plan.EncodeKey(enc[:0], key); err != nil {
			return err
		}
		g := r.gs[r.plan.KeyHash(enc)%uint64(len(r.gs))]
		if g.Remote {
			// No replica here: read the shard's rows from a replica once.
			if remote == nil {
				remote = map[uint64]map[string][]byte{}
			}
			if remote[g.ID] == nil {
				m := map[string][]byte{}
				if err := r.rows(g, func(k, st []byte) error { m[string(k)] = append([]byte(nil), st...); return nil }); err != nil {
					return err
				}
				remote[g.ID] = m
			}
			if st, ok := remote[g.ID][string(enc)]; ok {
				if err := r.emit(enc, st); err != nil {
					return err
				}
			}
			continue
		}
		if err := g.View.Lookup(enc, func(state []byte) error { return r.emit(enc, state) }); err != nil {
			return err
		}
	}
	return r.flush()
}

func txt(s string) types.Datum { return types.NewText(s) }
func i8(v int64) types.Datum   { return types.NewInt(types.Int8, v) }

func (n *Node) streamsTable() *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "name", T: types.Text}, {Name: "columns", T: types.Text}, {Name: "shards", T: types.Int8},
		{Name: "replicas", T: types.Int8}, {Name: "shard_key", T: types.Text}, {Name: "retention", T: types.Text}}}
	for _, s := range n.meta.Catalog().SortedStreams() {
		cols := make([]string, len(s.Cols))
		for i, c := range s.Cols {
			cols[i] = c.Name + " " + c.T.String()
		}
		t.Rows = append(t.Rows, []types.Datum{txt(s.Name), txt(strings.Join(cols, ", ")), i8(int64(s.Shards)), i8(int64(s.Replicas)), txt(s.ShardKey), txt(s.Retention)})
	}
	return t
}

func (n *Node) viewsTable() *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "name", T: types.Text}, {Name: "stream", T: types.Text}, {Name: "kind", T: types.Text},
		{Name: "shards", T: types.Int8}, {Name: "replicas", T: types.Int8}, {Name: "query", T: types.Text}}}
	for _, v := range n.meta.Catalog().SortedViews() {
		t.Rows = append(t.Rows, []types.Datum{txt(v.Name), txt(v.Stream), txt(v.Kind), i8(int64(v.Shards)), i8(int64(v.Replicas)), txt(v.Query)})
	}
	return t
}

// shardsTable is cairn_cluster.shards: one row per replica of every
// group. Raft state is known for this node's replicas; other nodes'
// replicas show their node's liveness.
func (n *Node) shardsTable() *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "object", T: types.Text}, {Name: "shard", T: types.Int8}, {Name: "group_id", T: types.Int8},
		{Name: "node_id", T: types.Text}, {Name: "role", T: types.Text}, {Name: "is_alive", T: types.Bool},
		{Name: "applied_index", T: types.Int8}, {Name: "commit_index", T: types.Int8}, {Name: "lag", T: types.Int8}}}
	cat := n.meta.Catalog()
	states := n.clusterGroupStatus(n.ctx)
	add := func(object string, shard int, gid uint64, nodes []uint64) {
		for _, id := range nodes {
			name := fmt.Sprint(id)
			nd := cat.NodeByID(id)
			if nd != nil {
				name = nd.Name
			}
			st, ok := states[id][gid]
			if !ok {
				// The node did not answer (down, or the replica is not started).
				alive := nd != nil && n.liveness(nd) == "live"
				null := types.NullOf(types.Int8)
				t.Rows = append(t.Rows, []types.Datum{txt(object), i8(int64(shard)), i8(int64(gid)), txt(name), txt("unknown"), types.NewBool(alive), null, null, null})
				continue
			}
			t.Rows = append(t.Rows, []types.Datum{txt(object), i8(int64(shard)), i8(int64(gid)), txt(name), txt(st.Role), types.NewBool(true),
				i8(int64(st.Applied)), i8(int64(st.Commit)), i8(int64(st.Commit) - int64(st.Applied))})
		}
	}
	metaNodes := []uint64{n.id.RaftID}
	if st, ok := n.store.Status(catalog.MetaGroupID); ok {
		metaNodes = append(slices.Clone(st.Voters), st.Learners...)
		slices.Sort(metaNodes)
	}
	add("meta", 0, catalog.MetaGroupID, metaNodes)
	refs := cat.Groups()
	for _, s := range cat.SortedStreams() {
		for i, g := range s.Groups {
			add(s.Name, i, g, refs[g].Nodes)
		}
	}
	for _, v := range cat.SortedViews() {
		for i, g := range v.Groups {
			add(v.Name, i, g, refs[g].Nodes)
		}
	}
	return t
}

// nodesTable is cairn_cluster.nodes: every member, its liveness as this
// node sees it, and the replicas and leaders it holds (leaders are known
// for this node only).
func (n *Node) nodesTable() *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "node_id", T: types.Text}, {Name: "address", T: types.Text}, {Name: "role", T: types.Text},
		{Name: "zone", T: types.Text}, {Name: "region", T: types.Text}, {Name: "state", T: types.Text}, {Name: "leaders", T: types.Int8},
		{Name: "replicas", T: types.Int8}, {Name: "last_heartbeat", T: types.TimestampTZ}}}
	cat := n.meta.Catalog()
	replicas := map[uint64]int64{}
	for _, ref := range cat.Groups() {
		for _, id := range ref.Nodes {
			replicas[id]++
		}
	}
	if st, ok := n.store.Status(catalog.MetaGroupID); ok {
		for _, id := range append(slices.Clone(st.Voters), st.Learners...) {
			replicas[id]++
		}
	}
	leaders := int64(0)
	for gid := range cat.Groups() {
		if st, ok := n.store.Status(gid); ok && st.IsLeader {
			leaders++
		}
	}
	if st, ok := n.store.Status(catalog.MetaGroupID); ok && st.IsLeader {
		leaders++
	}
	for _, nd := range cat.SortedNodes() {
		ld := types.NullOf(types.Int8)
		hb := types.NullOf(types.TimestampTZ)
		if nd.ID == n.id.RaftID {
			ld = i8(leaders)
			hb = types.NewInt(types.TimestampTZ, time.Now().UnixMicro())
		} else if at, ok := n.live.Last(nd.ID); ok {
			hb = types.NewInt(types.TimestampTZ, at.UnixMicro())
			if c, ok := n.live.LeadersOf(nd.ID); ok && n.liveness(nd) == "live" {
				ld = i8(int64(c)) // data-shard leaders, from its last heartbeat
			}
		}
		t.Rows = append(t.Rows, []types.Datum{txt(nd.Name), txt(nd.ClusterAddr), txt(nd.Role), txt(nd.Zone), txt(nd.Region),
			txt(n.state(nd)), ld, i8(replicas[nd.ID]), hb})
	}
	return t
}

// leaderTermsTable is cairn_cluster.leader_terms: every (group, term) this
// node led and committed in, read from its leader-terms.log.
func (n *Node) leaderTermsTable() (*exec.MemTable, error) {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "group_id", T: types.Int8}, {Name: "term", T: types.Int8},
		{Name: "node_id", T: types.Text}, {Name: "since", T: types.TimestampTZ}}}
	b, err := os.ReadFile(filepath.Join(n.cfg.DataDir, "leader-terms.log"))
	if err != nil {
		return nil, pgerr.New(pgerr.IOError, "read leader-terms.log: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		var gid, term, at int64
		if _, err := fmt.Sscan(line, &gid, &term, &at); err != nil {
			continue // a torn last line after a crash
		}
		t.Rows = append(t.Rows, []types.Datum{i8(gid), i8(term), txt(n.cfg.NodeID), types.NewInt(types.TimestampTZ, at)})
	}
	return t, nil
}
