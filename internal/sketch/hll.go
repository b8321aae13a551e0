package sketch

import (
	"encoding/binary"
	"math"
	"math/bits"
	"slices"
)

// HyperLogLog parameters.
const (
	HLLMinPrecision     = 4
	HLLMaxPrecision     = 18
	DefaultHLLPrecision = 14 // 16384 registers, standard error 1.04/sqrt(m) ≈ 0.81%

	// hllSparseP is the precision of the sparse representation: 2^25
	// possible indices, so linear counting over them is nearly exact for
	// the few thousand values a sparse sketch holds.
	hllSparseP = 25
)

// HLL is a HyperLogLog distinct-value counter over 64-bit hashes.
//
// It starts sparse: a sorted list of (index at precision 25, rank)
// entries, a few bytes per distinct value, so that many small groups stay
// small. New entries wait in a short unsorted list and are merged into
// the sorted one in batches, so an Add does not move the whole list. When
// the entries would take more memory than the dense registers (more than
// m/4 entries, or 16384) it converts, once, to m = 2^p six-bit registers.
// Converting is deterministic and loses nothing: the dense sketch equals
// the one that would have been built by adding the same hashes directly.
//
// The logical state is the set of entries (or the registers): when the
// waiting entries are merged never shows in an estimate or an encoding,
// which are computed from the merged view (dense once it passes the
// limit), so a decoded sketch and the original stay byte-identical.
type HLL struct {
	p       uint8
	sparse  []uint32 // while sparse: idx25<<6 | rank, sorted, one per idx25; nil once dense
	pending []uint32 // while sparse: entries not yet merged into sparse, unsorted
	dense   []uint8  // once dense: 1<<p registers, each 0..65-p; nil while sparse
	scratch []uint32 // reused by flush; not state
}

// NewHLL returns an empty HyperLogLog of precision p (HLLMinPrecision..HLLMaxPrecision).
func NewHLL(p int) (*HLL, error) {
	if p < HLLMinPrecision || p > HLLMaxPrecision {
		return nil, paramErr("hll", "precision", p, "4..18")
	}
	return &HLL{p: uint8(p)}, nil
}

// Precision returns p: the sketch has 2^p registers.
func (h *HLL) Precision() int { return int(h.p) }

// Sparse reports whether the sketch is still in its sparse form (as its
// encoding shows it).
func (h *HLL) Sparse() bool { return h.dense == nil && len(h.sparseView()) <= h.sparseLimit() }

// StdError is the relative standard error of the dense estimate, 1.04/sqrt(2^p).
func (h *HLL) StdError() float64 { return 1.04 / math.Sqrt(float64(uint64(1)<<h.p)) }

// sparseLimit is the most entries a sparse sketch holds: as many bytes as
// the dense registers take, but at most 16384 (64 KiB), so that the list
// and its merges stay small at precisions 17 and 18.
func (h *HLL) sparseLimit() int { return min((1<<h.p)/4, 16384) }

