package testutil

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Names of the checks, as reports and tests name them.
const (
	CheckNameLost       = "lost"
	CheckNameDuplicated = "duplicated"
	CheckNameNeverSent  = "never_sent"
	CheckNameViews      = "view_mismatch"
	CheckNameSplitBrain = "split_brain"
)

// MaxExamples bounds the examples a check keeps.
const MaxExamples = 20

// Batch is one write attempt of a workload: the contiguous ids
// [First, First+Count) went to Node between Start and End. A failed batch
// (OK false) may or may not be in the stream; its ids are never resent.
// Count 0 means the writer could not even connect (nothing was sent).
type Batch struct {
	Client int       `json:"client"`
	Node   string    `json:"node"`
	First  int64     `json:"first"`
	Count  int       `json:"count"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	OK     bool      `json:"ok"`
	Err    string    `json:"err,omitempty"`
}

// Contains reports whether id was part of the batch.
func (b Batch) Contains(id int64) bool { return id >= b.First && id < b.First+int64(b.Count) }

// CheckResult is the verdict of one check. Count is the number of
// violations; Checked how many things were looked at (ids, reads, nodes,
// leaderships) so a pass over nothing is visible.
type CheckResult struct {
	Name     string   `json:"name"`
	OK       bool     `json:"ok"`
	Count    int      `json:"count"`
	Checked  int      `json:"checked"`
	Examples []string `json:"examples,omitempty"`
	Note     string   `json:"note,omitempty"`
}

// Fail counts one violation and keeps its description as an example.
func (r *CheckResult) Fail(format string, args ...any) {
	r.Count++
	if len(r.Examples) < MaxExamples {
		r.Examples = append(r.Examples, fmt.Sprintf(format, args...))
	}
}

// Done sets OK and returns the result.
func (r *CheckResult) Done() CheckResult {
	r.OK = r.Count == 0
	return *r
}

// String is one line: the name, the verdict, and the first example.
func (r CheckResult) String() string {
	if r.OK {
		return fmt.Sprintf("%s: ok (%d checked)", r.Name, r.Checked)
	}
	s := fmt.Sprintf("%s: %d of %d", r.Name, r.Count, r.Checked)
	if len(r.Examples) > 0 {
		s += ", e.g. " + r.Examples[0]
	}
	return s
}

// ExactlyOnce judges the ids read back from a stream (in any order, each
// as often as it is there; sorted in place) against the batches sent: no
// id of an acknowledged batch missing (lost), none there twice
// (duplicated), none that no batch sent (never_sent). Failed batches may
// be in or not.
func ExactlyOnce(batches []Batch, ids []int64) []CheckResult {
	slices.Sort(ids)
	return []CheckResult{CheckLost(batches, ids), CheckDuplicated(ids), CheckNeverSent(batches, ids)}
}

// Failed reports the checks that did not pass, one line each, or "".
func Failed(checks []CheckResult) string {
	var out []string
	for _, c := range checks {
		if !c.OK {
			out = append(out, c.String())
		}
	}
	return strings.Join(out, "; ")
}

// present reports whether sorted holds id.
func present(sorted []int64, id int64) bool {
	_, ok := slices.BinarySearch(sorted, id)
	return ok
}

// CheckLost fails for every id of an acknowledged batch missing from the
// sorted ids.
func CheckLost(batches []Batch, sorted []int64) CheckResult {
	res := CheckResult{Name: CheckNameLost}
	for _, b := range batches {
		if !b.OK {
			continue
		}
		for id := b.First; id < b.First+int64(b.Count); id++ {
			res.Checked++
			if !present(sorted, id) {
				res.Fail("id %d acknowledged by %s at %s is not in the stream", id, b.Node, b.End.UTC().Format("15:04:05.000"))
			}
		}
	}
	return res.Done()
}

// CheckDuplicated fails for every id that is in the sorted ids more than
// once.
func CheckDuplicated(sorted []int64) CheckResult {
	res := CheckResult{Name: CheckNameDuplicated, Checked: len(sorted)}
	for i := 0; i < len(sorted); {
		j := i + 1
		for j < len(sorted) && sorted[j] == sorted[i] {
			j++
		}
		if j-i > 1 {
			res.Fail("id %d is in the stream %d times", sorted[i], j-i)
		}
		i = j
	}
	return res.Done()
}

// CheckNeverSent fails for every id that no batch attempted (acked or
// failed).
func CheckNeverSent(batches []Batch, ids []int64) CheckResult {
	res := CheckResult{Name: CheckNameNeverSent, Checked: len(ids)}
	idx := NewBatchIndex(batches, false)
	for _, id := range ids {
		if _, ok := idx.Find(id); !ok {
			res.Fail("id %d is in the stream but was never sent", id)
		}
	}
	return res.Done()
}

// BatchIndex finds the batch holding an id.
type BatchIndex []Batch

// NewBatchIndex indexes the batches that sent something (with okOnly,
// the acknowledged ones).
func NewBatchIndex(batches []Batch, okOnly bool) BatchIndex {
	var idx BatchIndex
	for _, b := range batches {
		if b.Count > 0 && (b.OK || !okOnly) {
			idx = append(idx, b)
		}
	}
	slices.SortFunc(idx, func(a, b Batch) int { return cmp.Compare(a.First, b.First) })
	return idx
}

// Find returns the batch that sent id.
func (x BatchIndex) Find(id int64) (Batch, bool) {
	i := sort.Search(len(x), func(i int) bool { return x[i].First+int64(x[i].Count) > id })
	if i < len(x) && x[i].Contains(id) {
		return x[i], true
	}
	return Batch{}, false
}

// ViewRow is one row of a view as text: Key names the view and the
// row's group ("chaos_per_k k=3"), Value its aggregates ("n=2 s=9").
type ViewRow struct{ Key, Value string }

// NodeView is what one node answered for the views; Err is set when it
// could not be read at all.
type NodeView struct {
	Node string
	Rows []ViewRow
	Err  string
}

// CheckViews fails for every node whose view rows differ from want (the
// views recomputed from the stream), or that could not answer. A row one
// side lacks compares as missing.
func CheckViews(want []ViewRow, views []NodeView) CheckResult {
	res := CheckResult{Name: CheckNameViews, Checked: len(views)}
	for _, v := range views {
		if v.Err != "" {
			res.Fail("%s: views unreadable: %s", v.Node, v.Err)
			continue
		}
		got := map[string]string{}
		for _, r := range v.Rows {
			got[r.Key] = r.Value
		}
		seen := map[string]bool{}
		for _, w := range want {
			seen[w.Key] = true
			if g, ok := got[w.Key]; !ok || g != w.Value {
				res.Fail("%s: %s %s, the stream gives %s", v.Node, w.Key, orMissing(g, ok), w.Value)
			}
		}
		for _, r := range v.Rows {
			if !seen[r.Key] {
				res.Fail("%s: %s %s, the stream gives %s", v.Node, r.Key, r.Value, "no such row")
			}
		}
	}
	if len(views) == 0 {
		res.Fail("no node answered for the views")
	}
	return res.Done()
}

func orMissing(v string, ok bool) string {
	if !ok {
		return "no such row"
	}
	return v
}

// CheckSplitBrain parses every node's leader-terms.log ("gid term
// unixmicros" per line), by node name, and fails for every (group, term)
// that two nodes claim to have led.
func CheckSplitBrain(terms map[string]string) CheckResult {
	res := CheckResult{Name: CheckNameSplitBrain}
	type key struct{ gid, term int64 }
	seen := map[key]string{}
	names := make([]string, 0, len(terms))
	for n := range terms {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, line := range strings.Split(terms[name], "\n") {
			var gid, term, at int64
			if _, err := fmt.Sscan(line, &gid, &term, &at); err != nil {
				continue
			}
			res.Checked++
			k := key{gid, term}
			if other, ok := seen[k]; ok && other != name {
				res.Fail("group %d term %d was led by both %s and %s", gid, term, other, name)
				continue
			}
			seen[k] = name
		}
	}
	res.Note = fmt.Sprintf("%d leaderships over %d (group, term) pairs in %d nodes' leader-terms.log", res.Checked, len(seen), len(terms))
	if res.Checked == 0 && len(terms) > 0 {
		res.Fail("no leadership recorded at all: leader-terms.log empty on every node")
	}
	return res.Done()
}
