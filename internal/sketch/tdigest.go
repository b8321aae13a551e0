package sketch

import (
	"cmp"
	"encoding/binary"
	"math"
	"slices"
)

// t-digest parameters.
const (
	TDigestMinCompression     = 10
	TDigestMaxCompression     = 1000
	DefaultTDigestCompression = 100
)

// TDigest is a merging t-digest (Dunning and Ertl, "Computing extremely
// accurate quantiles using t-digests", 2019). Two bounds limit a
// centroid: the k1 scale function k(q) = δ/(2π)·asin(2q-1) (a centroid
// spans at most one unit of k, about δ centroids in all), and, in the
// tails where k1 is loose, a weight of at most 32/δ·N·q(1-q) at the
// centroid's centre q, so that the rank error near q=0 and q=1 stays a
// small fraction of q (about 2δ/32·ln(N/26) more centroids: some 130 in
// all for δ=100 and a million values).
//
// Its state is a multiset of entries (mean, weight): the centroids of the
// last compression, sorted, and the values added since. When the entries
// outnumber the capacity, max(2·ceil(δ), twice the centroids), compress
// sorts them, joins entries of equal value (which loses nothing) and, only
// if more than δ remain, merges neighbours under the two bounds. So while
// it has seen at most δ distinct values the digest is exact: it holds
// every value with its count, and Quantile and CDF return exact answers.
//
// Determinism: when and how it compresses depends only on the count and
// on the entries as two multisets (centroids, values added since), which
// the encoding holds, not on their order in memory; and every
// floating-point step is a single IEEE operation (sqrt included, no
// library transcendentals, products rounded before they are added so no
// fused multiply-add). So the same inputs in the same order give the same
// bytes on every machine, and a decoded digest continues exactly like the
// original. Reads (Quantile, CDF, AppendTo) never change the state.
type TDigest struct {
	compression float64    // δ, in [10, 1000]
	entries     []centroid // [0:sorted) centroids, sorted by (mean, weight); the rest added since, in arrival order
	sorted      int        // the number of centroids (0 until the first compression)
	count       uint64     // sum of the entries' weights
	min, max    float64    // exact extremes; meaningless while count == 0
	exact       bool       // no entry holds more than one distinct value
	sinB, cosB  float64    // sin and cos of 2π/δ, for qLimit
	scratch     []centroid // reused by compress; not state
}

type centroid struct {
	mean   float64
	weight uint64
}

// cmpCentroid orders entries by mean, then weight (means are never NaN).
func cmpCentroid(a, b centroid) int {
	switch {
	case a.mean < b.mean:
		return -1
	case a.mean > b.mean:
		return 1
	}
	return cmp.Compare(a.weight, b.weight)
}

// NewTDigest returns an empty t-digest of compression δ
// (TDigestMinCompression..TDigestMaxCompression).
func NewTDigest(compression float64) (*TDigest, error) {
	if !(compression >= TDigestMinCompression && compression <= TDigestMaxCompression) {
		return nil, paramErr("tdigest", "compression", compression, "10..1000")
	}
	t := &TDigest{exact: true}
	t.setCompression(compression)
	return t, nil
}

func (t *TDigest) setCompression(c float64) {
	t.compression = c
	t.sinB, t.cosB = sinCos(float64(2*math.Pi) / c)
}

// sinCos computes sin and cos of b in [0, 0.7] by their Taylor series,
// with plain IEEE operations so that every machine gets the same bits
// (math.Sin may use assembly that rounds differently on some platforms).
func sinCos(b float64) (sin, cos float64) {
	b2 := float64(b * b)
	term := b // b^(2n+1)/(2n+1)!
	sin = b
	for n := 1; n < 15; n++ {
		term = -float64(term*b2) / float64((2*n)*(2*n+1))
		sin += term
	}
	term = 1 // b^(2n)/(2n)!
	cos = 1
	for n := 1; n < 15; n++ {
		term = -float64(term*b2) / float64((2*n-1)*(2*n))
		cos += term
	}
	return sin, cos
}

