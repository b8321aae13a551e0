package metrics

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// promtool checks the rules and the scrape configuration and runs the
// rules' unit tests (deploy/prometheus/cairn.rules.test.yaml).
// scripts/test-deps.sh installs it (Debian's prometheus package).
func TestPromtool(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: run scripts/test-deps.sh (it installs Debian's prometheus package)")
	}
	dir := filepath.Join("..", "..", "deploy", "prometheus")
	for _, args := range [][]string{
		{"check", "rules", "cairn.rules.yaml"},
		{"check", "config", "prometheus.yaml"},
		{"test", "rules", "cairn.rules.test.yaml"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}
