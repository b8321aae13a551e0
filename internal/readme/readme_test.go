package readme

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadme runs every code block of README.md, in order, exactly as
// written, the way a new user would: from a clone of the repository with
// nothing installed but the prerequisites README.md lists. HOME is a temp
// dir (so the install step's `go install` lands in $HOME/go/bin, where the
// README puts it on the PATH) and PATH holds only the Go toolchain and the
// system's bin dirs, so a cairn installed elsewhere cannot hide a missing
// install step. Shell blocks run with bash, one after the other, as in one
// terminal: each starts where the last left off (its directory and its
// variables). SQL blocks are piped into psql. Every process a block
// started is stopped at the end, by process group.
// until stops the run after the block at this line of README.md, to work
// on a section without running the rest.
var until = flag.Int("readme.until", 0, "stop after the README.md block at this line (0: run all)")

func TestReadme(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: TestReadme builds cairn and starts clusters")
	}
	root := repoRoot(t)
	steps, err := Parse(readREADME(t))
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(t, root)
	t.Cleanup(r.stopAll)
	start := time.Now()
	for i, st := range steps {
		if st.Skip != "" {
			t.Logf("README.md:%d: skipped: %s", st.Line, st.Skip)
			continue
		}
		began := time.Now()
		switch st.Kind {
		case Stop:
			r.stopAll()
		case Shell:
			r.shell(st)
		case SQL:
			r.sql(st)
		case Output:
			prev := steps[i-1]
			if prev.Skip != "" {
				continue
			}
			if !Match(st.Text, r.lastOut) {
				t.Fatalf("README.md:%d: the output of the block at line %d differs from what README.md shows\n--- README.md shows:\n%s--- got:\n%s", st.Line, prev.Line, st.Text, r.lastOut)
			}
		}
		t.Logf("README.md:%d: done in %s", st.Line, time.Since(began).Round(time.Millisecond))
		if *until > 0 && st.Line >= *until {
			t.Logf("stopping after README.md:%d (-readme.until)", st.Line)
			break
		}
	}
	t.Logf("README.md: %d steps in %s", len(steps), time.Since(start).Round(time.Second))
}

func readREADME(t *testing.T) string {
	text, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(text)
}

func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// runner keeps the state of one README run.
type runner struct {
	t       *testing.T
	tmp     string
	env     []string
	state   string // bash file restoring the shell's variables and directory
	n       int    // blocks run so far, to name their files
	psql    string // the psql arguments in force
	lastOut string
	groups  []*group
}

// group is a process group a block started: a background block, or the
// processes a block left running (`cairn start … &`).
type group struct {
	pgid   int
	line   int
	out    string        // the block's output file
	exited chan struct{} // closed when the group's leader exited (background blocks)
}

const (
	blockTimeout = 4 * time.Minute  // a shell block (the install step builds cairn)
	sqlTimeout   = 90 * time.Second // a SQL block
	readyTimeout = 90 * time.Second // a started node answering /ready
	stopTimeout  = 20 * time.Second // processes exiting after SIGINT
)