// capacity is the number of entries the digest keeps before compressing.
func (t *TDigest) capacity() int { return max(2*int(math.Ceil(t.compression)), 2*t.sorted) }

// tdigestTailFactor is C in the tail bound C/δ·N·q(1-q) on a centroid's
// weight: it binds where C·q(1-q) is below k1's limit, q < about 0.04.
const tdigestTailFactor = 32

// Compression returns δ.
func (t *TDigest) Compression() float64 { return t.compression }

// Count returns the total weight added.
func (t *TDigest) Count() uint64 { return t.count }

// Min returns the smallest value added, NaN if none.
func (t *TDigest) Min() float64 {
	if t.count == 0 {
		return math.NaN()
	}
	return t.min
}

// Max returns the largest value added, NaN if none.
func (t *TDigest) Max() float64 {
	if t.count == 0 {
		return math.NaN()
	}
	return t.max
}

// Exact reports whether the digest still holds every value exactly (at
// most δ distinct values seen), so that Quantile and CDF are exact.
func (t *TDigest) Exact() bool { return t.exact }

// Add records x with weight w (w copies of x). x must be finite and w at
// least 1; the error is a *ParamError.
func (t *TDigest) Add(x float64, w uint64) error {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return paramErr("tdigest", "value", x, "finite numbers (not NaN or ±Infinity)")
	}
	if w == 0 {
		return paramErr("tdigest", "weight", w, "1..18446744073709551615")
	}
	if t.count+w < t.count {
		return paramErr("tdigest", "total weight", "over 2^64-1", "1..18446744073709551615")
	}
	if x == 0 {
		x = 0 // -0 and +0 are one value: keep the encoding canonical
	}
	if t.count == 0 {
		t.min, t.max = x, x
	} else {
		t.min, t.max = min(t.min, x), max(t.max, x)
	}
	t.count += w
	t.entries = append(t.entries, centroid{x, w})
	if len(t.entries) > t.capacity() {
		t.compress()
	}
	return nil
}

// Merge folds o into t; o is unchanged. Digests of different compressions
// merge at the lower one, so the result does not depend on the order.
func (t *TDigest) Merge(o *TDigest) error {
	if o.count == 0 {
		if o.compression < t.compression {
			t.setCompression(o.compression)
			if len(t.entries) > t.capacity() {
				t.compress()
			}
		}
		return nil
	}
	if t.count+o.count < t.count {
		return paramErr("tdigest", "total weight", "over 2^64-1", "1..18446744073709551615")
	}
	if o.compression < t.compression {
		t.setCompression(o.compression)
	}
	if t.count == 0 {
		t.min, t.max = o.min, o.max
	} else {
		t.min, t.max = min(t.min, o.min), max(t.max, o.max)
	}
	t.count += o.count
	t.exact = t.exact && o.exact
	t.entries = append(t.entries, o.entries...)
	if len(t.entries) > t.capacity() {
		t.compress()
	}
	return nil
}

