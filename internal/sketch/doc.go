// Package sketch holds the probabilistic data structures that continuous
// views keep as per-group partial state: HyperLogLog (distinct counts),
// t-digest (quantiles), count-min (frequencies), top-k (heavy hitters) and
// Bloom filters (membership). It is pure Go over the standard library and
// imports nothing else from Cairn.
//
// # The API every sketch has
//
//	New<X>(params) (*X, error)   a parameter out of range is a *ParamError
//	                             naming the valid range (SQLSTATE 22023)
//	Add…                         allocation-free in steady state
//	Merge(*X) error              folds another state in, leaving it unchanged
//	AppendTo(dst []byte) []byte  the encoding, appended; Marshal() for a new slice
//	Unmarshal<X>([]byte) (*X, error)
//	estimates                    Estimate, Quantile, CDF, Top, Contains, …
//
//	sketch     New                              Add                 estimates
//	HLL        NewHLL(p)                        Add(hash)           Estimate
//	TDigest    NewTDigest(δ)                    Add(x, w) error     Quantile(q) (error: q outside 0..1), CDF(x), Count, Min, Max, Exact
//	CountMin   NewCountMin(ε, δ)                Add(hash, count)    Estimate(hash), Total
//	TopK       NewTopK(k)                       Add(value, count)   Top() (count desc, value asc), Total
//	Bloom      NewBloom(capacity, fpRate)       Add(hash)           Contains(hash), Cardinality
//
// Errors: *ParamError for a parameter out of range (also t-digest Add of
// NaN, ±Inf or weight 0, and Quantile's q); ErrIncompatible (wrapped) for
// merging count-min sketches, top-k sketches or Bloom filters of
// different parameters (HyperLogLogs and t-digests of different
// parameters merge at the coarser one); ErrCorrupt (wrapped) for any
// input an Unmarshal function refuses. None of them panics on any input.
//
// Values are keyed by Hash64, a stable 64-bit hash written here whose
// output is pinned by TestHash64Vectors: it must never change, since
// stored states hold positions derived from it. Callers hash a value's
// canonical bytes (HashString avoids a copy for strings). TopK takes the
// value's bytes itself, since it reports them.
//
// # Determinism
//
// Replicas apply the same log and must hold the same bytes, so: the same
// calls in the same order give byte-identical encodings on every machine;
// a decoded state behaves exactly like the original under later calls
// (the encodings hold all the state that steers later behaviour, e.g. the
// t-digest's split between centroids and values added since, and top-k's
// eviction order is a total order on the state, not on the memory
// layout); and reads (estimates, AppendTo) never change a state. Sizes
// and the t-digest's arithmetic use single IEEE operations only (products
// rounded before they are added, so no fused multiply-add; detLn and
// sinCos instead of math.Log and math.Sin, which may be assembly that
// rounds differently on some platforms). Every encoding is canonical:
// varints are minimal, lists are sorted, and what decodes re-encodes to
// the same bytes (the fuzz tests check it). TestEncodingsPinned pins the
// bytes of every sketch after a fixed input sequence: a change of format
// or behaviour needs a new version byte, never a new pinned value.
//
// # HyperLogLog
//
// NewHLL(p), p in 4..18 (default 14: 16384 registers, standard error
// 1.04/sqrt(2^p) ≈ 0.81%). Sparse while it holds at most min(2^p/4,
// 16384) (index, rank) entries at precision 25, a few bytes each (5
// values encode in under 30 bytes); then dense, 2^p six-bit registers
// (12 KiB at p=14). Merge accepts different precisions and merges at the
// lower one; the result is byte-identical to the sketch of the union.
// Estimate: linear counting over 2^25 indices while sparse, Ertl's
// improved estimator ("New cardinality estimation algorithms for
// HyperLogLog sketches", 2017, no empirical bias tables) once dense.
// Measured (TestHLLAccuracy, p=10 and 14, 10, 1k, 100k and 1M distinct
// values, two value sets each): every estimate within 4 standard errors
// (the tested bound), the worst 2.5; exact at 10 and, at p=14, at 1000.
//
// # t-digest
//
// NewTDigest(δ), δ in 10..1000 (default 100). A merging t-digest with the
// k1 scale function plus a tail bound (a centroid weighs at most
// 32/δ·N·q(1-q)), so that tail quantiles stay accurate. Add(x, w) with x
// finite and w >= 1; Quantile(q) for q in 0..1 with percentile_cont
// semantics; Quantile(0) and Quantile(1) are the exact minimum and
// maximum; while at most δ distinct values have been seen the digest is
// exact (Exact reports it) and Quantile equals percentile_cont, CDF the
// exact fraction. Merge accepts different compressions and merges at the
// lower one. Measured rank error (TestTDigestAccuracy, δ=100, 1M values of
// uniform, normal, exponential and lognormal data, added in random order,
// in sorted order, or as 16 merged parts; q from 0.0001 to 0.9999):
// at most 0.001 for a digest built by Add, at most 0.0024 after merging
// parts (tested bound 0.003); in the tails (q <= 0.01 or >= 0.99) at most
// 0.042·min(q, 1-q) (tested bound 0.1·min(q, 1-q)). CDF errors are the
// same. A digest of 1M values holds 130 to 240 entries, 1.3 to 2.4 KB
// encoded.
//
// # Count-min
//
// NewCountMin(ε, δ), ε in 0.0001..0.5 (default 0.002), δ in
// 0.000001..0.5 (default 0.01): width ceil(e/ε), depth ceil(ln(1/δ))
// (1360×5 by default, 54 KiB in memory; zero counters encode in a byte
// per run). Estimate never underestimates (TestCountMinNeverUnderestimates
// checks every value of a 1M-event Zipf stream) and overestimates by more
// than ε·Total for at most a δ share of values (measured: 0.00002 of them
// at the defaults). Counters saturate rather than wrap.
//
// # Top-k
//
// NewTopK(k), k in 1..10000. Space-Saving over 8k counters
// (TopKCountersPerK), reporting the best k: each count is an upper bound
// on the true count and count-error a lower bound; a value seen more than
// Total/(8k) times is always held; with at most 8k distinct values all
// counts are exact. Merge is parallel Space-Saving (Cafaro et al.).
// Measured recall of the true top k on 500k Zipf-distributed events over
// 1M values (TestTopKRecallZipf): 1.0 for k=10 and k=100 (s=1.1), 0.997
// for k=1000 (s=1.2), and 0.988 or better after merging 4 parts (tested
// bound 0.97; with k counters alone the recall was 0.2 to 0.5).
//
// # Bloom filter
//
// NewBloom(n, p), n in 1..10,000,000 (default 10,000), p in
// 0.000001..0.5 (default 0.01): m = ceil(n·ln(1/p)/ln²2) bits rounded up
// to 64 and k = round(m/n·ln 2) hashes (95,872 bits and 7 hashes by
// default). No false negatives (tested); measured false-positive rate at
// full capacity 0.0102 for p=0.01, 0.101 for 0.1 and 0.0011 for 0.001
// (tested bound: within 2x of p); Cardinality within 1% at capacity
// (tested bound 5%).
//
// # Encodings
//
// Every encoding starts with a kind byte ('H', 'T', 'C', 'K', 'B') and a
// version byte (1); the layout of each is documented above its AppendTo.
// Integers are minimal unsigned varints, floats 8-byte little-endian.
// Mostly-zero vectors (count-min counters, Bloom words) are runs: pairs
// of (zeros before the next non-zero value, that value), then the count
// of trailing zeros.
package sketch
