package sketch

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Count-min parameters. Width is ceil(e/ε) and depth ceil(ln(1/δ)).
const (
	DefaultCountMinEpsilon = 0.002 // width 1360
	DefaultCountMinDelta   = 0.01  // depth 5
	CountMinMinEpsilon     = 0.0001
	CountMinMaxEpsilon     = 0.5
	CountMinMinDelta       = 0.000001
	CountMinMaxDelta       = 0.5

	countMinMaxWidth = 27183 // ceil(e/CountMinMinEpsilon)
	countMinMaxDepth = 14    // ceil(ln(1/CountMinMinDelta))
)

// ErrIncompatible is returned by Merge when two sketches cannot be merged
// (different dimensions); it wraps the details.
var ErrIncompatible = fmt.Errorf("sketch: incompatible sketches")

// CountMin is a count-min sketch (Cormode and Muthukrishnan): depth rows
// of width counters. Estimate never underestimates; with probability at
// least 1-δ it overestimates by at most ε·Total. Counters saturate at
// 2^64-1 instead of wrapping, so it never underestimates even then.
type CountMin struct {
	width, depth uint64
	total        uint64   // the sum of all counts added (saturating)
	counts       []uint64 // depth rows of width counters, row-major
}

// NewCountMin returns an empty count-min sketch for error ε
// (CountMinMinEpsilon..CountMinMaxEpsilon) and failure probability δ
// (CountMinMinDelta..CountMinMaxDelta).
func NewCountMin(epsilon, delta float64) (*CountMin, error) {
	if !(epsilon >= CountMinMinEpsilon && epsilon <= CountMinMaxEpsilon) {
		return nil, paramErr("countmin", "epsilon", epsilon, "0.0001..0.5")
	}
	if !(delta >= CountMinMinDelta && delta <= CountMinMaxDelta) {
		return nil, paramErr("countmin", "delta", delta, "0.000001..0.5")
	}
	width := uint64(math.Ceil(math.E / epsilon))
	// depth = ceil(ln(1/δ)): the smallest d with δ·e^d >= 1, by repeated
	// multiplication so that it is the same on every machine.
	depth := uint64(0)
	for x := delta; x < 1; x *= math.E {
		depth++
	}
	return newCountMin(width, depth), nil
}

func newCountMin(width, depth uint64) *CountMin {
	return &CountMin{width: width, depth: depth, counts: make([]uint64, width*depth)}
}

// Width returns the counters per row.
func (c *CountMin) Width() int { return int(c.width) }

// Depth returns the number of rows.
func (c *CountMin) Depth() int { return int(c.depth) }

// Total returns the sum of all counts added.
func (c *CountMin) Total() uint64 { return c.total }

func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint64
}

// Add adds count occurrences of the value whose hash is given.
func (c *CountMin) Add(hash uint64, count uint64) {
	h2 := mix64(hash) | 1
	row := c.counts
	for i := range c.depth {
		j := reduce(hash+i*h2, c.width)
		row[j] = satAdd(row[j], count)
		row = row[c.width:]
	}
	c.total = satAdd(c.total, count)
}

// Estimate returns an upper bound on the count of the value whose hash
// is given.
func (c *CountMin) Estimate(hash uint64) uint64 {
	h2 := mix64(hash) | 1
	est := uint64(math.MaxUint64)
	row := c.counts
	for i := range c.depth {
		est = min(est, row[reduce(hash+i*h2, c.width)])
		row = row[c.width:]
	}
	return est
}

// Merge adds o's counts into c; both must have the same width and depth
// (else an error wrapping ErrIncompatible). o is unchanged.
func (c *CountMin) Merge(o *CountMin) error {
	if c.width != o.width || c.depth != o.depth {
		return fmt.Errorf("%w: count-min sketches of %d×%d and %d×%d counters cannot be merged; build both with the same epsilon and delta",
			ErrIncompatible, c.depth, c.width, o.depth, o.width)
	}
	for i, v := range o.counts {
		c.counts[i] = satAdd(c.counts[i], v)
	}
	c.total = satAdd(c.total, o.total)
	return nil
}

// Count-min encoding, after the header ('C', version 1):
//
//	width     uvarint, 6..27183
//	depth     uvarint, 1..14
//	total     uvarint
//	counters  depth·width counters, row-major, as runs (appendRuns with
//	          uvarint values: (zeros before the next non-zero, value)
//	          pairs, then the trailing zeros); every row sums to total
//	          (saturating at 2^64-1)

// AppendTo appends the encoding of c to dst.
func (c *CountMin) AppendTo(dst []byte) []byte {
	dst = appendHeader(dst, kindCountMin)
	dst = binary.AppendUvarint(dst, c.width)
	dst = binary.AppendUvarint(dst, c.depth)
	dst = binary.AppendUvarint(dst, c.total)
	return appendRuns(dst, c.counts, false)
}

// Marshal returns the encoding of c.
func (c *CountMin) Marshal() []byte { return c.AppendTo(nil) }

// UnmarshalCountMin decodes an encoding written by AppendTo. It returns
// an error wrapping ErrCorrupt for any input that AppendTo could not have
// written.
func UnmarshalCountMin(b []byte) (*CountMin, error) {
	d := newDecoder(b, kindCountMin, "countmin")
	width, depth, total := d.uvarint(), d.uvarint(), d.uvarint()
	if d.err != nil {
		return nil, d.err
	}
	if width < 6 || width > countMinMaxWidth || depth < 1 || depth > countMinMaxDepth {
		return nil, corrupt("countmin", "dimensions %d×%d out of range", depth, width)
	}
	c := newCountMin(width, depth)
	d.runs(c.counts, false)
	if err := d.finish(); err != nil {
		return nil, err
	}
	for r := range depth {
		sum := uint64(0)
		for _, v := range c.counts[r*width : (r+1)*width] {
			sum = satAdd(sum, v)
		}
		if sum != total {
			return nil, corrupt("countmin", "row %d sums to %d, total is %d", r, sum, total)
		}
	}
	c.total = total
	return c, nil
}