// compress sorts the entries, joins equal values, and merges neighbours
// under the two bounds if more than δ entries remain. It works in place.
func (t *TDigest) compress() {
	// Sort the values added since the last compression and merge them
	// with the centroids, which are sorted already: the same order a full
	// sort would give, since equal entries are identical.
	es := t.entries
	added := es[t.sorted:]
	slices.SortFunc(added, cmpCentroid)
	if t.sorted > 0 && len(added) > 0 && cmpCentroid(es[t.sorted-1], added[0]) > 0 {
		t.scratch = append(t.scratch[:0], es[:t.sorted]...)
		a, b, out := t.scratch, added, 0
		// out never passes the unread part of b, which is in place.
		for len(a) > 0 && len(b) > 0 {
			if cmpCentroid(b[0], a[0]) < 0 {
				es[out], b = b[0], b[1:]
			} else {
				es[out], a = a[0], a[1:]
			}
			out++
		}
		copy(es[out:], a)
	}
	n := 0
	for _, e := range es {
		if n > 0 && es[n-1].mean == e.mean {
			es[n-1].weight += e.weight
			continue
		}
		es[n] = e
		n++
	}
	es = es[:n]
	if float64(n) > t.compression {
		// Merging always from the left biases centroids towards the
		// right (Dunning's MergingDigest alternates for this reason): the
		// direction alternates with the parity of the count, which is
		// part of the state, so it stays deterministic.
		backward := t.count&1 == 1
		if backward {
			slices.Reverse(es)
		}
		total := float64(t.count)
		tail := float64(tdigestTailFactor / t.compression * total)
		var before uint64 // weight of the centroids already emitted
		cur := es[0]
		limit := t.qLimit(0)
		out := 0
		for _, e := range es[1:] {
			w := cur.weight + e.weight
			qc := (float64(before) + float64(w)/2) / total
			if float64(before+w)/total <= limit && float64(w) <= tail*qc*(1-qc) {
				cur.mean += float64((e.mean - cur.mean) * (float64(e.weight) / float64(w)))
				cur.weight = w
				t.exact = false
				continue
			}
			es[out] = cur
			out++
			before += cur.weight
			limit = t.qLimit(float64(before) / total)
			cur = e
		}
		es[out] = cur
		es = es[:out+1]
		if backward {
			slices.Reverse(es)
		}
	}
	// Clear the tail so a later append does not see stale entries.
	clear(t.entries[len(es):])
	t.entries = es
	t.sorted = len(es)
}

// qLimit returns the largest q a centroid starting at q0 may reach:
// k⁻¹(k(q0)+1) for k(q) = δ/(2π)·asin(2q-1). With a = asin(2q0-1) and
// b = 2π/δ it is (sin(a+b)+1)/2, expanded as sin a·cos b + cos a·sin b,
// where sin a = 2q0-1 and cos a = 2·sqrt(q0(1-q0)); once a+b passes π/2
// there is no limit.
func (t *TDigest) qLimit(q0 float64) float64 {
	s := float64(2*q0) - 1
	if s >= t.cosB {
		return 1
	}
	c := 2 * math.Sqrt(float64(q0*(1-q0)))
	return (float64(s*t.cosB) + float64(c*t.sinB) + 1) / 2
}

// sortedEntries returns all entries in order, copying them if some are
// not yet sorted (reads never change the digest).
func (t *TDigest) sortedEntries() []centroid {
	if t.sorted == len(t.entries) {
		return t.entries
	}
	es := slices.Clone(t.entries)
	slices.SortFunc(es, cmpCentroid)
	return es
}

// readEntries returns the entries a read interpolates on: once the digest
// is inexact, the values added since the last compression are first
// merged into the centroids, on a copy. Left apart, a single value would
// sit after a neighbouring centroid whose values straddle it, at the
// wrong rank.
func (t *TDigest) readEntries() []centroid {
	if t.exact || t.sorted == len(t.entries) {
		return t.sortedEntries()
	}
	c := *t
	c.entries = slices.Clone(t.entries)
	c.scratch = nil // t's is not ours to write
	c.compress()
	return c.entries
}

