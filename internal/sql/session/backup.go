package session

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/backup"
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/sql/systables"
	"github.com/cairndb/cairn/internal/types"
)

// BACKUP, RESTORE, SHOW BACKUPS and the schedules that run a BACKUP
// (CREATE/DROP SCHEDULE, SHOW SCHEDULES). The node does the work
// (node/backup.go) through the optional Backuper; every one of these
// statements needs the admin role.

// Backuper is the optional Backend part that backs up and restores.
type Backuper interface {
	// Backup runs a backup as an operation and returns it (done or
	// failed) with the manifest it wrote.
	Backup(ctx context.Context, req BackupRequest) (*catalog.Operation, *backup.Manifest, error)
	// Restore restores into this (empty) cluster as an operation.
	Restore(ctx context.Context, req RestoreRequest) (*catalog.Operation, *backup.Manifest, error)
	// Backups lists the backups on disk ("": every disk), oldest first.
	Backups(ctx context.Context, disk string) ([]DiskBackup, error)
}

// BackupRequest is a BACKUP statement, checked.
type BackupRequest struct {
	Scope       backup.Scope
	Disk        string
	Incremental bool
}

// RestoreRequest is a RESTORE statement, checked.
type RestoreRequest struct {
	Scope backup.Scope
	Disk  string
	AsOf  int64  // unix µs; 0: the newest backup
	ID    string // a backup id; "": by AsOf
}

// DiskBackup is a backup found on a disk.
type DiskBackup struct {
	Disk string
	*backup.Manifest
}

var backupResultCols = []pgwire.Column{{Name: "op_id", T: types.Int8}, {Name: "op_type", T: types.Text}, {Name: "status", T: types.Text},
	{Name: "backup_id", T: types.Text}, {Name: "groups", T: types.Int8}, {Name: "bytes", T: types.Int8}}

var showBackupsCols = []pgwire.Column{{Name: "disk", T: types.Text}, {Name: "backup_id", T: types.Text}, {Name: "started", T: types.TimestampTZ},
	{Name: "finished", T: types.TimestampTZ}, {Name: "scope", T: types.Text}, {Name: "incremental", T: types.Bool}, {Name: "base", T: types.Text},
	{Name: "groups", T: types.Int8}, {Name: "bytes", T: types.Int8}}

func tstz(us int64) types.Datum {
	if us == 0 {
		return types.NullOf(types.TimestampTZ)
	}
	return types.NewInt(types.TimestampTZ, us)
}

func textOrNull(s string) types.Datum {
	if s == "" {
		return types.NullOf(types.Text)
	}
	return txt(s)
}

// prepareBackupStmt prepares the statements of this file; ok is false
// for others.
func (s *Session) prepareBackupStmt(stmt parser.Statement) (*prepared, bool, error) {
	if backupStmtName(stmt) == "" {
		return nil, false, nil
	}
	bk, ok := s.b.(Backuper)
	if !ok {
		return nil, true, pgerr.UnsupportedStmt.New(stmt)
	}
	var p *prepared
	var err error
	switch st := stmt.(type) {
	case *parser.Backup:
		p, err = s.prepareBackup(bk, st)
	case *parser.Restore:
		p, err = s.prepareRestore(bk, st)
	case *parser.ShowBackups:
		p, err = s.prepareShowBackups(bk, st)
	case *parser.CreateSchedule:
		p, err = s.prepareCreateSchedule(st)
	case *parser.DropSchedule:
		p = s.proposeStmt("DROP SCHEDULE", st.P, func(*catalog.Catalog) (catalog.Command, error) {
			return &catalog.DropSchedules{Names: st.Names, IfExists: st.IfExists}, nil
		})
	case *parser.ShowSchedules:
		p = s.prepareShowSchedules()
	}
	return p, true, err
}

// backupStmtName names the statements of this file, for the admin
// check (adminNeeds); "" for others.
func backupStmtName(stmt parser.Statement) string {
	switch stmt.(type) {
	case *parser.Backup:
		return "BACKUP"
	case *parser.Restore:
		return "RESTORE"
	case *parser.ShowBackups:
		return "SHOW BACKUPS"
	case *parser.CreateSchedule:
		return "CREATE SCHEDULE"
	case *parser.DropSchedule:
		return "DROP SCHEDULE"
	case *parser.ShowSchedules:
		return "SHOW SCHEDULES"
	}
	return ""
}

