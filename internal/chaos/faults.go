package chaos

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/testutil"
)

// sleepCtx sleeps d or until ctx is done (an early heal).
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// restartCtx bounds a restart that must happen even when the fault
// context was cancelled to heal early, but not after Ctrl-C.
func (r *runner) restart(name string) error {
	ctx, cancel := context.WithTimeout(r.runCtx, 40*time.Second)
	defer cancel()
	n := r.c.Node(name)
	if n == nil {
		return fmt.Errorf("no node %s", name)
	}
	return n.Start(ctx)
}

// claim reserves the nodes a fault takes out, or says why it cannot run
// now: a target down, already faulted or decommissioned, or more than a
// minority of the active nodes faulted together.
func (r *runner) claim(f *Fault, p PlannedFault) string {
	need, takes := nodesOf(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range need {
		if !r.up(n) {
			return n + " is not running"
		}
		if h, ok := r.mu.faulted[n]; ok {
			return n + " is already faulted (" + h + ")"
		}
		if r.mu.decom[n] {
			return n + " is decommissioned"
		}
	}
	if p.Kind == KindPartition && r.mu.partitioned {
		return "another partition is in force"
	}
	if p.Kind == KindObjstore {
		if r.mu.objstore {
			return "another objstore fault is in force"
		}
		r.mu.objstore = true
		return ""
	}
	// The minority rule is about data nodes: compute nodes hold no
	// replicas, so faulting them costs no quorum.
	active := 0
	for _, n := range r.c.Names() {
		if !r.mu.decom[n] && r.dataNode(n) {
			active++
		}
	}
	faulted := 0
	for n := range r.mu.faulted {
		if r.dataNode(n) {
			faulted++
		}
	}
	newly := 0
	for _, n := range takes {
		if r.dataNode(n) {
			newly++
		}
	}
	if p.Kind == KindMembership && p.Sub == SubDecommission {
		if r.mu.decomBusy {
			return "another decommission is running"
		}
		if active-1 < 3 {
			return "it would leave fewer than 3 data nodes"
		}
		if faulted > (active-2)/2 {
			return fmt.Sprintf("%d nodes are faulted; without %s that would be more than a minority", faulted, p.Targets[0])
		}
	}
	if newly > 0 && faulted+newly > (active-1)/2 {
		return fmt.Sprintf("%d data nodes are faulted already; %d more would exceed a minority of %d", faulted, newly, active)
	}
	for _, n := range takes {
		r.mu.faulted[n] = f.Label()
	}
	if p.Kind == KindPartition {
		r.mu.partitioned = true
	}
	if p.Kind == KindMembership && p.Sub == SubDecommission {
		r.mu.decomBusy = true
		r.mu.decom[p.Targets[0]] = true
	}
	if p.Kind == KindDisk {
		r.mu.diskFaulted[p.Targets[0]] = true
	}
	return ""
}

// nodesOf returns the nodes a fault needs running and free, and those it
// takes out (counted against the minority).
func nodesOf(p PlannedFault) (need, takes []string) {
	switch p.Kind {
	case KindKill, KindPause, KindRestart, KindCompute:
		need, takes = p.Targets, p.Targets
	case KindPartition:
		need, takes = append(slices.Clone(p.Sides[0]), p.Targets...), p.Sides[0]
	case KindDisk:
		need, takes = p.Targets, p.Targets
	case KindMembership:
		if p.Sub == SubDecommission {
			need = p.Targets
		}
	}
	return need, takes
}

// release frees what claim reserved.
func (r *runner) release(p PlannedFault) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, takes := nodesOf(p)
	for _, n := range takes {
		delete(r.mu.faulted, n)
	}
	if p.Kind == KindPartition {
		r.mu.partitioned = false
	}
	if p.Kind == KindMembership && p.Sub == SubDecommission {
		r.mu.decomBusy = false
	}
	if p.Kind == KindDisk {
		delete(r.mu.diskFaulted, p.Targets[0])
	}
	if p.Kind == KindObjstore {
		r.mu.objstore = false
	}
}

