package sketch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"
)

// hashInt is the hash of the 8-byte little-endian encoding of i: distinct
// i give distinct values.
func hashInt(i uint64) uint64 {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], i)
	return Hash64(b[:])
}

func mustHLL(t testing.TB, p int) *HLL {
	t.Helper()
	h, err := NewHLL(p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestHLLAccuracy compares the estimate with the exact count at several
// cardinalities: within 4 standard errors (1.04/sqrt(m)) of the truth.
// Each value is added twice, to show duplicates are not counted.
func TestHLLAccuracy(t *testing.T) {
	for _, p := range []int{10, DefaultHLLPrecision} {
		for _, n := range []uint64{10, 1000, 100_000, 1_000_000} {
			for _, offset := range []uint64{0, 1 << 40} {
				h := mustHLL(t, p)
				for i := range n {
					h.Add(hashInt(offset + i))
					h.Add(hashInt(offset + i))
				}
				est := h.Estimate()
				rel := (float64(est) - float64(n)) / float64(n)
				t.Logf("p=%d n=%d offset=%d: estimate %d, relative error %+.4f (%.2f SE), sparse=%v, %d bytes",
					p, n, offset, est, rel, rel/h.StdError(), h.Sparse(), len(h.Marshal()))
				if math.Abs(rel) > 4*h.StdError() {
					t.Errorf("p=%d n=%d: estimate %d is off by %.4f, more than 4 standard errors (%.4f)", p, n, est, rel, 4*h.StdError())
				}
			}
		}
	}
}

// TestHLLSmallIsSparseAndSmall: a sketch of a few values stays sparse,
// encodes in a few bytes per value, and counts them exactly.
func TestHLLSmallIsSparseAndSmall(t *testing.T) {
	h := mustHLL(t, DefaultHLLPrecision)
	if got := h.Estimate(); got != 0 {
		t.Errorf("empty estimate %d", got)
	}
	for i := range uint64(5) {
		h.Add(hashInt(i))
	}
	if !h.Sparse() || h.Estimate() != 5 {
		t.Errorf("5 values: sparse=%v estimate=%d, want sparse and 5", h.Sparse(), h.Estimate())
	}
	if n := len(h.Marshal()); n > 4+5*5 {
		t.Errorf("5 values encode in %d bytes, want at most %d", n, 4+5*5)
	}
	for i := uint64(5); i < 4096; i++ {
		h.Add(hashInt(i))
	}
	if !h.Sparse() {
		t.Errorf("4096 values at p=14 should still be sparse")
	}
	h.Add(hashInt(1 << 50))
	if h.Sparse() {
		t.Errorf("4097 values at p=14 should be dense")
	}
	if n := len(h.Marshal()); n != 4+16384*3/4 {
		t.Errorf("dense p=14 encodes in %d bytes, want %d", n, 4+16384*3/4)
	}
	// At p=18 the sparse list stops at 16384 entries, not 2^18/4.
	h = mustHLL(t, 18)
	for i := range uint64(16384) {
		h.Add(hashInt(i))
	}
	if !h.Sparse() || math.Abs(float64(h.Estimate())-16384) > 16 {
		t.Errorf("16384 values at p=18: sparse=%v estimate %d", h.Sparse(), h.Estimate())
	}
	for i := uint64(16384); i < 16500; i++ {
		h.Add(hashInt(i))
	}
	if h.Sparse() {
		t.Errorf("16500 values at p=18 should be dense")
	}
}

// TestHLLMergeEqualsUnion: merging sketches of two halves gives, byte for
// byte, the sketch of the whole, whatever the forms (sparse or dense),
// the order, and the precisions (the result takes the lower one).
func TestHLLMergeEqualsUnion(t *testing.T) {
	for _, c := range []struct{ na, nb, pa, pb int }{
		{3, 4, 14, 14},         // sparse + sparse stays sparse
		{3000, 3000, 14, 14},   // sparse + sparse becomes dense
		{50000, 3, 14, 14},     // dense + sparse
		{3, 50000, 14, 14},     // sparse + dense
		{50000, 70000, 14, 14}, // dense + dense
		{50000, 70000, 14, 11}, // dense, different precisions
		{20, 70000, 12, 16},
		{20, 30, 16, 12}, // sparse, different precisions
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			build := func(p int, from, n int) *HLL {
				h := mustHLL(t, p)
				for i := from; i < from+n; i++ {
					h.Add(hashInt(uint64(i)))
				}
				return h
			}
			// The halves overlap by a third of b to test that too.
			bFrom := c.na - min(c.na, c.nb)/3
			whole := build(min(c.pa, c.pb), 0, bFrom+c.nb)
			ab := build(c.pa, 0, c.na)
			if err := ab.Merge(build(c.pb, bFrom, c.nb)); err != nil {
				t.Fatal(err)
			}
			ba := build(c.pb, bFrom, c.nb)
			b := build(c.pa, 0, c.na)
			bEnc := b.Marshal()
			if err := ba.Merge(b); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Marshal(), bEnc) {
				t.Errorf("Merge changed its argument")
			}
			if !bytes.Equal(ab.Marshal(), whole.Marshal()) || !bytes.Equal(ba.Marshal(), whole.Marshal()) {
				t.Errorf("merge differs from the sketch of the union: a+b %d, b+a %d, whole %d", ab.Estimate(), ba.Estimate(), whole.Estimate())
			}
		})
	}
}

