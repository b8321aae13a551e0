package catalog

import (
	"fmt"
	"slices"
	"sort"

	"github.com/cairndb/cairn/internal/pgerr"
)

// The elastic tier (issue 13): disks (shared storage for checkpoints and
// backups), scheduled views (one owner node, checkpoints on a disk, a
// per-view epoch that fences an old owner) and schedules (periodic
// backups).

// Disk is a named place in shared storage (CREATE DISK): an S3-compatible
// bucket or a directory every node mounts. Its credentials live only in
// the catalog: SHOW DISKS, cairn_cluster.disks, logs and the audit log
// never show SecretAccessKey (Redacted returns the copy they may show).
type Disk struct {
	Name            string `json:"name"`
	Type            string `json:"type"`           // DiskS3 or DiskFile
	Path            string `json:"path,omitempty"` // file: the shared directory
	Endpoint        string `json:"endpoint,omitempty"`
	Bucket          string `json:"bucket,omitempty"`
	Region          string `json:"region,omitempty"`
	Prefix          string `json:"prefix,omitempty"`
	AccessKeyID     string `json:"access_key_id,omitempty"`
	SecretAccessKey string `json:"secret_access_key,omitempty"`
	TLS             bool   `json:"tls,omitempty"` // s3: https to the endpoint
	Owner           string `json:"owner,omitempty"`
	CreatedAt       int64  `json:"created_at"` // unix µs
}

// Disk types.
const (
	DiskS3   = "s3"
	DiskFile = "file"
)

// Redacted returns a copy of d without its secret, for display.
func (d *Disk) Redacted() *Disk {
	c := *d
	if c.SecretAccessKey != "" {
		c.SecretAccessKey = "<redacted>"
	}
	return &c
}

// Scheduled makes a view a scheduled view (WITH (ha = 'scheduled'), or
// SETTINGS checkpoint_settings = 'storage_type=shared;…'): no Raft group;
// one node (Node) runs its view task, keeps its state in memory and
// checkpoints {offsets, state} to Disk every Interval. The scheduler
// assigns Node; every assignment bumps Epoch, and a checkpoint is only
// committed (RecordCheckpoint) by the owner of the current epoch, so an
// old owner that comes back cannot commit one.
type Scheduled struct {
	Disk       string `json:"disk"`
	IntervalMS int64  `json:"interval_ms"`
	Node       uint64 `json:"node,omitempty"` // the owner's raft id; 0: not assigned yet
	Epoch      uint64 `json:"epoch,omitempty"`
	// Handoff asks the owner to stop folding, write a final checkpoint
	// and record it (Final), so the next owner replays nothing (drain,
	// rebalance onto a new compute node).
	Handoff bool `json:"handoff,omitempty"`
	// Checkpoint is the last committed checkpoint; nil before the first.
	Checkpoint *ViewCheckpoint `json:"checkpoint,omitempty"`
	// AssignedAt is when Node was assigned (unix µs).
	AssignedAt int64 `json:"assigned_at,omitempty"`
}

// ViewCheckpoint records a committed checkpoint of a scheduled view.
type ViewCheckpoint struct {
	Epoch   uint64   `json:"epoch"`
	Seq     uint64   `json:"seq"`     // increasing within an epoch
	Key     string   `json:"key"`     // object key of its manifest on the disk
	Offsets []uint64 `json:"offsets"` // the source offsets its state covers
	At      int64    `json:"at"`      // unix µs
	Bytes   int64    `json:"bytes"`   // object bytes written for this checkpoint
	Final   bool     `json:"final,omitempty"`
}

// HA models of a view (cairn_cluster.views.ha).
const (
	HARaft      = "raft"
	HAScheduled = "scheduled"
)

// HA returns the view's HA model.
func (v *View) HA() string {
	if v.Sched != nil {
		return HAScheduled
	}
	return HARaft
}

// The cluster settings of cairn_cluster.compute_load's recommendation.
const (
	ScaleOutLag   = "scale_out_lag"
	ScaleOutViews = "scale_out_views"
)

// CanOwnViews reports whether scheduled views may be assigned to the
// node (ignoring liveness, which only the caller knows): any role, but
// not a node an operator is draining or taking out.
func (n *Node) CanOwnViews() bool { return n.State == "" }

// ScheduledCounts is, per node id, how many scheduled views it owns.
func (c *Catalog) ScheduledCounts() map[uint64]int {
	counts := map[uint64]int{}
	for _, v := range c.Views {
		if v.Sched != nil && v.Sched.Node != 0 {
			counts[v.Sched.Node]++
		}
	}
	return counts
}