// inject carries out one planned fault and heals it after its duration,
// or early when ctx is cancelled. It records what happened.
func (r *runner) inject(ctx context.Context, p PlannedFault) {
	f := Fault{Seq: p.Seq, Kind: p.Kind, Sub: p.Sub, Targets: p.Targets, Start: time.Now()}
	if p.Kind == KindPartition {
		f.Targets = append(append(slices.Clone(p.Sides[0]), "|"), p.Sides[1]...)
		if len(p.Targets) > 0 {
			f.Note = "bridge " + p.Targets[0] + " keeps links to both sides"
		}
	}
	if p.Kind == KindCompute && p.Targets[0] == TargetOwner {
		owner, err := r.owner(ctx)
		if err != nil {
			f.Skipped, f.Note, f.End = true, "skipped: the owner of chaos_sched is unknown: "+err.Error(), f.Start
			r.logf("fault #%d %s skipped: %s", p.Seq, f.Label(), f.Note)
			r.finish(f)
			return
		}
		p.Targets = []string{owner}
		f.Targets = p.Targets
		f.Note = "the owner of chaos_sched"
	}
	if why := r.claim(&f, p); why != "" {
		f.Skipped, f.Note, f.End = true, "skipped: "+why, f.Start
		r.logf("fault #%d %s skipped: %s", p.Seq, f.Label(), why)
		r.finish(f)
		return
	}
	defer r.release(p)
	r.logf("fault #%d %s", p.Seq, f.Label())
	var notes []string
	note := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	switch p.Kind {
	case KindKill:
		n := p.Targets[0]
		if err := r.c.Node(n).Kill(); err != nil {
			note("kill: %v", err)
		}
		sleepCtx(ctx, p.Dur)
		if err := r.restart(n); err != nil {
			note("restart: %v", err)
		}
	case KindPause:
		n := p.Targets[0]
		if err := r.c.Node(n).Pause(); err != nil {
			note("pause: %v", err)
		}
		sleepCtx(ctx, p.Dur)
		if err := r.c.Node(n).Resume(); err != nil {
			note("resume: %v", err)
		}
	case KindRestart:
		n := p.Targets[0]
		if exited, _, err := r.c.Node(n).Terminate(10 * time.Second); err != nil || !exited {
			note("did not exit within 10s of SIGTERM; killed (%v)", err)
		}
		if err := r.restart(n); err != nil {
			note("restart: %v", err)
		}
	case KindPartition:
		r.partition(ctx, &f, p, note)
	case KindMembership:
		r.membership(ctx, &f, p, note)
	case KindDisk:
		r.disk(ctx, &f, p, note)
	case KindCompute:
		r.computeFault(ctx, p, note)
	case KindObjstore:
		r.objstoreFault(ctx, p, note)
	}
	if f.Note != "" {
		notes = append([]string{f.Note}, notes...)
	}
	f.Note = strings.Join(notes, "; ")
	f.End = time.Now()
	r.logf("fault #%d %s healed after %.1fs%s", p.Seq, f.Label(), f.End.Sub(f.Start).Seconds(), prefixed("; ", f.Note))
	r.finish(f)
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

func (r *runner) finish(f Fault) {
	r.mu.Lock()
	r.mu.faults = append(r.mu.faults, f)
	r.mu.Unlock()
}

// partition cuts every pair across the two sides, on both ends, then
// heals every running node.
func (r *runner) partition(ctx context.Context, f *Fault, p PlannedFault, note func(string, ...any)) {
	bg := r.runCtx
	failures := 0
	for _, a := range p.Sides[0] {
		for _, b := range p.Sides[1] {
			body := fmt.Sprintf(`{"partition":[%q,%q]}`, a, b)
			for _, n := range []string{a, b} {
				err := r.c.Node(n).PostFault(bg, body)
				if errors.Is(err, testutil.ErrFaultUnsupported) {
					f.Unsupported = true
					note("partition refused by %s: %v", n, err)
					r.healAll()
					return
				}
				if err != nil {
					failures++
				}
			}
		}
	}
	if failures > 0 {
		note("%d partition requests failed (node down or paused; the other end still cuts the link)", failures)
	}
	sleepCtx(ctx, p.Dur)
	r.healAll()
}

// healAll sends {"heal":true} to every running node but those whose
// disk fault is in force: heal also clears disk faults, and a failed disk
// must stay failed until its node exits or is killed.
func (r *runner) healAll() {
	r.mu.Lock()
	skip := maps.Clone(r.mu.diskFaulted)
	r.mu.Unlock()
	for _, n := range r.c.Up() {
		if !skip[n] {
			_ = r.c.Node(n).PostFault(r.runCtx, `{"heal":true}`)
		}
	}
}

// freeNode returns a running node no fault holds, or "".
func (r *runner) freeNode() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range r.c.Up() {
		if _, ok := r.mu.faulted[n]; !ok {
			return n
		}
	}
	return ""
}

