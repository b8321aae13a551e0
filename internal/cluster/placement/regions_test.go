package placement_test

import (
	"fmt"
	"strings"

	"github.com/cockroachdb/datadriven"

	"github.com/cairndb/cairn/internal/catalog"
	"github.com/cairndb/cairn/internal/cluster/placement"
)

// runRegions runs the region commands of the scripts (see TestScripts).
func (h *harness) runRegions(d *datadriven.TestData) (string, bool, error) {
	switch d.Cmd {
	case "place-regional":
		shards, err := argInt(d, "shards", 1)
		if err != nil {
			return "", true, err
		}
		replicas, err := argInt(d, "replicas", 1)
		if err != nil {
			return "", true, err
		}
		per, err := argInt(d, "learners", 1)
		if err != nil {
			return "", true, err
		}
		primary, _ := arg(d, "primary")
		regions, _ := arg(d, "regions")
		if len(primary) != 1 {
			return "", true, fmt.Errorf("place-regional needs primary=")
		}
		voters, learners, err := placement.InitialRegional(h.cat, h.snapshot(1), shards, replicas, primary[0], regions, per)
		if err != nil {
			return "", true, err
		}
		var b strings.Builder
		for i := range voters {
			fmt.Fprintf(&b, "shard %d: voters %s; learners %s\n", i, h.names(voters[i]), h.names(learners[i]))
		}
		return b.String(), true, nil
	case "regional":
		if len(d.CmdArgs) == 0 {
			return "", true, fmt.Errorf("regional needs a name")
		}
		primary, _ := arg(d, "primary")
		if len(primary) != 1 {
			return "", true, fmt.Errorf("regional needs primary=")
		}
		r := &catalog.Regional{Primary: primary[0], PerRegion: 1}
		for _, line := range lines(d.Input) {
			var ids []uint64
			for _, n := range strings.Fields(line) {
				id, err := h.id(n)
				if err != nil {
					return "", true, err
				}
				ids = append(ids, id)
			}
			r.Learners = append(r.Learners, ids)
		}
		name := d.CmdArgs[0].Key
		switch {
		case h.cat.Streams[name] != nil:
			h.cat.Streams[name].Regional = r
		case h.cat.Views[name] != nil:
			h.cat.Views[name].Regional = r
		default:
			return "", true, fmt.Errorf("no stream or view %q", name)
		}
		return "", true, nil
	}
	return "", false, nil
}
