package testutil

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// PeakRSS returns the peak resident set size of the running node's
// process in bytes (VmHWM in /proc/<pid>/status, Linux only).
func (n *Node) PeakRSS() (int64, error) {
	n.mu.Lock()
	var pid int
	if n.mu.cmd != nil && n.mu.cmd.Process != nil && !closed(n.mu.exited) {
		pid = n.mu.cmd.Process.Pid
	}
	n.mu.Unlock()
	if pid == 0 {
		return 0, fmt.Errorf("%s is not running", n.name())
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}
