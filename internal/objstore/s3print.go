package objstore

import "log/slog"

// GoString is String, so %#v shows no credential either.
func (c S3Config) GoString() string { return c.String() }

// LogValue logs the config without its credentials (slog's JSON handler
// would otherwise marshal every field).
func (c S3Config) LogValue() slog.Value { return slog.StringValue(c.String()) }