// membership moves a shard leader, adds a node or decommissions one.
func (r *runner) membership(ctx context.Context, f *Fault, p PlannedFault, note func(string, ...any)) {
	switch p.Sub {
	case SubTransfer:
		via := r.freeNode()
		if via == "" {
			note("no free node to ask")
			return
		}
		rows, err := r.exec(ctx, via, "SELECT group_id, node_id, role FROM cairn_cluster.shards")
		if err != nil {
			note("read cairn_cluster.shards: %v", err)
			return
		}
		type group struct {
			leader    string
			followers []string
		}
		groups := map[string]*group{}
		var gids []string
		for _, row := range rows {
			if len(row) != 3 {
				continue
			}
			g := groups[row[0]]
			if g == nil {
				g = &group{}
				groups[row[0]] = g
				gids = append(gids, row[0])
			}
			switch row[2] {
			case "leader":
				g.leader = row[1]
			case "follower":
				if r.up(row[1]) {
					g.followers = append(g.followers, row[1])
				}
			}
		}
		gids = slices.DeleteFunc(gids, func(id string) bool { return groups[id].leader == "" || len(groups[id].followers) == 0 })
		if len(gids) == 0 {
			note("no group with a leader and a running follower")
			return
		}
		slices.Sort(gids)
		gid := gids[p.Pick%uint64(len(gids))]
		g := groups[gid]
		slices.Sort(g.followers)
		to := g.followers[(p.Pick>>32)%uint64(len(g.followers))]
		f.Targets = []string{"group " + gid, g.leader + "->" + to}
		if _, err := r.exec(ctx, via, fmt.Sprintf("ALTER SHARD %s TRANSFER LEADER TO '%s'", gid, to)); err != nil {
			note("ALTER SHARD %s TRANSFER LEADER TO '%s': %v", gid, to, err)
		}
	case SubAdd:
		name := p.Targets[0]
		if r.c.Node(name) != nil {
			note("%s exists already", name)
			return
		}
		via := r.freeNode()
		if via == "" {
			note("no free node to join through")
			return
		}
		if _, err := r.c.Add(r.runCtx, name, r.c.Node(via).Cluster); err != nil {
			note("add %s: %v", name, err)
		}
	case SubDecommission:
		name := p.Targets[0]
		rows, err := r.retry(ctx, 10*time.Second, fmt.Sprintf("ALTER NODE '%s' DECOMMISSION", name))
		if err != nil {
			note("ALTER NODE '%s' DECOMMISSION: %v", name, err)
			return
		}
		if len(rows) == 0 || len(rows[0]) == 0 {
			note("no operation started")
			return
		}
		op := rows[0][0]
		if _, err := strconv.Atoi(op); err != nil {
			note("unexpected answer %v", rows)
			return
		}
		status := "?"
		for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; sleepCtx(ctx, time.Second) {
			if out, err := r.retry(ctx, 5*time.Second, "SELECT status FROM cairn_cluster.operations WHERE op_id = "+op); err == nil && len(out) == 1 {
				status = out[0][0]
				if status == "done" || status == "failed" || status == "cancelled" {
					break
				}
			}
		}
		note("operation %s %s", op, status)
	}
}

