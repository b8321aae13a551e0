package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
)

// Env is what the evaluator needs from its node.
type Env interface {
	Catalog() *catalog.Catalog
	// IsEvaluator reports whether this node evaluates the alerts now (it
	// leads the meta group): one evaluator at a time, and a new one after
	// the leader moves.
	IsEvaluator() bool
	Facts() Facts
	// Propose proposes a catalog command to the meta group.
	Propose(ctx context.Context, c catalog.Command) error
}

// Retry is the delivery policy: Attempts tries per notification, the
// first retry after First, each next one after twice as long, at most Max;
// each attempt times out after Timeout.
type Retry struct {
	Attempts   int
	First, Max time.Duration
	Timeout    time.Duration
}

// DefaultRetry tries 10 times over about 25 s.
var DefaultRetry = Retry{Attempts: 10, First: 200 * time.Millisecond, Max: 5 * time.Second, Timeout: 5 * time.Second}

// Evaluator evaluates the alerts every Round and delivers their
// notifications. Transitions are recorded in the catalog (RecordAlert)
// before delivery, and delivered ones are removed from it
// (AlertDelivery), so an evaluator that takes over delivers what its
// predecessor left: at least once; the notification id lets a receiver
// drop the duplicate it may get when the old evaluator delivered but could
// not record it.
type Evaluator struct {
	env    Env
	ctx    context.Context
	client *http.Client
	retry  Retry
	log    *slog.Logger

	mu struct {
		sync.Mutex
		inflight map[string]*delivery // by alert id/subject
	}
}

type delivery struct {
	seq    uint64
	cancel context.CancelFunc
}

// NewEvaluator returns an evaluator whose deliveries end with ctx.
func NewEvaluator(ctx context.Context, env Env, client *http.Client, retry Retry, log *slog.Logger) *Evaluator {
	if client == nil {
		client = &http.Client{}
	}
	if log == nil {
		log = slog.Default()
	}
	e := &Evaluator{env: env, ctx: ctx, client: client, retry: retry, log: log}
	e.mu.inflight = map[string]*delivery{}
	return e
}

// Round evaluates every alert once, records the transitions and starts
// the deliveries that are due. It does nothing (and stops its
// deliveries) on a node that is not the evaluator.
func (e *Evaluator) Round() {
	if !e.env.IsEvaluator() {
		e.stopAll()
		return
	}
	cat := e.env.Catalog()
	if len(cat.Alerts) == 0 {
		e.stopAll()
		return
	}
	facts := e.env.Facts()
	groups := cat.Groups()
	for _, a := range cat.SortedAlerts() {
		obs := Evaluate(a, facts)
		for subject, o := range obs {
			s := a.Subjects[subject]
			firing := s != nil && s.Firing
			if o.Firing == firing {
				continue
			}
			var seq uint64 = 1
			if s != nil {
				seq = s.Seq + 1
			}
			e.record(a, subject, seq, o.Firing, o.Value, facts.Now)
		}
		// A firing subject that is gone (node removed, group dropped)
		// resolves.
		for _, subject := range a.SortedSubjects() {
			s := a.Subjects[subject]
			if _, seen := obs[subject]; seen || !s.Firing || subjectExists(cat, groups, subject) {
				continue
			}
			e.record(a, subject, s.Seq+1, false, "removed", facts.Now)
		}
	}
	e.deliverDue(e.env.Catalog())
}

func subjectExists(cat *catalog.Catalog, groups map[uint64]catalog.GroupRef, subject string) bool {
	switch {
	case strings.HasPrefix(subject, catalog.SubjectNodePrefix):
		return cat.Nodes[strings.TrimPrefix(subject, catalog.SubjectNodePrefix)] != nil
	case strings.HasPrefix(subject, catalog.SubjectGroupPrefix):
		gid, _ := strconv.ParseUint(strings.TrimPrefix(subject, catalog.SubjectGroupPrefix), 10, 64)
		_, ok := groups[gid]
		return ok || gid == catalog.MetaGroupID
	}
	return true
}

func (e *Evaluator) record(a *catalog.Alert, subject string, seq uint64, firing bool, value string, at time.Time) {
	ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
	defer cancel()
	err := e.env.Propose(ctx, &catalog.RecordAlert{Alert: a.Name, AlertID: a.ID, Subject: subject, Seq: seq,
		Firing: firing, Value: value, At: at.UnixMicro()})
	if err != nil && e.ctx.Err() == nil {
		e.log.Warn("alert: recording a transition", "alert", a.Name, "subject", subject, "err", err)
	}
}

func (e *Evaluator) stopAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, d := range e.mu.inflight {
		d.cancel()
		delete(e.mu.inflight, k)
	}
}

