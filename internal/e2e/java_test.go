package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// pgjdbcJar is Debian's libpostgresql-jdbc-java (scripts/test-deps.sh
// installs it with a JDK).
const pgjdbcJar = "/usr/share/java/postgresql.jar"

// runJava compiles the Java source file src (its public class named as
// the file) against pgjdbc in a temp dir, runs its main with args, and
// returns what it printed. A compile error, a non-zero exit or a missing
// JDK fails the test with the program's output.
func runJava(t *testing.T, ctx context.Context, src string, args ...string) string {
	t.Helper()
	for _, tool := range []string{"javac", "java"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (scripts/test-deps.sh installs default-jdk-headless): %v", tool, err)
		}
	}
	if _, err := os.Stat(pgjdbcJar); err != nil {
		t.Fatalf("pgjdbc is needed (scripts/test-deps.sh installs libpostgresql-jdbc-java): %v", err)
	}
	dir := t.TempDir()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, "javac", "-cp", pgjdbcJar, "-d", dir, file).CombinedOutput(); err != nil {
		t.Fatalf("javac %s: %v\n%s", src, err, out)
	}
	class := strings.TrimSuffix(filepath.Base(src), ".java")
	cmd := exec.CommandContext(ctx, "java", append([]string{"-Duser.timezone=UTC", "-cp", pgjdbcJar + string(os.PathListSeparator) + dir, class}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("java %s: %v\nstdout:\n%s\nstderr:\n%s", class, err, out, stderr.String())
	}
	return string(out)
}
