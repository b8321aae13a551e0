package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// exercise runs the Store contract against s; corrupt overwrites the raw
// object under key (to check that reads verify it).
func exercise(t *testing.T, s Store, corrupt func(key string, raw []byte)) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Get(ctx, "ck/v1/none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for k, v := range map[string][]byte{"ck/v1/0001": []byte("state one"), "ck/v1/0002": big, "ck/v2/0001": {}, "backup/m": []byte("manifest")} {
		if err := s.Put(ctx, k, v); err != nil {
			t.Fatalf("Put %s: %v", k, err)
		}
	}
	if err := s.Put(ctx, "ck/v1/0001", []byte("state one, again")); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "ck/v1/0001")
	if err != nil || string(got) != "state one, again" {
		t.Fatalf("Get after overwrite: %q %v", got, err)
	}
	if got, err := s.Get(ctx, "ck/v1/0002"); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("Get of 1 MiB: %d bytes, %v", len(got), err)
	}
	if got, err := s.Get(ctx, "ck/v2/0001"); err != nil || len(got) != 0 {
		t.Fatalf("Get of an empty object: %q %v", got, err)
	}
	keys, err := s.List(ctx, "ck/v1/")
	if err != nil || !slices.Equal(keys, []string{"ck/v1/0001", "ck/v1/0002"}) {
		t.Fatalf("List ck/v1/: %v %v", keys, err)
	}
	if keys, err := s.List(ctx, ""); err != nil || len(keys) != 4 {
		t.Fatalf("List all: %v %v", keys, err)
	}
	if err := s.Delete(ctx, "ck/v1/0002"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "ck/v1/0002"); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
	if _, err := s.Get(ctx, "ck/v1/0002"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	// A flipped byte, a truncated object and a foreign object are errors.
	good := frame([]byte("precious state"))
	flipped := slices.Clone(good)
	flipped[len(flipped)-1] ^= 1
	for name, raw := range map[string][]byte{"flipped": flipped, "truncated": good[:len(good)-3], "foreign": []byte("not ours")} {
		corrupt("bad/"+name, raw)
		if got, err := s.Get(ctx, "bad/"+name); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Get of a %s object: %q, %v; want ErrCorrupt", name, got, err)
		}
	}
	for _, k := range []string{"", "/abs", "a/../b", "a//b", "a/./b", "a\\b", "a\nb"} {
		if err := s.Put(ctx, k, nil); err == nil {
			t.Errorf("Put accepted the key %q", k)
		}
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	s, err := NewFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, s, func(key string, raw []byte) {
		p := filepath.Join(dir, filepath.FromSlash(key))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, raw, 0o644); err != nil {
			t.Fatal(err)
		}
	})
	if m, _ := filepath.Glob(filepath.Join(dir, "ck", "v1", ".tmp-*")); len(m) != 0 {
		t.Fatalf("temporary files left behind: %v", m)
	}
}

// versitygw starts a real S3 server (versitygw, installed by
// scripts/test-deps.sh) on a free loopback port over a temp dir, with a
// bucket; it is stopped when the test ends.
func versitygw(t *testing.T) S3Config {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		gobin := filepath.Join(os.Getenv("HOME"), "go", "bin", "versitygw")
		if out, e := exec.Command("go", "env", "GOPATH").Output(); e == nil {
			gobin = filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
		}
		if _, e := os.Stat(gobin); e != nil {
			t.Fatalf("versitygw is needed for the S3 tests: run scripts/test-deps.sh (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
		}
		bin = gobin
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := S3Config{Endpoint: addr, Bucket: "cairn-test", Region: "us-east-1", AccessKeyID: "cairnkey", SecretAccessKey: "cairn-secret-1234", Prefix: "cluster1"}
	cmd := exec.Command(bin, "--port", addr, "posix", t.TempDir())
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+cfg.AccessKeyID, "ROOT_SECRET_KEY="+cfg.SecretAccessKey)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	c, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, ""), Region: cfg.Region})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
		cancel()
		if err == nil {
			return cfg
		}
		if time.Now().After(deadline) {
			t.Fatalf("versitygw on %s did not make a bucket: %v\n%s", addr, err, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestS3(t *testing.T) {
	cfg := versitygw(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := NewS3(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, s, func(key string, raw []byte) {
		if _, err := s.c.PutObject(ctx, cfg.Bucket, s.name(key), bytes.NewReader(raw), int64(len(raw)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	if str := fmt.Sprint(cfg) + fmt.Sprintf("%+v %#v %v", cfg, cfg, &cfg); strings.Contains(str, cfg.SecretAccessKey) || strings.Contains(str, cfg.AccessKeyID) {
		t.Fatalf("S3Config prints a credential: %s", str)
	}
	bad := cfg
	bad.Bucket = "no-such-bucket"
	if _, err := NewS3(ctx, bad); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("NewS3 of a missing bucket: %v", err)
	}
	wrong := cfg
	wrong.SecretAccessKey = "wrong-secret-5678"
	if _, err := NewS3(ctx, wrong); err == nil || strings.Contains(err.Error(), wrong.SecretAccessKey) {
		t.Fatalf("NewS3 with a wrong secret: %v (must fail without echoing it)", err)
	}
}
