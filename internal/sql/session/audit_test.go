package session

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/sql/systables"
)

// auditBackend is fakeBackend with the optional Auditor method.
type auditBackend struct {
	*fakeBackend
	events []catalog.AuditEvent
}

func (f *auditBackend) Audit(_ context.Context, ev catalog.AuditEvent) {
	f.events = append(f.events, ev)
}

// TestAuditEvents: DDL and admin statements are audited with user,
// source, redacted text and outcome (failures too, whether planning or
// running failed); queries are not.
func TestAuditEvents(t *testing.T) {
	f := &auditBackend{fakeBackend: newFake()}
	f.cat.Roles["alice"] = &catalog.Role{Name: "alice", Login: true, MemberOf: []string{catalog.RoleAdmin}}
	s := New(f, "alice", nil)
	s.SetSource("10.1.2.3:5555")
	mustRun(t, s, "CREATE STREAM ev (k text, v int8)")
	mustRun(t, s, "SELECT 1")
	mustRun(t, s, "ALTER SYSTEM SET audit_log_max_events = 500")
	wantErr(t, s, "ALTER SYSTEM SET audit_log_max_events = 0", "22023", "audit_log_max_events")
	wantErr(t, s, "CREATE STREAM ev2 (k text) WITH (secret_access_key = 'AKIA-S3cr3t')", "22023")
	mustRun(t, s, "CREATE USER bob WITH PASSWORD 'S3cr3t-XYZ'")
	if len(f.events) != 5 {
		t.Fatalf("%d events, want 5: %+v", len(f.events), f.events)
	}
	if ev := f.events[4]; ev.Kind != "role" || ev.What != "CREATE USER bob WITH PASSWORD '*****'" || ev.Outcome != "ok" {
		t.Errorf("CREATE USER event: %+v", ev)
	}
	want := []struct{ what, outcome string }{
		{"CREATE STREAM ev (k text, v int8)", "ok"},
		{"ALTER SYSTEM SET audit_log_max_events = 500", "ok"},
		{"ALTER SYSTEM SET audit_log_max_events = 0", "22023: audit_log_max_events must be an integer from 1 to 100000, got \"0\""},
		{"CREATE STREAM ev2 (k text) WITH (secret_access_key = '*****')", ""},
	}
	for i, w := range want {
		ev := f.events[i]
		if ev.User != "alice" || ev.Source != "10.1.2.3:5555" || ev.Kind != "sql" || ev.What != w.what {
			t.Errorf("event %d = %+v, want what %q by alice from 10.1.2.3:5555", i, ev, w.what)
		}
		if w.outcome != "" && ev.Outcome != w.outcome {
			t.Errorf("event %d outcome = %q, want %q", i, ev.Outcome, w.outcome)
		}
	}
	if last := f.events[3]; last.Outcome == "ok" || strings.Contains(last.Outcome, "S3cr3t") || strings.Contains(last.What, "S3cr3t") {
		t.Errorf("failed statement with a secret: %+v", last)
	}
	if got := f.cat.Settings[catalog.AuditMaxSetting]; got != "" {
		t.Errorf("fake catalog changed: %q", got) // the fake records proposals only
	}
}

func TestAuditKind(t *testing.T) {
	for sql, want := range map[string]string{
		"CREATE STREAM s9 (k text)":          "sql",
		"DROP VIEW v":                        "sql",
		"CREATE TABLE t (k int primary key)": "sql",
		"TRUNCATE t":                         "sql",
		"ALTER NODE n1 DRAIN":                "sql",
		"CANCEL OPERATION 3":                 "sql",
		"SELECT 1":                           "",
		"INSERT INTO s (k) VALUES ('a')":     "",
		"SET search_path = public":           "",
		"SHOW ALL":                           "",
		"CREATE USER bob PASSWORD 'x'":       "role",
		"ALTER ROLE bob NOLOGIN":             "role",
		"DROP USER IF EXISTS bob":            "role",
		"GRANT admin TO bob":                 "grant",
		"REVOKE SELECT ON s FROM bob":        "grant",
		"SHOW GRANTS":                        "",
		"SHOW ROLES":                         "",
	} {
		stmts, _, err := parser.Parse(sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if got := auditKind(stmts[0]); got != want {
			t.Errorf("auditKind(%s) = %q, want %q", sql, got, want)
		}
	}
}

// TestAuditText: long statements are clipped at a character boundary;
// an empty text is the formatted statement.
func TestAuditText(t *testing.T) {
	long := "CREATE STREAM s (k text) WITH (comment = '" + strings.Repeat("é", 3000) + "')"
	got := auditText(nil, long)
	if len(got) > maxAuditText+len("…") || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "CREATE STREAM s") {
		t.Errorf("clipped text: %d bytes, ends %q", len(got), got[len(got)-8:])
	}
	for _, r := range got {
		if r == '\uFFFD' {
			t.Fatal("clipped inside a character")
		}
	}
	stmts, _, _ := parser.Parse("DROP STREAM s")
	if got := auditText(stmts[0], ""); got != parser.Format(stmts[0]) {
		t.Errorf("empty text: %q", got)
	}
}

func (f *auditBackend) SystemTable(name string) (exec.Source, bool, error) {
	if name != systables.AuditLogTable {
		return nil, false, nil
	}
	return systables.AuditLog(f.cat), true, nil
}

// TestAuditLogAdminOnly: an admin reads cairn_cluster.audit_log; another
// user gets 42501, and the refused read is not an audit event.
func TestAuditLogAdminOnly(t *testing.T) {
	f := &auditBackend{fakeBackend: newFake()}
	f.cat.Roles["alice"] = &catalog.Role{Name: "alice", Login: true, MemberOf: []string{catalog.RoleAdmin}}
	f.cat.Roles["mallory"] = &catalog.Role{Name: "mallory", Login: true}
	f.cat, _ = catalog.Apply(f.cat, &catalog.AppendAudit{Events: []catalog.AuditEvent{{At: time.Unix(1700000000, 0), Node: "n1", User: "alice",
		Source: "10.0.0.1:1", Kind: "sql", What: "DROP VIEW v", Outcome: "ok"}}})
	res := mustRun(t, New(f, "alice", nil), "SELECT id, user_name, source, kind, what, outcome FROM cairn_cluster.audit_log")
	if len(res.Rows) != 1 || *res.Rows[0][0] != "1" || *res.Rows[0][4] != "DROP VIEW v" || *res.Rows[0][2] != "10.0.0.1:1" {
		t.Fatalf("admin reads %+v", res.Rows)
	}
	wantErr(t, New(f, "mallory", nil), "SELECT * FROM cairn_cluster.audit_log", "42501", "admin")
	if len(f.events) != 0 {
		t.Errorf("reads were audited: %+v", f.events)
	}
}