// backupScope checks a BACKUP or RESTORE target; live: the object must
// exist in this cluster (BACKUP), as the same kind.
func (s *Session) backupScope(t parser.BackupTarget, pos int, live bool) (backup.Scope, error) {
	if t.Kind == "all" || t.Kind == "" {
		return backup.Scope{Kind: backup.ScopeAll}, nil
	}
	name := s.lookupKey(t.Name)
	sc := backup.Scope{Kind: t.Kind, Name: name}
	if !live {
		return sc, nil
	}
	cat := s.b.Catalog()
	var ok bool
	switch t.Kind {
	case backup.ScopeStream:
		ok = cat.Streams[name] != nil
	case backup.ScopeView:
		ok = cat.Views[name] != nil
	case backup.ScopeTable:
		ok = cat.Tables[name] != nil
	}
	if !ok {
		return sc, pgerr.BackupObjectNotFound.New(t.Kind, t.Name).WithPos(pos)
	}
	return sc, nil
}

// checkBackup checks a BACKUP statement (also the one a schedule runs).
func (s *Session) checkBackup(st *parser.Backup) (BackupRequest, error) {
	req := BackupRequest{Disk: st.Disk}
	for _, o := range st.With {
		switch o.Key {
		case "incremental":
			v, ok := boolOption(o.Value)
			if !ok {
				return req, pgerr.BackupOptionValue.New(o.Key, parser.FormatExpr(o.Value)).WithPos(o.P)
			}
			req.Incremental = v
		default:
			return req, pgerr.BackupOption.New(o.Key).WithPos(o.P)
		}
	}
	var err error
	if req.Scope, err = s.backupScope(st.Target, st.P, true); err != nil {
		return req, err
	}
	if s.b.Catalog().Disks[st.Disk] == nil {
		return req, pgerr.DiskNotFound.New(st.Disk).WithPos(st.P)
	}
	return req, nil
}

// boolOption reads a WITH option's boolean value (true/false, on/off,
// 1/0, as a word or a string).
func boolOption(e parser.Expr) (bool, bool) {
	var v string
	switch x := e.(type) {
	case *parser.Literal:
		v = x.Val
	case *parser.ColumnRef:
		v = x.Name
	default:
		return false, false
	}
	switch strings.ToLower(v) {
	case "true", "on", "1", "yes":
		return true, true
	case "false", "off", "0", "no":
		return false, true
	}
	return false, false
}

func backupRow(o *catalog.Operation, m *backup.Manifest) []types.Datum {
	id, groups, bytes := types.NullOf(types.Text), int64(0), int64(0)
	if m != nil {
		id, groups, bytes = txt(m.ID), int64(len(m.Groups)), m.Bytes()
	}
	return []types.Datum{i8(int64(o.ID)), txt(o.Type), txt(o.Status), id, i8(groups), i8(bytes)}
}

func (s *Session) prepareBackup(bk Backuper, st *parser.Backup) (*prepared, error) {
	if _, err := s.checkBackup(st); err != nil {
		return nil, err
	}
	return &prepared{cols: backupResultCols, run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		req, err := s.checkBackup(st)
		if err != nil {
			return "", err
		}
		o, m, err := bk.Backup(ctx, req)
		if err != nil {
			return "", pgerr.From(err).WithPos(st.P)
		}
		return "BACKUP", w.Row(backupRow(o, m))
	}}, nil
}

func (s *Session) prepareRestore(bk Backuper, st *parser.Restore) (*prepared, error) {
	req := RestoreRequest{Disk: st.Disk}
	var err error
	if req.Scope, err = s.backupScope(st.Target, st.P, false); err != nil {
		return nil, err
	}
	if st.ID != nil {
		req.ID = *st.ID
	}
	if st.AsOf != nil {
		d, err := types.ParseText(types.TimestampTZ, *st.AsOf)
		if err != nil || d.Null {
			return nil, pgerr.BackupBadAsOf.New(*st.AsOf).WithPos(st.P)
		}
		req.AsOf = d.I
	}
	return &prepared{cols: backupResultCols, run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		if s.b.Catalog().Disks[st.Disk] == nil {
			return "", pgerr.DiskNotFound.New(st.Disk).WithPos(st.P)
		}
		o, m, err := bk.Restore(ctx, req)
		if err != nil {
			return "", pgerr.From(err).WithPos(st.P)
		}
		s.b.Reconcile()
		if o != nil && o.Status == catalog.OpDone {
			s.waitRestoredScheduled(ctx, w)
		}
		return "RESTORE", w.Row(backupRow(o, m))
	}}, nil
}

