package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cairndb/cairn/internal/catalog"
)

// TestAuditor: events are proposed in batches, in order; close flushes
// what is queued; a full queue, a failed proposal and events after close
// are dropped and counted, and add never blocks.
func TestAuditor(t *testing.T) {
	var mu sync.Mutex
	var got []string
	batches := 0
	release := make(chan struct{})
	fail := false
	propose := func(_ context.Context, c catalog.Command) error {
		<-release
		mu.Lock()
		defer mu.Unlock()
		batches++
		if fail {
			return errors.New("no meta leader")
		}
		for _, ev := range c.(*catalog.AppendAudit).Events {
			got = append(got, ev.What)
		}
		return nil
	}
	a := newAuditor(propose, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	// The first batch blocks in propose; the queue fills behind it.
	start := time.Now()
	for i := range auditQueue + auditBatch + 10 {
		a.add(catalog.AuditEvent{What: string(rune('a' + i%26))})
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("add blocked for %s", d)
	}
	if n := droppedCount(a.dropped); n < 10 {
		t.Fatalf("dropped = %v, want at least 10 (the queue was full)", n)
	}
	close(release)
	a.close()
	mu.Lock()
	kept := len(got)
	mu.Unlock()
	if dropped := int(droppedCount(a.dropped)); kept+dropped != auditQueue+auditBatch+10 {
		t.Fatalf("proposed %d + dropped %d != %d added", kept, dropped, auditQueue+auditBatch+10)
	}
	for i, w := range got {
		if w != string(rune('a'+i%26)) {
			t.Fatalf("event %d = %q: out of order", i, w)
		}
	}
	if batches > kept/auditBatch+2 {
		t.Errorf("%d proposals for %d events: not batched", batches, kept)
	}
	before := droppedCount(a.dropped)
	a.add(catalog.AuditEvent{What: "late"})
	if droppedCount(a.dropped) != before+1 {
		t.Error("an event after close was not counted as dropped")
	}

	// A proposal that fails counts its events as dropped.
	fail = true
	b := newAuditor(propose, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	b.add(catalog.AuditEvent{What: "x"})
	b.add(catalog.AuditEvent{What: "y"})
	b.close()
	if n := droppedCount(b.dropped); n != 2 {
		t.Errorf("dropped after a failed proposal = %v, want 2", n)
	}
}

func droppedCount(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}
