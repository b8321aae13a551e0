package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Result is what applying a Command produced.
type Result struct {
	Err       *pgerr.Error
	Stream    *Stream
	View      *View
	Table     *Table
	Dropped   []string // objects removed, views first
	Node      *Node
	Operation *Operation
	Notice    string
}

// MetaSM is the meta group's state machine. The published catalog is
// immutable: Apply builds a new one and swaps the pointer, so readers
// need no copy.
type MetaSM struct {
	key      []byte
	onChange func()

	mu struct {
		sync.RWMutex
		cat *Catalog
	}
}

// NewMetaSM returns the meta state machine. key is where the catalog is
// stored in the engine (inside the meta group's data range); onChange is
// called (without blocking) after each applied change.
func NewMetaSM(key []byte, onChange func()) *MetaSM {
	m := &MetaSM{key: key, onChange: onChange}
	m.mu.cat = New()
	return m
}

// Catalog returns the current catalog. Callers must not modify it.
func (m *MetaSM) Catalog() *Catalog {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.mu.cat
}

// Load reads the stored catalog.
func (m *MetaSM) Load(r pebble.Reader) error {
	v, closer, err := r.Get(m.key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	c := New()
	if err := json.Unmarshal(v, c); err != nil {
		return fmt.Errorf("catalog: corrupt stored catalog: %w", err)
	}
	if err := m.loadAudit(r, c); err != nil {
		return err
	}
	m.mu.Lock()
	m.mu.cat = c
	m.mu.Unlock()
	return nil
}

// Apply applies one command and returns a *Result.
func (m *MetaSM) Apply(wb *pebble.Batch, index uint64, cmd []byte) any {
	var e envelope
	if err := json.Unmarshal(cmd, &e); err != nil {
		return &Result{Err: pgerr.CatalogUndecodable.New(index, err)}
	}
	c, perr := e.command()
	if perr != nil {
		return &Result{Err: perr}
	}
	if a, ok := c.(*AppendAudit); ok {
		return m.applyAudit(wb, a)
	}
	next, res := Apply(m.Catalog(), c)
	if res.Err != nil {
		return res
	}
	b, err := json.Marshal(next)
	if err != nil {
		panic(err)
	}
	if err := wb.Set(m.key, b, nil); err != nil {
		return &Result{Err: pgerr.CatalogIO.New(err)}
	}
	m.mu.Lock()
	m.mu.cat = next
	m.mu.Unlock()
	if m.onChange != nil {
		m.onChange()
	}
	return res
}

func (cmd *Init) apply(c *Catalog) *Result {
	if c.ClusterID == "" && cmd.ClusterID != "" {
		c.ClusterID = cmd.ClusterID
	}
	if cmd.Node != nil && len(c.Nodes) == 0 {
		// The bootstrap node is raft replica 1 of the meta group.
		cmd.Node.ID = 1
		c.Nodes[cmd.Node.Name] = cmd.Node
		c.NextNodeID = 2
	}
	return &Result{}
}

func (cmd *AddNode) apply(c *Catalog) *Result {
	nd := cmd.Node
	if c.Removed[nd.ID] {
		return &Result{Err: pgerr.NodeRemoved.New(nd.Name, nd.ID)}
	}
	if old, ok := c.Nodes[nd.Name]; ok {
		// A node coming back (maybe on new addresses) keeps its id and
		// the state an operator gave it, except that its restart ends a
		// drain.
		nd.ID, nd.JoinedAt, nd.State, nd.LBWeight = old.ID, old.JoinedAt, old.State, old.LBWeight
		if cmd.Restart && nd.State == NodeDraining {
			nd.State = ""
		}
		c.Nodes[nd.Name] = nd
		return &Result{Node: nd}
	}
	if c.NextNodeID < 2 {
		c.NextNodeID = 2
	}
	nd.ID = c.NextNodeID
	c.NextNodeID++
	c.Nodes[nd.Name] = nd
	return &Result{Node: nd}
}

func (cmd *CreateStream) apply(c *Catalog) *Result {
	s := cmd.Stream
	if err := c.checkSchemaOf(s.Name); err != nil {
		return &Result{Err: err}
	}
	if kind := c.Exists(s.Name); kind != "" {
		if cmd.IfNotExists && kind == "stream" {
			return &Result{Stream: c.Streams[s.Name], Notice: fmt.Sprintf("stream %q already exists, skipping", s.Name)}
		}
		return &Result{Err: pgerr.RelationExists.New(s.Name, kind)}
	}
	s.ID = c.NextID
	c.NextID++
	s.Groups = make([]uint64, s.Shards)
	for i := range s.Groups {
		s.Groups[i] = c.NextGroupID
		c.NextGroupID++
	}
	c.Streams[s.Name] = s
	return &Result{Stream: s}
}

func (cmd *CreateView) apply(c *Catalog) *Result {
	v := cmd.View
	if err := c.checkSchemaOf(v.Name); err != nil {
		return &Result{Err: err}
	}
	if kind := c.Exists(v.Name); kind != "" {
		if cmd.IfNotExists && kind == "view" {
			return &Result{View: c.Views[v.Name], Notice: fmt.Sprintf("view %q already exists, skipping", v.Name)}
		}
		return &Result{Err: pgerr.RelationExists.New(v.Name, kind)}
	}
	s, ok := c.Streams[v.Stream]
	if !ok {
		return &Result{Err: ErrNoStream(v.Stream)}
	}
	if v.StreamID != 0 && v.StreamID != s.ID {
		return &Result{Err: pgerr.StreamRecreated.New(v.Stream)}
	}
	// The transforms it was planned over must still be those: a DROP (and
	// a re-CREATE) may have come in between.
	if len(v.Over) != len(v.Chain) {
		return &Result{Err: pgerr.CatalogIncomplete.New(opCreateView, "chain")}
	}
	for i, name := range v.Over {
		if t := c.Views[name]; t == nil || !t.Transform || t.Query != v.Chain[i] || t.Stream != v.Stream {
			return &Result{Err: pgerr.ViewChainChanged.New(name)}
		}
	}
	for _, name := range v.Tables {
		// Joined tables: a DROP TABLE may have come in between.
		if c.Tables[name] == nil {
			return &Result{Err: pgerr.TableNotFound.New(name)}
		}
	}
	shards := s.Shards
	if v.JoinStream != "" {
		// A join of two streams: the right one must still be the one
		// planned, and the offsets cover its shards too.
		r := c.Streams[v.JoinStream]
		switch {
		case r == nil:
			return &Result{Err: ErrNoStream(v.JoinStream)}
		case v.JoinStreamID != 0 && v.JoinStreamID != r.ID:
			return &Result{Err: pgerr.StreamRecreated.New(v.JoinStream)}
		case v.Transform || v.JoinStream == v.Stream:
			return &Result{Err: pgerr.CatalogIncomplete.New(opCreateView, "join_stream")}
		}
		shards += r.Shards
	}
	if v.Transform {
		v.Shards, v.Replicas, v.Nodes, v.Start = 0, 0, nil, nil
	} else if len(v.Start) != shards {
		v.Start = make([]uint64, shards)
	}
	if len(v.BackfillTo) != shards {
		v.BackfillTo = nil // the stream's shards as planned no longer match
	}
	v.ID = c.NextID
	c.NextID++
	if v.Sched != nil {
		// A scheduled view: one task on one node, no Raft group; the
		// scheduler assigns its owner.
		if _, ok := c.Disks[v.Sched.Disk]; !ok {
			return &Result{Err: pgerr.DiskNotFound.New(v.Sched.Disk)}
		}
		if v.Transform {
			return &Result{Err: pgerr.CatalogIncomplete.New(opCreateView, "sched")}
		}
		v.Shards, v.Replicas, v.Nodes, v.Groups = 1, 1, nil, nil
		v.Sched.Node, v.Sched.Epoch, v.Sched.Handoff, v.Sched.Checkpoint = 0, 0, false, nil
		c.Views[v.Name] = v
		return &Result{View: v}
	}
	v.Groups = make([]uint64, v.Shards)
	for i := range v.Groups {
		v.Groups[i] = c.NextGroupID
		c.NextGroupID++
	}
	c.Views[v.Name] = v
	return &Result{View: v}
}

func (cmd *DropStreams) apply(c *Catalog) *Result {
	res := &Result{}
	for _, name := range cmd.Names {
		if _, ok := c.Streams[name]; !ok {
			if err := c.dropMissing("stream", name, cmd.IfExists, res); err != nil {
				return &Result{Err: err}
			}
			continue
		}
		deps := c.ViewsOn(name)
		if len(deps) > 0 && !cmd.Cascade {
			names := make([]string, len(deps))
			for i, v := range deps {
				names[i] = strconv.Quote(v.Name)
			}
			return &Result{Err: pgerr.ViewsDependOn.New(name, strings.Join(names, ", "))}
		}
		for _, v := range deps {
			c.forgetGroups(v.Groups)
			delete(c.Views, v.Name)
			res.Dropped = append(res.Dropped, v.Name)
		}
		c.forgetGroups(c.Streams[name].Groups)
		delete(c.Streams, name)
		res.Dropped = append(res.Dropped, name)
	}
	return res
}

func (cmd *DropViews) apply(c *Catalog) *Result {
	res := &Result{}
	for _, name := range cmd.Names {
		if _, ok := c.Views[name]; !ok {
			if err := c.dropMissing("view", name, cmd.IfExists, res); err != nil {
				return &Result{Err: err}
			}
			continue
		}
		// Views over it (Over lists every transform of a chain, so this
		// finds the whole tree above it), unless dropped by this command.
		var deps []*View
		for _, v := range c.ViewsOver(name) {
			if !slices.Contains(cmd.Names, v.Name) {
				deps = append(deps, v)
			}
		}
		if len(deps) > 0 && !cmd.Cascade {
			names := make([]string, len(deps))
			for i, v := range deps {
				names[i] = strconv.Quote(v.Name)
			}
			return &Result{Err: pgerr.ViewsDependOnView.New(name, strings.Join(names, ", "))}
		}
		for _, v := range deps {
			c.forgetGroups(v.Groups)
			delete(c.Views, v.Name)
			res.Dropped = append(res.Dropped, v.Name)
		}
		c.forgetGroups(c.Views[name].Groups)
		delete(c.Views, name)
		res.Dropped = append(res.Dropped, name)
	}
	return res
}

func (cmd *SetSetting) apply(c *Catalog) *Result {
	if cmd.Value == nil {
		delete(c.Settings, cmd.Key)
	} else {
		c.Settings[cmd.Key] = *cmd.Value
	}
	return &Result{}
}

// forgetGroups drops the per-group records of dropped groups.
func (c *Catalog) forgetGroups(gids []uint64) {
	for _, g := range gids {
		delete(c.Added, g)
	}
}

// SettingNames returns the stored cluster setting names, sorted.
func (c *Catalog) SettingNames() []string {
	names := make([]string, 0, len(c.Settings))
	for k := range c.Settings {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// dropMissing handles DROP of a kind ("stream", "view" or "table") of object that
// does not exist: with IF EXISTS a notice, else an error that says when the
// name is the other kind.
func (c *Catalog) dropMissing(kind, name string, ifExists bool, res *Result) *pgerr.Error {
	if ifExists {
		res.Notice = fmt.Sprintf("%s %q does not exist, skipping", kind, name)
		return nil
	}
	if other := c.Exists(name); other != "" {
		return pgerr.NotThatKind.New(name, other, strings.ToUpper(other), other)
	}
	switch kind {
	case "view":
		return ErrNoView(name)
	case "table":
		return ErrNoTable(name)
	}
	return ErrNoStream(name)
}

// Apply applies c to a copy of cat and returns the new catalog and the
// result (the old catalog, unchanged, when the result carries an error).
// The meta state machine applies every command this way; tests of code
// that proposes commands apply them directly.
func Apply(cat *Catalog, c Command) (*Catalog, *Result) {
	next := cat.Clone()
	res := c.apply(next)
	if res.Err != nil {
		return cat, res
	}
	next.pruneGrants()
	return next, res
}
