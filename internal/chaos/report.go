package chaos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/testutil"
)

// Summary is the headline of a campaign.
type Summary struct {
	FaultsByKind       map[string]int `json:"faults_by_kind"` // injected, not skipped
	FaultsSkipped      int            `json:"faults_skipped"`
	FaultsUnsupported  int            `json:"faults_unsupported"`
	EventsAcked        int64          `json:"events_acked"`
	EventsFailed       int64          `json:"events_in_failed_batches"`
	EventsInStream     int            `json:"events_in_stream"`
	Lost               int            `json:"lost"`
	Duplicated         int            `json:"duplicated"`
	NeverSent          int            `json:"never_sent"`
	ViewMismatches     int            `json:"view_mismatches"`
	ReadsJudged        int            `json:"reads_judged"`
	StaleReads         int            `json:"stale_reads"`
	SplitBrain         int            `json:"split_brain"`
	DiskFailViolations int            `json:"disk_fail_kept_serving"`
	SchedMismatches    int            `json:"scheduled_view_mismatches,omitempty"`
	OwnerChanges       int            `json:"scheduled_view_owner_changes,omitempty"`
	LongestOutageMs    float64        `json:"longest_fault_outage_ms"`
	LongestOutageBy    string         `json:"longest_fault_outage_by,omitempty"`
	LongestGapMs       float64        `json:"longest_gap_ms"`
	NodeCrashes        int            `json:"node_crashes"` // panics in node logs: reported, not judged
	Pass               bool           `json:"pass"`
}

// Report is report.json.
type Report struct {
	Seed         uint64         `json:"seed"`
	Config       Config         `json:"config"`
	Begin        time.Time      `json:"begin"`
	End          time.Time      `json:"end"`
	Schedule     []PlannedFault `json:"schedule"`
	Faults       []Fault        `json:"faults"`
	Checks       []CheckResult  `json:"checks"`
	Availability Availability   `json:"availability"`
	Summary      Summary        `json:"summary"`
	Notes        []string       `json:"notes,omitempty"`
	Crashes      []string       `json:"crashes,omitempty"`
	// Owners and Moves: the scheduled view's owners over the run and its
	// move_scheduled_view operations by status (History's).
	Owners []OwnerChange  `json:"scheduled_view_owners,omitempty"`
	Moves  map[string]int `json:"scheduled_view_moves,omitempty"`
	Pass   bool           `json:"pass"`
}

// BuildReport runs the checks over h and assembles the report.
func BuildReport(cfg Config, plan []PlannedFault, h *History) *Report {
	rep := &Report{Seed: cfg.Seed, Config: cfg, Begin: h.Begin, End: h.End, Schedule: plan, Faults: h.Faults, Notes: h.Notes, Crashes: h.Crashes,
		Owners: h.Owners, Moves: h.Moves}
	rep.Checks = CheckAll(h)
	rep.Availability = ComputeAvailability(h)
	s := Summary{FaultsByKind: map[string]int{}, EventsAcked: rep.Availability.AckedEvents,
		EventsFailed: rep.Availability.FailedEvents, EventsInStream: len(h.Rows), LongestGapMs: rep.Availability.LongestGapMs, NodeCrashes: len(h.Crashes), Pass: true}
	for _, f := range h.Faults {
		switch {
		case f.Skipped:
			s.FaultsSkipped++
		case f.Unsupported:
			s.FaultsUnsupported++
		default:
			s.FaultsByKind[f.Kind]++
		}
	}
	for _, c := range rep.Checks {
		s.Pass = s.Pass && c.OK
		switch c.Name {
		case CheckNameLost:
			s.Lost = c.Count
		case CheckNameDuplicated:
			s.Duplicated = c.Count
		case CheckNameNeverSent:
			s.NeverSent = c.Count
		case CheckNameViews:
			s.ViewMismatches = c.Count
		case CheckNameStale:
			s.StaleReads, s.ReadsJudged = c.Count, c.Checked
		case CheckNameSplitBrain:
			s.SplitBrain = c.Count
		case CheckNameDiskFail:
			s.DiskFailViolations = c.Count
		case CheckNameScheduled:
			s.SchedMismatches = c.Count
		}
	}
	s.OwnerChanges = max(0, len(h.Owners)-1)
	for _, o := range rep.Availability.Outages {
		if o.OutageMs > s.LongestOutageMs {
			s.LongestOutageMs, s.LongestOutageBy = o.OutageMs, fmt.Sprintf("#%d %s", o.Seq, o.Label)
		}
	}
	rep.Summary, rep.Pass = s, s.Pass
	return rep
}

