package bench

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// The W1 schema and every SQL statement the bench sends, in one place so
// the dialect the bench depends on is easy to review and to change.
const (
	w1Stream = "w1_events"
	w1View   = "w1_per_device"

	// w1Devices is the default number of distinct device ids,
	// 0..w1Devices-1 (Options.Devices).
	w1Devices = 10000
	// probeDevice is reserved for the freshness probe; the generator never
	// produces it, so its count in the view is exactly the probes acked.
	probeDevice = -1

	sqlProbeCount = "SELECT n FROM " + w1View + " WHERE device_id = -1"
	sqlEventTimes = "SELECT ts FROM " + w1Stream + " WHERE device_id >= 0"
	sqlTotalCount = "SELECT sum(n) FROM " + w1View
	// sqlLookup is the point lookup whose latency a run reports at the end.
	sqlLookup     = "SELECT n FROM " + w1View + " WHERE device_id = $1"
	sqlCopyCSV    = "COPY " + w1Stream + " (ts, device_id, region, value) FROM STDIN (FORMAT csv)"
	sqlCopyBinary = "COPY " + w1Stream + " (ts, device_id, region, value) FROM STDIN (FORMAT binary)"
	sqlInsertHead = "INSERT INTO " + w1Stream + " (ts, device_id, region, value) VALUES "
)

// w1Setup drops whatever an earlier run left and creates the stream and
// view afresh, so every run starts from an empty view.
var w1Setup = []string{
	"DROP MATERIALIZED VIEW IF EXISTS " + w1View,
	"DROP STREAM IF EXISTS " + w1Stream + " CASCADE",
	"CREATE STREAM " + w1Stream + " (ts timestamptz, device_id int, region text, value float8)",
	"CREATE MATERIALIZED VIEW " + w1View + " AS SELECT device_id, count(*) AS n, " +
		"sum(value) AS total, max(value) AS peak FROM " + w1Stream + " GROUP BY device_id",
}

// w1Columns are the stream's columns in COPY order.
var w1Columns = []string{"ts", "device_id", "region", "value"}

// w1Regions are the 8 region values, drawn uniformly.
var w1Regions = [8]string{"eu-west", "eu-north", "us-east", "us-west", "ap-south", "ap-east", "sa-east", "af-south"}

// Pre-boxed values shared by every row: boxing a string or an int32 into
// an interface allocates, and a million rows of that is memory we need not
// spend before timing starts.
var (
	boxedRegions [len(w1Regions)]any
	boxedDevices [w1Devices + 1]any // index id+1, so the probe's -1 fits
)

func init() {
	for i, r := range w1Regions {
		boxedRegions[i] = r
	}
	for i := range boxedDevices {
		boxedDevices[i] = int32(i - 1)
	}
}

// events is a columnar slice of W1 events.
type events struct {
	ts     []int64 // microseconds since the Unix epoch
	device []int32
	region []uint8 // index into w1Regions
	value  []float64
}

// generate returns n W1 events from a seeded generator: device ids
// uniform in [0, devices), regions uniform, values uniform in [0, 1000),
// timestamps one microsecond apart from start.
func generate(seed uint64, n, devices int, start time.Time) events {
	rng := rand.New(rand.NewPCG(seed, 0x57a7e1))
	e := events{
		ts:     make([]int64, n),
		device: make([]int32, n),
		region: make([]uint8, n),
		value:  make([]float64, n),
	}
	t0 := start.UnixMicro()
	for i := range n {
		e.ts[i] = t0 + int64(i)
		e.device[i] = int32(rng.IntN(devices))
		e.region[i] = uint8(rng.IntN(len(w1Regions)))
		// Two decimals, so the CSV and INSERT text stays short and exact.
		e.value[i] = float64(rng.IntN(100000)) / 100
	}
	return e
}

// distinctDevices gives the events of e, the run's events first to
// first+len-1 (from 0), the device ids (k*step+off) mod devices: a
// permutation of [0, devices) over every run of devices events, so the
// first devices events hit every device exactly once, in a scattered
// order (neighbouring events land on distant ids, as random ones would).
func (e *events) distinctDevices(first, devices int) {
	step, off := distinctStep(devices), devices/3
	for i := range e.device {
		e.device[i] = int32((uint64(first+i)*step + uint64(off)) % uint64(devices))
	}
}

