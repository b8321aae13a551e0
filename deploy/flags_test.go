package deploy

import (
	"bytes"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/cairndb/cairn/internal/testutil"
)

// repoRoot is the repository, seen from this package's directory.
const repoRoot = ".."

// cliInfo is what `cairn <cmd> --help` says: the flags and their defaults.
type cliInfo struct {
	flags    map[string]bool
	defaults map[string]string
	err      error
}

var helpCache struct {
	sync.Mutex
	m map[string]*cliInfo
}

var (
	flagLine    = regexp.MustCompile(`^\s+(?:-[a-zA-Z], )?--([a-z0-9][a-z0-9-]*)\b(.*)$`)
	defaultText = regexp.MustCompile(`\(default "?([^")]*)"?\)`)
)

// commandFlags runs the built cairn binary's `<cmd...> --help` and returns
// its flags (inherited ones included): the deployment files must use only
// flags the binary has, so a renamed flag fails here, not at a rollout.
func commandFlags(t *testing.T, cmd ...string) *cliInfo {
	t.Helper()
	key := strings.Join(cmd, " ")
	helpCache.Lock()
	defer helpCache.Unlock()
	if helpCache.m == nil {
		helpCache.m = map[string]*cliInfo{}
	}
	if ci := helpCache.m[key]; ci != nil {
		return ci
	}
	bin := testutil.MustBinary(t)
	var out bytes.Buffer
	c := exec.Command(bin, append(append([]string(nil), cmd...), "--help")...)
	c.Stdout, c.Stderr = &out, &out
	ci := &cliInfo{flags: map[string]bool{}, defaults: map[string]string{}}
	if err := c.Run(); err != nil {
		ci.err = err
	}
	text := out.String()
	// cobra answers an unknown subcommand's --help with its parent's help.
	if !strings.Contains(text, "cairn "+key) {
		ci.err = errUnknownCommand(key, text)
	}
	for _, line := range strings.Split(text, "\n") {
		m := flagLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		ci.flags[m[1]] = true
		if d := defaultText.FindStringSubmatch(m[2]); d != nil {
			ci.defaults[m[1]] = d[1]
		}
	}
	helpCache.m[key] = ci
	return ci
}

type unknownCommand struct{ cmd, help string }

func (e *unknownCommand) Error() string {
	return "the cairn binary has no command \"" + e.cmd + "\" (its --help printed:\n" + e.help + ")"
}

func errUnknownCommand(cmd, help string) error {
	if len(help) > 400 {
		help = help[:400] + "..."
	}
	return &unknownCommand{cmd, help}
}

// parsedArgs is a command line split into its leading words, its flags
// (--name=value or --name value; a flag without a value is "true") and
// positional arguments after the first word.
type parsedArgs struct {
	words []string
	flags map[string][]string
}

func (p parsedArgs) one(name string) string {
	if v := p.flags[name]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// boolFlags are the flags that take no value.
var boolFlags = map[string]bool{"insecure": true, "wait": true, "json": true, "metrics-auth": true, "help": true}

func parseArgs(args []string) parsedArgs {
	p := parsedArgs{flags: map[string][]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			p.words = append(p.words, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !hasVal {
			if boolFlags[name] || i+1 == len(args) || strings.HasPrefix(args[i+1], "--") {
				val = "true"
			} else {
				i++
				val = args[i]
			}
		}
		p.flags[name] = append(p.flags[name], val)
	}
	return p
}

// checkFlags reports every flag of p that the cairn command cmd lacks.
func checkFlags(t *testing.T, where string, p parsedArgs, cmd ...string) {
	t.Helper()
	ci := commandFlags(t, cmd...)
	if ci.err != nil {
		t.Errorf("%s: %v", where, ci.err)
		return
	}
	for name := range p.flags {
		if !ci.flags[name] {
			t.Errorf("%s: cairn %s has no flag --%s", where, strings.Join(cmd, " "), name)
		}
	}
}

// portOf is the port of host:port ("" when it is not one).
func portOf(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return port
}
