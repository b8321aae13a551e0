package chaos

import (
	"reflect"
	"slices"
	"testing"
	"time"
)

func TestPlanDeterministic(t *testing.T) {
	c := PlanConfig{Seed: 42, Nodes: 5, Duration: 5 * time.Minute, Rate: 5 * time.Second, Kinds: AllKinds}
	a, b := Plan(c), Plan(c)
	if len(a) < 20 {
		t.Fatalf("only %d faults planned in 5 minutes at one per 5 s", len(a))
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave two schedules")
	}
	c.Seed = 43
	if reflect.DeepEqual(a, Plan(c)) {
		t.Fatal("seeds 42 and 43 gave the same schedule")
	}
}

// TestPlanInvariants replays many plans and checks the promises of Plan:
// a minority faulted at most, one partition at a time, at least 3 data
// nodes, bounded durations, only the asked kinds.
func TestPlanInvariants(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		nodes := 3 + int(seed%5)
		kinds := AllKinds
		if seed%3 == 0 {
			kinds = DefaultKinds
		}
		plan := Plan(PlanConfig{Seed: seed, Nodes: nodes, Duration: 3 * time.Minute, Rate: 4 * time.Second, Kinds: kinds})
		type win struct {
			end   time.Duration
			nodes []string
			part  bool
		}
		var wins []win
		active := nodes
		total := nodes
		for _, p := range plan {
			if !slices.Contains(kinds, p.Kind) {
				t.Fatalf("seed %d: kind %s not asked for", seed, p.Kind)
			}
			if p.At <= 0 || p.At >= 3*time.Minute || p.Dur < 0 || p.Dur > 10*time.Second {
				t.Fatalf("seed %d: %s out of bounds", seed, p)
			}
			wins = slices.DeleteFunc(wins, func(w win) bool { return w.end <= p.At })
			faulted := 0
			part := false
			for _, w := range wins {
				faulted += len(w.nodes)
				part = part || w.part
			}
			var takes []string
			switch p.Kind {
			case KindKill, KindPause, KindRestart:
				takes = p.Targets
				end := p.At + p.Dur + 5*time.Second
				if p.Kind == KindPause {
					end = p.At + p.Dur + time.Second
				}
				if p.Kind == KindRestart {
					end = p.At + 10*time.Second
				}
				wins = append(wins, win{end: end, nodes: takes})
			case KindPartition:
				if part {
					t.Fatalf("seed %d: %s while another partition is in force", seed, p)
				}
				takes = p.Sides[0]
				if len(p.Sides[0]) == 0 || len(p.Sides[1]) == 0 || len(p.Sides[0]) >= len(p.Sides[1])+len(p.Targets) {
					t.Fatalf("seed %d: %s has no majority side", seed, p)
				}
				wins = append(wins, win{end: p.At + p.Dur + 2*time.Second, nodes: takes, part: true})
			case KindDisk:
				takes = p.Targets
				if p.Sub == SubFail {
					wins = append(wins, win{end: p.At + DiskFailGrace + 10*time.Second, nodes: takes})
				} else {
					wins = append(wins, win{end: p.At + p.Dur + 2*time.Second, nodes: takes})
				}
			case KindMembership:
				switch p.Sub {
				case SubAdd:
					total++
					active++
				case SubDecommission:
					active--
				}
			}
			if active < 3 || total > MaxNodes {
				t.Fatalf("seed %d: %s leaves %d active of %d", seed, p, active, total)
			}
			if faulted+len(takes) > (active-1)/2 {
				t.Fatalf("seed %d: %s makes %d of %d nodes faulted", seed, p, faulted+len(takes), active)
			}
		}
	}
}

func TestParseKinds(t *testing.T) {
	k, err := ParseKinds("kill, pause,kill,disk")
	if err != nil || !reflect.DeepEqual(k, []string{"kill", "pause", "disk"}) {
		t.Fatalf("%v %v", k, err)
	}
	if _, err := ParseKinds("kill,nuke"); err == nil {
		t.Fatal("unknown fault accepted")
	}
}