// Quantile returns the value at quantile q (0..1; other q is a
// *ParamError): the minimum at 0, the maximum at 1, and in between the
// percentile_cont answer, interpolating linearly between neighbouring
// ranks. It is exact while Exact is true; otherwise it interpolates
// between centroid centres. An empty digest returns NaN.
func (t *TDigest) Quantile(q float64) (float64, error) {
	if !(q >= 0 && q <= 1) {
		return 0, paramErr("tdigest", "quantile", q, "0..1")
	}
	if t.count == 0 {
		return math.NaN(), nil
	}
	if q == 0 {
		return t.min, nil
	}
	if q == 1 {
		return t.max, nil
	}
	es := t.readEntries()
	r := q * float64(t.count-1) // the fractional 0-based rank
	if t.exact {
		lo := uint64(r)
		frac := r - float64(lo)
		i, cum := 0, uint64(0) // entry i covers ranks [cum, cum+weight)
		for cum+es[i].weight <= lo {
			cum += es[i].weight
			i++
		}
		v := es[i].mean
		if frac == 0 || lo+1 < cum+es[i].weight {
			return v, nil
		}
		next := es[i+1].mean
		return v + float64(frac*(next-v)), nil
	}
	// Points (rank, value): the minimum at rank 0, each centroid at the
	// centre of the ranks it covers, the maximum at rank count-1.
	prevPos, prevVal := 0.0, t.min
	cum := uint64(0)
	for _, e := range es {
		pos := float64(cum) + float64(e.weight-1)/2
		cum += e.weight
		if pos >= r {
			return clamp(interpolate(prevPos, prevVal, pos, e.mean, r), t.min, t.max), nil
		}
		prevPos, prevVal = pos, e.mean
	}
	return clamp(interpolate(prevPos, prevVal, float64(t.count-1), t.max, r), t.min, t.max), nil
}

// interpolate returns the value at x on the line through (x0,y0), (x1,y1).
func interpolate(x0, y0, x1, y1, x float64) float64 {
	if x1 <= x0 {
		return y1
	}
	return y0 + float64((y1-y0)*((x-x0)/(x1-x0)))
}

func clamp(x, lo, hi float64) float64 { return max(lo, min(hi, x)) }

// CDF returns the estimated fraction of the weight at or below x: 0 below
// the minimum, 1 from the maximum on, exact while Exact is true, and
// otherwise interpolated on the same points as Quantile. An empty digest
// (or x NaN) returns NaN.
func (t *TDigest) CDF(x float64) float64 {
	if t.count == 0 || math.IsNaN(x) {
		return math.NaN()
	}
	if x < t.min {
		return 0
	}
	if x >= t.max {
		return 1
	}
	es := t.readEntries()
	n := float64(t.count)
	if t.exact {
		var at uint64
		for _, e := range es {
			if e.mean > x {
				break
			}
			at += e.weight
		}
		return float64(at) / n
	}
	// The last point at or below x, and the first above it.
	prevPos, prevVal := 0.0, t.min
	cum := uint64(0)
	for _, e := range es {
		pos := float64(cum) + float64(e.weight-1)/2
		cum += e.weight
		if e.mean > x {
			return clamp((interpolate(prevVal, prevPos, e.mean, pos, x)+1)/n, 0, 1)
		}
		prevPos, prevVal = pos, e.mean
	}
	return clamp((interpolate(prevVal, prevPos, t.max, n-1, x)+1)/n, 0, 1)
}

// t-digest encoding, after the header ('T', version 1):
//
//	compression  8 bytes, float64 little-endian, 10..1000
//	flags        1 byte: bit 0 set while exact; other bits zero
//	count        uvarint, the total weight
//	min, max     8 bytes each, float64, only when count > 0
//	centroids    uvarint n, then n entries
//	added        uvarint n, then n entries: the values added since the
//	             last compression (in sorted order: their order does not
//	             matter to later compressions, which sort)
//	entry        mean float64 8 bytes, weight uvarint >= 1
//
// Each list is sorted by (mean, weight); means are finite, within [min,
// max] and not -0; all weights sum to count; the entries of both lists
// number at most the capacity max(2·ceil(δ), 2·centroids).
const tdigestFlagExact = 1