func TestHLLRoundTrip(t *testing.T) {
	for _, n := range []uint64{0, 1, 100, 4096, 100000} {
		h := mustHLL(t, DefaultHLLPrecision)
		for i := range n {
			h.Add(hashInt(i))
		}
		enc := h.AppendTo([]byte("prefix"))[len("prefix"):]
		g, err := UnmarshalHLL(enc)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !bytes.Equal(g.Marshal(), enc) || g.Estimate() != h.Estimate() || g.Sparse() != h.Sparse() {
			t.Errorf("n=%d: round trip differs", n)
		}
		// Adding to the decoded copy behaves like adding to the original.
		h.Add(hashInt(1 << 60))
		g.Add(hashInt(1 << 60))
		if !bytes.Equal(g.Marshal(), h.Marshal()) {
			t.Errorf("n=%d: decoded sketch diverges after an Add", n)
		}
	}
}

// TestHLLPendingInvisible: entries waiting to be merged never show. A
// sketch decoded from its own encoding before every Add stays
// byte-identical to one that only adds, through the sparse-to-dense
// conversion, and Merge takes the waiting entries of its argument.
func TestHLLPendingInvisible(t *testing.T) {
	a, b := mustHLL(t, 12), mustHLL(t, 12)
	for i := range uint64(1300) {
		var err error
		if b, err = UnmarshalHLL(b.Marshal()); err != nil {
			t.Fatal(err)
		}
		a.Add(hashInt(i % 1100))
		b.Add(hashInt(i % 1100))
		if !bytes.Equal(a.Marshal(), b.Marshal()) || a.Estimate() != b.Estimate() || a.Sparse() != b.Sparse() {
			t.Fatalf("after %d adds: the sketches differ (sparse %v, %v)", i+1, a.Sparse(), b.Sparse())
		}
		if i%97 == 0 {
			c, d := mustHLL(t, 12), mustHLL(t, 12)
			if err := c.Merge(a); err != nil {
				t.Fatal(err)
			}
			if err := d.Merge(b); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(c.Marshal(), a.Marshal()) || !bytes.Equal(d.Marshal(), a.Marshal()) {
				t.Fatalf("after %d adds: merging into an empty sketch changes the state", i+1)
			}
		}
	}
	if a.Sparse() {
		t.Errorf("1100 distinct values at p=12 should be dense")
	}
}

