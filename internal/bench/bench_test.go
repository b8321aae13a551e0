package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/spf13/pflag"
)

// fakeDB stands in for a Cairn node: loads land in a pending list that a
// background goroutine folds into the view a little later, like a view
// task tailing a stream.
type fakeDB struct {
	mu struct {
		sync.Mutex
		execs   []string
		pending []int32
		view    map[int32]int64
		ids     []int64 // ids of the generated events loaded, as eventIDs reads them back
		lose    int     // drop this many events from the next load
		dup     int     // count this many events twice
		loadErr error   // fail loads with this
		delay   time.Duration
	}
	stop chan struct{}
	done chan struct{}
}

func newFakeDB(t *testing.T) *fakeDB {
	f := &fakeDB{stop: make(chan struct{}), done: make(chan struct{})}
	f.mu.view = map[int32]int64{}
	go func() {
		defer close(f.done)
		for {
			select {
			case <-f.stop:
				return
			case <-time.After(time.Millisecond):
			}
			f.mu.Lock()
			for _, d := range f.mu.pending {
				f.mu.view[d]++
			}
			f.mu.pending = f.mu.pending[:0]
			f.mu.Unlock()
		}
	}()
	t.Cleanup(func() { close(f.stop); <-f.done })
	return f
}

func (f *fakeDB) dial(ctx context.Context, url string) (client, error) { return fakeClient{f}, nil }

type fakeClient struct{ f *fakeDB }

func (c fakeClient) close() {}

func (c fakeClient) exec(ctx context.Context, sql string) error {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	c.f.mu.execs = append(c.f.mu.execs, sql)
	return nil
}

func (c fakeClient) queryInt(ctx context.Context, sql string) (int64, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	switch sql {
	case sqlProbeCount:
		return c.f.mu.view[probeDevice], nil
	case sqlTotalCount:
		var s int64
		for _, n := range c.f.mu.view {
			s += n
		}
		return s, nil
	}
	return 0, fmt.Errorf("fake: unexpected query %q", sql)
}

func (c fakeClient) lookupInt(ctx context.Context, sql string, arg int32) (int64, bool, error) {
	if sql != sqlLookup {
		return 0, false, fmt.Errorf("fake: unexpected query %q", sql)
	}
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	n, ok := c.f.mu.view[arg]
	return n, ok, nil
}

var insertRow = regexp.MustCompile(`\('[^']+', (-?\d+), '[a-z-]+', [0-9.e+-]+\)`)

// devices decodes the device ids of a batch from its wire form, so the
// test checks what would really be sent.
func devices(b *loadBatch, mode string) ([]int32, error) {
	var out []int32
	switch mode {
	case ModeCopy:
		for i := range b.n {
			out = append(out, b.vals[4*i+1].(int32))
		}
	case ModeBinary:
		buf := b.text
		if len(buf) < 19 || string(buf[:11]) != "PGCOPY\n\xff\r\n\x00" {
			return nil, errors.New("bad binary copy header")
		}
		buf = buf[19:]
		for len(buf) >= 2 && binary.BigEndian.Uint16(buf) == 4 {
			buf = buf[2:]
			var fields [4][]byte
			for f := range fields {
				if len(buf) < 4 {
					return nil, errors.New("short binary tuple")
				}
				l := int(binary.BigEndian.Uint32(buf))
				if len(buf) < 4+l {
					return nil, errors.New("short binary field")
				}
				fields[f], buf = buf[4:4+l], buf[4+l:]
			}
			if len(fields[1]) != 4 {
				return nil, errors.New("device_id is not an int4")
			}
			out = append(out, int32(binary.BigEndian.Uint32(fields[1])))
		}
		if len(buf) != 2 || binary.BigEndian.Uint16(buf) != 0xffff {
			return nil, errors.New("bad binary copy trailer")
		}
	case ModeCSV:
		for _, line := range strings.Split(strings.TrimSuffix(string(b.text), "\n"), "\n") {
			f := strings.Split(line, ",")
			d, err := strconv.Atoi(f[1])
			if len(f) != 4 || err != nil {
				return nil, fmt.Errorf("bad csv line %q", line)
			}
			out = append(out, int32(d))
		}
	case ModeInsert:
		if !strings.HasPrefix(string(b.text), sqlInsertHead) {
			return nil, errors.New("bad insert")
		}
		for _, m := range insertRow.FindAllStringSubmatch(string(b.text), -1) {
			d, _ := strconv.Atoi(m[1])
			out = append(out, int32(d))
		}
	}
	if len(out) != b.n {
		return nil, fmt.Errorf("decoded %d rows, batch has %d", len(out), b.n)
	}
	return out, nil
}

