package parser

import (
	"strings"
)

// Backup and restore (issue 13): BACKUP, RESTORE, SHOW BACKUPS, and the
// schedules that run a BACKUP periodically (CREATE/DROP SCHEDULE, SHOW
// SCHEDULES).

// BackupTarget is what BACKUP or RESTORE names: Kind is "all", "stream",
// "view" or "table"; Name the object (not for "all").
type BackupTarget struct {
	Kind string
	Name string
}

// Backup is `BACKUP [ALL | STREAM s | VIEW v | TABLE t] TO DISK d [WITH
// (option = value, ...)]`.
type Backup struct {
	P      int
	Target BackupTarget
	Disk   string
	With   []Option
}

// Restore is `RESTORE [ALL | STREAM s | VIEW v | TABLE t] FROM DISK d
// [AS OF '<timestamp>' | BACKUP '<id>']`; AsOf and ID are nil when not
// given.
type Restore struct {
	P      int
	Target BackupTarget
	Disk   string
	AsOf   *string
	ID     *string
}

// ShowBackups is `SHOW BACKUPS [FROM DISK d]` (Disk "": every disk).
type ShowBackups struct {
	P    int
	Disk string
}

// CreateSchedule is `CREATE SCHEDULE [IF NOT EXISTS] name FOR BACKUP …
// EVERY '<interval>'`.
type CreateSchedule struct {
	P           int
	Name        string
	IfNotExists bool
	Backup      *Backup
	Every       string
}

// DropSchedule is `DROP SCHEDULE [IF EXISTS] name [, ...]`.
type DropSchedule struct {
	P        int
	Names    []string
	IfExists bool
}

// ShowSchedules is `SHOW SCHEDULES`.
type ShowSchedules struct{ P int }

func (*Backup) stmt()         {}
func (*Restore) stmt()        {}
func (*ShowBackups) stmt()    {}
func (*CreateSchedule) stmt() {}
func (*DropSchedule) stmt()   {}
func (*ShowSchedules) stmt()  {}

// AuditKind puts the statements that change the cluster in the audit log
// (session.AuditKinder).
func (*Backup) AuditKind() string { return "sql" }

// AuditKind: see Backup.
func (*Restore) AuditKind() string { return "sql" }

// AuditKind: see Backup.
func (*CreateSchedule) AuditKind() string { return "sql" }

// AuditKind: see Backup.
func (*DropSchedule) AuditKind() string { return "sql" }

// parseBackupStatement parses the statements of this file; ok is false
// when the statement is none of them.
func (p *parser) parseBackupStatement() (Statement, bool, error) {
	t := p.peek()
	switch {
	case isKwTok(t, "backup"):
		s, err := p.parseBackup()
		return s, true, err
	case isKwTok(t, "restore"):
		s, err := p.parseRestore()
		return s, true, err
	case p.isKws("show", "backups"):
		p.i += 2
		s := &ShowBackups{P: t.pos}
		if p.acceptKw("from") {
			if err := p.expectKw("disk"); err != nil {
				return nil, true, err
			}
			d, err := p.name()
			if err != nil {
				return nil, true, err
			}
			s.Disk = d
		}
		return s, true, nil
	case p.isKws("show", "schedules"):
		p.i += 2
		return &ShowSchedules{P: t.pos}, true, nil
	case p.isKws("create", "schedule"):
		s, err := p.parseCreateSchedule()
		return s, true, err
	case p.isKws("drop", "schedule"):
		p.i += 2
		d := &DropSchedule{P: t.pos, IfExists: p.acceptKws("if", "exists")}
		var err error
		d.Names, err = p.nameList()
		return d, true, err
	}
	return nil, false, nil
}

// backupTarget parses `[ALL | STREAM s | VIEW v | TABLE t]` (nothing:
// ALL).
func (p *parser) backupTarget() (BackupTarget, error) {
	switch {
	case p.acceptKw("all"):
		return BackupTarget{Kind: "all"}, nil
	case p.isKw("stream"), p.isKw("view"), p.isKw("table"):
		kind := p.next().val
		n, err := p.objectName()
		return BackupTarget{Kind: kind, Name: n}, err
	}
	return BackupTarget{Kind: "all"}, nil
}

