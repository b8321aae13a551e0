package session

import (
	"strings"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/pgerr"
)

// schedFake is fakeBackend with a disk d, liveness, and a scheduler that
// assigns every unowned scheduled view to n2 when poked (unless off).
type schedFake struct {
	*fakeBackend
	dead  map[string]bool
	off   bool // the scheduler assigns nothing
	pokes int
}

func newSchedFake() *schedFake {
	f := newFake()
	f.coverAfter = 1
	f.cat.Disks = map[string]*catalog.Disk{"d": {Name: "d", Type: catalog.DiskFile, Path: "/x"}, "e": {Name: "e", Type: catalog.DiskFile, Path: "/y"}}
	return &schedFake{fakeBackend: f, dead: map[string]bool{}}
}

func (f *schedFake) Liveness(nd *catalog.Node) string {
	if f.dead[nd.Name] {
		return "dead"
	}
	return "live"
}

func (f *schedFake) PokeOps() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pokes++
	if f.off {
		return
	}
	for _, v := range f.cat.Views {
		if v.Sched != nil && v.Sched.Node == 0 {
			v.Sched.Node, v.Sched.Epoch = 2, 1
		}
	}
}

// Both spellings make a scheduled view: one shard, one replica, no
// groups, the disk and the interval (default 5 s); CREATE returns once
// the scheduler assigned it and its back-fill is done.
func TestCreateScheduledView(t *testing.T) {
	f := newSchedFake()
	s := New(f, "cairn", nil)
	for sql, want := range map[string]catalog.Scheduled{
		"CREATE MATERIALIZED VIEW a WITH (ha = 'scheduled', disk = 'd') AS SELECT count(*) FROM s":                                                                                           {Disk: "d", IntervalMS: 5000},
		"CREATE MATERIALIZED VIEW b WITH (ha = 'Scheduled', disk = 'e', checkpoint_interval = '2s') AS SELECT count(*) FROM s":                                                               {Disk: "e", IntervalMS: 2000},
		"CREATE VIEW c AS SELECT k, count(*) FROM s GROUP BY k SETTINGS checkpoint_settings = 'storage_type=shared;shared_disk=d'":                                                           {Disk: "d", IntervalMS: 5000},
		"CREATE VIEW d AS SELECT count(*) FROM s SETTINGS checkpoint_settings = 'storage_type=shared; shared_disk=d; interval=1.5'":                                                          {Disk: "d", IntervalMS: 1500},
		"CREATE VIEW e AS SELECT count(*) FROM s SETTINGS checkpoint_settings = 'storage_type=shared;shared_disk=d', checkpoint_interval = 3":                                                {Disk: "d", IntervalMS: 3000},
		"CREATE VIEW f WITH (ha = 'scheduled', disk = 'd', checkpoint_interval = 7) AS SELECT count(*) FROM s SETTINGS checkpoint_settings = 'storage_type=shared;shared_disk=d;interval=7'": {Disk: "d", IntervalMS: 7000},
	} {
		before := f.pokes
		mustRun(t, s, sql)
		v := f.lastView(t)
		if v.Sched == nil || v.Sched.Disk != want.Disk || v.Sched.IntervalMS != want.IntervalMS {
			t.Fatalf("%s: sched %+v, want %+v", sql, v.Sched, want)
		}
		if v.Shards != 1 || v.Replicas != 1 || len(v.Groups) != 0 || v.HA() != catalog.HAScheduled {
			t.Fatalf("%s: shards %d replicas %d groups %v", sql, v.Shards, v.Replicas, v.Groups)
		}
		if f.pokes == before || f.cat.Views[v.Name].Sched.Node != 2 {
			t.Fatalf("%s: CREATE did not wait for the assignment (pokes %d)", sql, f.pokes)
		}
	}
	// ha = 'raft' is the default, said out loud.
	mustRun(t, s, "CREATE VIEW r WITH (ha = 'raft', shards = 2) AS SELECT count(*) FROM s")
	if v := f.lastView(t); v.Sched != nil || v.Shards != 2 || v.HA() != catalog.HARaft {
		t.Fatalf("ha = 'raft': %+v", v)
	}
	// WITH checkpoint_interval works for a Raft view too (its replicas' checkpoints).
	mustRun(t, s, "CREATE VIEW r2 WITH (checkpoint_interval = '250ms') AS SELECT count(*) FROM s")
	if v := f.lastView(t); v.Sched != nil || v.Settings["checkpoint_interval"] != "250ms" {
		t.Fatalf("raft view checkpoint_interval: %+v", v.Settings)
	}
}

