//go:build cairn_bugs

package bugs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/cairndb/cairn/internal/sql/exec"
	"github.com/cairndb/cairn/internal/viewsm"
)

// counters count appends and deltas for the one-in-N choices.
type counters struct{ acks, deltas atomic.Uint64 }

// Built says whether this binary has the bugs compiled in.
const Built = true

// Parse turns --unsafe-bug names into a Set; nil when none is named. An
// unknown name is an error.
func Parse(lists []string) (*Set, error) {
	var b Set
	named := false
	for _, name := range names(lists) {
		switch name {
		case "ack-before-commit":
			b.AckBeforeCommit = true
		case "drop-view-delta":
			b.DropViewDelta = true
		case "stale-read":
			b.StaleRead = true
		default:
			return nil, fmt.Errorf("unknown bug %q; known: %s", name, strings.Join(Names, ", "))
		}
		named = true
	}
	if !named {
		return nil, nil
	}
	return &b, nil
}

// AckWithoutCommit (ack-before-commit) reports, for one stream append in
// ten, that it is to be acknowledged without being proposed.
func (b *Set) AckWithoutCommit() bool {
	return b != nil && b.AckBeforeCommit && b.n.acks.Add(1)%10 == 0
}

// SkipReadIndex (stale-read) reports whether a linearizable read of a
// data group skips its ReadIndex barrier (never for the meta group: the
// bug is about user data, not the catalog).
func (b *Set) SkipReadIndex(meta bool) bool {
	return b != nil && b.StaleRead && !meta
}

// DropDelta (drop-view-delta) returns cmd, a view delta proposal, or for
// one in twenty the same offsets with an empty delta: the view moves past
// those events without their rows.
func (b *Set) DropDelta(plan *exec.ViewPlan, cmd []byte) []byte {
	if b == nil || !b.DropViewDelta || b.n.deltas.Add(1)%20 != 0 {
		return cmd
	}
	from, to, ok := splitDeltaOffsets(cmd)
	if !ok {
		return cmd
	}
	return viewsm.EncodeDelta(nil, from, to, plan.AppendDelta(nil, plan.NewDelta()))
}

// splitDeltaOffsets reads the offsets of a viewsm delta command
// ('D', uvarint count, count from-offsets, count to-offsets, delta).
func splitDeltaOffsets(cmd []byte) (from, to []uint64, ok bool) {
	if len(cmd) < 2 || cmd[0] != 'D' {
		return nil, nil, false
	}
	r := bytes.NewReader(cmd[1:])
	cnt, err := binary.ReadUvarint(r)
	if err != nil || cnt > uint64(len(cmd)) {
		return nil, nil, false
	}
	offs := make([]uint64, 2*cnt)
	for i := range offs {
		if offs[i], err = binary.ReadUvarint(r); err != nil {
			return nil, nil, false
		}
	}
	return offs[:cnt], offs[cnt:], true
}