// disk stalls or fails a node's disk. A node whose disk failed must
// exit; if it does not within DiskFailGrace, a probe write goes through
// it (recorded in the history: acknowledging it is a violation), then it
// is killed. Either way it is restarted.
func (r *runner) disk(ctx context.Context, f *Fault, p PlannedFault, note func(string, ...any)) {
	n := p.Targets[0]
	if p.Sub == SubStall {
		err := r.c.Node(n).PostFault(r.runCtx, `{"disk":"stall","ms":2000}`)
		if errors.Is(err, testutil.ErrFaultUnsupported) {
			f.Unsupported = true
			note("unsupported: %v", err)
			return
		}
		if err != nil {
			note("%v", err)
		}
		sleepCtx(ctx, p.Dur)
		if err := r.c.Node(n).PostFault(r.runCtx, `{"disk":"ok"}`); err != nil {
			note("end the stall: %v", err)
		}
		return
	}
	exitedCh := r.c.Node(n).Exited()
	err := r.c.Node(n).PostFault(r.runCtx, `{"disk":"fail"}`)
	if errors.Is(err, testutil.ErrFaultUnsupported) {
		f.Unsupported = true
		note("unsupported: %v", err)
		return
	}
	exited := false
	select {
	case <-exitedCh:
		exited = true
	case <-time.After(DiskFailGrace):
	case <-r.runCtx.Done():
		return
	}
	f.Exited = &exited
	if !exited {
		note("did not exit within %s of the disk failing", DiskFailGrace)
		r.probe(n)
		if err := r.c.Node(n).Kill(); err != nil {
			note("kill: %v", err)
		}
	}
	if err := r.restart(n); err != nil {
		note("restart: %v", err)
	}
}

// probe writes one batch of new ids through node and records it.
func (r *runner) probe(node string) {
	first := r.nextID.Add(1)
	b := Batch{Client: -1, Node: node, First: first, Count: 1, Start: time.Now()}
	_, err := r.exec(r.runCtx, node, fmt.Sprintf("INSERT INTO chaos_events VALUES (%d,%d,%d)", first, KeyOf(first), ValueOf(first)))
	b.End, b.OK = time.Now(), err == nil
	if err != nil {
		b.Err = err.Error()
	}
	r.record(b)
}

