package memory

import (
	"bufio"
	"os"
	"runtime/metrics"
	"strconv"
	"strings"
)

// Machine is the memory this process may use: the machine's physical
// memory (/proc/meminfo MemTotal), or the cgroup's limit when one is set
// and smaller (cgroup v2 memory.max, else v1 memory.limit_in_bytes).
// Source says which ("cgroup" or "machine"); 0 means unknown.
func Machine() (total uint64, source string) {
	return machineFrom("/proc/meminfo", "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
}

func machineFrom(meminfo string, cgroups ...string) (total uint64, source string) {
	total = memTotal(meminfo)
	source = "machine"
	for _, p := range cgroups {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			break
		}
		n, err := strconv.ParseUint(s, 10, 64)
		// cgroup v1 reports "no limit" as a huge number.
		if err != nil || n == 0 || n >= 1<<60 {
			break
		}
		if total == 0 || n < total {
			total, source = n, "cgroup"
		}
		break
	}
	return total, source
}

// memTotal reads MemTotal from a /proc/meminfo file (0 if unreadable).
func memTotal(path string) uint64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		fs := strings.Fields(rest)
		if len(fs) == 0 {
			return 0
		}
		n, err := strconv.ParseUint(fs[0], 10, 64)
		if err != nil {
			return 0
		}
		if len(fs) > 1 && strings.EqualFold(fs[1], "kB") {
			n <<= 10
		}
		return n
	}
	return 0
}

// RSS is this process's resident set size in bytes (/proc/self/statm;
// 0 where unavailable).
func RSS() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	fs := strings.Fields(string(b))
	if len(fs) < 2 {
		return 0
	}
	pages, err := strconv.ParseUint(fs[1], 10, 64)
	if err != nil {
		return 0
	}
	return pages * uint64(os.Getpagesize())
}

// OutsideGo is the process's resident memory the Go runtime does not
// hold: the binary's pages, C allocations (Pebble's cache and memtables
// with cgo, and what the C allocator keeps after they are freed), thread
// stacks. RSS less the Go runtime's mapped, unreleased memory.
func OutsideGo() uint64 {
	rss := RSS()
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	goRes := s[0].Value.Uint64() - min(s[0].Value.Uint64(), s[1].Value.Uint64())
	return rss - min(rss, goRes)
}

// GoLimitFor is the Go memory limit that keeps the process's RSS within
// limit when outside bytes are resident outside the Go runtime: the
// rest, but never below a quarter of the limit (below that the GC would
// run without pause and still not make room).
func GoLimitFor(limit, outside uint64) uint64 {
	return max(limit-min(limit, outside), limit/4)
}
