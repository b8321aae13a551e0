// Package catalog holds the cluster catalog (streams, views, tables,
// settings, roles and grants: roles.go) and the meta group's state
// machine that changes it. The state machine
// is pure: Apply decodes a command, validates it against the current
// catalog and returns the effect; the same log yields the same catalog on
// every replica. Each command is its own type (CreateStream, SetPlacement,
// …); its wire form is a tagged JSON envelope that older binaries wrote
// too. Its errors come from pgerr's table of client-facing errors.
package catalog

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// MetaGroupID is the Raft group holding the catalog.
const MetaGroupID = 1

// Column is one column of a stream or a table. ID, NotNull and Default
// are used by tables only.
type Column struct {
	Name string  `json:"name"`
	T    types.T `json:"type"`
	// ID is a table column's id, stored with its values in every row
	// (assigned by CreateTable/AlterTable, never reused).
	ID uint32 `json:"id,omitempty"`
	// NotNull: NULL is refused (23502); primary key columns always are.
	NotNull bool `json:"not_null,omitempty"`
	// Default is the SQL text of the column's constant default ("": none,
	// NULL). Rows written before an ADD COLUMN read it too.
	Default string `json:"default,omitempty"`
}

// Stream describes a stream and its shard groups.
type Stream struct {
	ID        uint64     `json:"id"`
	Name      string     `json:"name"`
	Cols      []Column   `json:"cols"`
	Shards    int        `json:"shards"`
	Replicas  int        `json:"replicas"`
	Nodes     [][]uint64 `json:"nodes"`               // per shard, the node ids holding a replica
	ShardKey  string     `json:"shard_key,omitempty"` // column name; "" spreads whole batches
	Retention string     `json:"retention,omitempty"` // interval text; "" keeps everything
	Groups    []uint64   `json:"groups"`              // one Raft group per shard, by shard number
	Foreign   bool       `json:"foreign,omitempty"`   // created as CREATE FOREIGN TABLE ... SERVER pipelinedb
	Owner     string     `json:"owner,omitempty"`     // the role that created it ("": cairn)
	// Regional: WITH (regions = …, primary_region = …) (regions.go); nil: none.
	Regional *Regional `json:"regional,omitempty"`
	// OnShardUnavailable is "reroute" when a batch part whose shard does
	// not answer goes to the next shard (router/reroute.go); "" waits.
	OnShardUnavailable string `json:"on_shard_unavailable,omitempty"`
}

// ShardKeyIndex returns the index of the shard key column, or -1.
func (s *Stream) ShardKeyIndex() int {
	for i, c := range s.Cols {
		if c.Name == s.ShardKey && s.ShardKey != "" {
			return i
		}
	}
	return -1
}

