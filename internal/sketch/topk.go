package sketch

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// Top-k parameters.
const (
	TopKMin = 1
	TopKMax = 10000

	// TopKCountersPerK is how many counters a top-k sketch keeps per item
	// it reports. With k counters alone, Space-Saving finds few of the
	// true top k on heavy-tailed data (a recall of 0.2 to 0.5 on Zipf
	// data in TestTopKRecallZipf's setting); with 8k it finds nearly all.
	TopKCountersPerK = 8
)

// TopK finds heavy hitters with Space-Saving (Metwally, Agrawal and El
// Abbadi, 2005) over m = TopKCountersPerK·k counters of (value, count,
// error), and reports the best k. A counted value adds to its counter; a
// new value takes over the counter of the least item, inheriting its
// count as error. Every count is an upper bound on the value's true count
// and count-error a lower bound; any value seen more than Total/m times
// is held, and while at most m distinct values have been seen every count
// is exact.
//
// The least item is the one with the smallest count, and among equal
// counts the greatest value (bytewise): a total order, so which counter a
// new value takes depends only on the state, never on how it is laid out
// in memory, and a decoded sketch evolves exactly like the original.
type TopK struct {
	k     int // items reported by Top
	m     int // counters: TopKCountersPerK·k
	total uint64
	slots []topkSlot // at most m
	heap  []int32    // slot indices, a min-heap under worse (the least item at the root)
	table []int32    // open addressing by hash: slot index + 1, 0 empty; len a power of two >= 2·len(slots)
}

type topkSlot struct {
	value      []byte
	hash       uint64
	count, err uint64
	heapPos    int32
}

// TopKItem is one heavy hitter: Count is an upper bound on its true count,
// Count-Error a lower bound.
type TopKItem struct {
	Value []byte
	Count uint64
	Error uint64
}

// NewTopK returns an empty top-k sketch that reports the best k items
// (TopKMin..TopKMax), keeping TopKCountersPerK·k counters.
func NewTopK(k int) (*TopK, error) {
	if k < TopKMin || k > TopKMax {
		return nil, paramErr("topk", "k", k, "1..10000")
	}
	return newTopK(k), nil
}

func newTopK(k int) *TopK {
	return &TopK{k: k, m: TopKCountersPerK * k, table: make([]int32, 16)}
}

// grow doubles the table when adding a slot would fill more than half of
// it. The layout of the table never changes what the sketch does.
func (t *TopK) grow() {
	if 2*(len(t.slots)+1) <= len(t.table) {
		return
	}
	t.table = make([]int32, 1<<bits.Len(uint(4*(len(t.slots)+1)-1)))
	for i := range t.slots {
		t.insert(int32(i))
	}
}

// K returns the number of items Top reports at most.
func (t *TopK) K() int { return t.k }

// Total returns the sum of all counts added.
func (t *TopK) Total() uint64 { return t.total }

// better reports whether item a ranks before item b in Top's order: by
// count descending, then value ascending.
func better(a, b *topkSlot) bool {
	if a.count != b.count {
		return a.count > b.count
	}
	return bytes.Compare(a.value, b.value) < 0
}

// Add counts count occurrences of value (count 0 is a no-op). The sketch
// copies value.
func (t *TopK) Add(value []byte, count uint64) {
	if count == 0 {
		return
	}
	t.total = satAdd(t.total, count)
	h := Hash64(value)
	if i, ok := t.find(h, value); ok {
		s := &t.slots[i]
		s.count = satAdd(s.count, count)
		t.down(int(s.heapPos))
		return
	}
	if len(t.slots) < t.m {
		t.push(topkSlot{value: slices.Clone(value), hash: h, count: count})
		return
	}
	i := t.heap[0]
	s := &t.slots[i]
	t.remove(i)
	s.value = append(s.value[:0], value...)
	s.hash = h
	s.err = s.count
	s.count = satAdd(s.count, count)
	t.insert(i)
	t.down(0)
}

