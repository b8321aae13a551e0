package catalog

import (
	"fmt"
	"log/slog"
)

// A Disk printed or logged by accident (fmt's %v, %+v, %#v, %s; slog)
// shows no secret: the secret key is in the catalog for the nodes to
// reach the store and never leaves it in text.

// String describes the disk without its secret.
func (d Disk) String() string {
	switch d.Type {
	case DiskFile:
		return fmt.Sprintf("disk %q (file %s)", d.Name, d.Path)
	case DiskS3:
		scheme := "http"
		if d.TLS {
			scheme = "https"
		}
		return fmt.Sprintf("disk %q (s3 %s://%s/%s, prefix %q, region %q, access key %s)", d.Name, scheme, d.Endpoint, d.Bucket, d.Prefix, d.Region, d.AccessKeyID)
	}
	return fmt.Sprintf("disk %q (type %q)", d.Name, d.Type)
}

// GoString is String, for %#v.
func (d Disk) GoString() string { return d.String() }

// LogValue logs the disk without its secret (slog's JSON handler would
// otherwise marshal every field).
func (d Disk) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", d.Name), slog.String("type", d.Type), slog.String("path", d.Path),
		slog.String("endpoint", d.Endpoint), slog.String("bucket", d.Bucket), slog.String("prefix", d.Prefix),
		slog.String("access_key_id", d.AccessKeyID), slog.Bool("tls", d.TLS))
}
