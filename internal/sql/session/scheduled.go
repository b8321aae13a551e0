package session

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/frontend/pgwire"
	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/sql/parser"
)

// Scheduled views (issue 13): a view is Raft-replicated unless it asks
// to be scheduled, in either of two spellings (or both, if they agree):
//
//	WITH (ha = 'scheduled', disk = 'd' [, checkpoint_interval = '2s'])
//	SETTINGS checkpoint_settings = 'storage_type=shared;shared_disk=d[;interval=2]'
//
// A scheduled view runs as one task on one node (the scheduler picks it)
// and checkpoints to the disk every interval (default 5 s), so shards
// and replicas do not apply to it.

// defaultSchedInterval is a scheduled view's checkpoint interval when
// none is given.
const defaultSchedInterval = 5 * time.Second

// ckSettings is what checkpoint_settings says (checkCheckpointSettings).
type ckSettings struct {
	interval string // Go form; "" if not given
	storage  string // "shared", "local" or ""
	disk     string // shared_disk
	async    string // "true", "false" or ""
}

// viewHA reads the HA choice of new view v (before its other options):
// it sets v.Sched for a scheduled view and returns the interval WITH
// (checkpoint_interval = …) gives, in Go form ("" if none), which the
// caller merges with the SETTINGS one.
func (s *Session) viewHA(cv *parser.CreateView, v *catalog.View) (withInterval string, err error) {
	var ha, disk string
	haPos, diskPos := cv.P, cv.P
	for _, o := range cv.With {
		val, _ := optString(o)
		switch o.Key {
		case "ha":
			ha, haPos = strings.ToLower(strings.TrimSpace(val)), o.P
			if ha != catalog.HARaft && ha != catalog.HAScheduled {
				return "", pgerr.BadViewHA.New(val).WithPos(o.P)
			}
		case "disk":
			disk, diskPos = val, o.P
		case "checkpoint_interval":
			if withInterval, err = parseCheckpointInterval(val, o.P); err != nil {
				return "", err
			}
		}
	}
	var ck ckSettings
	ckPos := cv.P
	for _, o := range cv.Settings {
		if o.Key == "checkpoint_settings" {
			val, _ := optString(o)
			if ck, err = checkCheckpointSettings(val, o.P); err != nil {
				return "", err
			}
			ckPos = o.P
		}
	}
	sharedAsked := ck.storage == "shared" || ck.disk != ""
	switch {
	case ck.disk != "" && ck.storage != "shared":
		return "", pgerr.SharedDiskNeedsShared.New(ck.disk).WithPos(ckPos)
	case ha == catalog.HARaft && (disk != "" || sharedAsked):
		pos := diskPos
		if disk == "" {
			pos = ckPos
		}
		return "", pgerr.RaftViewDisk.New().WithPos(pos)
	case ha == "" && disk != "":
		return "", pgerr.DiskNeedsScheduled.New(disk).WithPos(diskPos)
	case ha == catalog.HARaft || (ha == "" && !sharedAsked):
		return withInterval, nil // a Raft view
	case ha == catalog.HAScheduled && ck.storage == "local":
		return "", pgerr.ViewHADisagree.New("ha = 'scheduled'", "storage_type=local").WithPos(ckPos)
	case ha == catalog.HAScheduled && disk == "" && ck.disk == "":
		return "", pgerr.ScheduledNeedsDisk.New().WithPos(haPos)
	case ck.storage == "shared" && disk == "" && ck.disk == "":
		return "", pgerr.ScheduledNeedsDisk.New().WithPos(ckPos)
	case disk != "" && ck.disk != "" && disk != ck.disk:
		return "", pgerr.ViewHADisagree.New(fmt.Sprintf("disk = '%s'", disk), "shared_disk="+ck.disk).WithPos(ckPos)
	case ck.async != "":
		return "", pgerr.CheckpointEntryUnsupported.New("async", "a scheduled view's task checkpoints to its disk every interval, in the background").
			WithHint("Leave out async.").WithPos(ckPos)
	}
	if disk == "" {
		disk, diskPos = ck.disk, ckPos
	}
	for _, o := range cv.With {
		if o.Key == "shards" || o.Key == "num_shards" || o.Key == "replicas" || o.Key == "num_replicas" {
			return "", pgerr.ScheduledNoShards.New(o.Key).WithPos(o.P)
		}
	}
	if s.b.Catalog().Disks[disk] == nil {
		return "", pgerr.DiskNotFound.New(disk).WithPos(diskPos)
	}
	v.Sched = &catalog.Scheduled{Disk: disk}
	v.Shards, v.Replicas = 1, 1
	return withInterval, nil
}

// setSchedInterval records a scheduled view's checkpoint interval
// (interval in Go form; "" for the default).
func setSchedInterval(v *catalog.View, interval string) {
	if v.Sched == nil {
		return
	}
	d := defaultSchedInterval
	if interval != "" {
		if p, err := time.ParseDuration(interval); err == nil {
			d = p
		}
	}
	v.Sched.IntervalMS = d.Milliseconds()
}

// canOwnViews reports whether some node could be assigned a scheduled
// view now (the rule of placement.ViewOwners: live, and no operator is
// draining or taking it out).
func (s *Session) canOwnViews() bool {
	for _, nd := range s.b.Catalog().SortedNodes() {
		if nd.CanOwnViews() && s.b.Liveness(nd) == "live" {
			return true
		}
	}
	return false
}

// Waiting for a new scheduled view's first owner.
var (
	viewAssignWait = 15 * time.Second
	viewAssignPoll = 20 * time.Millisecond
)

// waitAssigned waits until the scheduler gave scheduled view v an owner,
// at most viewAssignWait, and returns the view as the catalog now has it.
func (s *Session) waitAssigned(ctx context.Context, v *catalog.View, w pgwire.ResultWriter) (*catalog.View, error) {
	s.b.PokeOps()
	deadline := time.Now().Add(viewAssignWait)
	for {
		cur := s.b.Catalog().Views[v.Name]
		if cur == nil || cur.ID != v.ID {
			return nil, catalog.ErrNoView(v.Name) // dropped meanwhile
		}
		if cur.Sched != nil && cur.Sched.Node != 0 {
			return cur, nil
		}
		if time.Now().After(deadline) {
			w.Notice(fmt.Sprintf("view %q was created; the scheduler assigns it as soon as a node can take it (cairn_cluster.views shows its owner)", v.Name))
			return nil, pgerr.ViewNotAssigned.New(v.Name, viewAssignWait)
		}
		select {
		case <-ctx.Done():
			return nil, pgerr.From(ctx.Err())
		case <-time.After(viewAssignPoll):
		}
	}
}

// checkScaleOutViews checks an ALTER SYSTEM SET scale_out_views value.
func checkScaleOutViews(v string) (string, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > 100000 {
		return "", pgerr.IntOptionRange.New(catalog.ScaleOutViews, 1, 100000, v)
	}
	return strconv.Itoa(n), nil
}