// Schedule runs a statement periodically (CREATE SCHEDULE … BACKUP …
// EVERY '1 hour'). The meta leader runs it when NextRun has passed.
type Schedule struct {
	Name      string `json:"name"`
	ID        uint64 `json:"id"`
	Statement string `json:"statement"` // the BACKUP statement, as text
	Disk      string `json:"disk"`      // the disk it writes to (DROP DISK is refused while used)
	EveryMS   int64  `json:"every_ms"`
	NextRun   int64  `json:"next_run"` // unix µs
	LastRun   int64  `json:"last_run,omitempty"`
	// LastStatus is "" (never ran), "running", "done" or "failed";
	// LastError the failure's message.
	LastStatus string `json:"last_status,omitempty"`
	LastError  string `json:"last_error,omitempty"`
	Owner      string `json:"owner,omitempty"`
	CreatedAt  int64  `json:"created_at"`
}

// Operation types of the elastic tier.
const (
	OpMoveScheduledView = "move_scheduled_view" // assign a scheduled view to To (handing off from From when it is live)
	OpBackup            = "backup"
	OpRestore           = "restore"
)

// The commands of the elastic tier.
type (
	// CreateDisk records a disk (checked reachable and writable by the
	// statement before it is proposed).
	CreateDisk struct {
		Disk        *Disk
		IfNotExists bool
	}
	// DropDisks forgets disks; refused while a view or schedule uses one.
	DropDisks struct {
		Names    []string
		IfExists bool
	}
	// AssignView makes Node the owner of scheduled view View (whose id
	// is ViewID) with the next epoch, if the view's epoch is still
	// Epoch (the one the scheduler decided on): two decisions on one
	// epoch cannot both win.
	AssignView struct {
		View   string `json:"view"`
		ViewID uint64 `json:"view_id"`
		Node   uint64 `json:"node"`
		Epoch  uint64 `json:"epoch"`
		At     int64  `json:"at"`
	}
	// SetViewHandoff asks the owner of epoch Epoch to hand the view off.
	SetViewHandoff struct {
		View   string `json:"view"`
		ViewID uint64 `json:"view_id"`
		Epoch  uint64 `json:"epoch"`
	}
	// RecordCheckpoint commits a checkpoint written by node Node. It is
	// refused (pgerr.CheckpointFenced) unless Node owns the view at
	// Checkpoint.Epoch and Checkpoint.Seq is newer than the last one.
	RecordCheckpoint struct {
		View       string          `json:"view"`
		ViewID     uint64          `json:"view_id"`
		Node       uint64          `json:"node"`
		Checkpoint *ViewCheckpoint `json:"checkpoint"`
	}
	// CreateSchedule records a schedule (its ID is assigned here).
	CreateSchedule struct {
		Schedule    *Schedule
		IfNotExists bool
	}
	// DropSchedules forgets schedules.
	DropSchedules struct {
		Names    []string
		IfExists bool
	}
	// UpdateSchedule records a run of a schedule.
	UpdateSchedule struct {
		Name       string `json:"name"`
		NextRun    int64  `json:"next_run"`
		LastRun    int64  `json:"last_run"`
		LastStatus string `json:"last_status"`
		LastError  string `json:"last_error,omitempty"`
	}
)

// elasticBody is the envelope body of the elastic-tier commands.
type elasticBody struct {
	Disk       *Disk             `json:"disk,omitempty"`
	Schedule   *Schedule         `json:"schedule,omitempty"`
	Assign     *AssignView       `json:"assign,omitempty"`
	Handoff    *SetViewHandoff   `json:"handoff,omitempty"`
	Checkpoint *RecordCheckpoint `json:"checkpoint,omitempty"`
	Update     *UpdateSchedule   `json:"update,omitempty"`
}

const (
	opCreateDisk       = "create_disk"
	opDropDisk         = "drop_disk"
	opAssignView       = "assign_view"
	opViewHandoff      = "view_handoff"
	opRecordCheckpoint = "record_checkpoint"
	opCreateSchedule   = "create_schedule"
	opDropSchedule     = "drop_schedule"
	opUpdateSchedule   = "update_schedule"
)

func (c *CreateDisk) envelope() *envelope {
	return &envelope{Op: opCreateDisk, IfNotExists: c.IfNotExists, Elastic: &elasticBody{Disk: c.Disk}}
}
func (c *DropDisks) envelope() *envelope {
	return &envelope{Op: opDropDisk, Names: c.Names, IfExists: c.IfExists}
}
func (c *AssignView) envelope() *envelope {
	return &envelope{Op: opAssignView, Elastic: &elasticBody{Assign: c}}
}
func (c *SetViewHandoff) envelope() *envelope {
	return &envelope{Op: opViewHandoff, Elastic: &elasticBody{Handoff: c}}
}
func (c *RecordCheckpoint) envelope() *envelope {
	return &envelope{Op: opRecordCheckpoint, Elastic: &elasticBody{Checkpoint: c}}
}
func (c *CreateSchedule) envelope() *envelope {
	return &envelope{Op: opCreateSchedule, IfNotExists: c.IfNotExists, Elastic: &elasticBody{Schedule: c.Schedule}}
}
func (c *DropSchedules) envelope() *envelope {
	return &envelope{Op: opDropSchedule, Names: c.Names, IfExists: c.IfExists}
}
func (c *UpdateSchedule) envelope() *envelope {
	return &envelope{Op: opUpdateSchedule, Elastic: &elasticBody{Update: c}}
}

