package sketch

import "testing"

// pinnedStates builds every sketch from one fixed sequence of inputs,
// drawn from mix64 rather than math/rand, whose streams may change
// between Go releases.
func pinnedStates(t *testing.T) map[string][]byte {
	uniform := func(i, salt uint64) float64 { return float64(mix64(i*4+salt)>>11) / (1 << 53) }
	hll, _ := NewHLL(12)
	hllSparse, _ := NewHLL(DefaultHLLPrecision)
	td, _ := NewTDigest(DefaultTDigestCompression)
	tdExact, _ := NewTDigest(DefaultTDigestCompression)
	cm, _ := NewCountMin(0.01, 0.01)
	tk, _ := NewTopK(10)
	bl, _ := NewBloom(1000, 0.01)
	for i := range 50_000 {
		v := mix64(uint64(i)) % 20_000
		x := uniform(uint64(i), 1) + uniform(uint64(i), 2) + uniform(uint64(i), 3) // roughly normal
		h := hashInt(v)
		hll.Add(h)
		if i < 300 {
			hllSparse.Add(h)
		}
		if err := td.Add(x*3+float64(v%7), uint64(i%3+1)); err != nil {
			t.Fatal(err)
		}
		if err := tdExact.Add(float64(v%50)/4, 1); err != nil {
			t.Fatal(err)
		}
		cm.Add(h, uint64(i%5))
		tk.Add(valueOf(v%300), 1)
		if i%50 == 0 {
			bl.Add(h)
		}
	}
	return map[string][]byte{
		"hll": hll.Marshal(), "hll sparse": hllSparse.Marshal(), "tdigest": td.Marshal(), "tdigest exact": tdExact.Marshal(),
		"countmin": cm.Marshal(), "topk": tk.Marshal(), "bloom": bl.Marshal(),
	}
}

// TestEncodingsPinned pins the bytes each sketch holds after a fixed
// sequence of inputs (by their Hash64). Replicas on any machine, and any
// later version reading stored states, must arrive at these same bytes:
// a change here means a change of behaviour or of format, which needs a
// new version byte, never an edit of these values.
func TestEncodingsPinned(t *testing.T) {
	want := map[string]uint64{
		"hll":           0xb4a20bb05044976a,
		"hll sparse":    0x1fd895c83cf2c1cd,
		"tdigest":       0xf54689967c82dff5,
		"tdigest exact": 0xe6b5b01a74017bff,
		"countmin":      0x2093dc7a07ca2eb3,
		"topk":          0x3cdac957877e487e,
		"bloom":         0x68b98feaffc3cf5c,
	}
	for name, enc := range pinnedStates(t) {
		got := Hash64(enc)
		if w, ok := want[name]; !ok || got != w {
			t.Errorf("%s: encoding (%d bytes) hashes to %#016x, pinned %#016x", name, len(enc), got, w)
		}
	}
}