// find returns the slot holding value.
func (t *TopK) find(h uint64, value []byte) (int32, bool) {
	mask := uint64(len(t.table) - 1)
	for p := h & mask; ; p = (p + 1) & mask {
		e := t.table[p]
		if e == 0 {
			return 0, false
		}
		if s := &t.slots[e-1]; s.hash == h && bytes.Equal(s.value, value) {
			return e - 1, true
		}
	}
}

// insert puts slot i, whose value is not present, into the table.
func (t *TopK) insert(i int32) {
	mask := uint64(len(t.table) - 1)
	p := t.slots[i].hash & mask
	for t.table[p] != 0 {
		p = (p + 1) & mask
	}
	t.table[p] = i + 1
}

// remove takes slot i out of the table, shifting later entries of its
// probe run back so that no tombstones are needed.
func (t *TopK) remove(i int32) {
	mask := uint64(len(t.table) - 1)
	p := t.slots[i].hash & mask
	for t.table[p] != i+1 {
		p = (p + 1) & mask
	}
	for q := (p + 1) & mask; t.table[q] != 0; q = (q + 1) & mask {
		home := t.slots[t.table[q]-1].hash & mask
		// Move the entry at q into the hole at p unless its home lies
		// cyclically in (p, q].
		if (q-home)&mask >= (q-p)&mask {
			t.table[p] = t.table[q]
			p = q
		}
	}
	t.table[p] = 0
}

func (t *TopK) worse(a, b int) bool { return better(&t.slots[t.heap[b]], &t.slots[t.heap[a]]) }

func (t *TopK) swap(a, b int) {
	t.heap[a], t.heap[b] = t.heap[b], t.heap[a]
	t.slots[t.heap[a]].heapPos = int32(a)
	t.slots[t.heap[b]].heapPos = int32(b)
}

func (t *TopK) up(j int) {
	for j > 0 {
		parent := (j - 1) / 2
		if !t.worse(j, parent) {
			return
		}
		t.swap(j, parent)
		j = parent
	}
}

func (t *TopK) down(j int) {
	n := len(t.heap)
	for {
		c := 2*j + 1
		if c >= n {
			return
		}
		if c+1 < n && t.worse(c+1, c) {
			c++
		}
		if !t.worse(c, j) {
			return
		}
		t.swap(j, c)
		j = c
	}
}

// Top returns the best k items held, by count descending then value
// ascending. The values are copies.
func (t *TopK) Top() []TopKItem { return t.items(t.k) }

// items returns the best n items held.
func (t *TopK) items(n int) []TopKItem {
	order := make([]int32, len(t.slots))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		if better(&t.slots[a], &t.slots[b]) {
			return -1
		}
		return 1
	})
	items := make([]TopKItem, min(n, len(order)))
	for i, j := range order[:len(items)] {
		s := &t.slots[j]
		items[i] = TopKItem{Value: slices.Clone(s.value), Count: s.count, Error: s.err}
	}
	return items
}

// Merge folds o into t (Cafaro, Pulimeno and Tempesta's parallel
// Space-Saving): for each value held by either, the counts and errors
// add, a value missing from a full sketch counting as that sketch's least
// count; then the k best are kept. Both must have the same k (else an
// error wrapping ErrIncompatible). o is unchanged.
func (t *TopK) Merge(o *TopK) error {
	if t.k != o.k {
		return fmt.Errorf("%w: top-k sketches with k=%d and k=%d cannot be merged; build both with the same k", ErrIncompatible, t.k, o.k)
	}
	minOf := func(s *TopK) uint64 {
		if len(s.slots) < s.m {
			return 0 // not full: it has counted every value exactly
		}
		return s.slots[s.heap[0]].count
	}
	minT, minO := minOf(t), minOf(o)
	merged := make([]topkSlot, 0, len(t.slots)+len(o.slots))
	for _, s := range t.slots {
		m := s
		if j, ok := o.find(s.hash, s.value); ok {
			m.count, m.err = satAdd(m.count, o.slots[j].count), satAdd(m.err, o.slots[j].err)
		} else {
			m.count, m.err = satAdd(m.count, minO), satAdd(m.err, minO)
		}
		merged = append(merged, m)
	}
	for _, s := range o.slots {
		if _, ok := t.find(s.hash, s.value); ok {
			continue
		}
		m := s
		m.value = slices.Clone(s.value)
		m.count, m.err = satAdd(m.count, minT), satAdd(m.err, minT)
		merged = append(merged, m)
	}
	slices.SortFunc(merged, func(a, b topkSlot) int {
		if better(&a, &b) {
			return -1
		}
		return 1
	})
	total := satAdd(t.total, o.total)
	*t = *newTopK(t.k)
	t.total = total
	for _, s := range merged[:min(len(merged), t.m)] {
		t.push(s)
	}
	return nil
}