// View describes a continuous view and its shard groups.
type View struct {
	ID        uint64            `json:"id"`
	Name      string            `json:"name"`
	Kind      string            `json:"kind"` // materialized | continuous | view | transform
	Query     string            `json:"query"`
	Stream    string            `json:"stream"`    // the base stream: read directly or at the end of Over
	StreamID  uint64            `json:"stream_id"` // the stream as planned; apply refuses a re-created one
	Shards    int               `json:"shards"`
	Replicas  int               `json:"replicas"`
	Nodes     [][]uint64        `json:"nodes"` // per shard, the node ids holding a replica
	Groups    []uint64          `json:"groups"`
	Start     []uint64          `json:"start"` // per source stream shard: the offset the view starts from
	Settings  map[string]string `json:"settings,omitempty"`
	Options   map[string]string `json:"options,omitempty"` // WITH options the plan uses (windows, ttl)
	Window    string            `json:"window,omitempty"`  // the plan's window, as cairn_cluster.views shows it
	CreatedAt int64             `json:"created_at"`

	// StartFrom is the back-fill choice of WITH (start = …): "earliest"
	// (the stream's retained history, the default) or "latest" (only
	// events appended after CREATE, as PipelineDB). "" in views created
	// before the choice was recorded.
	StartFrom string `json:"start_from,omitempty"`
	// BackfillTo is, per source stream shard, the stream's end offset when
	// the view was created: the view has caught up (its back-fill is done)
	// once every view shard folded up to it. Nil when not recorded.
	BackfillTo []uint64 `json:"backfill_to,omitempty"`
	// Transform: the view does not aggregate; it keeps no state (no
	// shards or groups) and is read through its query.
	Transform bool `json:"transform,omitempty"`
	// Over names the transforms between the view and Stream, the one
	// its FROM names first; Chain holds their queries, in the same
	// order, so every node plans the view alike (by inlining them).
	Over  []string `json:"over,omitempty"`
	Chain []string `json:"chain,omitempty"`
	// Tables names the tables the view reads (joins): DROP TABLE is
	// refused while a view reads one, unless CASCADE.
	Tables []string `json:"tables,omitempty"`
	// JoinCols and JoinKey are, for a view joining its stream to the
	// table Tables[0], that table's columns and primary key (indexes into
	// JoinCols) when the view was created: every node plans the view
	// from them, whatever ALTER TABLE did since (a column the view reads
	// that is gone or changed type stops the view with a clear error).
	JoinCols []Column `json:"join_cols,omitempty"`
	JoinKey  []int    `json:"join_key,omitempty"`
	// JoinStream names, for a view joining two streams within a time
	// bound, the right-hand stream (JoinStreamID: as planned; JoinCols:
	// its columns then). The view's offsets (Start, BackfillTo, each
	// shard's) cover Stream's shards, then JoinStream's; DROP STREAM of
	// either is refused while the view exists, unless CASCADE.
	JoinStream   string `json:"join_stream,omitempty"`
	JoinStreamID uint64 `json:"join_stream_id,omitempty"`
	// Owner is the role that created the view ("": cairn).
	Owner string `json:"owner,omitempty"`
	// Sched, if set, makes the view a scheduled view (elastic.go): one
	// owner node, checkpoints on a disk, no Raft group (Groups and Nodes
	// are empty; Shards is 1).
	Sched *Scheduled `json:"sched,omitempty"`
	// Regional: WITH (regions = …, primary_region = …) (regions.go); nil: none.
	Regional *Regional `json:"regional,omitempty"`
}

// Joins reports whether v joins its stream to a table or a second stream.
func (v *View) Joins() bool { return len(v.Tables) > 0 || v.JoinStream != "" }

// ViewStreams returns the streams whose shards v's offsets cover, in
// order: v.Stream, then v.JoinStream if set. An entry is nil for a
// stream that no longer exists.
func (c *Catalog) ViewStreams(v *View) []*Stream {
	ss := []*Stream{c.Streams[v.Stream]}
	if v.JoinStream != "" {
		ss = append(ss, c.Streams[v.JoinStream])
	}
	return ss
}

// OffsetBase returns where stream name's shards begin in v's offsets,
// and false when v does not read name (or a stream before it is gone).
func (c *Catalog) OffsetBase(v *View, name string) (int, bool) {
	base := 0
	for i, s := range c.ViewStreams(v) {
		n := v.Stream
		if i > 0 {
			n = v.JoinStream
		}
		if n == name {
			return base, true
		}
		if s == nil {
			return 0, false
		}
		base += s.Shards
	}
	return 0, false
}

// CheckpointInterval is the view's SETTINGS checkpoint_interval (stored
// in Go form by CREATE VIEW): the longest time between two checkpoints
// of a view shard. 0 when not set.
func (v *View) CheckpointInterval() time.Duration {
	d, err := time.ParseDuration(v.Settings["checkpoint_interval"])
	if err != nil {
		return 0
	}
	return d
}

// Backfill is a view's back-fill progress, in stream events.
type Backfill struct {
	Target uint64 // events between Start and BackfillTo, over all source shards
	Done   uint64 // of them, folded by every view shard
	// Complete: every view shard folded up to BackfillTo (also when
	// Target is 0).
	Complete bool
	// Known: every view shard's offsets were known.
	Known bool
}

