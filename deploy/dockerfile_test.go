package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// dockerInstr is one Dockerfile instruction, continuation lines joined.
type dockerInstr struct {
	op, args string
	line     int
}

type dockerStage struct {
	from, name string
	instrs     []dockerInstr
}

func parseDockerfile(t *testing.T, path string) []dockerStage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages []dockerStage
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		op, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		in := dockerInstr{op: strings.ToUpper(op), args: strings.TrimSpace(args), line: start}
		switch {
		case in.op == "FROM":
			f := strings.Fields(in.args)
			st := dockerStage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
		case len(stages) == 0:
			if in.op != "ARG" {
				t.Errorf("Dockerfile:%d: %s before the first FROM", in.line, in.op)
			}
		default:
			stages[len(stages)-1].instrs = append(stages[len(stages)-1].instrs, in)
		}
	}
	return stages
}

func (s dockerStage) all(op string) []dockerInstr {
	var out []dockerInstr
	for _, in := range s.instrs {
		if in.op == op {
			out = append(out, in)
		}
	}
	return out
}

// envOf parses ENV k=v [k=v...] instructions of a stage.
func (s dockerStage) env() map[string]string {
	m := map[string]string{}
	for _, in := range s.all("ENV") {
		for _, kv := range strings.Fields(in.args) {
			if k, v, ok := strings.Cut(kv, "="); ok {
				m[k] = v
			}
		}
	}
	return m
}

func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a runtime stage", len(stages))
	}
	build, run := stages[0], stages[len(stages)-1]
	if !strings.HasPrefix(build.from, "golang:") {
		t.Errorf("build stage FROM %s, want golang:<version>", build.from)
	}
	checkGoVersion(t)
	if !strings.HasPrefix(run.from, "gcr.io/distroless/static") && run.from != "scratch" {
		t.Errorf("runtime stage FROM %s, want distroless/static or scratch", run.from)
	}

	// The build: a static, trimmed binary of ./cmd/cairn.
	var goBuild string
	for _, in := range build.all("RUN") {
		if strings.Contains(in.args, "go build") {
			goBuild = in.args
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/cairn", "-X main.version="} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("the build stage's go build %q lacks %s", goBuild, want)
		}
	}
	out := regexp.MustCompile(`-o (\S+)`).FindStringSubmatch(goBuild)
	if out == nil {
		t.Fatalf("go build %q names no output (-o)", goBuild)
	}

	// The runtime stage copies that binary, runs it as a numeric non-root
	// user, and keeps the data dir in a volume.
	var binPath string
	for _, in := range run.all("COPY") {
		f := strings.Fields(in.args)
		if len(f) >= 3 && slices.Contains(f, "--from="+build.name) && f[len(f)-2] == out[1] {
			binPath = f[len(f)-1]
		}
	}
	if binPath == "" {
		t.Errorf("the runtime stage does not COPY %s from stage %s", out[1], build.name)
	}
	users := run.all("USER")
	if len(users) == 0 {
		t.Fatal("the runtime stage has no USER: it would run as root")
	}
	uid, gid, _ := strings.Cut(users[len(users)-1].args, ":")
	for _, id := range []string{uid, gid} {
		if n, err := strconv.Atoi(id); id != "" && (err != nil || n == 0) {
			t.Errorf("USER %s: want numeric, non-zero ids (Kubernetes runAsNonRoot checks a number)", users[len(users)-1].args)
		}
	}
	if uid != strconv.Itoa(runtimeUID) {
		t.Errorf("USER %s: the manifests run as %d", uid, runtimeUID)
	}
	env := run.env()
	dataDir := env["CAIRN_DATA_DIR"]
	if dataDir == "" {
		t.Error("the runtime stage sets no CAIRN_DATA_DIR")
	}
	vols := run.all("VOLUME")
	if len(vols) != 1 || !strings.Contains(vols[0].args, `"`+dataDir+`"`) {
		t.Errorf("VOLUME %v, want the data dir %s", vols, dataDir)
	}
	// Every ENV CAIRN_X is a flag of cairn start.
	start := commandFlags(t, "start")
	if start.err != nil {
		t.Fatal(start.err)
	}
	for k := range env {
		if flag := envFlag(k); flag != "" && !start.flags[flag] {
			t.Errorf("ENV %s: cairn start has no --%s", k, flag)
		}
	}
	// EXPOSE: the ports of cairn start's three addresses, which the ENV
	// keeps and opens to every interface.
	var exposed []string
	for _, in := range run.all("EXPOSE") {
		exposed = append(exposed, strings.Fields(in.args)...)
	}
	var want []string
	for _, f := range []string{"pg-addr", "http-addr", "cluster-addr"} {
		port := portOf(start.defaults[f])
		if port == "" {
			t.Fatalf("cairn start --help shows no default for --%s", f)
		}
		want = append(want, port)
		if v := env[flagEnv(f)]; v != "0.0.0.0:"+port {
			t.Errorf("ENV %s=%q, want 0.0.0.0:%s (the default port, every interface)", flagEnv(f), v, port)
		}
	}
	slices.Sort(exposed)
	slices.Sort(want)
	if !slices.Equal(exposed, want) {
		t.Errorf("EXPOSE %v, want cairn start's ports %v", exposed, want)
	}
	if ep := run.all("ENTRYPOINT"); len(ep) != 1 || ep[0].args != `["`+binPath+`"]` {
		t.Errorf("ENTRYPOINT %v, want [%q]", ep, binPath)
	}
	if hc := run.all("HEALTHCHECK"); len(hc) != 0 && run.from != "scratch" && strings.Contains(hc[0].args, "curl") {
		t.Errorf("HEALTHCHECK %s: the runtime image has no curl", hc[0].args)
	}
}