func (s *Session) prepareShowBackups(bk Backuper, st *parser.ShowBackups) (*prepared, error) {
	return &prepared{cols: showBackupsCols, run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		if st.Disk != "" && s.b.Catalog().Disks[st.Disk] == nil {
			return "", pgerr.DiskNotFound.New(st.Disk).WithPos(st.P)
		}
		bs, err := bk.Backups(ctx, st.Disk)
		if err != nil {
			return "", pgerr.From(err).WithPos(st.P)
		}
		for _, b := range bs {
			row := []types.Datum{txt(b.Disk), txt(b.ID), tstz(b.Time), tstz(b.End), txt(b.Scope.String()),
				types.NewBool(b.Incremental), textOrNull(b.Base), i8(int64(len(b.Groups))), i8(b.Bytes())}
			if err := w.Row(row); err != nil {
				return "", err
			}
		}
		return "SHOW BACKUPS", nil
	}}, nil
}

// ParseEvery reads a schedule's EVERY interval: at least minEvery.
func ParseEvery(s string) (time.Duration, bool) {
	d, err := types.ParseText(types.Interval, s)
	if err != nil || d.Null {
		return 0, false
	}
	iv := d.Iv
	dur := time.Duration(iv.Months)*30*24*time.Hour + time.Duration(iv.Days)*24*time.Hour + time.Duration(iv.Micros)*time.Microsecond
	return dur, dur >= minEvery
}

// minEvery is the shortest schedule interval.
const minEvery = 10 * time.Second

func (s *Session) prepareCreateSchedule(st *parser.CreateSchedule) (*prepared, error) {
	every, ok := ParseEvery(st.Every)
	if !ok {
		return nil, pgerr.ScheduleEvery.New(st.Every).WithPos(st.P)
	}
	if _, err := s.checkBackup(st.Backup); err != nil {
		return nil, err
	}
	user := s.currentUser()
	return s.proposeStmt("CREATE SCHEDULE", st.P, func(*catalog.Catalog) (catalog.Command, error) {
		req, err := s.checkBackup(st.Backup)
		if err != nil {
			return nil, err
		}
		// The schedule runs the statement with its object's catalog key,
		// whatever search_path is when it runs.
		b := *st.Backup
		b.Target.Name = req.Scope.Name
		now := time.Now().UnixMicro()
		return &catalog.CreateSchedule{IfNotExists: st.IfNotExists, Schedule: &catalog.Schedule{
			Name: st.Name, Statement: parser.Format(&b), Disk: st.Backup.Disk, EveryMS: every.Milliseconds(),
			NextRun: now + every.Microseconds(), Owner: user, CreatedAt: now,
		}}, nil
	}), nil
}

func (s *Session) prepareShowSchedules() *prepared {
	t := systables.Schedules(s.b.Catalog())
	cols := make([]pgwire.Column, len(t.Cols))
	for i, c := range t.Cols {
		cols[i] = pgwire.Column{Name: c.Name, T: c.T}
	}
	return &prepared{cols: cols, run: func(ctx context.Context, _ []types.Datum, w pgwire.ResultWriter) (string, error) {
		for _, row := range systables.Schedules(s.b.Catalog()).Rows {
			if err := w.Row(row); err != nil {
				return "", err
			}
		}
		return "SHOW SCHEDULES", nil
	}}
}

// waitRestoredScheduled waits, as CREATE VIEW does, until every
// scheduled view RESTORE recreated has an owner and has folded its
// restored streams, so that it can be read when RESTORE returns. The
// restore itself is done: a view that takes too long gets a NOTICE, not
// an error (it goes on in the background).
func (s *Session) waitRestoredScheduled(ctx context.Context, w pgwire.ResultWriter) {
	for _, v := range s.b.Catalog().ScheduledViews() {
		cur, err := s.waitAssigned(ctx, v, w)
		if err != nil {
			w.Notice(fmt.Sprintf("restored view %q is not running yet: %v", v.Name, err))
			continue
		}
		st := s.b.Catalog().Streams[cur.Stream]
		if st == nil {
			continue
		}
		target := *cur
		target.BackfillTo = nil
		for _, src := range s.viewStreams(st, cur) {
			for i := range src.Groups {
				end, err := s.b.StreamEnd(ctx, src, i)
				if err != nil {
					w.Notice(fmt.Sprintf("restored view %q: %v; it folds its streams in the background", v.Name, err))
					target.BackfillTo = nil
					break
				}
				target.BackfillTo = append(target.BackfillTo, end)
			}
		}
		if len(target.BackfillTo) == 0 {
			continue
		}
		if err := s.waitBackfill(ctx, &target, w); err != nil {
			w.Notice(fmt.Sprintf("restored view %q folds its streams in the background: %v", v.Name, err))
		}
	}
}
