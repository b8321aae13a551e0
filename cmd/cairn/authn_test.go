package main

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartAuthFailureLimitFlag: the failed-login limit must allow at
// least one attempt (e2e TestAuthFailureLimitFlag shows it at work).
func TestStartAuthFailureLimitFlag(t *testing.T) {
	for _, v := range []string{"0", "-3"} {
		cmd := startCmd()
		cmd.SetArgs([]string{"--auth-failure-limit", v, "--data-dir", filepath.Join(t.TempDir(), "d")})
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		var ee *exitErr
		if !errors.As(err, &ee) || ee.Code != exitUsage || !strings.Contains(err.Error(), "--auth-failure-limit must be at least 1") {
			t.Errorf("--auth-failure-limit %s: %v, want a usage error", v, err)
		}
	}
}
