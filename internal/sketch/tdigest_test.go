package sketch

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

func mustTDigest(t testing.TB, c float64) *TDigest {
	t.Helper()
	d, err := NewTDigest(c)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func mustAdd(t testing.TB, d *TDigest, x float64, w uint64) {
	t.Helper()
	if err := d.Add(x, w); err != nil {
		t.Fatal(err)
	}
}

func mustQuantile(t testing.TB, d *TDigest, q float64) float64 {
	t.Helper()
	v, err := d.Quantile(q)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// percentileCont is PostgreSQL's percentile_cont over sorted data.
func percentileCont(sorted []float64, q float64) float64 {
	r := q * float64(len(sorted)-1)
	lo := int(r)
	if lo+1 >= len(sorted) {
		return sorted[lo]
	}
	return sorted[lo] + (r-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// rankError is how far q is from the range of ranks (as fractions) that v
// holds in the sorted data: 0 when v is a correct q-quantile.
func rankError(sorted []float64, v, q float64) float64 {
	n := float64(len(sorted))
	lo := float64(sort.SearchFloat64s(sorted, v)) / n
	hi := float64(sort.Search(len(sorted), func(i int) bool { return sorted[i] > v })) / n
	switch {
	case q < lo:
		return lo - q
	case q > hi:
		return q - hi
	}
	return 0
}

var testQuantiles = []float64{0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999}

// The bounds the accuracy tests hold the default digest to (δ=100, 1M
// values), stated in doc.go: the absolute rank error is at most
// testMaxRankError anywhere, and in the tails (q <= 0.01 or q >= 0.99) at
// most testTailRelError·min(q, 1-q).
const (
	testMaxRankError = 0.003
	testTailRelError = 0.1
)

// TestTDigestAccuracy compares quantiles and CDF of 1M values with the
// exact ones, on uniform, normal and skewed data, in random order and
// sorted (the hardest order for a t-digest), and after merging 16 digests
// of parts.
func TestTDigestAccuracy(t *testing.T) {
	const n = 1_000_000
	rng := rand.New(rand.NewPCG(7, 11))
	dists := map[string]func() float64{
		"uniform":     func() float64 { return rng.Float64() * 1000 },
		"normal":      func() float64 { return rng.NormFloat64()*10 + 100 },
		"exponential": func() float64 { return rng.ExpFloat64() },
		"lognormal":   func() float64 { return math.Exp(rng.NormFloat64() * 2) },
	}
	for _, name := range []string{"uniform", "normal", "exponential", "lognormal"} {
		data := make([]float64, n)
		for i := range data {
			data[i] = dists[name]()
		}
		sorted := slices.Sorted(slices.Values(data))
		for _, order := range []string{"random", "sorted", "merged"} {
			var d *TDigest
			switch order {
			case "random":
				d = mustTDigest(t, DefaultTDigestCompression)
				for _, x := range data {
					mustAdd(t, d, x, 1)
				}
			case "sorted":
				d = mustTDigest(t, DefaultTDigestCompression)
				for _, x := range sorted {
					mustAdd(t, d, x, 1)
				}
			case "merged":
				d = mustTDigest(t, DefaultTDigestCompression)
				for part := range 16 {
					p := mustTDigest(t, DefaultTDigestCompression)
					for _, x := range data[part*n/16 : (part+1)*n/16] {
						mustAdd(t, p, x, 1)
					}
					if err := d.Merge(p); err != nil {
						t.Fatal(err)
					}
				}
			}
			if d.Count() != n || d.Min() != sorted[0] || d.Max() != sorted[n-1] {
				t.Errorf("%s/%s: count %d min %v max %v", name, order, d.Count(), d.Min(), d.Max())
			}
			if v := mustQuantile(t, d, 0); v != sorted[0] {
				t.Errorf("%s/%s: q=0 gives %v, want the minimum %v", name, order, v, sorted[0])
			}
			if v := mustQuantile(t, d, 1); v != sorted[n-1] {
				t.Errorf("%s/%s: q=1 gives %v, want the maximum %v", name, order, v, sorted[n-1])
			}
			worst, worstCDF, worstTail := 0.0, 0.0, 0.0
			for _, q := range testQuantiles {
				v := mustQuantile(t, d, q)
				e := rankError(sorted, v, q)
				worst = max(worst, e)
				tail := min(q, 1-q)
				if tail <= 0.01 {
					worstTail = max(worstTail, e/tail)
				}
				if e > testMaxRankError || (tail <= 0.01 && e > testTailRelError*tail) {
					t.Errorf("%s/%s: q=%v gives %v (exact %v), rank error %.5f", name, order, q, v, percentileCont(sorted, q), e)
				}
				// The CDF at the exact quantile comes back near q.
				x := percentileCont(sorted, q)
				ce := math.Abs(d.CDF(x) - q)
				worstCDF = max(worstCDF, ce)
				if ce > testMaxRankError || (tail <= 0.01 && ce > testTailRelError*tail) {
					t.Errorf("%s/%s: CDF(%v) = %v, want about %v", name, order, x, d.CDF(x), q)
				}
			}
			t.Logf("%s/%s: worst rank error %.5f, in the tails %.3f·min(q,1-q); worst CDF error %.5f; %d entries, %d bytes",
				name, order, worst, worstTail, worstCDF, len(d.entries), len(d.Marshal()))
		}
	}
}

// TestTDigestExactWhileSmall: with at most δ distinct values (here 80
// values repeated, and 150 values once each before the first compression)
// every quantile equals percentile_cont and the CDF is exact.
func TestTDigestExactWhileSmall(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		distinct, repeat int
	}{{1, 1}, {2, 1}, {7, 3}, {80, 1000}, {100, 50}, {150, 1}} {
		d := mustTDigest(t, 100)
		var data []float64
		vals := make([]float64, c.distinct)
		for i := range vals {
			vals[i] = math.Round(rng.NormFloat64()*1000) / 8
		}
		for range c.repeat {
			for _, v := range vals {
				data = append(data, v)
				mustAdd(t, d, v, 1)
			}
		}
		if !d.Exact() {
			t.Fatalf("%+v: digest is not exact", c)
		}
		slices.Sort(data)
		for q := 0.0; q <= 1; q += 1.0 / 64 {
			if got, want := mustQuantile(t, d, q), percentileCont(data, q); got != want {
				t.Errorf("%+v: q=%v: %v, want %v", c, q, got, want)
			}
		}
		for _, x := range append(slices.Clone(vals), -1e9, 1e9, vals[0]+0.01) {
			at := sort.Search(len(data), func(i int) bool { return data[i] > x })
			if got, want := d.CDF(x), float64(at)/float64(len(data)); got != want {
				t.Errorf("%+v: CDF(%v) = %v, want %v", c, x, got, want)
			}
		}
	}
	// Weights: Add(x, w) counts as w copies.
	d := mustTDigest(t, 10)
	mustAdd(t, d, 5, 3)
	mustAdd(t, d, 1, 1)
	if got := mustQuantile(t, d, 0.5); got != 5 || d.Count() != 4 {
		t.Errorf("median of {1,5,5,5} = %v (count %d), want 5", got, d.Count())
	}
	if got := mustQuantile(t, d, 1.0/6); got != 1+4.0/2 {
		t.Errorf("q=1/6 of {1,5,5,5} = %v, want 3", got)
	}
}

func TestTDigestEmptyAndBadInput(t *testing.T) {
	d := mustTDigest(t, DefaultTDigestCompression)
	if v := mustQuantile(t, d, 0.5); !math.IsNaN(v) || !math.IsNaN(d.CDF(1)) || !math.IsNaN(d.Min()) || !math.IsNaN(d.Max()) || d.Count() != 0 {
		t.Errorf("empty digest: quantile %v, count %d", v, d.Count())
	}
	for _, q := range []float64{-0.1, 1.0001, math.NaN(), math.Inf(1)} {
		var pe *ParamError
		if _, err := d.Quantile(q); !errors.As(err, &pe) || pe.Valid != "0..1" {
			t.Errorf("Quantile(%v) = %v, want a ParamError naming 0..1", q, err)
		}
	}
	for _, x := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		if err := d.Add(x, 1); err == nil {
			t.Errorf("Add(%v) accepted", x)
		}
	}
	if err := d.Add(1, 0); err == nil {
		t.Errorf("Add with weight 0 accepted")
	}
	if d.Count() != 0 {
		t.Errorf("refused adds changed the count to %d", d.Count())
	}
	for _, c := range []float64{9.99, 1000.5, 0, -1, math.NaN()} {
		_, err := NewTDigest(c)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Valid != "10..1000" {
			t.Errorf("NewTDigest(%v) = %v, want a ParamError naming 10..1000", c, err)
		}
	}
	_, err := NewTDigest(5)
	if want := "tdigest compression 5 is out of range: valid range is 10..1000"; err == nil || err.Error() != want {
		t.Errorf("message %q, want %q", err, want)
	}
}

// TestTDigestDeterministic: the same adds give the same bytes, an encoding
// round trip loses nothing (later adds give the same bytes as on the
// original), reads do not change the state, and merging is symmetric in
// its estimates.
func TestTDigestDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	data := make([]float64, 20000)
	for i := range data {
		data[i] = rng.NormFloat64()
	}
	build := func(xs []float64) *TDigest {
		d := mustTDigest(t, 50)
		for _, x := range xs {
			mustAdd(t, d, x, 1)
		}
		return d
	}
	a, b := build(data), build(data)
	if !bytes.Equal(a.Marshal(), b.Marshal()) {
		t.Fatal("same adds, different bytes")
	}
	for _, cut := range []int{0, 1, 37, 99, 100, 101, 5000, 19999} {
		d := build(data[:cut])
		before := d.Marshal()
		mustQuantile(t, d, 0.3)
		d.CDF(0.1)
		if !bytes.Equal(before, d.Marshal()) {
			t.Errorf("cut %d: a read changed the encoding", cut)
		}
		g, err := UnmarshalTDigest(before)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if !bytes.Equal(g.Marshal(), before) {
			t.Errorf("cut %d: round trip differs", cut)
		}
		for _, x := range data[cut:] {
			mustAdd(t, d, x, 1)
			mustAdd(t, g, x, 1)
		}
		if !bytes.Equal(g.Marshal(), d.Marshal()) || !bytes.Equal(d.Marshal(), a.Marshal()) {
			t.Errorf("cut %d: a decoded digest diverges from the original", cut)
		}
	}
	x, y := build(data[:7000]), build(data[7000:])
	xy, yx := build(data[:7000]), build(data[7000:])
	if err := xy.Merge(y); err != nil {
		t.Fatal(err)
	}
	if err := yx.Merge(x); err != nil {
		t.Fatal(err)
	}
	for _, q := range testQuantiles {
		u, v := mustQuantile(t, xy, q), mustQuantile(t, yx, q)
		if math.Abs(u-v) > 0.02 {
			t.Errorf("q=%v: a+b %v, b+a %v", q, u, v)
		}
	}
	// Merging at different compressions takes the lower one, both ways.
	lo, hi := mustTDigest(t, 20), mustTDigest(t, 200)
	mustAdd(t, lo, 1, 1)
	mustAdd(t, hi, 2, 1)
	if err := hi.Merge(lo); err != nil || hi.Compression() != 20 {
		t.Errorf("merge of 200 and 20: compression %v (%v)", hi.Compression(), err)
	}
}

func TestTDigestCorrupt(t *testing.T) {
	d := mustTDigest(t, 10)
	for i := range 50 {
		mustAdd(t, d, float64(i%30), 1)
	}
	good := d.Marshal()
	if _, err := UnmarshalTDigest(good); err != nil {
		t.Fatal(err)
	}
	empty := mustTDigest(t, 10).Marshal()
	for i := range good {
		if _, err := UnmarshalTDigest(good[:i]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("truncated to %d bytes: %v", i, err)
		}
	}
	mut := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	for name, b := range map[string][]byte{
		"trailing":      append(bytes.Clone(good), 0),
		"kind":          mut(func(b []byte) { b[0] = 'H' }),
		"compression":   mut(func(b []byte) { b[9] = 0x7f }),
		"flags":         mut(func(b []byte) { b[10] = 2 }),
		"empty inexact": func() []byte { b := bytes.Clone(empty); b[10] = 0; return b }(),
		"count":         mut(func(b []byte) { b[11]++ }),
	} {
		if _, err := UnmarshalTDigest(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestTDigestAddDoesNotAllocate(t *testing.T) {
	d := mustTDigest(t, DefaultTDigestCompression)
	rng := rand.New(rand.NewPCG(1, 1))
	for range 10000 {
		mustAdd(t, d, rng.Float64(), 1)
	}
	if a := testing.AllocsPerRun(5000, func() { _ = d.Add(rng.Float64(), 1) }); a != 0 {
		t.Errorf("Add allocates %v times", a)
	}
}

func TestSinCos(t *testing.T) {
	for _, c := range []float64{10, 33.3, 100, 1000} {
		b := 2 * math.Pi / c
		s, co := sinCos(b)
		if math.Abs(s-math.Sin(b)) > 1e-15 || math.Abs(co-math.Cos(b)) > 1e-15 {
			t.Errorf("sinCos(%v) = %v, %v; math says %v, %v", b, s, co, math.Sin(b), math.Cos(b))
		}
	}
}

func FuzzUnmarshalTDigest(f *testing.F) {
	for _, n := range []int{0, 5, 100} {
		d, _ := NewTDigest(10)
		for i := range n {
			_ = d.Add(float64(i*i%17), uint64(i%3+1))
		}
		f.Add(d.Marshal())
	}
	// An inexact digest with centroids and values added since.
	d, _ := NewTDigest(10)
	for i := range 45 {
		_ = d.Add(float64(i*i%101)/7, 1)
	}
	f.Add(d.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := UnmarshalTDigest(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if !bytes.Equal(d.Marshal(), b) {
			t.Fatalf("re-encoding differs")
		}
		for _, q := range []float64{0, 0.1, 0.5, 0.9, 1} {
			v, err := d.Quantile(q)
			if err != nil || (d.Count() > 0 && (v < d.Min() || v > d.Max())) {
				t.Fatalf("Quantile(%v) = %v, %v outside [%v, %v]", q, v, err, d.Min(), d.Max())
			}
		}
		d.CDF(0)
		g, _ := NewTDigest(TDigestMaxCompression)
		if err := g.Merge(d); err != nil {
			t.Fatal(err)
		}
		_ = d.Add(1, 1)
	})
}

func BenchmarkTDigestAdd(b *testing.B) {
	d, _ := NewTDigest(DefaultTDigestCompression)
	rng := rand.New(rand.NewPCG(1, 1))
	xs := make([]float64, 4096)
	for i := range xs {
		xs[i] = rng.NormFloat64()
	}
	for i := 0; b.Loop(); i++ {
		_ = d.Add(xs[i&4095], 1)
	}
}

var _ = fmt.Sprint

// TestTDigestMergeAssociative: (a+b)+c and a+(b+c) give quantiles within
// the tested rank error of each other and of the truth.
func TestTDigestMergeAssociative(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	data := make([]float64, 300_000)
	for i := range data {
		data[i] = rng.ExpFloat64()
	}
	sorted := slices.Sorted(slices.Values(data))
	part := func(i int) *TDigest {
		d := mustTDigest(t, DefaultTDigestCompression)
		for _, x := range data[i*100_000 : (i+1)*100_000] {
			mustAdd(t, d, x, 1)
		}
		return d
	}
	left, bc := part(0), part(1)
	if err := left.Merge(part(1)); err != nil {
		t.Fatal(err)
	}
	if err := left.Merge(part(2)); err != nil {
		t.Fatal(err)
	}
	if err := bc.Merge(part(2)); err != nil {
		t.Fatal(err)
	}
	right := part(0)
	if err := right.Merge(bc); err != nil {
		t.Fatal(err)
	}
	for _, q := range testQuantiles {
		for name, d := range map[string]*TDigest{"(a+b)+c": left, "a+(b+c)": right} {
			if e := rankError(sorted, mustQuantile(t, d, q), q); e > testMaxRankError {
				t.Errorf("%s: q=%v rank error %.5f", name, q, e)
			}
		}
	}
	if left.Count() != right.Count() || left.Min() != right.Min() || left.Max() != right.Max() {
		t.Errorf("count/min/max differ: %d %v %v vs %d %v %v", left.Count(), left.Min(), left.Max(), right.Count(), right.Min(), right.Max())
	}
}
