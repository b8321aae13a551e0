package httpapi

import (
	"encoding/json"
	"net/http"
)

// GET /api/v1/health and /api/v1/quorum (issue 15) return the rows of
// cairn_cluster.health and cairn_cluster.quorum as JSON objects keyed by
// column, with numbers and booleans as JSON numbers and booleans (the
// other read routes return text arrays), so a console or a proxy reads
// rows[i].score directly: {"columns": [...], "rows": [{"node": "n1",
// "score": 97, ...}]}.

// healthTypes says which columns of the health and quorum tables are
// numbers or booleans; every other column is a string.
var healthTypes = map[string]byte{
	"node_id": 'n', "score": 'n', "cpu_pct": 'n', "mem_pct": 'n', "disk_used_pct": 'n', "fsync_p99_ms": 'n',
	"heartbeat_rtt_ms": 'n', "max_lag_ms": 'n', "elections": 'n', "leader_changes": 'n', "groups": 'n',
	"groups_without_quorum": 'n', "group_id": 'n', "voters": 'n', "live_voters": 'n', "has_quorum": 'b',
}

// objectResult is the reply of the object-row routes.
type objectResult struct {
	Columns []string         `json:"columns"`
	Rows    []map[string]any `json:"rows"`
}

// objects returns a handler that runs a fixed query and replies with its
// rows as objects.
func (a *admin) objects(sql string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		res, err := a.run.RunSQL(r.Context(), UserFrom(r.Context()), sql)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		res = normalize(res)
		out := objectResult{Columns: res.Columns, Rows: make([]map[string]any, 0, len(res.Rows))}
		for _, row := range res.Rows {
			obj := make(map[string]any, len(row))
			for i, v := range row {
				if i >= len(res.Columns) {
					break
				}
				col := res.Columns[i]
				switch {
				case v == nil:
					obj[col] = nil
				case healthTypes[col] == 'n':
					obj[col] = json.Number(*v)
				case healthTypes[col] == 'b':
					obj[col] = *v == "t" || *v == "true"
				default:
					obj[col] = *v
				}
			}
			out.Rows = append(out.Rows, obj)
		}
		writeJSON(w, http.StatusOK, out)
	}
}
