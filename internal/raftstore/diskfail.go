package raftstore

import (
	"fmt"
	"os"

	"github.com/cockroachdb/pebble/v2"
)

// ExitDiskFailure is the exit status of a process whose raft store saw a
// synced write fail (EX_IOERR of sysexits.h).
const ExitDiskFailure = 74

// diskFailure is panicked on the loop goroutine once a failed synced write
// was reported to TestingKnobs.OnDiskFailure; loop recovers it and stops,
// so nothing after the failed commit is sent, applied or acknowledged.
type diskFailure struct{ err error }

// commitSynced commits b with an fsync (skipped with NoSync), after the
// SyncFault hook. Every synced write of the store goes through it, so an
// injected fault and a real one take the same path: diskFailed.
func (s *Store) commitSynced(b *pebble.Batch, what string) {
	var err error
	if s.cfg.SyncFault != nil {
		err = s.cfg.SyncFault()
	}
	if err == nil {
		opts := pebble.Sync
		if s.cfg.NoSync {
			opts = pebble.NoSync
		}
		err = b.Commit(opts)
	}
	if err != nil {
		s.diskFailed(what, err)
	}
}

// diskFailed ends the process: after a failed fsync the kernel may have
// dropped the dirty pages and marked them clean, so a retried fsync can
// succeed without the data being on disk ("fsyncgate"). The raft state in
// memory is ahead of the disk, and carrying on could acknowledge writes
// that are not durable; a restart recovers from what the disk really
// holds. It never returns: with TestingKnobs.OnDiskFailure set (tests of
// this package) it stops the loop instead of the process. Call it only on
// the loop goroutine.
func (s *Store) diskFailed(what string, err error) {
	fmt.Fprintf(os.Stderr, "FATAL: disk failure in the raft store: %s: %v; exiting without retrying fsync (no write after the failed sync is acknowledged)\n", what, err)
	if k := s.cfg.TestingKnobs.OnDiskFailure; k != nil {
		k(err)
		panic(diskFailure{err})
	}
	os.Exit(ExitDiskFailure)
}

// recoverDiskFailure, deferred by loop, turns a diskFailure panic into a
// stop of the loop; any other panic goes on.
func recoverDiskFailure() {
	if r := recover(); r != nil {
		if _, ok := r.(diskFailure); !ok {
			panic(r)
		}
	}
}
