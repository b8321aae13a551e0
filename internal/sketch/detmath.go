package sketch

import "math"

// Sizes derived from parameters (count-min depth, Bloom bits and hashes)
// must come out the same on every machine, and math.Log may be assembly
// that rounds differently on some platforms. These helpers use only single
// IEEE operations, so their results are the same everywhere.

// detLn returns the natural logarithm of x > 0 (finite), to within a few
// ulps, identically on every machine.
func detLn(x float64) float64 {
	frac, exp := math.Frexp(x) // x = frac·2^exp, frac in [0.5, 1)
	if frac < math.Sqrt2/2 {
		frac *= 2
		exp--
	}
	// ln(frac) = 2·atanh(s) with s = (frac-1)/(frac+1), |s| < 0.172.
	s := (frac - 1) / (frac + 1)
	s2 := float64(s * s)
	sum, term := 0.0, s
	for n := 1; n < 60; n += 2 {
		next := sum + term/float64(n)
		if next == sum {
			break
		}
		sum = next
		term = float64(term * s2)
	}
	return float64(2*sum) + float64(float64(exp)*math.Ln2)
}