func (c fakeClient) eventIDs(ctx context.Context, t0 int64) ([]int64, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	return slices.Clone(c.f.mu.ids), nil
}

func (c fakeClient) load(ctx context.Context, b *loadBatch, mode string) error {
	devs, err := devices(b, mode)
	if err != nil {
		return err
	}
	var ids []int64
	for i := range int64(b.n) {
		if b.first > 0 {
			ids = append(ids, b.first+i)
		}
	}
	c.f.mu.Lock()
	delay := c.f.mu.delay
	c.f.mu.Unlock()
	time.Sleep(delay)
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	if c.f.mu.loadErr != nil {
		return c.f.mu.loadErr
	}
	if c.f.mu.lose > 0 && len(devs) > 1 {
		devs, ids = devs[c.f.mu.lose:], ids[c.f.mu.lose:]
		c.f.mu.lose = 0
	}
	if c.f.mu.dup > 0 && len(devs) > 1 {
		devs, ids = append(devs, devs[:c.f.mu.dup]...), append(ids, ids[:c.f.mu.dup]...)
		c.f.mu.dup = 0
	}
	c.f.mu.pending = append(c.f.mu.pending, devs...)
	c.f.mu.ids = append(c.f.mu.ids, ids...)
	return nil
}

func testOptions(t *testing.T, f *fakeDB, mode string) Options {
	return Options{
		Events: 20000, Batch: 500, Clients: 3, Mode: mode,
		URL:            "postgres://cairn:secret@127.0.0.1:5480/cairn",
		Out:            filepath.Join(t.TempDir(), "out.json"),
		ProbeInterval:  2 * time.Millisecond,
		CatchUpTimeout: 5 * time.Second,
		dial:           f.dial,
	}
}

func TestRunFake(t *testing.T) {
	for _, mode := range []string{ModeBinary, ModeCopy, ModeCSV, ModeInsert} {
		t.Run(mode, func(t *testing.T) {
			f := newFakeDB(t)
			o := testOptions(t, f, mode)
			var progress bytes.Buffer
			o.Progress = &progress
			r, err := Run(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			if !r.Verified || r.ViewTotal != int64(r.Events+r.ProbeEvents) || r.Events != 20000 {
				t.Errorf("not verified: %+v", r)
			}
			if r.ProbeEvents < 1 || r.FreshSamples+r.FreshTimeouts != r.ProbeEvents || r.FreshTimeouts != 0 {
				t.Errorf("probe: %d events, %d samples, %d timeouts", r.ProbeEvents, r.FreshSamples, r.FreshTimeouts)
			}
			if r.EventsPerSec <= 0 || r.MBPerSec <= 0 || r.AckP50Ms <= 0 || r.AckP99Ms < r.AckP50Ms || r.AckMaxMs < r.AckP99Ms {
				t.Errorf("implausible numbers: %+v", r)
			}
			if r.Target != "127.0.0.1:5480/cairn" {
				t.Errorf("target %q (credentials must not leak)", r.Target)
			}
			f.mu.Lock()
			execs := strings.Join(f.mu.execs, "\n")
			f.mu.Unlock()
			if execs != strings.Join(w1Setup, "\n") {
				t.Errorf("setup statements:\n%s", execs)
			}
			if !strings.Contains(progress.String(), "20,000 / 20,000 events") {
				t.Errorf("progress: %q", progress.String())
			}
			raw, err := os.ReadFile(o.Out)
			if err != nil {
				t.Fatal(err)
			}
			var back map[string]any
			if err := json.Unmarshal(raw, &back); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"events_per_sec", "ack_p99_ms", "fresh_p50_ms", "mb_per_sec", "verified"} {
				if _, ok := back[k]; !ok {
					t.Errorf("JSON lacks %q: %s", k, raw)
				}
			}
		})
	}
}