// AppendTo appends the encoding of t to dst.
func (t *TDigest) AppendTo(dst []byte) []byte {
	dst = appendHeader(dst, kindTDigest)
	dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(t.compression))
	flags := byte(0)
	if t.exact {
		flags |= tdigestFlagExact
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, t.count)
	if t.count > 0 {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(t.min))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(t.max))
	}
	dst = appendEntries(dst, t.entries[:t.sorted])
	added := t.entries[t.sorted:]
	if !slices.IsSortedFunc(added, cmpCentroid) {
		added = slices.SortedFunc(slices.Values(added), cmpCentroid)
	}
	return appendEntries(dst, added)
}

func appendEntries(dst []byte, es []centroid) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(es)))
	for _, e := range es {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(e.mean))
		dst = binary.AppendUvarint(dst, e.weight)
	}
	return dst
}

// Marshal returns the encoding of t.
func (t *TDigest) Marshal() []byte { return t.AppendTo(nil) }

// UnmarshalTDigest decodes an encoding written by AppendTo. It returns an
// error wrapping ErrCorrupt for any input that AppendTo could not have
// written.
func UnmarshalTDigest(b []byte) (*TDigest, error) {
	d := newDecoder(b, kindTDigest, "tdigest")
	c := d.f64()
	flags := d.byte()
	count := d.uvarint()
	if d.err != nil {
		return nil, d.err
	}
	if !(c >= TDigestMinCompression && c <= TDigestMaxCompression) {
		return nil, corrupt("tdigest", "compression %v out of 10..1000", c)
	}
	if flags&^tdigestFlagExact != 0 {
		return nil, corrupt("tdigest", "unknown flags %#x", flags)
	}
	t := &TDigest{count: count, exact: flags&tdigestFlagExact != 0}
	t.setCompression(c)
	if count > 0 {
		t.min, t.max = d.f64(), d.f64()
		if d.err == nil && !(finiteCanonical(t.min) && finiteCanonical(t.max) && t.min <= t.max) {
			return nil, corrupt("tdigest", "bad min %v or max %v", t.min, t.max)
		}
	}
	var sum uint64
	for list := range 2 {
		n := d.uvarint()
		if d.err != nil {
			return nil, d.err
		}
		if n > uint64(len(d.b))/9 { // an entry takes at least 9 bytes
			return nil, corrupt("tdigest", "%d entries in %d bytes", n, len(d.b))
		}
		start := len(t.entries)
		for i := uint64(0); i < n && d.err == nil; i++ {
			e := centroid{d.f64(), d.uvarint()}
			if d.err != nil {
				break
			}
			if !finiteCanonical(e.mean) || e.mean < t.min || e.mean > t.max || e.weight == 0 || sum+e.weight < sum ||
				(i > 0 && cmpCentroid(t.entries[start+int(i)-1], e) > 0) {
				return nil, corrupt("tdigest", "bad entry %d (%v, %d)", i, e.mean, e.weight)
			}
			sum += e.weight
			t.entries = append(t.entries, e)
		}
		if list == 0 {
			t.sorted = len(t.entries)
		}
	}
	if err := d.finish(); err != nil {
		return nil, err
	}
	if sum != count {
		return nil, corrupt("tdigest", "weights sum to %d, count is %d", sum, count)
	}
	if len(t.entries) > t.capacity() {
		return nil, corrupt("tdigest", "%d entries, more than the capacity %d", len(t.entries), t.capacity())
	}
	if count == 0 && !t.exact {
		return nil, corrupt("tdigest", "an empty digest is exact")
	}
	if count > 0 && t.exact {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, e := range t.entries {
			lo, hi = min(lo, e.mean), max(hi, e.mean)
		}
		if lo != t.min || hi != t.max {
			return nil, corrupt("tdigest", "an exact digest's extremes are its smallest and largest values")
		}
	}
	return t, nil
}

// finiteCanonical reports whether x is finite and not -0.
func finiteCanonical(x float64) bool {
	return !math.IsNaN(x) && !math.IsInf(x, 0) && math.Float64bits(x) != 1<<63
}
