package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestRemoveExitedBuilds: Binary's temp dirs of exited processes go,
// this process's stays.
func TestRemoveExitedBuilds(t *testing.T) {
	mine, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", binDirPrefix, os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(mine)
	// PID 0x7ffffffe is above any pid_max Linux allows: no process has it.
	gone, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", binDirPrefix, 0x7ffffffe))
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(gone)
	if err := os.WriteFile(filepath.Join(gone, "cairn"), []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	removeExitedBuilds()
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Errorf("the dir of an exited process is still there: %v", err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("this process's dir was removed: %v", err)
	}
}
