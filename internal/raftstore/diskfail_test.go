package raftstore

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// diskFaultStore opens a one-voter group 1 on fs with the disk-failure
// knob set; failures receives what the store reported.
func diskFaultStore(t *testing.T, fs vfs.FS, fault func() error) (*Store, *countSM, chan error) {
	t.Helper()
	failures := make(chan error, 4)
	cfg := Config{Dir: "store", FS: fs, SyncFault: fault}
	cfg.TestingKnobs.OnDiskFailure = func(err error) { failures <- err }
	s := openTestStore(t, cfg)
	t.Cleanup(func() { _ = s.Close() })
	sm := newCountSM(1)
	if err := s.StartGroup(1, sm, []uint64{1}); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, []*Store{s}, 1)
	return s, sm, failures
}

// TestDiskFaultSyncFailStops: once a synced commit fails the proposal is
// not acknowledged, the store stops serving, and what the failed batch
// held is not on disk after a restart (nothing retried the sync).
func TestDiskFaultSyncFailStops(t *testing.T) {
	fs := vfs.NewMem()
	var fail atomic.Bool
	injected := errors.New("injected fsync failure")
	s, _, failures := diskFaultStore(t, fs, func() error {
		if fail.Load() {
			return injected
		}
		return nil
	})
	if _, err := s.Propose(ctxT(t), 1, []byte("before")); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	if res, err := s.Propose(ctxT(t), 1, []byte("after")); !errors.Is(err, ErrStopped) {
		t.Fatalf("propose with a failing disk: result %v, err %v; want ErrStopped", res, err)
	}
	select {
	case err := <-failures:
		if !errors.Is(err, injected) {
			t.Fatalf("reported failure %v, want the injected one", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("disk failure not reported")
	}
	if _, err := s.Propose(ctxT(t), 1, []byte("later")); !errors.Is(err, ErrStopped) {
		t.Fatalf("propose after the failure: %v, want ErrStopped", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fail.Store(false)
	s2 := openTestStore(t, Config{Dir: "store", FS: fs})
	defer s2.Close()
	sm2 := newCountSM(1)
	if err := s2.StartGroup(1, sm2, []uint64{1}); err != nil {
		t.Fatal(err)
	}
	waitLeader(t, []*Store{s2}, 1)
	got := sm2.snapshot()
	if got["before"] != 1 || got["after"] != 0 || got["later"] != 0 {
		t.Fatalf("after restart: %v; want only \"before\"", got)
	}
}

// TestDiskFaultStallDelays: a stalled sync delays the acknowledgement by
// the stall, and the write is applied once.
func TestDiskFaultStallDelays(t *testing.T) {
	var stall atomic.Int64
	s, sm, failures := diskFaultStore(t, vfs.NewMem(), func() error {
		time.Sleep(time.Duration(stall.Load()))
		return nil
	})
	stall.Store(int64(300 * time.Millisecond))
	start := time.Now()
	if _, err := s.Propose(ctxT(t), 1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Fatalf("ack after %s with a 300ms sync stall", d)
	}
	stall.Store(0)
	if _, err := s.Propose(ctxT(t), 1, []byte("y")); err != nil {
		t.Fatal(err)
	}
	if got := sm.snapshot(); got["x"] != 1 || got["y"] != 1 {
		t.Fatalf("applied %v", got)
	}
	select {
	case err := <-failures:
		t.Fatalf("a stall reported a disk failure: %v", err)
	default:
	}
}

// TestDiskFaultRealSyncError: a real fsync error from the engine (the WAL
// sync fails in the filesystem) takes the same path as an injected one.
func TestDiskFaultRealSyncError(t *testing.T) {
	var arm atomic.Bool
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		switch op.Kind {
		case errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo:
			if arm.Load() && strings.HasSuffix(op.Path, ".log") {
				return errorfs.ErrInjected
			}
		}
		return nil
	}))
	s, _, failures := diskFaultStore(t, fs, nil)
	if _, err := s.Propose(ctxT(t), 1, []byte("before")); err != nil {
		t.Fatal(err)
	}
	arm.Store(true)
	if res, err := s.Propose(ctxT(t), 1, []byte("after")); !errors.Is(err, ErrStopped) {
		t.Fatalf("propose with a failing WAL sync: result %v, err %v; want ErrStopped", res, err)
	}
	select {
	case err := <-failures:
		t.Logf("reported: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("WAL sync failure not reported")
	}
}
