package testutil

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Server is a real S3-compatible server (versitygw serving a posix
// directory) on a loopback port, for tests, chaos and the demo. It can be
// stopped, started again on the same port and directory, and paused.
type S3Server struct {
	Endpoint  string // host:port
	Bucket    string
	Region    string
	AccessKey string
	SecretKey string
	Dir       string // the directory it serves
	// IAMDir holds versitygw's users (its internal IAM: the root user
	// above, plus those ReadOnlyUser makes), beside Dir.
	IAMDir string

	mu  sync.Mutex
	cmd *exec.Cmd
	log SyncBuffer
}

// VersitygwBinary finds versitygw on the PATH or in GOPATH/bin
// (scripts/test-deps.sh installs it).
func VersitygwBinary() (string, error) {
	if bin, err := exec.LookPath("versitygw"); err == nil {
		return bin, nil
	}
	gobin := filepath.Join(os.Getenv("HOME"), "go", "bin", "versitygw")
	if out, e := exec.Command("go", "env", "GOPATH").Output(); e == nil {
		gobin = filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
	}
	if _, err := os.Stat(gobin); err != nil {
		return "", errors.New("versitygw is needed: run scripts/test-deps.sh (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)")
	}
	return gobin, nil
}

// StartS3Server starts versitygw over dir on a free loopback port and
// makes the bucket.
func StartS3Server(ctx context.Context, dir string) (*S3Server, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	// Absolute: versitygw's posix backend changes into the directory it
	// serves, so a relative --iam-dir would no longer be found.
	if dir, err = filepath.Abs(dir); err != nil {
		return nil, err
	}
	s := &S3Server{Endpoint: addr, Bucket: "cairn-test", Region: "us-east-1", AccessKey: "cairnkey", SecretKey: "cairn-secret-1234", Dir: dir,
		IAMDir: filepath.Clean(dir) + ".iam"}
	if err := os.MkdirAll(s.IAMDir, 0o755); err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	c, err := s.Client()
	if err != nil {
		s.Stop()
		return nil, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = c.MakeBucket(cctx, s.Bucket, minio.MakeBucketOptions{Region: s.Region})
		cancel()
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.Stop()
			return nil, fmt.Errorf("versitygw on %s did not make a bucket: %v\n%s", addr, err, s.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StartS3 starts a server for the test and stops it at cleanup.
func StartS3(t TB) *S3Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := StartS3Server(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Client returns a minio client for the server (root credentials).
func (s *S3Server) Client() (*minio.Client, error) {
	return minio.New(s.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""), Region: s.Region})
}

// CreateDiskSQL is the CREATE DISK statement for this server.
func (s *S3Server) CreateDiskSQL(name, prefix string) string {
	return fmt.Sprintf("CREATE DISK %s (type = 's3', endpoint = '%s', bucket = '%s', region = '%s', access_key_id = '%s', secret_access_key = '%s', prefix = '%s')",
		name, s.Endpoint, s.Bucket, s.Region, s.AccessKey, s.SecretKey, prefix)
}

// Start starts the server (again) on its port and directory.
func (s *S3Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return errors.New("versitygw is already running")
	}
	bin, err := VersitygwBinary()
	if err != nil {
		return err
	}
	args := []string{"--port", s.Endpoint}
	if s.IAMDir != "" {
		args = append(args, "--iam-dir", s.IAMDir)
	}
	cmd := exec.Command(bin, append(args, "posix", s.Dir)...)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	cmd.Stdout, cmd.Stderr = &s.log, &s.log
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	return nil
}

// Stop kills the server (its PID only) and waits for it.
func (s *S3Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGCONT)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// Pause stops the server with SIGSTOP; Resume continues it.
func (s *S3Server) Pause() error  { return s.signal(syscall.SIGSTOP) }
func (s *S3Server) Resume() error { return s.signal(syscall.SIGCONT) }

func (s *S3Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("versitygw is not running")
	}
	return s.cmd.Process.Signal(sig)
}

// Log returns what the server printed.
func (s *S3Server) Log() string { return s.log.String() }

// ReadOnlyUser makes a user of the server (its IAM) that may list and
// read the bucket but not write or delete in it (a bucket policy), and
// returns its access key and secret: a disk with these credentials is
// one without write permission.
func (s *S3Server) ReadOnlyUser(ctx context.Context, access, secret string) error {
	if s.IAMDir == "" {
		return errors.New("versitygw runs without IAM: no users but root")
	}
	bin, err := VersitygwBinary()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, "admin", "--endpoint-url", "http://"+s.Endpoint,
		"create-user", "--access", access, "--secret", secret, "--role", "user")
	cmd.Env = append(os.Environ(), "ADMIN_ACCESS_KEY="+s.AccessKey, "ADMIN_SECRET_KEY="+s.SecretKey, "ADMIN_REGION="+s.Region)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("versitygw admin create-user %s: %v\n%s", access, err, out)
	}
	c, err := s.Client()
	if err != nil {
		return err
	}
	policy := fmt.Sprintf(`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": [%q]},
		"Action": ["s3:ListBucket", "s3:GetObject", "s3:GetBucketLocation"],
		"Resource": ["arn:aws:s3:::%s", "arn:aws:s3:::%s/*"]}]}`, access, s.Bucket, s.Bucket)
	return c.SetBucketPolicy(ctx, s.Bucket, policy)
}
