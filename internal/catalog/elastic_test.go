package catalog

import (
	"reflect"
	"testing"

	"github.com/cairndb/cairn/internal/pgerr"
	"github.com/cairndb/cairn/internal/types"
)

// mustApply applies c and fails the test on an error result.
func mustApply(t *testing.T, cat *Catalog, c Command) *Catalog {
	t.Helper()
	next, res := Apply(cat, c)
	if res.Err != nil {
		t.Fatalf("%T: %v", c, res.Err)
	}
	return next
}

// refused applies c and checks it fails with the error def names.
func refused(t *testing.T, cat *Catalog, c Command, d *pgerr.Def) {
	t.Helper()
	next, res := Apply(cat, c)
	if res.Err == nil {
		t.Fatalf("%T: applied, want %s", c, d.Name)
	}
	if res.Err.Code != d.Code {
		t.Fatalf("%T: %v (%s), want %s (%s)", c, res.Err, res.Err.Code, d.Name, d.Code)
	}
	if next != cat {
		t.Fatalf("%T: a refused command changed the catalog", c)
	}
}

func TestElasticCommandsRoundTrip(t *testing.T) {
	for _, c := range []Command{
		&CreateDisk{Disk: &Disk{Name: "d", Type: DiskS3, Endpoint: "127.0.0.1:9000", Bucket: "b", SecretAccessKey: "s"}, IfNotExists: true},
		&DropDisks{Names: []string{"d", "e"}, IfExists: true},
		&AssignView{View: "v", ViewID: 7, Node: 2, Epoch: 3, At: 99},
		&SetViewHandoff{View: "v", ViewID: 7, Epoch: 4},
		&RecordCheckpoint{View: "v", ViewID: 7, Node: 2, Checkpoint: &ViewCheckpoint{Epoch: 4, Seq: 1, Key: "views/7/x", Offsets: []uint64{3, 4}, At: 5, Bytes: 6, Final: true}},
		&CreateSchedule{Schedule: &Schedule{Name: "s", Statement: "BACKUP ALL TO DISK d", Disk: "d", EveryMS: 3600000}},
		&DropSchedules{Names: []string{"s"}},
		&UpdateSchedule{Name: "s", NextRun: 1, LastRun: 2, LastStatus: "failed", LastError: "x"},
	} {
		got, err := Decode(Encode(c))
		if err != nil {
			t.Fatalf("%T: %v", c, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("%T: decoded %+v, want %+v", c, got, c)
		}
	}
	if _, err := Decode([]byte(`{"op":"assign_view"}`)); err == nil {
		t.Error("an assign_view without its body decoded")
	}
}

func TestScheduledViewFencing(t *testing.T) {
	cat := New()
	cat = mustApply(t, cat, &Init{ClusterID: "c", Node: &Node{ID: 1, Name: "n1"}})
	cat = mustApply(t, cat, &AddNode{Node: &Node{ID: 2, Name: "n2", Role: "compute"}})
	cat = mustApply(t, cat, &CreateStream{Stream: &Stream{Name: "ev", Cols: []Column{{Name: "k", T: types.Text}}, Shards: 2, Replicas: 1}})
	sched := &View{Name: "v", Stream: "ev", Shards: 4, Replicas: 3, Query: "SELECT k, count(*) FROM ev GROUP BY k", Sched: &Scheduled{Disk: "d", IntervalMS: 1000, Node: 5, Epoch: 9}}
	refused(t, cat, &CreateView{View: sched}, pgerr.DiskNotFound)
	cat = mustApply(t, cat, &CreateDisk{Disk: &Disk{Name: "d", Type: DiskFile, Path: "/tmp/d"}})
	refused(t, cat, &CreateDisk{Disk: &Disk{Name: "d", Type: DiskFile, Path: "/tmp/d"}}, pgerr.DiskExists)
	cat = mustApply(t, cat, &CreateView{View: sched})
	v := cat.Views["v"]
	if v.Shards != 1 || v.Replicas != 1 || len(v.Groups) != 0 || v.Sched.Node != 0 || v.Sched.Epoch != 0 || len(v.Start) != 2 {
		t.Fatalf("scheduled view as created: %+v %+v", v, v.Sched)
	}
	if len(cat.Groups()) != 2 {
		t.Fatalf("a scheduled view made raft groups: %v", cat.Groups())
	}
	refused(t, cat, &DropDisks{Names: []string{"d"}}, pgerr.DiskInUse)

	// Assign to n2 (epoch 0 → 1); a second decision on epoch 0 loses.
	cat = mustApply(t, cat, &AssignView{View: "v", ViewID: v.ID, Node: 2, Epoch: 0})
	refused(t, cat, &AssignView{View: "v", ViewID: v.ID, Node: 1, Epoch: 0}, pgerr.CheckpointFenced)
	ck := func(node, epoch, seq uint64) *RecordCheckpoint {
		return &RecordCheckpoint{View: "v", ViewID: v.ID, Node: node, Checkpoint: &ViewCheckpoint{Epoch: epoch, Seq: seq, Key: "k", Offsets: []uint64{1, 2}}}
	}
	cat = mustApply(t, cat, ck(2, 1, 1))
	refused(t, cat, ck(2, 1, 1), pgerr.CheckpointFenced) // not newer
	refused(t, cat, ck(1, 1, 2), pgerr.CheckpointFenced) // not the owner
	// Reassign to n1 (epoch 2): n2's later checkpoints are fenced.
	cat = mustApply(t, cat, &AssignView{View: "v", ViewID: v.ID, Node: 1, Epoch: 1})
	refused(t, cat, ck(2, 1, 2), pgerr.CheckpointFenced)
	refused(t, cat, ck(2, 2, 1), pgerr.CheckpointFenced)
	cat = mustApply(t, cat, ck(1, 2, 1))
	if got := cat.Views["v"].Sched; got.Node != 1 || got.Epoch != 2 || got.Checkpoint.Epoch != 2 {
		t.Fatalf("after the reassignment: %+v", got)
	}
	// Hand-off is asked of the current epoch only.
	refused(t, cat, &SetViewHandoff{View: "v", ViewID: v.ID, Epoch: 1}, pgerr.CheckpointFenced)
	cat = mustApply(t, cat, &SetViewHandoff{View: "v", ViewID: v.ID, Epoch: 2})
	if !cat.Views["v"].Sched.Handoff {
		t.Fatal("hand-off not recorded")
	}
	// A re-created view of the same name is not the one decided on.
	refused(t, cat, &AssignView{View: "v", ViewID: v.ID + 100, Node: 1, Epoch: 2}, pgerr.ViewNotFound)

	cat = mustApply(t, cat, &DropViews{Names: []string{"v"}})
	cat = mustApply(t, cat, &CreateSchedule{Schedule: &Schedule{Name: "nightly", Disk: "d", EveryMS: 1000}})
	refused(t, cat, &DropDisks{Names: []string{"d"}}, pgerr.DiskInUse)
	cat = mustApply(t, cat, &DropSchedules{Names: []string{"nightly"}})
	cat = mustApply(t, cat, &DropDisks{Names: []string{"d"}})
	if len(cat.Disks) != 0 {
		t.Fatal("disk not dropped")
	}
}

func TestDiskRedacted(t *testing.T) {
	d := &Disk{Name: "d", SecretAccessKey: "hunter2"}
	if r := d.Redacted(); r.SecretAccessKey == "hunter2" || d.SecretAccessKey != "hunter2" {
		t.Fatalf("Redacted: %+v (original %+v)", r, d)
	}
}
