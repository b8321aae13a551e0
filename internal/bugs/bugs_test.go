package bugs

import (
	"strings"
	"testing"
)

// TestParse checks both builds: with -tags cairn_bugs every known name is
// accepted and an unknown one refused; without it, every name is refused
// with a message that says how to build a binary that has them.
func TestParse(t *testing.T) {
	if b, err := Parse(nil); b != nil || err != nil {
		t.Fatalf("Parse(nil) = %v, %v; want nil, nil", b, err)
	}
	b, err := Parse([]string{"stale-read, ack-before-commit"})
	if !Built {
		if err == nil || !strings.Contains(err.Error(), "-tags cairn_bugs") {
			t.Fatalf("normal build: Parse = %v, %v; want the build-tag error", b, err)
		}
		if (*Set)(nil).AckWithoutCommit() || (&Set{StaleRead: true}).SkipReadIndex(false) {
			t.Fatal("normal build: a hook fired")
		}
		return
	}
	if err != nil || !b.StaleRead || !b.AckBeforeCommit || b.DropViewDelta {
		t.Fatalf("Parse = %+v, %v", b, err)
	}
	if got := b.String(); got != "ack-before-commit,stale-read" {
		t.Fatalf("String = %q", got)
	}
	if _, err := Parse([]string{"nonsense"}); err == nil {
		t.Fatal("an unknown bug was accepted")
	}
	acks := 0
	for range 100 {
		if b.AckWithoutCommit() {
			acks++
		}
	}
	if acks != 10 {
		t.Fatalf("ack-before-commit fired %d times in 100 appends, want 10", acks)
	}
	if !b.SkipReadIndex(false) || b.SkipReadIndex(true) {
		t.Fatal("stale-read must skip data-group barriers and keep the meta group's")
	}
}
