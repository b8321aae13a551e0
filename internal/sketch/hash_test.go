package sketch

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// TestHash64Vectors pins Hash64: stored sketches hold positions derived
// from it, so a change here would silently corrupt every stored state.
// These values must never be edited.
func TestHash64Vectors(t *testing.T) {
	for _, v := range []struct {
		in   string
		want uint64
	}{
		{"", 0x794a6348269ec044},
		{"a", 0xe956c8f54f1119bc},
		{"ab", 0x1e602bdb41f260b8},
		{"abc", 0x5ccda5c40d4c0402},
		{"abcdefg", 0x63cf02974a0fc4b7},
		{"abcdefgh", 0x4b33b6ae62204a20},
		{"abcdefghi", 0xc012a6d721b095f7},
		{"0123456789abcdef", 0x8181aacfab407bdb},
		{"0123456789abcdefX", 0xa43334eb2f7747c8},
		{"The quick brown fox jumps over the lazy dog", 0x4db3bbb38efd63c6},
		{"\x00", 0x2fc4692e2992805e},
		{"\x00\x00", 0x004ec441e63bcaa2},
		{"\x00\x00\x00\x00\x00\x00\x00\x00", 0x197bcd802edaf4a1},
	} {
		if got := Hash64([]byte(v.in)); got != v.want {
			t.Errorf("Hash64(%q) = %#016x, pinned %#016x", v.in, got, v.want)
		}
		if got := HashString(v.in); got != v.want {
			t.Errorf("HashString(%q) = %#016x, pinned %#016x", v.in, got, v.want)
		}
	}
}

// TestHash64Avalanche checks that flipping any one input bit flips each
// output bit with probability close to 1/2, for inputs of several lengths
// (the tail, one word, and the 16-byte loop).
func TestHash64Avalanche(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const samples = 3000
	for _, n := range []int{3, 8, 13, 24} {
		in := make([]byte, n)
		var flips [24 * 8][64]int
		for range samples {
			for i := range in {
				in[i] = byte(rng.Uint32())
			}
			h := Hash64(in)
			for bit := range n * 8 {
				in[bit/8] ^= 1 << (bit % 8)
				d := h ^ Hash64(in)
				in[bit/8] ^= 1 << (bit % 8)
				for o := range 64 {
					flips[bit][o] += int(d >> o & 1)
				}
			}
		}
		worst := 0.0
		for bit := range n * 8 {
			for o := range 64 {
				p := float64(flips[bit][o]) / samples
				worst = max(worst, abs(p-0.5))
			}
		}
		// 3000 samples: one standard deviation is 0.009; 0.05 is > 5 sigma.
		if worst > 0.05 {
			t.Errorf("len %d: worst avalanche bias %.3f, want < 0.05", n, worst)
		}
	}
}

// TestHash64Uniform checks that sequential integers (the worst case for a
// weak hash) spread evenly over buckets taken from the top bits (as
// HyperLogLog does) and through reduce (as count-min and Bloom do).
func TestHash64Uniform(t *testing.T) {
	const n, buckets = 1 << 20, 1024
	var top, red [buckets]int
	var b [8]byte
	for i := range uint64(n) {
		binary.LittleEndian.PutUint64(b[:], i)
		h := Hash64(b[:])
		top[h>>54]++
		red[reduce(mix64(h), buckets)]++
	}
	for name, c := range map[string]*[buckets]int{"top bits": &top, "reduce": &red} {
		exp := float64(n) / buckets
		chi := 0.0
		for _, x := range c {
			d := float64(x) - exp
			chi += d * d / exp
		}
		// 1023 degrees of freedom: mean 1023, sd 45; 1300 is > 6 sd.
		if chi > 1300 {
			t.Errorf("%s: chi-square %.0f over %d buckets, want < 1300", name, chi, buckets)
		}
	}
	// Low bits too: the popcount of the xor of neighbours averages 32.
	sum := 0
	prev := Hash64(make([]byte, 8))
	for i := uint64(1); i < 10000; i++ {
		binary.LittleEndian.PutUint64(b[:], i)
		h := Hash64(b[:])
		sum += bits.OnesCount64(h ^ prev)
		prev = h
	}
	if avg := float64(sum) / 9999; avg < 31.5 || avg > 32.5 {
		t.Errorf("neighbouring inputs differ in %.2f bits on average, want ~32", avg)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestHashStringDoesNotAllocate(t *testing.T) {
	s := "some value of a group"
	if a := testing.AllocsPerRun(100, func() { HashString(s) }); a != 0 {
		t.Errorf("HashString allocates %v times", a)
	}
}

func BenchmarkHash64(b *testing.B) {
	v := []byte("device-000123456") // 16 bytes, a typical group or value key
	for b.Loop() {
		Hash64(v)
	}
}
