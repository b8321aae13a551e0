// Package chaos runs a Jepsen-style fault campaign against a local Cairn
// cluster of real processes and checks the recorded history: no
// acknowledged event lost, none duplicated, none invented, views equal to
// their stream on every node, no stale linearizable read, one leader per
// (group, term), and a node whose disk failed stops serving. With the
// elastic tier (a versitygw object store, a disk, compute nodes and the
// scheduled view chaos_sched; the compute and objstore faults) it also
// checks the scheduled view against its stream and the node logs for the
// disk's secret.
//
// The package is split so the checker can be tested without processes:
// history.go (what was recorded), schedule.go (the seeded fault plan),
// check.go (pure checks over a history, on testutil's exactly-once
// checker), report.go (JSON, HTML, text), cluster.go (the processes, on
// testutil's harness), faults.go (injecting them), elastic.go (the
// elastic tier: its setup, faults and final reads) and run.go (the
// campaign that ties them).
package chaos

import (
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/testutil"
)

// Batch is one INSERT attempt of a writer (see testutil.Batch): a
// failed batch may or may not be in the stream; its ids are never resent.
type Batch = testutil.Batch

// KeyOf and ValueOf derive an event's k and v columns from its id, so the
// checker can recompute the views from the ids alone.
func KeyOf(id int64) int32 { return int32(id % 16) }

// ValueOf is the v column of the event with this id.
func ValueOf(id int64) int64 { return (id*7919)%1000 + 1 }

// Read is one linearizable point read through Node: `SET read_from =
// leader; SELECT count(*) FROM chaos_events WHERE id = ID`, issued after
// the batch holding ID was acknowledged. Result is the count, valid only
// when Err is empty.
type Read struct {
	Node   string    `json:"node"`
	ID     int64     `json:"id"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Result int64     `json:"result"`
	Err    string    `json:"err,omitempty"`
}

// Row is one event of the stream as read back at the end.
type Row struct {
	ID int64 `json:"id"`
	K  int32 `json:"k"`
	V  int64 `json:"v"`
}

// Totals is one row of chaos_totals: count(*) and sum(id).
type Totals struct {
	N   int64 `json:"n"`
	IDs int64 `json:"ids"`
}

// PerK is one row of chaos_per_k: count(*) and sum(v) of a key.
type PerK struct {
	N int64 `json:"n"`
	S int64 `json:"s"`
}

// NodeViews is what one node answered for both views at the end. Err is
// set when it could not be read at all.
type NodeViews struct {
	Node   string         `json:"node"`
	Totals Totals         `json:"totals"`
	PerK   map[int32]PerK `json:"per_k"`
	// Sched is chaos_sched (the scheduled view, the same query as
	// chaos_per_k); nil when the campaign has no scheduled view.
	Sched map[int32]PerK `json:"sched,omitempty"`
	Err   string         `json:"err,omitempty"`
}

// OwnerChange is a change of chaos_sched's owner as the watcher saw it
// in cairn_cluster.views (polled every second, so a short-lived owner
// may be missed). Owner "" is no owner.
type OwnerChange struct {
	At    time.Time `json:"at"`
	Owner string    `json:"owner"`
}

// Fault is one fault as it was carried out. Start is when it was
// injected, End when it was healed (the node answering again for kill,
// restart and disk fail). Skipped faults were planned but not injected
// (Note says why); Unsupported ones were refused by the nodes.
type Fault struct {
	Seq         int       `json:"seq"`
	Kind        string    `json:"kind"`
	Sub         string    `json:"sub,omitempty"`
	Targets     []string  `json:"targets,omitempty"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Skipped     bool      `json:"skipped,omitempty"`
	Unsupported bool      `json:"unsupported,omitempty"`
	Note        string    `json:"note,omitempty"`
	// Exited is set for a disk fail: whether the node exited by itself
	// within DiskFailGrace.
	Exited *bool `json:"exited,omitempty"`
}

// Label is a short name for plots and logs: "kill n2", "partition n1,n2|n3".
func (f Fault) Label() string {
	s := f.Kind
	if f.Sub != "" && f.Sub != f.Kind {
		s += "/" + f.Sub
	}
	if len(f.Targets) > 0 {
		// Partition targets are side, "|", side.
		s += " " + strings.ReplaceAll(joinComma(f.Targets), ",|,", " | ")
	}
	return s
}

func joinComma(xs []string) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// History is everything a campaign recorded.
type History struct {
	Begin   time.Time `json:"begin"`
	End     time.Time `json:"end"` // when the workload stopped
	Batches []Batch   `json:"-"`
	Reads   []Read    `json:"-"`
	Faults  []Fault   `json:"faults"`
	// Rows is the stream read back with read_from = leader after healing.
	Rows []Row `json:"-"`
	// Views holds both views as every live node answered them.
	Views []NodeViews `json:"-"`
	// LeaderTerms is each node's leader-terms.log ("gid term unixmicros"
	// lines), by node name.
	LeaderTerms map[string]string `json:"-"`
	// Scheduled is set when the workload has the scheduled view
	// chaos_sched (Views then hold it, and the checks judge it).
	Scheduled bool `json:"scheduled,omitempty"`
	// Owners are chaos_sched's owners over the run; Moves the
	// move_scheduled_view operations in cairn_cluster.operations at the
	// end, by status.
	Owners []OwnerChange `json:"owners,omitempty"`
	// SchedAfterKill is chaos_sched on every node after the final kill of
	// its owner (only Node, Sched and Err are set).
	SchedAfterKill []NodeViews    `json:"-"`
	Moves          map[string]int `json:"moves,omitempty"`
	// LogsScanned node logs were searched for the disk's secret access
	// key; SecretLeaks says where it was found.
	LogsScanned int      `json:"-"`
	SecretLeaks []string `json:"-"`
	// Notes are things a person should know about the run (a node that
	// did not come back, a final read that failed).
	Notes []string `json:"notes,omitempty"`
	// Crashes are Go panics and fatal errors found in the node logs.
	Crashes []string `json:"crashes,omitempty"`
}
