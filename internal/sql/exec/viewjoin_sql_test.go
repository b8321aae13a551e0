package exec

import (
	"context"
	"sort"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

// The join views of the `view` command in testdata/*.txt: FROM events
// joined to the table devices (testDevices: devices 1, 2 and 4; 4 has no
// site) or to the stream clicks (sqlClicks).

var clickCols = []Column{{Name: "ts", T: types.TimestampTZ}, {Name: "device_id", T: types.Int4}, {Name: "page", T: types.Text}}

// sqlClicks are clicks near some of sqlEvents' times.
func sqlClicks() [][]types.Datum {
	events := sqlEvents().rows
	t0 := events[0][0].I
	mk := func(dt int64, dev int64, page string) []types.Datum {
		return []types.Datum{types.NewInt(types.TimestampTZ, t0+dt*1e6), ival(dev), txt(page)}
	}
	return [][]types.Datum{
		mk(5, 1, "home"),     // 5s after device 1's first event
		mk(20, 1, "cart"),    // 20s after it
		mk(29, 2, "home"),    // 1s before device 2's event at +30
		mk(35, 2, "cart"),    // 5s after it
		mk(65, 3, "home"),    // 3s after device 3's event at +62
		mk(3605, 4, "home"),  // 5s after device 4's at +3600, 4s after +3601
		mk(7200, 4, "late"),  // pairs with nothing
		mk(131, 9, "nobody"), // no such device in events
	}
}

// planFoldJoin plans a join view over events and returns the batches
// (one per event or click, in time order) its task would fold: events
// widened through the devices table, or the pairs of a stream join.
func planFoldJoin(ec *Ctx, sel *parser.Select, spec ViewJoinSpec, opts ViewOptions) (*ViewPlan, []*types.Batch, error) {
	if name, _ := ViewSource(&parser.Select{From: spec.Stream}); name != "events" {
		return nil, nil, pgerr.RelationNotFound.New(name)
	}
	ctx := context.Background()
	events := sqlEvents()
	own := func(b *types.Batch) *types.Batch {
		c := types.NewBatch(b.Types())
		c.AppendBatch(b)
		c.Arrival = b.Arrival
		return c
	}
	one := func(cols []Column, r []types.Datum) *types.Batch {
		b := types.NewBatch(colTypes(cols))
		b.AppendRow(r)
		b.Arrival = r[0].I
		return b
	}
	var out []*types.Batch
	switch spec.Table.Name {
	case "devices":
		v, err := PlanViewJoin(sel, spec, events.cols, JoinTable{Name: "devices", Cols: deviceCols, Key: []int{0}}, opts)
		if err != nil {
			return nil, nil, err
		}
		e, err := v.NewEnricher(testDevices())
		if err != nil {
			return nil, nil, err
		}
		for _, r := range events.rows {
			if err := e.Refresh(ctx); err != nil {
				return nil, nil, err
			}
			w, err := e.Widen(ctx, ec, one(events.cols, r))
			if err != nil {
				return nil, nil, err
			}
			out = append(out, own(w))
		}
		return v, out, nil
	case "clicks":
		v, err := PlanViewStreamJoin(sel, spec, events.cols, clickCols, opts)
		if err != nil {
			return nil, nil, err
		}
		j, err := v.NewStreamJoiner(clickCols)
		if err != nil {
			return nil, nil, err
		}
		type item struct {
			side int
			row  []types.Datum
		}
		var items []item
		for _, r := range events.rows {
			items = append(items, item{0, r})
		}
		for _, r := range sqlClicks() {
			items = append(items, item{1, r})
		}
		sort.SliceStable(items, func(a, b int) bool { return items[a].row[0].I < items[b].row[0].I })
		for _, it := range items {
			cols := events.cols
			if it.side == 1 {
				cols = clickCols
			}
			w, err := j.Join(ec, it.side, one(cols, it.row))
			if err != nil {
				return nil, nil, err
			}
			out = append(out, own(w))
		}
		return v, out, nil
	}
	return nil, nil, pgerr.RelationNotFound.New(spec.Table.Name)
}
