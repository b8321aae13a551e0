package agg

import (
	"bytes"
	"encoding/binary"
	"math"

	"github.com/cockroachdb/apd/v3"

	"github.com/cairndb/cairn/internal/sql/exec/scalar"
	"github.com/cairndb/cairn/internal/types"
)

// Layout places one aggregate's state in a group's words.
type Layout struct {
	Off   int   // first word
	N     int   // number of words (the first is always the value count)
	Class uint8 // StateI, StateF, StateIv, StateS, StateI128 or StateN: how words[Off+1:] hold values
	Kind  Kind  // copied from the spec for the fold loop
}

// The classes of state: what the words after the count hold.
const (
	StateCount uint8 = iota // count only
	StateI                  // int64 value
	StateF                  // float64 bits
	StateIv                 // months<<32|days, micros
	// StateS: text min/max. In a fold table (exec's Delta) the word is an
	// index into the table's strings; encoded, the text follows the count.
	StateS
	// StateI128: a 128-bit integer sum (low, high word): sum(bigint) and
	// avg of integers, whose results are numeric.
	StateI128
	// StateN: numeric sum/avg/min/max. In a fold table the word is an
	// index into the table's decimals; encoded like StateS, the canonical
	// text follows the count.
	StateN
)

// HasText reports whether the encoded state carries a length-prefixed
// text after the count (StateS and StateN).
func (l Layout) HasText() bool { return l.Class == StateS || l.Class == StateN }

// NewLayout places the state of aggregate s at word off of a group.
func NewLayout(s *Spec, off int) Layout {
	l := Layout{Off: off, N: 1, Kind: s.Kind}
	if s.Arg != nil && s.Kind != Count {
		switch t := s.Arg.T; {
		case t == types.Interval:
			l.Class, l.N = StateIv, 3
		case t == types.Text:
			l.Class, l.N = StateS, 2
		case t == types.Numeric:
			l.Class, l.N = StateN, 2
		case wideSum(s):
			l.Class, l.N = StateI128, 3
		case t.IsFloat():
			l.Class, l.N = StateF, 2
		default:
			l.Class, l.N = StateI, 2
		}
	}
	return l
}

// FoldI folds integer x into the state words p of a StateI aggregate.
func FoldI(p []uint64, kind Kind, x int64) error {
	n, cur := p[0], int64(p[1])
	p[0] = n + 1
	switch kind {
	case Sum, Avg:
		s := cur + x
		if (s > cur) != (x > 0) {
			return scalar.RangeErr(types.Int8)
		}
		p[1] = uint64(s)
	case Min:
		if n == 0 || x < cur {
			p[1] = uint64(x)
		}
	case Max:
		if n == 0 || x > cur {
			p[1] = uint64(x)
		}
	}
	return nil
}

// FoldF folds float x into the state words p of a StateF aggregate.
func FoldF(p []uint64, kind Kind, x float64) {
	n, cur := p[0], math.Float64frombits(p[1])
	p[0] = n + 1
	switch kind {
	case Sum, Avg:
		p[1] = math.Float64bits(cur + x)
	case Min:
		if n == 0 || scalar.CmpFloat(x, cur) < 0 {
			p[1] = math.Float64bits(x)
		}
	case Max:
		if n == 0 || scalar.CmpFloat(x, cur) > 0 {
			p[1] = math.Float64bits(x)
		}
	}
}

func packIv(v types.IntervalValue) (uint64, uint64) {
	return uint64(uint32(v.Months))<<32 | uint64(uint32(v.Days)), uint64(v.Micros)
}

func unpackIv(a, b uint64) types.IntervalValue {
	return types.IntervalValue{Months: int32(a >> 32), Days: int32(uint32(a)), Micros: int64(b)}
}

// FoldIv folds interval x into the state words p of a StateIv aggregate.
func FoldIv(p []uint64, kind Kind, x types.IntervalValue) {
	n, cur := p[0], unpackIv(p[1], p[2])
	p[0] = n + 1
	switch kind {
	case Sum, Avg:
		x = AddInterval(cur, x)
	case Min:
		if n > 0 && scalar.CmpFloat(scalar.IntervalSpan(x), scalar.IntervalSpan(cur)) >= 0 {
			return
		}
	case Max:
		if n > 0 && scalar.CmpFloat(scalar.IntervalSpan(x), scalar.IntervalSpan(cur)) <= 0 {
			return
		}
	}
	p[1], p[2] = packIv(x)
}

// State is one aggregate's decoded state; s aliases the encoded bytes.
type State struct {
	W [3]uint64
	S []byte
}