// push adds a slot for a value not yet present.
func (t *TopK) push(s topkSlot) {
	t.grow()
	s.heapPos = int32(len(t.heap))
	t.slots = append(t.slots, s)
	i := int32(len(t.slots) - 1)
	t.insert(i)
	t.heap = append(t.heap, i)
	t.up(len(t.heap) - 1)
}

// Top-k encoding, after the header ('K', version 1):
//
//	k      uvarint, 1..10000
//	total  uvarint
//	n      uvarint, items held, at most m = TopKCountersPerK·k
//	items  n × (count uvarint >= 1, error uvarint <= count, value length
//	       uvarint, value bytes), in Top's order (count descending, value
//	       ascending, values distinct); errors are all 0 while n < m
//	       (a sketch that was never full has counted exactly)

// AppendTo appends the encoding of t to dst.
func (t *TopK) AppendTo(dst []byte) []byte {
	dst = appendHeader(dst, kindTopK)
	dst = binary.AppendUvarint(dst, uint64(t.k))
	dst = binary.AppendUvarint(dst, t.total)
	dst = binary.AppendUvarint(dst, uint64(len(t.slots)))
	for _, it := range t.items(len(t.slots)) {
		dst = binary.AppendUvarint(dst, it.Count)
		dst = binary.AppendUvarint(dst, it.Error)
		dst = binary.AppendUvarint(dst, uint64(len(it.Value)))
		dst = append(dst, it.Value...)
	}
	return dst
}

// Marshal returns the encoding of t.
func (t *TopK) Marshal() []byte { return t.AppendTo(nil) }

// UnmarshalTopK decodes an encoding written by AppendTo. It returns an
// error wrapping ErrCorrupt for any input that AppendTo could not have
// written.
func UnmarshalTopK(b []byte) (*TopK, error) {
	d := newDecoder(b, kindTopK, "topk")
	k, total, n := d.uvarint(), d.uvarint(), d.uvarint()
	if d.err != nil {
		return nil, d.err
	}
	if k < TopKMin || k > TopKMax || n > TopKCountersPerK*k {
		return nil, corrupt("topk", "k %d with %d items", k, n)
	}
	t := newTopK(int(k))
	t.total = total
	var sum uint64
	for i := uint64(0); i < n; i++ {
		s := topkSlot{count: d.uvarint(), err: d.uvarint()}
		s.value = slices.Clone(d.bytes(d.uvarint()))
		if d.err != nil {
			return nil, d.err
		}
		if s.count == 0 || s.err > s.count || (n < uint64(t.m) && s.err != 0) {
			return nil, corrupt("topk", "item %d: count %d, error %d", i, s.count, s.err)
		}
		if i > 0 && !better(&t.slots[i-1], &s) {
			return nil, corrupt("topk", "item %d out of order", i)
		}
		s.hash = Hash64(s.value)
		sum = satAdd(sum, s.count-s.err)
		t.push(s)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	if sum > total {
		return nil, corrupt("topk", "items count at least %d, total is %d", sum, total)
	}
	return t, nil
}
