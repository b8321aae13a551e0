package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/metrics"
)

// Audit records an event in cairn_cluster.audit_log. It never blocks and
// never fails its caller: the event is queued for the node's auditor,
// which proposes queued events to the meta group in batches from one
// goroutine; when the queue is full (the meta group is slow or has no
// leader) the event is dropped and counted in cairn_audit_dropped_total.
func (n *Node) Audit(_ context.Context, ev catalog.AuditEvent) {
	if ev.At.IsZero() {
		ev.At = n.clock.Now()
	}
	if ev.Node == "" {
		ev.Node = n.cfg.NodeID
	}
	if ev.Kind == "login" && ev.Outcome != "ok" {
		// Anyone who can reach a port can fail a login: cap what they
		// can write into the bounded log, so a flood from many addresses
		// cannot push the real events out.
		switch n.audit.admitLoginFailure(ev.At) {
		case loginFailureDrop:
			return
		case loginFailureLast:
			ev.What += fmt.Sprintf(" (the node's %d-per-minute cap on failed-login events is reached: further failures this minute are counted in cairn_audit_dropped_total, not recorded)", auditLoginFailuresPerMinute)
		}
	}
	n.audit.add(ev)
}

// auditLoginFailuresPerMinute caps the failed-login events one node
// records per minute (SQL and HTTP together).
const auditLoginFailuresPerMinute = 120

type loginFailureVerdict int

const (
	loginFailureRecord loginFailureVerdict = iota
	loginFailureLast                       // recorded, and says the cap is reached
	loginFailureDrop
)

// admitLoginFailure counts a failed-login event in a fixed one-minute
// window; past the cap it counts the event as dropped.
func (a *auditor) admitLoginFailure(at time.Time) loginFailureVerdict {
	if a == nil {
		return loginFailureDrop
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if w := at.Truncate(time.Minute); !w.Equal(a.mu.loginWindow) {
		a.mu.loginWindow, a.mu.loginFailures = w, 0
	}
	a.mu.loginFailures++
	switch {
	case a.mu.loginFailures < auditLoginFailuresPerMinute:
		return loginFailureRecord
	case a.mu.loginFailures == auditLoginFailuresPerMinute:
		return loginFailureLast
	}
	a.dropped.Inc()
	return loginFailureDrop
}

// Audit tuning: the queue bound, the largest batch one proposal carries,
// how long the first event of a batch waits for company, and how long a
// proposal may take.
const (
	auditQueue         = 4096
	auditBatch         = 256
	auditLinger        = 20 * time.Millisecond
	auditProposeWithin = 5 * time.Second
)

// auditor batches audit events into AppendAudit proposals.
type auditor struct {
	propose func(ctx context.Context, c catalog.Command) error
	log     *slog.Logger
	dropped prometheus.Counter
	queue   chan catalog.AuditEvent
	stop    chan struct{} // closed by close: flush and end
	done    chan struct{} // closed when the goroutine ended

	mu struct {
		sync.Mutex
		closed bool // no more events are taken
		// failed-login events recorded in the minute that began at
		// loginWindow (admitLoginFailure)
		loginWindow   time.Time
		loginFailures int
	}
}

// newAuditor starts the auditor's goroutine; reg, if set, gets its
// cairn_audit_dropped_total counter.
func newAuditor(propose func(context.Context, catalog.Command) error, log *slog.Logger, reg prometheus.Registerer) *auditor {
	a := &auditor{
		propose: propose,
		log:     log,
		dropped: prometheus.NewCounter(metrics.DefAuditDropped.CounterOpts()),
		queue:   make(chan catalog.AuditEvent, auditQueue),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	if reg != nil {
		reg.MustRegister(a.dropped)
	}
	go a.run()
	return a
}

// add queues ev, or drops and counts it.
func (a *auditor) add(ev catalog.AuditEvent) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.mu.closed {
		a.dropped.Inc()
		return
	}
	select {
	case a.queue <- ev:
	default:
		a.dropped.Inc()
	}
}

// close stops taking events, proposes those queued and waits for that
// (each proposal bounded by auditProposeWithin).
func (a *auditor) close() {
	if a == nil {
		return
	}
	a.mu.Lock()
	if a.mu.closed {
		a.mu.Unlock()
		<-a.done
		return
	}
	a.mu.closed = true
	a.mu.Unlock()
	close(a.stop)
	<-a.done
}

func (a *auditor) run() {
	defer close(a.done)
	for {
		var batch []catalog.AuditEvent
		select {
		case ev := <-a.queue:
			batch = append(batch, ev)
		case <-a.stop:
			a.flush()
			return
		}
		// Not cut short by stop: close then waits at most one linger,
		// and batches stay full while it drains the queue.
		linger := time.NewTimer(auditLinger)
	collect:
		for len(batch) < auditBatch {
			select {
			case ev := <-a.queue:
				batch = append(batch, ev)
			case <-linger.C:
				break collect
			}
		}
		linger.Stop()
		a.send(batch)
	}
}

// flush proposes everything still queued (the queue takes no more).
func (a *auditor) flush() {
	for {
		var batch []catalog.AuditEvent
		for len(batch) < auditBatch {
			select {
			case ev := <-a.queue:
				batch = append(batch, ev)
				continue
			default:
			}
			break
		}
		if len(batch) == 0 {
			return
		}
		a.send(batch)
	}
}

// send proposes one batch; a batch the meta group does not take is
// counted as dropped (the log says why, not what: the events are the
// audit log's, not the server log's).
func (a *auditor) send(batch []catalog.AuditEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), auditProposeWithin)
	defer cancel()
	if err := a.propose(ctx, &catalog.AppendAudit{Events: batch}); err != nil {
		a.dropped.Add(float64(len(batch)))
		a.log.Warn("audit: events not recorded", "events", len(batch), "err", err)
	}
}
