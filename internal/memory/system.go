package memory

import (
	"bufio"
	"os"
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
