package sketch

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
)

// Bloom filter parameters (PipelineDB's defaults).
const (
	DefaultBloomCapacity = 10000
	DefaultBloomFPRate   = 0.01
	BloomMinCapacity     = 1
	BloomMaxCapacity     = 10_000_000
	BloomMinFPRate       = 0.000001
	BloomMaxFPRate       = 0.5

	bloomMaxBits   = 1 << 29 // above the 2.9e8 bits of the largest parameters
	bloomMaxHashes = 30
)

// Bloom is a Bloom filter of m bits and k hash positions per value
// (Kirsch-Mitzenmacher double hashing of one 64-bit hash). For capacity n
// and false-positive rate p it has m = ceil(n·ln(1/p)/ln²2) bits, rounded
// up to a multiple of 64, and k = round(m/n·ln 2) positions.
type Bloom struct {
	m     uint64   // bits, a multiple of 64
	k     uint64   // positions per value
	words []uint64 // m/64 words
}

// NewBloom returns an empty Bloom filter for capacity values
// (BloomMinCapacity..BloomMaxCapacity) at false-positive rate fpRate
// (BloomMinFPRate..BloomMaxFPRate).
func NewBloom(capacity int, fpRate float64) (*Bloom, error) {
	if capacity < BloomMinCapacity || capacity > BloomMaxCapacity {
		return nil, paramErr("bloom", "capacity", capacity, "1..10000000")
	}
	if !(fpRate >= BloomMinFPRate && fpRate <= BloomMaxFPRate) {
		return nil, paramErr("bloom", "false-positive rate", fpRate, "0.000001..0.5")
	}
	n := float64(capacity)
	// detLn, not math.Log: the sizes must be the same on every machine.
	raw := math.Ceil(n * -detLn(fpRate) / float64(math.Ln2*math.Ln2))
	k := max(1, min(bloomMaxHashes, uint64(math.Round(raw/n*math.Ln2))))
	m := (uint64(raw) + 63) &^ 63
	return &Bloom{m: m, k: k, words: make([]uint64, m/64)}, nil
}

// Bits returns m, the size of the filter in bits.
func (b *Bloom) Bits() int { return int(b.m) }

// Hashes returns k, the bit positions set per value.
func (b *Bloom) Hashes() int { return int(b.k) }

// Add records the value whose hash is given.
func (b *Bloom) Add(hash uint64) {
	h2 := mix64(hash) | 1
	for i := range b.k {
		j := reduce(hash+i*h2, b.m)
		b.words[j/64] |= 1 << (j % 64)
	}
}

// Contains reports whether the value whose hash is given may have been
// added: never false for a value added, true for others with about the
// false-positive rate while at most capacity values are held.
func (b *Bloom) Contains(hash uint64) bool {
	h2 := mix64(hash) | 1
	for i := range b.k {
		j := reduce(hash+i*h2, b.m)
		if b.words[j/64]&(1<<(j%64)) == 0 {
			return false
		}
	}
	return true
}

// Cardinality estimates the number of distinct values added from the
// bits set, X: -(m/k)·ln(1-X/m) (Swamidass and Baldi, 2007). A filter
// with every bit set returns the estimate for one bit fewer.
func (b *Bloom) Cardinality() uint64 {
	x := 0
	for _, w := range b.words {
		x += bits.OnesCount64(w)
	}
	m := float64(b.m)
	set := min(float64(x), m-1)
	return uint64(math.Round(-m / float64(b.k) * math.Log1p(-set/m)))
}

// Merge ors o into b; both must have the same m and k (else an error
// wrapping ErrIncompatible). o is unchanged.
func (b *Bloom) Merge(o *Bloom) error {
	if b.m != o.m || b.k != o.k {
		return fmt.Errorf("%w: Bloom filters of %d bits × %d hashes and %d bits × %d hashes cannot be merged; build both with the same capacity and false-positive rate",
			ErrIncompatible, b.m, b.k, o.m, o.k)
	}
	for i, w := range o.words {
		b.words[i] |= w
	}
	return nil
}

// Bloom encoding, after the header ('B', version 1):
//
//	m      uvarint, bits: a multiple of 64, 64..2^29
//	k      uvarint, 1..30
//	words  m/64 words as runs (appendRuns with fixed 8-byte little-endian
//	       words: (zero words before the next non-zero word, that word)
//	       pairs, then the trailing zero words)

// AppendTo appends the encoding of b to dst.
func (b *Bloom) AppendTo(dst []byte) []byte {
	dst = appendHeader(dst, kindBloom)
	dst = binary.AppendUvarint(dst, b.m)
	dst = binary.AppendUvarint(dst, b.k)
	return appendRuns(dst, b.words, true)
}

// Marshal returns the encoding of b.
func (b *Bloom) Marshal() []byte { return b.AppendTo(nil) }

// UnmarshalBloom decodes an encoding written by AppendTo. It returns an
// error wrapping ErrCorrupt for any input that AppendTo could not have
// written.
func UnmarshalBloom(data []byte) (*Bloom, error) {
	d := newDecoder(data, kindBloom, "bloom")
	m, k := d.uvarint(), d.uvarint()
	if d.err != nil {
		return nil, d.err
	}
	if m == 0 || m%64 != 0 || m > bloomMaxBits || k < 1 || k > bloomMaxHashes {
		return nil, corrupt("bloom", "%d bits and %d hashes out of range", m, k)
	}
	b := &Bloom{m: m, k: k, words: make([]uint64, m/64)}
	d.runs(b.words, true)
	if err := d.finish(); err != nil {
		return nil, err
	}
	return b, nil
}
