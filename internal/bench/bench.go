// Package bench drives Cairn's benchmarks over the PostgreSQL wire
// protocol. Run is workload W1 (DESIGN.md §5) against one node or a local
// cluster: throughput, ack latency and view freshness, then a check that
// the view holds every event sent; every SQL statement it sends is in
// w1.go. RunFailover (failover.go) kills the leader of a busy stream shard
// again and again and measures write and follower-read unavailability;
// RunRollingRestart (rolling.go) drains, stops and restarts every node in
// turn under load. Both start their cluster with testutil's harness
// (cluster.go) and judge the ids they sent with its exactly-once checker.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"github.com/cairndb/cairn/internal/testutil"
)

// Load modes.
const (
	ModeBinary = "binary" // binary COPY, encoded before the clock starts
	ModeCopy   = "copy"   // pgx CopyFrom: binary COPY encoded by pgx during the run
	ModeCSV    = "csv"    // COPY FROM STDIN (FORMAT csv)
	ModeInsert = "insert" // multi-row INSERT ... VALUES
)

// Options configure a run. Zero fields take the defaults noted.
type Options struct {
	Workload string // "w1" (default) or "w2"
	Events   int    // events to send, not counting probes (default 1,000,000)
	Batch    int    // events per batch (default 1000)
	Clients  int    // concurrent connections sending batches (default 4)
	URL      string // postgres:// URL; empty: StartNode starts a node
	Out      string // JSON result file (default "bench-w1.json"); "-" writes none
	Mode     string // ModeCopy (default), ModeCSV or ModeInsert
	Seed     uint64 // generator seed (default 1)
	// Progress receives a one-line progress display; nil shows none.
	Progress io.Writer
	// StartNode starts a throwaway node when URL is empty and returns its
	// URL and a function that stops it.
	StartNode func(ctx context.Context) (url string, stop func(), err error)
	// ProbeInterval is the pause between freshness probes (default 50ms).
	ProbeInterval time.Duration
	// CatchUpTimeout bounds the wait, after the last ack, for the view to
	// hold every event (default 60s).
	CatchUpTimeout time.Duration
	// SkipIDCheck skips reading every event back from the stream by id
	// after the run (long runs: the ids would not fit in memory); the
	// view's count is still checked against the events acked.
	SkipIDCheck bool
	// Devices is the number of distinct device ids W1 draws from
	// (default 10,000): the number of groups in its view.
	Devices int
	// DistinctDevices gives event k (from 0) a device id that is a
	// permutation of k mod Devices instead of a random one, so a run of
	// Devices events builds a view of exactly Devices groups.
	DistinctDevices bool
	// Lookups is the number of point lookups of random devices timed at
	// the end of a W1 run (0: none; the flag's default is 1000).
	Lookups int
	// PeakRSS, if set, returns the peak RSS in bytes of each node the
	// run started (LocalClusterStats); it is read at the end of the run.
	PeakRSS func() []int64
	// Rate paces the clients to this many events per second in total
	// (0: as fast as the node acks), to measure freshness at a given load.
	Rate int

	wl    *workload
	dial  dialFunc // tests replace the pgx client
	setup []string // tests against PostgreSQL replace w1Setup
}

