package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/testutil"
)

// unitFile is a systemd unit: section → key → values in order.
type unitFile map[string]map[string][]string

func readUnit(t *testing.T, path string) unitFile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	sec := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			sec = strings.Trim(line, "[]")
			u[sec] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || sec == "" {
				t.Fatalf("%s:%d: not key=value in a section: %q", path, n, line)
			}
			u[sec][k] = append(u[sec][k], v)
		}
	}
	return u
}

func (u unitFile) get(sec, key string) string {
	if v := u[sec][key]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

// execArgs splits an Exec line (no quoting used in these units) after its
// "-" prefix and binary path.
func execArgs(line string) (bin string, args []string) {
	f := strings.Fields(strings.TrimPrefix(line, "-"))
	return f[0], f[1:]
}

// envFile reads KEY=value lines.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Errorf("%s: %q is not KEY=value", path, l)
		}
		m[k] = v
	}
	return m
}

// cliEnv are the environment variables the operator commands read
// (internal/cli): the stop hook's.
var cliEnv = map[string]bool{"CAIRN_HOST": true, "CAIRN_CERTS_DIR": true, "CAIRN_USER": true, "CAIRN_PASSWORD": true, "CAIRN_NODE_ID": true}

func TestSystemdNode(t *testing.T) {
	u := readUnit(t, "systemd/cairn.service")
	start := commandFlags(t, "start")
	if start.err != nil {
		t.Fatal(start.err)
	}
	bin, args := execArgs(u.get("Service", "ExecStart"))
	p := parseArgs(args)
	if bin != "/usr/local/bin/cairn" || len(p.words) != 1 || p.words[0] != "start" {
		t.Errorf("ExecStart %q, want /usr/local/bin/cairn start", u.get("Service", "ExecStart"))
	}
	checkFlags(t, "cairn.service ExecStart", p, "start")
	if dd := p.one("data-dir"); dd != "/var/lib/"+u.get("Service", "StateDirectory") {
		t.Errorf("--data-dir %s is not the StateDirectory /var/lib/%s", dd, u.get("Service", "StateDirectory"))
	}
	// The environment file: every CAIRN_ key is a start flag or read by
	// the stop hook.
	envPath := u.get("Service", "EnvironmentFile")
	if envPath != "/etc/cairn/cairn.env" {
		t.Errorf("EnvironmentFile %q", envPath)
	}
	env := envFile(t, "systemd/cairn.env.example")
	for k := range env {
		if flag := envFlag(k); !start.flags[flag] && !cliEnv[k] {
			t.Errorf("cairn.env.example: %s is neither a cairn start flag (--%s) nor read by cairn node drain", k, flag)
		}
	}
	if env["CAIRN_NODE_ID"] == "" || portOf(env["CAIRN_HOST"]) != portOf(env["CAIRN_HTTP_ADDR"]) {
		t.Errorf("cairn.env.example: the stop hook needs CAIRN_NODE_ID and CAIRN_HOST at the node's HTTP port (%s vs %s)", env["CAIRN_HOST"], env["CAIRN_HTTP_ADDR"])
	}

	// Stop: drain, then SIGTERM, all within TimeoutStopSec.
	stop := u.get("Service", "ExecStop")
	if !strings.HasPrefix(stop, "-") {
		t.Errorf("ExecStop %q: a failed drain must not block the stop (prefix -)", stop)
	}
	bin, args = execArgs(stop)
	sp := parseArgs(args)
	if bin != "/usr/local/bin/cairn" || strings.Join(sp.words, " ") != "node drain" || sp.one("wait") != "true" {
		t.Errorf("ExecStop %q, want cairn node drain --wait (NAME from CAIRN_NODE_ID)", stop)
	}
	checkFlags(t, "cairn.service ExecStop", sp, "node", "drain")
	drain, err := time.ParseDuration(sp.one("timeout"))
	if err != nil {
		t.Fatalf("ExecStop --timeout: %v", err)
	}
	stopTimeout, err := time.ParseDuration(u.get("Service", "TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	// After the drain, SIGTERM hands leaderships off for up to 1 s
	// (cmd/cairn/start.go) and closes the node.
	if stopTimeout < drain+handOff+closeMargin {
		t.Errorf("TimeoutStopSec %s leaves no room after the drain's %s (+%s hand-off, +%s to close)", stopTimeout, drain, handOff, closeMargin)
	}
	checkHardening(t, "cairn.service", u)
	if u.get("Service", "Type") != wantServiceType(t) {
		t.Errorf("Type=%s, want %s", u.get("Service", "Type"), wantServiceType(t))
	}
	verifyUnits(t, "systemd/cairn.service")
}

func TestSystemdProxy(t *testing.T) {
	u := readUnit(t, "systemd/cairn-proxy.service")
	env := envFile(t, "systemd/cairn-proxy.env.example")
	bin, args := execArgs(u.get("Service", "ExecStart"))
	// ${VAR} comes from the environment file.
	for i, a := range args {
		args[i] = regexp.MustCompile(`\$\{([A-Z_]+)\}`).ReplaceAllStringFunc(a, func(m string) string {
			v, ok := env[m[2:len(m)-1]]
			if !ok {
				t.Errorf("cairn-proxy.service uses %s, which cairn-proxy.env.example does not set", m)
			}
			return v
		})
	}
	p := parseArgs(args)
	if bin != "/usr/local/bin/cairn" || len(p.words) != 1 || p.words[0] != "proxy" {
		t.Errorf("ExecStart %q, want cairn proxy", u.get("Service", "ExecStart"))
	}
	checkFlags(t, "cairn-proxy.service", p, "proxy")
	if p.one("listen") == "" || p.one("join") == "" {
		t.Errorf("cairn-proxy.service: want --listen and --join, got %v", p.flags)
	}
	// --join takes PostgreSQL addresses: the proxy reads membership over SQL.
	pgPort := portOf(commandFlags(t, "start").defaults["pg-addr"])
	for _, a := range strings.Split(p.one("join"), ",") {
		if portOf(a) != pgPort {
			t.Errorf("cairn-proxy.env.example: --join %s is not at the nodes' PostgreSQL port %s", a, pgPort)
		}
	}
	if env["PGPASSWORD"] == "" {
		t.Error("cairn-proxy.env.example: the proxy's --user logs in over the network, so needs PGPASSWORD")
	}
	checkHardening(t, "cairn-proxy.service", u)
	verifyUnits(t, "systemd/cairn-proxy.service")
}

const (
	handOff     = time.Second // n.HandOffLeadership(time.Second) in cmd/cairn/start.go
	closeMargin = 10 * time.Second
)

// wantServiceType is notify if Cairn tells systemd it is ready
// (sd_notify), else simple.
func wantServiceType(t *testing.T) string {
	t.Helper()
	notify := false
	err := filepath.WalkDir(filepath.Join(repoRoot, "internal"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		notify = notify || strings.Contains(string(b), "NOTIFY_SOCKET")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if notify {
		return "notify"
	}
	return "simple"
}

func checkHardening(t *testing.T, name string, u unitFile) {
	t.Helper()
	want := map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "RestrictSUIDSGID": "yes", "CapabilityBoundingSet": "", "User": "cairn",
	}
	for k, v := range want {
		if got, ok := u["Service"][k]; !ok || got[len(got)-1] != v {
			t.Errorf("%s: %s=%v, want %q", name, k, got, v)
		}
	}
	if n := u.get("Service", "LimitNOFILE"); n == "" || n == "infinity" {
		t.Errorf("%s: LimitNOFILE=%q, want a number", name, n)
	}
}

// verifyUnits runs systemd-analyze verify on a copy of the unit whose
// binary is the test's cairn (systemd checks that ExecStart is there).
// Without systemd-analyze only the checks above run, and the log says so.
func verifyUnits(t *testing.T, path string) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Logf("systemd-analyze is not installed: %s checked statically only", path)
		return
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyPath := filepath.Join(dir, filepath.Base(path))
	text := strings.ReplaceAll(string(b), "/usr/local/bin/cairn", testutil.MustBinary(t))
	if err := os.WriteFile(copyPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", "--man=no", copyPath).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify %s: %v\n%s", path, err, out)
	}
}