func TestRunDetectsLoss(t *testing.T) {
	f := newFakeDB(t)
	f.mu.lose = 3
	o := testOptions(t, f, ModeCopy)
	o.CatchUpTimeout = 100 * time.Millisecond
	r, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "3 missing") {
		t.Fatalf("err = %v, want 3 missing", err)
	}
	if r == nil || r.Verified {
		t.Fatalf("result %+v", r)
	}
	raw, _ := os.ReadFile(o.Out)
	if !strings.Contains(string(raw), `"verified": false`) {
		t.Errorf("failed run left no record: %s", raw)
	}
}

func TestRunDetectsDuplicates(t *testing.T) {
	f := newFakeDB(t)
	f.mu.dup = 2
	o := testOptions(t, f, ModeCopy)
	if _, err := Run(context.Background(), o); err == nil || !strings.Contains(err.Error(), "duplicates") {
		t.Fatalf("err = %v, want duplicates", err)
	}
}

// TestRunJudgesByID: one event lost and another counted twice keep
// sum(n) right; reading the events back by id must still fail the run.
func TestRunJudgesByID(t *testing.T) {
	f := newFakeDB(t)
	f.mu.lose, f.mu.dup = 1, 1
	o := testOptions(t, f, ModeCopy)
	r, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "lost: 1 of") || !strings.Contains(err.Error(), "duplicated: 1 of") {
		t.Fatalf("err = %v, want one lost and one duplicated id", err)
	}
	if r == nil || r.Verified || r.Lost != 1 || r.Duplicated != 1 || r.ViewTotal != int64(r.Events+r.ProbeEvents) {
		t.Fatalf("result %+v", r)
	}
	var out bytes.Buffer
	r.Print(&out)
	if !strings.Contains(out.String(), "1 lost, 1 duplicated, 0 never sent") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestRunLoadError(t *testing.T) {
	f := newFakeDB(t)
	f.mu.loadErr = errors.New("no quorum")
	o := testOptions(t, f, ModeCopy)
	r, err := Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "no quorum") || r != nil {
		t.Fatalf("r = %v, err = %v", r, err)
	}
}

func TestRunStartsNode(t *testing.T) {
	f := newFakeDB(t)
	o := testOptions(t, f, ModeCopy)
	o.URL, o.Events, o.Out = "", 1000, "-"
	stopped := false
	o.StartNode = func(ctx context.Context) (string, func(), error) {
		return "postgres://127.0.0.1:9/x", func() { stopped = true }, nil
	}
	r, err := Run(context.Background(), o)
	if err != nil || !stopped || r.Target != "127.0.0.1:9/x" {
		t.Fatalf("err %v, stopped %v, r %+v", err, stopped, r)
	}
	o.StartNode = nil
	if _, err := Run(context.Background(), o); err == nil {
		t.Errorf("no URL and no StartNode must fail")
	}
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{{Workload: "w9"}, {Mode: "json"}} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	var o Options
	if err := o.setDefaults(); err != nil {
		t.Fatal(err)
	}
	if o.Events != 1_000_000 || o.Batch != 1000 || o.Clients != 4 || o.Mode != ModeBinary || o.Out != "bench-w1.json" {
		t.Errorf("defaults: %+v", o)
	}
}

func TestGenerate(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const n = 200000
	a, b := generate(7, n, w1Devices, start), generate(7, n, w1Devices, start)
	c := generate(8, n, w1Devices, start)
	if !equalEvents(a, b) {
		t.Errorf("same seed, different events")
	}
	if equalEvents(a, c) {
		t.Errorf("different seeds, same events")
	}
	perDevice := make([]int, w1Devices)
	var perRegion [len(w1Regions)]int
	for i := range n {
		d := a.device[i]
		if d < 0 || d >= w1Devices {
			t.Fatalf("device %d out of range", d)
		}
		perDevice[d]++
		perRegion[a.region[i]]++
		if v := a.value[i]; v < 0 || v >= 1000 {
			t.Fatalf("value %v out of range", v)
		}
		if a.ts[i] != start.UnixMicro()+int64(i) {
			t.Fatalf("ts %d", a.ts[i])
		}
	}
	// Uniform: with 20 expected per device, an empty device has odds of
	// e^-20 and a region off by 10% is over 20 standard deviations away.
	for d, k := range perDevice {
		if k == 0 {
			t.Fatalf("device %d never drawn", d)
		}
	}
	for r, k := range perRegion {
		if k < n/8*9/10 || k > n/8*11/10 {
			t.Errorf("region %d drawn %d times, want about %d", r, k, n/8)
		}
	}
}

