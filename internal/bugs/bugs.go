// Package bugs holds the deliberate defects a checker's self-test switches
// on (cairn start --unsafe-bug NAME), so that cairn chaos can prove it
// catches real bugs. They exist only in a binary built with
// -tags cairn_bugs: in a normal build every hook is a constant that
// compiles to nothing, and Parse refuses any name.
package bugs

import (
	"strings"
)

// Set is the bugs switched on; a nil *Set has every one off.
type Set struct {
	// AckBeforeCommit: one stream append in ten is acknowledged to the
	// client without being proposed at all, so acknowledged events are
	// missing (whether or not a leader is killed).
	AckBeforeCommit bool
	// DropViewDelta: one view delta in twenty advances the view's offsets
	// but carries no rows, so the view disagrees with its stream.
	DropViewDelta bool
	// StaleRead: read_from = leader (and primary_only) reads of streams
	// and views skip the ReadIndex barrier and read the local replica as
	// it is, even on a lagging follower.
	StaleRead bool

	//lint:ignore U1000 counted only in a -tags cairn_bugs build
	n counters // for the one-in-N choices (empty in a normal build)
}

// Names are the names --unsafe-bug knows.
var Names = []string{"ack-before-commit", "drop-view-delta", "stale-read"}

// String lists the bugs switched on, for the startup log.
func (b *Set) String() string {
	if b == nil {
		return ""
	}
	var on []string
	for i, v := range []bool{b.AckBeforeCommit, b.DropViewDelta, b.StaleRead} {
		if v {
			on = append(on, Names[i])
		}
	}
	return strings.Join(on, ",")
}

// names splits --unsafe-bug values (each may be a comma list).
func names(lists []string) []string {
	var out []string
	for _, list := range lists {
		for name := range strings.SplitSeq(list, ",") {
			if name = strings.TrimSpace(name); name != "" {
				out = append(out, name)
			}
		}
	}
	return out
}