// Result is a run's outcome, written as JSON.
type Result struct {
	Workload string    `json:"workload"`
	Mode     string    `json:"mode"`
	Target   string    `json:"target"` // host:port/database, no credentials
	TLS      bool      `json:"tls"`    // the connections were TLS
	Started  time.Time `json:"started"`
	Events   int       `json:"events"`
	// Rate is the pacing asked for (events/s, 0 = unpaced).
	Rate int `json:"rate,omitempty"`
	// ProbeEvents is the number of one-event batches the freshness probe
	// sent; they are included in the verified total but not in Events.
	ProbeEvents  int     `json:"probe_events"`
	Clients      int     `json:"clients"`
	Batch        int     `json:"batch"`
	Seconds      float64 `json:"seconds"` // first send to last ack
	EventsPerSec float64 `json:"events_per_sec"`
	// PayloadBytes is what the mode put on the wire for the rows, without
	// pgwire framing: the binary COPY stream, CSV text or INSERT text.
	PayloadBytes int64   `json:"payload_bytes"`
	MBPerSec     float64 `json:"mb_per_sec"` // PayloadBytes / 1e6 / Seconds
	AckP50Ms     float64 `json:"ack_p50_ms"`
	AckP99Ms     float64 `json:"ack_p99_ms"`
	AckMaxMs     float64 `json:"ack_max_ms"`
	// Freshness: from a probe event's ack until the view counts it.
	FreshP50Ms    float64 `json:"fresh_p50_ms"`
	FreshP99Ms    float64 `json:"fresh_p99_ms"`
	FreshMaxMs    float64 `json:"fresh_max_ms"`
	FreshSamples  int     `json:"fresh_samples"`
	FreshTimeouts int     `json:"fresh_timeouts"`
	// CatchUpSeconds is the time from the last ack until the view held
	// every event.
	CatchUpSeconds float64 `json:"catch_up_seconds"`
	// ViewTotal is sum(n) over the view at the end; Verified is whether it
	// equals Events + ProbeEvents and every event read back from the
	// stream by id was sent and is there once (Lost, Duplicated and
	// NeverSent count the ids that are not).
	ViewTotal  int64 `json:"view_total"`
	Lost       int   `json:"lost"`
	Duplicated int   `json:"duplicated"`
	NeverSent  int   `json:"never_sent"`
	// Backpressured counts the times a batch was refused with 53200
	// (the node's memory backpressure: nothing applied) and sent again;
	// its ack latency includes the waits.
	Backpressured int64 `json:"backpressured,omitempty"`
	Verified      bool  `json:"verified"`
	// IDsChecked is false when the run skipped the check by id.
	IDsChecked bool `json:"ids_checked"`
	// Checks are the workload's own checks of its other views.
	Checks []string `json:"checks,omitempty"`
	// Devices is the number of distinct device ids drawn (W1's groups).
	Devices         int  `json:"devices"`
	DistinctDevices bool `json:"distinct_devices,omitempty"`
	// Point lookups of random devices after the run (sqlLookup, one
	// connection, one at a time): latency, and how many found a row.
	LookupSamples int     `json:"lookup_samples"`
	LookupFound   int     `json:"lookup_found"`
	LookupP50Ms   float64 `json:"lookup_p50_ms"`
	LookupP99Ms   float64 `json:"lookup_p99_ms"`
	LookupMaxMs   float64 `json:"lookup_max_ms"`
	// PeakRSSBytes is the peak resident set size of each node the run
	// started (empty against --url).
	PeakRSSBytes []int64 `json:"peak_rss_bytes,omitempty"`
}

