package systables

import (
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/types"
)

// AuditLogTable is the name of cairn_cluster.audit_log; only admins may
// read it.
const AuditLogTable = "audit_log"

// AuditLog is cairn_cluster.audit_log: the last audit_log_max_events
// audit events (admin statements and API calls, DDL, role and grant
// changes, failed logins), oldest first. Statement text in it is
// redacted before it is recorded.
func AuditLog(cat *catalog.Catalog) *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "id", T: types.Int8}, {Name: "at", T: types.TimestampTZ},
		{Name: "node", T: types.Text}, {Name: "user_name", T: types.Text}, {Name: "source", T: types.Text},
		{Name: "kind", T: types.Text}, {Name: "what", T: types.Text}, {Name: "outcome", T: types.Text}}}
	for _, ev := range cat.AuditEvents() {
		t.Rows = append(t.Rows, []types.Datum{i8(int64(ev.ID)), types.NewInt(types.TimestampTZ, ev.At.UnixMicro()),
			txt(ev.Node), txt(ev.User), txt(ev.Source), txt(ev.Kind), txt(ev.What), txt(ev.Outcome)})
	}
	return t
}