// deliverDue starts delivering the oldest pending notification of every
// (alert, subject) that has one and no delivery under way, and stops
// deliveries whose notification is no longer pending (alert dropped).
func (e *Evaluator) deliverDue(cat *catalog.Catalog) {
	e.mu.Lock()
	defer e.mu.Unlock()
	due := map[string]bool{}
	for _, a := range cat.SortedAlerts() {
		for _, subject := range a.SortedSubjects() {
			s := a.Subjects[subject]
			if len(s.Pending) == 0 {
				continue
			}
			key := fmt.Sprintf("%d/%s", a.ID, subject)
			n := s.Pending[0]
			due[key] = true
			if d, ok := e.mu.inflight[key]; ok && d.seq == n.Seq {
				continue
			} else if ok {
				d.cancel()
			}
			ctx, cancel := context.WithCancel(e.ctx)
			e.mu.inflight[key] = &delivery{seq: n.Seq, cancel: cancel}
			go e.deliver(ctx, key, a, subject, n, cat.GroupTarget)
		}
	}
	for k, d := range e.mu.inflight {
		if !due[k] {
			d.cancel()
			delete(e.mu.inflight, k)
		}
	}
}

// Notification is the JSON body POSTed to a webhook.
type Notification struct {
	ID        string         `json:"id"`
	Alert     string         `json:"alert"`
	Condition string         `json:"condition"`
	State     string         `json:"state"` // firing or resolved
	Subject   map[string]any `json:"subject"`
	Value     string         `json:"value"`
	At        time.Time      `json:"at"`
}

// NotificationID is the stable id of transition seq of alert id for
// subject: every delivery of it carries the same id.
func NotificationID(alertID uint64, subject string, seq uint64) string {
	return fmt.Sprintf("%d-%s-%d", alertID, subject, seq)
}

// NotificationOf builds the body of one pending transition.
func NotificationOf(a *catalog.Alert, subject string, n catalog.AlertNotice, groupLabel func(uint64) string) Notification {
	state := "resolved"
	if n.Firing {
		state = "firing"
	}
	sub := map[string]any{}
	switch {
	case strings.HasPrefix(subject, catalog.SubjectNodePrefix):
		sub["node"] = strings.TrimPrefix(subject, catalog.SubjectNodePrefix)
	case strings.HasPrefix(subject, catalog.SubjectGroupPrefix):
		gid, _ := strconv.ParseUint(strings.TrimPrefix(subject, catalog.SubjectGroupPrefix), 10, 64)
		sub["group"] = gid
		if groupLabel != nil {
			sub["shard"] = groupLabel(gid)
		}
	default:
		sub["cluster"] = true
	}
	return Notification{ID: NotificationID(a.ID, subject, n.Seq), Alert: a.Name, Condition: a.Condition, State: state,
		Subject: sub, Value: n.Value, At: time.UnixMicro(n.At).UTC()}
}

func (e *Evaluator) deliver(ctx context.Context, key string, a *catalog.Alert, subject string, n catalog.AlertNotice, groupLabel func(uint64) string) {
	defer func() {
		e.mu.Lock()
		if d, ok := e.mu.inflight[key]; ok && d.seq == n.Seq {
			delete(e.mu.inflight, key)
		}
		e.mu.Unlock()
	}()
	body, _ := json.Marshal(NotificationOf(a, subject, n, groupLabel))
	url := strings.TrimPrefix(a.Target, "webhook:")
	wait := e.retry.First
	for attempt := 1; ; attempt++ {
		err := Post(ctx, e.client, url, body, e.retry.Timeout)
		if ctx.Err() != nil {
			return // no longer the evaluator, or the alert went
		}
		done := err == nil || attempt >= e.retry.Attempts
		result := "delivered"
		if err != nil {
			result = fmt.Sprintf("attempt %d failed: %v", attempt, err)
			if done {
				result = fmt.Sprintf("gave up after %d attempts: %v", attempt, err)
			}
			e.log.Warn("alert: webhook delivery", "alert", a.Name, "subject", subject, "attempt", attempt, "err", err)
		}
		pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		perr := e.env.Propose(pctx, &catalog.AlertDelivery{Alert: a.Name, AlertID: a.ID, Subject: subject, Seq: n.Seq,
			Attempts: attempt, Result: result, Done: done})
		cancel()
		if done {
			if perr != nil && ctx.Err() == nil {
				e.log.Warn("alert: recording a delivery", "alert", a.Name, "subject", subject, "err", perr)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, e.retry.Max)
	}
}

// Post sends one notification body to a webhook URL; any status but 2xx
// is an error.
func Post(ctx context.Context, client *http.Client, url string, body []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	var id struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &id) == nil && id.ID != "" {
		req.Header.Set("Idempotency-Key", id.ID)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("HTTP %s", resp.Status)
	}
	return nil
}
