package testutil

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
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
func Binary() (string, error) {
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "cairn-e2e-bin-")
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