// BackfillProgress is v's back-fill progress given each view shard's
// offsets (per source stream shard; nil when unknown). A source shard
// counts as done up to the smallest offset among the view shards.
func (v *View) BackfillProgress(offsets [][]uint64) Backfill {
	var b Backfill
	b.Known = len(offsets) == len(v.Groups)
	for _, o := range offsets {
		b.Known = b.Known && len(o) == len(v.BackfillTo)
	}
	for i, end := range v.BackfillTo {
		start := uint64(0)
		if i < len(v.Start) {
			start = v.Start[i]
		}
		if end <= start {
			continue
		}
		b.Target += end - start
		if !b.Known {
			continue
		}
		reached := end
		for _, o := range offsets {
			reached = min(reached, max(o[i], start))
		}
		b.Done += reached - start
	}
	b.Complete = b.Known && b.Done == b.Target
	return b
}

// Node is a member of the cluster. ID is its Raft replica id in every
// group it holds; ids are never reused.
type Node struct {
	ID          uint64 `json:"id"`
	Name        string `json:"name"` // --node-id
	ClusterAddr string `json:"cluster_addr"`
	PGAddr      string `json:"pg_addr"`
	HTTPAddr    string `json:"http_addr"`
	Role        string `json:"role"` // data | compute
	Zone        string `json:"zone,omitempty"`
	Region      string `json:"region,omitempty"`
	JoinedAt    int64  `json:"joined_at"`
	// State is what an operator set: "" (none: liveness decides), or one
	// of the NodeOffline… states.
	State string `json:"state,omitempty"`
	// Security and CertExpiresAt are what the node reports about itself
	// (catalog/nodesec.go): "secure" or "insecure" ("" from a binary
	// before issue 12), and its node certificate's expiry in unix seconds
	// (0 when insecure).
	Security      string `json:"security,omitempty"`
	CertExpiresAt int64  `json:"cert_expires_at,omitempty"`
	// LBWeight is the node's share of new sessions under `cairn proxy
	// --mode weighted` (ALTER NODE … SET WEIGHT; weight.go); nil: the
	// default, 1.
	LBWeight *int64 `json:"lb_weight,omitempty"`
}

// Operator-set node states.
const (
	NodeOffline         = "offline"         // ALTER NODE … OFFLINE: no leaders, no placement, replicas moved off
	NodeDraining        = "draining"        // ALTER NODE … DRAIN: no leaders, no new sessions
	NodeDecommissioning = "decommissioning" // ALTER NODE … DECOMMISSION: replicas being moved off
	NodeDecommissioned  = "decommissioned"  // holds nothing; ALTER NODE … REMOVE may delete it
)

// Placeable reports whether new replicas may go on the node (ignoring
// liveness, which only the caller knows).
func (n *Node) Placeable() bool { return n.Role != "compute" && n.State == "" }

// Evacuating reports whether the node's replicas are to be moved off
// whatever auto_failover says.
func (n *Node) Evacuating() bool {
	return n.State == NodeOffline || n.State == NodeDecommissioning || n.State == NodeDecommissioned
}

// Leadable reports whether the node may hold leaders.
func (n *Node) Leadable() bool { return n.State == "" }

