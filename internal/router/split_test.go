package router

import (
	"fmt"
	"testing"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/types"
)

// TestSplitByShardKey: with WITH (shard_key = …) every row of a key goes
// to one shard, the same in every insert, and keys spread over the
// shards; without one a whole batch goes to the next shard in turn.
func TestSplitByShardKey(t *testing.T) {
	rt := &Router{}
	cols := []catalog.Column{{Name: "k", T: types.Text}, {Name: "x", T: types.Int8}}
	keyed := &catalog.Stream{Name: "s", Cols: cols, ShardKey: "k", Groups: []uint64{1, 2, 3, 4}}
	batch := func(n int) *types.Batch {
		b := types.NewBatch([]types.T{types.Text, types.Int8})
		for i := 0; i < n; i++ {
			b.AppendRow([]types.Datum{types.NewText(fmt.Sprintf("key%d", i%20)), types.NewInt(types.Int8, int64(i))})
		}
		return b
	}
	shardOf := map[string]int{}
	for round := 0; round < 3; round++ {
		parts := rt.split(keyed, batch(200))
		rows := 0
		for shard, p := range parts {
			rows += p.N
			for i := 0; i < p.N; i++ {
				k := p.Cols[0].Datum(i).S
				if s, ok := shardOf[k]; ok && s != shard {
					t.Fatalf("round %d: key %s in shards %d and %d", round, k, s, shard)
				}
				shardOf[k] = shard
			}
		}
		if rows != 200 {
			t.Fatalf("round %d: %d rows split, want 200", round, rows)
		}
	}
	used := map[int]bool{}
	for _, s := range shardOf {
		used[s] = true
	}
	if len(used) < 3 {
		t.Fatalf("20 keys landed in %d of 4 shards", len(used))
	}
	spread := &catalog.Stream{Name: "u", Cols: cols, Groups: []uint64{1, 2, 3, 4}}
	seen := map[int]bool{}
	for i := 0; i < 4; i++ {
		parts := rt.split(spread, batch(10))
		if len(parts) != 1 {
			t.Fatalf("unkeyed batch split in %d parts", len(parts))
		}
		for s := range parts {
			seen[s] = true
		}
	}
	if len(seen) != 4 {
		t.Fatalf("4 unkeyed batches went to %d shards, want 4 in turn", len(seen))
	}
}
