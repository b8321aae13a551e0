package session

import (
	"slices"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/types"
)

// operationsTable is cairn_cluster.operations.
func operationsTable(cat *catalog.Catalog) *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "op_id", T: types.Int8}, {Name: "op_type", T: types.Text}, {Name: "target", T: types.Text},
		{Name: "status", T: types.Text}, {Name: "progress", T: types.Float8}, {Name: "current_step", T: types.Text},
		{Name: "start_time", T: types.TimestampTZ}, {Name: "end_time", T: types.TimestampTZ}, {Name: "error", T: types.Text}}}
	for _, o := range cat.SortedOps() {
		end := types.NullOf(types.TimestampTZ)
		if o.End != 0 {
			end = types.NewInt(types.TimestampTZ, o.End)
		}
		errD := types.NullOf(types.Text)
		if o.Error != "" {
			errD = txt(o.Error)
		}
		t.Rows = append(t.Rows, []types.Datum{i8(int64(o.ID)), txt(o.Type), txt(o.Target), txt(o.Status), types.NewFloat(types.Float8, o.Progress),
			txt(o.Step), types.NewInt(types.TimestampTZ, o.Start), end, errD})
	}
	return t
}

// settingsTable is cairn_cluster.settings: every cluster setting's value.
func settingsTable(cat *catalog.Catalog) *exec.MemTable {
	t := &exec.MemTable{Cols: []exec.Column{{Name: "name", T: types.Text}, {Name: "value", T: types.Text}, {Name: "default", T: types.Text}, {Name: "description", T: types.Text}}}
	names := make([]string, 0, len(clusterSettings))
	for k := range clusterSettings {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		v, _ := cat.Setting(k)
		t.Rows = append(t.Rows, []types.Datum{txt(k), txt(v), txt(catalog.SettingDefaults[k]), txt(clusterSettings[k].desc)})
	}
	return t
}