// Catalog is the whole catalog. Names are unique across streams, views
// and tables.
type Catalog struct {
	Nodes       map[string]*Node   `json:"nodes"`
	NextNodeID  uint64             `json:"next_node_id"`
	Streams     map[string]*Stream `json:"streams"`
	Views       map[string]*View   `json:"views"`
	Tables      map[string]*Table  `json:"tables,omitempty"`
	Settings    map[string]string  `json:"settings"`
	NextGroupID uint64             `json:"next_group_id"`
	NextID      uint64             `json:"next_id"`
	ClusterID   string             `json:"cluster_id"`
	// Added lists, per group, the nodes whose replica was added to the
	// running group (they start empty and wait for a snapshot, where the
	// group's first replicas bootstrap with the initial voters).
	Added map[uint64][]uint64 `json:"added,omitempty"`
	// Ops are the cluster operations, by id; NextOpID numbers new ones.
	Ops map[uint64]*Operation `json:"ops,omitempty"`
	// Removed holds the raft ids of nodes removed for good: they may not
	// register again (a new data dir joins as a new node).
	Removed  map[uint64]bool `json:"removed,omitempty"`
	NextOpID uint64          `json:"next_op_id,omitempty"`
	// Schemas are the schemas made by CREATE SCHEMA, with their ids
	// (public and the system schemas are not listed; see schema.go).
	Schemas map[string]uint64 `json:"schemas,omitempty"`
	// SchemaOwners are the owners of created schemas ("" or missing:
	// cairn).
	SchemaOwners map[string]string `json:"schema_owners,omitempty"`
	// Roles are the roles by name (roles.go); the built-ins cairn and
	// admin are always there (New adds them; Role finds them in a catalog
	// from before roles).
	Roles map[string]*Role `json:"roles,omitempty"`
	// Grants are, per object (GrantKey "kind:name"), per grantee (a role
	// or public), the privileges granted, in KindPrivileges order.
	Grants map[string]map[string][]string `json:"grants,omitempty"`
	// Audit is the audit log (audit.go). It is stored apart from the
	// rest of the catalog, one key per event, and shared by clones.
	Audit *AuditLog `json:"-"`
	// Disks and Schedules are the elastic tier's (elastic.go).
	Disks     map[string]*Disk     `json:"disks,omitempty"`
	Schedules map[string]*Schedule `json:"schedules,omitempty"`
	// Alerts are the alerts and their state (alerts.go).
	Alerts map[string]*Alert `json:"alerts,omitempty"`
}

// New returns an empty catalog.
func New() *Catalog {
	return &Catalog{
		Nodes:       map[string]*Node{},
		NextNodeID:  1,
		Streams:     map[string]*Stream{},
		Views:       map[string]*View{},
		Tables:      map[string]*Table{},
		Settings:    map[string]string{},
		NextGroupID: MetaGroupID + 1,
		NextID:      1,
		Added:       map[uint64][]uint64{},
		Ops:         map[uint64]*Operation{},
		Removed:     map[uint64]bool{},
		NextOpID:    1,
		Roles:       builtinRoles(),
	}
}

// Clone returns a deep copy (readers get clones; the state machine owns the original).
func (c *Catalog) Clone() *Catalog {
	b, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain data: cannot fail
	}
	n := New()
	if err := json.Unmarshal(b, n); err != nil {
		panic(err)
	}
	n.Audit = c.Audit // immutable once published
	return n
}

