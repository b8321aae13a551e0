package systables

import (
	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/types"
)

// SchedulesTable is the name of cairn_cluster.schedules (SHOW SCHEDULES).
const SchedulesTable = "schedules"

// Schedules is cairn_cluster.schedules: every schedule (CREATE
// SCHEDULE), the BACKUP it runs, when it runs next and how its last run
// went. Times not known yet are NULL.
func Schedules(cat *catalog.Catalog) *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "name", T: types.Text}, {Name: "statement", T: types.Text},
		{Name: "disk", T: types.Text}, {Name: "every", T: types.Interval}, {Name: "next_run", T: types.TimestampTZ},
		{Name: "last_run", T: types.TimestampTZ}, {Name: "last_status", T: types.Text}, {Name: "last_error", T: types.Text},
		{Name: "owner", T: types.Text}, {Name: "created_at", T: types.TimestampTZ}}}
	at := func(us int64) types.Datum {
		if us == 0 {
			return types.NullOf(types.TimestampTZ)
		}
		return types.NewInt(types.TimestampTZ, us)
	}
	opt := func(s string) types.Datum {
		if s == "" {
			return types.NullOf(types.Text)
		}
		return txt(s)
	}
	for _, s := range cat.SortedSchedules() {
		every := types.Datum{T: types.Interval, Iv: types.IntervalValue{Micros: s.EveryMS * 1000}}
		t.Rows = append(t.Rows, []types.Datum{txt(s.Name), txt(s.Statement), txt(s.Disk), every, at(s.NextRun),
			at(s.LastRun), opt(s.LastStatus), opt(s.LastError), opt(s.Owner), at(s.CreatedAt)})
	}
	return t
}
