package node

import (
	"context"
	"fmt"
	"time"

	"github.com/cairndb/cairn/internal/backup"
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/sql/session"
)

// Schedules (CREATE SCHEDULE … FOR BACKUP … EVERY …): the meta leader
// runs each due schedule's BACKUP and records the run (UpdateSchedule:
// next run, last run, status, error). The same round fails the backup
// and restore operations whose node died (or restarted) while running
// them, so none stays "running" for ever.

// scheduleTick is how often the meta leader looks for due schedules.
const scheduleTick = 2 * time.Second

// runSchedules is one round of the schedule loop.
func (n *Node) runSchedules() {
	if !n.member.IsMetaLeader() {
		return
	}
	cat := n.meta.Catalog()
	n.failOrphanedOps(cat)
	now := time.Now()
	for _, sc := range cat.SortedSchedules() {
		if sc.NextRun > now.UnixMicro() || n.bk.scheduleRunning(sc.Name, true) {
			continue
		}
		n.wg.Add(1)
		go n.runSchedule(sc, now)
	}
}

// scheduleRunning marks schedule name running here; it reports false
// (and marks nothing) when it already is. With set false it unmarks.
func (p *backupParts) scheduleRunning(name string, set bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.schedules == nil {
		p.mu.schedules = map[string]bool{}
	}
	if !set {
		delete(p.mu.schedules, name)
		return false
	}
	if p.mu.schedules[name] {
		return true
	}
	p.mu.schedules[name] = true
	return false
}

// runSchedule runs one due schedule and records its run.
func (n *Node) runSchedule(sc *catalog.Schedule, now time.Time) {
	defer n.wg.Done()
	defer n.bk.scheduleRunning(sc.Name, false)
	ctx, cancel := context.WithTimeout(n.ctx, time.Hour)
	defer cancel()
	every := time.Duration(sc.EveryMS) * time.Millisecond
	next := now.Add(every)
	upd := &catalog.UpdateSchedule{Name: sc.Name, NextRun: next.UnixMicro(), LastRun: now.UnixMicro(), LastStatus: "running"}
	if _, err := n.proposeMeta(ctx, upd); err != nil {
		return // dropped meanwhile, or no longer the leader
	}
	err := n.scheduledBackup(ctx, sc)
	upd.LastStatus, upd.LastError = "done", ""
	if err != nil {
		upd.LastStatus, upd.LastError = "failed", pgerr.From(err).Message
		n.log.Warn("scheduled backup failed", "schedule", sc.Name, "err", err)
	}
	_, _ = n.proposeMeta(ctx, upd)
}

// scheduledBackup runs a schedule's BACKUP statement.
func (n *Node) scheduledBackup(ctx context.Context, sc *catalog.Schedule) error {
	req, err := scheduleRequest(sc.Statement)
	if err != nil {
		return err
	}
	_, _, err = n.runBackup(ctx, req)
	return err
}

// scheduleRequest reads a schedule's stored BACKUP statement (its object
// name was resolved to a catalog key when the schedule was created).
func scheduleRequest(text string) (session.BackupRequest, error) {
	stmts, _, err := parser.Parse(text)
	if err != nil {
		return session.BackupRequest{}, err
	}
	b, ok := stmts[0].(*parser.Backup)
	if len(stmts) != 1 || !ok {
		return session.BackupRequest{}, pgerr.Internal.New(fmt.Errorf("schedule statement %q is not a BACKUP", text))
	}
	req := session.BackupRequest{Disk: b.Disk, Scope: backup.Scope{Kind: b.Target.Kind, Name: b.Target.Name}}
	if req.Scope.Kind == "all" {
		req.Scope.Name = ""
	}
	for _, o := range b.With {
		if o.Key == "incremental" {
			if l, ok := o.Value.(*parser.Literal); ok && l.Val == "true" {
				req.Incremental = true
			}
		}
	}
	return req, nil
}

// failOrphanedOps fails the backup and restore operations whose node is
// dead, or is this node but no longer runs them (it restarted).
func (n *Node) failOrphanedOps(cat *catalog.Catalog) {
	for _, o := range cat.SortedOps() {
		if !o.Active() || (o.Type != catalog.OpBackup && o.Type != catalog.OpRestore) {
			continue
		}
		why := ""
		nd := cat.Nodes[o.Node]
		switch {
		case nd == nil:
			why = fmt.Sprintf("node %q that ran it left the cluster", o.Node)
		case nd.ID == n.id.RaftID:
			if !n.bk.isRunning(o.ID) && time.Since(time.UnixMicro(o.Start)) > time.Minute {
				why = fmt.Sprintf("node %q that ran it restarted", o.Node)
			}
		case n.liveness(nd) == "dead":
			why = fmt.Sprintf("node %q that ran it died", o.Node)
		}
		if why == "" {
			continue
		}
		cp := *o
		cp.Status, cp.Error, cp.End = catalog.OpFailed, why, time.Now().UnixMicro()
		ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
		_, _ = n.proposeMeta(ctx, &catalog.UpdateOperation{Operation: &cp})
		cancel()
	}
}
