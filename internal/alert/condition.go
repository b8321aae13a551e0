package alert

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// The metrics an alert condition may name.
const (
	MetricQuorum    = "cluster.has_quorum"
	MetricNodeState = "node.state"
	MetricLag       = "replication.lag_ms"
	MetricHealth    = "node.health_score"
	MetricDisk      = "disk.used_pct"
	MetricCert      = "cert.expires_in"
)

// Kinds of a condition's value as written.
const (
	ValueNumber   = "number"
	ValueString   = "string"
	ValueBool     = "bool"
	ValueInterval = "interval"
)

// condSpec is what one metric accepts: its operator and value kind.
type condSpec struct {
	op, kind string
	want     string // what the value must be, for errors
}

var condSpecs = map[string]condSpec{
	MetricQuorum:    {"=", ValueBool, "= false"},
	MetricNodeState: {"=", ValueString, "= 'dead' or = 'suspect'"},
	MetricLag:       {">", ValueNumber, "> a number of milliseconds"},
	MetricHealth:    {"<", ValueNumber, "< a score between 0 and 100"},
	MetricDisk:      {">", ValueNumber, "> a percentage between 0 and 100"},
	MetricCert:      {"<", ValueInterval, "< interval '…' (e.g. interval '7 days')"},
}

// NewCondition checks a condition as written (metric, operator, the
// value's text and kind) and returns it as the catalog stores it: Metric,
// Op, Value and the canonical Condition text of a.
func NewCondition(metric, op, value, kind string) (*catalog.Alert, *pgerr.Error) {
	metric = strings.ToLower(metric)
	spec, ok := condSpecs[metric]
	if !ok {
		return nil, pgerr.AlertUnknownCond.New(metric + " " + op + " " + shown(value, kind))
	}
	bad := func() (*catalog.Alert, *pgerr.Error) {
		return nil, pgerr.AlertCondValue.New(metric, spec.want, op+" "+shown(value, kind))
	}
	if op != spec.op || kind != spec.kind {
		return bad()
	}
	a := &catalog.Alert{Metric: metric, Op: op}
	switch metric {
	case MetricQuorum:
		if value != "false" {
			return bad()
		}
		a.Value = "false"
	case MetricNodeState:
		v := strings.ToLower(value)
		if v != StateDead && v != StateSuspect {
			return bad()
		}
		a.Value = v
	case MetricLag, MetricHealth, MetricDisk:
		f, err := strconv.ParseFloat(value, 64)
		if err != nil || f < 0 || (metric != MetricLag && f > 100) {
			return bad()
		}
		a.Value = strconv.FormatFloat(f, 'f', -1, 64)
	case MetricCert:
		d, err := intervalOf(value)
		if err != nil || d <= 0 {
			return bad()
		}
		a.Value = value
	}
	a.Condition = metric + " " + op + " " + shown(a.Value, kind)
	return a, nil
}

func shown(value, kind string) string {
	switch kind {
	case ValueString:
		return "'" + strings.ReplaceAll(value, "'", "''") + "'"
	case ValueInterval:
		return "interval '" + strings.ReplaceAll(value, "'", "''") + "'"
	}
	return value
}

// intervalOf reads an SQL interval ('7 days', '12 hours') as a duration
// (a month is 30 days).
func intervalOf(s string) (time.Duration, error) {
	d, err := types.ParseText(types.Interval, s)
	if err != nil {
		return 0, err
	}
	iv := d.Iv
	return time.Duration(iv.Months)*30*24*time.Hour + time.Duration(iv.Days)*24*time.Hour + time.Duration(iv.Micros)*time.Microsecond, nil
}

// CheckTarget checks an alert's target: webhook:http://… or
// webhook:https://… with a host.
func CheckTarget(target string) *pgerr.Error {
	rest, ok := strings.CutPrefix(target, "webhook:")
	if !ok {
		return pgerr.AlertTargetBad.New(target)
	}
	u, err := url.Parse(rest)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return pgerr.AlertTargetBad.New(target)
	}
	return nil
}