// Every inconsistent or impossible request is refused before anything
// is proposed, with a SQLSTATE and a message naming what is wrong.
func TestCreateScheduledViewErrors(t *testing.T) {
	f := newSchedFake()
	s := New(f, "cairn", nil)
	q := " AS SELECT count(*) FROM s"
	for _, c := range []struct{ sql, code, words string }{
		{"CREATE VIEW x WITH (ha = 'scheduled', disk = 'nope')" + q, pgerr.UndefinedObject, `disk "nope" does not exist`},
		{"CREATE VIEW x" + q + " SETTINGS checkpoint_settings = 'storage_type=shared;shared_disk=nope'", pgerr.UndefinedObject, `disk "nope"`},
		{"CREATE VIEW x WITH (ha = 'raft', disk = 'd')" + q, pgerr.InvalidParameterValue, "ha = 'raft'"},
		{"CREATE VIEW x WITH (ha = 'raft')" + q + " SETTINGS checkpoint_settings = 'storage_type=shared;shared_disk=d'", pgerr.InvalidParameterValue, "ha = 'raft'"},
		{"CREATE VIEW x WITH (ha = 'paxos')" + q, pgerr.InvalidParameterValue, `"paxos"`},
		{"CREATE VIEW x WITH (disk = 'd')" + q, pgerr.InvalidParameterValue, "needs ha = 'scheduled'"},
		{"CREATE VIEW x WITH (ha = 'scheduled')" + q, pgerr.InvalidParameterValue, "needs a disk"},
		{"CREATE VIEW x" + q + " SETTINGS checkpoint_settings = 'storage_type=shared'", pgerr.InvalidParameterValue, "needs a disk"},
		{"CREATE VIEW x" + q + " SETTINGS checkpoint_settings = 'shared_disk=d'", pgerr.InvalidParameterValue, "needs storage_type=shared"},
		{"CREATE VIEW x WITH (ha = 'scheduled', disk = 'd')" + q + " SETTINGS checkpoint_settings = 'storage_type=local'", pgerr.InvalidParameterValue, "disagree"},
		{"CREATE VIEW x WITH (ha = 'scheduled', disk = 'd')" + q + " SETTINGS checkpoint_settings = 'storage_type=shared;shared_disk=e'", pgerr.InvalidParameterValue, "disagree"},
		{"CREATE VIEW x WITH (ha = 'scheduled', disk = 'd', checkpoint_interval = 2)" + q + " SETTINGS checkpoint_interval = 3", pgerr.InvalidParameterValue, "disagree"},
		{"CREATE VIEW x WITH (ha = 'scheduled', disk = 'd', shards = 2)" + q, pgerr.FeatureNotSupported, `"shards" does not apply to a scheduled view`},
		{"CREATE VIEW x WITH (ha = 'scheduled', disk = 'd', replicas = 1)" + q, pgerr.FeatureNotSupported, `"replicas"`},
		{"CREATE VIEW x WITH (ha = 'scheduled', disk = 'd', checkpoint_interval = '1ms')" + q, pgerr.InvalidParameterValue, "checkpoint"},
		{"CREATE VIEW x" + q + " SETTINGS checkpoint_settings = 'storage_type=shared;shared_disk=d;async=true'", pgerr.FeatureNotSupported, "async"},
		// A transform keeps no state: nothing to schedule.
		{"CREATE VIEW x WITH (ha = 'scheduled', disk = 'd') AS SELECT k FROM s", pgerr.InvalidParameterValue, "transform"},
	} {
		n := len(f.proposed)
		wantErr(t, s, c.sql, c.code, c.words)
		if len(f.proposed) != n {
			t.Fatalf("%s: proposed %v though refused", c.sql, f.proposed[n:])
		}
	}
	// No live node that may own it: refused, nothing created.
	f.dead["n1"], f.dead["n2"] = true, true
	n := len(f.proposed)
	wantErr(t, s, "CREATE VIEW x WITH (ha = 'scheduled', disk = 'd')"+q, pgerr.ObjectNotInPrerequisiteState, "no live node can own")
	if len(f.proposed) != n {
		t.Fatal("a view no node can own was proposed")
	}
}

// CREATE waits for the assignment only so long: past viewAssignWait it
// fails with a clear error and a NOTICE that the view exists.
func TestCreateScheduledViewAssignTimeout(t *testing.T) {
	defer func(d time.Duration) { viewAssignWait = d }(viewAssignWait)
	viewAssignWait = 30 * time.Millisecond
	f := newSchedFake()
	f.off = true
	s := New(f, "cairn", nil)
	res, err := runSQL(s, "CREATE VIEW x WITH (ha = 'scheduled', disk = 'd') AS SELECT count(*) FROM s")
	e := pgerr.From(err)
	if err == nil || e.Code != pgerr.ObjectNotInPrerequisiteState || !strings.Contains(e.Message, `no node took scheduled view "x" within 30ms`) {
		t.Fatalf("err %v", err)
	}
	if len(res.Notices) != 1 || !strings.Contains(res.Notices[0], `view "x" was created`) {
		t.Fatalf("notices %q", res.Notices)
	}
	// With background_ddl on, CREATE does not wait at all.
	mustRun(t, s, "SET background_ddl = on")
	if _, err := runSQL(s, "CREATE VIEW y WITH (ha = 'scheduled', disk = 'd') AS SELECT count(*) FROM s"); err != nil {
		t.Fatalf("background_ddl: %v", err)
	}
}

// A compute node holds no replicas: leaders cannot fail over to it.
func TestFailoverToComputeRefused(t *testing.T) {
	f := newSchedFake()
	f.cat.Nodes["c1"] = &catalog.Node{ID: 7, Name: "c1", Role: "compute"}
	s := New(f, "cairn", nil)
	wantErr(t, s, "ALTER SYSTEM FAILOVER TO 'c1'", pgerr.ObjectNotInPrerequisiteState, "compute node", "FAILOVER TO a data node")
}
