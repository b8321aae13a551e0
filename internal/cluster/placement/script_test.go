package placement_test

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/membership"
	"github.com/cairndb/cairn/internal/cluster/placement"
	"github.com/cairndb/cairn/internal/cluster/scheduler"
)

// TestScripts runs the placement and scheduling scripts in testdata/
// (regenerate the expected output with -rewrite). A script describes a
// cluster in a few lines, then asks for decisions. Commands:
//
//	nodes                      one node per input line (#ID names a removed node) (ids in order from 1):
//	                           NAME [zone=Z] [region=R] [role=compute] [state=offline|draining|
//	                           decommissioning|decommissioned] [live|suspect|dead|unknown]
//	                           [leaders=N]; replaces the whole cluster
//	node NAME [zone=Z] [state=S] [live=L] [leaders=N] [remove]
//	                           change one node (state=none clears it; remove deletes it)
//	stream NAME [replicas=R]   one shard per input line: the nodes holding it
//	view NAME [replicas=R]     the same, for a view
//	placement group=G nodes=(n1,n2)   set a shard's replicas
//	op type=T [group=G] [from=N] [to=N] [node=N] [status=S]   record an operation
//	set KEY=VALUE ...          auto_failover, auto_rebalance (on|off), max_new_ops, max_view_moves,
//	                           preferred_leader (a node name or "")
//	place shards=S replicas=R  initial placement of a new object
//	target group=G [from=N]    the node for a new replica of G (replacing the one on N)
//	rebalance                  the next rebalance move and the estimate
//	schedule [now=D] [started=D] [last-rebalance=D]
//	                           the operations one scheduler round creates; times
//	                           are durations after an epoch (now defaults to 1h,
//	                           started to 0, last-rebalance to never)
//	runnable [running=(1,2)] [max-moves=N]   active operations to start now
//	leaders self=N [led=(G,...)] [meta=(n1,...)]
//	                           leadership transfers from node N, which leads
//	                           the groups led (voters: their placement) and,
//	                           if meta is given, the meta group with those voters
//	meta self=N voters=(..) [learners=(..)] [match=(n2:90,..)] [commit=C]
//	                           the next meta-group membership change
//	show                       every shard's replicas and each node's count
//
// and, for regions (regions_test.go):
//
//	place-regional shards=S replicas=R primary=P regions=(a,b) [learners=N]
//	                           initial placement of a regional object
//	regional NAME primary=P    make object NAME regional; one input line per
//	                           shard: its permanent learners
//
// and, for scheduled views (scheduled_test.go):
//
//	scheduled NAME [owner=N] [epoch=E]   a scheduled view (owner: a node name, #ID, or absent)
//	view-owner [not=N]         the node a scheduled view would be assigned to
//	view-rebalance             the next rebalance move of a scheduled view
//	schedule-views [now=D] [started=D]   what one round decides for scheduled views
//	assign VIEW NODE           record that NODE owns VIEW (epoch+1), as AssignView does
//	handoff VIEW               record that VIEW's owner was asked to hand it off
//	show-views                 each scheduled view's owner and each node's count
func TestScripts(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &harness{}
		h.reset()
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := h.run(d)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return out
		})
	})
}

type harness struct {
	cat      *catalog.Catalog
	live     map[uint64]membership.State
	leaders  map[uint64]int
	settings scheduler.Settings
	pref     string
}

func (h *harness) reset() {
	h.cat = catalog.New()
	h.live = map[uint64]membership.State{}
	h.leaders = map[uint64]int{}
	h.settings = scheduler.DefaultSettings()
	h.pref = ""
}

func (h *harness) snapshot(self uint64) membership.Snapshot {
	s := membership.Snapshot{Self: self, States: map[uint64]membership.State{}, Leaders: map[uint64]int{}}
	for id, st := range h.live {
		s.States[id] = st
	}
	for id, n := range h.leaders {
		s.Leaders[id] = n
	}
	return s
}

func (h *harness) id(name string) (uint64, error) {
	if nd := h.cat.Nodes[name]; nd != nil {
		return nd.ID, nil
	}
	if id, err := strconv.ParseUint(strings.TrimPrefix(name, "#"), 10, 64); err == nil && strings.HasPrefix(name, "#") {
		return id, nil // a node no longer in the catalog, by raft id
	}
	return 0, fmt.Errorf("no node %q", name)
}

func (h *harness) name(id uint64) string {
	if nd := h.cat.NodeByID(id); nd != nil {
		return nd.Name
	}
	if id == 0 {
		return "-"
	}
	return fmt.Sprintf("#%d", id)
}

func (h *harness) names(ids []uint64) string {
	var out []string
	for _, id := range ids {
		out = append(out, h.name(id))
	}
	return strings.Join(out, " ")
}

