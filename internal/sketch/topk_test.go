package sketch

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
)

func mustTopK(t testing.TB, k int) *TopK {
	t.Helper()
	s, err := NewTopK(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func valueOf(v uint64) []byte { return fmt.Appendf(nil, "value-%d", v) }

// trueTop returns the k most frequent values (ties by value, as Top orders).
func trueTop(exact map[string]uint64, k int) []string {
	vals := slices.Collect(maps.Keys(exact))
	slices.SortFunc(vals, func(a, b string) int {
		if c := cmp.Compare(exact[b], exact[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return vals[:min(k, len(vals))]
}

// checkTopK checks Top's order and Space-Saving's bounds against the
// exact counts, and returns the recall of the true top-k.
func checkTopK(t *testing.T, s *TopK, exact map[string]uint64, k int) float64 {
	t.Helper()
	top := s.Top()
	if len(top) != min(k, len(exact)) {
		t.Fatalf("%d items for k=%d", len(top), k)
	}
	held := map[string]bool{}
	for i, it := range top {
		held[string(it.Value)] = true
		if c := exact[string(it.Value)]; it.Count < c || it.Count-it.Error > c {
			t.Errorf("%q: count %d error %d does not bound its true count %d", it.Value, it.Count, it.Error, c)
		}
		if i > 0 && (top[i-1].Count < it.Count || top[i-1].Count == it.Count && bytes.Compare(top[i-1].Value, it.Value) >= 0) {
			t.Errorf("Top is out of order at %d", i)
		}
	}
	found := 0
	for _, v := range trueTop(exact, k) {
		if held[v] {
			found++
		}
	}
	return float64(found) / float64(min(k, len(exact)))
}

// TestTopKRecallZipf: on Zipf-distributed values the sketch holds nearly
// all of the true top k, built by Add alone or by merging parts.
func TestTopKRecallZipf(t *testing.T) {
	const n = 500_000
	for _, c := range []struct {
		k      int
		s      float64
		recall float64
	}{{10, 1.1, 1}, {100, 1.1, 0.97}, {1000, 1.2, 0.97}} {
		stream := zipfStream(uint64(c.k), n, c.s, 1_000_000)
		exact := map[string]uint64{}
		whole := mustTopK(t, c.k)
		parts := make([]*TopK, 4)
		for i := range parts {
			parts[i] = mustTopK(t, c.k)
		}
		for i, v := range stream {
			val := valueOf(v)
			exact[string(val)]++
			whole.Add(val, 1)
			parts[i%4].Add(val, 1)
		}
		merged := mustTopK(t, c.k)
		for _, p := range parts {
			if err := merged.Merge(p); err != nil {
				t.Fatal(err)
			}
		}
		if whole.Total() != n || merged.Total() != n {
			t.Errorf("totals %d, %d, want %d", whole.Total(), merged.Total(), n)
		}
		r1, r2 := checkTopK(t, whole, exact, c.k), checkTopK(t, merged, exact, c.k)
		t.Logf("k=%d zipf s=%v: recall %.3f by Add, %.3f merged from 4 parts", c.k, c.s, r1, r2)
		if r1 < c.recall || r2 < c.recall {
			t.Errorf("k=%d: recall %.3f (add), %.3f (merged), want at least %.2f", c.k, r1, r2, c.recall)
		}
	}
}

// TestTopKExactWhenFew: with at most TopKCountersPerK·k distinct values
// every count is exact and nothing is lost.
func TestTopKExactWhenFew(t *testing.T) {
	s := mustTopK(t, 1)
	exact := map[string]uint64{}
	for i := range 100 {
		v := valueOf(uint64(i * i % TopKCountersPerK))
		s.Add(v, uint64(i%4))
		exact[string(v)] += uint64(i % 4)
	}
	for _, it := range s.Top() {
		if it.Error != 0 || it.Count != exact[string(it.Value)] {
			t.Errorf("%q: %d±%d, want exactly %d", it.Value, it.Count, it.Error, exact[string(it.Value)])
		}
	}
	if r := checkTopK(t, s, exact, 1); r != 1 {
		t.Errorf("recall %v", r)
	}
}

// TestTopKTableUnderChurn evicts many values and checks the hash table
// and heap stay consistent: every held value is found, nothing else is.
func TestTopKTableUnderChurn(t *testing.T) {
	for _, k := range []int{1, 2, 3, 7, 64} {
		s := mustTopK(t, k)
		for i, v := range zipfStream(9, 20000, 1.05, 500) {
			s.Add(valueOf(v), uint64(i%3+1))
		}
		used := 0
		for _, e := range s.table {
			if e != 0 {
				used++
			}
		}
		if used != len(s.slots) || len(s.heap) != len(s.slots) {
			t.Fatalf("k=%d: %d table entries, %d heap entries, %d slots", k, used, len(s.heap), len(s.slots))
		}
		for i := range s.slots {
			sl := &s.slots[i]
			if j, ok := s.find(sl.hash, sl.value); !ok || j != int32(i) {
				t.Errorf("k=%d: slot %d (%q) not found", k, i, sl.value)
			}
			if s.heap[sl.heapPos] != int32(i) {
				t.Errorf("k=%d: slot %d heap position wrong", k, i)
			}
		}
		for j := range s.heap {
			if c := 2*j + 1; c < len(s.heap) && s.worse(c, j) {
				t.Errorf("k=%d: heap order broken at %d", k, j)
			}
		}
	}
}

// TestTopKDeterministic: a decoded sketch evolves exactly like the
// original; merging is symmetric.
func TestTopKDeterministic(t *testing.T) {
	stream := zipfStream(4, 30000, 1.1, 5000)
	for _, cut := range []int{0, 3, 1000, 29999} {
		a := mustTopK(t, 20)
		for _, v := range stream[:cut] {
			a.Add(valueOf(v), 1)
		}
		enc := a.Marshal()
		b, err := UnmarshalTopK(enc)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if !bytes.Equal(b.Marshal(), enc) {
			t.Fatalf("cut %d: round trip differs", cut)
		}
		for _, v := range stream[cut:] {
			a.Add(valueOf(v), 1)
			b.Add(valueOf(v), 1)
		}
		if !bytes.Equal(a.Marshal(), b.Marshal()) {
			t.Errorf("cut %d: decoded sketch diverges", cut)
		}
	}
	x, y := mustTopK(t, 20), mustTopK(t, 20)
	for i, v := range stream {
		if i%3 == 0 {
			x.Add(valueOf(v), 1)
		} else {
			y.Add(valueOf(v), 2)
		}
	}
	xy, _ := UnmarshalTopK(x.Marshal())
	yx, _ := UnmarshalTopK(y.Marshal())
	yEnc := y.Marshal()
	if err := xy.Merge(y); err != nil {
		t.Fatal(err)
	}
	if err := yx.Merge(x); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(xy.Marshal(), yx.Marshal()) || !bytes.Equal(y.Marshal(), yEnc) {
		t.Errorf("merge is not symmetric, or changed its argument")
	}
	if err := x.Merge(mustTopK(t, 21)); !errors.Is(err, ErrIncompatible) {
		t.Errorf("merge of k=20 and k=21: %v", err)
	}
}

func TestTopKParamsAndCorrupt(t *testing.T) {
	for _, k := range []int{0, -1, 10001} {
		_, err := NewTopK(k)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Valid != "1..10000" {
			t.Errorf("NewTopK(%d) = %v", k, err)
		}
	}
	s := mustTopK(t, 2)
	s.Add([]byte("a"), 3)
	s.Add([]byte("b"), 1)
	good := s.Marshal()
	for i := range good {
		if _, err := UnmarshalTopK(good[:i]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d: %v", i, err)
		}
	}
	for name, b := range map[string][]byte{
		"trailing":        append(bytes.Clone(good), 0),
		"k 0":             {'K', 1, 0, 0, 0},
		"n > m":           append([]byte{'K', 1, 1, 9, 9}, bytes.Repeat([]byte{1, 0, 1, 'a'}, 9)...),
		"out of order":    {'K', 1, 2, 2, 2, 1, 0, 1, 'b', 1, 0, 1, 'a'},
		"duplicate":       {'K', 1, 2, 2, 2, 1, 0, 1, 'a', 1, 0, 1, 'a'},
		"error > count":   {'K', 1, 2, 9, 1, 1, 2, 1, 'a'},
		"error, not full": {'K', 1, 2, 9, 1, 2, 1, 1, 'a'},
		"count 0":         {'K', 1, 2, 0, 1, 0, 0, 1, 'a'},
		"total too low":   {'K', 1, 2, 1, 1, 2, 0, 1, 'a'},
	} {
		if _, err := UnmarshalTopK(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestTopKAddDoesNotAllocate(t *testing.T) {
	s := mustTopK(t, 100)
	vals := make([][]byte, 1000)
	for i := range vals {
		vals[i] = fmt.Appendf(nil, "v%08d", i)
	}
	for i := range 10000 {
		s.Add(vals[i%1000], 1)
	}
	i := 0
	if a := testing.AllocsPerRun(2000, func() { i++; s.Add(vals[(i*7)%1000], 1) }); a != 0 {
		t.Errorf("Add allocates %v times", a)
	}
}

func FuzzUnmarshalTopK(f *testing.F) {
	s, _ := NewTopK(3)
	f.Add(s.Marshal())
	for i := range 10 {
		s.Add([]byte{byte('a' + i%5)}, uint64(i))
	}
	f.Add(s.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := UnmarshalTopK(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if !bytes.Equal(s.Marshal(), b) {
			t.Fatalf("re-encoding differs")
		}
		s.Top()
		s.Add([]byte("x"), 1)
		_ = s.Merge(s)
	})
}

func BenchmarkTopKAdd(b *testing.B) {
	s, _ := NewTopK(100)
	stream := zipfStream(1, 1<<16, 1.1, 100000)
	vals := make([][]byte, len(stream))
	for i, v := range stream {
		vals[i] = valueOf(v)
	}
	for i := 0; b.Loop(); i++ {
		s.Add(vals[i&(1<<16-1)], 1)
	}
}

// TestTopKMergeAssociative: (a+b)+c and a+(b+c) hold the same true top
// items, with counts that bound the truth.
func TestTopKMergeAssociative(t *testing.T) {
	const k = 20
	stream := zipfStream(12, 90_000, 1.1, 100_000)
	exact := map[string]uint64{}
	parts := func() []*TopK {
		ps := []*TopK{mustTopK(t, k), mustTopK(t, k), mustTopK(t, k)}
		for i, v := range stream {
			ps[i%3].Add(valueOf(v), 1)
		}
		return ps
	}
	for _, v := range stream {
		exact[string(valueOf(v))]++
	}
	p := parts()
	if err := p[0].Merge(p[1]); err != nil {
		t.Fatal(err)
	}
	if err := p[0].Merge(p[2]); err != nil {
		t.Fatal(err)
	}
	q := parts()
	if err := q[1].Merge(q[2]); err != nil {
		t.Fatal(err)
	}
	if err := q[0].Merge(q[1]); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*TopK{"(a+b)+c": p[0], "a+(b+c)": q[0]} {
		if r := checkTopK(t, s, exact, k); r < 0.95 {
			t.Errorf("%s: recall %.2f", name, r)
		}
	}
}
