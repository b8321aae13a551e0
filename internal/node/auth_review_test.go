package node

import (
	"io"
	"log/slog"
	"testing"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
)

// TestRateLimitedLoginsNotAudited: connections the failed-login limit
// refuses are counted, not audited: a client can open any number of
// them, and each would push a real event out of the bounded audit log.
func TestRateLimitedLoginsNotAudited(t *testing.T) {
	a := newNodeAuth(func() *catalog.Catalog { return catalog.New() }, "c1", false, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var audited []string
	a.audit = func(user, source, method, reason string) { audited = append(audited, user+" "+reason) }
	a.LoginFailed("alice", "10.0.0.5", "scram-sha-256", "wrong_password")
	for range 1000 {
		a.LoginFailed("alice", "10.0.0.5", "", pgwire.ReasonRateLimited)
	}
	if len(audited) != 1 || audited[0] != "alice wrong_password" {
		t.Errorf("audited %d events (%v), want the one failed login", len(audited), audited[:min(len(audited), 3)])
	}
}
