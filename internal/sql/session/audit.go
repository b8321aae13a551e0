package session

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
)

// Auditor is the optional Backend method that records audit events
// (cairn_cluster.audit_log). The node implements it; a Backend without
// it (a test fake) audits nothing. Audit must not block or fail.
type Auditor interface {
	Audit(ctx context.Context, ev catalog.AuditEvent)
}

// AuditKinder is implemented by a statement that names its audit kind
// ("sql", "role", "grant"); it wins over auditKind's list.
type AuditKinder interface {
	AuditKind() string
}

// auditKind is the audit kind of stmt, "" for statements not audited.
// Audited: the admin statements, DDL, and the role and grant statements
// (recognised by their AST type's name: CreateRole, AlterRole, DropRole,
// GrantRole, GrantPrivileges, and any later *Role*/*User*/Grant*/Revoke*
// statement, so a new one is audited without a change here).
func auditKind(stmt parser.Statement) string {
	if k, ok := stmt.(AuditKinder); ok {
		return k.AuditKind()
	}
	switch stmt.(type) {
	case *parser.AlterSystemSet, *parser.AlterNode, *parser.AlterShard, *parser.Failover, *parser.FailoverRegion,
		*parser.Rebalance, *parser.CancelOperation,
		*parser.CreateSchema, *parser.DropSchema, *parser.CreateStream, *parser.CreateView,
		*parser.Drop, *parser.CreateTable, *parser.AlterTable, *parser.Truncate:
		return "sql"
	}
	name := fmt.Sprintf("%T", stmt)
	name = name[strings.LastIndexByte(name, '.')+1:]
	switch {
	case strings.HasPrefix(name, "Grant"), strings.HasPrefix(name, "Revoke"):
		return "grant"
	case strings.HasPrefix(name, "Show"):
		return ""
	case strings.Contains(name, "Role"), strings.Contains(name, "User"):
		return "role"
	}
	return ""
}

// maxAuditText bounds the statement text of one audit event, so that
// audit_log_max_events bounds the log's size too.
const maxAuditText = 2048

// auditText is the redacted statement text an audit event records.
func auditText(stmt parser.Statement, text string) string {
	if strings.TrimSpace(text) == "" {
		text = parser.Format(stmt)
	}
	return clip(parser.Redact(strings.TrimSpace(text)), maxAuditText)
}

// clip shortens s to at most n bytes (at a character boundary), marking
// the cut with "…".
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// SetSource records where the session's client connects from (its
// address), for the audit events of its statements.
func (s *Session) SetSource(src string) { s.source = src }

// audit records the outcome of an audited statement (kind is not "");
// text is its statement text, err its result.
func (s *Session) audit(ctx context.Context, kind string, stmt parser.Statement, text string, err error) {
	a, ok := s.b.(Auditor)
	if !ok || kind == "" {
		return
	}
	outcome := "ok"
	if err != nil {
		e := pgerr.From(err)
		outcome = clip(parser.RedactMessage(text, e.Code+": "+e.Message), maxAuditText)
	}
	a.Audit(ctx, catalog.AuditEvent{User: s.user, Source: s.source, Kind: kind, What: auditText(stmt, text), Outcome: outcome})
}

// Bounds of audit_log_max_events: every node holds the log in memory.
const (
	minAuditMax = 1
	maxAuditMax = 100000
)

// checkAuditMax checks an ALTER SYSTEM SET audit_log_max_events value.
func checkAuditMax(v string) (string, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < minAuditMax || n > maxAuditMax {
		return "", pgerr.AuditMaxRange.New(minAuditMax, maxAuditMax, v)
	}
	return strconv.Itoa(n), nil
}
