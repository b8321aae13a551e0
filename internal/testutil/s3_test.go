package testutil

import (
	"context"
	"github.com/cairndb/cairn/internal/objstore"
	"testing"
	"time"
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
