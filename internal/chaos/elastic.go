package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairndb/cairn/internal/testutil"
)

// The elastic tier in a campaign (Config.Scheduled): versitygw serving a
// directory under the campaign's data dir, the disk chaos_disk on it,
// compute nodes c1…cN and the scheduled view chaos_sched, the same query
// as the Raft view chaos_per_k, so the checker judges both the same way.

// maxCompute bounds --compute: this is one machine.
const maxCompute = 4

// deadAfter is the campaign's dead_after with a scheduled view: short
// enough that the longer compute kills and pauses (up to 18 and 16 s)
// make the scheduler move the view, long enough that the 2–8 s kills of
// data nodes seldom make a node dead.
const deadAfter = "10s"

// schedViewSQL is chaos_sched: chaos_per_k's query, checkpointed every 2 s.
const schedViewSQL = "CREATE MATERIALIZED VIEW chaos_sched WITH (ha = 'scheduled', disk = 'chaos_disk', checkpoint_interval = '2s') AS SELECT k, count(*) AS n, sum(v) AS s FROM chaos_events GROUP BY k"

// setupElastic starts the object store and the compute nodes (joining
// through join), shortens dead_after, and creates the disk and the
// scheduled view; it returns once the view has an owner.
func (r *runner) setupElastic(ctx context.Context, join string) error {
	dir := filepath.Join(r.dataRoot, "s3")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	s3, err := testutil.StartS3Server(ctx, dir)
	if err != nil {
		return fmt.Errorf("object store (versitygw): %w", err)
	}
	r.s3 = s3
	r.logf("object store: versitygw on %s, bucket %s", s3.Endpoint, s3.Bucket)
	for i := 1; i <= r.cfg.Compute; i++ {
		name := ComputeName(i)
		r.compute[name] = true
		if err := r.addRole(ctx, name, join, "compute"); err != nil {
			return fmt.Errorf("compute node %s: %w", name, err)
		}
	}
	if err := r.waitLive(ctx, r.cfg.Nodes+r.cfg.Compute, settleTimeout); err != nil {
		return err
	}
	for _, ddl := range []string{
		"ALTER SYSTEM SET dead_after = '" + deadAfter + "'",
		s3.CreateDiskSQL("chaos_disk", "chaos"),
		schedViewSQL,
	} {
		_, err := r.retry(ctx, 60*time.Second, ddl)
		var pe *pgconn.PgError
		if err != nil && !(errors.As(err, &pe) && (pe.Code == "42P07" || pe.Code == "42710")) {
			return fmt.Errorf("%s: %w", redactDisk(ddl), err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		owner, err := r.owner(ctx)
		if err == nil {
			r.logf("chaos_sched is owned by %s", owner)
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("chaos_sched got no owner within 30s: %w", err)
		}
		sleepCtx(ctx, 250*time.Millisecond)
	}
}

// redactDisk keeps the secret of a CREATE DISK statement out of errors.
func redactDisk(sql string) string {
	if i := strings.Index(sql, "secret_access_key"); i >= 0 {
		return sql[:i] + "secret_access_key = <redacted>)"
	}
	return sql
}

// owner returns the name of chaos_sched's owner as cairn_cluster.views
// shows it, asking the running nodes in turn for at most 5 s.
func (r *runner) owner(ctx context.Context) (string, error) {
	rows, err := r.retry(ctx, 5*time.Second, "SELECT owner_node FROM cairn_cluster.views WHERE name = 'chaos_sched'")
	if err != nil {
		return "", err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return "", fmt.Errorf("cairn_cluster.views has %d rows for chaos_sched", len(rows))
	}
	if rows[0][0] == "" {
		return "", errors.New("chaos_sched has no owner")
	}
	return rows[0][0], nil
}

// watchOwner records every change of chaos_sched's owner, polling once a
// second through a node no fault holds.
func (r *runner) watchOwner(ctx context.Context, stop chan struct{}) {
	last, failed := "?", false
	for i := 0; i < 100_000_000 && testutil.Pace(ctx, stop, time.Second); i++ {
		via := r.freeNode()
		if via == "" {
			continue
		}
		rows, err := r.exec(ctx, via, "SELECT coalesce(owner_node, '') FROM cairn_cluster.views WHERE name = 'chaos_sched'")
		if err != nil || len(rows) != 1 || len(rows[0]) != 1 {
			if !failed && err != nil {
				r.logf("owner watcher: %v", err)
			}
			failed = err != nil
			continue
		}
		failed = false
		if o := rows[0][0]; o != last {
			last = o
			who := o
			if who == "" {
				who = "none"
			}
			r.logf("chaos_sched owner: %s", who)
			r.mu.Lock()
			r.mu.owners = append(r.mu.owners, OwnerChange{At: time.Now(), Owner: o})
			r.mu.Unlock()
		}
	}
}

// computeFault kills, pauses or restarts a compute node or the view's
// owner (p.Targets holds the resolved node), like the data-node faults.
func (r *runner) computeFault(ctx context.Context, p PlannedFault, note func(string, ...any)) {
	n := p.Targets[0]
	switch p.Sub {
	case SubKill:
		if err := r.c.Node(n).Kill(); err != nil {
			note("kill: %v", err)
		}
		sleepCtx(ctx, p.Dur)
		if err := r.restart(n); err != nil {
			note("restart: %v", err)
		}
	case SubPause:
		if err := r.c.Node(n).Pause(); err != nil {
			note("pause: %v", err)
		}
		sleepCtx(ctx, p.Dur)
		if err := r.c.Node(n).Resume(); err != nil {
			note("resume: %v", err)
		}
	case SubRestart:
		if exited, _, err := r.c.Node(n).Terminate(10 * time.Second); err != nil || !exited {
			note("did not exit within 10s of SIGTERM; killed (%v)", err)
		}
		if err := r.restart(n); err != nil {
			note("restart: %v", err)
		}
	default:
		note("unknown compute fault %q", p.Sub)
	}
}

// objstoreFault makes versitygw unavailable (stopped, then started on the
// same port and directory) or slow (SIGSTOP: requests hang) for p.Dur.
func (r *runner) objstoreFault(ctx context.Context, p PlannedFault, note func(string, ...any)) {
	if r.s3 == nil {
		note("no object store in this campaign")
		return
	}
	switch p.Sub {
	case SubUnavailable:
		r.s3.Stop()
		sleepCtx(ctx, p.Dur)
		if err := r.s3.Start(); err != nil {
			note("start versitygw again: %v", err)
		}
	case SubSlow:
		if err := r.s3.Pause(); err != nil {
			note("pause versitygw: %v", err)
		}
		sleepCtx(ctx, p.Dur)
		if err := r.s3.Resume(); err != nil {
			note("resume versitygw: %v", err)
		}
	default:
		note("unknown objstore fault %q", p.Sub)
	}
}

// healS3 makes sure the object store runs and is not paused.
func (r *runner) healS3(h *History) {
	if r.s3 == nil {
		return
	}
	_ = r.s3.Resume()
	if err := r.s3.Start(); err != nil && !strings.Contains(err.Error(), "already running") {
		h.Notes = append(h.Notes, "final start of versitygw: "+err.Error())
	}
}

// stopS3 stops the object store and keeps its log in Out.
func (r *runner) stopS3() {
	if r.s3 == nil {
		return
	}
	r.s3.Stop()
	_ = os.WriteFile(filepath.Join(r.cfg.Out, "versitygw.log"), []byte(r.s3.Log()), 0o644)
}

// finalElastic kills the owner once more after the views were read (so
// every campaign ends with a takeover from a committed checkpoint, whatever
// the seed did), reads chaos_sched again on every node into
// h.SchedAfterKill, and records the owners and the view's
// move_scheduled_view operations by status.
func (r *runner) finalElastic(ctx context.Context, h *History, stream []Row) {
	o, err := r.owner(ctx)
	if err != nil {
		h.Notes = append(h.Notes, "chaos_sched's owner at the end: "+err.Error())
	} else {
		if len(h.Owners) == 0 || h.Owners[len(h.Owners)-1].Owner != o {
			h.Owners = append(h.Owners, OwnerChange{At: time.Now(), Owner: o})
		}
		r.killOwner(ctx, h, o, stream)
	}
	rows, err := r.retry(ctx, 10*time.Second, "SELECT status FROM cairn_cluster.operations WHERE op_type = 'move_scheduled_view'")
	if err != nil {
		h.Notes = append(h.Notes, "read the move_scheduled_view operations: "+err.Error())
		return
	}
	h.Moves = map[string]int{}
	for _, row := range rows {
		if len(row) == 1 {
			h.Moves[row[0]]++
		}
	}
}

// killOwner SIGKILLs owner, waits (bounded) until another node owns
// chaos_sched, restarts the old owner and reads chaos_sched on every node
// until it equals the stream again (or 60 s pass): the new owner loaded
// the last committed checkpoint and replayed the stream from its offsets.
func (r *runner) killOwner(ctx context.Context, h *History, owner string, rows []Row) {
	n := r.c.Node(owner)
	if n == nil {
		h.Notes = append(h.Notes, "final owner kill: no node "+owner)
		return
	}
	r.logf("final takeover: SIGKILL of %s, the owner of chaos_sched", owner)
	if err := n.Kill(); err != nil {
		h.Notes = append(h.Notes, fmt.Sprintf("final owner kill of %s: %v", owner, err))
		return
	}
	next := ""
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; sleepCtx(ctx, 250*time.Millisecond) {
		if o, err := r.owner(ctx); err == nil && o != owner {
			next = o
			break
		}
	}
	if err := r.restart(owner); err != nil {
		h.Notes = append(h.Notes, fmt.Sprintf("final owner kill: restart %s: %v", owner, err))
	}
	if next == "" {
		h.Notes = append(h.Notes, fmt.Sprintf("final owner kill: chaos_sched was not reassigned from %s within 60s", owner))
		return
	}
	h.Owners = append(h.Owners, OwnerChange{At: time.Now(), Owner: next})
	r.logf("final takeover: %s owns chaos_sched; reading it on every node", next)
	_, want := ExpectedViews(rows)
	deadline := time.Now().Add(viewTimeout)
	for _, node := range r.c.Up() {
		nv := NodeViews{Node: node + " (after the final owner kill)"}
		for i := 0; i < 10_000; i++ {
			got := map[int32]PerK{}
			err := r.readPerK(ctx, node, "chaos_sched", got)
			nv.Sched, nv.Err = got, ""
			if err != nil {
				nv.Err = err.Error()
			}
			if nv.Err == "" && mapsEqual(got, want) || !time.Now().Before(deadline) || ctx.Err() != nil || outOfService(nv.Err) {
				break
			}
			sleepCtx(ctx, 250*time.Millisecond)
		}
		if outOfService(nv.Err) {
			continue
		}
		h.SchedAfterKill = append(h.SchedAfterKill, nv)
	}
}
