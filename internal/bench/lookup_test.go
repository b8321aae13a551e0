package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRunDevicesAndLookups: --devices widens the ids W1 draws (so the
// view has that many groups), the run ends with timed point lookups of
// random devices (found exactly for the devices that got events), and
// the peak RSS of the nodes it started is reported.
func TestRunDevicesAndLookups(t *testing.T) {
	f := newFakeDB(t)
	o := testOptions(t, f, ModeCopy)
	o.Devices, o.Lookups = 40_000, 300
	o.PeakRSS = func() []int64 { return []int64{100 << 20, 120 << 20} }
	r, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	groups := 0
	for d := range f.mu.view {
		if d >= 0 {
			groups++
		}
		if d >= 40_000 {
			t.Errorf("device %d drawn from 40,000", d)
		}
	}
	f.mu.Unlock()
	// 20,000 events over 40,000 devices reach about 15,700 of them; over
	// the default 10,000 they could reach no more than 10,000.
	if groups < 14_000 {
		t.Errorf("%d groups, want about 15,700", groups)
	}
	if r.Devices != 40_000 || r.LookupSamples != 300 || r.LookupP99Ms < r.LookupP50Ms || r.LookupP50Ms <= 0 {
		t.Errorf("lookups: %+v", r)
	}
	// About 39% of random devices have a row.
	if r.LookupFound < 60 || r.LookupFound > 180 {
		t.Errorf("%d of 300 lookups found a row", r.LookupFound)
	}
	var out bytes.Buffer
	r.Print(&out)
	for _, want := range []string{"point lookups", "300 random devices of 40,000", "peak RSS", "n2 120.0 MiB"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for _, bad := range []Options{{Workload: "w2", Devices: 5}, {Devices: -1}} {
		if err := bad.setDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
