package chaos

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/testutil"
)

// Names of the safety checks: those of testutil's exactly-once checker,
// and the chaos-only ones.
const (
	CheckNameLost       = testutil.CheckNameLost
	CheckNameDuplicated = testutil.CheckNameDuplicated
	CheckNameNeverSent  = testutil.CheckNameNeverSent
	CheckNameViews      = testutil.CheckNameViews
	CheckNameStale      = "stale_read"
	CheckNameSplitBrain = testutil.CheckNameSplitBrain
	CheckNameDiskFail   = "disk_fail_kept_serving"
	CheckNameScheduled  = "scheduled_view"
	CheckNameSecret     = "disk_secret_in_logs"
)

// CheckResult is the verdict of one safety check.
type CheckResult = testutil.CheckResult

// sortedIDs returns the ids of rows, sorted.
func sortedIDs(rows []Row) []int64 {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	slices.Sort(ids)
	return ids
}

// CheckLost fails for every id of an acknowledged batch missing from rows.
func CheckLost(batches []Batch, rows []Row) CheckResult {
	return testutil.CheckLost(batches, sortedIDs(rows))
}

// CheckDuplicates fails for every id that is in rows more than once.
func CheckDuplicates(rows []Row) CheckResult {
	return testutil.CheckDuplicated(sortedIDs(rows))
}

