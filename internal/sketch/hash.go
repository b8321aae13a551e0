package sketch

import (
	"encoding/binary"
	"math/bits"
)

// The constants of Hash64. They are part of the on-disk format: every
// stored HyperLogLog, count-min sketch and Bloom filter holds positions
// derived from these hashes, so they never change.
const (
	hashP1 = 0x9e3779b97f4a7c15 // 2^64 / golden ratio, odd
	hashP2 = 0xc2b2ae3d27d4eb4f
	hashP3 = 0x165667b19e3779f9
	hashP4 = 0xd6e8feb86659fd93
)

// Hash64 is the stable 64-bit hash every sketch keys on. Its output for a
// given input is fixed forever (TestHash64Vectors pins it), on every
// machine: it reads the input as little-endian words and uses only
// integer arithmetic. It is not a cryptographic hash.
func Hash64(b []byte) uint64 {
	n := len(b)
	h := hashP3 ^ uint64(n)*hashP1
	for len(b) >= 16 {
		h = hashRound(h, binary.LittleEndian.Uint64(b))
		h = hashRound(h, binary.LittleEndian.Uint64(b[8:])^hashP4)
		b = b[16:]
	}
	if len(b) >= 8 {
		h = hashRound(h, binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	if len(b) > 0 {
		// The 1..7 tail bytes, packed little-endian, with a marker bit
		// above them so that the tail length is part of the word.
		var w uint64
		for i := len(b) - 1; i >= 0; i-- {
			w = w<<8 | uint64(b[i])
		}
		w |= 1 << (8 * uint(len(b)))
		h = hashRound(h, w^hashP2)
	}
	return hashFinish(h)
}

// HashString is Hash64 of the bytes of s, without copying them.
func HashString(s string) uint64 {
	// The compiler does not allocate for a conversion that does not escape.
	return Hash64([]byte(s))
}

// hashRound folds one 64-bit word into the state. Each step is a
// bijection of the word and of the state, so no input bits are lost
// before the finish.
func hashRound(h, w uint64) uint64 {
	w *= hashP2
	w = bits.RotateLeft64(w, 31)
	w *= hashP1
	h ^= w
	h = bits.RotateLeft64(h, 27)
	return h*hashP1 + hashP4
}

// hashFinish spreads every input bit over the whole word (an
// xor-shift-multiply finalizer).
func hashFinish(h uint64) uint64 {
	h ^= h >> 32
	h *= hashP4
	h ^= h >> 29
	h *= hashP2
	h ^= h >> 32
	return h
}

// mix64 is the finalizer alone: the sketches use it to derive a second,
// independent-looking hash from the first (double hashing).
func mix64(h uint64) uint64 { return hashFinish(h ^ hashP3) }

// reduce maps a 64-bit hash uniformly onto [0, n) without a division.
func reduce(h uint64, n uint64) uint64 {
	hi, _ := bits.Mul64(h, n)
	return hi
}
