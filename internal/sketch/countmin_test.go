package sketch

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// zipfStream returns n draws of a Zipf(s) distribution over values
// 0..imax-1, with a fixed seed.
func zipfStream(seed uint64, n int, s float64, imax uint64) []uint64 {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	z := rand.NewZipf(rng, s, 1, imax-1)
	out := make([]uint64, n)
	for i := range out {
		out[i] = z.Uint64()
	}
	return out
}

func mustCountMin(t testing.TB, eps, delta float64) *CountMin {
	t.Helper()
	c, err := NewCountMin(eps, delta)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCountMinDims(t *testing.T) {
	for _, c := range []struct {
		eps, delta   float64
		width, depth int
	}{
		{DefaultCountMinEpsilon, DefaultCountMinDelta, 1360, 5},
		{0.5, 0.5, 6, 1},
		{0.0001, 0.000001, 27183, 14},
		{0.01, 0.05, 272, 3},
	} {
		cm := mustCountMin(t, c.eps, c.delta)
		if cm.Width() != c.width || cm.Depth() != c.depth {
			t.Errorf("ε=%v δ=%v: %d×%d, want width %d depth %d", c.eps, c.delta, cm.Width(), cm.Depth(), c.width, c.depth)
		}
	}
	for _, c := range []struct {
		eps, delta float64
		valid      string
	}{{0, 0.01, "0.0001..0.5"}, {0.6, 0.01, "0.0001..0.5"}, {math.NaN(), 0.01, "0.0001..0.5"}, {0.01, 0, "0.000001..0.5"}, {0.01, 1, "0.000001..0.5"}} {
		_, err := NewCountMin(c.eps, c.delta)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Valid != c.valid {
			t.Errorf("NewCountMin(%v, %v) = %v, want a ParamError naming %s", c.eps, c.delta, err, c.valid)
		}
	}
}

// TestCountMinNeverUnderestimates counts a skewed stream exactly and
// checks every estimate is at least the truth, and that the share of
// values overestimated by more than ε·Total stays under δ.
func TestCountMinNeverUnderestimates(t *testing.T) {
	const n, distinct = 1_000_000, 200_000
	cm := mustCountMin(t, DefaultCountMinEpsilon, DefaultCountMinDelta)
	exact := map[uint64]uint64{}
	for i, v := range zipfStream(1, n, 1.1, distinct) {
		c := uint64(i%3 + 1)
		cm.Add(hashInt(v), c)
		exact[v] += c
	}
	var total uint64
	for _, c := range exact {
		total += c
	}
	if cm.Total() != total {
		t.Fatalf("total %d, want %d", cm.Total(), total)
	}
	bound := uint64(DefaultCountMinEpsilon * float64(total))
	over := 0
	for v, c := range exact {
		est := cm.Estimate(hashInt(v))
		if est < c {
			t.Fatalf("value %d: estimate %d below its count %d", v, est, c)
		}
		if est-c > bound {
			over++
		}
	}
	// Values never added: estimates are non-negative overcounts too.
	for v := uint64(distinct); v < distinct+20000; v++ {
		if cm.Estimate(hashInt(v)) > bound {
			over++
		}
	}
	share := float64(over) / float64(len(exact)+20000)
	t.Logf("%d distinct of %d: %.5f of estimates beyond ε·Total=%d", len(exact), total, share, bound)
	if share > DefaultCountMinDelta {
		t.Errorf("%.4f of estimates overshoot by more than ε·Total, more than δ=%v", share, DefaultCountMinDelta)
	}
}

func TestCountMinMergeRoundTrip(t *testing.T) {
	stream := zipfStream(2, 50000, 1.2, 10000)
	whole, a, b := mustCountMin(t, 0.01, 0.01), mustCountMin(t, 0.01, 0.01), mustCountMin(t, 0.01, 0.01)
	for i, v := range stream {
		whole.Add(hashInt(v), 1)
		if i%2 == 0 {
			a.Add(hashInt(v), 1)
		} else {
			b.Add(hashInt(v), 1)
		}
	}
	bEnc := b.Marshal()
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Marshal(), whole.Marshal()) || !bytes.Equal(b.Marshal(), bEnc) {
		t.Errorf("merge of halves differs from the whole, or changed its argument")
	}
	if err := a.Merge(mustCountMin(t, 0.02, 0.01)); !errors.Is(err, ErrIncompatible) {
		t.Errorf("merge of different widths: %v", err)
	}
	for _, c := range []*CountMin{mustCountMin(t, 0.01, 0.01), whole} {
		enc := c.Marshal()
		g, err := UnmarshalCountMin(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(g.Marshal(), enc) || g.Total() != c.Total() || g.Estimate(hashInt(1)) != c.Estimate(hashInt(1)) {
			t.Errorf("round trip differs")
		}
	}
	if n := len(mustCountMin(t, DefaultCountMinEpsilon, DefaultCountMinDelta).Marshal()); n > 10 {
		t.Errorf("an empty default sketch encodes in %d bytes", n)
	}
}

func TestCountMinCorrupt(t *testing.T) {
	c := mustCountMin(t, 0.5, 0.5)
	c.Add(7, 3)
	good := c.Marshal()
	for i := range good {
		if _, err := UnmarshalCountMin(good[:i]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d: %v", i, err)
		}
	}
	for name, b := range map[string][]byte{
		"trailing":    append(bytes.Clone(good), 0),
		"width 5":     {'C', 1, 5, 1, 0, 5},
		"depth 15":    {'C', 1, 6, 15, 0, 90},
		"row sum":     {'C', 1, 6, 1, 2, 0, 1, 5},
		"overlong":    {'C', 1, 6, 1, 0, 0x86, 0},
		"zero value":  {'C', 1, 6, 1, 0, 0, 0, 5},
		"run too far": {'C', 1, 6, 1, 0, 7},
	} {
		if _, err := UnmarshalCountMin(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCountMinAddDoesNotAllocate(t *testing.T) {
	c := mustCountMin(t, DefaultCountMinEpsilon, DefaultCountMinDelta)
	i := uint64(0)
	if a := testing.AllocsPerRun(1000, func() { i++; c.Add(hashInt(i), 1) }); a != 0 {
		t.Errorf("Add allocates %v times", a)
	}
}

func FuzzUnmarshalCountMin(f *testing.F) {
	c, _ := NewCountMin(0.5, 0.1)
	f.Add(c.Marshal())
	c.Add(1, 1)
	c.Add(99, 1<<40)
	f.Add(c.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := UnmarshalCountMin(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if !bytes.Equal(c.Marshal(), b) {
			t.Fatalf("re-encoding differs")
		}
		c.Estimate(5)
		c.Add(5, 1)
		_ = c.Merge(c)
	})
}

func BenchmarkCountMinAdd(b *testing.B) {
	c, _ := NewCountMin(DefaultCountMinEpsilon, DefaultCountMinDelta)
	for i := 0; b.Loop(); i++ {
		c.Add(uint64(i)*0x9e3779b97f4a7c15, 1)
	}
}