// WriteReport writes report.json, history.jsonl and report.html into dir.
func WriteReport(dir string, rep *Report, h *History) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "report.json"), b, 0o644); err != nil {
		return err
	}
	if err := writeHistory(filepath.Join(dir, "history.jsonl"), h); err != nil {
		return err
	}
	var page strings.Builder
	WriteHTML(&page, rep)
	return os.WriteFile(filepath.Join(dir, "report.html"), []byte(page.String()), 0o644)
}

// historyLine is one line of history.jsonl: exactly one field is set.
type historyLine struct {
	Batch *Batch `json:"batch,omitempty"`
	Read  *Read  `json:"read,omitempty"`
	Fault *Fault `json:"fault,omitempty"`
}

func writeHistory(path string, h *History) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i := range h.Faults {
		_ = enc.Encode(historyLine{Fault: &h.Faults[i]})
	}
	for i := range h.Batches {
		_ = enc.Encode(historyLine{Batch: &h.Batches[i]})
	}
	for i := range h.Reads {
		_ = enc.Encode(historyLine{Read: &h.Reads[i]})
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// PrintSummary writes the concise human summary.
func PrintSummary(w io.Writer, rep *Report) {
	s := rep.Summary
	kinds := make([]string, 0, len(s.FaultsByKind))
	for k := range s.FaultsByKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	var fk []string
	for _, k := range kinds {
		fk = append(fk, fmt.Sprintf("%s %d", k, s.FaultsByKind[k]))
	}
	verdict := "PASS"
	if !s.Pass {
		verdict = "FAIL"
	}
	mode := ""
	if rep.Config.Secure {
		mode = ", secure cluster (TLS everywhere)"
	}
	if rep.Config.Gateways != "" {
		mode += ", writers pick nodes " + rep.Config.Gateways
	}
	fmt.Fprintf(w, "chaos %s  seed %d, %d nodes, %s, faults %s%s\n", verdict, rep.Seed, rep.Config.Nodes, rep.Config.Duration, strings.Join(rep.Config.Kinds, ","), mode)
	fmt.Fprintf(w, "faults injected  %s (skipped %d, unsupported %d)\n", orNone(fk), s.FaultsSkipped, s.FaultsUnsupported)
	fmt.Fprintf(w, "events           %d acked, %d in failed batches, %d in the stream\n", s.EventsAcked, s.EventsFailed, s.EventsInStream)
	for _, c := range rep.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s %-22s %d violations (%d checked)\n", mark, c.Name, c.Count, c.Checked)
		for i, e := range c.Examples {
			if i == 3 {
				fmt.Fprintf(w, "       … %d more (up to %d examples in report.json)\n", c.Count-3, testutil.MaxExamples)
				break
			}
			fmt.Fprintf(w, "       %s\n", e)
		}
	}
	if rep.Config.Scheduled {
		fmt.Fprintf(w, "scheduled view   %s\n", ownersLine(rep))
	}
	fmt.Fprintf(w, "write outage     longest after a fault %.0f ms (%s); longest gap without an ack %.0f ms\n", s.LongestOutageMs, orNone(nonEmpty(s.LongestOutageBy)), s.LongestGapMs)
	for _, d := range rep.Availability.OutageDist {
		fmt.Fprintf(w, "  %-14s %s\n", d.Kind, outageDistLine(d))
	}
	if len(rep.Crashes) > 0 {
		fmt.Fprintf(w, "node crashes     %d (not a safety verdict; see the node logs)\n", len(rep.Crashes))
		for i, c := range rep.Crashes {
			if i == 3 {
				fmt.Fprintf(w, "       … %d more in report.json\n", len(rep.Crashes)-3)
				break
			}
			fmt.Fprintf(w, "       %s\n", c)
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note             %s\n", n)
	}
	fmt.Fprintf(w, "report           %s\n", filepath.Join(rep.Config.Out, "report.html"))
}

// outageDistLine is one row of the write-outage distribution.
func outageDistLine(d OutageDist) string {
	line := fmt.Sprintf("%d faults: p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms; %d of a second or more", d.N, d.P50Ms, d.P90Ms, d.P99Ms, d.MaxMs, d.Over1s)
	if d.NotRecovered > 0 {
		line += fmt.Sprintf(", %d not recovered before the workload stopped", d.NotRecovered)
	}
	return line
}

// ownersLine says who owned chaos_sched when, and how many
// move_scheduled_view operations ran.
func ownersLine(rep *Report) string {
	var parts []string
	for _, o := range rep.Owners {
		who := o.Owner
		if who == "" {
			who = "(none)"
		}
		parts = append(parts, fmt.Sprintf("%s at %.1fs", who, o.At.Sub(rep.Begin).Seconds()))
	}
	var moves []string
	for _, st := range slices.Sorted(maps.Keys(rep.Moves)) {
		moves = append(moves, fmt.Sprintf("%s %d", st, rep.Moves[st]))
	}
	owners := "nobody the watcher saw"
	if len(parts) > 0 {
		owners = strings.Join(parts, " -> ")
	}
	ops := "none"
	if len(moves) > 0 {
		ops = strings.Join(moves, ", ")
	}
	return fmt.Sprintf("chaos_sched owned by %s; move_scheduled_view operations: %s", owners, ops)
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// faultColors shade the fault windows by kind.
var faultColors = map[string]string{
	KindKill: "#e74c3c", KindPause: "#f39c12", KindRestart: "#9b59b6",
	KindPartition: "#3498db", KindMembership: "#27ae60", KindDisk: "#7f8c8d",
	KindCompute: "#c0392b", KindObjstore: "#16a085",
}

// WriteHTML writes a self-contained page: the summary table, the checks,
// and a timeline (inline SVG) of acknowledged events per second and the
// p50/p99 ack latency with every fault window shaded and labelled.
func WriteHTML(w io.Writer, rep *Report) {
	e := html.EscapeString
	verdict := "PASS"
	if !rep.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>cairn chaos %s seed %d</title>
<style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}.ok{color:#1a7f37}.fail{color:#c0392b;font-weight:bold}
code{font-size:12px}</style></head><body>
<h1>cairn chaos: <span class="%s">%s</span></h1>
`, verdict, rep.Seed, strings.ToLower(verdict), verdict)
	s := rep.Summary
	fmt.Fprintf(w, "<table><tr><th>seed</th><td>%d</td></tr><tr><th>nodes</th><td>%d</td></tr><tr><th>duration</th><td>%s</td></tr><tr><th>faults</th><td>%s (mean %s apart)</td></tr><tr><th>clients</th><td>%d</td></tr>\n",
		rep.Seed, rep.Config.Nodes, rep.Config.Duration, e(strings.Join(rep.Config.Kinds, ",")), rep.Config.Rate, rep.Config.Clients)
	kinds := make([]string, 0, len(s.FaultsByKind))
	for k := range s.FaultsByKind {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, s.FaultsByKind[k]))
	}
	slices.Sort(kinds)
	fmt.Fprintf(w, "<tr><th>faults injected</th><td>%s; skipped %d, unsupported %d</td></tr>\n", e(orNone(kinds)), s.FaultsSkipped, s.FaultsUnsupported)
	fmt.Fprintf(w, "<tr><th>events</th><td>%d acked, %d in failed batches, %d in the stream</td></tr>\n", s.EventsAcked, s.EventsFailed, s.EventsInStream)
	fmt.Fprintf(w, "<tr><th>node crashes</th><td>%d</td></tr>\n", s.NodeCrashes)
	if rep.Config.Scheduled {
		fmt.Fprintf(w, "<tr><th>scheduled view</th><td>%s</td></tr>\n", e(ownersLine(rep)))
	}
	fmt.Fprintf(w, "<tr><th>longest write outage</th><td>%.0f ms after %s; longest gap without an ack %.0f ms</td></tr>\n", s.LongestOutageMs, e(orNone(nonEmpty(s.LongestOutageBy))), s.LongestGapMs)
	for _, d := range rep.Availability.OutageDist {
		fmt.Fprintf(w, "<tr><th>write outage, %s</th><td>%s</td></tr>\n", e(d.Kind), e(outageDistLine(d)))
	}
	fmt.Fprintf(w, "</table>\n")
	fmt.Fprintf(w, "<h2>Safety checks</h2><table><tr><th>check</th><th>verdict</th><th>violations</th><th>checked</th><th>examples / note</th></tr>\n")
	for _, c := range rep.Checks {
		cls, v := "ok", "ok"
		if !c.OK {
			cls, v = "fail", "FAIL"
		}
		var ex []string
		for _, x := range c.Examples {
			ex = append(ex, e(x))
		}
		if c.Note != "" {
			ex = append(ex, "<i>"+e(c.Note)+"</i>")
		}
		fmt.Fprintf(w, "<tr><td>%s</td><td class=%q>%s</td><td>%d</td><td>%d</td><td>%s</td></tr>\n", e(c.Name), cls, v, c.Count, c.Checked, strings.Join(ex, "<br>"))
	}
	fmt.Fprintf(w, "</table>\n<h2>Timeline</h2>\n")
	writeSVG(w, rep)
	fmt.Fprintf(w, "<h2>Faults</h2><table><tr><th>#</th><th>start (s)</th><th>end (s)</th><th>fault</th><th>write outage (ms)</th><th>note</th></tr>\n")
	outage := map[int]FaultOutage{}
	for _, o := range rep.Availability.Outages {
		outage[o.Seq] = o
	}
	for _, f := range rep.Faults {
		o := "-"
		if x, ok := outage[f.Seq]; ok {
			o = fmt.Sprintf("%.0f", x.OutageMs)
			if !x.Recovered {
				o += " (not recovered)"
			}
		}
		fmt.Fprintf(w, "<tr><td>%d</td><td>%.1f</td><td>%.1f</td><td>%s</td><td>%s</td><td>%s</td></tr>\n",
			f.Seq, f.Start.Sub(rep.Begin).Seconds(), f.End.Sub(rep.Begin).Seconds(), e(f.Label()), o, e(f.Note))
	}
	fmt.Fprintf(w, "</table>\n")
	if len(rep.Crashes) > 0 {
		fmt.Fprintf(w, "<h2>Node crashes (reported, not judged)</h2><ul>")
		for _, c := range rep.Crashes {
			fmt.Fprintf(w, "<li><code>%s</code></li>", e(c))
		}
		fmt.Fprintf(w, "</ul>\n")
	}
	if len(rep.Notes) > 0 {
		fmt.Fprintf(w, "<h2>Notes</h2><ul>")
		for _, n := range rep.Notes {
			fmt.Fprintf(w, "<li>%s</li>", e(n))
		}
		fmt.Fprintf(w, "</ul>\n")
	}
	fmt.Fprintf(w, "</body></html>\n")
}

// writeSVG draws two panels sharing the time axis: acked events/s (with
// failed attempts as red ticks) and p50/p99 ack latency; fault windows
// are shaded across both and labelled above.
func writeSVG(w io.Writer, rep *Report) {
	const (
		width, left, right = 1100.0, 60.0, 20.0
		labelH             = 70.0
		panelH             = 180.0
		gapH               = 30.0
	)
	secs := rep.Availability.Seconds
	total := math.Max(1, rep.End.Sub(rep.Begin).Seconds())
	plotW := width - left - right
	x := func(t float64) float64 { return left + plotW*math.Max(0, math.Min(t, total))/total }
	top1 := labelH
	top2 := labelH + panelH + gapH
	height := top2 + panelH + 40
	var maxAck float64 = 1
	var maxLat float64 = 1
	for _, s := range secs {
		maxAck = math.Max(maxAck, float64(s.Acked))
		maxLat = math.Max(maxLat, s.P99Ms)
	}
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", width, height)
	// Fault windows.
	for i, f := range rep.Faults {
		if f.Skipped {
			continue
		}
		x0, x1 := x(f.Start.Sub(rep.Begin).Seconds()), x(f.End.Sub(rep.Begin).Seconds())
		if x1-x0 < 2 {
			x1 = x0 + 2
		}
		c := faultColors[f.Kind]
		if c == "" {
			c = "#999"
		}
		fmt.Fprintf(w, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" fill-opacity="0.18"><title>%s</title></rect>`+"\n",
			x0, top1, x1-x0, top2+panelH-top1, c, html.EscapeString(fmt.Sprintf("#%d %s (%.1fs–%.1fs) %s", f.Seq, f.Label(), f.Start.Sub(rep.Begin).Seconds(), f.End.Sub(rep.Begin).Seconds(), f.Note)))
		ly := 12 + float64(i%5)*12
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>`+"\n", x0, ly+2, x0, top1, c)
		fmt.Fprintf(w, `<text x="%.1f" y="%.1f" fill="%s">#%d %s</text>`+"\n", x0+2, ly, c, f.Seq, html.EscapeString(f.Label()))
	}
	// Axes and grid.
	for _, top := range []float64{top1, top2} {
		fmt.Fprintf(w, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#888"/>`+"\n", left, top, plotW, panelH)
	}
	step := niceStep(total / 12)
	for t := 0.0; t <= total+1e-9; t += step {
		fmt.Fprintf(w, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#eee"/><text x="%.1f" y="%.0f" text-anchor="middle">%.0fs</text>`+"\n",
			x(t), top2+panelH, x(t), top2+panelH+4, x(t), top2+panelH+16, t)
	}
	yAck := func(v float64) float64 { return top1 + panelH - panelH*v/maxAck }
	yLat := func(v float64) float64 { return top2 + panelH - panelH*math.Min(v, maxLat)/maxLat }
	fmt.Fprintf(w, `<text x="%.0f" y="%.0f">acked events/s (max %.0f); red ticks: failed attempts</text>`+"\n", left+4, top1+12, maxAck)
	fmt.Fprintf(w, `<text x="%.0f" y="%.0f">ack latency ms (max %.0f): p50 blue, p99 orange</text>`+"\n", left+4, top2+12, maxLat)
	fmt.Fprintf(w, `<text x="%.0f" y="%.0f" text-anchor="end">%.0f</text><text x="%.0f" y="%.0f" text-anchor="end">0</text>`+"\n", left-4, top1+10, maxAck, left-4, top1+panelH)
	fmt.Fprintf(w, `<text x="%.0f" y="%.0f" text-anchor="end">%.0f</text><text x="%.0f" y="%.0f" text-anchor="end">0</text>`+"\n", left-4, top2+10, maxLat, left-4, top2+panelH)
	var ack, p50, p99 []string
	for _, s := range secs {
		t := float64(s.T) + 0.5
		ack = append(ack, fmt.Sprintf("%.1f,%.1f", x(t), yAck(float64(s.Acked))))
		p50 = append(p50, fmt.Sprintf("%.1f,%.1f", x(t), yLat(s.P50Ms)))
		p99 = append(p99, fmt.Sprintf("%.1f,%.1f", x(t), yLat(s.P99Ms)))
		if s.Errors > 0 {
			fmt.Fprintf(w, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#c0392b" stroke-width="2"><title>%ds: %d failed attempts</title></line>`+"\n",
				x(t), top1+panelH, x(t), top1+panelH-math.Min(panelH, 4+2*float64(s.Errors)), s.T, s.Errors)
		}
	}
	fmt.Fprintf(w, `<polyline fill="none" stroke="#2c3e50" stroke-width="1.5" points="%s"/>`+"\n", strings.Join(ack, " "))
	fmt.Fprintf(w, `<polyline fill="none" stroke="#2980b9" stroke-width="1.5" points="%s"/>`+"\n", strings.Join(p50, " "))
	fmt.Fprintf(w, `<polyline fill="none" stroke="#e67e22" stroke-width="1.5" points="%s"/>`+"\n", strings.Join(p99, " "))
	fmt.Fprintf(w, "</svg>\n")
}

// niceStep rounds a tick interval up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return math.Max(1, m*p)
		}
	}
	return math.Max(1, 10*p)
}
