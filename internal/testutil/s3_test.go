package testutil

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/objstore"
)

func TestS3ServerRestart(t *testing.T) {
	s := StartS3(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := objstore.NewS3(ctx, objstore.S3Config{Endpoint: s.Endpoint, Bucket: s.Bucket, Region: s.Region, AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, "a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	c2, c2c := context.WithTimeout(ctx, 2*time.Second)
	defer c2c()
	if _, err := st.Get(c2, "a"); err == nil {
		t.Fatal("read from a stopped server")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	var got []byte
	for i := 0; i < 100; i++ {
		if got, err = st.Get(ctx, "a"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if string(got) != "x" {
		t.Fatalf("after restart: %q %v", got, err)
	}
}

// TestS3ReadOnlyUser: a user made by ReadOnlyUser lists and reads the
// bucket and is refused every write; root still writes.
func TestS3ReadOnlyUser(t *testing.T) {
	s := StartS3(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := objstore.S3Config{Endpoint: s.Endpoint, Bucket: s.Bucket, Region: s.Region, AccessKeyID: s.AccessKey, SecretAccessKey: s.SecretKey}
	root, err := objstore.NewS3(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Put(ctx, "a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.ReadOnlyUser(ctx, "reader", "reader-secret-1234"); err != nil {
		t.Fatal(err)
	}
	cfg.AccessKeyID, cfg.SecretAccessKey = "reader", "reader-secret-1234"
	ro, err := objstore.NewS3(ctx, cfg)
	if err != nil {
		t.Fatalf("the read-only user cannot open the bucket: %v", err)
	}
	if got, err := ro.Get(ctx, "a"); err != nil || string(got) != "x" {
		t.Fatalf("read-only user's Get: %q %v", got, err)
	}
	if keys, err := ro.List(ctx, ""); err != nil || len(keys) != 1 {
		t.Fatalf("read-only user's List: %q %v", keys, err)
	}
	err = ro.Put(ctx, "b", []byte("y"))
	if err == nil || errors.Is(err, objstore.ErrNotFound) {
		t.Fatalf("read-only user's Put: %v, want access denied", err)
	}
	t.Logf("a write by the read-only user: %v", err)
	if err := ro.Delete(ctx, "a"); err == nil {
		t.Fatal("the read-only user deleted an object")
	}
	if err := root.Put(ctx, "b", []byte("y")); err != nil {
		t.Fatalf("root after the policy: %v", err)
	}
}
