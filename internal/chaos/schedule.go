package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Fault kinds.
const (
	KindKill       = "kill"
	KindPause      = "pause"
	KindRestart    = "restart"
	KindPartition  = "partition"
	KindMembership = "membership"
	KindDisk       = "disk"
	// KindCompute kills, pauses or restarts a compute node, or the
	// scheduled view's owner whatever its role (TargetOwner).
	KindCompute = "compute"
	// KindObjstore makes the object store (versitygw) unavailable or slow.
	KindObjstore = "objstore"
)

// AllKinds lists every fault kind, in the order --faults documents them.
var AllKinds = []string{KindKill, KindPause, KindPartition, KindRestart, KindMembership, KindDisk, KindCompute, KindObjstore}

// ElasticKinds are the kinds that need the elastic tier in the workload:
// an object store, a disk on it, compute nodes and a scheduled view.
var ElasticKinds = []string{KindCompute, KindObjstore}

// DefaultKinds are the faults a campaign injects unless told otherwise.
var DefaultKinds = []string{KindKill, KindPause, KindPartition, KindRestart}

// Sub-kinds of partition, membership and disk faults.
const (
	SubIsolate      = "isolate"      // one node cut from all others
	SubSplit        = "split"        // a minority side cut from the majority
	SubBridge       = "bridge"       // two sides cut from each other, one node linked to both
	SubTransfer     = "transfer"     // ALTER SHARD … TRANSFER LEADER
	SubAdd          = "add"          // a new node joins
	SubDecommission = "decommission" // ALTER NODE … DECOMMISSION
	SubStall        = "stall"        // every synced write blocks 2 s, for 3–8 s
	SubFail         = "fail"         // the disk fails: the node must exit
	SubKill         = "kill"         // compute: kill -9, restarted after 3–18 s
	SubPause        = "pause"        // compute: SIGSTOP for 2–16 s, then SIGCONT
	SubRestart      = "restart"      // compute: SIGTERM, then started again
	SubUnavailable  = "unavailable"  // objstore: stopped, started again 5–15 s later
	SubSlow         = "slow"         // objstore: SIGSTOP for 2–6 s, then SIGCONT
)

// TargetOwner is the target of a compute fault aimed at the scheduled
// view's owner, resolved when the fault starts (a compute or a data node).
const TargetOwner = "owner"

// ComputeName is the name of the i-th compute node (from 1).
func ComputeName(i int) string { return fmt.Sprintf("c%d", i) }

// PlannedFault is one entry of the seeded schedule. At is the offset from
// the start of the workload; Dur how long the fault lasts before it is
// healed. Sides are the partition sides (every pair across Sides[0] and
// Sides[1] is cut); Pick is a random number for choices that need the live
// cluster (which shard leader to move where).
type PlannedFault struct {
	Seq     int           `json:"seq"`
	At      time.Duration `json:"at_ns"`
	Kind    string        `json:"kind"`
	Sub     string        `json:"sub,omitempty"`
	Targets []string      `json:"targets,omitempty"`
	Sides   [2][]string   `json:"sides,omitempty"`
	Dur     time.Duration `json:"dur_ns"`
	Pick    uint64        `json:"pick,omitempty"`
}

// String is one line of the printed schedule.
func (p PlannedFault) String() string {
	s := fmt.Sprintf("#%d at %6.1fs %s", p.Seq, p.At.Seconds(), p.Kind)
	if p.Sub != "" {
		s += "/" + p.Sub
	}
	if len(p.Targets) > 0 {
		s += " " + joinComma(p.Targets)
	}
	if len(p.Sides[0]) > 0 {
		s += fmt.Sprintf(" [%s | %s]", joinComma(p.Sides[0]), joinComma(p.Sides[1]))
	}
	if p.Dur > 0 {
		s += fmt.Sprintf(" for %.1fs", p.Dur.Seconds())
	}
	return s
}

// PlanConfig is what the schedule depends on.
type PlanConfig struct {
	Seed     uint64
	Nodes    int
	Duration time.Duration
	Rate     time.Duration // mean time between fault starts
	Kinds    []string
	Compute  int // compute nodes c1…cN (targets of compute faults)
}

