package disk

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io/fs"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/objstore"
	"github.com/cairndb/cairn/internal/pgerr"
)

// DialTimeout bounds reaching an S3 endpoint; ProbeTimeout the whole
// probe (connect, list, put, get, delete).
const (
	DialTimeout  = 5 * time.Second
	ProbeTimeout = 5 * time.Second
)

// Probe checks that disk d works from this node (named node, for
// messages) before CREATE DISK records it: it reaches the store, writes
// a probe object, reads it back (its checksum verified) and deletes it.
// Its errors are client-facing pgerr errors that say what to fix; none
// quotes the secret key. A file disk's directory must exist already: a
// shared directory that is missing is a mount that is missing, and
// making it would give this node a private directory.
func Probe(ctx context.Context, d *catalog.Disk, node string) error {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	switch d.Type {
	case catalog.DiskFile:
		st, err := os.Stat(d.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return pgerr.DiskDirMissing.New(d.Path, node)
		case errors.Is(err, fs.ErrPermission):
			return pgerr.DiskDirNotWritable.New(d.Path, node, "permission denied")
		case err != nil:
			return pgerr.DiskProbeFailed.New(d.Name, err)
		case !st.IsDir():
			return pgerr.DiskNotDir.New(d.Path, node)
		}
	case catalog.DiskS3:
		if err := dial(ctx, d); err != nil {
			return err
		}
	default:
		return pgerr.DiskProbeFailed.New(d.Name, "unknown type "+d.Type)
	}
	s, err := Open(ctx, d)
	if err != nil {
		return probeErr(d, node, "list", err)
	}
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	key := "_cairn_probe_" + hex.EncodeToString(nonce)
	payload := []byte("cairn disk probe from node " + node + " " + hex.EncodeToString(nonce))
	if err := s.Put(ctx, key, payload); err != nil {
		return probeErr(d, node, "write", err)
	}
	got, err := s.Get(ctx, key)
	if err == nil && !bytes.Equal(got, payload) {
		err = errors.New("the probe object read back differs from the one written")
	}
	if err != nil {
		_ = s.Delete(context.WithoutCancel(ctx), key)
		return probeErr(d, node, "read", err)
	}
	if err := s.Delete(ctx, key); err != nil {
		return probeErr(d, node, "delete", err)
	}
	return nil
}

// dial checks that the endpoint accepts connections, within DialTimeout:
// an unreachable endpoint fails here at once with the cause, instead of
// after the S3 client's retries.
func dial(ctx context.Context, d *catalog.Disk) error {
	addr := d.Endpoint
	if _, _, err := net.SplitHostPort(addr); err != nil {
		addr = net.JoinHostPort(addr, map[bool]string{true: "443", false: "80"}[d.TLS])
	}
	dctx, cancel := context.WithTimeout(ctx, DialTimeout)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	if err != nil {
		cause := "no answer within " + DialTimeout.String()
		var op *net.OpError
		switch {
		case errors.Is(err, syscall.ECONNREFUSED):
			cause = "connection refused"
		case errors.As(err, new(*net.DNSError)):
			cause = "the host name does not resolve"
		case dctx.Err() == nil && errors.As(err, &op):
			cause = op.Err.Error()
		}
		return pgerr.DiskUnreachable.New(d.Endpoint, cause)
	}
	return c.Close()
}

// probeErr turns a store error of the probe's step (list, write, read,
// delete) into what the user must fix.
func probeErr(d *catalog.Disk, node, step string, err error) error {
	if d.Type == catalog.DiskFile {
		switch {
		case errors.Is(err, fs.ErrPermission):
			return pgerr.DiskDirNotWritable.New(d.Path, node, "permission denied")
		case errors.Is(err, syscall.EROFS):
			return pgerr.DiskDirNotWritable.New(d.Path, node, "read-only file system")
		}
		return pgerr.DiskProbeFailed.New(d.Name, err)
	}
	var rh tls.RecordHeaderError
	switch code := objstore.S3Code(err); {
	case errors.Is(err, objstore.ErrNoBucket), code == "NoSuchBucket":
		return pgerr.DiskNoBucket.New(d.Bucket, d.Endpoint)
	case code == "InvalidAccessKeyId", code == "SignatureDoesNotMatch", code == "InvalidToken",
		code == "ExpiredToken", code == "InvalidSecurity",
		code == "XAdminUserNotFound": // versitygw's answer to an unknown access key
		return pgerr.DiskKeyRefused.New(d.Endpoint, d.AccessKeyID)
	case code == "AccessDenied" && step == "list":
		return pgerr.DiskNoRead.New(d.Bucket, d.Endpoint)
	case code == "AccessDenied":
		return pgerr.DiskNoWrite.New(d.Bucket, d.Endpoint, step)
	case errors.As(err, &rh), strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return pgerr.DiskTLSMismatch.New(d.Endpoint, "https", "it does not speak TLS", "false")
	case strings.Contains(err.Error(), "HTTP request to an HTTPS server"):
		return pgerr.DiskTLSMismatch.New(d.Endpoint, "http", "it speaks only https", "true")
	case errors.Is(err, context.DeadlineExceeded):
		return pgerr.DiskUnreachable.New(d.Endpoint, "no answer within "+ProbeTimeout.String())
	}
	return pgerr.DiskProbeFailed.New(d.Name, err)
}
