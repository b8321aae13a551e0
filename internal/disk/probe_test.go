package disk_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/disk"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/testutil"
)

// wantErr checks that err is a pgerr error with code whose message
// contains msg, and that it quotes no secret.
func wantErr(t *testing.T, what string, err error, code, msg string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: the probe passed, want %s %q", what, code, msg)
		return
	}
	pe := pgerr.From(err)
	if pe.Code != code || !strings.Contains(pe.Message, msg) {
		t.Errorf("%s: %s %s (hint %q), want %s containing %q", what, pe.Code, pe.Message, pe.Hint, code, msg)
	}
	for _, s := range secrets {
		if strings.Contains(pe.Message+pe.Detail+pe.Hint, s) {
			t.Errorf("%s: the error quotes the secret: %s / %s", what, pe.Message, pe.Hint)
		}
	}
}

// leftovers lists what a probe left in dir (nothing, when it cleaned up).
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestProbeFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d := &catalog.Disk{Name: "shared", Type: catalog.DiskFile, Path: dir}
	if err := disk.Probe(ctx, d, "n1"); err != nil {
		t.Fatalf("probe of a writable directory: %v", err)
	}
	if l := leftovers(t, dir); len(l) != 0 {
		t.Errorf("the probe left %v behind", l)
	}
	missing := filepath.Join(dir, "not-mounted")
	wantErr(t, "missing directory", disk.Probe(ctx, &catalog.Disk{Name: "m", Type: catalog.DiskFile, Path: missing}, "n1"), pgerr.UndefinedFile, "does not exist on node n1")
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("the probe made the missing directory %s", missing)
	}
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "a file", disk.Probe(ctx, &catalog.Disk{Name: "f", Type: catalog.DiskFile, Path: file}, "n1"), pgerr.IOError, "is not a directory")

	// A directory this process cannot write: a read-only one, or, as
	// root (who writes anywhere mode bits allow nothing), /sys, where
	// nobody may create files.
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		ro = "/sys"
	}
	wantErr(t, "read-only directory", disk.Probe(ctx, &catalog.Disk{Name: "r", Type: catalog.DiskFile, Path: ro}, "n1"), pgerr.InsufficientPrivilege, "cannot write to directory")
}

func TestProbeS3(t *testing.T) {
	s3 := testutil.StartS3(t)
	ctx := context.Background()
	good := catalog.Disk{Name: "d", Type: catalog.DiskS3, Endpoint: s3.Endpoint, Bucket: s3.Bucket, Region: s3.Region,
		AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey, Prefix: "cluster1"}
	if err := disk.Probe(ctx, &good, "n1"); err != nil {
		t.Fatalf("probe of a working bucket: %v", err)
	}
	noRegion := good
	noRegion.Region = ""
	if err := disk.Probe(ctx, &noRegion, "n1"); err != nil {
		t.Fatalf("probe without a region: %v", err)
	}
	if l := leftovers(t, filepath.Join(s3.Dir, s3.Bucket)); len(l) != 0 {
		t.Errorf("the probe left %v behind", l)
	}

	wrongSecret := good
	wrongSecret.SecretAccessKey = "wrong-secret-5678"
	wantErr(t, "wrong secret", disk.Probe(ctx, &wrongSecret, "n1"), pgerr.InvalidAuthorization, "the access key was refused", wrongSecret.SecretAccessKey, s3.SecretKey)
	unknownKey := good
	unknownKey.AccessKeyID = "nobody"
	wantErr(t, "unknown key", disk.Probe(ctx, &unknownKey, "n1"), pgerr.InvalidAuthorization, "the access key was refused", s3.SecretKey)

	noBucket := good
	noBucket.Bucket = "no-such-bucket"
	wantErr(t, "missing bucket", disk.Probe(ctx, &noBucket, "n1"), pgerr.UndefinedObject, `bucket "no-such-bucket" does not exist`, s3.SecretKey)

	tlsOn := good
	tlsOn.TLS = true
	wantErr(t, "https to an http server", disk.Probe(ctx, &tlsOn, "n1"), pgerr.IOError, "over https", s3.SecretKey)

	// Nothing listens: refused at once.
	free, err := testutil.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	closed := good
	closed.Endpoint = free
	start := time.Now()
	wantErr(t, "closed port", disk.Probe(ctx, &closed, "n1"), pgerr.IOError, "connection refused")
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("a refused connection took %s to report", el)
	}

	// A server that accepts connections and never answers: bounded.
	if err := s3.Pause(); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	err = disk.Probe(ctx, &good, "n1")
	el := time.Since(start)
	if err := s3.Resume(); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "paused server", err, pgerr.IOError, "no answer within", s3.SecretKey)
	if el > disk.ProbeTimeout+2*time.Second {
		t.Errorf("a server that does not answer took %s to report", el)
	}
}

