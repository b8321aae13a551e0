package memory

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairndb/cairn/internal/pgerr"
)

func TestParseSize(t *testing.T) {
	const total = 8 << 30
	good := map[string]uint64{
		"134217728": 134217728,
		"512MB":     512e6,
		"512mb":     512e6,
		"512MiB":    512 << 20,
		"2GiB":      2 << 30,
		"2 GiB":     2 << 30,
		"1.5G":      3 << 29,
		"64k":       64 << 10,
		"1TB":       1e12,
		"50%":       4 << 30,
		"12.5%":     1 << 30,
		"100%":      total,
		" 256M ":    256 << 20,
	}
	for in, want := range good {
		got, err := ParseSize(in, total)
		if err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":      "empty size",
		"abc":   "is not a size",
		"12XB":  "is not a size",
		"0":     "out of range",
		"-1GB":  "is not a size",
		"0%":    "percentage must be",
		"150%":  "percentage must be",
		"x%":    "percentage must be",
		"1.2.3": "is not a number",
		"99EB":  "is not a size",
	}
	for in, want := range bad {
		_, err := ParseSize(in, total)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseSize(%q) = %v; want an error containing %q", in, err, want)
		}
	}
	if _, err := ParseSize("50%", 0); err == nil {
		t.Errorf("a percentage of unknown memory must fail")
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[uint64]string{512: "512 B", 128 << 20: "128 MiB", 3 << 29: "1.5 GiB", 2 << 10: "2 KiB"} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestMachineFrom(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mi := write("meminfo", "MemTotal:       24683748 kB\nMemFree: 1 kB\n")
	const machine = 24683748 << 10
	for _, tc := range []struct {
		cgroup string
		want   uint64
		source string
	}{
		{"max\n", machine, "machine"},
		{"1073741824\n", 1 << 30, "cgroup"},
		{"9223372036854771712\n", machine, "machine"}, // cgroup v1's "no limit"
		{"", machine, "machine"},
	} {
		cg := filepath.Join(dir, "absent")
		if tc.cgroup != "" {
			cg = write("memory.max", tc.cgroup)
		}
		got, src := machineFrom(mi, cg)
		if got != tc.want || src != tc.source {
			t.Errorf("cgroup %q: got %d (%s), want %d (%s)", tc.cgroup, got, src, tc.want, tc.source)
		}
	}
	if got, _ := Machine(); got == 0 {
		t.Errorf("Machine() = 0 on Linux")
	}
	if RSS() == 0 {
		t.Errorf("RSS() = 0 on Linux")
	}
	// A small test process may have less resident than the Go runtime
	// has mapped: then nothing is outside Go.
	if o, rss := OutsideGo(), RSS(); o > rss {
		t.Errorf("OutsideGo() = %d, more than RSS %d", o, rss)
	}
}

func TestPlan(t *testing.T) {
	b := Plan(128 << 20)
	if b.BlockCache != 16<<20 || b.MemTable != 4<<20 || b.MemTables() != 16<<20 || b.Ingest != 16<<20 {
		t.Errorf("Plan(128 MiB) = %+v", b)
	}
	if g := GoLimitFor(b.Limit, 40<<20); g != 88<<20 {
		t.Errorf("GoLimitFor(128 MiB, 40 MiB outside) = %s", Format(g))
	}
	if g := GoLimitFor(b.Limit, 200<<20); g != 32<<20 {
		t.Errorf("GoLimitFor(128 MiB, 200 MiB outside) = %s, want the floor", Format(g))
	}
	sum := b.BlockCache + b.MemTables() + b.ViewCache + b.Ingest + b.ViewDelta
	if sum >= b.Limit {
		t.Errorf("budgets add up to %s, at least the limit %s", Format(sum), Format(b.Limit))
	}
	big := Plan(64 << 30)
	if big.MemTable != 64<<20 || big.BlockCache != 1<<30 {
		t.Errorf("Plan(64 GiB) caps: %+v", big)
	}
	if ev := Plan(64 << 20).ViewDeltaEvents(); ev != 4096 {
		t.Errorf("ViewDeltaEvents of 64 MiB = %d", ev)
	}
	if ev := Plan(1 << 30).ViewDeltaEvents(); ev != 65536 {
		t.Errorf("ViewDeltaEvents of 1 GiB = %d", ev)
	}
	if ev := Plan(64 << 30).ViewDeltaEvents(); ev != 256<<10 {
		t.Errorf("ViewDeltaEvents of 64 GiB = %d", ev)
	}
}

// fakeAccountant's Go memory is what mem holds.
func fakeAccountant(limit uint64, mem *atomic.Uint64, wait time.Duration) (*Accountant, *atomic.Int64, *atomic.Int64) {
	var delays, refusals atomic.Int64
	a := New(Config{Node: "n1", Budgets: Plan(limit), MaxWait: wait, ReadGo: mem.Load,
		OnDelay: func() { delays.Add(1) }, OnRefuse: func() { refusals.Add(1) }})
	return a, &delays, &refusals
}

func TestAdmitIngest(t *testing.T) {
	ctx := context.Background()
	var mem atomic.Uint64
	mem.Store(10 << 20)
	a, delays, refusals := fakeAccountant(128<<20, &mem, 300*time.Millisecond)
	a.SetGauge(BlockCache, false, func() uint64 { return 4 << 20 })
	u := a.Sample()
	if u.Total != 14<<20 || u.By[GoOther] != 10<<20 || u.By[BlockCache] != 4<<20 {
		t.Fatalf("sample: %+v", u)
	}

	// Below soft: admitted at once, and accounted.
	ad, err := a.AdmitIngest(ctx, 1<<20, nil)
	if err != nil || ad.Delayed {
		t.Fatalf("admit: %v %+v", err, ad)
	}
	if a.Reserved(Ingest) != 1<<20 {
		t.Fatalf("reserved %d", a.Reserved(Ingest))
	}
	if u := a.Sample(); u.By[Ingest] != 1<<20 || u.By[GoOther] != 9<<20 || u.Total != 14<<20 {
		t.Fatalf("accounted ingest is part of the Go memory: %+v", u)
	}
	ad.Release()
	ad.Release()
	if a.Reserved(Ingest) != 0 {
		t.Fatalf("double release: reserved %d", a.Reserved(Ingest))
	}

	// Ingest budget (16 MiB) full: a second append waits for the first.
	first, _ := a.AdmitIngest(ctx, 12<<20, nil)
	go func() { time.Sleep(50 * time.Millisecond); first.Release() }()
	second, err := a.AdmitIngest(ctx, 8<<20, nil)
	if err != nil || !second.Delayed || second.Waited < 40*time.Millisecond {
		t.Fatalf("second append: %v %+v", err, second)
	}
	second.Release()
	// A single append larger than the budget passes when nothing is in flight.
	huge, err := a.AdmitIngest(ctx, 32<<20, nil)
	if err != nil || huge.Delayed {
		t.Fatalf("huge append alone: %v", err)
	}
	// ...and the next one waits, then is refused with 53200.
	_, err = a.AdmitIngest(ctx, 1, func() (int64, string) { return 5, `View "v" is 5 events behind.` })
	if pgerr.Code(err) != pgerr.OutOfMemory || !strings.Contains(err.Error(), "appends in flight") {
		t.Fatalf("budget full: %v", err)
	}
	if h := pgerr.From(err).Hint; !strings.Contains(h, `View "v" is 5 events behind`) {
		t.Fatalf("hint: %q", h)
	}
	huge.Release()
	if delays.Load() != 2 || refusals.Load() != 1 {
		t.Fatalf("delays %d refusals %d", delays.Load(), refusals.Load())
	}

	// Between soft (96 MiB) and hard (115 MiB): waits until memory drops.
	mem.Store(100 << 20)
	a.Sample()
	if a.Pressure() != Soft {
		t.Fatalf("pressure %v", a.Pressure())
	}
	go func() { time.Sleep(60 * time.Millisecond); mem.Store(20 << 20); a.Sample() }()
	ad, err = a.AdmitIngest(ctx, 1<<10, nil)
	if err != nil || !ad.Delayed {
		t.Fatalf("soft: %v %+v", err, ad)
	}
	ad.Release()
	// Stays above soft: refused after MaxWait.
	mem.Store(100 << 20)
	a.Sample()
	start := time.Now()
	_, err = a.AdmitIngest(ctx, 1<<10, nil)
	if pgerr.Code(err) != pgerr.OutOfMemory || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("soft for long: %v after %s", err, time.Since(start))
	}
	if e := pgerr.From(err); !strings.Contains(e.Message, `node "n1" is using 104 MiB of its 128 MiB memory limit`) || !strings.Contains(e.Detail, "waited") {
		t.Fatalf("message: %+v", e)
	}
	// Above hard: refused at once.
	mem.Store(120 << 20)
	a.Sample()
	start = time.Now()
	_, err = a.AdmitIngest(ctx, 1<<10, nil)
	if pgerr.Code(err) != pgerr.OutOfMemory || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("hard: %v after %s", err, time.Since(start))
	}
	// A cancelled statement stops waiting.
	mem.Store(100 << 20)
	a.Sample()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := a.AdmitIngest(cctx, 1, nil); err != context.DeadlineExceeded {
		t.Fatalf("cancelled: %v", err)
	}
	if a.Reserved(Ingest) != 0 {
		t.Fatalf("refusals reserved %d", a.Reserved(Ingest))
	}
}

