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
			maxDur := 10 * time.Second
			if p.Kind == KindCompute || p.Kind == KindObjstore {
				maxDur = 18 * time.Second
			}
			if p.At <= 0 || p.At >= 3*time.Minute || p.Dur < 0 || p.Dur > maxDur {
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

// TestPlanElastic: compute faults aim at a compute node or the owner, one
// fault per target at a time, and never take a data node by name; objstore
// faults do not overlap; both kinds leave the data-node faults' minority
// rule alone (TestPlanInvariants checks that with every kind).
func TestPlanElastic(t *testing.T) {
	kinds := []string{KindKill, KindCompute, KindObjstore}
	seen := map[string]bool{}
	for seed := uint64(0); seed < 100; seed++ {
		plan := Plan(PlanConfig{Seed: seed, Nodes: 3, Compute: 2, Duration: 2 * time.Minute, Rate: 3 * time.Second, Kinds: kinds})
		busy := map[string]time.Duration{} // target → end of its window
		var objEnd time.Duration
		for _, p := range plan {
			switch p.Kind {
			case KindCompute:
				if len(p.Targets) != 1 || !slices.Contains([]string{TargetOwner, "c1", "c2"}, p.Targets[0]) {
					t.Fatalf("seed %d: %s aims at a data node or nothing", seed, p)
				}
				tg := p.Targets[0]
				if busy[tg] > p.At {
					t.Fatalf("seed %d: %s while %s is still faulted", seed, p, tg)
				}
				end := p.At + p.Dur + 8*time.Second
				switch p.Sub {
				case SubPause:
					end = p.At + p.Dur + time.Second
				case SubRestart:
					end = p.At + 10*time.Second
				case SubKill:
				default:
					t.Fatalf("seed %d: %s has sub-kind %q", seed, p, p.Sub)
				}
				busy[tg] = end
				seen[p.Sub+" "+tg] = true
			case KindObjstore:
				if objEnd > p.At {
					t.Fatalf("seed %d: %s while another objstore fault is in force", seed, p)
				}
				if p.Sub == SubUnavailable && (p.Dur < 5*time.Second || p.Dur > 15*time.Second) ||
					p.Sub == SubSlow && (p.Dur < 2*time.Second || p.Dur > 6*time.Second) || p.Sub != SubSlow && p.Sub != SubUnavailable {
					t.Fatalf("seed %d: %s out of bounds", seed, p)
				}
				objEnd = p.At + p.Dur + 2*time.Second
				seen[p.Sub] = true
			}
		}
	}
	for _, want := range []string{"kill owner", "pause owner", "restart owner", "kill c1", "pause c2", SubUnavailable, SubSlow} {
		if !seen[want] {
			t.Errorf("100 seeds never planned %q", want)
		}
	}
	// Without elastic kinds, the plan does not depend on Compute.
	a := Plan(PlanConfig{Seed: 5, Nodes: 5, Duration: time.Minute, Rate: 2 * time.Second, Kinds: DefaultKinds})
	b := Plan(PlanConfig{Seed: 5, Nodes: 5, Compute: 2, Duration: time.Minute, Rate: 2 * time.Second, Kinds: DefaultKinds})
	if !reflect.DeepEqual(a, b) {
		t.Fatal("compute nodes changed a plan without compute faults")
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
