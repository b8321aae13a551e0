package exec

import (
	"fmt"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
)

// EXPLAIN (issue 11): a plan prints as a tree, one operator a line,
// children indented under "->" as PostgreSQL prints them, with the
// conditions each applies. Sources that implement Describer say where
// their rows come from (shards, the nodes that lead and read them).
// With ANALYZE the plan has run first: each operator line adds the rows
// it produced, how often it ran and the time spent in it (children
// included).

// planInfo is what EXPLAIN prints of a simple SELECT's own steps.
type planInfo struct {
	where   string
	group   []string
	order   []string
	srcName string
	alias   string
}

func newPlanInfo(sel *parser.Select, where parser.Expr) planInfo {
	var in planInfo
	if where != nil {
		in.where = parser.FormatExpr(where)
	}
	for _, g := range sel.GroupBy {
		in.group = append(in.group, parser.FormatExpr(g))
	}
	for _, o := range sel.OrderBy {
		s := parser.FormatExpr(o.Expr)
		if o.Desc {
			s += " DESC"
		}
		in.order = append(in.order, s)
	}
	if f := sel.From; f != nil && f.Join == nil {
		in.srcName, in.alias = f.Name, f.Alias
	}
	return in
}

type explainer struct {
	lines   []string
	depth   int
	analyze bool
}

// line adds an operator line (stats nil: none to show).
func (x *explainer) line(s *opStats, format string, args ...any) {
	text := fmt.Sprintf(format, args...)
	if x.analyze && s != nil {
		text += fmt.Sprintf(" (actual rows=%d loops=%d time=%.3f ms)", s.rows, s.loops, float64(s.dur.Microseconds())/1000)
	}
	if x.depth > 0 {
		text = strings.Repeat("      ", x.depth-1) + "  ->  " + text
	}
	x.lines = append(x.lines, text)
}

// detail adds a line about the last operator.
func (x *explainer) detail(format string, args ...any) {
	indent := "  "
	if x.depth > 0 {
		indent = strings.Repeat("      ", x.depth-1) + "        "
	}
	x.lines = append(x.lines, indent+fmt.Sprintf(format, args...))
}

func (x *explainer) child(f func()) {
	x.depth++
	f()
	x.depth--
}

// Explain returns p's plan as EXPLAIN prints it; analyze adds what p
// did when it ran (run it first).
func Explain(p *Plan, analyze bool) []string {
	x := &explainer{analyze: analyze}
	p.explainTo(x)
	return x.lines
}

// ExplainSummary is EXPLAIN ANALYZE's last lines: peak memory and time.
func ExplainSummary(mem *scalar.Budget, d time.Duration) []string {
	return []string{
		"Peak Memory: " + scalar.FormatBytes(mem.Peak()),
		fmt.Sprintf("Execution Time: %.3f ms", float64(d.Microseconds())/1000),
	}
}

func (p *Plan) explainTo(x *explainer) {
	stats := &p.stats
	depth := x.depth
	step := func(format string, args ...any) {
		x.line(stats, format, args...)
		stats = nil
		x.depth++
	}
	if p.limit != nil || p.offset != nil {
		step("Limit")
	}
	if p.olap.distinctOn != nil {
		step("Unique (DISTINCT ON)")
	}
	if len(p.order) > 0 {
		step("Sort")
		x.depth--
		x.detail("Sort Key: %s", strings.Join(p.info.order, ", "))
		x.depth++
	}
	if p.distinct {
		step("HashAggregate (DISTINCT)")
	}
	p.olap.explainStages(step)
	if p.grouped {
		if len(p.keys) > 0 {
			step("HashAggregate")
			x.depth--
			x.detail("Group Key: %s", strings.Join(p.info.group, ", "))
			x.depth++
		} else {
			step("Aggregate")
		}
	}
	name := p.info.srcName
	if p.info.alias != "" && p.info.alias != name {
		name += " " + p.info.alias
	}
	filter := func() {
		if p.info.where != "" {
			x.detail("Filter: %s", p.info.where)
		}
	}
	switch {
	case p.lookup != nil:
		x.line(stats, "Point Lookup on %s (%d keys)%s", name, p.lookup.count(), describe(p.src))
		filter()
	case p.src != nil:
		x.line(stats, "Scan on %s%s", name, describe(p.src))
		filter()
	case p.sub != nil:
		x.line(stats, "Subquery Scan on %s", displayName(p.info.alias))
		filter()
		x.child(func() { p.sub.explainTo(x) })
	case p.rel != nil:
		if p.info.where != "" {
			x.line(stats, "Filter")
			filter()
			x.child(func() { p.rel.explain(x) })
		} else if stats != nil && !p.body {
			x.line(stats, "Result")
			x.child(func() { p.rel.explain(x) })
		} else {
			p.rel.explain(x)
		}
	default:
		x.line(stats, "Result")
		filter()
	}
	x.depth = depth
}

// count is how many keys the lookup reads at most (its candidates'
// cross product).
func (l *keyLookup) count() int {
	n := 1
	for _, v := range l.vals {
		n *= len(v)
	}
	return n
}