func newRunner(t *testing.T, root string) *runner {
	tmp := t.TempDir()
	home := filepath.Join(tmp, "home")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	goBin, _ = filepath.EvalSymlinks(goBin)
	var path []string
	for _, d := range []string{filepath.Dir(goBin), "/usr/local/bin", "/usr/bin", "/bin"} {
		if _, err := os.Stat(filepath.Join(d, "cairn")); err == nil {
			t.Fatalf("%s/cairn exists: it would hide a README that forgets to install cairn; remove it", d)
		}
		path = append(path, d)
	}
	goEnv := func(name string) string {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	env := []string{
		"PATH=" + strings.Join(path, ":"),
		"HOME=" + home,
		"TMPDIR=" + tmp,
		"LANG=C.UTF-8",
		"TERM=dumb",
		"PGCONNECT_TIMEOUT=10",
		// The caches only: a fresh clone builds the same code, and the
		// module cache spares the network. GOPATH and GOBIN stay unset,
		// so go install writes to $HOME/go/bin.
		"GOCACHE=" + goEnv("GOCACHE"),
		"GOMODCACHE=" + goEnv("GOMODCACHE"),
		"GOPROXY=" + goEnv("GOPROXY"),
		"GOFLAGS=" + goEnv("GOFLAGS"),
		"GOSUMDB=" + goEnv("GOSUMDB"),
		"GONOSUMDB=" + goEnv("GONOSUMDB"),
		"GOPRIVATE=" + goEnv("GOPRIVATE"),
		"GONOPROXY=" + goEnv("GONOPROXY"),
		"GOINSECURE=" + goEnv("GOINSECURE"),
		"GOTOOLCHAIN=local",
	}
	r := &runner{t: t, tmp: tmp, env: env, state: filepath.Join(tmp, "state.sh")}
	// Like a new user: in the root of a fresh clone.
	if err := os.WriteFile(r.state, []byte(fmt.Sprintf("cd %q\n", root)), 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// saveState writes the shell's variables and directory for the next
// block, as if it ran in the same terminal.
const saveState = `
for __v in $(compgen -v); do
  case $__v in
    BASH*|EUID|PPID|UID|SHELLOPTS|FUNCNAME|GROUPS|DIRSTACK|PIPESTATUS|RANDOM|SRANDOM|SECONDS|LINENO|HISTCMD|EPOCHREALTIME|EPOCHSECONDS|OPTIND|OPTARG|OPTERR|PWD|OLDPWD|SHLVL|IFS|PS4|COLUMNS|LINES|_|__v) continue;;
  esac
  declare -p "$__v" 2>/dev/null
done > "$CAIRN_README_STATE.new"
printf 'cd %q\n' "$PWD" >> "$CAIRN_README_STATE.new"
mv "$CAIRN_README_STATE.new" "$CAIRN_README_STATE"
`

// script writes the bash script for a block and returns its path.
func (r *runner) script(body string) string {
	r.n++
	p := filepath.Join(r.tmp, fmt.Sprintf("block%02d.sh", r.n))
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		r.t.Fatal(err)
	}
	return p
}

// start runs a bash script in a new process group, its output to a file.
func (r *runner) start(script string, line int) (*exec.Cmd, string) {
	out := strings.TrimSuffix(script, ".sh") + ".out"
	f, err := os.Create(out)
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command("bash", script)
	cmd.Env = append(r.env, "CAIRN_README_STATE="+r.state)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("README.md:%d: %v", line, err)
	}
	return cmd, out
}

// shell runs a shell block: in the background (a command the reader runs in
// its own terminal), or to its end, keeping any process it left running.
func (r *runner) shell(st Step) {
	t := r.t
	body := fmt.Sprintf("source \"$CAIRN_README_STATE\"\nset -e -o pipefail\n%s\nset +e\n%s", st.Text, saveState)
	if st.Background {
		body = fmt.Sprintf("source \"$CAIRN_README_STATE\"\nset -e -o pipefail\n%s", st.Text)
	}
	for _, u := range st.Ready {
		// A node already there (another run, the reader's own) would
		// answer for the one this block starts.
		if addr := hostPort(u); addr != "" {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Fatalf("README.md:%d: %s is in use before the block starts the process that should listen there; stop whatever holds it", st.Line, addr)
			}
		}
	}
	cmd, out := r.start(r.script(body), st.Line)
	g := &group{pgid: cmd.Process.Pid, line: st.Line, out: out, exited: make(chan struct{})}
	if st.Background {
		r.groups = append(r.groups, g)
		go func() { _ = cmd.Wait(); close(g.exited) }()
		t.Logf("README.md:%d: started in the background (pid %d)", st.Line, g.pgid)
	} else {
		err := r.wait(cmd, g, blockTimeout)
		r.lastOut = readFile(out)
		t.Logf("README.md:%d: sh:\n%s--- output:\n%s", st.Line, st.Text, tail(r.lastOut))
		if err != nil {
			t.Fatalf("README.md:%d: the block failed: %v\n%s", st.Line, err, r.lastOut)
		}
		if alive(g.pgid) {
			close(g.exited)
			r.groups = append(r.groups, g)
		}
	}
	for _, u := range st.Ready {
		r.waitReady(u, g, st.Line)
	}
}