func (o *Options) setDefaults() error {
	if o.Workload == "" {
		o.Workload = "w1"
	}
	if o.wl = workloads[o.Workload]; o.wl == nil {
		return fmt.Errorf("unknown workload %q (known: w1, w2, w1join)", o.Workload)
	}
	if o.Events <= 0 {
		o.Events = 1_000_000
	}
	if o.Batch <= 0 {
		o.Batch = 1000
	}
	if o.Clients <= 0 {
		o.Clients = 4
	}
	if o.Out == "" {
		o.Out = "bench-" + o.Workload + ".json"
	}
	switch o.Mode {
	case "":
		o.Mode = ModeBinary
	case ModeBinary, ModeCopy, ModeCSV, ModeInsert:
	default:
		return fmt.Errorf("unknown mode %q (known: binary, copy, csv, insert)", o.Mode)
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Devices == 0 {
		o.Devices = w1Devices
	}
	if o.Devices < 1 || o.Devices > 1<<30 {
		return fmt.Errorf("devices must be between 1 and %d, got %d", 1<<30, o.Devices)
	}
	if o.DistinctDevices && o.Workload != "w1" {
		return fmt.Errorf("distinct devices applies to workload w1 only")
	}
	if o.Devices != w1Devices && o.Workload != "w1" {
		return fmt.Errorf("devices applies to workload w1 only (%s's checks and tables assume %d devices)", o.Workload, w1Devices)
	}

	if o.Rate < 0 {
		return fmt.Errorf("--rate must be 0 (unpaced) or a positive number of events per second, got %d", o.Rate)
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = 50 * time.Millisecond
	}
	if o.CatchUpTimeout <= 0 {
		o.CatchUpTimeout = 60 * time.Second
	}
	if o.dial == nil {
		o.dial = dialPG
	}
	if o.setup == nil {
		o.setup = o.wl.setup
	}
	return nil
}

// Run executes the workload. It returns an error when the run could not
// complete or when the view does not hold exactly the events acked; in the
// latter case the Result is returned too (Verified false) and still
// written to Out, because a run that lost data must leave a record.
func Run(ctx context.Context, o Options) (*Result, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	if o.URL == "" {
		if o.StartNode == nil {
			return nil, errors.New("no --url given and no way to start a node")
		}
		u, stop, err := o.StartNode(ctx)
		if err != nil {
			return nil, fmt.Errorf("starting a node: %w", err)
		}
		defer stop()
		o.URL = u
	}

	admin, err := o.dial(ctx, o.URL)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", redact(o.URL), err)
	}
	defer admin.close()
	for _, s := range o.setup {
		if err := admin.exec(ctx, s); err != nil {
			return nil, fmt.Errorf("%s: %w", s, err)
		}
	}

	conns := make([]client, o.Clients)
	for i := range conns {
		if conns[i], err = o.dial(ctx, o.URL); err != nil {
			return nil, fmt.Errorf("connecting client %d: %w", i, err)
		}
		defer conns[i].close()
	}
	probeConn, err := o.dial(ctx, o.URL)
	if err != nil {
		return nil, fmt.Errorf("connecting the probe: %w", err)
	}
	defer probeConn.close()

	r := &Result{
		Workload: o.Workload, Mode: o.Mode, Target: redact(o.URL), Started: time.Now().UTC(),
		Events: o.Events, Clients: o.Clients, Batch: o.Batch, Devices: o.Devices, DistinctDevices: o.DistinctDevices, Rate: o.Rate,
	}
	if t, ok := admin.(interface{ isTLS() bool }); ok {
		r.TLS = t.isTLS()
	}
	batches := makeBatches(o.Seed, o.Events, o.Batch, o.Devices, o.DistinctDevices, o.Mode, r.Started)
	for _, b := range batches {
		r.PayloadBytes += int64(b.bytes)
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next    atomic.Int64 // index of the next batch to send
		sent    atomic.Int64 // events acked
		payload atomic.Int64 // bytes of batches encoded during the run
		wg      sync.WaitGroup
		errOnce sync.Once
		runErr  error
		// backoffs counts batches the node refused with 53200 (memory
		// backpressure) and that were sent again.
		backoffs atomic.Int64
	)
	fail := func(err error) {
		errOnce.Do(func() { runErr = err; cancel() })
	}
	acks := make([][]time.Duration, o.Clients)
	start := time.Now()
	for ci, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batches) || runCtx.Err() != nil {
					return
				}
				if err := pace(runCtx, start, i, o); err != nil {
					return
				}
				b := batches[i]
				if b.lazy {
					b = b.materialize(o.Seed, o.Mode, r.Started)
					payload.Add(int64(b.bytes))
				}
				t0 := time.Now()
				if err := loadRetrying(runCtx, c, b, o.Mode, &backoffs); err != nil {
					fail(fmt.Errorf("client %d, batch %d: %w", ci, i, err))
					return
				}
				acks[ci] = append(acks[ci], time.Since(t0))
				sent.Add(int64(batches[i].n))
			}
		}()
	}

	clientsDone := make(chan struct{})
	probeDone := make(chan probeResult, 1)
	go func() { probeDone <- runProbe(runCtx, probeConn, o, clientsDone) }()
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		showProgress(o.Progress, &sent, o.Events, start, clientsDone)
	}()

	wg.Wait()
	elapsed := time.Since(start)
	lastAck := time.Now()
	close(clientsDone)
	pr := <-probeDone
	<-progressDone
	if pr.err != nil {
		fail(fmt.Errorf("freshness probe: %w", pr.err))
	}
	if runErr != nil {
		return nil, runErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err // interrupted: the numbers would describe a partial run
	}

	r.Backpressured = backoffs.Load()
	r.Seconds = elapsed.Seconds()
	r.EventsPerSec = float64(o.Events) / r.Seconds
	r.PayloadBytes += payload.Load()
	r.MBPerSec = float64(r.PayloadBytes) / 1e6 / r.Seconds
	var all []time.Duration
	for _, a := range acks {
		all = append(all, a...)
	}
	r.AckP50Ms, r.AckP99Ms, r.AckMaxMs = ms(percentile(all, 50)), ms(percentile(all, 99)), ms(percentile(all, 100))
	r.ProbeEvents = pr.acked
	r.FreshSamples, r.FreshTimeouts = len(pr.fresh), pr.timeouts
	r.FreshP50Ms, r.FreshP99Ms, r.FreshMaxMs = ms(percentile(pr.fresh, 50)), ms(percentile(pr.fresh, 99)), ms(percentile(pr.fresh, 100))

	verr := verify(ctx, admin, o.wl, r, lastAck, o.CatchUpTimeout)
	if verr == nil && !o.SkipIDCheck {
		r.IDsChecked = true
		verr = verifyIDs(ctx, admin, o.wl, r, batches, o.CatchUpTimeout)
	}
	if verr == nil && o.wl.check != nil {
		r.Checks, verr = o.wl.check(ctx, admin)
		if verr != nil {
			r.Verified = false
		}
	}
	if verr == nil && o.Lookups > 0 && o.wl.view == w1View {
		verr = timeLookups(ctx, admin, o, r)
	}
	if o.PeakRSS != nil {
		r.PeakRSSBytes = o.PeakRSS()
	}
	if err := r.write(o.Out); err != nil {
		return r, errors.Join(verr, err)
	}
	return r, verr
}