// final heals everything, brings every node back, waits for the views to
// catch up and reads what the checks need into h.
func (r *runner) final(ctx context.Context, h *History) {
	r.logf("healing: resuming, healing links, restarting stopped nodes")
	r.healS3(h)
	for _, n := range r.c.Up() {
		_ = r.c.Node(n).Resume()
	}
	r.healAll()
	for _, n := range r.c.Names() {
		if !r.up(n) {
			if err := r.restart(n); err != nil {
				h.Notes = append(h.Notes, fmt.Sprintf("final restart of %s: %v", n, err))
			}
		}
	}
	r.mu.Lock()
	want := len(r.c.Names()) - len(r.mu.decom)
	r.mu.Unlock()
	if err := r.waitLive(ctx, want, settleTimeout); err != nil {
		h.Notes = append(h.Notes, "after healing: "+err.Error())
	}
	rows, err := r.retry(ctx, 60*time.Second, "SET read_from = leader; SELECT id, k, v FROM chaos_events")
	if err != nil {
		h.Notes = append(h.Notes, "final read of the stream failed: "+err.Error())
	}
	for _, row := range rows {
		if len(row) != 3 {
			continue
		}
		id, e1 := strconv.ParseInt(row[0], 10, 64)
		k, e2 := strconv.ParseInt(row[1], 10, 32)
		v, e3 := strconv.ParseInt(row[2], 10, 64)
		if e1 != nil || e2 != nil || e3 != nil {
			h.Notes = append(h.Notes, fmt.Sprintf("unparsable stream row %v", row))
			continue
		}
		h.Rows = append(h.Rows, Row{ID: id, K: int32(k), V: v})
	}
	r.logf("read %d events back; waiting for the views on every node", len(h.Rows))
	wantT, wantK := ExpectedViews(h.Rows)
	deadline := time.Now().Add(viewTimeout)
	for _, n := range r.c.Up() {
		var nv NodeViews
		for i := 0; i < 10_000; i++ {
			nv = r.readViews(ctx, n)
			caught := nv.Err == "" && nv.Totals == wantT && mapsEqual(nv.PerK, wantK) && (!r.cfg.Scheduled || mapsEqual(nv.Sched, wantK))
			if caught || !time.Now().Before(deadline) || ctx.Err() != nil || outOfService(nv.Err) {
				break
			}
			sleepCtx(ctx, 250*time.Millisecond)
		}
		if outOfService(nv.Err) {
			// By design: a decommissioned (or removed) node serves no
			// sessions, so it cannot serve stale views either.
			h.Notes = append(h.Notes, fmt.Sprintf("%s refuses sessions (decommissioned or removed): its views are not read", n))
			continue
		}
		h.Views = append(h.Views, nv)
	}
	if r.cfg.Scheduled {
		r.finalElastic(ctx, h, h.Rows)
	}
	h.LeaderTerms = map[string]string{}
	for _, n := range r.c.Names() {
		b, err := os.ReadFile(filepath.Join(r.c.Node(n).DataDir, "leader-terms.log"))
		if err != nil && os.IsNotExist(err) && !r.dataNode(n) {
			continue // a compute node leads no group
		}
		if err != nil {
			h.Notes = append(h.Notes, fmt.Sprintf("%s: %v", n, err))
			continue
		}
		h.LeaderTerms[n] = string(b)
		_ = os.WriteFile(filepath.Join(r.cfg.Out, n+".leader-terms.log"), b, 0o644)
	}
}

// outOfService reports a node's refusal of sessions because an operator
// took it out of the cluster for good.
func outOfService(err string) bool {
	return strings.Contains(err, "57P03") && (strings.Contains(err, "is decommissioned") || strings.Contains(err, "was removed from the cluster"))
}

func mapsEqual(a, b map[int32]PerK) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// readViews reads both views through node (its default read path).
func (r *runner) readViews(ctx context.Context, node string) NodeViews {
	nv := NodeViews{Node: node, PerK: map[int32]PerK{}}
	tot, err := r.exec(ctx, node, "SELECT n, ids FROM chaos_totals")
	if err == nil && len(tot) > 1 {
		err = fmt.Errorf("chaos_totals has %d rows", len(tot))
	}
	if err == nil && len(tot) == 1 {
		nv.Totals.N, _ = strconv.ParseInt(tot[0][0], 10, 64)
		nv.Totals.IDs, _ = strconv.ParseInt(tot[0][1], 10, 64)
	}
	if err == nil {
		err = r.readPerK(ctx, node, "chaos_per_k", nv.PerK)
	}
	if err == nil && r.cfg.Scheduled {
		nv.Sched = map[int32]PerK{}
		err = r.readPerK(ctx, node, "chaos_sched", nv.Sched)
	}
	if err != nil {
		nv.Err = err.Error()
	}
	return nv
}

// readPerK reads a view of (k, n, s) rows through node into into.
func (r *runner) readPerK(ctx context.Context, node, view string, into map[int32]PerK) error {
	rows, err := r.exec(ctx, node, "SELECT k, n, s FROM "+view)
	for _, row := range rows {
		if len(row) != 3 {
			continue
		}
		k, _ := strconv.ParseInt(row[0], 10, 32)
		// A key twice (a bug) adds up, so the check sees the excess.
		p := into[int32(k)]
		n, _ := strconv.ParseInt(row[1], 10, 64)
		s, _ := strconv.ParseInt(row[2], 10, 64)
		p.N, p.S = p.N+n, p.S+s
		into[int32(k)] = p
	}
	return err
}
