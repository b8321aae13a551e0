// Package testutil holds what every test, campaign and benchmark of Cairn
// shares: one harness of real `cairn start` processes (Node and Cluster:
// build or locate the binary once, free ports on 127.0.0.1, temp data
// dirs, join, data or compute nodes, wait until ready, kill -9, SIGSTOP
// and SIGCONT, SIGTERM and restart by PID, SQL and HTTP helpers, logs in
// memory or in files), a real S3 server to stop, restart and pause
// (S3Server: versitygw, with a read-only user for bad-permission cases) and
// one exactly-once checker (Judge: lost, duplicated and never-sent event
// ids, and views against the stream they are computed from). It is a
// normal package, used by the binary's `cairn chaos` and `cairn bench`
// as well as by tests, so it does not import testing: test helpers take
// the small TB interface, which *testing.T satisfies.
package testutil