// arg returns the values of argument key (nil, false if absent).
func arg(d *datadriven.TestData, key string) ([]string, bool) {
	for _, a := range d.CmdArgs {
		if a.Key == key {
			return a.Vals, true
		}
	}
	return nil, false
}

func argInt(d *datadriven.TestData, key string, def int) (int, error) {
	v, ok := arg(d, key)
	if !ok || len(v) == 0 {
		return def, nil
	}
	return strconv.Atoi(v[0])
}

func argDur(d *datadriven.TestData, key string, def time.Duration) (time.Duration, error) {
	v, ok := arg(d, key)
	if !ok || len(v) == 0 {
		return def, nil
	}
	return time.ParseDuration(v[0])
}

func (h *harness) argNodes(d *datadriven.TestData, key string) ([]uint64, error) {
	v, _ := arg(d, key)
	var out []uint64
	for _, name := range v {
		id, err := h.id(name)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

func (h *harness) run(d *datadriven.TestData) (string, error) {
	switch d.Cmd {
	case "nodes":
		h.reset()
		for i, line := range lines(d.Input) {
			f := strings.Fields(line)
			nd := &catalog.Node{ID: uint64(i + 1), Name: f[0], Role: "data"}
			h.cat.Nodes[nd.Name] = nd
			h.cat.NextNodeID = nd.ID + 1
			h.live[nd.ID] = membership.Live
			if err := h.setNode(nd, f[1:]); err != nil {
				return "", err
			}
		}
		return "", nil
	case "node":
		if len(d.CmdArgs) == 0 {
			return "", fmt.Errorf("node needs a name")
		}
		nd := h.cat.Nodes[d.CmdArgs[0].Key]
		if nd == nil {
			return "", fmt.Errorf("no node %q", d.CmdArgs[0].Key)
		}
		var words []string
		for _, a := range d.CmdArgs[1:] {
			if a.Key == "remove" {
				delete(h.cat.Nodes, nd.Name)
				delete(h.live, nd.ID)
				continue
			}
			words = append(words, a.Key+"="+strings.Join(a.Vals, ","))
		}
		return "", h.setNode(nd, words)
	case "stream", "view":
		return "", h.object(d)
	case "placement":
		gid, err := argInt(d, "group", 0)
		if err != nil {
			return "", err
		}
		nodes, err := h.argNodes(d, "nodes")
		if err != nil {
			return "", err
		}
		return "", h.setPlacement(uint64(gid), nodes)
	case "op":
		return h.op(d)
	case "set":
		return "", h.set(d)
	case "place":
		shards, err := argInt(d, "shards", 1)
		if err != nil {
			return "", err
		}
		replicas, err := argInt(d, "replicas", 1)
		if err != nil {
			return "", err
		}
		out, err := placement.Initial(h.cat, h.snapshot(1), shards, replicas)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for i, nodes := range out {
			fmt.Fprintf(&b, "shard %d: %s\n", i, h.names(nodes))
		}
		return b.String(), nil
	case "target":
		gid, err := argInt(d, "group", 0)
		if err != nil {
			return "", err
		}
		nodes, ok := h.cat.ShardNodes(uint64(gid))
		if !ok {
			return "", fmt.Errorf("no group %d", gid)
		}
		from, err := h.argNodes(d, "from")
		if err != nil {
			return "", err
		}
		from = append(from, 0)
		if to := placement.TargetFor(h.cat, h.snapshot(1), uint64(gid), nodes, from[0]); to != 0 {
			return h.name(to) + "\n", nil
		}
		return "none\n", nil
	case "rebalance":
		m, ok := placement.RebalanceMove(h.cat, h.snapshot(1))
		est := placement.RebalanceEstimate(h.cat, h.snapshot(1))
		if !ok {
			return fmt.Sprintf("balanced (estimate %d)\n", est), nil
		}
		return fmt.Sprintf("move shard %d from %s to %s (estimate %d)\n", m.Group, h.name(m.From), h.name(m.To), est), nil
	case "schedule":
		return h.schedule(d)
	case "runnable":
		running := map[uint64]bool{}
		v, _ := arg(d, "running")
		for _, s := range v {
			id, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return "", err
			}
			running[id] = true
		}
		maxMoves, err := argInt(d, "max-moves", 2)
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for _, o := range scheduler.Runnable(h.cat, running, maxMoves) {
			fmt.Fprintf(&b, "run %d %s\n", o.ID, o.Type)
		}
		if b.Len() == 0 {
			return "nothing to run\n", nil
		}
		return b.String(), nil
	case "leaders":
		return h.leaderMoves(d)
	case "meta":
		return h.meta(d)
	case "show":
		return h.show(), nil
	}
	if out, ok, err := h.runRegions(d); ok { // regions_test.go
		return out, err
	}
	if out, ok, err := h.runScheduled(d); ok { // scheduled_test.go
		return out, err
	}
	return "", fmt.Errorf("unknown command %q", d.Cmd)
}

func lines(s string) []string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// setNode applies words like zone=a, live=dead, dead, state=offline, role=compute, leaders=3.
func (h *harness) setNode(nd *catalog.Node, words []string) error {
	for _, w := range words {
		k, v, _ := strings.Cut(w, "=")
		switch k {
		case "live", "suspect", "dead", "unknown":
			if k == "live" && v != "" {
				k = v
			}
			h.live[nd.ID] = membership.State(k)
		case "zone":
			nd.Zone = v
		case "region":
			nd.Region = v
		case "role":
			nd.Role = v
		case "state":
			if v == "none" {
				v = ""
			}
			nd.State = v
		case "leaders":
			n, err := strconv.Atoi(v)
			if err != nil {
				return err
			}
			h.leaders[nd.ID] = n
		default:
			return fmt.Errorf("unknown node attribute %q", w)
		}
	}
	return nil
}

func (h *harness) object(d *datadriven.TestData) error {
	if len(d.CmdArgs) == 0 {
		return fmt.Errorf("%s needs a name", d.Cmd)
	}
	name := d.CmdArgs[0].Key
	var placed [][]uint64
	var groups []uint64
	for _, line := range lines(d.Input) {
		var nodes []uint64
		for _, n := range strings.Fields(line) {
			id, err := h.id(n)
			if err != nil {
				return err
			}
			nodes = append(nodes, id)
		}
		placed = append(placed, nodes)
		groups = append(groups, h.cat.NextGroupID)
		h.cat.NextGroupID++
	}
	replicas, err := argInt(d, "replicas", len(placed[0]))
	if err != nil {
		return err
	}
	h.cat.NextID++
	if d.Cmd == "stream" {
		h.cat.Streams[name] = &catalog.Stream{ID: h.cat.NextID, Name: name, Shards: len(groups), Replicas: replicas, Nodes: placed, Groups: groups}
	} else {
		h.cat.Views[name] = &catalog.View{ID: h.cat.NextID, Name: name, Shards: len(groups), Replicas: replicas, Nodes: placed, Groups: groups}
	}
	return nil
}

func (h *harness) setPlacement(gid uint64, nodes []uint64) error {
	for _, s := range h.cat.Streams {
		for i, g := range s.Groups {
			if g == gid {
				s.Nodes[i] = nodes
				return nil
			}
		}
	}
	for _, v := range h.cat.Views {
		for i, g := range v.Groups {
			if g == gid {
				v.Nodes[i] = nodes
				return nil
			}
		}
	}
	return fmt.Errorf("no group %d", gid)
}

func (h *harness) op(d *datadriven.TestData) (string, error) {
	o := &catalog.Operation{ID: h.cat.NextOpID, Status: catalog.OpRunning}
	h.cat.NextOpID++
	for _, a := range d.CmdArgs {
		v := strings.Join(a.Vals, ",")
		switch a.Key {
		case "type":
			o.Type = v
		case "status":
			o.Status = v
		case "node":
			o.Node = v
		case "view":
			o.View, o.Target = v, "view "+v
		case "group":
			g, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return "", err
			}
			o.Group = g
		case "from", "to":
			id, err := h.id(v)
			if err != nil {
				return "", err
			}
			if a.Key == "from" {
				o.From = id
			} else {
				o.To = id
			}
		default:
			return "", fmt.Errorf("unknown op argument %q", a.Key)
		}
	}
	h.cat.Ops[o.ID] = o
	return fmt.Sprintf("op %d\n", o.ID), nil
}

