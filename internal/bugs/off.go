//go:build !cairn_bugs

package bugs

import (
	"errors"

	"github.com/cairndb/cairn/internal/sql/exec"
)

// counters is empty: nothing is counted in a normal build.
//
//lint:ignore U1000 the field of this type is used only with -tags cairn_bugs
type counters struct{}

// Built says whether this binary has the bugs compiled in.
const Built = false

// Parse refuses every bug: this binary was built without them.
func Parse(lists []string) (*Set, error) {
	if len(names(lists)) == 0 {
		return nil, nil
	}
	return nil, errors.New("this cairn binary was built without deliberate bugs; build it with -tags cairn_bugs (checker self-tests only)")
}

// AckWithoutCommit is always false in a normal build.
func (b *Set) AckWithoutCommit() bool { return false }

// SkipReadIndex is always false in a normal build.
func (b *Set) SkipReadIndex(bool) bool { return false }

// DropDelta returns cmd unchanged in a normal build.
func (b *Set) DropDelta(_ *exec.ViewPlan, cmd []byte) []byte { return cmd }
