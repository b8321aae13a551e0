package viewsm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/sql/parser"
	"github.com/cairndb/cairn/internal/types"
)

func plan(t *testing.T) *exec.ViewPlan {
	stmts, _, err := parser.Parse(`SELECT k, count(*) AS n, sum(v) AS total FROM s GROUP BY k`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := exec.PlanView(stmts[0].(*parser.Select), []exec.Column{{Name: "k", T: types.Text}, {Name: "v", T: types.Int8}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func deltaOf(t *testing.T, p *exec.ViewPlan, rows ...any) []byte {
	b := types.NewBatch([]types.T{types.Text, types.Int8})
	for i := 0; i < len(rows); i += 2 {
		b.AppendRow([]types.Datum{types.NewText(rows[i].(string)), types.NewInt(types.Int8, int64(rows[i+1].(int)))})
	}
	d := p.NewDelta()
	if err := p.Fold(&exec.Ctx{}, d, b, nil); err != nil {
		t.Fatal(err)
	}
	return p.AppendDelta(nil, d)
}

// nextIndex numbers applied entries like a raft log would.
var nextIndex uint64

func applyCmd(t *testing.T, db *pebble.DB, sm *SM, cmd []byte) any {
	wb := db.NewBatch()
	nextIndex++
	res := sm.Apply(wb, nextIndex, cmd)
	if err := wb.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	sm.Durable()
	return res
}

func rows(t *testing.T, sm *SM) map[string][2]int64 {
	out := map[string][2]int64{}
	err := sm.Rows(func(key, state []byte) error {
		row, err := sm.Plan().Finalize(&exec.Ctx{}, key, state, nil)
		if err != nil {
			return err
		}
		// sum(bigint) is numeric, as in PostgreSQL.
		total, err := strconv.ParseInt(row[2].S, 10, 64)
		if err != nil {
			return err
		}
		out[row[0].S] = [2]int64{row[1].I, total}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestStaleDeltaRejected checks exactly-once by construction: a delta
// whose from-offsets differ from the stored ones changes nothing.
func TestStaleDeltaRejected(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := plan(t)
	prefix := []byte("d\x00\x00\x00\x00\x00\x00\x00\x09")
	sm := New(prefix, p, []uint64{0, 0}, nil)
	if err := sm.Load(db); err != nil {
		t.Fatal(err)
	}
	d1 := EncodeDelta(nil, []uint64{0, 0}, []uint64{2, 1}, deltaOf(t, p, "a", 1, "a", 2, "b", 5))
	if res := applyCmd(t, db, sm, d1); res != nil {
		t.Fatalf("first delta: %v", res)
	}
	// The same delta again (a retried proposal) is stale now.
	if res, _ := applyCmd(t, db, sm, d1).(error); !errors.Is(res, ErrStale) {
		t.Fatalf("duplicate delta: %v", res)
	}
	// So is one computed from older offsets by a deposed leader.
	d2 := EncodeDelta(nil, []uint64{1, 0}, []uint64{3, 1}, deltaOf(t, p, "a", 100))
	if res, _ := applyCmd(t, db, sm, d2).(error); !errors.Is(res, ErrStale) {
		t.Fatalf("stale delta: %v", res)
	}
	d3 := EncodeDelta(nil, []uint64{2, 1}, []uint64{3, 1}, deltaOf(t, p, "a", 10))
	if res := applyCmd(t, db, sm, d3); res != nil {
		t.Fatalf("next delta: %v", res)
	}
	want := map[string][2]int64{"a": {3, 13}, "b": {1, 5}}
	if got := rows(t, sm); len(got) != 2 || got["a"] != want["a"] || got["b"] != want["b"] {
		t.Fatalf("rows = %v, want %v", got, want)
	}
	// A replica rebuilt from the engine holds the same rows and offsets.
	sm2 := New(prefix, p, []uint64{0, 0}, nil)
	if err := sm2.Load(db); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, sm2); got["a"] != want["a"] || got["b"] != want["b"] {
		t.Fatalf("reloaded rows = %v", got)
	}
	if offs := sm2.Offsets(); offs[0] != 3 || offs[1] != 1 {
		t.Fatalf("reloaded offsets = %v", offs)
	}
	if _, ok := sm2.Apply(db.NewBatch(), 5, []byte{'D', 0xff}).(error); !ok {
		t.Fatal("corrupt command accepted")
	}
}

// TestCheckpointAndReplay applies enough deltas to pass several
// checkpoints and checks that a reload at any point (rows + logged deltas)
// equals the state in memory.
func TestCheckpointAndReplay(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := plan(t)
	prefix := []byte("view-cp")
	sm := New(prefix, p, []uint64{0}, nil)
	if err := sm.Load(db); err != nil {
		t.Fatal(err)
	}
	want := map[string][2]int64{}
	keys := []string{"a", "b", "c", "d", "e", "f", "g"}
	for i := 0; i < 3*checkpointEvery+17; i++ {
		k := keys[i%len(keys)]
		v := i % 11
		cmd := EncodeDelta(nil, []uint64{uint64(i)}, []uint64{uint64(i + 1)}, deltaOf(t, p, k, v))
		if res := applyCmd(t, db, sm, cmd); res != nil {
			t.Fatalf("delta %d: %v", i, res)
		}
		w := want[k]
		want[k] = [2]int64{w[0] + 1, w[1] + int64(v)}
		if i%50 == 0 || i == 3*checkpointEvery+16 {
			re := New(prefix, p, []uint64{0}, nil)
			if err := re.Load(db); err != nil {
				t.Fatal(err)
			}
			got := rows(t, re)
			for k, w := range want {
				if got[k] != w {
					t.Fatalf("after %d deltas, reloaded %s = %v, want %v", i+1, k, got[k], w)
				}
			}
			if o := re.Offsets(); o[0] != uint64(i+1) {
				t.Fatalf("reloaded offsets %v after %d deltas", o, i+1)
			}
		}
	}
	if sm.logged >= checkpointEvery {
		t.Fatalf("no checkpoint: %d deltas logged", sm.logged)
	}
}

// TestMergeOverflowSkipsKey: a key whose merge fails (the numeric sum
// outgrows numeric's 131072 digits) keeps its old state while the rest
// of the delta applies and the offsets move, identically after a reload.
func TestMergeOverflowSkipsKey(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts, _, err := parser.Parse(`SELECT k, count(*) AS n, sum(v) AS total FROM s GROUP BY k`)
	if err != nil {
		t.Fatal(err)
	}
	p, err := exec.PlanView(stmts[0].(*parser.Select), []exec.Column{{Name: "k", T: types.Text}, {Name: "v", T: types.Numeric}})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("9", types.NumericMaxIntDigits)
	deltaOf := func(kv ...string) []byte {
		b := types.NewBatch([]types.T{types.Text, types.Numeric})
		for i := 0; i < len(kv); i += 2 {
			b.AppendRow([]types.Datum{types.NewText(kv[i]), types.NewNumeric(kv[i+1])})
		}
		d := p.NewDelta()
		if err := p.Fold(&exec.Ctx{}, d, b, nil); err != nil {
			t.Fatal(err)
		}
		return p.AppendDelta(nil, d)
	}
	prefix := []byte("view-of")
	sm := New(prefix, p, []uint64{0}, nil)
	if err := sm.Load(db); err != nil {
		t.Fatal(err)
	}
	if res := applyCmd(t, db, sm, EncodeDelta(nil, []uint64{0}, []uint64{1}, deltaOf("a", big))); res != nil {
		t.Fatal(res)
	}
	res := applyCmd(t, db, sm, EncodeDelta(nil, []uint64{1}, []uint64{3}, deltaOf("a", big, "b", "1.5")))
	sk, ok := res.(Skipped)
	if !ok || sk.Keys != 1 {
		t.Fatalf("overflowing delta: %#v", res)
	}
	want := map[string]string{"a": "1 " + big, "b": "1 1.5"}
	check := func(sm *SM) {
		got := map[string]string{}
		err := sm.Rows(func(key, state []byte) error {
			row, err := sm.Plan().Finalize(&exec.Ctx{}, key, state, nil)
			if err != nil {
				return err
			}
			got[row[0].S] = fmt.Sprintf("%d %s", row[1].I, row[2].S)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got["a"] != want["a"] || got["b"] != want["b"] {
			t.Fatalf("rows = %.60v, want %.60v", got, want)
		}
		if o := sm.Offsets(); o[0] != 3 {
			t.Fatalf("offsets = %v", o)
		}
	}
	check(sm)
	re := New(prefix, p, []uint64{0}, nil)
	if err := re.Load(db); err != nil {
		t.Fatal(err)
	}
	check(re)
}

// TestCorruptDeltaRefused: Apply reads a delta's entries straight from
// its encoding, so it must refuse what AppendDelta never writes (keys out
// of order or repeated, a state that does not parse, for a new key or an
// existing one) and change nothing.
func TestCorruptDeltaRefused(t *testing.T) {
	db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := plan(t)
	prefix := []byte("d\x00\x00\x00\x00\x00\x00\x00\x0a")
	sm := New(prefix, p, []uint64{0}, nil)
	if err := sm.Load(db); err != nil {
		t.Fatal(err)
	}
	if res := applyCmd(t, db, sm, EncodeDelta(nil, []uint64{0}, []uint64{1}, deltaOf(t, p, "a", 1))); res != nil {
		t.Fatalf("first delta: %v", res)
	}
	type ent struct{ k, s []byte }
	var ents []ent
	if _, err := p.RangeEncodedDelta(deltaOf(t, p, "a", 2, "b", 3), func(k, s []byte) error {
		ents = append(ents, ent{slices.Clone(k), slices.Clone(s)})
		return nil
	}); err != nil || len(ents) != 2 {
		t.Fatalf("entries %d, %v", len(ents), err)
	}
	enc := func(es ...ent) []byte {
		out := binary.AppendUvarint([]byte{1}, uint64(len(es)))
		for _, e := range es {
			out = binary.AppendUvarint(out, uint64(len(e.k)))
			out = append(out, e.k...)
			out = binary.AppendUvarint(out, uint64(len(e.s)))
			out = append(out, e.s...)
		}
		return out
	}
	a, b := ents[0], ents[1]
	short := func(e ent) ent { return ent{e.k, e.s[:len(e.s)-3]} }
	if res := applyCmd(t, db, sm, EncodeDelta(nil, []uint64{1}, []uint64{2}, enc(a, b))); res != nil {
		t.Fatalf("hand-encoded valid delta refused: %v", res)
	}
	want := map[string][2]int64{"a": {2, 3}, "b": {1, 3}}
	for name, d := range map[string][]byte{
		"out of order":      enc(b, a),
		"repeated key":      enc(a, a),
		"bad state, new":    enc(ent{[]byte("\x01zz"), b.s[:len(b.s)-3]}),
		"bad state, exists": enc(short(a)),
		"trailing bytes":    append(enc(a), 0),
	} {
		res := applyCmd(t, db, sm, EncodeDelta(nil, []uint64{2}, []uint64{3}, d))
		if _, ok := res.(error); !ok {
			t.Errorf("%s: applied (%v)", name, res)
		}
		if got := rows(t, sm); len(got) != 2 || got["a"] != want["a"] || got["b"] != want["b"] {
			t.Fatalf("%s: rows = %v, want %v", name, got, want)
		}
		if offs := sm.Offsets(); offs[0] != 2 {
			t.Fatalf("%s: offsets moved to %v", name, offs)
		}
	}
}
