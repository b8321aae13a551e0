package systables

import (
	"github.com/cairndb/cairn/internal/alert"
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/types"
)

// Health, quorum and alerts (issue 15).
//
// cairn_cluster.health is one row per node: its state, its health score
// (0–100, docs/health.md) and the measurements behind it, which each node
// takes of itself and sends with its heartbeats (internal/alert.Report);
// so any node answers from what it last heard. cairn_cluster.quorum is
// one row per raft group and one for the whole cluster: whether a live
// majority of its voters remains. cairn_cluster.alerts (SHOW ALERTS) is
// built from the catalog alone.

// Table names.
const (
	HealthTable = "health"
	QuorumTable = "quorum"
	AlertsTable = "alerts"
)

// HealthSource is implemented by a Status that knows the nodes' health
// reports; a Status without it shows scores as NULL.
type HealthSource interface {
	HealthInputs() alert.Inputs
}

func f8(v float64) types.Datum { return types.NewFloat(types.Float8, v) }

// healthInputs is n's inputs, or ones without reports.
func healthInputs(n Status) alert.Inputs {
	if hs, ok := n.(HealthSource); ok {
		return hs.HealthInputs()
	}
	in := alert.Inputs{Now: n.Now(), Cat: n.Catalog(), State: func(nd *catalog.Node) string { return state(n, nd) }, Liveness: n.Liveness}
	if voters, _, ok := n.MetaMembers(); ok {
		in.MetaVoters = voters
	}
	return in
}

// Health is cairn_cluster.health.
func Health(n Status) *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "node_id", T: types.Int8}, {Name: "node", T: types.Text}, {Name: "state", T: types.Text},
		{Name: "score", T: types.Int8}, {Name: "cpu_pct", T: types.Float8}, {Name: "mem_pct", T: types.Float8},
		{Name: "disk_used_pct", T: types.Float8}, {Name: "fsync_p99_ms", T: types.Float8}, {Name: "heartbeat_rtt_ms", T: types.Float8},
		{Name: "max_lag_ms", T: types.Int8}, {Name: "elections", T: types.Int8}, {Name: "leader_changes", T: types.Int8},
		{Name: "groups", T: types.Int8}, {Name: "groups_without_quorum", T: types.Int8}, {Name: "reported_at", T: types.TimestampTZ}}}
	for _, h := range alert.Health(healthInputs(n)) {
		score := types.NullOf(types.Int8)
		if h.Score >= 0 {
			score = i8(int64(h.Score))
		}
		row := []types.Datum{i8(int64(h.ID)), txt(h.Name), txt(h.State), score}
		if h.Reported {
			r := h.Report
			row = append(row, f8(r.CPUPct), f8(r.MemPct), f8(r.DiskUsedPct), f8(r.FsyncP99Ms), f8(r.RTTMs), i8(h.LagMs),
				i8(int64(r.Elections)), i8(int64(r.LeaderChanges)))
		} else {
			nf := types.NullOf(types.Float8)
			ni := types.NullOf(types.Int8)
			row = append(row, nf, nf, nf, nf, nf, ni, ni, ni)
		}
		row = append(row, i8(int64(h.Groups)), i8(int64(h.NoQuorum)))
		if h.Reported {
			row = append(row, types.NewInt(types.TimestampTZ, h.Report.At))
		} else {
			row = append(row, types.NullOf(types.TimestampTZ))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// Quorum is cairn_cluster.quorum: first the cluster (every group has a
// live majority), then every group (meta, when its voters are known).
func Quorum(n Status) *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "group_id", T: types.Int8}, {Name: "object", T: types.Text},
		{Name: "voters", T: types.Int8}, {Name: "live_voters", T: types.Int8}, {Name: "has_quorum", T: types.Bool},
		{Name: "max_lag_ms", T: types.Int8}}}
	groups := alert.Quorum(healthInputs(n))
	all, without := true, 0
	for _, g := range groups {
		if !g.HasQuorum {
			all = false
			without++
		}
	}
	t.Rows = append(t.Rows, []types.Datum{types.NullOf(types.Int8), txt("cluster"), i8(int64(len(groups))), i8(int64(len(groups) - without)),
		types.NewBool(all), types.NullOf(types.Int8)})
	for _, g := range groups {
		t.Rows = append(t.Rows, []types.Datum{i8(int64(g.ID)), txt(g.Label), i8(int64(g.Voters)), i8(int64(g.Live)),
			types.NewBool(g.HasQuorum), i8(g.LagMs)})
	}
	return t
}

// Alerts is cairn_cluster.alerts (SHOW ALERTS): one row per alert and
// subject it has fired for (an alert that never fired has one row with
// state ok and no subject).
func Alerts(cat *catalog.Catalog) *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "name", T: types.Text}, {Name: "condition", T: types.Text}, {Name: "target", T: types.Text},
		{Name: "state", T: types.Text}, {Name: "since", T: types.TimestampTZ}, {Name: "subject", T: types.Text}, {Name: "value", T: types.Text},
		{Name: "transitions", T: types.Int8}, {Name: "pending", T: types.Int8}, {Name: "last_delivery", T: types.Text}, {Name: "attempts", T: types.Int8}}}
	nt := types.NullOf(types.Text)
	for _, a := range cat.SortedAlerts() {
		if len(a.Subjects) == 0 {
			t.Rows = append(t.Rows, []types.Datum{txt(a.Name), txt(a.Condition), txt(a.Target), txt("ok"),
				types.NewInt(types.TimestampTZ, a.CreatedAt), nt, nt, i8(0), i8(0), nt, i8(0)})
			continue
		}
		for _, k := range a.SortedSubjects() {
			s := a.Subjects[k]
			st := "ok"
			if s.Firing {
				st = "firing"
			}
			last := nt
			if s.LastResult != "" {
				last = txt(s.LastResult)
			}
			t.Rows = append(t.Rows, []types.Datum{txt(a.Name), txt(a.Condition), txt(a.Target), txt(st),
				types.NewInt(types.TimestampTZ, s.Since), txt(k), txt(s.Value), i8(int64(s.Seq)), i8(int64(len(s.Pending))), last, i8(int64(s.Attempts))})
		}
	}
	return t
}