// timeLookups times o.Lookups point lookups of random devices, one at a
// time: what a dashboard reading one device sees once the view is built.
func timeLookups(ctx context.Context, c client, o Options, r *Result) error {
	rng := rand.New(rand.NewPCG(o.Seed, 0x10c4))
	lat := make([]time.Duration, 0, o.Lookups)
	for range o.Lookups {
		id := int32(rng.IntN(o.Devices))
		t0 := time.Now()
		_, found, err := c.lookupInt(ctx, sqlLookup, id)
		if err != nil {
			return fmt.Errorf("point lookup of device %d: %w", id, err)
		}
		lat = append(lat, time.Since(t0))
		if found {
			r.LookupFound++
		}
	}
	r.LookupSamples = len(lat)
	r.LookupP50Ms, r.LookupP99Ms, r.LookupMaxMs = ms(percentile(lat, 50)), ms(percentile(lat, 99)), ms(percentile(lat, 100))
	return nil
}

// verify waits for the view to count every acked event, then checks it
// holds exactly that many: fewer means lost events, more means duplicates.
func verify(ctx context.Context, c client, wl *workload, r *Result, lastAck time.Time, timeout time.Duration) error {
	want := int64(r.Events + r.ProbeEvents)
	deadline := time.Now().Add(timeout)
	for {
		got, err := c.queryInt(ctx, wl.totalCount)
		if err != nil {
			return fmt.Errorf("verifying: %w", err)
		}
		r.ViewTotal = got
		if got == want {
			r.Verified = true
			r.CatchUpSeconds = time.Since(lastAck).Seconds()
			return nil
		}
		if got > want {
			return fmt.Errorf("view %s counts %d events but %d were acked: duplicates", wl.view, got, want)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("view %s counts %d events %v after the last ack, but %d were acked: %d missing",
				wl.view, got, timeout, want, want-got)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// verifyIDs reads every generated event back from the stream (waiting,
// up to timeout, for a lagging replica to hold them all) and judges them
// by id with the exactly-once checker: none lost, none twice, none never
// sent, and the view counts as many as the stream holds. A count alone
// would pass a lost event plus a duplicated one.
func verifyIDs(ctx context.Context, c client, wl *workload, r *Result, batches []*loadBatch, timeout time.Duration) error {
	t0 := r.Started.UnixMicro()
	var ids []int64
	for deadline := time.Now().Add(timeout); ; {
		var err error
		if ids, err = c.eventIDs(ctx, t0); err != nil {
			return fmt.Errorf("verifying by id: %w", err)
		}
		if len(ids) >= r.Events || time.Now().After(deadline) {
			break
		}
		if err := testutil.Sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	sent := make([]testutil.Batch, len(batches))
	for i, b := range batches {
		sent[i] = testutil.Batch{First: b.first, Count: b.n, OK: true}
	}
	key := "sum(n) of " + wl.view + " without the probes"
	checks := append(testutil.ExactlyOnce(sent, ids), testutil.CheckViews(
		[]testutil.ViewRow{{Key: key, Value: fmt.Sprint(len(ids))}},
		[]testutil.NodeView{{Node: r.Target, Rows: []testutil.ViewRow{{Key: key, Value: fmt.Sprint(r.ViewTotal - int64(r.ProbeEvents))}}}}))
	r.Lost, r.Duplicated, r.NeverSent = checks[0].Count, checks[1].Count, checks[2].Count
	if msg := testutil.Failed(checks); msg != "" {
		r.Verified = false
		return fmt.Errorf("the view counts every event sent, but event by event: %s", msg)
	}
	return nil
}

type probeResult struct {
	acked    int
	fresh    []time.Duration
	timeouts int
	err      error
}

// probeTimeout bounds the wait for one probe event to become visible.
const probeTimeout = 10 * time.Second

// runProbe measures freshness while the clients run: it sends one event
// for the reserved device, then polls the view every millisecond until the
// device's count reaches the number of probe events acked. It stops once
// done is closed, after at least one probe.
func runProbe(ctx context.Context, c client, o Options, done <-chan struct{}) probeResult {
	var pr probeResult
	first := time.Now()
	for {
		b := probeBatch(pr.acked+1, o.Mode)
		if err := c.load(ctx, b, o.Mode); err != nil {
			if ctx.Err() != nil {
				return pr // the run is being cancelled; its error says why
			}
			pr.err = err
			return pr
		}
		acked := time.Now()
		pr.acked++
		deadline := acked.Add(probeTimeout)
		for {
			n, err := c.queryInt(ctx, o.wl.probeCount(first))
			if err != nil {
				if ctx.Err() == nil {
					pr.err = err
				}
				return pr
			}
			if n >= int64(pr.acked) {
				pr.fresh = append(pr.fresh, time.Since(acked))
				break
			}
			if time.Now().After(deadline) {
				pr.timeouts++
				break
			}
			time.Sleep(time.Millisecond)
		}
		select {
		case <-done:
			return pr
		case <-ctx.Done():
			return pr
		case <-time.After(o.ProbeInterval):
		}
	}
}

// redact returns the URL's host, port and database without credentials.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsed url)"
	}
	return u.Host + u.Path
}

func (r *Result) write(path string) error {
	if path == "-" {
		return nil
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// pace holds batch i back until its due time when o.Rate is set: batch i
// of o.Batch events is due i*Batch/Rate seconds after start.
func pace(ctx context.Context, start time.Time, i int, o Options) error {
	if o.Rate <= 0 {
		return nil
	}
	due := start.Add(time.Duration(float64(i) * float64(o.Batch) / float64(o.Rate) * float64(time.Second)))
	d := time.Until(due)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AddFlags registers the `cairn bench` flags on fs, bound to o, with the
// defaults Run would use.
func AddFlags(fs *pflag.FlagSet, o *Options) {
	fs.StringVar(&o.Workload, "workload", "w1", "workload to run: w1 (one per-device view), w2 (tumble, HyperLogLog and sliding-window percentile views) or w1join (w1 with its view joined to a 10,000-row device table)")
	fs.BoolVar(&o.SkipIDCheck, "skip-id-check", false, "do not read every event back by id after the run (for runs too long to hold the ids); the view's count is still checked")
	fs.IntVar(&o.Events, "events", 1_000_000, "events to send")
	fs.IntVar(&o.Batch, "batch", 1000, "events per batch")
	fs.IntVar(&o.Clients, "clients", 4, "concurrent client connections")
	fs.StringVar(&o.URL, "url", "", "postgres:// URL of the node to load (empty: start a throwaway node)")
	fs.StringVar(&o.Out, "out", "bench-w1.json", `file for the JSON result ("-": none)`)
	fs.StringVar(&o.Mode, "mode", ModeCopy, "how to send events: copy (binary COPY), csv (COPY csv) or insert (multi-row INSERT)")
	fs.Uint64Var(&o.Seed, "seed", 1, "seed of the event generator")
	fs.IntVar(&o.Devices, "devices", w1Devices, "distinct device ids W1 draws from: the number of groups in its view")
	fs.BoolVar(&o.DistinctDevices, "distinct-devices", false, "give event k device id (a permutation of) k mod --devices instead of a random one: --events = --devices builds a view of exactly that many groups")
	fs.IntVar(&o.Lookups, "lookups", 1000, "point lookups of random devices timed after the run (0: none)")
	fs.IntVar(&o.Rate, "rate", 0, "pace the clients to this many events per second in total (0: as fast as acks come)")
}