func equalEvents(a, b events) bool {
	for i := range a.ts {
		if a.ts[i] != b.ts[i] || a.device[i] != b.device[i] || a.region[i] != b.region[i] || a.value[i] != b.value[i] {
			return false
		}
	}
	return true
}

func TestEncode(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := events{ts: []int64{start.UnixMicro(), start.UnixMicro() + 1500}, device: []int32{42, 7},
		region: []uint8{0, 2}, value: []float64{1.5, 999.99}}
	csv := encode(&e, 0, 2, ModeCSV)
	wantCSV := "2026-01-02 03:04:05.000000+00,42,eu-west,1.5\n2026-01-02 03:04:05.001500+00,7,us-east,999.99\n"
	if string(csv.text) != wantCSV || csv.bytes != len(wantCSV) || csv.n != 2 {
		t.Errorf("csv %q (%d bytes)", csv.text, csv.bytes)
	}
	ins := encode(&e, 1, 2, ModeInsert)
	wantIns := sqlInsertHead + "('2026-01-02 03:04:05.001500+00', 7, 'us-east', 999.99)"
	if string(ins.text) != wantIns || ins.n != 1 {
		t.Errorf("insert %q", ins.text)
	}
	cp := encode(&e, 0, 2, ModeCopy)
	if cp.n != 2 || len(cp.vals) != 8 || cp.vals[1] != int32(42) || cp.vals[2] != "eu-west" || cp.vals[3] != 1.5 ||
		!cp.vals[4].(time.Time).Equal(start.Add(1500*time.Microsecond)) {
		t.Errorf("copy values %v", cp.vals)
	}
	// 21 stream bytes + 2 tuples of 38 fixed bytes + "eu-west" + "us-east".
	if cp.bytes != 21+2*38+7+7 {
		t.Errorf("copy payload %d bytes", cp.bytes)
	}
	src := &copySource{vals: cp.vals, n: cp.n}
	rows := 0
	for src.Next() {
		v, _ := src.Values()
		if len(v) != 4 {
			t.Fatal("row width")
		}
		rows++
	}
	if rows != 2 {
		t.Errorf("copySource yielded %d rows", rows)
	}

	bs := makeBatches(1, 2500, 1000, w1Devices, false, ModeCSV, start)
	if len(bs) != 3 || bs[0].n != 1000 || bs[2].n != 500 {
		t.Errorf("batches %d", len(bs))
	}
	if p := probeBatch(3, ModeCopy); p.n != 1 || p.vals[1] != int32(probeDevice) {
		t.Errorf("probe batch %v", p.vals)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		var out []time.Duration
		for _, x := range xs {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(5), 50, 5 * time.Millisecond},
		{ms(5), 99, 5 * time.Millisecond},
		{ms(4, 1, 3, 2), 50, 2 * time.Millisecond},  // rank ceil(2) = 2
		{ms(4, 1, 3, 2), 99, 4 * time.Millisecond},  // rank ceil(3.96) = 4
		{ms(4, 1, 3, 2), 100, 4 * time.Millisecond}, // max
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 91, 10 * time.Millisecond},
	} {
		if got := percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("p%v of %v = %v, want %v", tc.p, tc.in, got, tc.want)
		}
	}
	// 1..1000: p50 = 500, p99 = 990.
	var xs []time.Duration
	for i := 1000; i >= 1; i-- {
		xs = append(xs, time.Duration(i))
	}
	if percentile(xs, 50) != 500 || percentile(xs, 99) != 990 {
		t.Errorf("p50 %v p99 %v", percentile(xs, 50), percentile(xs, 99))
	}
}

func TestGroup(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -12345: "-12,345"} {
		if got := group(in); got != want {
			t.Errorf("group(%d) = %q", in, got)
		}
	}
}

