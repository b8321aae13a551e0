package main

import (
	"bytes"
	"errors"
	"testing"
)

// TestBenchTradeoffUsageErrors: the trade-off flags are refused before
// any node starts when they make no sense together.
func TestBenchTradeoffUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--ha", "raft"}, // without --failover
		{"--failover", "--ha", "paxos"},
		{"--failover", "--ha", ","},
		{"--failover", "--ha", "scheduled", "--kills", "0"},
		{"--failover", "--ha", "scheduled", "--dead-after", "10ms"},
		{"--failover", "--ha", "raft", "--nodes", "5"},
		{"--failover", "--ha", "raft", "--url", "postgres://127.0.0.1:1/x"},
		{"--dead-after", "3s"}, // without --failover --ha
		{"--failover", "--steady", "3s"},
		{"--max-memory", "12 parsecs"},
		{"--max-memory", "1GiB", "--url", "postgres://127.0.0.1:1/x"},
		{"--view-cache", "lots"},
		{"--rate", "-5"},
	} {
		cmd := benchCmd()
		cmd.SetArgs(args)
		cmd.SetOut(&bytes.Buffer{})
		cmd.SetErr(&bytes.Buffer{})
		err := cmd.Execute()
		var ee *exitErr
		if !errors.As(err, &ee) || ee.Code != exitUsage {
			t.Errorf("bench %v: %v, want a usage error", args, err)
		}
	}
}