func (e *envelope) elasticCommand() (Command, bool, *pgerr.Error) {
	b := e.Elastic
	need := func(ok bool, what string, c Command) (Command, bool, *pgerr.Error) {
		if !ok {
			return nil, true, pgerr.CatalogIncomplete.New(e.Op, what)
		}
		return c, true, nil
	}
	switch e.Op {
	case opCreateDisk:
		ok := b != nil && b.Disk != nil
		var d *Disk
		if ok {
			d = b.Disk
		}
		return need(ok, "disk", &CreateDisk{Disk: d, IfNotExists: e.IfNotExists})
	case opDropDisk:
		return &DropDisks{Names: e.Names, IfExists: e.IfExists}, true, nil
	case opAssignView:
		if b == nil || b.Assign == nil {
			return need(false, "assign", nil)
		}
		return b.Assign, true, nil
	case opViewHandoff:
		if b == nil || b.Handoff == nil {
			return need(false, "handoff", nil)
		}
		return b.Handoff, true, nil
	case opRecordCheckpoint:
		if b == nil || b.Checkpoint == nil || b.Checkpoint.Checkpoint == nil {
			return need(false, "checkpoint", nil)
		}
		return b.Checkpoint, true, nil
	case opCreateSchedule:
		ok := b != nil && b.Schedule != nil
		var s *Schedule
		if ok {
			s = b.Schedule
		}
		return need(ok, "schedule", &CreateSchedule{Schedule: s, IfNotExists: e.IfNotExists})
	case opDropSchedule:
		return &DropSchedules{Names: e.Names, IfExists: e.IfExists}, true, nil
	case opUpdateSchedule:
		if b == nil || b.Update == nil {
			return need(false, "update", nil)
		}
		return b.Update, true, nil
	}
	return nil, false, nil
}

func (cmd *CreateDisk) apply(c *Catalog) *Result {
	d := *cmd.Disk
	if _, ok := c.Disks[d.Name]; ok {
		if cmd.IfNotExists {
			return &Result{Notice: fmt.Sprintf("disk %q already exists, skipping", d.Name)}
		}
		return &Result{Err: pgerr.DiskExists.New(d.Name)}
	}
	if d.Type != DiskS3 && d.Type != DiskFile {
		return &Result{Err: pgerr.CatalogIncomplete.New(opCreateDisk, "type")}
	}
	if c.Disks == nil {
		c.Disks = map[string]*Disk{}
	}
	c.Disks[d.Name] = &d
	return &Result{}
}

// DiskUsers names what uses disk name: scheduled views ("view v") and
// schedules ("schedule s"), sorted.
func (c *Catalog) DiskUsers(name string) []string {
	var users []string
	for _, v := range c.Views {
		if v.Sched != nil && v.Sched.Disk == name {
			users = append(users, "view "+v.Name)
		}
	}
	for _, s := range c.Schedules {
		if s.Disk == name {
			users = append(users, "schedule "+s.Name)
		}
	}
	sort.Strings(users)
	return users
}

func (cmd *DropDisks) apply(c *Catalog) *Result {
	res := &Result{}
	for _, name := range cmd.Names {
		if _, ok := c.Disks[name]; !ok {
			if cmd.IfExists {
				res.Notice = fmt.Sprintf("disk %q does not exist, skipping", name)
				continue
			}
			return &Result{Err: pgerr.DiskNotFound.New(name)}
		}
		if users := c.DiskUsers(name); len(users) > 0 {
			return &Result{Err: pgerr.DiskInUse.New(name, users[0])}
		}
		delete(c.Disks, name)
		res.Dropped = append(res.Dropped, name)
	}
	return res
}

// scheduledView finds scheduled view name with id id.
func (c *Catalog) scheduledView(name string, id uint64) (*View, *pgerr.Error) {
	v := c.Views[name]
	if v == nil || (id != 0 && v.ID != id) {
		return nil, ErrNoView(name)
	}
	if v.Sched == nil {
		return nil, pgerr.ViewNotScheduled.New(name)
	}
	return v, nil
}