// ViewsOn returns the views reading stream name (as their stream or the
// right-hand stream of a join), sorted by name.
func (c *Catalog) ViewsOn(name string) []*View {
	var vs []*View
	for _, v := range c.Views {
		if v.Stream == name || v.JoinStream == name {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
	return vs
}

// ViewsOver returns the views that read view name (directly or through
// other transforms), sorted by name.
func (c *Catalog) ViewsOver(name string) []*View {
	var vs []*View
	for _, v := range c.Views {
		for _, o := range v.Over {
			if o == name {
				vs = append(vs, v)
				break
			}
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
	return vs
}

// GroupKind says what a Raft group holds.
type GroupKind uint8

// Group kinds.
const (
	GroupMeta GroupKind = iota
	GroupStream
	GroupView
	GroupTable
)

// GroupRef names the object and shard a group belongs to, and the nodes
// holding its replicas.
type GroupRef struct {
	Kind     GroupKind
	Object   string
	Shard    int
	Nodes    []uint64
	Replicas int // the replica count asked for
	// Learners are the permanent (non-voting) replicas of a regional
	// object, Primary its primary region (regions.go); empty otherwise.
	Learners []uint64
	Primary  string
}

// Groups lists every data group of the catalog.
func (c *Catalog) Groups() map[uint64]GroupRef {
	m := map[uint64]GroupRef{}
	for _, s := range c.Streams {
		for i, g := range s.Groups {
			m[g] = s.Regional.ref(GroupRef{Kind: GroupStream, Object: s.Name, Shard: i, Nodes: shardNodes(s.Nodes, i), Replicas: max(s.Replicas, 1)})
		}
	}
	for _, v := range c.Views {
		for i, g := range v.Groups {
			m[g] = v.Regional.ref(GroupRef{Kind: GroupView, Object: v.Name, Shard: i, Nodes: shardNodes(v.Nodes, i), Replicas: max(v.Replicas, 1)})
		}
	}
	for _, t := range c.Tables {
		for i, g := range t.Groups {
			m[g] = t.Regional.ref(GroupRef{Kind: GroupTable, Object: t.Name, Shard: i, Nodes: shardNodes(t.Nodes, i), Replicas: max(t.Replication, 1)})
		}
	}
	return m
}

// Lookup errors, shared by the SQL layer and the state machine.

// ErrNoStream reports a missing stream.
func ErrNoStream(name string) *pgerr.Error {
	return pgerr.StreamNotFound.New(name)
}

// ErrNoView reports a missing view.
func ErrNoView(name string) *pgerr.Error {
	return pgerr.ViewNotFound.New(name)
}

// Exists reports the kind of the object called name ("stream", "view",
// "table" or "").
func (c *Catalog) Exists(name string) string {
	if _, ok := c.Streams[name]; ok {
		return "stream"
	}
	if _, ok := c.Views[name]; ok {
		return "view"
	}
	if _, ok := c.Tables[name]; ok {
		return "table"
	}
	return ""
}

// SortedStreams returns streams by name.
func (c *Catalog) SortedStreams() []*Stream {
	ss := make([]*Stream, 0, len(c.Streams))
	for _, s := range c.Streams {
		ss = append(ss, s)
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].Name < ss[j].Name })
	return ss
}

// SortedViews returns views by name.
func (c *Catalog) SortedViews() []*View {
	vs := make([]*View, 0, len(c.Views))
	for _, v := range c.Views {
		vs = append(vs, v)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
	return vs
}

// ColumnNames returns "a, b, c".
func ColumnNames(cols []Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}

// shardNodes returns the replica nodes of shard i; objects created before
// placement existed live on node 1.
func shardNodes(nodes [][]uint64, i int) []uint64 {
	if i < len(nodes) && len(nodes[i]) > 0 {
		return nodes[i]
	}
	return []uint64{1}
}

// ShardNodes returns the nodes placed for group gid and whether the
// catalog has the group.
func (c *Catalog) ShardNodes(gid uint64) ([]uint64, bool) {
	ref, ok := c.Groups()[gid]
	return ref.Nodes, ok
}

// setShardNodes replaces the placement of group gid.
func (c *Catalog) setShardNodes(gid uint64, nodes []uint64) bool {
	set := func(groups []uint64, placed *[][]uint64) bool {
		for i, g := range groups {
			if g != gid {
				continue
			}
			for len(*placed) < len(groups) {
				*placed = append(*placed, nil)
			}
			(*placed)[i] = nodes
			return true
		}
		return false
	}
	for _, s := range c.Streams {
		if set(s.Groups, &s.Nodes) {
			return true
		}
	}
	for _, v := range c.Views {
		if set(v.Groups, &v.Nodes) {
			return true
		}
	}
	for _, t := range c.Tables {
		if set(t.Groups, &t.Nodes) {
			return true
		}
	}
	return false
}

// ReplicaCounts returns, per node id, how many data-group replicas the
// catalog places on it.
func (c *Catalog) ReplicaCounts() map[uint64]int {
	m := map[uint64]int{}
	for _, ref := range c.Groups() {
		for _, id := range ref.Nodes {
			m[id]++
		}
	}
	return m
}

// NodeByID returns the node with raft id id.
func (c *Catalog) NodeByID(id uint64) *Node {
	for _, n := range c.Nodes {
		if n.ID == id {
			return n
		}
	}
	return nil
}

// SortedNodes returns the nodes by id.
func (c *Catalog) SortedNodes() []*Node {
	ns := make([]*Node, 0, len(c.Nodes))
	for _, n := range c.Nodes {
		ns = append(ns, n)
	}
	sort.Slice(ns, func(i, j int) bool { return ns[i].ID < ns[j].ID })
	return ns
}

// DataNodes counts the nodes with the data role.
func (c *Catalog) DataNodes() int {
	n := 0
	for _, node := range c.Nodes {
		if node.Role != "compute" {
			n++
		}
	}
	return max(n, 1)
}
