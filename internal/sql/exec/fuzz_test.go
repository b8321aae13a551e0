package exec

import (
	"context"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// FuzzSelect plans and runs arbitrary statements over the test events,
// and plans them as views: bad input must give an error, never a panic,
// and every error must carry a SQLSTATE.
func FuzzSelect(f *testing.F) {
	for _, s := range []string{
		"SELECT device_id, count(*), sum(value) FROM events WHERE value > 1 GROUP BY device_id ORDER BY 2 DESC LIMIT 3",
		"SELECT date_trunc('minute', ts) AS m, avg(value) FROM events GROUP BY m HAVING count(*) > 1",
		"SELECT substr(region, -5, 3), round(value, 2), extract(dow from ts) FROM events",
		"SELECT CASE WHEN value IS NULL THEN 'x' ELSE region || '!' END FROM events ORDER BY 1 NULLS FIRST",
		"SELECT 9223372036854775807::int8 % -1, (-9223372036854775807 - 1)::int8 / -1",
		"SELECT ts + interval '100000000 months' FROM events",
		"SELECT DISTINCT lower(region) FROM events WHERE region ILIKE '%E%' OFFSET 1",
	} {
		f.Add(s)
	}
	ec := &Ctx{Now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	f.Fuzz(func(t *testing.T, sql string) {
		stmts, _, err := parser.Parse(sql)
		if err != nil || len(stmts) == 0 {
			return
		}
		sel, ok := stmts[0].(*parser.Select)
		if !ok {
			return
		}
		check := func(err error) {
			if err == nil {
				return
			}
			if pe, ok := err.(*pgerr.Error); !ok || pe.Code == "" {
				t.Fatalf("error without SQLSTATE: %T %v", err, err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		p, err := PlanSelect(sel, resolver(map[string]Source{"events": sqlEvents()}), &ParamTypes{})
		check(err)
		if err == nil {
			check(p.Run(ctx, ec, func([]types.Datum) error { return nil }))
		}
		v, err := PlanView(sel, eventCols)
		check(err)
		if err == nil {
			d := v.NewDelta()
			src := sqlEvents()
			err := v.Fold(ec, d, toBatch(src.rows), nil)
			check(err)
			if err == nil {
				d.Range(func(k, s []byte) error {
					_, err := v.Finalize(ec, k, s, nil)
					check(err)
					return nil
				})
			}
		}
	})
}
