package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config names a bucket and how to reach it. SecretAccessKey is a
// secret: it never appears in String.
type S3Config struct {
	Endpoint        string // host:port
	Bucket          string
	Region          string
	AccessKeyID     string
	SecretAccessKey string
	Prefix          string // every key is stored under Prefix + "/"
	TLS             bool   // https to the endpoint
}

// String describes the bucket without its credentials.
func (c S3Config) String() string {
	scheme := "http"
	if c.TLS {
		scheme = "https"
	}
	return fmt.Sprintf("s3 %s://%s/%s (prefix %q)", scheme, c.Endpoint, c.Bucket, c.Prefix)
}

// S3 is a Store in an S3 bucket. S3's PUT replaces an object atomically.
type S3 struct {
	cfg S3Config
	c   *minio.Client
}

// NewS3 connects to the endpoint; the bucket must exist (checked).
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	c, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		Secure: cfg.TLS,
		Region: cfg.Region,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg, err)
	}
	// A listing, not BucketExists: a HEAD request's error has no body, so
	// a refused key and a key without access would both be a bare 403;
	// a GET's error names its S3 code (S3Code).
	lctx, cancel := context.WithCancel(ctx) // ends the listing after its first answer
	defer cancel()
	s := &S3{cfg: cfg, c: c}
	// The first answer is an object, an error, or (a closed channel) an
	// empty listing.
	if o, ok := <-c.ListObjects(lctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: s.name(""), MaxKeys: 1}); ok && o.Err != nil {
		if S3Code(o.Err) == "NoSuchBucket" {
			return nil, fmt.Errorf("%s: the bucket does not exist: %w", cfg, ErrNoBucket)
		}
		return nil, fmt.Errorf("%s: %w", cfg, o.Err)
	}
	return s, nil
}

// ErrNoBucket is NewS3's error when the bucket does not exist.
var ErrNoBucket = errors.New("objstore: no such bucket")

// S3Code is the S3 error code err carries ("AccessDenied",
// "InvalidAccessKeyId", "SignatureDoesNotMatch", …), "" when none.
func S3Code(err error) string {
	var r minio.ErrorResponse
	if errors.As(err, &r) {
		return r.Code
	}
	return ""
}

func (s *S3) name(key string) string {
	if s.cfg.Prefix == "" {
		return key
	}
	return s.cfg.Prefix + "/" + key
}

func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	b := frame(data)
	_, err := s.c.PutObject(ctx, s.cfg.Bucket, s.name(key), bytes.NewReader(b), int64(len(b)),
		minio.PutObjectOptions{ContentType: "application/octet-stream"})
	return err
}

func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	o, err := s.c.GetObject(ctx, s.cfg.Bucket, s.name(key), minio.GetObjectOptions{})
	if err != nil {
		return nil, err
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return nil, ErrNotFound
		}
		return nil, err
	}
	return unframe(key, b)
}

func (s *S3) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	strip := len(s.name(""))
	for o := range s.c.ListObjects(ctx, s.cfg.Bucket, minio.ListObjectsOptions{Prefix: s.name(prefix), Recursive: true}) {
		if o.Err != nil {
			return nil, o.Err
		}
		keys = append(keys, o.Key[strip:])
	}
	sort.Strings(keys)
	return keys, nil
}

func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return s.c.RemoveObject(ctx, s.cfg.Bucket, s.name(key), minio.RemoveObjectOptions{})
}