// Add records a hash (use Hash64 of the value's canonical bytes).
func (h *HLL) Add(hash uint64) {
	if h.dense != nil {
		idx := hash >> (64 - h.p)
		rank := uint8(bits.LeadingZeros64(hash<<h.p|1<<(h.p-1)) + 1)
		if rank > h.dense[idx] {
			h.dense[idx] = rank
		}
		return
	}
	idx := uint32(hash >> (64 - hllSparseP))
	rank := uint32(bits.LeadingZeros64(hash<<hllSparseP|1<<(hllSparseP-1)) + 1)
	// An index already held at this rank or higher changes nothing.
	lo, hi := 0, len(h.sparse)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if h.sparse[mid]>>6 < idx {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(h.sparse) && h.sparse[lo]>>6 == idx && h.sparse[lo]&63 >= rank {
		return
	}
	h.pending = append(h.pending, idx<<6|rank)
	// Merging costs the length of the list: batches of a quarter of it
	// keep that to a few entries moved per Add.
	if len(h.pending) >= max(4, len(h.sparse)/4) {
		h.flush()
	}
}

// flush merges the pending entries into the sorted list, and converts to
// dense if the list outgrew the limit.
func (h *HLL) flush() {
	if len(h.pending) == 0 {
		return
	}
	slices.Sort(h.pending)
	h.scratch = mergeSparse(h.scratch[:0], h.sparse, h.pending)
	h.sparse, h.scratch = h.scratch, h.sparse
	h.pending = h.pending[:0]
	if len(h.sparse) > h.sparseLimit() {
		h.toDense()
	}
}

// sparseView returns the sorted list with the pending entries merged in,
// without changing h (a copy if any are pending).
func (h *HLL) sparseView() []uint32 {
	if len(h.pending) == 0 {
		return h.sparse
	}
	p := slices.Clone(h.pending)
	slices.Sort(p)
	return mergeSparse(make([]uint32, 0, len(h.sparse)+len(p)), h.sparse, p)
}

// mergeSparse appends to dst the union of two lists sorted by entry,
// keeping one entry per index, the one of highest rank.
func mergeSparse(dst, a, b []uint32) []uint32 {
	for len(a) > 0 || len(b) > 0 {
		var e uint32
		if len(b) == 0 || len(a) > 0 && a[0] <= b[0] {
			e, a = a[0], a[1:]
		} else {
			e, b = b[0], b[1:]
		}
		if n := len(dst); n > 0 && dst[n-1]>>6 == e>>6 {
			dst[n-1] = max(dst[n-1], e)
		} else {
			dst = append(dst, e)
		}
	}
	return dst
}

// foldIndex maps a register (idx, rank) at precision from to precision
// to (to <= from): the index drops its low from-to bits, and the rank
// counts them when they are all zero.
func foldIndex(idx uint32, rank uint8, from, to uint8) (uint32, uint8) {
	d := from - to
	low := idx & (1<<d - 1)
	if low != 0 {
		return idx >> d, uint8(bits.LeadingZeros32(low)-(32-int(d))) + 1
	}
	return idx >> d, d + rank
}

// toDense converts the sparse entries, pending ones included, to
// registers at precision h.p.
func (h *HLL) toDense() {
	regs := make([]uint8, 1<<h.p)
	foldSparse(regs, h.sparse, h.p)
	foldSparse(regs, h.pending, h.p)
	h.sparse, h.pending, h.scratch, h.dense = nil, nil, nil, regs
}

// foldSparse raises the registers at precision p to the sparse entries.
func foldSparse(regs []uint8, entries []uint32, p uint8) {
	for _, e := range entries {
		idx, rank := foldIndex(e>>6, uint8(e&63), hllSparseP, p)
		regs[idx] = max(regs[idx], rank)
	}
}

// lowerTo reduces a dense sketch to precision p <= h.p.
func (h *HLL) lowerTo(p uint8) {
	if p == h.p {
		return
	}
	regs := make([]uint8, 1<<p)
	for i, r := range h.dense {
		if r != 0 {
			idx, rank := foldIndex(uint32(i), r, h.p, p)
			regs[idx] = max(regs[idx], rank)
		}
	}
	h.p, h.dense = p, regs
}

// Merge folds o into h; o is unchanged. Sketches of different precisions
// merge at the lower one (h is reduced if needed), so the result is the
// sketch that the union of both inputs would have built at that precision,
// whichever way round the merge is done.
func (h *HLL) Merge(o *HLL) error {
	p := min(h.p, o.p)
	h.flush()
	if h.dense == nil && o.dense == nil {
		merged := mergeSparse(make([]uint32, 0, len(h.sparse)+len(o.sparse)+len(o.pending)), h.sparse, o.sparseView())
		h.p, h.sparse = p, merged
		if len(h.sparse) > h.sparseLimit() {
			h.toDense()
		}
		return nil
	}
	if h.dense == nil {
		h.p = p
		h.toDense()
	} else {
		h.lowerTo(p)
	}
	if o.dense == nil {
		foldSparse(h.dense, o.sparse, p)
		foldSparse(h.dense, o.pending, p)
		return nil
	}
	if o.p == p {
		for i, r := range o.dense {
			h.dense[i] = max(h.dense[i], r)
		}
		return nil
	}
	for i, r := range o.dense {
		if r != 0 {
			idx, rank := foldIndex(uint32(i), r, o.p, p)
			h.dense[idx] = max(h.dense[idx], rank)
		}
	}
	return nil
}

// Estimate returns the estimated number of distinct hashes added.
//
// A sparse sketch uses linear counting over its 2^25 indices (nearly
// exact at the sizes it holds). A dense one uses Ertl's improved raw
// estimator ("New cardinality estimation algorithms for HyperLogLog
// sketches", 2017), which corrects the small- and large-range bias of the
// classic estimator from the register histogram alone, without empirical
// bias tables.
func (h *HLL) Estimate() uint64 {
	regs := h.dense
	if regs == nil {
		view := h.sparseView()
		if len(view) <= h.sparseLimit() {
			const m = float64(1 << hllSparseP)
			return uint64(math.Round(m * math.Log(m/(m-float64(len(view))))))
		}
		regs = make([]uint8, 1<<h.p)
		foldSparse(regs, view, h.p)
	}
	q := 64 - int(h.p)
	var hist [66]int
	for _, r := range regs {
		hist[r]++
	}
	m := float64(len(regs))
	z := m * hllTau(1-float64(hist[q+1])/m)
	for k := q; k >= 1; k-- {
		z = 0.5 * (z + float64(hist[k]))
	}
	z += m * hllSigma(float64(hist[0])/m)
	est := math.Round(m / (2 * math.Ln2) * m / z)
	if !(est < math.MaxUint64) {
		return math.MaxUint64 // every register at its maximum: beyond counting
	}
	return uint64(est)
}

// hllSigma is σ(x) = x + Σ_{k≥1} x^(2^k)·2^(k-1) (Ertl 2017).
func hllSigma(x float64) float64 {
	if x == 1 {
		return math.Inf(1)
	}
	y, z := 1.0, x
	for {
		x *= x
		prev := z
		z += x * y
		y += y
		if z == prev {
			return z
		}
	}
}

// hllTau is τ(x) = (1 - x - Σ_{k≥1} (1 - x^(2^-k))²·2^-k) / 3 (Ertl 2017).
func hllTau(x float64) float64 {
	if x == 0 || x == 1 {
		return 0
	}
	y, z := 1.0, 1-x
	for {
		x = math.Sqrt(x)
		prev := z
		y *= 0.5
		d := 1 - x
		z -= d * d * y
		if z == prev {
			return z / 3
		}
	}
}

// HLL encoding, after the header ('H', version 1):
//
//	p        1 byte, 4..18
//	format   1 byte: 0 sparse, 1 dense
//	sparse:  uvarint n (<= min(2^p/4, 16384)), then n uvarint deltas of the entries
//	         idx25<<6|rank (the first from 0), indices strictly increasing,
//	         ranks 1..40
//	dense:   2^p six-bit registers packed little-endian, four in three
//	         bytes, each 0..65-p
const (
	hllFormatSparse = 0
	hllFormatDense  = 1
)

// AppendTo appends the encoding of h to dst.
func (h *HLL) AppendTo(dst []byte) []byte {
	dst = appendHeader(dst, kindHLL)
	dst = append(dst, h.p)
	regs := h.dense
	if regs == nil {
		view := h.sparseView()
		if len(view) <= h.sparseLimit() {
			dst = append(dst, hllFormatSparse)
			dst = binary.AppendUvarint(dst, uint64(len(view)))
			prev := uint32(0)
			for _, e := range view {
				dst = binary.AppendUvarint(dst, uint64(e-prev))
				prev = e
			}
			return dst
		}
		regs = make([]uint8, 1<<h.p)
		foldSparse(regs, view, h.p)
	}
	dst = append(dst, hllFormatDense)
	for i := 0; i < len(regs); i += 4 {
		w := uint32(regs[i]) | uint32(regs[i+1])<<6 | uint32(regs[i+2])<<12 | uint32(regs[i+3])<<18
		dst = append(dst, byte(w), byte(w>>8), byte(w>>16))
	}
	return dst
}

// Marshal returns the encoding of h.
func (h *HLL) Marshal() []byte { return h.AppendTo(nil) }

// UnmarshalHLL decodes an encoding written by AppendTo. It returns an
// error wrapping ErrCorrupt for any input that AppendTo could not have
// written.
func UnmarshalHLL(b []byte) (*HLL, error) {
	d := newDecoder(b, kindHLL, "hll")
	p := d.byte()
	format := d.byte()
	if d.err != nil {
		return nil, d.err
	}
	if p < HLLMinPrecision || p > HLLMaxPrecision {
		return nil, corrupt("hll", "precision %d out of 4..18", p)
	}
	h := &HLL{p: p}
	switch format {
	case hllFormatSparse:
		n := d.uvarint()
		if d.err == nil && n > uint64(h.sparseLimit()) {
			return nil, corrupt("hll", "%d sparse entries, more than the %d of precision %d", n, h.sparseLimit(), p)
		}
		h.sparse = make([]uint32, 0, n)
		e := uint64(0)
		for i := uint64(0); i < n && d.err == nil; i++ {
			delta := d.uvarint()
			if i > 0 && delta == 0 || delta >= 1<<31 {
				return nil, corrupt("hll", "bad sparse delta %d", delta)
			}
			prevIdx := e >> 6
			e += delta
			rank := e & 63
			if e >= 1<<31 || rank < 1 || rank > 64-hllSparseP+1 || (i > 0 && e>>6 <= prevIdx) {
				return nil, corrupt("hll", "bad sparse entry %#x", e)
			}
			h.sparse = append(h.sparse, uint32(e))
		}
	case hllFormatDense:
		m := 1 << p
		packed := d.bytes(uint64(m / 4 * 3))
		if d.err != nil {
			return nil, d.err
		}
		h.dense = make([]uint8, m)
		maxRank := uint8(65 - p)
		for i := 0; i < m; i += 4 {
			w := uint32(packed[0]) | uint32(packed[1])<<8 | uint32(packed[2])<<16
			packed = packed[3:]
			for j := range 4 {
				r := uint8(w>>(6*j)) & 63
				if r > maxRank {
					return nil, corrupt("hll", "register %d holds %d, more than %d", i+j, r, maxRank)
				}
				h.dense[i+j] = r
			}
		}
	default:
		return nil, corrupt("hll", "unknown format %d", format)
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	return h, nil
}
