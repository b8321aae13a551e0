package sketch

import (
	"encoding/binary"
	"math"
)

// Every encoding starts with two bytes: the kind of sketch and the
// version of its layout. A decoder refuses another kind and any version
// it does not know.
const (
	kindHLL      = 'H'
	kindTDigest  = 'T'
	kindCountMin = 'C'
	kindTopK     = 'K'
	kindBloom    = 'B'

	version1 = 1
)

func appendHeader(dst []byte, kind byte) []byte { return append(dst, kind, version1) }

// decoder reads an encoding; the first failure sticks and every later
// read returns zero, so a decoder checks d.err once at the end of a block.
type decoder struct {
	b    []byte
	name string
	err  error
}

// newDecoder checks the header and returns a decoder positioned after it.
func newDecoder(b []byte, kind byte, name string) *decoder {
	d := &decoder{b: b, name: name}
	switch {
	case len(b) < 2:
		d.fail("truncated header (%d bytes)", len(b))
	case b[0] != kind:
		d.fail("not a %s encoding (kind byte %#x)", name, b[0])
	case b[1] != version1:
		d.fail("unknown version %d", b[1])
	default:
		d.b = b[2:]
	}
	return d
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = corrupt(d.name, format, args...)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n > 1 && d.b[n-1] == 0 {
		// A last byte of zero is a padded varint: refused, so that every
		// value has one encoding.
		d.fail("truncated or overlong varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) u64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) f64() float64 { return math.Float64frombits(d.u64()) }

// bytes returns the next n bytes (aliasing the input).
func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.fail("truncated: want %d bytes, have %d", n, len(d.b))
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// finish reports the first error, or an error if bytes are left over.
func (d *decoder) finish() error {
	if d.err == nil && len(d.b) > 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}

// appendRuns encodes vals, mostly zeros in small sketches, as pairs
// (number of zeros before the next non-zero value, that value), ending
// with the count of trailing zeros if there are any. Values are uvarints,
// or 8 fixed bytes when fixed is set (for bit words, which are rarely
// small). The layout is canonical: one encoding per vector.
func appendRuns(dst []byte, vals []uint64, fixed bool) []byte {
	zeros := uint64(0)
	for _, v := range vals {
		if v == 0 {
			zeros++
			continue
		}
		dst = binary.AppendUvarint(dst, zeros)
		if fixed {
			dst = binary.LittleEndian.AppendUint64(dst, v)
		} else {
			dst = binary.AppendUvarint(dst, v)
		}
		zeros = 0
	}
	if zeros > 0 {
		dst = binary.AppendUvarint(dst, zeros)
	}
	return dst
}

// runs decodes what appendRuns wrote into vals, whose length is known.
func (d *decoder) runs(vals []uint64, fixed bool) {
	n := uint64(len(vals))
	for i := uint64(0); i < n && d.err == nil; {
		z := d.uvarint()
		if z > n-i {
			d.fail("zero run of %d overflows %d values", z, n)
			return
		}
		i += z
		if i == n {
			return
		}
		var v uint64
		if fixed {
			v = d.u64()
		} else {
			v = d.uvarint()
		}
		if v == 0 && d.err == nil {
			d.fail("zero value outside a zero run")
			return
		}
		vals[i] = v
		i++
	}
}
