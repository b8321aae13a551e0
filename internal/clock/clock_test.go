package clock

import (
	"testing"
	"time"
)

func TestManual(t *testing.T) {
	t0 := time.Unix(1000, 0)
	m := NewManual(t0)
	if !m.Now().Equal(t0) {
		t.Fatalf("Now = %v, want %v", m.Now(), t0)
	}
	m.Advance(3 * time.Second)
	if got := Since(m, t0); got != 3*time.Second {
		t.Fatalf("Since = %v, want 3s", got)
	}
}

func TestReal(t *testing.T) {
	before := time.Now()
	if (Real{}).Now().Before(before) {
		t.Fatal("the real clock went backwards")
	}
}
