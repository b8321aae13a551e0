package catalog

import (
	"fmt"
	"sort"

	"github.com/cairndb/cairn/internal/pgerr"
)

// Alerts (issue 15): CREATE ALERT name WHEN <condition> NOTIFY
// 'webhook:…'. The catalog keeps each alert's definition and, per
// subject it concerns (a node, a group or the cluster), whether it fires
// and the transitions not yet delivered. Keeping that here, in the
// replicated catalog, lets a new evaluator (after the meta leader moved)
// deliver what the old one had not: a transition is recorded before it is
// sent and dropped from Pending only once delivered (or given up), so
// delivery is at least once; a receiver deduplicates by the notification
// id (alert id, subject, transition number). internal/alert evaluates
// and delivers; these commands only record.

// Alert is one alert. Metric, Op and Value are its condition in parts
// (checked by internal/alert before the alert is proposed); Condition is
// its canonical text.
type Alert struct {
	Name      string `json:"name"`
	ID        uint64 `json:"id"`
	Metric    string `json:"metric"` // e.g. "node.state"
	Op        string `json:"op"`     // "=", "<" or ">"
	Value     string `json:"value"`  // e.g. "dead", "5000", "false", "7 days"
	Condition string `json:"condition"`
	Target    string `json:"target"` // webhook:http://… or webhook:https://…
	Owner     string `json:"owner,omitempty"`
	CreatedAt int64  `json:"created_at"` // unix µs
	// Subjects are the nodes, groups or the cluster the alert has fired
	// for, by subject key (SubjectNode, …).
	Subjects map[string]*AlertSubject `json:"subjects,omitempty"`
}

// AlertSubject is an alert's state for one subject.
type AlertSubject struct {
	Firing bool   `json:"firing"`
	Since  int64  `json:"since"` // unix µs the current state began
	Seq    uint64 `json:"seq"`   // transitions so far (the last one's number)
	Value  string `json:"value"` // the value measured at the last transition
	// Pending are the transitions not yet delivered, oldest first (at most
	// MaxPendingNotices; older ones are dropped and counted in Dropped).
	Pending []AlertNotice `json:"pending,omitempty"`
	Dropped uint64        `json:"dropped,omitempty"`
	// LastResult and Attempts describe the last delivery (or the one
	// under way); DeliveredSeq is the last transition delivered.
	LastResult   string `json:"last_result,omitempty"`
	Attempts     int    `json:"attempts,omitempty"`
	DeliveredSeq uint64 `json:"delivered_seq,omitempty"`
}

// AlertNotice is one transition to deliver.
type AlertNotice struct {
	Seq    uint64 `json:"seq"`
	Firing bool   `json:"firing"`
	Value  string `json:"value"`
	At     int64  `json:"at"` // unix µs
}

// MaxPendingNotices bounds an alert subject's undelivered transitions.
const MaxPendingNotices = 32

// Subject keys: a node by name, a group by id, the whole cluster.
const (
	SubjectNodePrefix  = "node:"
	SubjectGroupPrefix = "group:"
	SubjectCluster     = "cluster"
)

// The alert commands.
type (
	// CreateAlert records an alert (its ID is assigned here).
	CreateAlert struct {
		Alert       *Alert
		IfNotExists bool
	}
	// DropAlerts forgets alerts.
	DropAlerts struct {
		Names    []string
		IfExists bool
	}
	// RecordAlert records a transition of alert AlertID for Subject to
	// Firing, numbered Seq. It applies only if Seq follows the subject's
	// last transition, so two evaluators deciding on the same state
	// cannot both record it.
	RecordAlert struct {
		Alert   string `json:"alert"`
		AlertID uint64 `json:"alert_id"`
		Subject string `json:"subject"`
		Seq     uint64 `json:"seq"`
		Firing  bool   `json:"firing"`
		Value   string `json:"value"`
		At      int64  `json:"at"`
	}
	// AlertDelivery records a delivery attempt of transition Seq; Done:
	// delivered, or given up (Result says which), so it leaves Pending.
	AlertDelivery struct {
		Alert    string `json:"alert"`
		AlertID  uint64 `json:"alert_id"`
		Subject  string `json:"subject"`
		Seq      uint64 `json:"seq"`
		Attempts int    `json:"attempts"`
		Result   string `json:"result"`
		Done     bool   `json:"done,omitempty"`
	}
)

// alertBody is the envelope body of the alert commands.
type alertBody struct {
	Alert    *Alert         `json:"alert,omitempty"`
	Record   *RecordAlert   `json:"record,omitempty"`
	Delivery *AlertDelivery `json:"delivery,omitempty"`
}

const (
	opCreateAlert   = "create_alert"
	opDropAlert     = "drop_alert"
	opRecordAlert   = "record_alert"
	opAlertDelivery = "alert_delivery"
)

