package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// byteSize is a flag holding a number of bytes, written as a plain
// number or with a unit: KB, MB, GB, TB (powers of 1000) or KiB, MiB,
// GiB, TiB (powers of 1024), e.g. 256MiB or 1.5GB.
type byteSize struct{ p *int64 }

func newByteSize(p *int64, def int64) byteSize {
	*p = def
	return byteSize{p}
}

var byteUnits = []struct {
	suffix string
	mult   float64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
}

// parseByteSize parses a size like 64KiB, 256MB or 1048576.
func parseByteSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := 1.0
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) || v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is not a size: write bytes or a number with KB, MB, GB (1000s) or KiB, MiB, GiB (1024s), e.g. 256MiB", s)
	}
	return int64(v * mult), nil
}

func (b byteSize) String() string {
	if b.p == nil {
		return "0"
	}
	v := *b.p
	for _, u := range []struct {
		s string
		m int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v >= u.m && v%u.m == 0 {
			return fmt.Sprintf("%d%s", v/u.m, u.s)
		}
	}
	return strconv.FormatInt(v, 10)
}

func (b byteSize) Set(s string) error {
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b.p = v
	return nil
}

func (b byteSize) Type() string { return "bytes" }