// sql pipes a SQL block into psql, in the shell's directory and variables.
func (r *runner) sql(st Step) {
	t := r.t
	if st.PSQL != "" {
		r.psql = st.PSQL
	}
	if r.psql == "" {
		t.Fatalf("README.md:%d: a sql block before any <!-- readme: psql ARGS --> says where to run it", st.Line)
	}
	r.n++
	in := filepath.Join(r.tmp, fmt.Sprintf("block%02d.sql", r.n))
	if err := os.WriteFile(in, []byte(st.Text), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := "-v ON_ERROR_STOP=1"
	if st.Errors {
		stop = ""
	}
	body := fmt.Sprintf("source \"$CAIRN_README_STATE\"\npsql %s %s < %q\n", r.psql, stop, in)
	cmd, out := r.start(r.script(body), st.Line)
	g := &group{pgid: cmd.Process.Pid, line: st.Line, out: out, exited: make(chan struct{})}
	err := r.wait(cmd, g, sqlTimeout)
	r.lastOut = psqlPrefix.ReplaceAllString(readFile(out), "")
	t.Logf("README.md:%d: psql %s:\n%s--- output:\n%s", st.Line, r.psql, st.Text, tail(r.lastOut))
	if err != nil && !st.Errors {
		t.Fatalf("README.md:%d: the SQL block failed: %v\n%s", st.Line, err, r.lastOut)
	}
}

// hostPort is the host:port of a ready URL (http, https or tcp).
func hostPort(u string) string {
	_, rest, ok := strings.Cut(u, "://")
	if !ok {
		return ""
	}
	hp, _, _ := strings.Cut(rest, "/")
	return hp
}

// psqlPrefix starts psql's messages about input read from a pipe; pasted
// into psql, the same statements show none.
var psqlPrefix = regexp.MustCompile(`(?m)^psql:<stdin>:[0-9]+: `)

// wait waits for a block's bash to exit, killing its group after timeout.
func (r *runner) wait(cmd *exec.Cmd, g *group, timeout time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		_ = syscall.Kill(-g.pgid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("still running after %s (killed)", timeout)
	}
}

// waitReady waits until url answers 200 (a node's /ready), or, for
// tcp://host:port, until the address accepts a connection. HTTPS is not
// verified: this only asks whether the node is up; the README's own
// commands check certificates.
func (r *runner) waitReady(url string, g *group, line int) {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // readiness probe only
	}}
	deadline := time.Now().Add(readyTimeout)
	var last string
	for time.Now().Before(deadline) {
		if addr, ok := strings.CutPrefix(url, "tcp://"); ok {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err == nil {
				c.Close()
				return
			}
			last = err.Error()
		} else if resp, err := client.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-g.exited:
			if !alive(g.pgid) {
				r.t.Fatalf("README.md:%d: its processes exited before %s answered:\n%s", line, url, readFile(g.out))
			}
		default:
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.t.Fatalf("README.md:%d: %s did not answer 200 within %s (last: %s); output:\n%s", line, url, readyTimeout, last, readFile(g.out))
}

// stopAll stops every process the blocks started, as Ctrl-C would
// (SIGINT to each process group), then SIGTERM, then SIGKILL.
func (r *runner) stopAll() {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGKILL} {
		live := 0
		for _, g := range r.groups {
			if alive(g.pgid) {
				_ = syscall.Kill(-g.pgid, sig)
				live++
			}
		}
		if live == 0 {
			break
		}
		for deadline := time.Now().Add(stopTimeout / 2); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if !r.anyAlive() {
				break
			}
		}
		if sig != syscall.SIGINT && r.anyAlive() {
			r.t.Logf("processes still running after %v", sig)
		}
	}
	for _, g := range r.groups {
		<-g.exited // background leaders reaped
	}
	r.groups = nil
}

func (r *runner) anyAlive() bool {
	for _, g := range r.groups {
		if alive(g.pgid) {
			return true
		}
	}
	return false
}

// alive reports whether process group pgid has a process (a zombie leader
// not yet reaped counts; background leaders are reaped by their waiter).
func alive(pgid int) bool {
	return !errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// tail keeps a long output readable in the log.
func tail(s string) string {
	const max = 4000
	if len(s) > max {
		return "…" + s[len(s)-max:]
	}
	return s
}
