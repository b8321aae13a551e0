package memory

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// units are the size suffixes ParseSize accepts, case-insensitively:
// binary (KiB, MiB, GiB, TiB) and decimal (KB, MB, GB, TB) as written,
// and the bare letters K, M, G, T as binary, like `free -h` prints them.
var units = map[string]uint64{
	"":  1,
	"b": 1,
	"k": 1 << 10, "kib": 1 << 10, "kb": 1e3,
	"m": 1 << 20, "mib": 1 << 20, "mb": 1e6,
	"g": 1 << 30, "gib": 1 << 30, "gb": 1e9,
	"t": 1 << 40, "tib": 1 << 40, "tb": 1e12,
}

// ParseSize parses a memory size: plain bytes ("134217728"), a number
// with a unit ("512MB", "2GiB", "1.5G"), or a percentage of total
// ("50%"). The result is at least one byte; anything else is an error
// that says what is accepted.
func ParseSize(s string, total uint64) (uint64, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return 0, fmt.Errorf("empty size: give bytes, a size with a unit such as 512MiB or 2GB, or a percentage of the machine's memory such as 50%%")
	}
	if p, ok := strings.CutSuffix(v, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(f) || f <= 0 || f > 100 {
			return 0, fmt.Errorf("%q: a percentage must be a number above 0 and at most 100", s)
		}
		n := uint64(f / 100 * float64(total))
		if n == 0 {
			return 0, fmt.Errorf("%q of %s is nothing", s, Format(total))
		}
		return n, nil
	}
	i := 0
	for i < len(v) && (v[i] >= '0' && v[i] <= '9' || v[i] == '.') {
		i++
	}
	mult, ok := units[strings.ToLower(strings.TrimSpace(v[i:]))]
	if !ok || i == 0 {
		return 0, fmt.Errorf("%q is not a size: give bytes, a size with a unit (KiB, MiB, GiB, TiB or KB, MB, GB, TB), or a percentage such as 50%%", s)
	}
	f, err := strconv.ParseFloat(v[:i], 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not a size: %q is not a number", s, v[:i])
	}
	b := f * float64(mult)
	if b < 1 || b >= 1<<62 {
		return 0, fmt.Errorf("%q is out of range: between 1 byte and 4 EiB", s)
	}
	return uint64(b), nil
}

// Format prints n bytes with a binary unit, e.g. "128 MiB", "1.5 GiB".
func Format(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	return s + " " + []string{"KiB", "MiB", "GiB", "TiB", "PiB"}[exp]
}
