package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/testutil"
)

func TestDemoUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--nodes", "0"},
		{"--nodes", "10"},
		{"--rate", "-1"},
		{"--http-port", "80"},
		{"--pg-port", "65535", "--nodes", "3"},
	} {
		cmd := demoCmd()
		cmd.SetArgs(args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		var ee *exitErr
		if !errors.As(err, &ee) || ee.Code != exitUsage {
			t.Errorf("demo %v: %v, want a usage error", args, err)
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestDemoOneNode runs the demo with one node: it prints the console's
// URL, which serves the console, the load reaches the view, and when its
// context ends (Ctrl-C) the node is stopped and the temp dir removed.
func TestDemoOneNode(t *testing.T) {
	bin := testutil.MustBinary(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, demoConfig{Nodes: 1, Rate: 50, Bin: bin}, &out, &errOut)
	}()
	field := func(name string) string {
		for _, l := range strings.Split(out.String(), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), name+":"); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	testutil.WaitUntil(t, 60*time.Second, func() (bool, string) {
		select {
		case err := <-done:
			t.Fatalf("the demo ended: %v\n%s", err, errOut.String())
		default:
		}
		return field("console") != "", "no console line yet; stderr: " + errOut.String()
	})
	resp, err := http.Get(field("console"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Cairn console") {
		t.Fatalf("console: %d %.200s", resp.StatusCode, body)
	}
	psql := field("psql")
	url := strings.TrimSuffix(strings.TrimPrefix(psql, "psql '"), "'")
	testutil.WaitUntil(t, 20*time.Second, func() (bool, string) {
		rows, err := testutil.Query(ctx, url, 2*time.Second, "SELECT sum(clicks) FROM demo_pages")
		return err == nil && len(rows) == 1 && rows[0][0] != "" && rows[0][0] != "0", "demo_pages: " + strings.Join(flat(rows), ",") + errString(err)
	})
	dir := field("data")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("data dir %q: %v", dir, err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the demo ended with %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not stop within 30 s of its context ending")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the demo left %s behind (%v)", dir, err)
	}
	if _, err := testutil.Query(context.Background(), url, time.Second, "SELECT 1"); err == nil {
		t.Error("the demo's node still answers after the demo ended")
	}
}

func flat(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, strings.Join(r, "|"))
	}
	return out
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}