func TestPrint(t *testing.T) {
	r := &Result{Workload: "w1", Mode: "copy", Target: "127.0.0.1:5480/cairn", Events: 1000000, ProbeEvents: 40,
		Clients: 4, Batch: 1000, Seconds: 12.5, EventsPerSec: 80000, MBPerSec: 3.6, AckP50Ms: 12.25, AckP99Ms: 48,
		AckMaxMs: 60, FreshP50Ms: 20, FreshP99Ms: 90, FreshMaxMs: 120, FreshSamples: 40, CatchUpSeconds: 0.125,
		ViewTotal: 1000040, Verified: true}
	var buf bytes.Buffer
	r.Print(&buf)
	out := buf.String()
	for _, want := range []string{
		"workload       w1 (mode copy, 4 clients, batches of 1,000) against 127.0.0.1:5480/cairn",
		"events         1,000,000 (+40 probe events)",
		"throughput     80,000 events/s, 3.60 MB/s",
		"ack latency    p50 12.25 ms, p99 48.00 ms, max 60.00 ms (per batch)",
		"freshness      p50 20.00 ms, p99 90.00 ms, max 120.00 ms (40 samples, 0 timed out)",
		"view catch-up  0.125 s after the last ack",
		"verified       sum(n) = 1,000,040 = events sent",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	r.Verified = false
	buf.Reset()
	r.Print(&buf)
	if !strings.Contains(buf.String(), "NO: sum(n) = 1,000,040, sent 1,000,040") {
		t.Errorf("unverified output:\n%s", buf.String())
	}
}

func TestAddFlags(t *testing.T) {
	var o Options
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	AddFlags(fs, &o)
	if err := fs.Parse([]string{"--events", "5000", "--mode", "csv", "--url", "postgres://x"}); err != nil {
		t.Fatal(err)
	}
	if o.Events != 5000 || o.Mode != ModeCSV || o.URL != "postgres://x" || o.Batch != 1000 || o.Clients != 4 || o.Workload != "w1" {
		t.Errorf("%+v", o)
	}
}

func TestRunCancelled(t *testing.T) {
	f := newFakeDB(t)
	o := testOptions(t, f, ModeCopy)
	o.Events = 200_000 // 400 batches of at least 1ms each over 3 clients
	f.mu.delay = time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if r, err := Run(ctx, o); err == nil || r != nil {
		t.Fatalf("cancelled run: r %v, err %v", r, err)
	}
}

// TestLazyBatches: past lazyAbove events the batches are placeholders
// that materialize with the timestamps (and so the ids) the eager path
// gives, so the check by id works the same.
func TestLazyBatches(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	bs := makeBatches(1, lazyAbove+2500, 1000, w1Devices, false, ModeCopy, start)
	if len(bs) != (lazyAbove+2500+999)/1000 || !bs[0].lazy || bs[len(bs)-1].n != 500 {
		t.Fatalf("%d placeholders, first lazy %v, last n %d", len(bs), bs[0].lazy, bs[len(bs)-1].n)
	}
	for _, i := range []int{0, 7, len(bs) - 1} {
		b := bs[i].materialize(1, ModeCopy, start)
		if b.lazy || b.first != bs[i].first || b.n != bs[i].n || len(b.vals) != 4*b.n || b.bytes == 0 {
			t.Fatalf("batch %d materialized as first %d n %d vals %d bytes %d", i, b.first, b.n, len(b.vals), b.bytes)
		}
		for j := 0; j < b.n; j++ {
			want := start.Add(time.Duration(b.first-1+int64(j)) * time.Microsecond)
			if got := b.vals[4*j].(time.Time); !got.Equal(want) {
				t.Fatalf("batch %d event %d at %v, want %v", i, j, got, want)
			}
		}
	}
	if a, b := bs[3].materialize(1, ModeCopy, start), bs[3].materialize(1, ModeCopy, start); a.vals[1] != b.vals[1] || a.vals[3] != b.vals[3] {
		t.Fatal("materialize is not deterministic")
	}
}

func TestPace(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	o := Options{Rate: 10_000, Batch: 1000} // a batch every 100 ms
	if err := pace(ctx, start, 0, o); err != nil {
		t.Fatal(err)
	}
	if err := pace(ctx, start, 2, o); err != nil { // due at start+200ms
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("batch 2 at rate 10,000/s sent after %v, want >= 200ms", waited)
	}
	if err := pace(ctx, start, 0, Options{Batch: 1000}); err != nil {
		t.Fatal("unpaced run waited:", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := pace(cctx, time.Now(), 1000, o); err == nil {
		t.Fatal("pace ignored a cancelled context")
	}
	bad := Options{Rate: -1}
	if err := bad.setDefaults(); err == nil || !strings.Contains(err.Error(), "--rate") {
		t.Fatalf("negative rate: %v", err)
	}
}

// TestDistinctDevices: with DistinctDevices every run of Devices events
// hits every device id exactly once, eagerly built or materialized from a
// placeholder, and the ids are scattered rather than in order.
func TestDistinctDevices(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, devs := range []int{1, 2, 999, 4096, 10_000} {
		seen := make([]int, devs)
		bs := makeBatches(1, 2*devs, 1000, devs, true, ModeCopy, start)
		for _, b := range bs {
			ids, err := devices(b, ModeCopy)
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ids {
				if id < 0 || int(id) >= devs {
					t.Fatalf("devices %d: id %d out of range", devs, id)
				}
				seen[id]++
			}
		}
		for id, n := range seen {
			if n != 2 {
				t.Fatalf("devices %d: id %d drawn %d times in two rounds, want 2", devs, id, n)
			}
		}
	}
	// A placeholder materializes to the ids the eager path gives: the
	// permutation depends on the event number only.
	eager := makeBatches(1, 3000, 1000, 10_000, true, ModeCopy, start)
	lazy := &loadBatch{n: 1000, first: 1001, lazy: true, devices: 10_000, distinct: true}
	a, _ := devices(eager[1], ModeCopy)
	b, _ := devices(lazy.materialize(1, ModeCopy, start), ModeCopy)
	if !slices.Equal(a, b) {
		t.Fatalf("materialized ids %v… differ from eager ones %v…", b[:5], a[:5])
	}
	if a[1] == a[0]+1 && a[2] == a[1]+1 {
		t.Fatalf("ids in order (%v…): not scattered", a[:5])
	}
	if err := (&Options{Workload: "w2", DistinctDevices: true}).setDefaults(); err == nil {
		t.Fatal("--distinct-devices with w2 accepted")
	}
}

// refusingClient refuses its first loads with the given SQLSTATE.
type refusingClient struct {
	client
	code    string
	refuse  int
	tries   int
	applied int
}

func (c *refusingClient) load(ctx context.Context, b *loadBatch, mode string) error {
	c.tries++
	if c.tries <= c.refuse {
		return &pgconn.PgError{Code: c.code, Message: "refused"}
	}
	c.applied++
	return nil
}

// TestLoadRetriesBackpressure: a batch refused with 53200 (memory
// backpressure, nothing applied) is sent again and counted; 40001 (may
// have been applied) is not retried, and a cancelled run stops waiting.
func TestLoadRetriesBackpressure(t *testing.T) {
	ctx := context.Background()
	var n atomic.Int64
	c := &refusingClient{code: "53200", refuse: 3}
	if err := loadRetrying(ctx, c, &loadBatch{n: 1}, ModeBinary, &n); err != nil || c.applied != 1 || n.Load() != 3 {
		t.Fatalf("53200 ×3: err %v, applied %d, counted %d", err, c.applied, n.Load())
	}
	c = &refusingClient{code: "40001", refuse: 1}
	if err := loadRetrying(ctx, c, &loadBatch{n: 1}, ModeBinary, &n); err == nil || c.tries != 1 {
		t.Fatalf("40001 retried (%d tries) or not reported: %v", c.tries, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	c = &refusingClient{code: "53200", refuse: 1 << 30}
	if err := loadRetrying(cctx, c, &loadBatch{n: 1}, ModeBinary, &n); err == nil || c.tries > 10 {
		t.Fatalf("endless backpressure: %d tries, %v", c.tries, err)
	}
	r := &Result{Backpressured: 12}
	var buf bytes.Buffer
	r.Print(&buf)
	if !strings.Contains(buf.String(), "12 batches refused with 53200") {
		t.Fatalf("report lacks the backpressure line:\n%s", buf.String())
	}
}
