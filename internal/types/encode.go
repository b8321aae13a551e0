package types

import (
	"encoding/binary"
	"errors"
	"math"
)

// ErrCorruptBatch is returned when an encoded batch cannot be decoded.
var ErrCorruptBatch = errors.New("types: corrupt encoded batch")

// batchVersion 2 stores numeric columns as text (exact); version 1
// stored them as float64 and is still read.
const (
	batchVersion   = 2
	batchVersionV1 = 1
)

// AppendEncoded appends the binary encoding of b to dst. The format is
// little-endian fixed width per column, so encoding and decoding are
// straight copies with no per-row allocation.
func AppendEncoded(dst []byte, b *Batch) []byte {
	dst = append(dst, batchVersion)
	dst = binary.AppendUvarint(dst, uint64(b.N))
	dst = binary.AppendUvarint(dst, uint64(len(b.Cols)))
	for i := range b.Cols {
		c := &b.Cols[i]
		dst = append(dst, byte(c.T))
		if c.Nulls == nil {
			dst = append(dst, 0)
		} else {
			dst = append(dst, 1)
			for _, n := range c.Nulls[:b.N] {
				if n {
					dst = append(dst, 1)
				} else {
					dst = append(dst, 0)
				}
			}
		}
		switch {
		case c.T.UsesBytes():
			dst = binary.AppendUvarint(dst, uint64(len(c.Bytes)))
			for _, o := range c.Offs[1 : b.N+1] {
				dst = binary.LittleEndian.AppendUint32(dst, o)
			}
			dst = append(dst, c.Bytes...)
		case c.T == Interval:
			for _, v := range c.Iv[:b.N] {
				dst = binary.LittleEndian.AppendUint32(dst, uint32(v.Months))
				dst = binary.LittleEndian.AppendUint32(dst, uint32(v.Days))
				dst = binary.LittleEndian.AppendUint64(dst, uint64(v.Micros))
			}
		case c.T.IsFloat():
			for _, v := range c.F[:b.N] {
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(v))
			}
		default:
			for _, v := range c.I[:b.N] {
				dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
			}
		}
	}
	return dst
}

// Decode decodes buf into b, reusing b's slices. Text values are copied
// into b, so buf may be reused afterwards.
func Decode(buf []byte, b *Batch) error {
	if len(buf) < 1 || (buf[0] != batchVersion && buf[0] != batchVersionV1) {
		return ErrCorruptBatch
	}
	v1 := buf[0] == batchVersionV1
	buf = buf[1:]
	n, k := binary.Uvarint(buf)
	if k <= 0 || n > 1<<28 {
		return ErrCorruptBatch
	}
	buf = buf[k:]
	nc, k := binary.Uvarint(buf)
	if k <= 0 || nc > 1<<12 {
		return ErrCorruptBatch
	}
	buf = buf[k:]
	N := int(n)
	if cap(b.Cols) < int(nc) {
		b.Cols = make([]Column, nc)
	}
	b.Cols = b.Cols[:nc]
	b.N = N
	for i := range b.Cols {
		c := &b.Cols[i]
		if len(buf) < 2 {
			return ErrCorruptBatch
		}
		c.T = T(buf[0])
		if c.T == Unknown || c.T > lastType {
			return ErrCorruptBatch
		}
		hasNulls := buf[1]
		buf = buf[2:]
		c.Nulls = c.Nulls[:0]
		if hasNulls == 1 {
			if len(buf) < N {
				return ErrCorruptBatch
			}
			if c.Nulls == nil {
				c.Nulls = make([]bool, 0, N)
			}
			for _, x := range buf[:N] {
				c.Nulls = append(c.Nulls, x == 1)
			}
			buf = buf[N:]
		} else {
			c.Nulls = nil
		}
		c.I, c.F, c.Iv, c.Bytes = c.I[:0], c.F[:0], c.Iv[:0], c.Bytes[:0]
		c.Offs = c.Offs[:0]
		switch {
		case v1 && c.T == Numeric:
			// Version 1 numeric: float64 values, turned into text.
			if len(buf) < N*8 {
				return ErrCorruptBatch
			}
			c.Offs = append(c.Offs, 0)
			for j := 0; j < N; j++ {
				f := math.Float64frombits(binary.LittleEndian.Uint64(buf[j*8:]))
				c.Bytes = appendFloatNumeric(c.Bytes, f)
				c.Offs = append(c.Offs, uint32(len(c.Bytes)))
			}
			buf = buf[N*8:]
		case c.T.UsesBytes():
			total, k := binary.Uvarint(buf)
			if k <= 0 {
				return ErrCorruptBatch
			}
			buf = buf[k:]
			if total > uint64(len(buf)) || uint64(len(buf))-total < uint64(N)*4 {
				return ErrCorruptBatch
			}
			c.Offs = append(c.Offs, 0)
			prev := uint32(0)
			for j := 0; j < N; j++ {
				o := binary.LittleEndian.Uint32(buf[j*4:])
				if o < prev || uint64(o) > total {
					return ErrCorruptBatch
				}
				prev = o
				c.Offs = append(c.Offs, o)
			}
			buf = buf[N*4:]
			c.Bytes = append(c.Bytes, buf[:total]...)
			buf = buf[total:]
		case c.T == Interval:
			if len(buf) < N*16 {
				return ErrCorruptBatch
			}
			for j := 0; j < N; j++ {
				p := buf[j*16:]
				c.Iv = append(c.Iv, IntervalValue{
					Months: int32(binary.LittleEndian.Uint32(p)),
					Days:   int32(binary.LittleEndian.Uint32(p[4:])),
					Micros: int64(binary.LittleEndian.Uint64(p[8:])),
				})
			}
			buf = buf[N*16:]
		case c.T.IsFloat():
			if len(buf) < N*8 {
				return ErrCorruptBatch
			}
			for j := 0; j < N; j++ {
				c.F = append(c.F, math.Float64frombits(binary.LittleEndian.Uint64(buf[j*8:])))
			}
			buf = buf[N*8:]
		default:
			if len(buf) < N*8 {
				return ErrCorruptBatch
			}
			for j := 0; j < N; j++ {
				c.I = append(c.I, int64(binary.LittleEndian.Uint64(buf[j*8:])))
			}
			buf = buf[N*8:]
		}
	}
	if len(buf) != 0 {
		return ErrCorruptBatch
	}
	return nil
}

// EncodedRows returns the number of rows of an encoded batch without
// decoding it.
func EncodedRows(buf []byte) (int, bool) {
	if len(buf) < 2 || (buf[0] != batchVersion && buf[0] != batchVersionV1) {
		return 0, false
	}
	n, k := binary.Uvarint(buf[1:])
	if k <= 0 || n > 1<<28 {
		return 0, false
	}
	return int(n), true
}