func (c *CreateAlert) envelope() *envelope {
	return &envelope{Op: opCreateAlert, IfNotExists: c.IfNotExists, Alerts: &alertBody{Alert: c.Alert}}
}
func (c *DropAlerts) envelope() *envelope {
	return &envelope{Op: opDropAlert, Names: c.Names, IfExists: c.IfExists}
}
func (c *RecordAlert) envelope() *envelope {
	return &envelope{Op: opRecordAlert, Alerts: &alertBody{Record: c}}
}
func (c *AlertDelivery) envelope() *envelope {
	return &envelope{Op: opAlertDelivery, Alerts: &alertBody{Delivery: c}}
}

func (e *envelope) alertCommand() (Command, bool, *pgerr.Error) {
	b := e.Alerts
	missing := func(what string) (Command, bool, *pgerr.Error) {
		return nil, true, pgerr.CatalogIncomplete.New(e.Op, what)
	}
	switch e.Op {
	case opCreateAlert:
		if b == nil || b.Alert == nil {
			return missing("alert")
		}
		return &CreateAlert{Alert: b.Alert, IfNotExists: e.IfNotExists}, true, nil
	case opDropAlert:
		return &DropAlerts{Names: e.Names, IfExists: e.IfExists}, true, nil
	case opRecordAlert:
		if b == nil || b.Record == nil {
			return missing("record")
		}
		return b.Record, true, nil
	case opAlertDelivery:
		if b == nil || b.Delivery == nil {
			return missing("delivery")
		}
		return b.Delivery, true, nil
	}
	return nil, false, nil
}

func (cmd *CreateAlert) apply(c *Catalog) *Result {
	a := *cmd.Alert
	if _, ok := c.Alerts[a.Name]; ok {
		if cmd.IfNotExists {
			return &Result{Notice: fmt.Sprintf("alert %q already exists, skipping", a.Name)}
		}
		return &Result{Err: pgerr.AlertExists.New(a.Name)}
	}
	if c.Alerts == nil {
		c.Alerts = map[string]*Alert{}
	}
	a.ID = c.NextID
	c.NextID++
	a.Subjects = nil
	c.Alerts[a.Name] = &a
	return &Result{}
}

func (cmd *DropAlerts) apply(c *Catalog) *Result {
	res := &Result{}
	for _, name := range cmd.Names {
		if _, ok := c.Alerts[name]; !ok {
			if cmd.IfExists {
				res.Notice = fmt.Sprintf("alert %q does not exist, skipping", name)
				continue
			}
			return &Result{Err: pgerr.AlertNotFound.New(name)}
		}
		delete(c.Alerts, name)
		res.Dropped = append(res.Dropped, name)
	}
	return res
}

// alert finds alert name with id id (an alert dropped and created again
// is another alert).
func (c *Catalog) alert(name string, id uint64) (*Alert, *pgerr.Error) {
	a := c.Alerts[name]
	if a == nil || a.ID != id {
		return nil, pgerr.AlertNotFound.New(name)
	}
	return a, nil
}

func (cmd *RecordAlert) apply(c *Catalog) *Result {
	a, err := c.alert(cmd.Alert, cmd.AlertID)
	if err != nil {
		return &Result{Err: err}
	}
	s := a.Subjects[cmd.Subject]
	if s == nil {
		s = &AlertSubject{}
	}
	if cmd.Seq != s.Seq+1 || cmd.Firing == s.Firing {
		return &Result{Notice: "stale"} // another evaluator recorded it first
	}
	if a.Subjects == nil {
		a.Subjects = map[string]*AlertSubject{}
	}
	a.Subjects[cmd.Subject] = s
	s.Firing, s.Since, s.Seq, s.Value = cmd.Firing, cmd.At, cmd.Seq, cmd.Value
	s.Pending = append(s.Pending, AlertNotice{Seq: cmd.Seq, Firing: cmd.Firing, Value: cmd.Value, At: cmd.At})
	if over := len(s.Pending) - MaxPendingNotices; over > 0 {
		s.Pending = append([]AlertNotice(nil), s.Pending[over:]...)
		s.Dropped += uint64(over)
	}
	return &Result{}
}

func (cmd *AlertDelivery) apply(c *Catalog) *Result {
	a, err := c.alert(cmd.Alert, cmd.AlertID)
	if err != nil {
		return &Result{Err: err}
	}
	s := a.Subjects[cmd.Subject]
	if s == nil || len(s.Pending) == 0 || s.Pending[0].Seq != cmd.Seq {
		return &Result{Notice: "stale"}
	}
	s.Attempts, s.LastResult = cmd.Attempts, cmd.Result
	if cmd.Done {
		s.Pending = append([]AlertNotice(nil), s.Pending[1:]...)
		s.DeliveredSeq = cmd.Seq
	}
	return &Result{}
}

// SortedAlerts returns the alerts by name.
func (c *Catalog) SortedAlerts() []*Alert {
	as := make([]*Alert, 0, len(c.Alerts))
	for _, a := range c.Alerts {
		as = append(as, a)
	}
	sort.Slice(as, func(i, j int) bool { return as[i].Name < as[j].Name })
	return as
}

// SortedSubjects returns an alert's subject keys, sorted.
func (a *Alert) SortedSubjects() []string {
	ks := make([]string, 0, len(a.Subjects))
	for k := range a.Subjects {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
