package catalog

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cairndb/cairn/internal/pgerr"
)

// AuditEvent is one entry of cairn_cluster.audit_log: who did what, from
// where, when, and how it ended.
type AuditEvent struct {
	// ID numbers events in the order the meta group applied them
	// (assigned by AppendAudit, never reused).
	ID   uint64    `json:"id"`
	At   time.Time `json:"at"`
	Node string    `json:"node"` // the node that saw the event (--node-id)
	User string    `json:"user"`
	// Source is where the request came from: the client's address, or
	// "" when the front end does not know it.
	Source string `json:"source"`
	// Kind is "sql", "api", "login", "role" or "grant".
	Kind string `json:"kind"`
	// What is the statement or request, with secrets redacted.
	What string `json:"what"`
	// Outcome is "ok", or the SQLSTATE and message of the error.
	Outcome string `json:"outcome"`
}

// AuditLog is the bounded audit log: the last events, oldest first.
// A published AuditLog is never changed; AppendAudit makes a new one.
type AuditLog struct {
	Events []AuditEvent
	// NextID is the id the next event gets.
	NextID uint64
}

// AuditMaxSetting is the cluster setting bounding the audit log.
const AuditMaxSetting = "audit_log_max_events"

// AuditMax is the most events the audit log keeps
// (audit_log_max_events).
func (c *Catalog) AuditMax() int {
	v, _ := c.Setting(AuditMaxSetting)
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		n, _ = strconv.Atoi(SettingDefaults[AuditMaxSetting])
	}
	return n
}

// AuditEvents returns the audit log, oldest first. Callers must not
// modify it.
func (c *Catalog) AuditEvents() []AuditEvent {
	if c.Audit == nil {
		return nil
	}
	return c.Audit.Events
}

// AppendAudit appends events to the audit log, giving each its id, and
// drops the oldest beyond audit_log_max_events.
type AppendAudit struct {
	Events []AuditEvent
}

const opAppendAudit = "append_audit"

func (c *AppendAudit) envelope() *envelope { return &envelope{Op: opAppendAudit, Audit: c.Events} }

// auditCommand decodes AppendAudit (ok false for other tags).
func (e *envelope) auditCommand() (Command, bool) {
	if e.Op != opAppendAudit {
		return nil, false
	}
	return &AppendAudit{Events: e.Audit}, true
}

func (cmd *AppendAudit) apply(c *Catalog) *Result {
	old := c.Audit
	if old == nil {
		old = &AuditLog{NextID: 1}
	}
	limit := c.AuditMax()
	all := len(old.Events) + len(cmd.Events)
	drop := max(all-limit, 0)
	next := &AuditLog{Events: make([]AuditEvent, 0, min(all, limit)), NextID: old.NextID}
	if drop < len(old.Events) {
		next.Events = append(next.Events, old.Events[drop:]...)
	}
	for i, ev := range cmd.Events {
		ev.ID = next.NextID
		next.NextID++
		if len(old.Events)+i >= drop {
			next.Events = append(next.Events, ev)
		}
	}
	c.Audit = next
	return &Result{}
}

// The audit log is stored next to the catalog, one key per event, so
// that appending an event writes that event and not the whole catalog
// (which is stored as one value, rewritten by every other command):
//
//	<key>/audit/e <id:8>   an event (JSON)
//	<key>/audit/n          the next id
//
// Every key is inside the meta group's data range, so raft snapshots
// carry the log.
func (m *MetaSM) auditKey(id uint64) []byte {
	k := append(append([]byte(nil), m.key...), "/audit/e"...)
	return binary.BigEndian.AppendUint64(k, id)
}

func (m *MetaSM) auditNextKey() []byte {
	return append(append([]byte(nil), m.key...), "/audit/n"...)
}

// applyAudit applies an AppendAudit: it writes the new events and deletes
// the dropped ones. The rest of the catalog is untouched, so it is not
// rewritten, and no change is signalled (nothing placed or scheduled
// depends on the audit log).
func (m *MetaSM) applyAudit(wb *pebble.Batch, cmd *AppendAudit) *Result {
	cat := m.Catalog()
	next := *cat // shallow: apply replaces only the Audit field
	res := cmd.apply(&next)
	oldNext := uint64(1)
	if cat.Audit != nil {
		oldNext = cat.Audit.NextID
	}
	first := next.Audit.NextID
	if len(next.Audit.Events) > 0 {
		first = next.Audit.Events[0].ID
	}
	if err := wb.DeleteRange(m.auditKey(0), m.auditKey(first), nil); err != nil {
		return &Result{Err: pgerr.CatalogIO.New(err)}
	}
	for _, ev := range next.Audit.Events {
		if ev.ID < oldNext {
			continue
		}
		b, err := json.Marshal(ev)
		if err != nil {
			panic(err) // plain data: cannot fail
		}
		if err := wb.Set(m.auditKey(ev.ID), b, nil); err != nil {
			return &Result{Err: pgerr.CatalogIO.New(err)}
		}
	}
	if err := wb.Set(m.auditNextKey(), binary.BigEndian.AppendUint64(nil, next.Audit.NextID), nil); err != nil {
		return &Result{Err: pgerr.CatalogIO.New(err)}
	}
	m.mu.Lock()
	m.mu.cat = &next
	m.mu.Unlock()
	return res
}

// loadAudit reads the stored audit log into c.
func (m *MetaSM) loadAudit(r pebble.Reader, c *Catalog) error {
	log := &AuditLog{NextID: 1}
	v, closer, err := r.Get(m.auditNextKey())
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		c.Audit = nil
		return nil
	case err != nil:
		return err
	}
	if len(v) == 8 {
		log.NextID = binary.BigEndian.Uint64(v)
	}
	closer.Close()
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: m.auditKey(0), UpperBound: m.auditNextKey()})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		var ev AuditEvent
		if err := json.Unmarshal(it.Value(), &ev); err != nil {
			return fmt.Errorf("catalog: corrupt audit event %q: %w", it.Key(), err)
		}
		log.Events = append(log.Events, ev)
	}
	if err := it.Error(); err != nil {
		return err
	}
	c.Audit = log
	return nil
}