func TestHLLParams(t *testing.T) {
	for _, p := range []int{-1, 0, 3, 19, 64} {
		_, err := NewHLL(p)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Valid != "4..18" {
			t.Errorf("NewHLL(%d) = %v, want a ParamError with range 4..18", p, err)
		}
	}
	_, err := NewHLL(3)
	if want := "hll precision 3 is out of range: valid range is 4..18"; err == nil || err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
	for p := HLLMinPrecision; p <= HLLMaxPrecision; p++ {
		h := mustHLL(t, p)
		for i := range uint64(3000) {
			h.Add(hashInt(i))
		}
		if rel := math.Abs(float64(h.Estimate())-3000) / 3000; rel > 4*h.StdError() {
			t.Errorf("p=%d: 3000 estimated as %d", p, h.Estimate())
		}
	}
}

func TestHLLCorrupt(t *testing.T) {
	h := mustHLL(t, 4)
	for i := range uint64(3) {
		h.Add(hashInt(i))
	}
	sparse := h.Marshal()
	for i := range uint64(100) {
		h.Add(hashInt(i))
	}
	dense := h.Marshal()
	cases := map[string][]byte{
		"empty":         nil,
		"wrong kind":    append([]byte{'T'}, sparse[1:]...),
		"wrong version": append([]byte{'H', 9}, sparse[2:]...),
		"precision 3":   append([]byte{'H', 1, 3}, sparse[3:]...),
		"format 7":      append([]byte{'H', 1, 4, 7}, sparse[4:]...),
		"sparse cut":    sparse[:len(sparse)-1],
		"sparse extra":  append(bytes.Clone(sparse), 0),
		"dense cut":     dense[:len(dense)-1],
		"dense extra":   append(bytes.Clone(dense), 0),
		"too many":      {'H', 1, 4, 0, 5, 1, 1, 1, 1, 1},
		"rank 0":        {'H', 1, 4, 0, 1, 64},
		"rank 41":       {'H', 1, 4, 0, 1, 41},
		"same index":    {'H', 1, 4, 0, 2, 65, 1},
		"register 62":   append([]byte{'H', 1, 4, 1, 62}, make([]byte, 11)...),
	}
	for name, b := range cases {
		if _, err := UnmarshalHLL(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
}

// TestHLLEstimateExtremes: registers all empty or all at their maximum
// (only reachable by decoding) give 0 and the largest count, not garbage.
func TestHLLEstimateExtremes(t *testing.T) {
	full := append([]byte{'H', 1, 4, 1}, bytes.Repeat([]byte{0x7d, 0xdf, 0xf7}, 4)...) // registers of 61
	h, err := UnmarshalHLL(full)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Estimate(); got != math.MaxUint64 {
		t.Errorf("full registers estimate %d", got)
	}
	h, err = UnmarshalHLL(append([]byte{'H', 1, 4, 1}, make([]byte, 12)...))
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Estimate(); got != 0 {
		t.Errorf("empty dense registers estimate %d", got)
	}
}

func TestHLLAddDoesNotAllocate(t *testing.T) {
	h := mustHLL(t, DefaultHLLPrecision)
	for i := range uint64(10000) {
		h.Add(hashInt(i))
	}
	i := uint64(0)
	if a := testing.AllocsPerRun(1000, func() { i++; h.Add(hashInt(i)) }); a != 0 {
		t.Errorf("dense Add allocates %v times", a)
	}
}

func FuzzUnmarshalHLL(f *testing.F) {
	for _, n := range []uint64{0, 3, 100} {
		h, _ := NewHLL(4)
		for i := range n {
			h.Add(hashInt(i))
		}
		f.Add(h.Marshal())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := UnmarshalHLL(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// What decodes re-encodes to the same bytes and is usable.
		if !bytes.Equal(h.Marshal(), b) {
			t.Fatalf("re-encoding differs")
		}
		h.Estimate()
		h.Add(12345)
		g, _ := NewHLL(HLLMinPrecision)
		if err := g.Merge(h); err != nil {
			t.Fatal(err)
		}
	})
}

func BenchmarkHLLAdd(b *testing.B) {
	h, _ := NewHLL(DefaultHLLPrecision)
	for i := 0; b.Loop(); i++ {
		h.Add(uint64(i) * 0x9e3779b97f4a7c15)
	}
}
