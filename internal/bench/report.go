package bench

import (
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"
)

// percentile returns the p-th percentile (0 < p ≤ 100) of ds by nearest
// rank: the smallest value with at least p% of the samples at or below
// it. It returns 0 for no samples. ds is sorted in place.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(math.Ceil(p / 100 * float64(len(ds))))
	rank = max(1, min(rank, len(ds)))
	return ds[rank-1]
}

// isTerminal reports whether w is a character device, where \r redraws.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// showProgress draws events sent / total and the rate on w until done is
// closed: one redrawn line 5 times a second on a terminal, a plain line a
// second otherwise.
func showProgress(w io.Writer, sent *atomic.Int64, total int, start time.Time, done <-chan struct{}) {
	if w == nil {
		<-done
		return
	}
	tty := isTerminal(w)
	every := time.Second
	if tty {
		every = 200 * time.Millisecond
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	line := func() string {
		n := sent.Load()
		secs := time.Since(start).Seconds()
		const width = 30
		filled := int(float64(width) * float64(n) / float64(max(total, 1)))
		bar := make([]byte, width)
		for i := range bar {
			bar[i] = '.'
			if i < filled {
				bar[i] = '#'
			}
		}
		return fmt.Sprintf("[%s] %s / %s events  %s ev/s", bar, group(n), group(int64(total)), group(int64(float64(n)/max(secs, 1e-9))))
	}
	for {
		select {
		case <-done:
			if tty {
				fmt.Fprintf(w, "\r%s\n", line())
			} else {
				fmt.Fprintln(w, line())
			}
			return
		case <-tick.C:
			if tty {
				fmt.Fprintf(w, "\r%s", line())
			} else {
				fmt.Fprintln(w, line())
			}
		}
	}
}

// group formats n with thousands separators: 1234567 → "1,234,567".
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	if neg {
		out = append(out, '-')
	}
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// Print writes the result as a readable table.
func (r *Result) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	over := ""
	if r.TLS {
		over = " over TLS"
	}
	fmt.Fprintf(tw, "workload\t%s (mode %s, %d clients, batches of %s) against %s%s\n",
		r.Workload, r.Mode, r.Clients, group(int64(r.Batch)), r.Target, over)
	fmt.Fprintf(tw, "events\t%s (+%d probe events)\n", group(int64(r.Events)), r.ProbeEvents)
	fmt.Fprintf(tw, "elapsed\t%.2f s\n", r.Seconds)
	if r.Rate > 0 {
		fmt.Fprintf(tw, "paced at\t%s events/s\n", group(int64(r.Rate)))
	}
	fmt.Fprintf(tw, "throughput\t%s events/s, %.2f MB/s\n", group(int64(math.Round(r.EventsPerSec))), r.MBPerSec)
	fmt.Fprintf(tw, "ack latency\tp50 %.2f ms, p99 %.2f ms, max %.2f ms (per batch)\n", r.AckP50Ms, r.AckP99Ms, r.AckMaxMs)
	fmt.Fprintf(tw, "freshness\tp50 %.2f ms, p99 %.2f ms, max %.2f ms (%d samples, %d timed out)\n",
		r.FreshP50Ms, r.FreshP99Ms, r.FreshMaxMs, r.FreshSamples, r.FreshTimeouts)
	if r.Backpressured > 0 {
		fmt.Fprintf(tw, "backpressure\t%s batches refused with 53200 and sent again\n", group(r.Backpressured))
	}
	if r.Verified {
		fmt.Fprintf(tw, "view catch-up\t%.3f s after the last ack\n", r.CatchUpSeconds)
		fmt.Fprintf(tw, "verified\tsum(n) = %s = events sent\n", group(r.ViewTotal))
		if !r.IDsChecked {
			fmt.Fprintf(tw, "by event id\tnot checked (--skip-id-check)\n")
		}
		for _, c := range r.Checks {
			fmt.Fprintf(tw, "check\t%s\n", c)
		}
		if r.LookupSamples > 0 {
			fmt.Fprintf(tw, "point lookups\tp50 %.2f ms, p99 %.2f ms, max %.2f ms (%d random devices of %s, %d found)\n",
				r.LookupP50Ms, r.LookupP99Ms, r.LookupMaxMs, r.LookupSamples, group(int64(r.Devices)), r.LookupFound)
		}
	} else {
		fmt.Fprintf(tw, "verified\tNO: sum(n) = %s, sent %s\n", group(r.ViewTotal), group(int64(r.Events+r.ProbeEvents)))
		if r.Lost+r.Duplicated+r.NeverSent > 0 {
			fmt.Fprintf(tw, "by event id\t%d lost, %d duplicated, %d never sent\n", r.Lost, r.Duplicated, r.NeverSent)
		}
	}
	if len(r.PeakRSSBytes) > 0 {
		parts := make([]string, len(r.PeakRSSBytes))
		for i, b := range r.PeakRSSBytes {
			parts[i] = fmt.Sprintf("n%d %.1f MiB", i+1, float64(b)/(1<<20))
		}
		fmt.Fprintf(tw, "peak RSS\t%s\n", strings.Join(parts, ", "))
	}
	tw.Flush()
}
