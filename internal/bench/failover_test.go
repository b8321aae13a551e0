package bench

import (
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/testutil"
)

// TestFailoverJudgesByID: the failover bench reads per-batch counts and
// id sums from fo_batches; one batch lost and another counted twice keep
// the total a multiple of 500 (what the old count check passed), and the
// checker must still name both.
func TestFailoverJudgesByID(t *testing.T) {
	sum := func(b int64) int64 { // sum of the ids of batch b
		s := int64(0)
		for id := b*foBatch + 1; id <= (b+1)*foBatch; id++ {
			s += id
		}
		return s
	}
	var log batchLog
	log.size = foBatch
	for n := int64(0); n < 4; n++ {
		log.done(n, 0, n != 3, time.Unix(1000, 0))
	}
	view := func(rows ...[3]int64) []int64 {
		var ids []int64
		for _, r := range rows {
			ids = append(ids, batchIDs(r[0], r[1], r[2])...)
		}
		return ids
	}
	good := judge(log.sent(), view([3]int64{0, 500, sum(0)}, [3]int64{1, 500, sum(1)}, [3]int64{2, 500, sum(2)}, [3]int64{3, 500, sum(3)}))
	if msg := testutil.Failed(good.checks); msg != "" || good.unknownIn != 500 {
		t.Fatalf("a good run: %s, %d ids of the failed batch in", msg, good.unknownIn)
	}
	// Batch 1 lost, batch 2 twice: 2,000 events, as many as acknowledged
	// plus nothing of the failed one.
	v := judge(log.sent(), view([3]int64{0, 500, sum(0)}, [3]int64{2, 1000, 2 * sum(2)}, [3]int64{3, 500, sum(3)}))
	if v.lost != 500 || v.duplicated != 500 || v.unexpected != 0 {
		t.Fatalf("lost %d, duplicated %d, unexpected %d; want 500, 500, 0", v.lost, v.duplicated, v.unexpected)
	}
	// A whole count with a wrong sum is a torn batch: one id lost, one twice.
	v = judge(log.sent(), view([3]int64{0, 500, sum(0) + 1}, [3]int64{1, 500, sum(1)}, [3]int64{2, 500, sum(2)}))
	if v.lost != 1 || v.duplicated != 1 {
		t.Fatalf("torn batch: lost %d, duplicated %d; want 1, 1", v.lost, v.duplicated)
	}
	// A batch never sent.
	if v = judge(log.sent(), view([3]int64{0, 500, sum(0)}, [3]int64{1, 500, sum(1)}, [3]int64{2, 500, sum(2)}, [3]int64{7, 500, sum(7)})); v.unexpected != 500 {
		t.Fatalf("unexpected %d, want 500", v.unexpected)
	}
}
