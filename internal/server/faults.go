package server

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/exec"
	"github.com/cairndb/cairn/internal/viewsm"
)

// This file holds what only tests switch on: the faults a node injects on
// POST /debug/faults (--unsafe-test-faults) and the deliberate bugs of
// --unsafe-bug, which let a checker such as cairn chaos prove it catches
// real defects. Nothing here runs unless switched on.

// DiskFaults makes this node's raft store fail or stall its synced writes
// (its SyncFault hook). The zero value injects nothing.
type DiskFaults struct {
	mode    atomic.Int32 // diskOK, diskFail or diskStall
	stallMs atomic.Int64 // with diskStall: how long each sync blocks
}

const (
	diskOK int32 = iota
	diskFail
	diskStall
)

// maxDiskStall bounds a stall, so a forgotten one ends on its own.
const maxDiskStall = 30 * time.Second

// errInjectedDiskFailure is the error an injected disk failure reports.
var errInjectedDiskFailure = errors.New("fsync failed: injected disk fault (POST /debug/faults {\"disk\":\"fail\"})")

// SyncFault is called by the raft store before each synced commit: it
// blocks while the disk is stalled, and fails once the disk is failed (the
// store then ends the process as after a real fsync error).
func (d *DiskFaults) SyncFault() error {
	switch d.mode.Load() {
	case diskFail:
		return errInjectedDiskFailure
	case diskStall:
		time.Sleep(time.Duration(d.stallMs.Load()) * time.Millisecond)
	}
	return nil
}

// syncFault is the store's hook, nil (no cost) when d is nil.
func (d *DiskFaults) syncFault() func() error {
	if d == nil {
		return nil
	}
	return d.SyncFault
}

func (d *DiskFaults) set(mode int32, ms int64) {
	d.stallMs.Store(ms)
	d.mode.Store(mode)
}

// Bugs are deliberate defects, each off unless named with --unsafe-bug
// (test builds of a checker only). A nil *Bugs has every one off; each
// check is one nil test on the normal path.
type Bugs struct {
	// AckBeforeCommit: one stream append in ten is acknowledged to the
	// client without being proposed at all, so acknowledged events are
	// missing (whether or not a leader is killed).
	AckBeforeCommit bool
	// DropViewDelta: one view delta in twenty advances the view's offsets
	// but carries no rows, so the view disagrees with its stream.
	DropViewDelta bool
	// StaleRead: read_from = leader (and primary_only) reads of streams
	// and views skip the ReadIndex barrier and read the local replica as
	// it is, even on a lagging follower.
	StaleRead bool

	acks, deltas atomic.Uint64 // counters for the one-in-N choices
}

// BugNames are the names --unsafe-bug accepts.
var BugNames = []string{"ack-before-commit", "drop-view-delta", "stale-read"}

// ParseBugs turns --unsafe-bug names (each may be a comma list) into
// Bugs; nil when none is named. An unknown name is an error.
func ParseBugs(names []string) (*Bugs, error) {
	var b Bugs
	named := false
	for _, list := range names {
		for name := range strings.SplitSeq(list, ",") {
			name = strings.TrimSpace(name)
			switch name {
			case "":
				continue
			case "ack-before-commit":
				b.AckBeforeCommit = true
			case "drop-view-delta":
				b.DropViewDelta = true
			case "stale-read":
				b.StaleRead = true
			default:
				return nil, fmt.Errorf("unknown bug %q; known: %s", name, strings.Join(BugNames, ", "))
			}
			named = true
		}
	}
	if !named {
		return nil, nil
	}
	return &b, nil
}

// String lists the bugs switched on, for the startup log.
func (b *Bugs) String() string {
	if b == nil {
		return ""
	}
	var on []string
	for i, v := range []bool{b.AckBeforeCommit, b.DropViewDelta, b.StaleRead} {
		if v {
			on = append(on, BugNames[i])
		}
	}
	return strings.Join(on, ",")
}

// bugAckWithoutCommit (ack-before-commit) reports, for one stream append
// in ten, the reply to send without proposing the append: the shard's
// current end, as if the batch were there.
func (n *Node) bugAckWithoutCommit(gid uint64) (*appendReply, bool) {
	b := n.cfg.Bugs
	if b == nil || !b.AckBeforeCommit || b.acks.Add(1)%10 != 0 {
		return nil, false
	}
	rep := &appendReply{}
	if g := n.getGroup(gid); g != nil && g.stream != nil {
		rep.End, _ = g.stream.End()
	}
	return rep, true
}

// bugSkipReadIndex (stale-read) reports whether a linearizable read of
// data group gid skips its ReadIndex barrier. The meta group keeps it:
// the bug is about user data, not the catalog.
func (n *Node) bugSkipReadIndex(gid uint64) bool {
	b := n.cfg.Bugs
	return b != nil && b.StaleRead && gid != catalog.MetaGroupID
}

