package node

import "testing"

func TestHandOffTarget(t *testing.T) {
	for _, tc := range []struct {
		voters []uint64
		match  map[uint64]uint64
		want   uint64
	}{
		{[]uint64{1, 2, 3}, map[uint64]uint64{1: 10, 2: 7, 3: 9}, 3},
		{[]uint64{1, 2, 3}, map[uint64]uint64{1: 10, 2: 9, 3: 9}, 2},
		{[]uint64{1, 2}, nil, 2},
		{[]uint64{1}, map[uint64]uint64{1: 10}, 0},
		{nil, nil, 0},
	} {
		if got := handOffTarget(tc.voters, tc.match, 1); got != tc.want {
			t.Errorf("handOffTarget(%v, %v) = %d, want %d", tc.voters, tc.match, got, tc.want)
		}
	}
}
