package catalog

import (
	"testing"
	"time"
)

func TestBackfillProgress(t *testing.T) {
	v := &View{Groups: []uint64{10, 11}, Start: []uint64{0, 5}, BackfillTo: []uint64{100, 25}}
	for _, tc := range []struct {
		name string
		offs [][]uint64
		want Backfill
	}{
		{"unknown shard", [][]uint64{{100, 25}, nil}, Backfill{Target: 120}},
		{"none yet", [][]uint64{{0, 5}, {0, 5}}, Backfill{Target: 120, Known: true}},
		// The slower view shard bounds each source shard.
		{"partial", [][]uint64{{60, 25}, {40, 15}}, Backfill{Target: 120, Done: 50, Known: true}},
		{"past the target", [][]uint64{{130, 30}, {100, 25}}, Backfill{Target: 120, Done: 120, Known: true, Complete: true}},
	} {
		if got := v.BackfillProgress(tc.offs); got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
	}
	empty := &View{Groups: []uint64{10}, Start: []uint64{7}, BackfillTo: []uint64{7}}
	if got := empty.BackfillProgress([][]uint64{{7}}); !got.Complete || got.Target != 0 {
		t.Errorf("nothing to back-fill: got %+v", got)
	}
}

func TestCheckpointInterval(t *testing.T) {
	for set, want := range map[string]time.Duration{"": 0, "5s": 5 * time.Second, "1m30s": 90 * time.Second, "junk": 0} {
		v := &View{}
		if set != "" {
			v.Settings = map[string]string{"checkpoint_interval": set}
		}
		if got := v.CheckpointInterval(); got != want {
			t.Errorf("checkpoint_interval %q: got %v, want %v", set, got, want)
		}
	}
}