// runtimeUID is the user the image and every manifest run as
// (distroless's nonroot).
const runtimeUID = 65532

// envFlag is the flag an environment variable CAIRN_X sets ("" for
// other variables).
func envFlag(env string) string {
	rest, ok := strings.CutPrefix(env, "CAIRN_")
	if !ok {
		return ""
	}
	return strings.ToLower(strings.ReplaceAll(rest, "_", "-"))
}

// flagEnv is the environment variable of a flag.
func flagEnv(flag string) string {
	return "CAIRN_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// TestDockerignore checks that the build context keeps every file the
// build needs: go.mod, go.sum and the non-test Go files of every package
// (embedded files sit beside them).
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	if !slices.Contains(patterns, ".git") {
		t.Error(".dockerignore does not leave out .git")
	}
	needed := []string{"go.mod", "go.sum"}
	for _, dir := range []string{"cmd", "internal"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
				rel, _ := filepath.Rel(repoRoot, p)
				needed = append(needed, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(needed) < 50 {
		t.Fatalf("found only %d files the build needs; is repoRoot right?", len(needed))
	}
	for _, p := range needed {
		for _, pat := range patterns {
			if ignoredBy(pat, p) {
				t.Errorf(".dockerignore pattern %q leaves out %s, which the build needs", pat, p)
			}
		}
	}
	// And it does leave out what it says it does.
	for _, p := range []string{".git/config", "internal/e2e/testdata/sql/basic", "internal/node/node_test.go", "docs/deploy.md"} {
		hit := false
		for _, pat := range patterns {
			hit = hit || ignoredBy(pat, p)
		}
		if !hit {
			t.Errorf(".dockerignore keeps %s in the build context", p)
		}
	}
}

// ignoredBy reports whether a .dockerignore pattern (without "!": this
// file uses none) leaves out path p: the pattern matches p or one of its
// parent directories, "**/" matching any number of directories.
func ignoredBy(pattern, p string) bool {
	parts := strings.Split(p, "/")
	for n := 1; n <= len(parts); n++ {
		prefix := parts[:n]
		if rest, ok := strings.CutPrefix(pattern, "**/"); ok {
			for i := range prefix {
				if m, _ := filepath.Match(rest, strings.Join(prefix[i:], "/")); m {
					return true
				}
			}
			continue
		}
		if m, _ := filepath.Match(pattern, strings.Join(prefix, "/")); m {
			return true
		}
	}
	return false
}

// checkGoVersion checks that the builder image's Go (ARG GO_VERSION, a
// major.minor tag: its newest patch) is the release go.mod asks for, so
// the build neither fails nor downloads another toolchain.
func checkGoVersion(t *testing.T) {
	t.Helper()
	df, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	arg := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindSubmatch(df)
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)(\.\d+)?$`).FindSubmatch(mod)
	if arg == nil || goLine == nil {
		t.Fatalf("no ARG GO_VERSION in the Dockerfile (%q) or go line in go.mod (%q)", arg, goLine)
	}
	if string(arg[1]) != string(goLine[1]) {
		t.Errorf("the Dockerfile builds with Go %s, go.mod asks for %s%s", arg[1], goLine[1], goLine[2])
	}
}