// CheckNeverSent fails for every row whose id no batch attempted (acked or
// failed), and for rows whose k or v differ from what was sent.
func CheckNeverSent(batches []Batch, rows []Row) CheckResult {
	ids := make([]int64, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	res := testutil.CheckNeverSent(batches, ids)
	idx := testutil.NewBatchIndex(batches, false)
	for _, r := range rows {
		if _, ok := idx.Find(r.ID); ok && (r.K != KeyOf(r.ID) || r.V != ValueOf(r.ID)) {
			res.Fail("id %d has k=%d v=%d, sent k=%d v=%d", r.ID, r.K, r.V, KeyOf(r.ID), ValueOf(r.ID))
		}
	}
	return res.Done()
}

// ExpectedViews recomputes chaos_totals and chaos_per_k from the stream.
func ExpectedViews(rows []Row) (Totals, map[int32]PerK) {
	var t Totals
	perK := map[int32]PerK{}
	for _, r := range rows {
		t.N++
		t.IDs += r.ID
		p := perK[r.K]
		p.N++
		p.S += r.V
		perK[r.K] = p
	}
	return t, perK
}

// viewRows renders both views as the checker compares them; keys of want
// a node lacks are rows of zeros there.
func viewRows(t Totals, perK, want map[int32]PerK) []testutil.ViewRow {
	out := []testutil.ViewRow{{Key: "chaos_totals", Value: fmt.Sprintf("n=%d ids=%d", t.N, t.IDs)}}
	keys := slices.Collect(maps.Keys(perK))
	for k := range want {
		if _, ok := perK[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := perK[k]
		out = append(out, testutil.ViewRow{Key: fmt.Sprintf("chaos_per_k k=%d", k), Value: fmt.Sprintf("n=%d s=%d", p.N, p.S)})
	}
	return out
}

// CheckViews fails for every node whose views differ from the views
// recomputed from rows, or that could not answer at all.
func CheckViews(rows []Row, views []NodeViews) CheckResult {
	wantT, wantK := ExpectedViews(rows)
	nodes := make([]testutil.NodeView, len(views))
	for i, v := range views {
		nodes[i] = testutil.NodeView{Node: v.Node, Rows: viewRows(v.Totals, v.PerK, wantK), Err: v.Err}
	}
	return testutil.CheckViews(viewRows(wantT, wantK, nil), nodes)
}

// CheckScheduledView fails for every node whose chaos_sched (a scheduled
// view: one owner, checkpoints on the object store) differs from the
// view recomputed from rows, or that could not answer: every event
// folded exactly once through owner kills, pauses and object-store
// outages, as the Raft views are.
func CheckScheduledView(rows []Row, views []NodeViews) CheckResult {
	_, wantK := ExpectedViews(rows)
	nodes := make([]testutil.NodeView, len(views))
	for i, v := range views {
		nodes[i] = testutil.NodeView{Node: v.Node, Rows: schedRows(v.Sched, wantK), Err: v.Err}
		if v.Err == "" && v.Sched == nil {
			nodes[i].Err = "chaos_sched was not read"
		}
	}
	res := testutil.CheckViews(schedRows(wantK, nil), nodes)
	res.Name = CheckNameScheduled
	return res
}

// schedRows renders chaos_sched as the checker compares it; keys of
// want a node lacks are rows of zeros there.
func schedRows(perK, want map[int32]PerK) []testutil.ViewRow {
	keys := slices.Collect(maps.Keys(perK))
	for k := range want {
		if _, ok := perK[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]testutil.ViewRow, 0, len(keys))
	for _, k := range keys {
		p := perK[k]
		out = append(out, testutil.ViewRow{Key: fmt.Sprintf("chaos_sched k=%d", k), Value: fmt.Sprintf("n=%d s=%d", p.N, p.S)})
	}
	return out
}

// CheckStaleReads fails for every successful linearizable read that found
// 0 events with an id whose batch had been acknowledged before the read
// began: the read missed a write that completed before it started.
// Reads of ids not acknowledged before the read are not judged.
func CheckStaleReads(batches []Batch, reads []Read) CheckResult {
	res := CheckResult{Name: CheckNameStale}
	idx := testutil.NewBatchIndex(batches, true)
	judged := 0
	for _, r := range reads {
		if r.Err != "" {
			continue
		}
		b, ok := idx.Find(r.ID)
		if !ok || !b.End.Before(r.Start) {
			continue
		}
		judged++
		if r.Result == 0 {
			res.Fail("read of id %d through %s at %s found nothing; its batch was acknowledged by %s %s earlier",
				r.ID, r.Node, r.Start.UTC().Format("15:04:05.000"), b.Node, r.Start.Sub(b.End).Round(time.Millisecond))
		}
	}
	res.Checked = judged
	res.Note = fmt.Sprintf("%d of %d reads succeeded and were judged; a read is stale when it returns 0 for an id acknowledged before it began", judged, len(reads))
	return res.Done()
}

// CheckSplitBrain fails for every (group, term) that two nodes claim to
// have led, from every node's leader-terms.log by node name.
func CheckSplitBrain(terms map[string]string) CheckResult { return testutil.CheckSplitBrain(terms) }

// CheckDiskFail fails when a node whose disk failed did not exit within
// DiskFailGrace and acknowledged a write that started after the grace,
// before it was killed.
func CheckDiskFail(faults []Fault, batches []Batch) CheckResult {
	res := CheckResult{Name: CheckNameDiskFail}
	for _, f := range faults {
		if f.Kind != KindDisk || f.Sub != SubFail || f.Skipped || f.Unsupported || len(f.Targets) == 0 {
			continue
		}
		res.Checked++
		if f.Exited != nil && *f.Exited {
			continue
		}
		graceEnd := f.Start.Add(DiskFailGrace)
		for _, b := range batches {
			if b.OK && b.Node == f.Targets[0] && !b.Start.Before(graceEnd) && b.Start.Before(f.End) {
				res.Fail("%s did not exit within %s of its disk failing at %s and acknowledged ids %d..%d",
					b.Node, DiskFailGrace, f.Start.UTC().Format("15:04:05.000"), b.First, b.First+int64(b.Count)-1)
				break
			}
		}
	}
	return res.Done()
}

// CheckAll runs every safety check over h (the scheduled view's only
// when the campaign had one).
func CheckAll(h *History) []CheckResult {
	out := []CheckResult{
		CheckLost(h.Batches, h.Rows),
		CheckDuplicates(h.Rows),
		CheckNeverSent(h.Batches, h.Rows),
		CheckViews(h.Rows, h.Views),
		CheckStaleReads(h.Batches, h.Reads),
		CheckSplitBrain(h.LeaderTerms),
		CheckDiskFail(h.Faults, h.Batches),
	}
	if h.Scheduled {
		out = append(out, CheckScheduledView(h.Rows, append(slices.Clone(h.Views), h.SchedAfterKill...)), CheckSecret(h.LogsScanned, h.SecretLeaks))
	}
	return out
}

// CheckSecret fails for every node log that holds the disk's secret
// access key (leaks names them; scanned counts the logs read).
func CheckSecret(scanned int, leaks []string) CheckResult {
	res := CheckResult{Name: CheckNameSecret, Checked: scanned}
	for _, l := range leaks {
		res.Fail("%s", l)
	}
	if scanned == 0 {
		res.Fail("no node log was scanned")
	}
	res.Note = "the object store's secret access key must appear in no node log"
	return res.Done()
}

// FindSecret returns where secret appears in one node's log, by line
// number (never the line itself: it holds the secret).
func FindSecret(node, log, secret string) []string {
	var out []string
	for i, l := range strings.Split(log, "\n") {
		if strings.Contains(l, secret) {
			out = append(out, fmt.Sprintf("%s.log line %d holds the disk's secret access key", node, i+1))
		}
	}
	return out
}

// Second is one point of the availability series: events acknowledged
// by batches that ended in [T, T+1 s), failed attempts in it, and the
// latency of the acknowledged batches.
type Second struct {
	T      int     `json:"t"`
	Acked  int64   `json:"acked"`
	Errors int     `json:"errors"`
	P50Ms  float64 `json:"p50_ms"`
	P99Ms  float64 `json:"p99_ms"`
}

// FaultOutage is the write outage a fault caused: from its start to the
// acknowledgement of the first batch started after it.
type FaultOutage struct {
	Seq       int     `json:"seq"`
	Kind      string  `json:"kind"`
	Label     string  `json:"label"`
	StartS    float64 `json:"start_s"`
	OutageMs  float64 `json:"outage_ms"`
	Recovered bool    `json:"recovered"` // false: no batch started after it was acknowledged before the workload stopped
	// Overlapped: another fault was in force during this one's outage
	// (from its start to the end of the outage), so the outage may be
	// theirs together (two nodes of one group down is no quorum).
	Overlapped bool `json:"overlapped,omitempty"`
}

// Availability is reported, not judged.
type Availability struct {
	Seconds []Second      `json:"seconds"`
	Outages []FaultOutage `json:"outages"`
	// OutageDist is the distribution of Outages: all faults first, then
	// those no other fault overlapped, then one row per fault kind.
	OutageDist   []OutageDist `json:"outage_distribution"`
	LongestGapMs float64      `json:"longest_gap_ms"` // longest time without any acknowledgement
	LongestGapAt float64      `json:"longest_gap_at_s"`
	AckedEvents  int64        `json:"acked_events"`
	FailedEvents int64        `json:"failed_events"` // in failed batches: may or may not be in
	AckedBatches int          `json:"acked_batches"`
	FailedTries  int          `json:"failed_tries"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// ComputeAvailability buckets the batches of h by second from h.Begin and
// measures each fault's write outage and the longest gap between acks.
func ComputeAvailability(h *History) Availability {
	var a Availability
	n := int(math.Ceil(h.End.Sub(h.Begin).Seconds()))
	n = max(0, min(n, 24*3600))
	a.Seconds = make([]Second, n)
	lat := make([][]float64, n)
	for i := range a.Seconds {
		a.Seconds[i].T = i
	}
	var ackEnds []time.Time
	for _, b := range h.Batches {
		if b.OK {
			a.AckedEvents += int64(b.Count)
			a.AckedBatches++
			ackEnds = append(ackEnds, b.End)
		} else {
			a.FailedEvents += int64(b.Count)
			a.FailedTries++
		}
		i := int(b.End.Sub(h.Begin) / time.Second)
		if i < 0 || i >= n {
			continue
		}
		if b.OK {
			a.Seconds[i].Acked += int64(b.Count)
			lat[i] = append(lat[i], ms(b.End.Sub(b.Start)))
		} else {
			a.Seconds[i].Errors++
		}
	}
	for i := range lat {
		slices.Sort(lat[i])
		a.Seconds[i].P50Ms = percentile(lat[i], 0.5)
		a.Seconds[i].P99Ms = percentile(lat[i], 0.99)
	}
	slices.SortFunc(ackEnds, func(x, y time.Time) int { return x.Compare(y) })
	last := h.Begin
	for _, e := range append(ackEnds, h.End) {
		if g := e.Sub(last); ms(g) > a.LongestGapMs {
			a.LongestGapMs, a.LongestGapAt = ms(g), last.Sub(h.Begin).Seconds()
		}
		if e.After(last) {
			last = e
		}
	}
	for _, f := range h.Faults {
		if f.Skipped || f.Unsupported {
			continue
		}
		o := FaultOutage{Seq: f.Seq, Kind: f.Kind, Label: f.Label(), StartS: f.Start.Sub(h.Begin).Seconds()}
		var first time.Time
		for _, b := range h.Batches {
			if b.OK && !b.Start.Before(f.Start) && (first.IsZero() || b.End.Before(first)) {
				first = b.End
			}
		}
		if first.IsZero() {
			o.OutageMs = ms(h.End.Sub(f.Start))
		} else {
			o.OutageMs, o.Recovered = ms(first.Sub(f.Start)), true
		}
		outEnd := f.Start.Add(time.Duration(o.OutageMs * float64(time.Millisecond)))
		for _, g := range h.Faults {
			if g.Seq != f.Seq && !g.Skipped && !g.Unsupported && g.Start.Before(outEnd) && !g.End.Before(f.Start) {
				o.Overlapped = true
			}
		}
		a.Outages = append(a.Outages, o)
	}
	a.OutageDist = OutageDistribution(a.Outages)
	return a
}

// OutageDist summarizes the write outages of a set of faults (nearest-rank
// percentiles; an outage not recovered counts with its length up to the
// end of the workload).
type OutageDist struct {
	Kind         string  `json:"kind"` // "all" or a fault kind
	N            int     `json:"n"`
	P50Ms        float64 `json:"p50_ms"`
	P90Ms        float64 `json:"p90_ms"`
	P99Ms        float64 `json:"p99_ms"`
	MaxMs        float64 `json:"max_ms"`
	Over1s       int     `json:"over_1s"` // faults that cost a second or more
	NotRecovered int     `json:"not_recovered"`
}

// alone names the row of faults no other fault overlapped.
const alone = "alone"

// OutageDistribution is the distribution of os, over all faults, over
// those no other fault overlapped ("alone"), and by kind (kinds sorted);
// nil when os is empty.
func OutageDistribution(os []FaultOutage) []OutageDist {
	if len(os) == 0 {
		return nil
	}
	byKind := map[string][]FaultOutage{"all": os}
	for _, o := range os {
		byKind[o.Kind] = append(byKind[o.Kind], o)
		if !o.Overlapped {
			byKind[alone] = append(byKind[alone], o)
		}
	}
	kinds := slices.Sorted(maps.Keys(byKind))
	kinds = slices.DeleteFunc(kinds, func(k string) bool { return k == "all" || k == alone })
	first := []string{"all"}
	if len(byKind[alone]) > 0 {
		first = append(first, alone)
	}
	var out []OutageDist
	for _, k := range append(first, kinds...) {
		d := OutageDist{Kind: k, N: len(byKind[k])}
		xs := make([]float64, 0, d.N)
		for _, o := range byKind[k] {
			xs = append(xs, o.OutageMs)
			if o.OutageMs >= 1000 {
				d.Over1s++
			}
			if !o.Recovered {
				d.NotRecovered++
			}
		}
		slices.Sort(xs)
		d.P50Ms, d.P90Ms, d.P99Ms, d.MaxMs = percentile(xs, 0.5), percentile(xs, 0.9), percentile(xs, 0.99), xs[len(xs)-1]
		out = append(out, d)
	}
	return out
}

// percentile returns the nearest-rank percentile of sorted xs.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(xs)))) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

// FindCrashes returns the Go panics and fatal runtime errors in one node's
// log, each with the line after it (the first frame names the culprit)
// and the time of the last log line before it. They are reported, not
// judged: a crash is a liveness problem, and the checks above say whether
// it cost any safety.
func FindCrashes(node, log string) []string {
	var out []string
	lines := strings.Split(log, "\n")
	last := ""
	for i, l := range lines {
		if strings.HasPrefix(l, "time=") {
			last, _, _ = strings.Cut(strings.TrimPrefix(l, "time="), " ")
		}
		if !strings.HasPrefix(l, "panic: ") && !strings.HasPrefix(l, "fatal error: ") {
			continue
		}
		where := ""
		for _, next := range lines[i+1 : min(len(lines), i+30)] {
			if strings.Contains(next, "github.com/cairndb/") {
				where = " in " + strings.TrimSpace(next)
				break
			}
		}
		out = append(out, fmt.Sprintf("%s after %s: %s%s", node, last, l, where))
	}
	return out
}
