// Package objstore keeps blobs (checkpoints, backups) on a disk: a shared
// directory (file) or an S3 bucket (s3, through minio-go). Every object
// Cairn writes carries a SHA-256 of its payload, checked on every read, so
// a torn, truncated or altered object is an error, never data.
package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Store is one disk.
type Store interface {
	// Put writes data under key, replacing any object there, atomically:
	// a reader sees the old object or the new one, never part of one.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the payload under key, after checking its checksum; a
	// missing key is ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns the keys that start with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// ErrNotFound is Get's error for a key with no object.
var ErrNotFound = errors.New("objstore: no such object")

// ErrCorrupt is Get's error for an object whose checksum does not match
// its payload, or that is not in Cairn's framing at all.
var ErrCorrupt = errors.New("objstore: object is corrupt")

// The framing of every object: magic, the payload's SHA-256, the payload.
var magic = []byte("CAIRNOBJ1\n")

const headerLen = 10 + sha256.Size

func frame(data []byte) []byte {
	sum := sha256.Sum256(data)
	out := make([]byte, 0, headerLen+len(data))
	out = append(out, magic...)
	out = append(out, sum[:]...)
	return append(out, data...)
}

func unframe(key string, obj []byte) ([]byte, error) {
	if len(obj) < headerLen || !bytes.Equal(obj[:len(magic)], magic) {
		return nil, fmt.Errorf("%w: %s has no Cairn header", ErrCorrupt, key)
	}
	payload := obj[headerLen:]
	sum := sha256.Sum256(payload)
	if !bytes.Equal(sum[:], obj[len(magic):headerLen]) {
		return nil, fmt.Errorf("%w: %s: checksum mismatch", ErrCorrupt, key)
	}
	return payload, nil
}

// checkKey refuses keys that could escape a directory or that S3 and a
// file system would treat differently.
func checkKey(key string) error {
	if key == "" || key[0] == '/' || len(key) > 1000 {
		return fmt.Errorf("objstore: invalid key %q", key)
	}
	for _, part := range bytes.Split([]byte(key), []byte("/")) {
		if len(part) == 0 || string(part) == "." || string(part) == ".." {
			return fmt.Errorf("objstore: invalid key %q", key)
		}
	}
	for _, c := range []byte(key) {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return fmt.Errorf("objstore: invalid key %q", key)
		}
	}
	return nil
}
