package main

import (
	"fmt"
	"math"
	"strconv"

	"github.com/cairndb/cairn/internal/memory"
)

// byteSize is a flag holding a number of bytes, written as a plain
// number or with a unit: KB, MB, GB, TB (powers of 1000) or KiB, MiB,
// GiB, TiB (powers of 1024), e.g. 256MiB or 1.5GB.
type byteSize struct{ p *int64 }

func newByteSize(p *int64, def int64) byteSize {
	*p = def
	return byteSize{p}
}

// parseByteSize parses a size like 64KiB, 256MB, 1048576 or a percentage
// of the machine's memory, as --max-memory does (memory.ParseSize).
func parseByteSize(s string) (int64, error) {
	total, _ := memory.Machine()
	v, err := memory.ParseSize(s, total)
	if err != nil {
		return 0, err
	}
	if v > math.MaxInt64/2 {
		return 0, fmt.Errorf("%q is too large a size", s)
	}
	return int64(v), nil
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
