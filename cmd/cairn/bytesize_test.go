package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1048576": 1 << 20, "64KiB": 64 << 10, "256MiB": 256 << 20, "1GiB": 1 << 30,
		"256MB": 256e6, "1.5GB": 1.5e9, "64kb": 64e3, " 2 gib ": 2 << 30, "512M": 512 << 20,
	} {
		got, err := parseByteSize(in)
		if err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1MB", "12 parsecs", "1e30GB", "NaN", "0"} {
		if got, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) = %d, want an error", in, got)
		}
	}
	var v int64
	b := newByteSize(&v, 256<<20)
	if b.String() != "256MiB" {
		t.Errorf("default shows as %q", b.String())
	}
	if err := b.Set("1000"); err != nil || v != 1000 || b.String() != "1000" {
		t.Errorf("Set(1000): %d %q %v", v, b.String(), err)
	}
}

// TestStartViewCacheFlag: --view-cache refuses what is not a size and
// budgets under 64 KiB with a usage error naming the flag.
func TestStartViewCacheFlag(t *testing.T) {
	for v, want := range map[string]string{
		"12 parsecs": `invalid argument "12 parsecs" for "--view-cache"`,
		"1KiB":       "--view-cache must be at least 64KiB",
		"0":          `invalid argument "0" for "--view-cache"`,
	} {
		cmd := startCmd()
		cmd.SetArgs([]string{"--view-cache", v, "--data-dir", filepath.Join(t.TempDir(), "d")})
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--view-cache %s: %v, want %q", v, err, want)
		}
		var ee *exitErr
		if strings.HasPrefix(want, "--view-cache must") && (!errors.As(err, &ee) || ee.Code != exitUsage) {
			t.Errorf("--view-cache %s: %v, want a usage error", v, err)
		}
	}
}
