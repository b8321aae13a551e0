package raftstore

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestDataDriven runs single-node scripts from testdata/ (regenerate the
// expected output with -rewrite). Commands:
//
//	start gid=N [peers=1,2]   start (or resume) a group with a countSM
//	propose gid=N             propose each input line; prints result indexes
//	status gid=N              leader, term, commit, applied, log bounds, voters
//	state gid=N               the state machine's commands and apply counts
//	crash                     drop everything not fsynced, reopen, restart groups
//	restart                   clean close and reopen, restart groups
//	destroy gid=N             destroy the group
//	groups                    persisted groups
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		h := &ddHarness{t: t, fs: vfs.NewCrashableMem(), sms: map[uint64]*countSM{}, peers: map[uint64][]uint64{}}
		h.open()
		defer func() { _ = h.s.Close() }()
		datadriven.RunTest(t, path, h.run)
	})
}

type ddHarness struct {
	t     *testing.T
	fs    *vfs.MemFS
	s     *Store
	sms   map[uint64]*countSM
	peers map[uint64][]uint64
}

func (h *ddHarness) open() {
	h.s = openTestStore(h.t, Config{Dir: "db", FS: h.fs, TickInterval: 50 * time.Millisecond})
}

func (h *ddHarness) gid(d *datadriven.TestData) uint64 {
	var gid uint64
	d.ScanArgs(h.t, "gid", &gid)
	return gid
}

// reopen restarts the store on fs and resumes every started group.
func (h *ddHarness) reopen(fs *vfs.MemFS) string {
	if err := h.s.Close(); err != nil {
		return err.Error()
	}
	h.fs = fs
	h.open()
	var out strings.Builder
	for _, gid := range sortedKeys(h.sms) {
		sm := newCountSM(gid)
		h.sms[gid] = sm
		if err := h.s.StartGroup(gid, sm, h.peers[gid]); err != nil {
			fmt.Fprintf(&out, "group %d: %v\n", gid, err)
			delete(h.sms, gid)
		}
	}
	return out.String()
}

func sortedKeys[V any](m map[uint64]V) []uint64 {
	var ks []uint64
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}

func (h *ddHarness) run(t *testing.T, d *datadriven.TestData) string {
	ctx := ctxT(t)
	switch d.Cmd {
	case "start":
		gid := h.gid(d)
		var peers []uint64
		if d.HasArg("peers") {
			d.ScanArgs(t, "peers", &peers)
		}
		sm := newCountSM(gid)
		if err := h.s.StartGroup(gid, sm, peers); err != nil {
			return err.Error()
		}
		h.sms[gid], h.peers[gid] = sm, peers
		return "ok"
	case "propose":
		gid := h.gid(d)
		var out strings.Builder
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			res, err := h.s.Propose(ctx, gid, []byte(line))
			if err != nil {
				fmt.Fprintf(&out, "%s: %v\n", line, err)
				continue
			}
			fmt.Fprintf(&out, "%s: index %d\n", line, res)
		}
		return out.String()
	case "status":
		gid := h.gid(d)
		// Scripts run single-voter groups: wait for leadership and the
		// leader's first entry of its term to apply, so the output does
		// not depend on timing.
		var st GroupStatus
		eventually(t, 5*time.Second, func() error {
			var ok bool
			if st, ok = h.s.Status(gid); !ok {
				return nil
			}
			if !st.IsLeader || st.Applied != st.LastIndex || st.Commit != st.LastIndex {
				return fmt.Errorf("not settled: %+v", st)
			}
			return nil
		})
		if st.ID == 0 {
			return "not found"
		}
		return fmt.Sprintf("leader=%d term=%d commit=%d applied=%d first=%d last=%d voters=%v",
			st.Leader, st.Term, st.Commit, st.Applied, st.FirstIndex, st.LastIndex, st.Voters)
	case "state":
		sm := h.sms[h.gid(d)]
		if sm == nil {
			return "not started"
		}
		snap := sm.snapshot()
		keys := make([]string, 0, len(snap))
		for k := range snap {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&out, "%s=%d\n", k, snap[k])
		}
		return out.String()
	case "crash":
		return h.reopen(h.fs.CrashClone(vfs.CrashCloneCfg{})) + "ok"
	case "restart":
		return h.reopen(h.fs) + "ok"
	case "destroy":
		gid := h.gid(d)
		delete(h.sms, gid)
		if err := h.s.DestroyGroup(gid); err != nil {
			return err.Error()
		}
		return "ok"
	case "groups":
		gs, err := h.s.PersistedGroups()
		if err != nil {
			return err.Error()
		}
		return fmt.Sprint(gs)
	}
	return fmt.Sprintf("unknown command %q", d.Cmd)
}
