package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

var build struct {
	once sync.Once
	path string
	err  error
}

// Binary builds cmd/cairn once per process (go build into a temp dir) and
// returns its path. Tools that are the cairn binary themselves use
// os.Executable instead. The test binary has the deliberate bugs compiled
// in (-tags cairn_bugs; each stays off unless --unsafe-bug names it), so
// the checkers' self-tests can switch them on.
//
// Nothing removes the temp dir when the test process ends (about 60 MB
// each; 300 of them once filled /tmp), so each build first removes the
// dirs of test processes that have exited: the dir's name carries the
// PID of the process that made it.
func Binary() (string, error) {
	build.once.Do(func() {
		removeExitedBuilds()
		dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", binDirPrefix, os.Getpid()))
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "cairn")
		cmd := exec.Command("go", "build", "-tags", "cairn_bugs", "-o", build.path, "github.com/cairndb/cairn/cmd/cairn")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out.String())
		}
	})
	return build.path, build.err
}

// binDirPrefix starts the name of Binary's temp dirs, followed by the
// PID of the process that made one.
const binDirPrefix = "cairn-e2e-bin-"

// removeExitedBuilds removes Binary's temp dirs whose process no longer
// runs (or that predate PIDs in the name). A dir whose PID was reused by
// another process is kept; that costs only disk.
func removeExitedBuilds() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), binDirPrefix+"*"))
	for _, d := range dirs {
		rest := strings.TrimPrefix(filepath.Base(d), binDirPrefix)
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if ok && err == nil && pid > 0 && syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // its process still runs (or is not ours to ask)
		}
		_ = os.RemoveAll(d)
	}
}