// MaxNodes bounds the cluster size, including nodes a membership fault adds.
const MaxNodes = 9

// window is a planned fault's reservation: the nodes it takes out until
// end (with a margin for restarts).
type window struct {
	end       time.Duration
	faulted   []string
	partition bool
	decom     bool
	compute   []string // compute-fault targets (a compute node or TargetOwner)
	objstore  bool
}

// Plan decides the whole fault schedule from the seed: start times
// (exponential gaps with mean Rate), kinds, targets and durations. It
// simulates the cluster so that at no planned moment more than a minority
// of the active nodes is faulted (killed, paused, restarting, on the
// minority side of a partition, or with a failed disk), at most one
// partition and one decommission run at a time, and at least 3 data nodes
// remain. Compute faults take compute nodes (or the scheduled view's
// owner), one fault per target at a time, outside the data nodes'
// minority; objstore faults run one at a time. The same config always
// gives the same plan, and a plan without compute or objstore kinds is
// the one earlier versions made from the same seed.
func Plan(c PlanConfig) []PlannedFault {
	r := rand.New(rand.NewPCG(c.Seed, c.Seed^0x9e3779b97f4a7c15))
	var all []string // every node ever started, by name
	for i := 1; i <= c.Nodes; i++ {
		all = append(all, fmt.Sprintf("n%d", i))
	}
	decommissioned := map[string]bool{}
	var windows []window
	var out []PlannedFault
	rate := max(c.Rate, time.Second)
	t := time.Duration(0)
	for slot := 0; slot < 10_000; slot++ {
		gap := time.Duration(r.ExpFloat64() * float64(rate))
		t += max(gap, time.Second)
		if t >= c.Duration {
			break
		}
		windows = slices.DeleteFunc(windows, func(w window) bool { return w.end <= t })
		faulted := map[string]bool{}
		partitioned, decomRunning, objstoreBusy := false, false, false
		computeBusy := map[string]bool{}
		for _, w := range windows {
			for _, n := range w.faulted {
				faulted[n] = true
			}
			for _, n := range w.compute {
				computeBusy[n] = true
			}
			partitioned = partitioned || w.partition
			decomRunning = decomRunning || w.decom
			objstoreBusy = objstoreBusy || w.objstore
		}
		var active, free []string
		for _, n := range all {
			if decommissioned[n] {
				continue
			}
			active = append(active, n)
			if !faulted[n] {
				free = append(free, n)
			}
		}
		budget := (len(active)-1)/2 - len(faulted)
		// Draw a kind; if it cannot run now, try the others in a seeded
		// order, so a slot is left empty only when nothing fits.
		kinds := slices.Clone(c.Kinds)
		r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
		for _, kind := range kinds {
			p := PlannedFault{Seq: len(out) + 1, At: t, Kind: kind}
			var w window
			ok := true
			pickNode := func() string { return free[r.IntN(len(free))] }
			switch kind {
			case KindKill, KindPause, KindRestart:
				if budget < 1 || len(free) == 0 {
					ok = false
					break
				}
				n := pickNode()
				p.Targets = []string{n}
				switch kind {
				case KindKill:
					p.Dur = 2*time.Second + time.Duration(r.Int64N(int64(6*time.Second)))
					w.end = t + p.Dur + 5*time.Second // the restart takes a while
				case KindPause:
					p.Dur = time.Second + time.Duration(r.Int64N(int64(9*time.Second)))
					w.end = t + p.Dur + time.Second
				case KindRestart:
					w.end = t + 10*time.Second
				}
				w.faulted = p.Targets
			case KindPartition:
				if budget < 1 || partitioned || len(free) < 1 || len(active) < 3 {
					ok = false
					break
				}
				subs := []string{SubIsolate, SubSplit, SubBridge}
				p.Sub = subs[r.IntN(len(subs))]
				minority := 1
				if p.Sub != SubIsolate {
					minority = 1 + r.IntN(min(budget, len(free)))
				}
				side := shuffled(r, free)[:minority]
				slices.Sort(side)
				var rest []string
				for _, n := range active {
					if !slices.Contains(side, n) {
						rest = append(rest, n)
					}
				}
				if p.Sub == SubBridge {
					if len(rest) < 2 {
						p.Sub = SubSplit
					} else {
						b := rest[r.IntN(len(rest))]
						rest = slices.DeleteFunc(rest, func(n string) bool { return n == b })
						p.Targets = []string{b} // the bridge keeps links to both sides
					}
				}
				p.Sides = [2][]string{side, rest}
				p.Dur = 3*time.Second + time.Duration(r.Int64N(int64(7*time.Second)))
				w = window{end: t + p.Dur + 2*time.Second, faulted: side, partition: true}
			case KindMembership:
				subs := []string{SubTransfer}
				// At most two new nodes: this is one machine.
				if len(all) < min(MaxNodes, c.Nodes+2) {
					subs = append(subs, SubAdd)
				}
				if !decomRunning && len(active) > 3 && len(free) > 0 && len(faulted) <= (len(active)-2)/2 {
					subs = append(subs, SubDecommission)
				}
				p.Sub = subs[r.IntN(len(subs))]
				switch p.Sub {
				case SubTransfer:
					p.Pick = r.Uint64()
				case SubAdd:
					n := fmt.Sprintf("n%d", len(all)+1)
					all = append(all, n)
					p.Targets = []string{n}
				case SubDecommission:
					n := pickNode()
					p.Targets = []string{n}
					decommissioned[n] = true
					w = window{end: t + 90*time.Second, decom: true}
				}
			case KindDisk:
				// Both count against the minority: a stalled disk holds
				// up every commit the node takes part in.
				if budget < 1 || len(free) == 0 {
					ok = false
					break
				}
				p.Sub = SubStall
				if r.IntN(2) == 0 {
					p.Sub = SubFail
				}
				n := pickNode()
				p.Targets = []string{n}
				if p.Sub == SubStall {
					p.Dur = 3*time.Second + time.Duration(r.Int64N(int64(5*time.Second)))
					w = window{end: t + p.Dur + 2*time.Second, faulted: p.Targets}
				} else {
					w = window{end: t + DiskFailGrace + 10*time.Second, faulted: p.Targets}
				}
			case KindCompute:
				// Compute nodes hold no replicas: they do not count
				// against the minority. The owner may be a data node;
				// the runner checks the minority when it resolves it.
				var cands []string
				for _, n := range append([]string{TargetOwner}, computeNames(c.Compute)...) {
					if !computeBusy[n] {
						cands = append(cands, n)
					}
				}
				if len(cands) == 0 {
					ok = false
					break
				}
				subs := []string{SubKill, SubPause, SubRestart}
				p.Sub = subs[r.IntN(len(subs))]
				p.Targets = []string{cands[r.IntN(len(cands))]}
				switch p.Sub {
				case SubKill:
					p.Dur = 3*time.Second + time.Duration(r.Int64N(int64(15*time.Second)))
					w.end = t + p.Dur + 8*time.Second
				case SubPause:
					p.Dur = 2*time.Second + time.Duration(r.Int64N(int64(14*time.Second)))
					w.end = t + p.Dur + time.Second
				case SubRestart:
					w.end = t + 10*time.Second
				}
				w.compute = p.Targets
			case KindObjstore:
				if objstoreBusy {
					ok = false
					break
				}
				p.Sub = SubSlow
				p.Dur = 2*time.Second + time.Duration(r.Int64N(int64(4*time.Second)))
				if r.IntN(2) == 0 {
					p.Sub = SubUnavailable
					p.Dur = 5*time.Second + time.Duration(r.Int64N(int64(10*time.Second)))
				}
				w = window{end: t + p.Dur + 2*time.Second, objstore: true}
			default:
				ok = false
			}
			if !ok {
				continue
			}
			if w.end > 0 {
				windows = append(windows, w)
			}
			out = append(out, p)
			break
		}
	}
	return out
}

// DiskFailGrace is how long a node whose disk failed may keep running.
const DiskFailGrace = 10 * time.Second

// computeNames lists c1…cN.
func computeNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = ComputeName(i + 1)
	}
	return out
}

func shuffled(r *rand.Rand, xs []string) []string {
	out := slices.Clone(xs)
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}