func TestAdmitBacklog(t *testing.T) {
	ctx := context.Background()
	var mem atomic.Uint64
	mem.Store(40 << 20)
	a, delays, refusals := fakeAccountant(128<<20, &mem, 200*time.Millisecond)
	a.Sample()
	// Soft is 96 MiB: 40 MiB in use leaves room for a backlog of 56 MiB,
	// at 600 bytes an event 97867 events.
	var lag atomic.Int64
	lag.Store(90000)
	lagging := func() (int64, string) { return lag.Load(), `View "v" is behind.` }
	ad, err := a.AdmitIngest(ctx, 1, lagging)
	if err != nil || ad.Delayed {
		t.Fatalf("backlog that fits: %v", err)
	}
	ad.Release()
	// A backlog that would not fit: the append waits for the view...
	lag.Store(100000)
	go func() { time.Sleep(50 * time.Millisecond); lag.Store(10); a.Sample() }()
	ad, err = a.AdmitIngest(ctx, 1, lagging)
	if err != nil || !ad.Delayed {
		t.Fatalf("view catches up: %v %+v", err, ad)
	}
	ad.Release()
	// ...and is refused when it does not catch up.
	mem.Store(90 << 20)
	lag.Store(20000)
	a.Sample()
	_, err = a.AdmitIngest(ctx, 1, lagging)
	e := pgerr.From(err)
	if e.Code != pgerr.OutOfMemory || !strings.Contains(e.Message, "20000 events behind") || !strings.Contains(e.Message, "90 MiB of its 128 MiB") || !strings.Contains(e.Hint, `View "v" is behind.`) {
		t.Fatalf("backlog: %+v", e)
	}
	if delays.Load() != 2 || refusals.Load() != 1 {
		t.Fatalf("delays %d refusals %d", delays.Load(), refusals.Load())
	}
	// No view behind: no wait.
	lag.Store(0)
	if ad, err := a.AdmitIngest(ctx, 1, lagging); err != nil || ad.Delayed {
		t.Fatalf("caught up: %v", err)
	}
}

func TestReadGo(t *testing.T) {
	if readGo() == 0 {
		t.Fatal("runtime/metrics gave no memory")
	}
}
