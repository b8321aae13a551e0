package backup

import (
	"fmt"
	"sort"

	"github.com/cairndb/cairn/internal/catalog"
)

// Set is the catalog objects a scope covers.
type Set struct {
	Streams []*catalog.Stream // by name
	Tables  []*catalog.Table  // by name
	Views   []*catalog.View   // by id: a view comes after the transforms it reads
}

// ErrNoObject is Objects' error for a scope naming an object cat lacks.
type ErrNoObject struct{ Kind, Name string }

func (e *ErrNoObject) Error() string { return fmt.Sprintf("%s %q does not exist", e.Kind, e.Name) }

// Objects returns what scope s covers in cat: ALL, every stream, table
// and view; STREAM s or TABLE t, that object; VIEW v, the view with the
// transforms, streams and tables it reads (a view alone could not be
// restored: it is its streams folded).
func Objects(cat *catalog.Catalog, s Scope) (*Set, error) {
	streams := map[string]*catalog.Stream{}
	tables := map[string]*catalog.Table{}
	views := map[string]*catalog.View{}
	switch s.Kind {
	case ScopeAll, "":
		for n, st := range cat.Streams {
			streams[n] = st
		}
		for n, t := range cat.Tables {
			tables[n] = t
		}
		for n, v := range cat.Views {
			views[n] = v
		}
	case ScopeStream:
		st := cat.Streams[s.Name]
		if st == nil {
			return nil, &ErrNoObject{"stream", s.Name}
		}
		streams[s.Name] = st
	case ScopeTable:
		t := cat.Tables[s.Name]
		if t == nil {
			return nil, &ErrNoObject{"table", s.Name}
		}
		tables[s.Name] = t
	case ScopeView:
		v := cat.Views[s.Name]
		if v == nil {
			return nil, &ErrNoObject{"view", s.Name}
		}
		views[v.Name] = v
		for _, o := range v.Over {
			if t := cat.Views[o]; t != nil {
				views[o] = t
			}
		}
		for _, st := range cat.ViewStreams(v) {
			if st != nil {
				streams[st.Name] = st
			}
		}
		for _, n := range v.Tables {
			if t := cat.Tables[n]; t != nil {
				tables[n] = t
			}
		}
	default:
		return nil, fmt.Errorf("backup: unknown scope %q", s.Kind)
	}
	set := &Set{}
	for _, st := range streams {
		set.Streams = append(set.Streams, st)
	}
	for _, t := range tables {
		set.Tables = append(set.Tables, t)
	}
	for _, v := range views {
		set.Views = append(set.Views, v)
	}
	sort.Slice(set.Streams, func(i, j int) bool { return set.Streams[i].Name < set.Streams[j].Name })
	sort.Slice(set.Tables, func(i, j int) bool { return set.Tables[i].Name < set.Tables[j].Name })
	sort.Slice(set.Views, func(i, j int) bool { return set.Views[i].ID < set.Views[j].ID })
	return set, nil
}

// Empty reports whether the set holds nothing.
func (s *Set) Empty() bool { return len(s.Streams)+len(s.Tables)+len(s.Views) == 0 }

// Subset is the catalog a backup stores: the set's objects, the schemas
// and settings, and nothing else — no nodes, operations, audit log,
// roles (their password verifiers), disks (their credentials) or
// schedules.
func Subset(cat *catalog.Catalog, set *Set) *catalog.Catalog {
	c := catalog.New()
	c.ClusterID = cat.ClusterID
	c.NextID, c.NextGroupID = cat.NextID, cat.NextGroupID
	for k, v := range cat.Settings {
		c.Settings[k] = v
	}
	if len(cat.Schemas) > 0 {
		c.Schemas = map[string]uint64{}
		for k, v := range cat.Schemas {
			c.Schemas[k] = v
		}
	}
	for _, s := range set.Streams {
		c.Streams[s.Name] = s
	}
	if len(set.Tables) > 0 {
		c.Tables = map[string]*catalog.Table{}
		for _, t := range set.Tables {
			c.Tables[t.Name] = t
		}
	}
	for _, v := range set.Views {
		c.Views[v.Name] = v
	}
	c.Roles, c.Grants, c.Disks, c.Schedules, c.Ops, c.Nodes = nil, nil, nil, nil, nil, nil
	return c
}

// Groups lists the groups of a set in the order a backup copies them:
// view shards first, then table shards, then stream shards, so every
// view's offsets are covered by the stream shards copied after it.
// Scheduled views and transforms have no groups.
func (s *Set) Groups() []GroupRef {
	var out []GroupRef
	for _, v := range s.Views {
		for i, g := range v.Groups {
			out = append(out, GroupRef{Kind: KindView, Object: v.Name, ObjectID: v.ID, Shard: i, Group: g, Nodes: shardNodes(v.Nodes, i)})
		}
	}
	for _, t := range s.Tables {
		for i, g := range t.Groups {
			out = append(out, GroupRef{Kind: KindTable, Object: t.Name, ObjectID: t.ID, Shard: i, Group: g, Nodes: shardNodes(t.Nodes, i)})
		}
	}
	for _, st := range s.Streams {
		for i, g := range st.Groups {
			out = append(out, GroupRef{Kind: KindStream, Object: st.Name, ObjectID: st.ID, Shard: i, Group: g, Nodes: shardNodes(st.Nodes, i)})
		}
	}
	return out
}

func shardNodes(nodes [][]uint64, i int) []uint64 {
	if i < len(nodes) {
		return nodes[i]
	}
	return nil
}

// GroupRef is one group of a live object to back up.
type GroupRef struct {
	Kind     string
	Object   string
	ObjectID uint64
	Shard    int
	Group    uint64
	Nodes    []uint64 // the nodes holding a replica
}

// StreamChain returns, for shard shard of stream name, the groups of
// the chain (full backup first) that hold its events, from the newest
// group that is Full back: a restore loads them in this order. It fails
// when a link is missing or the offsets do not meet.
func StreamChain(chain []*Manifest, name string, shard int) ([]Group, error) {
	var out []Group
	for i := len(chain) - 1; i >= 0; i-- {
		g := chain[i].Group(KindStream, name, shard)
		if g == nil {
			return nil, fmt.Errorf("%w: backup %q has no shard %d of stream %q", ErrBrokenChain, chain[i].ID, shard, name)
		}
		out = append(out, *g)
		if g.Full {
			for l, r := 0, len(out)-1; l < r; l, r = l+1, r-1 {
				out[l], out[r] = out[r], out[l]
			}
			for k := 1; k < len(out); k++ {
				if out[k].From != out[k-1].End {
					return nil, fmt.Errorf("%w: stream %q shard %d: one backup ends at offset %d, the next starts at %d", ErrBrokenChain, name, shard, out[k-1].End, out[k].From)
				}
			}
			return out, nil
		}
	}
	return nil, fmt.Errorf("%w: no full backup of stream %q shard %d in the chain", ErrBrokenChain, name, shard)
}

// Group returns the manifest's group of shard shard of object name.
func (m *Manifest) Group(kind, name string, shard int) *Group {
	for i := range m.Groups {
		g := &m.Groups[i]
		if g.Kind == kind && g.Object == name && g.Shard == shard {
			return g
		}
	}
	return nil
}
