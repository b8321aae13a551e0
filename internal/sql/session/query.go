package session

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// Issue 11: EXPLAIN and the per-statement memory limit.

// defaultQueryMemory is max_query_memory's default.
const defaultQueryMemory = "256MB"

// parseMemory parses a PostgreSQL memory setting: a number of kilobytes,
// or a number with a unit (B, kB, MB, GB, TB).
func parseMemory(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	i := 0
	for i < len(v) && v[i] >= '0' && v[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(v[:i], 10, 64)
	if err != nil {
		return 0, false
	}
	unit := strings.TrimSpace(v[i:])
	mult := map[string]int64{"": 1 << 10, "B": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[unit]
	if mult == 0 || n > (1<<50)/mult {
		return 0, false
	}
	return n * mult, true
}

// checkMemory validates max_query_memory (64kB to 1TB, PostgreSQL's
// units; the unit names are case-sensitive, as in PostgreSQL).
func checkMemory(name string) func(string, string) (string, error) {
	return func(v, _ string) (string, error) {
		n, ok := parseMemory(v)
		if !ok {
			return "", pgerr.BadParameter.New(name, v).WithHint(`Valid units for this parameter are "B", "kB", "MB", "GB", and "TB".`)
		}
		if n < 64<<10 || n > 1<<40 {
			return "", pgerr.MemorySettingRange.New(v, name)
		}
		return scalar.FormatBytes(n), nil
	}
}

// queryBudget is a new statement's memory budget (max_query_memory).
func (s *Session) queryBudget() *scalar.Budget {
	v, _ := s.get("max_query_memory")
	n, ok := parseMemory(v)
	if !ok {
		n, _ = parseMemory(defaultQueryMemory)
	}
	return scalar.NewBudget(n)
}

// prepareExplain plans the query and prints its plan; ANALYZE runs it
// first (rows discarded) and adds what each operator did, the peak
// memory and the time.
func (s *Session) prepareExplain(st *parser.Explain, oids []uint32) (*prepared, error) {
	pt := s.paramTypes(oids)
	plan, err := exec.PlanSelect(st.Query, s.resolve, pt)
	if err != nil {
		return nil, err
	}
	cols := []pgwire.Column{{Name: "QUERY PLAN", T: types.Text}}
	return &prepared{params: pt.Types, cols: cols, run: func(ctx context.Context, params []types.Datum, w pgwire.ResultWriter) (string, error) {
		var lines []string
		if st.Analyze {
			ec := s.execCtx(params)
			start := time.Now()
			if err := plan.Run(ctx, ec, func([]types.Datum) error { return nil }); err != nil {
				return "", err
			}
			d := time.Since(start)
			lines = append(exec.Explain(plan, true), exec.ExplainSummary(ec.Mem, d)...)
		} else {
			lines = exec.Explain(plan, false)
		}
		if st.Verbose {
			lines = append(lines, "Output: "+columnList(plan.Columns()))
		}
		for _, l := range lines {
			if err := w.Row([]types.Datum{types.NewText(l)}); err != nil {
				return "", err
			}
		}
		return "EXPLAIN", nil
	}}, nil
}

func columnList(cols []exec.Column) string {
	var parts []string
	for _, c := range cols {
		parts = append(parts, c.Name+" "+c.T.String())
	}
	return strings.Join(parts, ", ")
}
