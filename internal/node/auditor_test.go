package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
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
		a.add(catalog.AuditEvent{What: strconv.Itoa(i)})
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
	// In order: which events the full queue dropped depends on when the
	// runner first drains it (late on a loaded machine), so events may be
	// missing anywhere, but never out of order.
	prev := -1
	for i, w := range got {
		n, err := strconv.Atoi(w)
		if err != nil || n <= prev {
			t.Fatalf("event %d = %q after %d: out of order", i, w, prev)
		}
		prev = n
	}
	if batches > kept/16 { // full batches of 256, bar timing: far fewer than one per event
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

// TestAuditLoginFailureCap: one node records at most
// auditLoginFailuresPerMinute failed-login events a minute (the last one
// says so) and counts the rest as dropped; a new minute starts afresh;
// successful logins and other events are never capped.
func TestAuditLoginFailureCap(t *testing.T) {
	var mu sync.Mutex
	var got []catalog.AuditEvent
	propose := func(_ context.Context, c catalog.Command) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, c.(*catalog.AppendAudit).Events...)
		return nil
	}
	n := &Node{cfg: Config{NodeID: "n1"}}
	n.audit = newAuditor(propose, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	minute := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	fail := func(at time.Time) {
		n.Audit(context.Background(), catalog.AuditEvent{At: at, Kind: "login", What: "login (scram-sha-256)", Outcome: "failed: wrong_password"})
	}
	for i := range auditLoginFailuresPerMinute + 30 {
		fail(minute.Add(time.Duration(i) * 100 * time.Millisecond))
	}
	n.Audit(context.Background(), catalog.AuditEvent{At: minute.Add(20 * time.Second), Kind: "login", What: "http POST /api/v1/login", Outcome: "ok"})
	n.Audit(context.Background(), catalog.AuditEvent{At: minute.Add(20 * time.Second), Kind: "sql", What: "ALTER SYSTEM SET auto_failover = off", Outcome: "ok"})
	fail(minute.Add(time.Minute)) // the next minute
	n.audit.close()
	mu.Lock()
	defer mu.Unlock()
	failures, capped, others := 0, 0, 0
	for _, ev := range got {
		switch {
		case ev.Outcome != "ok":
			failures++
			if strings.Contains(ev.What, "cap on failed-login events is reached") {
				capped++
			}
		default:
			others++
		}
	}
	if failures != auditLoginFailuresPerMinute+1 || capped != 1 || others != 2 {
		t.Fatalf("recorded %d failed logins (%d saying the cap is reached) and %d other events; want %d, 1 and 2",
			failures, capped, others, auditLoginFailuresPerMinute+1)
	}
	if d := droppedCount(n.audit.dropped); d != 30 {
		t.Fatalf("cairn_audit_dropped_total = %v, want the 30 failures past the cap", d)
	}
}