func (p *parser) parseBackup() (*Backup, error) {
	start := p.next()
	b := &Backup{P: start.pos}
	var err error
	if b.Target, err = p.backupTarget(); err != nil {
		return nil, err
	}
	if err := p.expectKw("to"); err != nil {
		return nil, err
	}
	if err := p.expectKw("disk"); err != nil {
		return nil, err
	}
	if b.Disk, err = p.name(); err != nil {
		return nil, err
	}
	if p.acceptKw("with") {
		if b.With, err = p.parseOptionList(false); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (p *parser) parseRestore() (*Restore, error) {
	start := p.next()
	r := &Restore{P: start.pos}
	var err error
	if r.Target, err = p.backupTarget(); err != nil {
		return nil, err
	}
	if err := p.expectKw("from"); err != nil {
		return nil, err
	}
	if err := p.expectKw("disk"); err != nil {
		return nil, err
	}
	if r.Disk, err = p.name(); err != nil {
		return nil, err
	}
	str := func() (*string, error) {
		t := p.peek()
		if t.kind != tString {
			return nil, p.syntaxErr(t)
		}
		p.i++
		v := t.val
		return &v, nil
	}
	switch {
	case p.acceptKws("as", "of"):
		r.AsOf, err = str()
	case p.acceptKw("backup"):
		r.ID, err = str()
	}
	return r, err
}

func (p *parser) parseCreateSchedule() (*CreateSchedule, error) {
	start := p.next()
	p.next() // schedule
	c := &CreateSchedule{P: start.pos, IfNotExists: p.ifNotExists()}
	var err error
	if c.Name, err = p.name(); err != nil {
		return nil, err
	}
	if err := p.expectKw("for"); err != nil {
		return nil, err
	}
	if !p.isKw("backup") {
		t := p.peek()
		if t.kind == tIdent {
			e := p.unsupported(t, "a schedule can only run BACKUP, not %s", strings.ToUpper(t.val))
			e.Hint = "CREATE SCHEDULE name FOR BACKUP ALL TO DISK d EVERY '1 hour'"
			return nil, e
		}
		return nil, p.syntaxErr(t)
	}
	if c.Backup, err = p.parseBackup(); err != nil {
		return nil, err
	}
	if err := p.expectKw("every"); err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind != tString {
		return nil, p.syntaxErr(t)
	}
	p.i++
	c.Every = t.val
	return c, nil
}

func formatBackupTarget(b *strings.Builder, t BackupTarget) {
	if t.Kind == "all" || t.Kind == "" {
		b.WriteString("ALL")
		return
	}
	b.WriteString(strings.ToUpper(t.Kind))
	b.WriteByte(' ')
	b.WriteString(QuoteObject(t.Name))
}

func formatBackup(b *strings.Builder, s *Backup) {
	b.WriteString("BACKUP ")
	formatBackupTarget(b, s.Target)
	b.WriteString(" TO DISK ")
	b.WriteString(QuoteIdent(s.Disk))
	if len(s.With) > 0 {
		b.WriteString(" WITH ")
		formatOptions(b, s.With, " = ", true)
	}
}

// formatBackupStmt formats the statements of this file; false for others.
func formatBackupStmt(b *strings.Builder, s Statement) bool {
	switch s := s.(type) {
	case *Backup:
		formatBackup(b, s)
	case *Restore:
		b.WriteString("RESTORE ")
		formatBackupTarget(b, s.Target)
		b.WriteString(" FROM DISK ")
		b.WriteString(QuoteIdent(s.Disk))
		if s.AsOf != nil {
			b.WriteString(" AS OF ")
			b.WriteString(QuoteString(*s.AsOf))
		}
		if s.ID != nil {
			b.WriteString(" BACKUP ")
			b.WriteString(QuoteString(*s.ID))
		}
	case *ShowBackups:
		b.WriteString("SHOW BACKUPS")
		if s.Disk != "" {
			b.WriteString(" FROM DISK ")
			b.WriteString(QuoteIdent(s.Disk))
		}
	case *ShowSchedules:
		b.WriteString("SHOW SCHEDULES")
	case *CreateSchedule:
		b.WriteString("CREATE SCHEDULE ")
		if s.IfNotExists {
			b.WriteString("IF NOT EXISTS ")
		}
		b.WriteString(QuoteIdent(s.Name))
		b.WriteString(" FOR ")
		formatBackup(b, s.Backup)
		b.WriteString(" EVERY ")
		b.WriteString(QuoteString(s.Every))
	case *DropSchedule:
		formatDropNames(b, "SCHEDULE", s.IfExists, s.Names)
	default:
		return false
	}
	return true
}