// NodeFacts is what the evaluator knows of one node.
type NodeFacts struct {
	Name  string
	State string // live, suspect, dead, unknown, or an operator state (draining…)
	Score int    // health score; -1: unknown
	// DiskUsedPct is from its last report (-1: none).
	DiskUsedPct float64
	// CertExpiresAt is its node certificate's expiry (unix s; 0: insecure).
	CertExpiresAt int64
}

// GroupFacts is what the evaluator knows of one raft group.
type GroupFacts struct {
	ID        uint64
	Label     string // "stream events/0", "meta"
	Voters    int
	Live      int // live voters
	HasQuorum bool
	LagMs     int64 // the largest follower lag its leader reports
}

// Facts is the cluster as the evaluator sees it at one moment.
type Facts struct {
	Now    time.Time
	Nodes  []NodeFacts
	Groups []GroupFacts
}

// HasQuorum reports whether every group has a live majority of voters.
func (f Facts) HasQuorum() bool {
	for _, g := range f.Groups {
		if !g.HasQuorum {
			return false
		}
	}
	return true
}

// Observation is a condition's state for one subject.
type Observation struct {
	Firing bool
	Value  string // the measured value, as text
}

// Evaluate returns the condition of a for every subject it concerns.
// Subjects it says nothing about (no measurement yet) are left out; the
// evaluator leaves their state as it is.
func Evaluate(a *catalog.Alert, f Facts) map[string]Observation {
	out := map[string]Observation{}
	num, _ := strconv.ParseFloat(a.Value, 64)
	node := func(n NodeFacts) string { return catalog.SubjectNodePrefix + n.Name }
	switch a.Metric {
	case MetricQuorum:
		var lost []string
		for _, g := range f.Groups {
			if !g.HasQuorum {
				lost = append(lost, fmt.Sprintf("%d (%s: %d of %d voters live)", g.ID, g.Label, g.Live, g.Voters))
			}
		}
		v := "true"
		if len(lost) > 0 {
			v = "false: no live majority in group " + strings.Join(lost, ", group ")
		}
		out[catalog.SubjectCluster] = Observation{Firing: len(lost) > 0, Value: v}
	case MetricNodeState:
		for _, n := range f.Nodes {
			if n.State == "unknown" {
				continue
			}
			// 'suspect' means "not heard from for suspect_after": a
			// suspect node that turns dead keeps firing.
			firing := n.State == a.Value || (a.Value == StateSuspect && n.State == StateDead)
			out[node(n)] = Observation{Firing: firing, Value: n.State}
		}
	case MetricHealth:
		for _, n := range f.Nodes {
			if n.Score < 0 {
				continue
			}
			out[node(n)] = Observation{Firing: float64(n.Score) < num, Value: strconv.Itoa(n.Score)}
		}
	case MetricDisk:
		for _, n := range f.Nodes {
			if n.DiskUsedPct < 0 {
				continue
			}
			out[node(n)] = Observation{Firing: n.DiskUsedPct > num, Value: strconv.FormatFloat(n.DiskUsedPct, 'f', 1, 64)}
		}
	case MetricLag:
		for _, g := range f.Groups {
			out[fmt.Sprintf("%s%d", catalog.SubjectGroupPrefix, g.ID)] = Observation{Firing: float64(g.LagMs) > num, Value: strconv.FormatInt(g.LagMs, 10)}
		}
	case MetricCert:
		limit, err := intervalOf(a.Value)
		if err != nil {
			return out
		}
		for _, n := range f.Nodes {
			if n.CertExpiresAt == 0 {
				continue
			}
			left := time.Unix(n.CertExpiresAt, 0).Sub(f.Now).Truncate(time.Second)
			out[node(n)] = Observation{Firing: left < limit, Value: left.String()}
		}
	}
	return out
}
