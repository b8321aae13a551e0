package sketch

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func mustBloom(t testing.TB, n int, p float64) *Bloom {
	t.Helper()
	b, err := NewBloom(n, p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBloomDims(t *testing.T) {
	for _, c := range []struct {
		n       int
		p       float64
		bits, k int
	}{
		{DefaultBloomCapacity, DefaultBloomFPRate, 95872, 7}, // ceil(95850.6) = 95851 bits, rounded up to 64
		{1, 0.5, 64, 1},
		{1000, 0.001, 14400, 10},
	} {
		b := mustBloom(t, c.n, c.p)
		if b.Bits() != c.bits || b.Hashes() != c.k {
			t.Errorf("n=%d p=%v: %d bits %d hashes, want %d and %d", c.n, c.p, b.Bits(), b.Hashes(), c.bits, c.k)
		}
	}
	for _, c := range []struct {
		n     int
		p     float64
		valid string
	}{{0, 0.01, "1..10000000"}, {10_000_001, 0.01, "1..10000000"}, {10, 0, "0.000001..0.5"}, {10, 0.6, "0.000001..0.5"}, {10, math.NaN(), "0.000001..0.5"}} {
		_, err := NewBloom(c.n, c.p)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Valid != c.valid {
			t.Errorf("NewBloom(%d, %v) = %v, want a ParamError naming %s", c.n, c.p, err, c.valid)
		}
	}
}

// TestBloomRates: no false negatives, and a measured false-positive rate
// within 2x of the one asked for, at full capacity.
func TestBloomRates(t *testing.T) {
	for _, c := range []struct {
		n int
		p float64
	}{{DefaultBloomCapacity, DefaultBloomFPRate}, {1000, 0.1}, {50000, 0.001}} {
		b := mustBloom(t, c.n, c.p)
		for i := range uint64(c.n) {
			b.Add(hashInt(i))
		}
		for i := range uint64(c.n) {
			if !b.Contains(hashInt(i)) {
				t.Fatalf("n=%d: false negative for %d", c.n, i)
			}
		}
		const probes = 200_000
		fp := 0
		for i := range uint64(probes) {
			if b.Contains(hashInt(1<<40 + i)) {
				fp++
			}
		}
		rate := float64(fp) / probes
		card := b.Cardinality()
		t.Logf("n=%d p=%v: measured false-positive rate %.5f, cardinality estimate %d", c.n, c.p, rate, card)
		if rate > 2*c.p || rate < c.p/2 {
			t.Errorf("n=%d p=%v: false-positive rate %.5f, not within 2x", c.n, c.p, rate)
		}
		if rel := math.Abs(float64(card)-float64(c.n)) / float64(c.n); rel > 0.05 {
			t.Errorf("n=%d: cardinality estimate %d is %.1f%% off", c.n, card, 100*rel)
		}
	}
	b := mustBloom(t, 100, 0.01)
	if b.Cardinality() != 0 || b.Contains(hashInt(1)) {
		t.Errorf("empty filter: cardinality %d", b.Cardinality())
	}
	for i := range uint64(100000) {
		b.Add(hashInt(i))
	}
	if c := b.Cardinality(); c == 0 || c > 100000 {
		t.Errorf("saturated filter: cardinality %d", c)
	}
}

func TestBloomMergeRoundTrip(t *testing.T) {
	whole, a, x := mustBloom(t, 5000, 0.01), mustBloom(t, 5000, 0.01), mustBloom(t, 5000, 0.01)
	for i := range uint64(4000) {
		whole.Add(hashInt(i))
		if i%3 == 0 {
			a.Add(hashInt(i))
		} else {
			x.Add(hashInt(i))
		}
	}
	xEnc := x.Marshal()
	if err := a.Merge(x); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Marshal(), whole.Marshal()) || !bytes.Equal(x.Marshal(), xEnc) {
		t.Errorf("merge differs from the filter of the union, or changed its argument")
	}
	if err := a.Merge(mustBloom(t, 5000, 0.02)); !errors.Is(err, ErrIncompatible) {
		t.Errorf("merge of different sizes: %v", err)
	}
	for _, b := range []*Bloom{mustBloom(t, 5000, 0.01), whole} {
		enc := b.Marshal()
		g, err := UnmarshalBloom(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g.Marshal(), enc) || g.Cardinality() != b.Cardinality() {
			t.Errorf("round trip differs")
		}
	}
	small := mustBloom(t, DefaultBloomCapacity, DefaultBloomFPRate)
	small.Add(hashInt(1))
	if n := len(small.Marshal()); n > 8+7*11 {
		t.Errorf("a default filter of one value encodes in %d bytes", n)
	}
}

func TestBloomCorrupt(t *testing.T) {
	b := mustBloom(t, 1, 0.5)
	b.Add(hashInt(3))
	good := b.Marshal()
	for i := range good {
		if _, err := UnmarshalBloom(good[:i]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d: %v", i, err)
		}
	}
	for name, enc := range map[string][]byte{
		"trailing":   append(bytes.Clone(good), 0),
		"m 65":       {'B', 1, 65, 1, 1},
		"m 0":        {'B', 1, 0, 1},
		"k 0":        {'B', 1, 64, 0, 1},
		"k 31":       {'B', 1, 64, 31, 1},
		"zero word":  {'B', 1, 64, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"run 2":      {'B', 1, 64, 1, 2},
		"wrong kind": append([]byte{'C'}, good[1:]...),
	} {
		if _, err := UnmarshalBloom(enc); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestBloomAddDoesNotAllocate(t *testing.T) {
	b := mustBloom(t, DefaultBloomCapacity, DefaultBloomFPRate)
	i := uint64(0)
	if a := testing.AllocsPerRun(1000, func() { i++; b.Add(hashInt(i)) }); a != 0 {
		t.Errorf("Add allocates %v times", a)
	}
}

func TestDetLn(t *testing.T) {
	for _, x := range []float64{1e-300, 1e-6, 0.001, 0.01, 0.1, 0.5, 0.7, 0.7071, 1, 1.5, 2, math.E, 10, 1e6, 1e300} {
		if got, want := detLn(x), math.Log(x); math.Abs(got-want) > 4e-16*math.Max(1, math.Abs(want)) {
			t.Errorf("detLn(%v) = %v, math.Log says %v", x, got, want)
		}
	}
}

func FuzzUnmarshalBloom(f *testing.F) {
	b, _ := NewBloom(100, 0.1)
	f.Add(b.Marshal())
	b.Add(1)
	b.Add(1 << 63)
	f.Add(b.Marshal())
	f.Fuzz(func(t *testing.T, enc []byte) {
		b, err := UnmarshalBloom(enc)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if !bytes.Equal(b.Marshal(), enc) {
			t.Fatalf("re-encoding differs")
		}
		b.Add(7)
		if !b.Contains(7) {
			t.Fatal("false negative")
		}
		b.Cardinality()
		_ = b.Merge(b)
	})
}

func BenchmarkBloomAdd(b *testing.B) {
	f, _ := NewBloom(DefaultBloomCapacity, DefaultBloomFPRate)
	for i := 0; b.Loop(); i++ {
		f.Add(uint64(i) * 0x9e3779b97f4a7c15)
	}
}