// ReadState decodes aggregate l from buf (nil or empty buf = empty state)
// and returns the rest of buf.
func ReadState(buf []byte, l Layout, st *State) ([]byte, error) {
	*st = State{}
	if len(buf) == 0 {
		return buf, nil
	}
	if l.HasText() {
		if len(buf) < 8 {
			return nil, scalar.ErrCorruptState
		}
		st.W[0] = binary.LittleEndian.Uint64(buf)
		buf = buf[8:]
		if st.W[0] > 0 {
			n, k := binary.Uvarint(buf)
			if k <= 0 || uint64(len(buf)-k) < n {
				return nil, scalar.ErrCorruptState
			}
			st.S = buf[k : k+int(n)]
			buf = buf[k+int(n):]
		}
		return buf, nil
	}
	if len(buf) < 8*l.N {
		return nil, scalar.ErrCorruptState
	}
	for i := 0; i < l.N; i++ {
		st.W[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
	return buf[8*l.N:], nil
}

// MergeStates merges state b into a.
func MergeStates(l Layout, a, b *State) error {
	if b.W[0] == 0 {
		return nil
	}
	if a.W[0] == 0 {
		*a = *b
		return nil
	}
	n := a.W[0] + b.W[0]
	switch l.Class {
	case StateI:
		switch l.Kind {
		case Sum, Avg:
			x, y := int64(a.W[1]), int64(b.W[1])
			s := x + y
			if (s > x) != (y > 0) {
				return scalar.RangeErr(types.Int8)
			}
			a.W[1] = uint64(s)
		case Min:
			if int64(b.W[1]) < int64(a.W[1]) {
				a.W[1] = b.W[1]
			}
		case Max:
			if int64(b.W[1]) > int64(a.W[1]) {
				a.W[1] = b.W[1]
			}
		}
	case StateF:
		x, y := math.Float64frombits(a.W[1]), math.Float64frombits(b.W[1])
		switch l.Kind {
		case Sum, Avg:
			a.W[1] = math.Float64bits(x + y)
		case Min:
			if scalar.CmpFloat(y, x) < 0 {
				a.W[1] = b.W[1]
			}
		case Max:
			if scalar.CmpFloat(y, x) > 0 {
				a.W[1] = b.W[1]
			}
		}
	case StateIv:
		x, y := unpackIv(a.W[1], a.W[2]), unpackIv(b.W[1], b.W[2])
		c := scalar.CmpFloat(scalar.IntervalSpan(y), scalar.IntervalSpan(x))
		switch {
		case l.Kind == Sum || l.Kind == Avg:
			a.W[1], a.W[2] = packIv(AddInterval(x, y))
		case (l.Kind == Min && c < 0) || (l.Kind == Max && c > 0):
			a.W[1], a.W[2] = b.W[1], b.W[2]
		}
	case StateS:
		c := bytes.Compare(b.S, a.S)
		if (l.Kind == Min && c < 0) || (l.Kind == Max && c > 0) {
			a.S = b.S
		}
	case StateI128:
		a.W[1], a.W[2] = addWide(a.W[1], a.W[2], b.W[1], b.W[2])
	case StateN:
		if err := mergeN(l, a, b); err != nil {
			return err
		}
	}
	a.W[0] = n
	return nil
}

// AppendState appends the encoding of st (read by ReadState) to dst.
func AppendState(dst []byte, l Layout, st *State) []byte {
	if l.HasText() {
		dst = binary.LittleEndian.AppendUint64(dst, st.W[0])
		if st.W[0] > 0 {
			dst = binary.AppendUvarint(dst, uint64(len(st.S)))
			dst = append(dst, st.S...)
		}
		return dst
	}
	for i := 0; i < l.N; i++ {
		dst = binary.LittleEndian.AppendUint64(dst, st.W[i])
	}
	return dst
}

// PartialResult finalizes aggregate s from its merged partial state st.
func PartialResult(s *Spec, l Layout, st *State) types.Datum {
	n := int64(st.W[0])
	if s.Kind == Count || s.Kind == CountStar {
		return types.NewInt(types.Int8, n)
	}
	if n == 0 {
		return types.NullOf(s.T)
	}
	var i int64
	var f float64
	var iv types.IntervalValue
	var d types.Datum
	switch l.Class {
	case StateI:
		i = int64(st.W[1])
		d.I = i
	case StateF:
		f = math.Float64frombits(st.W[1])
		d.F = f
	case StateIv:
		iv = unpackIv(st.W[1], st.W[2])
		d.Iv = iv
	case StateS:
		d.S = string(st.S)
	case StateI128:
		return finalWide(s, n, st.W[1], st.W[2])
	case StateN:
		var x apd.Decimal
		if err := types.NumericDecimal(string(st.S), &x); err != nil {
			return types.NullOf(s.T)
		}
		if s.Kind == Sum || s.Kind == Avg {
			r, err := finalDecimal(s, n, &x)
			if err != nil {
				return types.NullOf(s.T)
			}
			return r
		}
		d.S = string(st.S)
	}
	return Final(s, n, i, f, iv, d)
}
