package router

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/rpc"
	"github.com/cairndb/cairn/internal/streamsm"
	"github.com/cairndb/cairn/internal/types"
)

// TestRerouteTarget: the next shard on the ring that looks reachable,
// wrapping around, never the origin; the next one when none looks good.
func TestRerouteTarget(t *testing.T) {
	for _, c := range []struct {
		n, from int
		down    []int
		want    int
	}{
		{n: 3, from: 0, want: 1},
		{n: 3, from: 2, want: 0},
		{n: 3, from: 0, down: []int{1}, want: 2},
		{n: 4, from: 3, down: []int{0, 1}, want: 2},
		{n: 3, from: 1, down: []int{0, 2}, want: 2}, // none reachable: the next
		{n: 2, from: 1, want: 0},
	} {
		got := rerouteTarget(c.n, c.from, func(i int) bool {
			if i == c.from {
				t.Fatalf("n=%d from=%d: asked about the origin", c.n, c.from)
			}
			return !slices.Contains(c.down, i)
		})
		if got != c.want {
			t.Errorf("n=%d from=%d down=%v: %d, want %d", c.n, c.from, c.down, got, c.want)
		}
	}
}

func TestReroutable(t *testing.T) {
	if !reroutable(pgerr.AppendNoAnswer.New(1, time.Second), false) || !reroutable(pgerr.NoLeaderToAppend.New(1), false) ||
		!reroutable(pgerr.AppendOutcomeUnknown.New(1), false) {
		t.Error("a shard without quorum must be rerouted around")
	}
	if !reroutable(pgerr.StatementTimeout.New(), true) {
		t.Error("the reroute_after wait ran out: reroute")
	}
	if reroutable(pgerr.AppendFailed.New("bad batch"), false) {
		t.Error("a definitive failure was rerouted")
	}
}

type shardSM struct {
	db *pebble.DB
	sm *streamsm.SM
}

func newShardSM(t *testing.T, db *pebble.DB, gid uint64) *shardSM {
	prefix := []byte(fmt.Sprintf("d%08d", gid))
	sm := streamsm.New(gid, prefix, streamsm.Segments{Prefix: append([]byte("~"), prefix...), DB: db, FlushAge: time.Hour})
	t.Cleanup(sm.Close)
	if err := sm.Load(db); err != nil {
		t.Fatal(err)
	}
	return &shardSM{db, sm}
}

func (s *shardSM) apply(t *testing.T, cmd []byte) any {
	wb := s.db.NewBatch()
	res := s.sm.Apply(wb, 1, cmd)
	if err := wb.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	s.sm.Durable()
	if err, ok := res.(error); ok {
		t.Fatal(err)
	}
	return res
}

func (s *shardSM) values(t *testing.T) []int64 {
	var got []int64
	if _, err := s.sm.Scan(0, 0, func(_ uint64, _ int64, _ streamsm.Targets, b *types.Batch) error {
		got = append(got, b.Cols[0].I...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// fenceCode is what the origin's replica answers a fence with
// (replica.rerouteReply).
func fenceCode(res any) uint64 {
	if res.(streamsm.FenceResult).Had {
		return rpc.FenceHad
	}
	return rpc.FenceFenced
}

// TestRerouteExactlyOnce runs the protocol on two shard state machines
// for every order the origin shard A can see the part in: applied before
// the part was parked in B (committed, answer lost: the ambiguous case),
// applied after the park but before the fence (A regained its quorum and
// committed an in-flight proposal), applied after the fence (a late
// proposal), or never. The events end up in A or B exactly once.
func TestRerouteExactlyOnce(t *testing.T) {
	for _, when := range []string{"before park", "before fence", "after fence", "never"} {
		t.Run(when, func(t *testing.T) {
			db, err := pebble.Open("", &pebble.Options{FS: vfs.NewMem()})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			a, b := newShardSM(t, db, 1), newShardSM(t, db, 2)
			id := NewBatchID()
			batch := types.NewBatch([]types.T{types.Int8})
			for v := range int64(3) {
				batch.AppendRow([]types.Datum{types.NewInt(types.Int8, 10+v)})
			}
			appendCmd := streamsm.EncodeAppend(nil, id, 42, types.AppendEncoded(nil, batch))
			_, body, _ := streamsm.AppendBody(appendCmd)
			if when == "before park" {
				a.apply(t, appendCmd)
			}
			b.apply(t, streamsm.EncodePark(id, 1, body))
			if when == "before fence" {
				a.apply(t, appendCmd)
			}
			code := fenceCode(a.apply(t, streamsm.EncodeFence(id)))
			if when == "after fence" {
				a.apply(t, appendCmd)
			}
			parked := b.sm.Parked()
			if len(parked) != 1 || parked[0].Origin != 1 {
				t.Fatalf("parked = %+v", parked)
			}
			cmd, outcome, ok := settleCommand(parked[0], code)
			if !ok {
				t.Fatalf("no settle command for code %d", code)
			}
			b.apply(t, cmd)
			// A second reconciler (B's leader changed) repeats the round.
			code2 := fenceCode(a.apply(t, streamsm.EncodeFence(id)))
			if code2 != code {
				t.Fatalf("the fence changed its answer: %d then %d", code, code2)
			}
			cmd2, _, _ := settleCommand(parked[0], code2)
			b.apply(t, cmd2)
			all := append(a.values(t), b.values(t)...)
			if !slices.Equal(all, []int64{10, 11, 12}) {
				t.Fatalf("A %v + B %v: want the 3 events once", a.values(t), b.values(t))
			}
			wantOutcome := settleRelease
			if when == "before park" || when == "before fence" {
				wantOutcome = settleDrop
			}
			if outcome != wantOutcome {
				t.Errorf("outcome %s, want %s", outcome, wantOutcome)
			}
			if len(b.sm.Parked()) != 0 {
				t.Error("still parked")
			}
		})
	}
}
