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

func TestManualAfter(t *testing.T) {
	m := NewManual(time.Unix(1000, 0))
	ch := m.After(2 * time.Second)
	m.Advance(time.Second)
	select {
	case <-ch:
		t.Fatal("fired after 1 s of a 2 s wait")
	default:
	}
	m.Advance(time.Second)
	select {
	case at := <-ch:
		if !at.Equal(time.Unix(1002, 0)) {
			t.Fatalf("fired at %v", at)
		}
	default:
		t.Fatal("did not fire after 2 s")
	}
	select {
	case <-m.After(0):
	default:
		t.Fatal("a zero wait did not fire at once")
	}
}