// TestProbeS3ReadOnlyKey: a key that may read the bucket but not write
// it (a versitygw IAM user given s3:GetObject and s3:ListBucket by a
// bucket policy) is refused with 42501 "cannot write to bucket".
func TestProbeS3ReadOnlyKey(t *testing.T) {
	bin, err := testutil.VersitygwBinary()
	if err != nil {
		t.Fatal(err)
	}
	addr, err := testutil.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	adminAddr, err := testutil.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	const rootKey, rootSecret, bucket = "rootkey", "root-secret-1234", "ro-bucket"
	const readerKey, readerSecret = "reader", "reader-secret-5678"
	cmd := exec.Command(bin, "--port", addr, "--admin-port", adminAddr, "--iam-dir", t.TempDir(), "posix", t.TempDir())
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+rootKey, "ROOT_SECRET_KEY="+rootSecret)
	var log testutil.SyncBuffer // written by the process's copier goroutine
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	root, err := minio.New(addr, &minio.Options{Creds: credentials.NewStaticV4(rootKey, rootSecret, ""), Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitUntil(t, 20*time.Second, func() (bool, string) {
		err := root.MakeBucket(ctx, bucket, minio.MakeBucketOptions{Region: "us-east-1"})
		return err == nil, fmt.Sprintf("make bucket: %v\n%s", err, log.String())
	})
	out, err := exec.CommandContext(ctx, bin, "admin", "--access", rootKey, "--secret", rootSecret, "--endpoint-url", "http://"+adminAddr,
		"create-user", "--access", readerKey, "--secret", readerSecret, "--role", "user").CombinedOutput()
	if err != nil {
		t.Fatalf("versitygw admin create-user: %v\n%s", err, out)
	}
	policy := fmt.Sprintf(`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": [%q]},
		"Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ["arn:aws:s3:::%s", "arn:aws:s3:::%s/*"]}]}`, readerKey, bucket, bucket)
	if err := root.SetBucketPolicy(ctx, bucket, policy); err != nil {
		t.Fatalf("bucket policy: %v", err)
	}
	d := &catalog.Disk{Name: "ro", Type: catalog.DiskS3, Endpoint: addr, Bucket: bucket, Region: "us-east-1", AccessKeyID: readerKey, SecretAccessKey: readerSecret}
	wantErr(t, "read-only key", disk.Probe(ctx, d, "n1"), pgerr.InsufficientPrivilege, `cannot write to bucket "ro-bucket"`, readerSecret)

	// The same user without the policy may not even list the bucket.
	if err := root.SetBucketPolicy(ctx, bucket, ""); err != nil {
		t.Fatalf("removing the bucket policy: %v", err)
	}
	wantErr(t, "key without access", disk.Probe(ctx, d, "n1"), pgerr.InsufficientPrivilege, `cannot read bucket "ro-bucket"`, readerSecret)

	// The root key of the same server passes: the refusals above were
	// the reader's rights, not the server.
	d.AccessKeyID, d.SecretAccessKey = rootKey, rootSecret
	if err := disk.Probe(ctx, d, "n1"); err != nil {
		t.Fatalf("probe with the root key: %v", err)
	}
}
