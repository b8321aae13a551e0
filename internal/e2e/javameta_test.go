package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// compileJavaMeta compiles testdata/java/<name>.java against pgjdbc
// into a temp dir and returns a function running its main class with
// args (failing the test on an error exit).
func compileJavaMeta(t *testing.T, name string) func(args ...string) string {
	t.Helper()
	const jar = "/usr/share/java/postgresql.jar"
	if _, err := os.Stat(jar); err != nil {
		t.Fatalf("pgjdbc is needed for this test (scripts/test-deps.sh installs libpostgresql-jdbc-java): %v", err)
	}
	javac, err := exec.LookPath("javac")
	if err != nil {
		t.Fatalf("javac is needed for this test (scripts/test-deps.sh installs default-jdk-headless): %v", err)
	}
	dir := t.TempDir()
	src, err := filepath.Abs(filepath.Join("testdata", "java", name+".java"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, javac, "-cp", jar, "-d", dir, src).CombinedOutput(); err != nil {
		t.Fatalf("javac %s: %v\n%s", name, err, out)
	}
	return func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "java", append([]string{"-cp", jar + ":" + dir, name}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("java %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
}