// bugDropDelta (drop-view-delta) returns cmd, a view delta proposal, or
// for one in twenty the same offsets with an empty delta: the view moves
// past those events without their rows.
func (b *Bugs) bugDropDelta(plan *exec.ViewPlan, cmd []byte) []byte {
	if b == nil || !b.DropViewDelta || b.deltas.Add(1)%20 != 0 {
		return cmd
	}
	from, to, ok := splitDeltaOffsets(cmd)
	if !ok {
		return cmd
	}
	return viewsm.EncodeDelta(nil, from, to, plan.AppendDelta(nil, plan.NewDelta()))
}

// splitDeltaOffsets reads the offsets of a viewsm delta command
// ('D', uvarint count, count from-offsets, count to-offsets, delta).
func splitDeltaOffsets(cmd []byte) (from, to []uint64, ok bool) {
	if len(cmd) < 2 || cmd[0] != 'D' {
		return nil, nil, false
	}
	r := bytes.NewReader(cmd[1:])
	cnt, err := binary.ReadUvarint(r)
	if err != nil || cnt > uint64(len(cmd)) {
		return nil, nil, false
	}
	offs := make([]uint64, 2*cnt)
	for i := range offs {
		if offs[i], err = binary.ReadUvarint(r); err != nil {
			return nil, nil, false
		}
	}
	return offs[:cnt], offs[cnt:], true
}

// faultRequest is the body of POST /debug/faults (test-only). Exactly one
// of: cut this node's traffic to and from nodes (by name), heal every
// fault (network and disk), or set this node's disk fault.
type faultRequest struct {
	Isolate   string    `json:"isolate,omitempty"`   // cut this node from every other
	Partition [2]string `json:"partition,omitempty"` // cut these two from each other
	Heal      bool      `json:"heal,omitempty"`
	// Disk: "fail" (every later synced write fails: the node exits),
	// "stall" (each synced write blocks Ms milliseconds, 1..30000) or
	// "ok" (no disk fault).
	Disk string `json:"disk,omitempty"`
	Ms   int64  `json:"ms,omitempty"`
}

func (n *Node) serveFaults(w http.ResponseWriter, r *http.Request) {
	var req faultRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		http.Error(w, "malformed fault: "+err.Error(), http.StatusBadRequest)
		return
	}
	if dec.More() {
		http.Error(w, "malformed fault: one JSON object expected", http.StatusBadRequest)
		return
	}
	actions := 0
	for _, set := range []bool{req.Isolate != "", req.Partition != [2]string{}, req.Heal, req.Disk != ""} {
		if set {
			actions++
		}
	}
	if actions != 1 {
		http.Error(w, `say exactly one of isolate, partition, heal or disk, e.g. {"isolate":"n2"}, {"partition":["n1","n2"]}, {"heal":true}, {"disk":"fail"}, {"disk":"stall","ms":2000}, {"disk":"ok"}`, http.StatusBadRequest)
		return
	}
	if req.Ms != 0 && req.Disk != "stall" {
		http.Error(w, `"ms" goes with {"disk":"stall"} only`, http.StatusBadRequest)
		return
	}
	cat := n.meta.Catalog()
	id := func(name string) (uint64, bool) {
		if nd := cat.Nodes[name]; nd != nil {
			return nd.ID, true
		}
		return 0, false
	}
	disk := n.cfg.DiskFaults
	switch {
	case req.Heal:
		n.faults.HealAll()
		if disk != nil {
			disk.set(diskOK, 0)
		}
	case req.Isolate != "":
		x, ok := id(req.Isolate)
		if !ok {
			http.Error(w, "no node "+req.Isolate, http.StatusBadRequest)
			return
		}
		n.faults.Isolate(x)
	case req.Partition != [2]string{}:
		a, ok1 := id(req.Partition[0])
		b, ok2 := id(req.Partition[1])
		if !ok1 || !ok2 {
			http.Error(w, "unknown node in partition", http.StatusBadRequest)
			return
		}
		n.faults.Partition(a, b)
	default:
		if disk == nil {
			http.Error(w, "this node has no disk fault injector", http.StatusBadRequest)
			return
		}
		switch req.Disk {
		case "ok":
			disk.set(diskOK, 0)
		case "fail":
			disk.set(diskFail, 0)
		case "stall":
			if req.Ms < 1 || req.Ms > maxDiskStall.Milliseconds() {
				http.Error(w, fmt.Sprintf(`{"disk":"stall"} needs "ms" between 1 and %d`, maxDiskStall.Milliseconds()), http.StatusBadRequest)
				return
			}
			disk.set(diskStall, req.Ms)
		default:
			http.Error(w, fmt.Sprintf("unknown disk fault %q: say %s", req.Disk, strings.Join([]string{"fail", "stall", "ok"}, ", ")), http.StatusBadRequest)
			return
		}
	}
	n.log.Warn("test fault injected", "request", req)
	w.WriteHeader(http.StatusNoContent)
}