// distinctStep is a multiplier coprime with devices (so k ↦ k*step mod
// devices is one to one), near devices times the golden ratio's
// fractional part.
func distinctStep(devices int) uint64 {
	if devices < 3 {
		return 1
	}
	s := uint64(float64(devices)*0.6180339887) | 1
	for gcd(s, uint64(devices)) != 1 {
		s += 2
	}
	return s
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// loadBatch is one batch ready to send in the chosen mode: everything is
// encoded before the clock starts (except in runs past lazyAbove events).
type loadBatch struct {
	n int
	// first is the id of the batch's first event: event i of the run (from
	// 1) has timestamp start + i-1 µs. 0 for a probe.
	first int64
	// vals holds n rows of 4 values for pgx CopyFrom (mode copy).
	vals []any
	// text is the binary COPY data (mode binary), the CSV body (mode csv)
	// or the INSERT statement (mode insert).
	text []byte
	// bytes is the payload size used for MB/s, see payloadBytes.
	bytes int
	// lazy marks a placeholder of a long run: see materialize.
	lazy bool
	// devices is the run's number of device ids, for materialize.
	devices int
	// distinct: the ids are a permutation of the event numbers, not drawn
	// at random (Options.DistinctDevices), for materialize.
	distinct bool
}

// Binary COPY: each tuple is a 2-byte field count plus, per field, a
// 4-byte length and the value (ts 8, int4 4, text its bytes, float8 8).
// A stream adds an 11-byte signature, 8 bytes of flags and header
// extension, and a 2-byte trailer.
const (
	copyTupleFixed  = 2 + 4*4 + 8 + 4 + 8
	copyStreamFixed = 11 + 8 + 2
)

// encode builds a loadBatch of e[lo:hi] for mode. The payload size is what
// the mode puts on the wire for the rows, without pgwire message framing:
// the binary COPY stream, the CSV text, or the INSERT statement text.
func encode(e *events, lo, hi int, mode string) *loadBatch {
	b := &loadBatch{n: hi - lo, first: int64(lo) + 1}
	switch mode {
	case ModeCopy:
		b.vals = make([]any, 0, 4*b.n)
		b.bytes = copyStreamFixed
		for i := lo; i < hi; i++ {
			var dev any
			if d := e.device[i]; int(d)+1 < len(boxedDevices) {
				dev = boxedDevices[d+1]
			} else {
				dev = d
			}
			b.vals = append(b.vals,
				time.UnixMicro(e.ts[i]).UTC(),
				dev,
				boxedRegions[e.region[i]],
				e.value[i])
			b.bytes += copyTupleFixed + len(w1Regions[e.region[i]])
		}
	case ModeBinary:
		// PostgreSQL's binary COPY format, built before the clock starts
		// (like a client forwarding data it already holds in that form).
		buf := make([]byte, 0, copyStreamFixed+b.n*(copyTupleFixed+8))
		buf = append(buf, "PGCOPY\n\xff\r\n\x00"...)
		buf = binary.BigEndian.AppendUint32(buf, 0) // flags
		buf = binary.BigEndian.AppendUint32(buf, 0) // header extension
		for i := lo; i < hi; i++ {
			buf = binary.BigEndian.AppendUint16(buf, 4)
			buf = binary.BigEndian.AppendUint32(buf, 8)
			buf = binary.BigEndian.AppendUint64(buf, uint64(e.ts[i]-pgEpochMicros))
			buf = binary.BigEndian.AppendUint32(buf, 4)
			buf = binary.BigEndian.AppendUint32(buf, uint32(e.device[i]))
			region := w1Regions[e.region[i]]
			buf = binary.BigEndian.AppendUint32(buf, uint32(len(region)))
			buf = append(buf, region...)
			buf = binary.BigEndian.AppendUint32(buf, 8)
			buf = binary.BigEndian.AppendUint64(buf, math.Float64bits(e.value[i]))
		}
		buf = binary.BigEndian.AppendUint16(buf, 0xffff) // trailer
		b.text, b.bytes = buf, len(buf)
	case ModeCSV:
		buf := make([]byte, 0, b.n*56)
		for i := lo; i < hi; i++ {
			buf = appendTimestamp(buf, e.ts[i])
			buf = append(buf, ',')
			buf = strconv.AppendInt(buf, int64(e.device[i]), 10)
			buf = append(buf, ',')
			buf = append(buf, w1Regions[e.region[i]]...)
			buf = append(buf, ',')
			buf = strconv.AppendFloat(buf, e.value[i], 'g', -1, 64)
			buf = append(buf, '\n')
		}
		b.text, b.bytes = buf, len(buf)
	case ModeInsert:
		buf := make([]byte, 0, len(sqlInsertHead)+b.n*64)
		buf = append(buf, sqlInsertHead...)
		for i := lo; i < hi; i++ {
			if i > lo {
				buf = append(buf, ", "...)
			}
			buf = append(buf, "('"...)
			buf = appendTimestamp(buf, e.ts[i])
			buf = append(buf, "', "...)
			buf = strconv.AppendInt(buf, int64(e.device[i]), 10)
			buf = append(buf, ", '"...)
			buf = append(buf, w1Regions[e.region[i]]...) // no quotes inside region names
			buf = append(buf, "', "...)
			buf = strconv.AppendFloat(buf, e.value[i], 'g', -1, 64)
			buf = append(buf, ')')
		}
		b.text, b.bytes = buf, len(buf)
	}
	return b
}

// pgEpochMicros is 2000-01-01 00:00:00 UTC in Unix microseconds, the
// epoch of PostgreSQL's binary timestamps.
const pgEpochMicros = 946684800 * 1_000_000

// appendTimestamp writes micros as PostgreSQL timestamptz text in UTC,
// e.g. "2026-11-22 00:31:07.123456+00".
func appendTimestamp(dst []byte, micros int64) []byte {
	return time.UnixMicro(micros).UTC().AppendFormat(dst, "2006-01-02 15:04:05.000000-07")
}

// lazyAbove is the run size above which batches are generated and
// encoded by the clients as they send them, not before the clock starts:
// a run of hundreds of millions of events would not fit in memory.
const lazyAbove = 20_000_000

// makeBatches generates n events and cuts them into batches of size. Past
// lazyAbove events it returns placeholders (first and n only) that
// materialize builds while the run goes on.
func makeBatches(seed uint64, n, size, devices int, distinct bool, mode string, start time.Time) []*loadBatch {
	out := make([]*loadBatch, 0, (n+size-1)/size)
	if n > lazyAbove {
		for lo := 0; lo < n; lo += size {
			out = append(out, &loadBatch{n: min(lo+size, n) - lo, first: int64(lo) + 1, lazy: true, devices: devices, distinct: distinct})
		}
		return out
	}
	e := generate(seed, n, devices, start)
	if distinct {
		e.distinctDevices(0, devices)
	}
	for lo := 0; lo < n; lo += size {
		out = append(out, encode(&e, lo, min(lo+size, n), mode))
	}
	return out
}

// materialize returns b ready to send: b itself, or for a placeholder
// its events generated from a seed of their own (timestamps, and so ids,
// as the eager path gives them) and encoded.
func (b *loadBatch) materialize(seed uint64, mode string, start time.Time) *loadBatch {
	if !b.lazy {
		return b
	}
	lo := int(b.first - 1)
	e := generate(seed^uint64(lo)*0x9E3779B97F4A7C15, b.n, b.devices, start.Add(time.Duration(lo)*time.Microsecond))
	if b.distinct {
		e.distinctDevices(lo, b.devices)
	}
	out := encode(&e, 0, b.n, mode)
	out.first = b.first
	return out
}

// probeBatch is the one-event batch the freshness probe sends.
func probeBatch(seq int, mode string) *loadBatch {
	e := events{
		ts:     []int64{time.Now().UnixMicro()},
		device: []int32{probeDevice},
		region: []uint8{0},
		value:  []float64{float64(seq)},
	}
	b := encode(&e, 0, 1, mode)
	b.first = 0
	return b
}
