package catalog

import (
	"slices"
	"sort"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Regions (issue 15): an object made WITH (regions = 'a,b',
// primary_region = 'a') keeps its voters (Nodes) in the primary region
// and, in each other listed region, PerRegion permanent learners per
// shard: non-voting replicas raft feeds asynchronously, read by sessions
// in their region (read_from = any), never promoted by the repair
// machinery. ALTER SYSTEM FAILOVER REGION TO 'b' (FailoverRegion) makes
// region b the primary: each shard whose voters were all in the lost
// region gets b's learner as its only voter.

// Regional is the region placement of a stream, view or table.
type Regional struct {
	Regions   []string   `json:"regions"`    // every listed region, as listed
	Primary   string     `json:"primary"`    // the region holding the voters
	PerRegion int        `json:"per_region"` // learners per shard in each other region
	Learners  [][]uint64 `json:"learners"`   // per shard, the permanent learners
	// FailedOver is when the primary region last changed by a failover
	// (unix µs; 0: never), and From the region it was before.
	FailedOver int64  `json:"failed_over,omitempty"`
	From       string `json:"from,omitempty"`
}

// ref adds the regional fields to a group's reference; r may be nil.
func (r *Regional) ref(g GroupRef) GroupRef {
	if r == nil {
		return g
	}
	g.Primary = r.Primary
	if g.Shard < len(r.Learners) {
		g.Learners = r.Learners[g.Shard]
	}
	return g
}

// Holds reports whether node id has a replica of the group: a voter (or
// a replica being added) or a permanent learner.
func (g GroupRef) Holds(id uint64) bool {
	return slices.Contains(g.Nodes, id) || slices.Contains(g.Learners, id)
}

// AllNodes returns every node holding a replica of the group: Nodes,
// then the permanent learners.
func (g GroupRef) AllNodes() []uint64 {
	if len(g.Learners) == 0 {
		return g.Nodes
	}
	return append(slices.Clone(g.Nodes), g.Learners...)
}

// IsPermanentLearner reports whether node id holds a permanent learner
// of group gid (a regional object's replica outside its primary region).
func (c *Catalog) IsPermanentLearner(gid, id uint64) bool {
	ref, ok := c.Groups()[gid]
	return ok && slices.Contains(ref.Learners, id)
}

// RegionNodes returns the data nodes of every region, by region name
// (nodes without a region are left out), each list by id.
func (c *Catalog) RegionNodes() map[string][]*Node {
	out := map[string][]*Node{}
	for _, nd := range c.SortedNodes() {
		if nd.Region != "" && nd.Role != "compute" {
			out[nd.Region] = append(out[nd.Region], nd)
		}
	}
	return out
}

// RegionNames returns the regions that have data nodes, sorted.
func (c *Catalog) RegionNames() []string {
	m := c.RegionNodes()
	out := make([]string, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// RegionalObject is a regional stream, view or table, for FAILOVER REGION.
type RegionalObject struct {
	Kind     GroupKind
	Name     string
	Groups   []uint64
	Nodes    [][]uint64
	Regional *Regional
}

// RegionalObjects lists every regional object, streams then views then
// tables, each by name.
func (c *Catalog) RegionalObjects() []RegionalObject {
	var out []RegionalObject
	for _, s := range c.SortedStreams() {
		if s.Regional != nil {
			out = append(out, RegionalObject{GroupStream, s.Name, s.Groups, s.Nodes, s.Regional})
		}
	}
	for _, v := range c.SortedViews() {
		if v.Regional != nil {
			out = append(out, RegionalObject{GroupView, v.Name, v.Groups, v.Nodes, v.Regional})
		}
	}
	for _, t := range c.SortedTables() {
		if t.Regional != nil {
			out = append(out, RegionalObject{GroupTable, t.Name, t.Groups, t.Nodes, t.Regional})
		}
	}
	return out
}

// FailoverRegion makes region To the primary region of every regional
// object that lists it and whose primary is From: each group in Voters
// gets those nodes as its voters (the learners promoted by a forced
// recovery), and they stop being learners. Groups not in Voters keep
// their voters (they were not all in the lost region).
type FailoverRegion struct {
	From   string              `json:"from"`
	To     string              `json:"to"`
	Voters map[uint64][]uint64 `json:"voters"`
	At     int64               `json:"at"` // unix µs
}

const opFailoverRegion = "failover_region"

func (cmd *FailoverRegion) envelope() *envelope {
	return &envelope{Op: opFailoverRegion, Region: cmd}
}

func (e *envelope) regionCommand() (Command, bool, *pgerr.Error) {
	if e.Op != opFailoverRegion {
		return nil, false, nil
	}
	if e.Region == nil {
		return nil, true, pgerr.CatalogIncomplete.New(e.Op, "region")
	}
	return e.Region, true, nil
}

func (cmd *FailoverRegion) apply(c *Catalog) *Result {
	if cmd.To == "" || cmd.From == "" {
		return &Result{Err: pgerr.CatalogIncomplete.New(opFailoverRegion, "region")}
	}
	move := func(groups []uint64, nodes *[][]uint64, r *Regional) {
		if r == nil || r.Primary != cmd.From || !slices.Contains(r.Regions, cmd.To) {
			return
		}
		for i, g := range groups {
			voters, ok := cmd.Voters[g]
			if !ok {
				continue
			}
			for len(*nodes) <= i {
				*nodes = append(*nodes, nil)
			}
			(*nodes)[i] = slices.Clone(voters)
			if i < len(r.Learners) {
				r.Learners[i] = slices.DeleteFunc(slices.Clone(r.Learners[i]), func(id uint64) bool { return slices.Contains(voters, id) })
			}
		}
		r.Primary, r.From, r.FailedOver = cmd.To, cmd.From, cmd.At
	}
	for _, s := range c.Streams {
		move(s.Groups, &s.Nodes, s.Regional)
	}
	for _, v := range c.Views {
		move(v.Groups, &v.Nodes, v.Regional)
	}
	for _, t := range c.Tables {
		move(t.Groups, &t.Nodes, t.Regional)
	}
	return &Result{}
}