func (h *harness) set(d *datadriven.TestData) error {
	for _, a := range d.CmdArgs {
		v := strings.Join(a.Vals, ",")
		on := v == "on" || v == "true"
		switch a.Key {
		case "auto_failover":
			h.settings.AutoFailover = on
		case "auto_rebalance":
			h.settings.AutoRebalance = on
		case "max_new_ops":
			n, err := strconv.Atoi(v)
			if err != nil {
				return err
			}
			h.settings.MaxNewOps = n
		case "max_view_moves":
			n, err := strconv.Atoi(v)
			if err != nil {
				return err
			}
			h.settings.MaxViewMoves = n
		case "preferred_leader":
			h.pref = strings.Trim(v, `"`)
		default:
			return fmt.Errorf("unknown setting %q", a.Key)
		}
	}
	return nil
}

func (h *harness) schedule(d *datadriven.TestData) (string, error) {
	epoch := time.Unix(1_000_000, 0)
	now, err := argDur(d, "now", time.Hour)
	if err != nil {
		return "", err
	}
	started, err := argDur(d, "started", 0)
	if err != nil {
		return "", err
	}
	in := scheduler.Input{Cat: h.cat, Live: h.snapshot(1), Settings: h.settings, Now: epoch.Add(now), Started: epoch.Add(started)}
	if _, ok := arg(d, "last-rebalance"); ok {
		last, err := argDur(d, "last-rebalance", 0)
		if err != nil {
			return "", err
		}
		in.LastRebalance = epoch.Add(last)
	}
	ops := scheduler.Plan(in)
	if len(ops) == 0 {
		return "no operations\n", nil
	}
	var b strings.Builder
	for _, o := range ops {
		fmt.Fprintf(&b, "%s %s", o.Type, o.Target)
		if o.From != 0 {
			fmt.Fprintf(&b, " from=%s", h.name(o.From))
		}
		if o.Step != "" {
			fmt.Fprintf(&b, " (%s)", o.Step)
		}
		if o.Type == catalog.OpReplaceReplica {
			// Where the executor would put it, chosen when it runs.
			nodes, _ := h.cat.ShardNodes(o.Group)
			fmt.Fprintf(&b, " -> %s", h.name(placement.Target(h.cat, h.snapshot(1), nodes)))
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

func (h *harness) leaderMoves(d *datadriven.TestData) (string, error) {
	self, err := h.argNodes(d, "self")
	if err != nil || len(self) != 1 {
		return "", fmt.Errorf("leaders needs self=NODE (%v)", err)
	}
	in := placement.LeaderInput{Cat: h.cat, Live: h.snapshot(self[0]), Self: self[0], Preferred: h.pref}
	led, _ := arg(d, "led")
	for _, s := range led {
		gid, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return "", err
		}
		voters, ok := h.cat.ShardNodes(gid)
		if !ok {
			return "", fmt.Errorf("no group %d", gid)
		}
		in.Led = append(in.Led, placement.Led{Group: gid, Voters: voters})
	}
	if _, ok := arg(d, "meta"); ok {
		voters, err := h.argNodes(d, "meta")
		if err != nil {
			return "", err
		}
		in.Meta = &placement.Led{Group: catalog.MetaGroupID, Voters: voters}
	}
	moves := placement.LeaderTransfers(in)
	if len(moves) == 0 {
		return "no transfers\n", nil
	}
	var b strings.Builder
	for _, m := range moves {
		fmt.Fprintf(&b, "transfer shard %d to %s\n", m.Group, h.name(m.To))
	}
	return b.String(), nil
}

func (h *harness) meta(d *datadriven.TestData) (string, error) {
	self, err := h.argNodes(d, "self")
	if err != nil || len(self) != 1 {
		return "", fmt.Errorf("meta needs self=NODE (%v)", err)
	}
	st := placement.MetaStatus{Match: map[uint64]uint64{}}
	if st.Voters, err = h.argNodes(d, "voters"); err != nil {
		return "", err
	}
	if st.Learners, err = h.argNodes(d, "learners"); err != nil {
		return "", err
	}
	commit, err := argInt(d, "commit", 100)
	if err != nil {
		return "", err
	}
	st.Commit = uint64(commit)
	match, _ := arg(d, "match")
	for _, m := range match {
		name, idx, _ := strings.Cut(m, ":")
		id, err := h.id(name)
		if err != nil {
			return "", err
		}
		n, err := strconv.ParseUint(idx, 10, 64)
		if err != nil {
			return "", err
		}
		st.Match[id] = n
	}
	ch, ok := placement.NextMetaChange(h.cat, h.snapshot(self[0]), self[0], st)
	if !ok {
		return "no change\n", nil
	}
	what := map[placement.MetaChangeType]string{placement.MetaAddLearner: "add learner", placement.MetaPromote: "promote", placement.MetaRemove: "remove"}[ch.Type]
	return fmt.Sprintf("%s %s (%s)\n", what, h.name(ch.Node), ch.Why), nil
}

func (h *harness) show() string {
	groups := h.cat.Groups()
	gids := make([]uint64, 0, len(groups))
	for g := range groups {
		gids = append(gids, g)
	}
	sort.Slice(gids, func(i, j int) bool { return gids[i] < gids[j] })
	var b strings.Builder
	for _, g := range gids {
		fmt.Fprintf(&b, "shard %d: %s\n", g, h.names(groups[g].Nodes))
	}
	counts := h.cat.ReplicaCounts()
	for _, nd := range h.cat.SortedNodes() {
		fmt.Fprintf(&b, "%s: %d replicas\n", nd.Name, counts[nd.ID])
	}
	return b.String()
}
