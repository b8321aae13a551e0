package rpc

import (
	"testing"
	"time"
)

// CloseAndWait waits for admitted handlers and refuses new ones.
func TestGate(t *testing.T) {
	var g Gate
	if !g.Enter() {
		t.Fatal("an open gate refused a handler")
	}
	done := make(chan struct{})
	go func() {
		g.CloseAndWait(5 * time.Second)
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("CloseAndWait returned while a handler ran")
	case <-time.After(50 * time.Millisecond):
	}
	g.Leave()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("CloseAndWait did not return after the last handler left")
	}
	if g.Enter() {
		t.Fatal("a closed gate admitted a handler")
	}
}