func (cmd *AssignView) apply(c *Catalog) *Result {
	v, err := c.scheduledView(cmd.View, cmd.ViewID)
	if err != nil {
		return &Result{Err: err}
	}
	if v.Sched.Epoch != cmd.Epoch {
		return &Result{Err: pgerr.CheckpointFenced.New(v.Name, cmd.Epoch, v.Sched.Epoch)}
	}
	if cmd.Node != 0 && c.NodeByID(cmd.Node) == nil {
		return &Result{Err: pgerr.NodeNotFound.New(fmt.Sprint(cmd.Node))}
	}
	v.Sched.Node = cmd.Node
	v.Sched.Epoch++
	v.Sched.Handoff = false
	v.Sched.AssignedAt = cmd.At
	return &Result{View: v}
}

func (cmd *SetViewHandoff) apply(c *Catalog) *Result {
	v, err := c.scheduledView(cmd.View, cmd.ViewID)
	if err != nil {
		return &Result{Err: err}
	}
	if v.Sched.Epoch != cmd.Epoch {
		return &Result{Err: pgerr.CheckpointFenced.New(v.Name, cmd.Epoch, v.Sched.Epoch)}
	}
	v.Sched.Handoff = true
	return &Result{View: v}
}

func (cmd *RecordCheckpoint) apply(c *Catalog) *Result {
	v, err := c.scheduledView(cmd.View, cmd.ViewID)
	if err != nil {
		return &Result{Err: err}
	}
	ck := cmd.Checkpoint
	s := v.Sched
	if ck.Epoch != s.Epoch || cmd.Node != s.Node || s.Node == 0 {
		return &Result{Err: pgerr.CheckpointFenced.New(v.Name, ck.Epoch, s.Epoch)}
	}
	if s.Checkpoint != nil && s.Checkpoint.Epoch == ck.Epoch && ck.Seq <= s.Checkpoint.Seq {
		return &Result{Err: pgerr.CheckpointFenced.New(v.Name, ck.Epoch, s.Epoch)}
	}
	cp := *ck
	cp.Offsets = slices.Clone(ck.Offsets)
	s.Checkpoint = &cp
	return &Result{View: v}
}

func (cmd *CreateSchedule) apply(c *Catalog) *Result {
	s := *cmd.Schedule
	if _, ok := c.Schedules[s.Name]; ok {
		if cmd.IfNotExists {
			return &Result{Notice: fmt.Sprintf("schedule %q already exists, skipping", s.Name)}
		}
		return &Result{Err: pgerr.ScheduleExists.New(s.Name)}
	}
	if _, ok := c.Disks[s.Disk]; !ok {
		return &Result{Err: pgerr.DiskNotFound.New(s.Disk)}
	}
	if c.Schedules == nil {
		c.Schedules = map[string]*Schedule{}
	}
	s.ID = c.NextID
	c.NextID++
	c.Schedules[s.Name] = &s
	return &Result{}
}

func (cmd *DropSchedules) apply(c *Catalog) *Result {
	res := &Result{}
	for _, name := range cmd.Names {
		if _, ok := c.Schedules[name]; !ok {
			if cmd.IfExists {
				res.Notice = fmt.Sprintf("schedule %q does not exist, skipping", name)
				continue
			}
			return &Result{Err: pgerr.ScheduleNotFound.New(name)}
		}
		delete(c.Schedules, name)
		res.Dropped = append(res.Dropped, name)
	}
	return res
}

func (cmd *UpdateSchedule) apply(c *Catalog) *Result {
	s := c.Schedules[cmd.Name]
	if s == nil {
		return &Result{Err: pgerr.ScheduleNotFound.New(cmd.Name)}
	}
	s.NextRun, s.LastRun, s.LastStatus, s.LastError = cmd.NextRun, cmd.LastRun, cmd.LastStatus, cmd.LastError
	return &Result{}
}

// SortedDisks returns the disks by name.
func (c *Catalog) SortedDisks() []*Disk {
	ds := make([]*Disk, 0, len(c.Disks))
	for _, d := range c.Disks {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Name < ds[j].Name })
	return ds
}

// SortedSchedules returns the schedules by name.
func (c *Catalog) SortedSchedules() []*Schedule {
	ss := make([]*Schedule, 0, len(c.Schedules))
	for _, s := range c.Schedules {
		ss = append(ss, s)
	}
	sort.Slice(ss, func(i, j int) bool { return ss[i].Name < ss[j].Name })
	return ss
}

// ScheduledViews returns the scheduled views, by name.
func (c *Catalog) ScheduledViews() []*View {
	var vs []*View
	for _, v := range c.SortedViews() {
		if v.Sched != nil {
			vs = append(vs, v)
		}
	}
	return vs
}
