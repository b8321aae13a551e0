// Command gen writes the files generated from Cairn's metric
// definitions: docs/metrics.md and deploy/grafana/cairn-dashboard.json.
// Run it with `go generate ./internal/metrics` (or `go run
// ./internal/metrics/gen`); a test fails when the committed files differ.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cairndb/cairn/internal/metrics"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run() error {
	root, err := repoRoot()
	if err != nil {
		return err
	}
	dash, err := metrics.Dashboard()
	if err != nil {
		return err
	}
	for path, b := range map[string][]byte{
		metrics.DocsPath:      metrics.Markdown(),
		metrics.DashboardPath: dash,
	} {
		p := filepath.Join(root, path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// repoRoot is the nearest directory up from here holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
